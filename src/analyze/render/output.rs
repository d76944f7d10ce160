//! `verdicts.csv`, JSON, and the text table (selective summary printed last).

use std::path::Path;

use anyhow::{Context, Result};

use crate::analyze::aggregate::summary::selective_summary;
use crate::analyze::base::verdict::{empty_verdict, Verdict, VerdictKind};

/// Output format of [`render`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Text,
    Csv,
    Json,
}

/// Which verdicts the printed output shows (`--only throttled,partial`).
/// Empty: all. Files written by `run` always hold every row.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Only(pub Vec<VerdictKind>);

impl Only {
    pub fn keeps(&self, v: &Verdict) -> bool {
        self.0.is_empty() || self.0.contains(&v.verdict)
    }
}

impl std::str::FromStr for Only {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let kinds = s
            .split(',')
            .filter(|x| !x.trim().is_empty())
            .map(str::parse)
            .collect::<Result<Vec<VerdictKind>, String>>()?;
        Ok(Only(kinds))
    }
}

/// Rows serialised per thread and batch by [`to_csv`].
const CSV_BATCH: usize = 4096;

/// Rows as CSV (header first). Large outputs (a row per URL and host at
/// thousands of vantages) are serialised on all cores, a batch of
/// [`CSV_BATCH`] rows per thread at a time, and written in order: the bytes
/// are those of one writer.
fn to_csv<W: std::io::Write>(mut w: W, rows: &[&Verdict]) -> Result<()> {
    if rows.is_empty() {
        let mut wr = csv::Writer::from_writer(w);
        wr.write_record(columns())?;
        wr.flush()?;
        return Ok(());
    }
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get().min(8));
    let mut bufs: Vec<Vec<u8>> = vec![Vec::new(); threads];
    for (b, batch) in rows.chunks(threads * CSV_BATCH).enumerate() {
        let parts = batch.chunks(CSV_BATCH).zip(bufs.iter_mut()).enumerate();
        let serialise = |(i, (part, buf)): (usize, (&[&Verdict], &mut Vec<u8>))| {
            buf.clear();
            let mut wr = csv::WriterBuilder::new()
                .has_headers(b == 0 && i == 0)
                .from_writer(buf);
            for v in part {
                wr.serialize(v)?;
            }
            wr.flush()?;
            Ok::<_, anyhow::Error>(())
        };
        if threads == 1 || batch.len() <= CSV_BATCH {
            parts.map(serialise).collect::<Result<Vec<()>>>()?;
        } else {
            std::thread::scope(|s| {
                let handles: Vec<_> = parts.map(|p| s.spawn(move || serialise(p))).collect();
                handles
                    .into_iter()
                    .map(|h| h.join().expect("csv thread"))
                    .collect::<Result<Vec<()>>>()
            })?;
        }
        for buf in bufs.iter().take(batch.len().div_ceil(CSV_BATCH)) {
            w.write_all(buf)?;
        }
    }
    w.flush()?;
    Ok(())
}

/// `verdicts.csv` column names, in order (the serde field names of
/// [`Verdict`], read off a serialised row).
pub fn columns() -> Vec<String> {
    let mut buf = Vec::new();
    {
        let mut wr = csv::Writer::from_writer(&mut buf);
        wr.serialize(empty_verdict()).expect("verdict serialises");
    }
    let header = String::from_utf8(buf).expect("utf-8");
    let first = header.lines().next().unwrap_or_default().to_string();
    first.split(',').map(str::to_string).collect()
}

/// Write (replace) `verdicts.csv`.
pub fn write_verdicts_csv(path: &Path, rows: &[Verdict]) -> Result<()> {
    let tmp = path.with_extension("csv.tmp");
    let f = std::fs::File::create(&tmp).with_context(|| format!("creating {}", tmp.display()))?;
    to_csv(std::io::BufWriter::new(f), &rows.iter().collect::<Vec<_>>())?;
    std::fs::rename(&tmp, path).with_context(|| format!("writing {}", path.display()))?;
    Ok(())
}

/// Render verdicts as a text table, CSV or JSON.
pub fn render(rows: &[Verdict], format: Format) -> String {
    render_only(rows, format, &Only::default())
}

/// Render the rows `only` keeps (the text summary still counts every row).
pub fn render_only(rows: &[Verdict], format: Format, only: &Only) -> String {
    let kept: Vec<&Verdict> = rows.iter().filter(|v| only.keeps(v)).collect();
    match format {
        Format::Csv => {
            let mut buf = Vec::new();
            to_csv(&mut buf, &kept).expect("writing to memory");
            String::from_utf8(buf).expect("csv is utf-8")
        }
        Format::Json => to_json(rows, &kept),
        Format::Text => super::table::text(rows, &kept),
    }
}

/// One vantage's sentence in the JSON output.
#[derive(serde::Serialize)]
struct Sentence {
    vantage: String,
    sentence: String,
}

/// `{"verdicts": [...], "summary": [{"vantage", "sentence"}]}`: the rows
/// exactly as in verdicts.csv (the same serde model), and the per-vantage
/// sentences of every vantage (also the `summary` column of class rows).
#[derive(serde::Serialize)]
struct JsonOut<'a> {
    verdicts: &'a [&'a Verdict],
    summary: Vec<Sentence>,
}

fn to_json(all: &[Verdict], kept: &[&Verdict]) -> String {
    let summary = selective_summary(all)
        .into_iter()
        .map(|(vantage, sentence)| Sentence { vantage, sentence })
        .collect();
    let out = JsonOut {
        verdicts: kept,
        summary,
    };
    serde_json::to_string_pretty(&out).expect("verdicts serialise") + "\n"
}
