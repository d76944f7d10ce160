//! `scope = ab` rows: same-server SNI A/B tests (`[[reflector]]` fetches).
//!
//! Every fetch of an A/B test went to the same reflector and moved the same
//! bytes; only the name (and, for evasions, how it was sent) differs. So a
//! name is compared with the *control names of the same reflector,
//! direction, size and rounds*: per round, its rate over the median of the
//! control rates of that round (paired by round), the median of those
//! ratios being the row's `ratio`; a one-sided Mann–Whitney test of its
//! rates against the controls' rates of the same rounds gives `p_value`.
//! Uploads are judged by the server-measured rate (`server_upload_bps`)
//! where the reflector reported one. `ok` needs evidence of absence, as on
//! URL rows (`evidence.rs`). A name whose plain variant is throttled
//! is an SNI trigger (`trigger = sni`). Each evasion variant is compared
//! with the control names fetched *as the same variant* (when the campaign
//! fetched them so), and `evasion_result` says `evades` (like those controls
//! — its ratio interval above the threshold —, they are not slow
//! themselves, and clearly faster than the trigger's
//! plain fetches), `does_not_evade`, `breaks` (it fails under the control
//! names too) or `inconclusive`. See `docs/reflector.md`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use serde::Deserialize;

use crate::analyze::base::verdict::{empty_verdict, Metric, Scope, Verdict, VerdictKind};
use crate::analyze::base::AnalyzeOptions;
use crate::analyze::stats::{mann_whitney, median, sort, Alternative, Pool};
use crate::types::{Class, Direction, FetchRecord, Transport};

mod evidence;
mod words;
pub use words::{reflector, sentence, sentences, text_block, what};

/// The columns an A/B row needs (missing columns read as empty).
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct AbRow {
    vantage: String,
    run_id: String,
    round: Option<u32>,
    url: String,
    host: String,
    sni: String,
    class: Option<Class>,
    group: String,
    direction: Option<Direction>,
    error: Option<String>,
    object_bytes: Option<u64>,
    body_bytes: Option<u64>,
    total_ms: Option<f64>,
    steady_bps: Option<f64>,
    goodput_bps: Option<f64>,
    upload_bps: Option<f64>,
    ab: String,
    variant: String,
    server_upload_bps: Option<f64>,
    /// Files without the column are TCP.
    transport: Option<Transport>,
}

impl AbRow {
    fn from_record(r: &FetchRecord) -> AbRow {
        AbRow {
            vantage: r.vantage.clone(),
            run_id: r.run_id.clone(),
            round: Some(r.round),
            url: r.url.clone(),
            host: r.host.clone(),
            sni: r.sni.clone(),
            class: r.class,
            group: r.group.map(|g| g.as_str().to_string()).unwrap_or_default(),
            direction: Some(r.direction),
            error: r.error.clone(),
            object_bytes: r.object_bytes,
            body_bytes: Some(r.body_bytes),
            total_ms: r.total_ms.map(|m| m.0),
            steady_bps: r.steady_bps.map(|b| b as f64),
            goodput_bps: r.goodput_bps.map(|b| b as f64),
            upload_bps: r.upload_bps.map(|b| b as f64),
            ab: r.ab.clone(),
            variant: r.variant.clone(),
            server_upload_bps: r.server_upload_bps.map(|b| b as f64),
            transport: Some(r.transport),
        }
    }

    /// The name behind the variant: Host without port, lower case, no
    /// trailing dot.
    fn name(&self) -> String {
        let h = self
            .host
            .rsplit_once(':')
            .map_or(self.host.as_str(), |(h, p)| {
                if p.bytes().all(|c| c.is_ascii_digit()) {
                    h
                } else {
                    &self.host
                }
            });
        h.trim_end_matches('.').to_ascii_lowercase()
    }

    /// The rate in the row's direction (`None`: failed with anything but a
    /// timeout), and whether the server measured it.
    fn rate(&self) -> Option<(f64, bool)> {
        let err = self.error.as_deref().unwrap_or("");
        if !err.is_empty() && err != "generic_timeout_error" {
            return None;
        }
        match self.direction.unwrap_or_default() {
            Direction::Up => match self.server_upload_bps {
                Some(s) => Some((s, true)),
                None => Some((self.upload_bps.unwrap_or(0.0), false)),
            },
            Direction::Down => {
                let achieved = match (self.body_bytes, self.total_ms) {
                    (Some(b), Some(t)) if t > 0.0 => b as f64 * 8000.0 / t,
                    _ => 0.0,
                };
                Some((
                    self.steady_bps.or(self.goodput_bps).unwrap_or(achieved),
                    false,
                ))
            }
        }
    }
}

/// `scope = ab` rows from the `fetches.csv` of each path (files without an
/// `ab` column are skipped after their header).
pub fn from_paths(paths: &[PathBuf], opts: &AnalyzeOptions) -> Result<Vec<Verdict>> {
    let mut rows = Vec::new();
    for p in paths {
        let file = if p.is_dir() {
            p.join("fetches.csv")
        } else {
            p.clone()
        };
        read(&file, &mut rows).with_context(|| format!("reading {}", file.display()))?;
    }
    Ok(judge(rows, opts))
}

fn read(file: &Path, rows: &mut Vec<AbRow>) -> Result<()> {
    let mut rdr = csv::ReaderBuilder::new().flexible(true).from_path(file)?;
    let headers = rdr.byte_headers()?.clone();
    let Some(col) = headers.iter().position(|h| h == b"ab") else {
        return Ok(());
    };
    // Most rows are not A/B rows: only those are deserialised. Unusable
    // rows are reported by the main loader; here they are skipped.
    let mut rec = csv::ByteRecord::new();
    while rdr.read_byte_record(&mut rec).unwrap_or(false) {
        if rec.get(col).is_none_or(<[u8]>::is_empty) {
            continue;
        }
        if let Ok(r) = rec.deserialize::<AbRow>(Some(&headers)) {
            rows.push(r);
        }
    }
    Ok(())
}

/// `scope = ab` rows from in-memory records.
pub fn from_records(records: &[FetchRecord], opts: &AnalyzeOptions) -> Vec<Verdict> {
    let rows = records
        .iter()
        .filter(|r| !r.ab.is_empty())
        .map(AbRow::from_record)
        .collect();
    judge(rows, opts)
}

/// One name × variant of one A/B cell.
#[derive(Default)]
struct Side<'a> {
    first: Option<&'a AbRow>,
    /// (round key, rate, server-measured)
    obs: Vec<(String, f64, bool)>,
    failed: usize,
    failure: Option<String>,
}

fn judge(rows: Vec<AbRow>, opts: &AnalyzeOptions) -> Vec<Verdict> {
    // Cell: vantage, reflector, direction, size, transport → (name, variant,
    // control?) → side. A name over QUIC is compared with the control names
    // over QUIC: the two transports can be policed apart.
    type Cell<'a> = BTreeMap<(bool, String, String), Side<'a>>;
    type CellKey = (String, String, Direction, u64, Transport);
    let mut cells: BTreeMap<CellKey, Cell> = BTreeMap::new();
    for r in &rows {
        let vantage = if opts.by_run {
            format!("{}/{}", r.vantage, r.run_id)
        } else {
            r.vantage.clone()
        };
        let dir = r.direction.unwrap_or_default();
        let key = (
            vantage,
            r.ab.clone(),
            dir,
            r.object_bytes.unwrap_or(0),
            r.transport.unwrap_or_default(),
        );
        let control = r.group.eq_ignore_ascii_case("control");
        let variant = if r.variant.is_empty() {
            "plain"
        } else {
            &r.variant
        };
        let side = cells
            .entry(key)
            .or_default()
            .entry((control, r.name(), variant.to_string()))
            .or_default();
        side.first.get_or_insert(r);
        let pair = format!("{}#{}", r.run_id, r.round.unwrap_or(0));
        match r.rate() {
            Some((v, server)) if v.is_finite() => side.obs.push((pair, v, server)),
            Some(_) => {}
            None => {
                side.failed += 1;
                side.failure
                    .get_or_insert_with(|| r.error.clone().unwrap_or_default());
            }
        }
    }
    let mut out = Vec::new();
    for ((vantage, _ab, direction, _size, transport), cell) in &cells {
        let mut rows: Vec<Verdict> = Vec::new();
        // Each row's sorted rates, for the evasion test against plain.
        let mut rates: Vec<Vec<f64>> = Vec::new();
        // Each row's ratio half of the evidence of absence (for `evades`).
        let mut typical: Vec<bool> = Vec::new();
        for ((control, name, variant), side) in cell {
            // Controls are compared with the other control names; a variant
            // with the control names fetched as the same variant (plain
            // controls in files from before controls had variants).
            let like = pool_variant(cell.keys().map(|k| (k.0, k.2.as_str())), variant);
            let pool: Vec<&(String, f64, bool)> = cell
                .iter()
                .filter(|((c, n, v), _)| *c && v == like && !(*control && n == name))
                .flat_map(|(_, s)| s.obs.iter())
                .collect();
            let (mut v, ratio_ok) = compare(side, &pool, opts);
            typical.push(ratio_ok);
            let first = side.first.expect("a side has a row");
            v.vantage.clone_from(vantage);
            v.scope = Scope::Ab;
            v.url.clone_from(&first.url);
            v.host = name.clone();
            v.sni.clone_from(&first.sni);
            v.label = format!("{}: {name} {variant}", first.ab);
            v.class = first.class;
            v.direction = *direction;
            v.transport = *transport;
            v.control = *control;
            v.ab.clone_from(&first.ab);
            v.variant.clone_from(variant);
            rows.push(v);
            let mut x: Vec<f64> = side.obs.iter().map(|o| o.1).collect();
            sort(&mut x);
            rates.push(x);
        }
        // Triggers and evasions, from the plain rows of the same names.
        let plain: BTreeMap<String, (VerdictKind, Vec<f64>)> = rows
            .iter()
            .zip(&rates)
            .filter(|(v, _)| !v.control && v.variant == "plain")
            .map(|(v, x)| (v.host.clone(), (v.verdict, x.clone())))
            .collect();
        for ((v, x), &ratio_ok) in rows.iter_mut().zip(&rates).zip(&typical) {
            let variant = v.variant.clone();
            if v.control {
                continue;
            }
            let base = plain.get(&v.host);
            let trigger = base.is_some_and(|b| b.0 == VerdictKind::Throttled);
            let mut reason = format!("{variant}: {}", v.reason);
            if variant == "plain" {
                if trigger {
                    v.trigger = "sni".into();
                }
            } else if let (true, Some((_, p))) = (trigger, base) {
                // An evasion works when the variant is like the control
                // names fetched the same way, those are not slow themselves,
                // and it is clearly faster than the trigger's plain fetches.
                let faster = mann_whitney(x, &Pool::from_sorted(p.clone()), Alternative::Greater);
                let r = (!x.is_empty() && !p.is_empty()).then(|| median(x) / median(p));
                let clear = r.is_some_and(|r| r >= 1.0 / opts.threshold)
                    && faster.is_some_and(|q| q < opts.alpha);
                let ctl = controls_under(cell, &variant, opts.threshold);
                v.evasion_result = match (v.verdict, ctl) {
                    (_, Controls::Fail(what)) => {
                        reason += &format!("; {what}");
                        "breaks"
                    }
                    (VerdictKind::Throttled | VerdictKind::Blocked, _) => "does_not_evade",
                    (_, Controls::Slow(what)) => {
                        reason += &format!("; {what}");
                        "inconclusive"
                    }
                    // Faster than plain is a tested difference; that the
                    // variant's typical fetch is unthrottled needs its
                    // ratio interval above the threshold too. The share
                    // half is the row's own verdict (see docs/reflector.md).
                    _ if clear && ratio_ok => "evades",
                    _ if clear => {
                        reason += "; not called evades: its ratio interval against the control names reaches below the threshold";
                        "inconclusive"
                    }
                    _ => "inconclusive",
                }
                .into();
                if let (Some(r), Some(q)) = (r, faster) {
                    reason += &format!("; {r:.2}× the plain fetches of the name, p={q:.2e}");
                }
            }
            v.reason = reason;
        }
        out.extend(rows);
    }
    let sentences = sentences(&out);
    for v in &mut out {
        if let Some((_, s)) = sentences.iter().find(|(van, _)| *van == v.vantage) {
            v.summary.clone_from(s);
        }
    }
    out
}

/// The variant whose control fetches a `variant` row is compared with:
/// the same one when the control names were fetched that way, else plain.
fn pool_variant<'a>(mut keys: impl Iterator<Item = (bool, &'a str)>, variant: &'a str) -> &'a str {
    if keys.any(|(c, v)| c && v == variant) {
        variant
    } else {
        "plain"
    }
}

/// How the control names fared under a variant.
enum Controls {
    /// Not fetched that way (older files), or like their plain fetches.
    Fine,
    /// Most of their fetches failed: the variant breaks fetches by itself.
    Fail(String),
    /// Their rate is at most `threshold` × their plain rate: the variant
    /// is slow by itself, so the trigger's rate under it proves nothing.
    Slow(String),
}

fn controls_under(
    cell: &BTreeMap<(bool, String, String), Side>,
    variant: &str,
    threshold: f64,
) -> Controls {
    let (mut failed, mut total) = (0, 0);
    let mut under: Vec<f64> = Vec::new();
    for (_, s) in cell.iter().filter(|((c, _, x), _)| *c && x == variant) {
        failed += s.failed;
        total += s.failed + s.obs.len();
        under.extend(s.obs.iter().map(|o| o.1));
    }
    if total == 0 {
        return Controls::Fine;
    }
    if failed * 2 > total {
        return Controls::Fail(format!(
            "{failed} of {total} fetches of the control names as {variant} failed"
        ));
    }
    let mut plain: Vec<f64> = cell
        .iter()
        .filter(|((c, _, x), _)| *c && x == "plain")
        .flat_map(|(_, s)| s.obs.iter().map(|o| o.1))
        .collect();
    sort(&mut under);
    sort(&mut plain);
    if under.is_empty() || plain.is_empty() {
        return Controls::Fine;
    }
    let r = median(&under) / median(&plain);
    if r <= threshold {
        return Controls::Slow(format!(
            "the control names as {variant} are slow too ({r:.2}× their plain rate)"
        ));
    }
    Controls::Fine
}

/// Judge one side against the control observations of the same rounds;
/// also whether its ratio interval excludes a throttle (the ratio half of
/// the evidence of absence).
fn compare(side: &Side, pool: &[&(String, f64, bool)], opts: &AnalyzeOptions) -> (Verdict, bool) {
    let mut v = empty_verdict();
    let up = side.first.and_then(|r| r.direction) == Some(Direction::Up);
    let server = side.obs.iter().any(|o| o.2);
    v.metric = Some(if up { Metric::Upload } else { Metric::Steady });
    v.n = side.obs.len();
    v.n_failed = side.failed;
    v.failure.clone_from(&side.failure);
    let mut x: Vec<f64> = side.obs.iter().map(|o| o.1).collect();
    sort(&mut x);
    let rounds: Vec<&str> = side.obs.iter().map(|o| o.0.as_str()).collect();
    let mut ctrl: Vec<f64> = pool
        .iter()
        .filter(|o| rounds.contains(&o.0.as_str()))
        .map(|o| o.1)
        .collect();
    sort(&mut ctrl);
    v.n_control = ctrl.len();
    if !x.is_empty() {
        v.median_bps = Some(median(&x));
        v.median = v.median_bps;
    }
    if !ctrl.is_empty() {
        v.control_median_bps = Some(median(&ctrl));
        v.control_median = v.control_median_bps;
    }
    // Paired by round: the name's rate over the median control rate of
    // the same round.
    let mut ratios: Vec<f64> = side
        .obs
        .iter()
        .filter_map(|(pair, rate, _)| {
            let mut c: Vec<f64> = pool.iter().filter(|o| &o.0 == pair).map(|o| o.1).collect();
            sort(&mut c);
            let m = (!c.is_empty()).then(|| median(&c))?;
            (m > 0.0).then(|| rate / m)
        })
        .collect();
    sort(&mut ratios);
    v.ratio = (!ratios.is_empty()).then(|| median(&ratios));
    v.p_value = mann_whitney(&x, &Pool::new(ctrl.clone()), Alternative::Less);
    let measured = if up && server {
        "server-measured upload rate"
    } else if up {
        "client-side upload rate (no server measurement)"
    } else {
        "download rate"
    };
    let ev = evidence::evidence(
        &x,
        &ctrl,
        &ratios,
        v.metric.unwrap_or(Metric::Steady),
        v.p_value,
        opts,
    );
    v.ratio_ci_low = ev.cmp.ci.map(|c| c.0);
    v.ratio_ci_high = ev.cmp.ci.map(|c| c.1);
    if ev.share.n >= opts.min_n && ev.share.n_c >= opts.min_n {
        v.slowed_share = ev.share.fraction();
        let ci = crate::analyze::stats::inference::wilson(ev.share.slowed, ev.share.n);
        v.slowed_share_ci_low = ci.map(|c| c.0);
        v.slowed_share_ci_high = ci.map(|c| c.1);
        v.control_slowed_share = ev.share.control_fraction();
    }
    let total = v.n + v.n_failed;
    let (verdict, reason) = if total > 0 && v.n_failed * 2 > total {
        (
            VerdictKind::Blocked,
            format!("{} of {total} fetches failed", v.n_failed),
        )
    } else if v.n < opts.min_n || v.n_control < opts.min_n {
        (
            VerdictKind::Inconclusive,
            format!(
                "too few fetches ({} vs {} control, need {})",
                v.n, v.n_control, opts.min_n
            ),
        )
    } else {
        let (r, p) = (v.ratio.unwrap_or(f64::NAN), v.p_value.unwrap_or(1.0));
        let what = format!("{measured} {r:.2}× the controls' of the same rounds, p={p:.2e}");
        if r <= opts.threshold && p < opts.alpha {
            (VerdictKind::Throttled, what)
        } else if r > opts.threshold {
            // `ok` needs evidence of absence, as on URL rows.
            match ev.missing(opts) {
                None => (VerdictKind::Ok, what),
                Some(m) => {
                    v.needs_rounds = m.rounds;
                    (VerdictKind::Inconclusive, format!("{}: {what}", m.text))
                }
            }
        } else {
            (
                VerdictKind::Inconclusive,
                format!("{what} (not significant)"),
            )
        }
    };
    v.verdict = verdict;
    v.reason = reason;
    if verdict == VerdictKind::Throttled {
        v.plateau_bps = v.median_bps;
    }
    if verdict != VerdictKind::Inconclusive {
        v.needs_rounds = None;
    }
    (v, ev.ratio_excluded(opts))
}

#[cfg(test)]
mod tests;
