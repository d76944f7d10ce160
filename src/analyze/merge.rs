//! `slowlane analyze --merge-verdicts` (issue 21.3): the `verdicts.csv`
//! files of vantages analysed where their data are (`collect.yml` with
//! `slowlane_analyze_on_host`), merged into the rows that analysing every
//! fetch in one place gives. No verdict depends on another vantage, so the
//! merge is each vantage's rows as its own analysis wrote them, vantages in
//! name order, A/B rows after all others (also by vantage), as
//! [`crate::analyze::analyze_paths_full`] orders them.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};

use super::base::verdict::{
    empty_verdict, ComparedWith, Mechanism, Metric, Scope, Test, Verdict, VerdictKind,
};

/// The `verdicts.csv` a path stands for: the file, or the one in a folder.
pub fn verdicts_file(p: &Path) -> Result<PathBuf> {
    let f = if p.is_dir() {
        p.join("verdicts.csv")
    } else {
        p.to_path_buf()
    };
    if !f.is_file() {
        bail!("{}: no verdicts.csv", p.display());
    }
    Ok(f)
}

/// Merge the verdicts of `paths` (files or folders holding `verdicts.csv`).
/// Fails when one vantage has rows in two files (a vantage must be analysed
/// in one place for its tests to be one family).
pub fn merge(paths: &[PathBuf]) -> Result<Vec<Verdict>> {
    let mut main: Vec<Verdict> = Vec::new();
    let mut ab: Vec<Verdict> = Vec::new();
    let mut owner: HashMap<String, usize> = HashMap::new();
    let files: Vec<PathBuf> = paths
        .iter()
        .map(|p| verdicts_file(p))
        .collect::<Result<_>>()?;
    for (i, f) in files.iter().enumerate() {
        for v in read_verdicts(f)? {
            let o = *owner.entry(v.vantage.clone()).or_insert(i);
            if o != i {
                bail!(
                    "vantage {:?} has verdicts in both {} and {}: each vantage must be \
                     analysed in one place (analyze their fetches together instead)",
                    v.vantage,
                    files[o].display(),
                    f.display()
                );
            }
            if v.scope == Scope::Ab {
                ab.push(v);
            } else {
                main.push(v);
            }
        }
    }
    // Stable: a vantage's rows keep the order its analysis wrote.
    main.sort_by(|a, b| a.vantage.cmp(&b.vantage));
    ab.sort_by(|a, b| a.vantage.cmp(&b.vantage));
    main.extend(ab);
    Ok(main)
}

fn parse_enum<T: Copy>(all: &[T], name: impl Fn(&T) -> &'static str, s: &str) -> Option<T> {
    all.iter().copied().find(|v| name(v) == s)
}

/// Read a `verdicts.csv` back (docs/csv.md). Columns are found by name, so
/// files with or without the last `needs_rounds` column both read; every
/// other column must be there. Errors name the file and line.
pub fn read_verdicts(path: &Path) -> Result<Vec<Verdict>> {
    let mut rdr = csv::Reader::from_path(path).with_context(|| format!("{}", path.display()))?;
    let headers = rdr
        .headers()
        .with_context(|| format!("{}", path.display()))?
        .clone();
    let col: HashMap<&str, usize> = headers.iter().enumerate().map(|(i, h)| (h, i)).collect();
    const NEEDED: [&str; 44] = [
        "vantage",
        "scope",
        "url",
        "host",
        "sni",
        "label",
        "class",
        "direction",
        "group",
        "verdict",
        "n",
        "n_control",
        "n_control_series",
        "compared_with",
        "metric",
        "test",
        "median_bps",
        "control_median_bps",
        "median",
        "control_median",
        "ratio",
        "ratio_ci_low",
        "ratio_ci_high",
        "p_value",
        "q_value",
        "slowed_share",
        "slowed_share_ci_low",
        "slowed_share_ci_high",
        "control_slowed_share",
        "slowed_median_bps",
        "mechanism",
        "plateau_bps",
        "burst_bytes",
        "n_censored",
        "n_failed",
        "failure",
        "reason",
        "runs",
        "summary",
        "trigger",
        "evasion_result",
        "ab",
        "variant",
        "transport",
    ];
    if let Some(m) = NEEDED.iter().find(|c| !col.contains_key(*c)) {
        bail!(
            "{}: no `{m}` column: not a slowlane verdicts.csv",
            path.display()
        );
    }
    let mut out = Vec::new();
    for rec in rdr.records() {
        let rec = rec.with_context(|| format!("reading {}", path.display()))?;
        let line = rec.position().map_or(0, |p| p.line());
        let v = row(&rec, &col).map_err(|e| anyhow::anyhow!("{}:{line}: {e}", path.display()))?;
        out.push(v);
    }
    Ok(out)
}

fn row(rec: &csv::StringRecord, col: &HashMap<&str, usize>) -> Result<Verdict, String> {
    let get = |name: &str| col.get(name).and_then(|&i| rec.get(i)).unwrap_or("");
    let bad = |name: &str| format!("bad `{name}` {:?}", get(name));
    let opt_f = |name: &str| -> Result<Option<f64>, String> {
        match get(name) {
            "" => Ok(None),
            "<1e-300" => Ok(Some(0.0)),
            s => s.parse().map(Some).map_err(|_| bad(name)),
        }
    };
    let num = |name: &str| -> Result<usize, String> { get(name).parse().map_err(|_| bad(name)) };
    let opt_u = |name: &str| -> Result<Option<u64>, String> {
        match get(name) {
            "" => Ok(None),
            s => s.parse().map(Some).map_err(|_| bad(name)),
        }
    };
    let text = |name: &str| get(name).to_string();
    use Mechanism as Me;
    use Metric as Mt;
    let scopes = [Scope::Url, Scope::Host, Scope::Class, Scope::Ab];
    let kinds = [
        VerdictKind::Throttled,
        VerdictKind::Partial,
        VerdictKind::Inconclusive,
        VerdictKind::Blocked,
        VerdictKind::Ok,
    ];
    let compared = [
        ComparedWith::Explicit,
        ComparedWith::SizeMatched,
        ComparedWith::Class,
    ];
    let metrics = [
        Mt::Steady,
        Mt::Goodput,
        Mt::Upload,
        Mt::Achieved,
        Mt::TotalTime,
        Mt::TlsTime,
    ];
    let tests = Test::ALL;
    let mechs = [Me::Policer, Me::Shaper, Me::Freeze, Me::Reset, Me::Unclear];
    fn maybe<T>(s: &str, f: impl Fn(&str) -> Option<T>) -> Result<Option<T>, ()> {
        if s.is_empty() {
            Ok(None)
        } else {
            f(s).map(Some).ok_or(())
        }
    }
    let e = |name: &'static str| move |_| bad(name);
    let mut v = empty_verdict();
    v.vantage = text("vantage");
    v.scope = parse_enum(&scopes, Scope::as_str, get("scope")).ok_or_else(|| bad("scope"))?;
    v.url = text("url");
    v.host = text("host");
    v.sni = text("sni");
    v.label = text("label");
    v.class = maybe(get("class"), |s| s.parse().ok()).map_err(e("class"))?;
    v.direction = get("direction").parse().map_err(|_| bad("direction"))?;
    v.control = match get("group") {
        "control" => true,
        "target" => false,
        _ => return Err(bad("group")),
    };
    v.verdict =
        parse_enum(&kinds, VerdictKind::as_str, get("verdict")).ok_or_else(|| bad("verdict"))?;
    v.n = num("n")?;
    v.n_control = num("n_control")?;
    v.n_control_series = num("n_control_series")?;
    v.compared_with = maybe(get("compared_with"), |s| {
        parse_enum(&compared, ComparedWith::as_str, s)
    })
    .map_err(e("compared_with"))?;
    v.metric =
        maybe(get("metric"), |s| parse_enum(&metrics, Mt::as_str, s)).map_err(e("metric"))?;
    v.test = maybe(get("test"), |s| parse_enum(&tests, Test::as_str, s)).map_err(e("test"))?;
    v.median_bps = opt_f("median_bps")?;
    v.control_median_bps = opt_f("control_median_bps")?;
    v.median = opt_f("median")?;
    v.control_median = opt_f("control_median")?;
    v.ratio = opt_f("ratio")?;
    v.ratio_ci_low = opt_f("ratio_ci_low")?;
    v.ratio_ci_high = opt_f("ratio_ci_high")?;
    v.p_value = opt_f("p_value")?;
    v.q_value = opt_f("q_value")?;
    v.slowed_share = opt_f("slowed_share")?;
    v.slowed_share_ci_low = opt_f("slowed_share_ci_low")?;
    v.slowed_share_ci_high = opt_f("slowed_share_ci_high")?;
    v.control_slowed_share = opt_f("control_slowed_share")?;
    v.slowed_median_bps = opt_f("slowed_median_bps")?;
    v.mechanism =
        maybe(get("mechanism"), |s| parse_enum(&mechs, Me::as_str, s)).map_err(e("mechanism"))?;
    v.plateau_bps = opt_f("plateau_bps")?;
    v.burst_bytes = opt_u("burst_bytes")?;
    v.n_censored = num("n_censored")?;
    v.n_failed = num("n_failed")?;
    v.failure = Some(text("failure")).filter(|s| !s.is_empty());
    v.reason = text("reason");
    v.runs = num("runs")?;
    v.summary = text("summary");
    v.trigger = text("trigger");
    v.evasion_result = text("evasion_result");
    v.ab = text("ab");
    v.variant = text("variant");
    v.transport = get("transport").parse().map_err(|_| bad("transport"))?;
    v.needs_rounds = opt_u("needs_rounds")?.map(|n| n as u32);
    Ok(v)
}
