//! `campaign.json`: what a run was, so its CSV rows can be interpreted later.
//!
//! The file holds a JSON object `{"runs": [...]}` with one entry per `run`
//! into the directory (the CSVs are appended to, so their description must
//! be too). Rewritten atomically (temp file, fsync, rename; the temp file
//! removed on error) so a crash never leaves it half-written. A file that
//! cannot be read anyway (truncated by hand, disk trouble) is set aside as
//! `campaign.json.bad-<time>` with a warning and a new one started: it must
//! never block every later run.

use std::io::Write;
use std::path::{Path, PathBuf};

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

/// The runs described in `dir/campaign.json`, oldest first. A missing file
/// is no runs; an unreadable one is set aside (see the module doc).
pub fn read_runs(dir: &Path) -> std::io::Result<Vec<Value>> {
    let path = dir.join(CAMPAIGN_JSON);
    let bytes = match std::fs::read(&path) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(e),
    };
    match serde_json::from_slice::<Value>(&bytes) {
        Ok(mut doc) => Ok(match doc.get_mut("runs").map(Value::take) {
            Some(Value::Array(runs)) => runs,
            _ => Vec::new(),
        }),
        Err(e) => {
            let stamp = humantime::format_rfc3339_seconds(std::time::SystemTime::now())
                .to_string()
                .replace(':', "");
            let bad = dir.join(format!("{CAMPAIGN_JSON}.bad-{stamp}"));
            std::fs::rename(&path, &bad)?;
            crate::eprintln_quiet!(
                "slowlane: warning: {}: not valid JSON ({e}); set aside as {} and a new \
                 one started (the CSV rows of earlier runs are untouched)",
                path.display(),
                bad.display()
            );
            Ok(Vec::new())
        }
    }
}

/// Append one run's description to `dir/campaign.json`.
pub fn append_run(dir: &Path, run: Value) -> std::io::Result<()> {
    let mut runs = read_runs(dir)?;
    runs.push(run);
    write_runs(dir, runs)
}

/// Change the description of run `run_id` (e.g. to note a resume).
pub fn update_run(dir: &Path, run_id: &str, f: impl FnOnce(&mut Value)) -> std::io::Result<()> {
    let mut runs = read_runs(dir)?;
    if let Some(r) = runs
        .iter_mut()
        .rev()
        .find(|r| r.get("run_id").and_then(Value::as_str) == Some(run_id))
    {
        f(r);
    }
    write_runs(dir, runs)
}

fn write_runs(dir: &Path, runs: Vec<Value>) -> std::io::Result<()> {
    let doc = json!({ "runs": runs });
    let bytes = serde_json::to_vec_pretty(&doc)?;
    write_atomic(&dir.join(CAMPAIGN_JSON), &bytes)
}

/// Write `path` whole or not at all: temp file, fsync, rename, fsync of the
/// directory. The temp file never outlives a failure.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let name = path.file_name().unwrap_or_default().to_string_lossy();
    let tmp: PathBuf = dir.join(format!(".{name}.tmp"));
    let r = (|| {
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        std::fs::rename(&tmp, path)
    })();
    if r.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    r?;
    if let Ok(d) = std::fs::File::open(dir) {
        let _ = d.sync_all();
    }
    Ok(())
}

/// The identity of a campaign for `--resume`: SHA-256 of the validated
/// campaign (every URL with its resolved options, the schedule, the
/// concurrency, the seed as given) as JSON, leaving out where the file and
/// the output are (the same campaign may be started from another directory).
/// `[[list]]` files are part of it through their URLs. Takes the campaign
/// as anything serialisable (`config::Campaign`), so that `record` does not
/// depend on `config`; `source` and `out` are its field names.
pub fn campaign_hash(c: &impl Serialize) -> String {
    let mut v = serde_json::to_value(c).unwrap_or(Value::Null);
    if let Some(o) = v.as_object_mut() {
        o.remove("source");
        o.remove("out");
    }
    let bytes = serde_json::to_vec(&v).unwrap_or_default();
    let d = ring::digest::digest(&ring::digest::SHA256, &bytes);
    d.as_ref().iter().map(|b| format!("{b:02x}")).collect()
}

/// An exclusive lock on an output directory for the length of a run: two
/// runs appending to one directory (an overlapping cron `--once`) would
/// interleave rounds and break `--resume`.
pub struct DirLock(#[allow(dead_code)] std::fs::File);

impl DirLock {
    pub fn acquire(dir: &Path) -> std::io::Result<DirLock> {
        let path = dir.join(".slowlane.lock");
        let f = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)?;
        match f.try_lock() {
            Ok(()) => Ok(DirLock(f)),
            Err(std::fs::TryLockError::WouldBlock) => Err(std::io::Error::new(
                std::io::ErrorKind::WouldBlock,
                "another slowlane run is writing to this directory",
            )),
            Err(std::fs::TryLockError::Error(e)) => Err(e),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unreadable_file_is_set_aside_not_a_block() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join(CAMPAIGN_JSON), b"{\"runs\": [{\"run_").unwrap();
        append_run(dir.path(), json!({"run_id": "b"})).unwrap();
        let runs = read_runs(dir.path()).unwrap();
        assert_eq!(runs, vec![json!({"run_id": "b"})]);
        let names: Vec<String> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        assert!(
            names.iter().any(|n| n.starts_with("campaign.json.bad-")),
            "{names:?}"
        );
        assert!(!names.iter().any(|n| n.ends_with(".tmp")), "{names:?}");
    }

    #[test]
    fn failed_atomic_write_leaves_no_temp_file() {
        let dir = tempfile::tempdir().unwrap();
        // The target is a directory: the rename fails after the temp file
        // was written.
        let target = dir.path().join("x.json");
        std::fs::create_dir(&target).unwrap();
        std::fs::write(target.join("keep"), b"1").unwrap();
        assert!(write_atomic(&target, b"{}").is_err());
        assert!(!dir.path().join(".x.json.tmp").exists());
    }
}
