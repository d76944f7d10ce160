//! `slowlane report`: the SVGs parse and hold the series they should, data
//! from the files is escaped, and a thousand vantages render (the timing of
//! that is `scripts/bench-report`, not a test).

mod support;

use std::path::{Path, PathBuf};

use slowlane::report::html::{self, ReportOptions};
use support::analyze::*;

const TARGET: &str = "#D62728";
const CONTROL: &str = "#1F77B4";
const PLATEAU: &str = "#9467BD";
const BURST: &str = "#FF7F0E";

/// Stroke colours of the polylines of an SVG (one per drawn line series).
fn line_colours(svg: &str) -> Vec<String> {
    let doc = roxmltree::Document::parse(svg).expect("SVG parses");
    assert_eq!(doc.root_element().tag_name().name(), "svg");
    doc.descendants()
        .filter(|n| n.tag_name().name() == "polyline")
        .filter_map(|n| n.attribute("stroke").map(str::to_string))
        .collect()
}

fn svgs(dir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "svg"))
        .collect();
    v.sort();
    v
}

fn twitter_dir(root: &Path) -> PathBuf {
    let dir = root.join("vm");
    write_dir(&dir, &campaign(7, "vm", 12, &twitter_urls()));
    dir
}

#[test]
fn svgs_parse_and_show_targets_controls_and_plateaus() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = twitter_dir(tmp.path());
    let out = tmp.path().join("report");
    let r = html::build(std::slice::from_ref(&dir), &ReportOptions::default()).unwrap();
    let index = html::page::write(&r, &out).unwrap();

    let files = svgs(&out);
    assert!(!files.is_empty(), "no SVG written");
    for f in &files {
        line_colours(&std::fs::read_to_string(f).unwrap());
    }
    // Rate CDF of images: target and control curves, and the plateau mark.
    let cdf = std::fs::read_to_string(out.join("v0-cdf-image-down.svg")).unwrap();
    let c = line_colours(&cdf);
    for (colour, what) in [
        (TARGET, "target"),
        (CONTROL, "control"),
        (PLATEAU, "plateau"),
    ] {
        assert!(
            c.iter().any(|s| s == colour),
            "CDF lacks the {what} line: {c:?}"
        );
    }
    // Bytes over time: target fetches, the control fetch, the plateau fit
    // and the end of the burst.
    let bytes: Vec<&PathBuf> = files
        .iter()
        .filter(|p| p.to_string_lossy().contains("-bytes-"))
        .collect();
    assert!(!bytes.is_empty(), "no bytes-over-time panel: {files:?}");
    let b = std::fs::read_to_string(bytes[0]).unwrap();
    let c = line_colours(&b);
    for (colour, what) in [
        (TARGET, "target"),
        (CONTROL, "control"),
        (PLATEAU, "plateau"),
    ] {
        assert!(
            c.iter().any(|s| s == colour),
            "bytes panel lacks {what}: {c:?}"
        );
    }
    assert!(b.contains(&format!("fill=\"{BURST}\"")), "no burst mark");
    // Phases and rounds panels of a target class.
    for name in ["v0-phases-image-down.svg", "v0-rounds-image-down.svg"] {
        let c = line_colours(&std::fs::read_to_string(out.join(name)).unwrap());
        assert!(c.iter().any(|s| s == TARGET), "{name}: {c:?}");
    }
    // The page holds every SVG inline, no script, and the verdicts.
    let page = std::fs::read_to_string(&index).unwrap();
    assert_eq!(page.matches("<svg").count(), files.len());
    assert!(!page.to_ascii_lowercase().contains("<script"));
    assert!(page.contains("class=\"v-throttled\""), "no throttled row");
    let md = std::fs::read_to_string(out.join("report.md")).unwrap();
    for f in &files {
        let name = f.file_name().unwrap().to_string_lossy();
        assert!(md.contains(&format!("]({name})")), "report.md lacks {name}");
    }
    // Campaign facts are absent (no campaign.json) and the page says so.
    assert!(page.contains("No campaign.json"));
}

#[test]
fn script_in_url_label_and_vantage_is_text() {
    let tmp = tempfile::tempdir().unwrap();
    let evil = "<script>alert(\"x\")</script>";
    let mut urls = twitter_urls();
    urls[0].url = "https://pbs.twimg.com/<script>alert(\"x\")</script>'.jpg";
    let mut recs = campaign(3, evil, 8, &urls);
    for r in &mut recs {
        r.label = format!("{evil}\"'|label");
    }
    let dir = tmp.path().join("evil");
    write_dir(&dir, &recs);
    let out = tmp.path().join("report");
    let opts = ReportOptions {
        title: format!("title {evil}"),
        ..ReportOptions::default()
    };
    let r = html::build(std::slice::from_ref(&dir), &opts).unwrap();
    let index = html::page::write(&r, &out).unwrap();
    let page = std::fs::read_to_string(index).unwrap();
    assert!(!page.contains("<script"), "raw <script> in index.html");
    let shown = page.split("alert(").nth(1).map(|s| &s[..s.len().min(40)]);
    assert!(
        page.contains("&#60;script&#62;alert(&#34;x&#34;)&#60;/script&#62;"),
        "escaped text absent: {shown:?}"
    );
    let md = std::fs::read_to_string(out.join("report.md")).unwrap();
    assert!(!md.contains("<script"), "raw <script> in report.md");
    for f in svgs(&out) {
        let s = std::fs::read_to_string(&f).unwrap();
        assert!(!s.contains("<script"), "{}", f.display());
    }
}

#[test]
fn several_inputs_need_out() {
    let paths = [PathBuf::from("a"), PathBuf::from("b")];
    assert!(html::default_out(&paths).is_err());
    assert_eq!(
        html::default_out(&[PathBuf::from("x/fetches.csv")]).unwrap(),
        PathBuf::from("x/report")
    );
}

#[test]
fn one_pass_gives_the_verdicts_of_analyze() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = twitter_dir(tmp.path());
    let r = html::build(std::slice::from_ref(&dir), &ReportOptions::default()).unwrap();
    let rows = slowlane::analyze::analyze_paths(
        std::slice::from_ref(&dir),
        &slowlane::analyze::AnalyzeOptions::default(),
    )
    .unwrap();
    let v = &r.vantages[0];
    let shown: Vec<(String, &str)> = v
        .rows
        .iter()
        .chain(&v.control_rows)
        .map(|x| (x.what.clone(), x.verdict))
        .collect();
    assert_eq!(shown.len(), rows.len());
    for x in &rows {
        let what = match x.scope {
            slowlane::analyze::Scope::Url => x.url.clone(),
            slowlane::analyze::Scope::Host => x.host.clone(),
            slowlane::analyze::Scope::Class => "all targets of the class".into(),
            slowlane::analyze::Scope::Ab => slowlane::analyze::ab::what(x),
        };
        assert!(
            shown.contains(&(what.clone(), x.verdict.as_str())),
            "{what} {} not shown",
            x.verdict
        );
    }
    assert!(rows.iter().any(|x| x.verdict.as_str() == "throttled"));
}

#[test]
fn report_command_writes_into_the_input_directory() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = twitter_dir(tmp.path());
    let o = support::bin::slowlane()
        .args(["report", "--title", "T"])
        .arg(&dir)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let index = dir.join("report").join("index.html");
    assert_eq!(
        String::from_utf8_lossy(&o.stdout).trim(),
        index.display().to_string()
    );
    assert!(std::fs::read_to_string(index)
        .unwrap()
        .contains("<title>T</title>"));
    // Two inputs and no --out: a usage error (exit 2), nothing written.
    let o = support::bin::slowlane()
        .arg("report")
        .args([&dir, &dir])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("--out"));
}

/// A same-server SNI A/B test on reflector `lab`: pbs.twimg.com policed
/// when its name is sent plainly, fast when the ClientHello is split;
/// example.com and example.net are the control names.
fn ab_dir(root: &Path) -> PathBuf {
    use slowlane::types::{Class::Image, Group::*};
    let urls = [
        url(
            "https://pbs.twimg.com/bytes/400000",
            Image,
            Target,
            400_000,
            Path_::Policed(POLICE_BPS),
        ),
        url(
            "https://pbs.twimg.com/bytes/400000?split",
            Image,
            Target,
            400_000,
            Path_::Fast(20e6),
        ),
        url(
            "https://example.com/bytes/400000",
            Image,
            Control,
            400_000,
            Path_::Fast(20e6),
        ),
        url(
            "https://example.net/bytes/400000",
            Image,
            Control,
            400_000,
            Path_::Fast(20e6),
        ),
    ];
    let variants = ["plain", "split-hello", "plain", "plain"];
    let mut recs = campaign(11, "vm", 12, &urls);
    // `campaign` writes every URL once per round, in order.
    for (i, r) in recs.iter_mut().enumerate() {
        r.ab = "lab".into();
        r.variant = variants[i % urls.len()].into();
    }
    let dir = root.join("ab");
    write_dir(&dir, &recs);
    dir
}

/// The report of one input with the default options, written to `out`:
/// the report, its index.html and its report.md.
fn report_of(dir: &Path, out: &Path) -> (html::Report, String, String) {
    let r = html::build(&[dir.to_path_buf()], &ReportOptions::default()).unwrap();
    let index = html::page::write(&r, out).unwrap();
    let page = std::fs::read_to_string(index).unwrap();
    let md = std::fs::read_to_string(out.join("report.md")).unwrap();
    (r, page, md)
}

#[test]
fn ab_tests_section_states_what_each_pair_found() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = ab_dir(tmp.path());
    let out = tmp.path().join("report");
    let (r, page, md) = report_of(&dir, &out);
    // The report holds the A/B rows `slowlane analyze` finds.
    assert!(
        r.vantages[0].rows.iter().any(|x| x.scope == "ab"),
        "no A/B row in the report"
    );
    // The pair's sentence: trigger, rate, direction and the evasion.
    let pair = "pbs.twimg.com vs example.com, example.net on reflector lab: \
                SNI-triggered: pbs.twimg.com name throttled to ~";
    for (name, text) in [("index.html", &page), ("report.md", &md)] {
        assert!(text.contains("A/B tests"), "{name}: no A/B section");
        let at = text
            .find(pair)
            .unwrap_or_else(|| panic!("{name}: no pair sentence"));
        let rest = &text[at..];
        let line = &rest[..rest.find('\n').unwrap_or(rest.len())];
        assert!(
            line.contains("kbit/s downloads; split ClientHello evades"),
            "{name}: {line}"
        );
    }
    // One plateau mark: the URL row's fit, not again the A/B row's median.
    let cdf = std::fs::read_to_string(out.join("v0-cdf-image-down.svg")).unwrap();
    let doc = roxmltree::Document::parse(&cdf).unwrap();
    let marks: Vec<&str> = doc
        .descendants()
        .filter(|n| n.tag_name().name() == "text")
        .filter_map(|n| n.text())
        .filter(|t| t.trim_start().starts_with("plateau "))
        .collect();
    assert_eq!(marks.len(), 1, "plateau marks on the CDF: {marks:?}");
    // The vantage's sentence is the one `slowlane analyze` prints.
    let o = std::process::Command::new(env!("CARGO_BIN_EXE_slowlane"))
        .arg("analyze")
        .arg(&dir)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&o.stdout);
    let said = text
        .lines()
        .skip_while(|l| l.trim() != "SNI A/B")
        .nth(1)
        .and_then(|l| l.trim().strip_prefix("vm: "))
        .unwrap_or_else(|| panic!("no SNI A/B line in analyze's output:\n{text}"));
    assert!(
        said.starts_with("SNI-triggered: pbs.twimg.com name"),
        "{said}"
    );
    assert!(
        page.contains(said),
        "analyze's sentence {said:?} not in the page"
    );
    assert!(
        md.contains(said),
        "analyze's sentence {said:?} not in report.md"
    );

    // A run without A/B rows has no such section.
    let plain = twitter_dir(tmp.path());
    let (_, page, md) = report_of(&plain, &tmp.path().join("report-plain"));
    assert!(!page.contains("A/B tests") && !md.contains("A/B tests"));
    assert!(
        !page.contains("SNI"),
        "an A/B sentence in a run without A/B rows"
    );
}

#[test]
fn long_runs_get_a_median_rate_per_hour() {
    let tmp = tempfile::tempdir().unwrap();
    // 12 rounds over four hours (three rounds an hour), from 12:00 UTC.
    let mut recs = campaign(7, "vm", 12, &twitter_urls());
    for r in &mut recs {
        let hour = 12 + (r.round - 1) / 3;
        r.started_at = format!("2021-03-10T{hour}:{:02}:00Z", r.round * 4);
    }
    let dir = tmp.path().join("long");
    write_dir(&dir, &recs);
    let out = tmp.path().join("report");
    let (_, page, _) = report_of(&dir, &out);
    let svg = std::fs::read_to_string(out.join("v0-hours-image-down.svg")).unwrap();
    roxmltree::Document::parse(&svg).unwrap();
    // One point per hour on each side's line.
    for colour in [TARGET, CONTROL] {
        // The first line of the colour that is not its legend key.
        let line = polylines(&svg)
            .into_iter()
            .find(|(c, p)| c == colour && !is_key(p))
            .unwrap_or_else(|| panic!("no {colour} line"));
        assert_eq!(line.1.len(), 4, "{colour}");
    }
    for tick in ["03-10 12h", "03-10 15h", "hour the fetch started (UTC)"] {
        assert!(svg.contains(tick), "no {tick:?} in the panel");
    }
    assert!(page.contains("Median rate per hour (UTC): image down"));

    // A run within one hour has per-round panels only.
    let one = twitter_dir(tmp.path());
    let out = tmp.path().join("report-one");
    report_of(&one, &out);
    let files = svgs(&out);
    assert!(files
        .iter()
        .any(|f| f.to_string_lossy().contains("-rounds-")));
    assert!(
        !files
            .iter()
            .any(|f| f.to_string_lossy().contains("-hours-")),
        "{files:?}"
    );
}

/// Points of each polyline of an SVG with its stroke colour.
fn polylines(svg: &str) -> Vec<(String, Vec<(f64, f64)>)> {
    let doc = roxmltree::Document::parse(svg).expect("SVG parses");
    doc.descendants()
        .filter(|n| n.tag_name().name() == "polyline")
        .map(|n| {
            let pts = n
                .attribute("points")
                .unwrap_or("")
                .split_whitespace()
                .filter_map(|p| {
                    let (x, y) = p.split_once(',')?;
                    Some((x.parse().ok()?, y.parse().ok()?))
                })
                .collect();
            (n.attribute("stroke").unwrap_or("").to_string(), pts)
        })
        .collect()
}

/// A legend key: one horizontal 16 px stroke.
fn is_key(pts: &[(f64, f64)]) -> bool {
    pts.len() == 2 && pts[0].1 == pts[1].1 && (pts[1].0 - pts[0].0 - 16.0).abs() < 0.5
}

/// Issue 23.7: legends sit in a band above the plot (inside it they covered
/// the start of the curves), the bytes panel's control line does not lie on
/// the y axis, and its legend says times in a unit that shows them.
#[test]
fn legends_above_the_plot_and_control_off_the_axis() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = twitter_dir(tmp.path());
    let out = tmp.path().join("report");
    let r = html::build(std::slice::from_ref(&dir), &ReportOptions::default()).unwrap();
    html::page::write(&r, &out).unwrap();
    let mut with_legend = 0;
    for f in svgs(&out) {
        let svg = std::fs::read_to_string(&f).unwrap();
        let lines = polylines(&svg);
        // The y axis: the black vertical stroke; the plot starts at its top.
        let Some((axis_x, plot_top)) = lines.iter().find_map(|(c, p)| {
            (c == "#000000" && p.len() == 2 && p[0].0 == p[1].0 && p[0].1 != p[1].1)
                .then(|| (p[0].0, p[0].1.min(p[1].1)))
        }) else {
            continue;
        };
        let keys: Vec<f64> = lines
            .iter()
            .filter(|(c, p)| c != "#000000" && is_key(p))
            .map(|(_, p)| p[0].1)
            .collect();
        if keys.is_empty() {
            continue;
        }
        with_legend += 1;
        for y in &keys {
            assert!(
                *y < plot_top,
                "{}: legend key at y={y} inside the plot (top {plot_top})",
                f.display()
            );
        }
        if f.to_string_lossy().contains("-bytes-") {
            let control: Vec<&(f64, f64)> = lines
                .iter()
                .filter(|(c, p)| c == CONTROL && !is_key(p))
                .flat_map(|(_, p)| p)
                .collect();
            assert!(!control.is_empty(), "{}: no control line", f.display());
            let left = control.iter().map(|p| p.0).fold(f64::INFINITY, f64::min);
            assert!(
                left >= axis_x + 8.0,
                "{}: control line at x={left} on the y axis (x={axis_x})",
                f.display()
            );
            assert!(svg.contains("control: "), "{}", f.display());
            assert!(!svg.contains(" in 0.00 s"), "{}", f.display());
        }
    }
    assert!(
        with_legend >= 3,
        "too few panels with a legend: {with_legend}"
    );
}
