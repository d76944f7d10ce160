//! Issue 21.3: each vantage analysed where its data are, then
//! `analyze --merge-verdicts`, gives the verdicts.csv, groups.csv and output
//! of analysing every fetch in one place, byte for byte.

mod support;

use std::path::Path;

use support::analyze::*;
use support::bin::{slowlane, text};

fn analyze(args: &[&str]) -> String {
    let out = slowlane().arg("analyze").args(args).output().unwrap();
    assert!(out.status.success(), "{args:?}: {}", text(&out.stderr));
    text(&out.stdout)
}

fn read(p: &Path) -> String {
    std::fs::read_to_string(p).unwrap()
}

#[test]
fn merged_host_verdicts_equal_one_analysis_of_all_fetches() {
    let dir = tempfile::tempdir().unwrap();
    let d = |s: &str| dir.path().join(s).display().to_string();
    // Vantage names out of order across folders; one with few rounds.
    let hosts = [("h1", "ru-b", 12u32), ("h2", "kz-a", 10), ("h3", "ru-c", 4)];
    for (i, (h, v, rounds)) in hosts.iter().enumerate() {
        write_dir(
            &dir.path().join(h),
            &campaign(i as u64 + 3, v, *rounds, &twitter_urls()),
        );
    }
    let host_dirs: Vec<String> = hosts.iter().map(|h| d(h.0)).collect();
    for h in &host_dirs {
        analyze(&[h, "--format", "csv"]);
        assert!(Path::new(h).join("verdicts.csv").is_file());
    }
    let mut last_all = String::new();
    for format in ["text", "csv", "json"] {
        let mut all_args: Vec<&str> = host_dirs.iter().map(String::as_str).collect();
        let all_out = d(&format!("all-{format}"));
        all_args.extend([
            "--out",
            &all_out,
            "--format",
            format,
            "--group-by",
            "prefix:1",
        ]);
        let want = analyze(&all_args);
        let mut merge_args = vec!["--merge-verdicts"];
        merge_args.extend(host_dirs.iter().map(String::as_str));
        let merged_out = d(&format!("merged-{format}"));
        merge_args.extend(["--out", &merged_out, "--format", format]);
        merge_args.extend(["--group-by", "prefix:1"]);
        let got = analyze(&merge_args);
        assert_eq!(got, want, "stdout, --format {format}");
        for f in ["verdicts.csv", "groups.csv"] {
            let (a, m) = (
                read(&Path::new(&all_out).join(f)),
                read(&Path::new(&merged_out).join(f)),
            );
            assert!(a.lines().count() > 3, "{f}: {a}");
            assert_eq!(m, a, "{f}, --format {format}");
        }
        last_all = read(&Path::new(&all_out).join("verdicts.csv"));
    }
    assert!(last_all.contains(",throttled,"), "{last_all}");
    for v in ["kz-a", "ru-b", "ru-c"] {
        assert!(last_all.contains(&format!("\n{v},")), "{v}");
    }

    // A verdicts.csv without the last `needs_rounds` column still merges.
    let old = dir.path().join("old");
    std::fs::create_dir_all(&old).unwrap();
    let full = read(&Path::new(&host_dirs[0]).join("verdicts.csv"));
    let mut rdr = csv::Reader::from_reader(full.as_bytes());
    let mut w = csv::Writer::from_path(old.join("verdicts.csv")).unwrap();
    let h = rdr.headers().unwrap().clone();
    assert_eq!(h.iter().next_back(), Some("needs_rounds"));
    w.write_record(h.iter().take(h.len() - 1)).unwrap();
    for r in rdr.records() {
        let r = r.unwrap();
        w.write_record(r.iter().take(h.len() - 1)).unwrap();
    }
    w.flush().unwrap();
    let o = d("old-merged");
    analyze(&[
        "--merge-verdicts",
        &d("old"),
        "--out",
        &o,
        "--format",
        "csv",
    ]);
    // Its rows merge as they were, with `needs_rounds` empty (unknown).
    let mut rdr = csv::Reader::from_reader(full.as_bytes());
    let mut want = csv::Writer::from_writer(Vec::new());
    want.write_record(rdr.headers().unwrap()).unwrap();
    for r in rdr.records() {
        let r = r.unwrap();
        let mut f: Vec<&str> = r.iter().collect();
        *f.last_mut().unwrap() = "";
        want.write_record(&f).unwrap();
    }
    let want = String::from_utf8(want.into_inner().unwrap()).unwrap();
    assert_eq!(read(&Path::new(&o).join("verdicts.csv")), want);

    // One vantage in two files: refused, naming both.
    let out = slowlane()
        .args(["analyze", "--merge-verdicts", &host_dirs[0], &d("old")])
        .args(["--out", &d("dup")])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = text(&out.stderr);
    assert!(err.contains("ru-b") && err.contains("both"), "{err}");
}
