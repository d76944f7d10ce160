//! `campaign.json`: what a run was, so its CSV rows can be interpreted later.
//!
//! The file holds a JSON object `{"runs": [...]}` with one entry per `run`
//! into the directory (the CSVs are appended to, so their description must
//! be too). Rewritten atomically (temp file + rename) so a crash never leaves
//! it half-written.

use std::path::Path;

use serde::Serialize;
use serde_json::{json, Value};

pub const CAMPAIGN_JSON: &str = "campaign.json";

/// Facts about the machine a run was made from.
#[derive(Debug, Clone, Serialize)]
pub struct HostFacts {
    pub hostname: String,
    pub os: String,
    pub arch: String,
    pub kernel: Option<String>,
    pub cpus: usize,
}

impl HostFacts {
    pub fn gather() -> HostFacts {
        HostFacts {
            hostname: crate::types::hostname(),
            os: std::env::consts::OS.to_string(),
            arch: std::env::consts::ARCH.to_string(),
            kernel: std::fs::read_to_string("/proc/sys/kernel/osrelease")
                .ok()
                .map(|s| s.trim().to_string()),
            cpus: std::thread::available_parallelism().map_or(1, |n| n.get()),
        }
    }
}

/// Append one run's description to `dir/campaign.json`.
pub fn append_run(dir: &Path, run: Value) -> std::io::Result<()> {
    let path = dir.join(CAMPAIGN_JSON);
    let mut doc = match std::fs::read(&path) {
        // A file we cannot parse is refused, not overwritten: it may be the
        // only description of earlier rows.
        Ok(bytes) => serde_json::from_slice::<Value>(&bytes).map_err(|e| {
            std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                format!("{}: not valid JSON ({e})", path.display()),
            )
        })?,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => json!({}),
        Err(e) => return Err(e),
    };
    if !doc.get("runs").is_some_and(Value::is_array) {
        doc = json!({ "runs": [] });
    }
    doc["runs"].as_array_mut().expect("runs array").push(run);
    let tmp = dir.join(".campaign.json.tmp");
    std::fs::write(&tmp, serde_json::to_vec_pretty(&doc)?)?;
    std::fs::rename(tmp, path)
}
