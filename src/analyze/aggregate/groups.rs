//! Tables over groups of vantages: "mobile vs fixed", "per country".
//!
//! A fleet's question is rarely about one VM: were *mobile* networks still
//! throttled after fixed lines were released? This module counts per-vantage
//! class verdicts (`scope = class` rows) by a group — a column of a
//! `vantages.csv` that maps each vantage to country, ISP, access type…, or a
//! prefix of the vantage name. It never pools fetches of different vantages:
//! each vantage is judged on its own data (other vantages never change a
//! vantage's verdict) and a group row only says how many of its vantages got
//! which verdict.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::str::FromStr;

use anyhow::{bail, Context, Result};
use serde::Serialize;

use super::summary::throttle_rate;
use crate::analyze::base::units::fmt_bps;
use crate::analyze::base::verdict::{class_str, Scope, Verdict, VerdictKind};
use crate::analyze::stats::inference::median_of;
use crate::types::Direction;

/// How vantages are grouped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GroupBy {
    /// A column of `vantages.csv` (`country`, `isp`, `access`, …).
    Column(String),
    /// The first N `-`-separated parts of the vantage name
    /// (`prefix:2`: `ru-mts-mobile-msk` → `ru-mts`).
    Prefix(usize),
}

impl FromStr for GroupBy {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        if let Some(n) = s.strip_prefix("prefix:") {
            return match n.parse::<usize>() {
                Ok(n) if n >= 1 => Ok(GroupBy::Prefix(n)),
                _ => Err(format!("`{s}`: prefix:N needs N ≥ 1, e.g. prefix:1")),
            };
        }
        if s.is_empty() || s == "vantage" {
            return Err(
                "--group-by needs a vantages.csv column other than `vantage`, or prefix:N".into(),
            );
        }
        Ok(GroupBy::Column(s.to_string()))
    }
}

impl GroupBy {
    pub fn name(&self) -> String {
        match self {
            GroupBy::Column(c) => c.clone(),
            GroupBy::Prefix(n) => format!("prefix:{n}"),
        }
    }
}

/// `vantages.csv`: a `vantage` column and any others, one row per vantage.
#[derive(Debug, Clone, Default)]
pub struct VantageMap {
    path: PathBuf,
    columns: Vec<String>,
    rows: HashMap<String, Vec<String>>,
}

impl VantageMap {
    pub fn load(path: &Path) -> Result<VantageMap> {
        let mut rd = csv::ReaderBuilder::new()
            .trim(csv::Trim::All)
            .from_path(path)
            .with_context(|| format!("{}: cannot read", path.display()))?;
        let columns: Vec<String> = rd
            .headers()
            .with_context(|| format!("{}:1: bad header", path.display()))?
            .iter()
            .map(str::to_string)
            .collect();
        let Some(vcol) = columns.iter().position(|c| c == "vantage") else {
            bail!(
                "{}:1: no `vantage` column (header: {})",
                path.display(),
                columns.join(",")
            );
        };
        let mut rows = HashMap::new();
        for rec in rd.records() {
            let rec = rec.with_context(|| format!("{}: unreadable row", path.display()))?;
            let line = rec.position().map_or(0, |p| p.line());
            let v = rec.get(vcol).unwrap_or("").to_string();
            if v.is_empty() {
                bail!("{}:{line}: empty `vantage`", path.display());
            }
            let fields: Vec<String> = rec.iter().map(str::to_string).collect();
            if rows.insert(v.clone(), fields).is_some() {
                bail!("{}:{line}: vantage `{v}` listed twice", path.display());
            }
        }
        Ok(VantageMap {
            path: path.to_path_buf(),
            columns,
            rows,
        })
    }

    /// The nearest `vantages.csv` in `start` (a PATH given to `analyze`) or
    /// one of its ancestors, else in the current directory.
    pub fn find(start: &Path) -> Option<PathBuf> {
        let start = std::fs::canonicalize(start).ok()?;
        let from = if start.is_dir() {
            Some(start.as_path())
        } else {
            start.parent()
        };
        from.into_iter()
            .flat_map(Path::ancestors)
            .map(|d| d.join("vantages.csv"))
            .chain(std::iter::once(PathBuf::from("vantages.csv")))
            .find(|p| p.is_file())
    }

    fn column(&self, name: &str) -> Result<usize> {
        self.columns
            .iter()
            .position(|c| c == name)
            .with_context(|| {
                format!(
                    "{}: no column `{name}` to group by (columns: {})",
                    self.path.display(),
                    self.columns.join(", ")
                )
            })
    }
}

/// One row of `groups.csv`: how the vantages of one group fared on one
/// class and direction.
#[derive(Debug, Clone, Serialize)]
pub struct GroupRow {
    pub group_by: String,
    pub group: String,
    pub class: String,
    pub direction: Direction,
    /// `tcp` or `quic`: a class's vantages per transport.
    pub transport: crate::types::Transport,
    /// Vantages of the group with a verdict on this class and direction.
    pub vantages: usize,
    pub throttled: usize,
    pub partial: usize,
    pub blocked: usize,
    pub ok: usize,
    pub inconclusive: usize,
    /// Median over the throttled and partial vantages of each one's
    /// throttle rate (plateau, else median of slowed fetches), bit/s.
    pub throttle_rate_bps: Option<u64>,
    /// The throttled or partial vantages, `;`-separated.
    pub throttled_vantages: String,
}

/// Group label of vantages that `vantages.csv` does not list.
pub const UNMAPPED: &str = "(unmapped)";

/// Group rows from the per-vantage `scope = class` rows, plus the vantages
/// the map does not know (reported, grouped as [`UNMAPPED`]).
pub fn group_rows(
    rows: &[Verdict],
    by: &GroupBy,
    map: Option<&VantageMap>,
) -> Result<(Vec<GroupRow>, Vec<String>)> {
    let col = match (by, map) {
        (GroupBy::Column(c), Some(m)) => Some(m.column(c)?),
        (GroupBy::Column(c), None) => {
            bail!("--group-by {c} needs a vantages.csv (--vantages FILE, or one beside the inputs)")
        }
        (GroupBy::Prefix(_), _) => None,
    };
    let mut unmapped: Vec<String> = Vec::new();
    let group_of = |vantage: &str, unmapped: &mut Vec<String>| -> String {
        match (by, col, map) {
            (GroupBy::Prefix(n), ..) => vantage.split('-').take(*n).collect::<Vec<_>>().join("-"),
            (_, Some(i), Some(m)) => match m.rows.get(vantage) {
                Some(f) => f.get(i).cloned().unwrap_or_default(),
                None => {
                    unmapped.push(vantage.to_string());
                    UNMAPPED.to_string()
                }
            },
            _ => UNMAPPED.to_string(),
        }
    };
    type Key = (String, String, Direction, crate::types::Transport);
    let mut by_group: BTreeMap<Key, Vec<&Verdict>> = BTreeMap::new();
    for v in rows.iter().filter(|v| v.scope == Scope::Class) {
        let g = group_of(&v.vantage, &mut unmapped);
        by_group
            .entry((g, class_str(v.class).to_string(), v.direction, v.transport))
            .or_default()
            .push(v);
    }
    unmapped.sort_unstable();
    unmapped.dedup();
    let out = by_group
        .into_iter()
        .map(|((group, class, direction, transport), vs)| {
            let count = |k: VerdictKind| vs.iter().filter(|v| v.verdict == k).count();
            let hit: Vec<&&Verdict> = vs
                .iter()
                .filter(|v| matches!(v.verdict, VerdictKind::Throttled | VerdictKind::Partial))
                .collect();
            let mut names: Vec<&str> = hit.iter().map(|v| v.vantage.as_str()).collect();
            names.sort_unstable();
            names.dedup();
            let rates: Vec<f64> = hit.iter().filter_map(|v| throttle_rate(v)).collect();
            GroupRow {
                group_by: by.name(),
                group,
                class,
                direction,
                transport,
                vantages: vs.len(),
                throttled: count(VerdictKind::Throttled),
                partial: count(VerdictKind::Partial),
                blocked: count(VerdictKind::Blocked),
                ok: count(VerdictKind::Ok),
                inconclusive: count(VerdictKind::Inconclusive),
                throttle_rate_bps: median_of(rates).map(|r| r.round() as u64),
                throttled_vantages: names.join(";"),
            }
        })
        .collect();
    Ok((out, unmapped))
}

/// `groups.csv` beside `verdicts.csv`.
pub fn write_groups_csv(path: &Path, rows: &[GroupRow]) -> Result<()> {
    let mut w = csv::Writer::from_path(path).with_context(|| format!("{}", path.display()))?;
    for r in rows {
        w.serialize(r)?;
    }
    w.flush().with_context(|| format!("{}", path.display()))?;
    Ok(())
}

/// The text table `analyze --group-by` prints after the verdicts.
pub fn render_text(rows: &[GroupRow]) -> String {
    let Some(first) = rows.first() else {
        return String::new();
    };
    let head = [
        first.group_by.as_str(),
        "class",
        "dir",
        "vantages",
        "throttled",
        "partial",
        "blocked",
        "ok",
        "inconcl.",
        "rate",
    ];
    let cells: Vec<[String; 10]> = rows
        .iter()
        .map(|r| {
            [
                r.group.clone(),
                r.class.clone(),
                r.direction.as_str().to_string(),
                r.vantages.to_string(),
                r.throttled.to_string(),
                r.partial.to_string(),
                r.blocked.to_string(),
                r.ok.to_string(),
                r.inconclusive.to_string(),
                r.throttle_rate_bps
                    .map_or("-".into(), |b| fmt_bps(b as f64)),
            ]
        })
        .collect();
    let mut width = head.map(str::len);
    for c in &cells {
        for (w, s) in width.iter_mut().zip(c) {
            *w = (*w).max(s.chars().count());
        }
    }
    let line = |c: &[String]| {
        let mut s = String::new();
        for (i, (cell, w)) in c.iter().zip(width).enumerate() {
            if i < 3 {
                s += &format!("{cell:<w$}  ");
            } else {
                s += &format!("{cell:>w$}  ");
            }
        }
        s.trim_end().to_string() + "\n"
    };
    let mut s = format!(
        "\nBy {} (vantages per verdict of their class rows):\n",
        first.group_by
    );
    s += &line(&head.map(str::to_string));
    for c in &cells {
        s += &line(c);
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn group_by_parses() {
        assert_eq!("country".parse(), Ok(GroupBy::Column("country".into())));
        assert_eq!("prefix:2".parse(), Ok(GroupBy::Prefix(2)));
        assert!("prefix:0".parse::<GroupBy>().is_err());
        assert!("prefix:x".parse::<GroupBy>().is_err());
        assert!("vantage".parse::<GroupBy>().is_err());
    }
}
