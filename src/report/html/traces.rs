//! The timelines of the few fetches the bytes-over-time panels draw, read
//! from each input's `timeline.csv`, and turned into curves with the plateau
//! fitted by [`crate::plateau::estimate`] (the estimator `steady_bps` and the
//! analyzer use).

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

use super::svg_timeline::Curve;
use crate::plateau::{estimate, Sample};
use crate::types::Direction;

/// A wanted fetch: (source index, fetch_id).
pub type FetchKey = (u32, String);

/// The `timeline.csv` next to an input, the way `analyze` finds it.
pub fn timeline_path(input: &Path) -> Option<PathBuf> {
    let p = if input.is_dir() {
        input.join("timeline.csv")
    } else if input.file_name().and_then(|n| n.to_str()) == Some("fetches.csv") {
        input
            .parent()
            .unwrap_or(Path::new("."))
            .join("timeline.csv")
    } else {
        return None;
    };
    p.is_file().then_some(p)
}

/// Read the windows of the wanted fetches (in the direction each is wanted
/// in) from the inputs' timelines; fetches without windows are absent.
pub fn read(
    inputs: &[PathBuf],
    wanted: &HashMap<FetchKey, Direction>,
) -> Result<HashMap<FetchKey, Vec<Sample>>> {
    let mut out: HashMap<FetchKey, Vec<Sample>> = HashMap::new();
    for (src, input) in inputs.iter().enumerate() {
        let src = src as u32;
        if !wanted.keys().any(|k| k.0 == src) {
            continue;
        }
        let Some(path) = timeline_path(input) else {
            continue;
        };
        read_one(&path, src, wanted, &mut out)
            .with_context(|| format!("reading {}", path.display()))?;
    }
    for v in out.values_mut() {
        v.sort_by(|a, b| a.t.total_cmp(&b.t));
    }
    Ok(out)
}

fn read_one(
    path: &Path,
    src: u32,
    wanted: &HashMap<FetchKey, Direction>,
    out: &mut HashMap<FetchKey, Vec<Sample>>,
) -> Result<()> {
    let ids: HashMap<&[u8], Direction> = wanted
        .iter()
        .filter(|(k, _)| k.0 == src)
        .map(|(k, d)| (k.1.as_bytes(), *d))
        .collect();
    let mut rdr = csv::ReaderBuilder::new().flexible(true).from_path(path)?;
    let headers = rdr.byte_headers()?.clone();
    let col = |name: &str| headers.iter().position(|h| h == name.as_bytes());
    let (Some(id), Some(t), Some(cum)) = (col("fetch_id"), col("t_ms"), col("cum_bytes")) else {
        anyhow::bail!("timeline.csv lacks fetch_id, t_ms or cum_bytes");
    };
    let (dir, tcp) = (col("direction"), col("tcp_cum_bytes"));
    let mut rec = csv::ByteRecord::new();
    while rdr.read_byte_record(&mut rec)? {
        let Some(&want) = rec.get(id).and_then(|i| ids.get(i)) else {
            continue;
        };
        let d = match dir.and_then(|i| rec.get(i)) {
            Some(b"up") => Direction::Up,
            _ => Direction::Down,
        };
        if d != want {
            continue;
        }
        let f = |i: Option<usize>| {
            let b = rec.get(i?)?;
            std::str::from_utf8(b).ok()?.trim().parse::<f64>().ok()
        };
        let (Some(t), Some(body)) = (f(Some(t)), f(Some(cum))) else {
            continue;
        };
        let key = (src, String::from_utf8_lossy(&rec[id]).into_owned());
        out.entry(key).or_default().push(Sample {
            t: t / 1000.0,
            body,
            tcp: f(tcp).unwrap_or(f64::NAN),
        });
    }
    Ok(())
}

/// A fetch's curve with its fitted plateau. The estimator gives the slope
/// (possibly measured on TCP-level bytes); the line is placed through the
/// body bytes after the burst by the median offset, so it runs along the
/// data it summarises.
pub fn curve(samples: &[Sample], fit: bool) -> Curve {
    let points = samples.iter().map(|s| (s.t, s.body)).collect();
    let Some(p) = fit.then(|| estimate(samples)).flatten() else {
        return Curve {
            points,
            ..Curve::default()
        };
    };
    let slope = p.bps / 8.0;
    let after = samples.get(p.settle..).unwrap_or_default();
    let mut offsets: Vec<f64> = after.iter().map(|s| s.body - slope * s.t).collect();
    offsets.sort_by(f64::total_cmp);
    let settle = samples.get(p.settle).map(|s| (s.t, s.body));
    let plateau = offsets
        .get(offsets.len() / 2)
        .zip(settle)
        .map(|(b0, (t, _))| (t, b0 + slope * t, slope));
    Curve {
        points,
        plateau,
        settle: settle.filter(|a| a.1 > 0.0),
    }
}
