//! `verdicts.csv`, JSON, and the text table (selective summary printed last).

use std::fmt::Write as _;
use std::path::Path;

use anyhow::{Context, Result};

use super::summary::selective_summary;
use super::{class_str, Verdict};

/// Output format of [`render`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Text,
    Csv,
    Json,
}

/// `verdicts.csv` columns, in order.
pub const COLUMNS: [&str; 23] = [
    "vantage",
    "scope",
    "url",
    "host",
    "sni",
    "class",
    "n",
    "n_control",
    "median_bps",
    "control_median_bps",
    "ratio",
    "ratio_ci_low",
    "ratio_ci_high",
    "p_value",
    "verdict",
    "mechanism",
    "plateau_bps",
    "burst_bytes",
    "reason",
    "group",
    "metric",
    "n_failed",
    "failure",
];

/// A rate with a unit: `109 kbit/s`, `84.0 Mbit/s`.
pub fn fmt_bps(bps: f64) -> String {
    if !bps.is_finite() {
        return "?".into();
    }
    let (v, u) = if bps >= 1e9 {
        (bps / 1e9, "Gbit/s")
    } else if bps >= 1e6 {
        (bps / 1e6, "Mbit/s")
    } else if bps >= 1e3 {
        (bps / 1e3, "kbit/s")
    } else {
        (bps, "bit/s")
    };
    let digits = if v >= 100.0 {
        0
    } else if v >= 10.0 {
        1
    } else {
        2
    };
    format!("{v:.digits$} {u}")
}

/// A duration given in ms: `120 ms`, `2.41 s`.
pub fn fmt_ms(ms: f64) -> String {
    if !ms.is_finite() {
        "?".into()
    } else if ms >= 1000.0 {
        format!("{:.2} s", ms / 1000.0)
    } else if ms >= 10.0 {
        format!("{ms:.0} ms")
    } else {
        format!("{ms:.2} ms")
    }
}

/// A ratio with two significant digits (`0.0013`, `0.52`, `1.03`).
pub fn fmt_ratio(r: f64) -> String {
    if !r.is_finite() {
        return format!("{r}");
    }
    if r == 0.0 {
        return "0".into();
    }
    let decimals = (1 - r.abs().log10().floor() as i32).clamp(2, 12) as usize;
    format!("{r:.decimals$}")
}

/// A p-value: `3e-6`, `0.042`.
pub fn fmt_p(p: f64) -> String {
    if p >= 0.001 {
        format!("{p:.3}")
    } else {
        format!("{p:.0e}")
    }
}

fn num(v: Option<f64>, sig: bool) -> String {
    match v {
        None => String::new(),
        Some(x) if !x.is_finite() => String::new(),
        Some(x) if sig => format!("{x:.6e}")
            .parse::<f64>()
            .map(|y| y.to_string())
            .unwrap_or_default(),
        Some(x) => format!("{:.0}", x),
    }
}

fn csv_fields(v: &Verdict) -> [String; 23] {
    [
        v.vantage.clone(),
        v.scope.to_string(),
        v.url.clone(),
        v.host.clone(),
        v.sni.clone(),
        class_str(v.class).to_string(),
        v.n.to_string(),
        v.n_control.to_string(),
        num(v.median_bps, false),
        num(v.control_median_bps, false),
        num(v.ratio, true),
        num(v.ratio_ci_low, true),
        num(v.ratio_ci_high, true),
        num(v.p_value, true),
        v.verdict.to_string(),
        v.mechanism.map(|m| m.to_string()).unwrap_or_default(),
        num(v.plateau_bps, false),
        v.burst_bytes.map(|b| b.to_string()).unwrap_or_default(),
        v.reason.clone(),
        if v.control { "control" } else { "target" }.to_string(),
        v.metric.map(|m| m.to_string()).unwrap_or_default(),
        v.n_failed.to_string(),
        v.failure.clone().unwrap_or_default(),
    ]
}

fn to_csv<W: std::io::Write>(w: W, rows: &[Verdict]) -> Result<()> {
    let mut wr = csv::Writer::from_writer(w);
    wr.write_record(COLUMNS)?;
    for v in rows {
        wr.write_record(csv_fields(v))?;
    }
    wr.flush()?;
    Ok(())
}

/// Write (replace) `verdicts.csv`.
pub fn write_verdicts_csv(path: &Path, rows: &[Verdict]) -> Result<()> {
    let tmp = path.with_extension("csv.tmp");
    let f = std::fs::File::create(&tmp).with_context(|| format!("creating {}", tmp.display()))?;
    to_csv(std::io::BufWriter::new(f), rows)?;
    std::fs::rename(&tmp, path).with_context(|| format!("writing {}", path.display()))?;
    Ok(())
}

/// Render verdicts as a text table, CSV or JSON.
pub fn render(rows: &[Verdict], format: Format) -> String {
    match format {
        Format::Csv => {
            let mut buf = Vec::new();
            to_csv(&mut buf, rows).expect("writing to memory");
            String::from_utf8(buf).expect("csv is utf-8")
        }
        Format::Json => serde_json::to_string_pretty(rows).expect("verdicts serialise") + "\n",
        Format::Text => text(rows),
    }
}

fn text(rows: &[Verdict]) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{:<12} {:<5} {:<6} {:<12} {:<8} {:>9} {:>12} {:>12} {:>8} {:>7}  WHAT",
        "VANTAGE", "SCOPE", "CLASS", "VERDICT", "MECH", "N/NC", "MEDIAN", "CONTROL", "RATIO", "P"
    );
    for v in rows.iter().filter(|v| v.scope != super::Scope::Class) {
        let what = match v.scope {
            super::Scope::Url if v.control => format!("{} (control)", v.url),
            super::Scope::Url => v.url.clone(),
            _ => format!("{} (all URLs)", v.host),
        };
        let _ = writeln!(
            out,
            "{:<12} {:<5} {:<6} {:<12} {:<8} {:>9} {:>12} {:>12} {:>8} {:>7}  {}",
            v.vantage,
            v.scope.as_str(),
            class_str(v.class),
            v.verdict.as_str(),
            v.mechanism.map_or("", |m| m.as_str()),
            format!("{}/{}", v.n, v.n_control),
            v.median_bps.map(fmt_bps).unwrap_or_default(),
            v.control_median_bps.map(fmt_bps).unwrap_or_default(),
            v.ratio.map(fmt_ratio).unwrap_or_default(),
            v.p_value.map(fmt_p).unwrap_or_default(),
            what
        );
        if v.verdict != super::VerdictKind::Ok {
            let _ = writeln!(out, "{:>14}{}", "└ ", v.reason);
        }
    }
    let summary = selective_summary(rows);
    if !summary.is_empty() {
        out.push_str("\nSummary\n");
        for (vantage, sentence) in summary {
            let _ = writeln!(out, "  {vantage}: {sentence}");
        }
    }
    out
}
