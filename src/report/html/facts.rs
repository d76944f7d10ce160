//! Campaign facts from `campaign.json`: one line per run (id, start, version,
//! seed, host, rounds, caps) — what a reader needs to judge where and how the
//! data was taken.

use std::collections::BTreeSet;
use std::path::Path;

use anyhow::{Context, Result};
use serde_json::Value;

/// The `campaign.json` next to an input (a directory, or a fetches.csv).
pub fn campaign_json(input: &Path) -> std::path::PathBuf {
    if input.is_dir() {
        input.join("campaign.json")
    } else {
        input
            .parent()
            .unwrap_or(Path::new("."))
            .join("campaign.json")
    }
}

fn s(v: &Value) -> String {
    match v {
        Value::Null => String::new(),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// Distinct values of one target option, joined (`4s`, `16777216`).
fn option_values(targets: &Value, key: &str) -> String {
    let set: BTreeSet<String> = targets
        .as_array()
        .into_iter()
        .flatten()
        .map(|t| s(&t["options"][key]))
        .filter(|x| !x.is_empty())
        .collect();
    set.into_iter().collect::<Vec<_>>().join(", ")
}

/// A byte count as the campaign file would say it: `16 MiB`, `1500 KiB`,
/// `1000 bytes` (campaign.json stores bytes; "16777216" is hard to read).
fn bytes_human(s: &str) -> String {
    let Ok(n) = s.parse::<u64>() else {
        return s.to_string();
    };
    for (unit, name) in [(1u64 << 30, "GiB"), (1 << 20, "MiB"), (1 << 10, "KiB")] {
        if n >= unit && n % unit == 0 {
            return format!("{} {name}", n / unit);
        }
    }
    format!("{n} bytes")
}

/// One (label, value) list per run in `path`; an empty list when the file
/// is absent (a bare fetches.csv), an error when it is unreadable.
pub fn runs(path: &Path) -> Result<Vec<Vec<(String, String)>>> {
    if !path.is_file() {
        return Ok(Vec::new());
    }
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    let v: Value =
        serde_json::from_str(&text).with_context(|| format!("parsing {}", path.display()))?;
    let mut out = Vec::new();
    for r in v["runs"].as_array().into_iter().flatten() {
        let c = &r["campaign"];
        let sched = &c["schedule"];
        let rounds = match (s(&sched["rounds"]), s(&sched["duration"])) {
            (r, _) if !r.is_empty() => r,
            (_, d) => d,
        };
        let host = &r["host"];
        let facts = [
            ("campaign", s(&c["name"])),
            ("vantage", s(&c["vantage"])),
            ("run", s(&r["run_id"])),
            ("started", s(&r["started_at"])),
            ("slowlane", s(&r["slowlane_version"])),
            ("seed", s(&r["seed"])),
            (
                "host",
                format!(
                    "{} ({} {} {}, {} cpus)",
                    s(&host["hostname"]),
                    s(&host["os"]),
                    s(&host["kernel"]),
                    s(&host["arch"]),
                    s(&host["cpus"])
                ),
            ),
            ("rounds", rounds),
            ("concurrency", s(&c["concurrency"])),
            (
                "URLs",
                c["targets"].as_array().map_or(0, |t| t.len()).to_string(),
            ),
            ("max_time", option_values(&c["targets"], "max_time")),
            (
                "max_bytes",
                option_values(&c["targets"], "max_bytes")
                    .split(", ")
                    .map(bytes_human)
                    .collect::<Vec<_>>()
                    .join(", "),
            ),
        ];
        out.push(facts.into_iter().map(|(k, v)| (k.to_string(), v)).collect());
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    #[test]
    fn byte_counts_read_like_the_campaign() {
        use super::bytes_human as h;
        assert_eq!(h("16777216"), "16 MiB");
        assert_eq!(h("1536000"), "1500 KiB");
        assert_eq!(h("1000"), "1000 bytes");
        assert_eq!(h(""), "");
    }
}
