//! The cross-vantage matrix: vantage × class/direction coloured by the class
//! row's verdict, vantages sorted by their share of throttled fetches. With
//! hundreds of vantages only those with a throttled, partial or blocked cell
//! get a row; the others (every cell `ok` or `inconclusive`) are counted and
//! listed by name, and each column carries its verdict counts.

use std::collections::{BTreeMap, BTreeSet};

use crate::analyze::{class_str, Scope, Verdict, VerdictKind};
use crate::types::Direction;

/// One coloured cell; `verdict` is empty where the vantage has no such class.
#[derive(Debug, Clone)]
pub struct Cell {
    pub verdict: &'static str,
}

/// A vantage with a throttled, partial or blocked cell.
#[derive(Debug, Clone)]
pub struct Row {
    pub vantage: String,
    /// Anchor of its detail section, when it has one.
    pub anchor: Option<String>,
    /// Share of its target fetches in throttled/partial URL rows, as text.
    pub share: String,
    pub cells: Vec<Cell>,
}

/// Verdict counts of one column.
#[derive(Debug, Clone, Default)]
pub struct Counts {
    pub column: String,
    pub throttled: usize,
    pub partial: usize,
    pub blocked: usize,
    pub inconclusive: usize,
    pub ok: usize,
}

#[derive(Debug, Clone, Default)]
pub struct Matrix {
    pub columns: Vec<String>,
    pub rows: Vec<Row>,
    pub counts: Vec<Counts>,
    /// Vantages whose every cell is ok or inconclusive.
    pub quiet: Vec<String>,
    /// Every vantage, most throttled first (the order of the detail sections).
    pub order: Vec<String>,
}

/// `image down`, `image up`.
pub fn column_name(class: &str, d: Direction) -> String {
    format!(
        "{} {}",
        if class.is_empty() { "unknown" } else { class },
        d.as_str()
    )
}

fn loud(k: VerdictKind) -> bool {
    matches!(
        k,
        VerdictKind::Throttled | VerdictKind::Partial | VerdictKind::Blocked
    )
}

/// One vantage: its class verdicts by column, its slowed target fetches
/// and all its target fetches.
type Tally<'a> = (BTreeMap<(&'a str, Direction), VerdictKind>, usize, usize);

/// Build the matrix from every vantage's verdict rows.
pub fn build(rows: &[Verdict]) -> Matrix {
    let mut columns: BTreeSet<(&str, Direction)> = BTreeSet::new();
    // vantage → (column → verdict), (slowed fetches, all target fetches)
    let mut by_v: BTreeMap<&str, Tally> = BTreeMap::new();
    for v in rows.iter().filter(|v| !v.control) {
        let e = by_v.entry(v.vantage.as_str()).or_default();
        match v.scope {
            Scope::Class => {
                let col = (class_str(v.class), v.direction);
                columns.insert(col);
                e.0.insert(col, v.verdict);
            }
            Scope::Url => {
                e.2 += v.n;
                if matches!(v.verdict, VerdictKind::Throttled | VerdictKind::Partial) {
                    e.1 += v.n;
                }
            }
            // Host and same-server A/B rows are in the verdict tables, not
            // in the class matrix.
            Scope::Host | Scope::Ab => {}
        }
    }
    let columns: Vec<(&str, Direction)> = columns.into_iter().collect();
    let mut counts: Vec<Counts> = columns
        .iter()
        .map(|&(c, d)| Counts {
            column: column_name(c, d),
            ..Counts::default()
        })
        .collect();
    let share = |slowed: usize, all: usize| slowed as f64 / all.max(1) as f64;
    let mut order: Vec<(&str, f64, bool)> = by_v
        .iter()
        .map(|(v, (cells, s, n))| (*v, share(*s, *n), cells.values().any(|k| loud(*k))))
        .collect();
    order.sort_by(|a, b| b.2.cmp(&a.2).then(b.1.total_cmp(&a.1)).then(a.0.cmp(b.0)));
    let mut m = Matrix {
        columns: counts.iter().map(|c| c.column.clone()).collect(),
        ..Matrix::default()
    };
    for &(v, sh, is_loud) in &order {
        let (cells, _, _) = &by_v[v];
        for (i, col) in columns.iter().enumerate() {
            let c = &mut counts[i];
            match cells.get(col) {
                Some(VerdictKind::Throttled) => c.throttled += 1,
                Some(VerdictKind::Partial) => c.partial += 1,
                Some(VerdictKind::Blocked) => c.blocked += 1,
                Some(VerdictKind::Inconclusive) => c.inconclusive += 1,
                Some(VerdictKind::Ok) => c.ok += 1,
                None => {}
            }
        }
        m.order.push(v.to_string());
        if !is_loud {
            m.quiet.push(v.to_string());
            continue;
        }
        m.rows.push(Row {
            vantage: v.to_string(),
            anchor: None,
            share: format!("{:.0}%", sh * 100.0),
            cells: columns
                .iter()
                .map(|col| Cell {
                    verdict: cells.get(col).map_or("", |k| k.as_str()),
                })
                .collect(),
        });
    }
    m.counts = counts;
    m
}
