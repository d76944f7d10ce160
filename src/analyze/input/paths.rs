//! What the paths given to `slowlane analyze` stand for: a `fetches.csv`
//! file, a run's output directory (it holds `fetches.csv`), or a tree of
//! them such as the `results/<vantage>/<campaign>/` that `collect.yml`
//! fills. A tree is walked for folders holding `fetches.csv`; folders that
//! hold only outputs (`verdicts.csv`, a report — e.g. `results/merged/`)
//! are not walked.

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};

use super::load::Dataset;

/// Files whose presence (without a `fetches.csv`) marks a folder as outputs
/// of `analyze` or `report`, not measurements.
const OUTPUT_MARKERS: [&str; 4] = ["verdicts.csv", "groups.csv", "report.md", "index.html"];

/// Deeper than this a tree is not walked further (results/<vantage>/<campaign>
/// is 2 deep; this only bounds a mistaken `analyze /`).
const MAX_DEPTH: usize = 8;

/// The paths to read, in a stable order, and what the walk saw.
#[derive(Debug, Default)]
pub struct Inputs {
    /// `fetches.csv` files and run output directories, as
    /// [`crate::analyze::analyze_paths_full`] takes them.
    pub paths: Vec<PathBuf>,
    /// At least one argument was a tree that had to be walked.
    pub walked: bool,
    /// Output-only folders left out of the walk.
    pub skipped: Vec<PathBuf>,
}

/// Expand the arguments: files and run output directories stay as given, a
/// directory without `fetches.csv` is walked (sorted by name, symbolic links
/// to folders and hidden folders not followed). Fails when a walked tree has
/// no `fetches.csv` at all.
pub fn expand(args: &[PathBuf]) -> Result<Inputs> {
    let mut inputs = Inputs::default();
    for arg in args {
        if !arg.is_dir() || arg.join("fetches.csv").is_file() {
            inputs.paths.push(arg.clone());
            continue;
        }
        inputs.walked = true;
        let before = inputs.paths.len();
        walk(arg, 0, &mut inputs)?;
        if inputs.paths.len() == before {
            let skipped = if inputs.skipped.is_empty() {
                String::new()
            } else {
                let list: Vec<String> = inputs
                    .skipped
                    .iter()
                    .map(|p| p.display().to_string())
                    .collect();
                format!(" (output folders not read: {})", list.join(", "))
            };
            bail!("no fetches.csv in {} or below it{skipped}", arg.display());
        }
    }
    Ok(inputs)
}

fn walk(dir: &Path, depth: usize, inputs: &mut Inputs) -> Result<()> {
    let mut subdirs = Vec::new();
    let entries = std::fs::read_dir(dir).with_context(|| format!("reading {}", dir.display()))?;
    for entry in entries {
        let entry = entry.with_context(|| format!("reading {}", dir.display()))?;
        let hidden = entry.file_name().to_string_lossy().starts_with('.');
        // file_type() does not follow links: a linked folder cannot loop.
        if !hidden && entry.file_type().is_ok_and(|t| t.is_dir()) {
            subdirs.push(entry.path());
        }
    }
    subdirs.sort();
    for sub in subdirs {
        if sub.join("fetches.csv").is_file() {
            // A run's output folder; what is below it (report/) is output.
            inputs.paths.push(sub);
        } else if OUTPUT_MARKERS.iter().any(|m| sub.join(m).is_file()) {
            inputs.skipped.push(sub);
        } else if depth + 1 < MAX_DEPTH {
            walk(&sub, depth + 1, inputs)?;
        }
    }
    Ok(())
}

/// Distinct vantages among the loaded series (with `--by-run`, runs).
pub fn vantage_count(ds: &Dataset) -> usize {
    ds.series
        .iter()
        .map(|s| s.vantage.as_str())
        .collect::<HashSet<_>>()
        .len()
}

/// The stderr line after a walk: `read 3 fetches.csv files from 2 vantages`.
pub fn describe(files: usize, vantages: usize) -> String {
    let s = |n: usize| if n == 1 { "" } else { "s" };
    format!(
        "read {files} fetches.csv file{} from {vantages} vantage{}",
        s(files),
        s(vantages)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn touch(p: &Path) {
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, "x\n").unwrap();
    }

    #[test]
    fn walks_a_results_tree_and_leaves_output_folders_out() {
        let d = tempfile::tempdir().unwrap();
        let r = d.path().join("results");
        touch(&r.join("vb/camp/fetches.csv"));
        touch(&r.join("va/camp/fetches.csv"));
        touch(&r.join("va/other/fetches.csv"));
        // A run folder's report/ is not walked even if it held a copy.
        touch(&r.join("va/camp/report/fetches.csv"));
        // Outputs of analyze: not walked, even with a csv below.
        touch(&r.join("merged/camp/verdicts.csv"));
        touch(&r.join("merged/camp/old/fetches.csv"));
        touch(&r.join(".hidden/camp/fetches.csv"));
        touch(&r.join("vantages.csv"));
        let i = expand(std::slice::from_ref(&r)).unwrap();
        assert!(i.walked);
        assert_eq!(
            i.paths,
            vec![r.join("va/camp"), r.join("va/other"), r.join("vb/camp")]
        );
        assert_eq!(i.skipped, vec![r.join("merged/camp")]);
    }

    #[test]
    fn files_and_run_folders_stay_as_given() {
        let d = tempfile::tempdir().unwrap();
        let run = d.path().join("run");
        touch(&run.join("fetches.csv"));
        touch(&run.join("sub/fetches.csv"));
        let file = run.join("sub/fetches.csv");
        let i = expand(&[run.clone(), file.clone()]).unwrap();
        assert!(!i.walked);
        assert_eq!(i.paths, vec![run, file]);
    }

    #[test]
    fn a_tree_without_fetches_fails_naming_it() {
        let d = tempfile::tempdir().unwrap();
        touch(&d.path().join("merged/camp/verdicts.csv"));
        let e = expand(&[d.path().to_path_buf()]).unwrap_err().to_string();
        assert!(e.contains("no fetches.csv in"), "{e}");
        assert!(e.contains(&d.path().display().to_string()), "{e}");
        assert!(e.contains("merged/camp"), "{e}");
    }

    #[test]
    fn describe_counts() {
        assert_eq!(describe(1, 1), "read 1 fetches.csv file from 1 vantage");
        assert_eq!(describe(6, 3), "read 6 fetches.csv files from 3 vantages");
    }
}
