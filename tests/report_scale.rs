//! A report over 1,000 vantages × 1,000 fetches renders correctly: every
//! vantage in the matrix, the quiet ones collapsed into a count, sections for
//! the most throttled first, and SVGs that parse. How long it takes is
//! measured by `scripts/bench-report` (no timed assertion in a test).

use slowlane::analyze::base::verdict::empty_verdict;
use slowlane::analyze::input::load::Row;
use slowlane::analyze::{Scope, Verdict, VerdictKind};
use slowlane::report::html::{agg::Agg, model, page, ReportOptions};
use slowlane::types::{Class, Direction, Group};

const VANTAGES: usize = 1000;
const FETCHES: usize = 1000;
/// Every 20th vantage throttles its target images.
fn throttled(v: usize) -> bool {
    v % 20 == 7
}

fn synthetic() -> (Agg, Vec<Verdict>) {
    let urls = [
        ("https://t.example/a.jpg", Group::Target),
        ("https://t.example/b.jpg", Group::Target),
        ("https://c.example/a.jpg", Group::Control),
        ("https://c.example/b.jpg", Group::Control),
    ];
    let mut agg = Agg::default();
    let mut verdicts = Vec::new();
    let mut id = String::new();
    for v in 0..VANTAGES {
        let vantage = format!("vp-{v:04}");
        for k in 0..FETCHES {
            let (url, group) = urls[k % urls.len()];
            let slow = throttled(v) && group == Group::Target;
            // Rates spread over a decade, deterministic.
            let spread = 1.0 + (k * 7919 % 1000) as f64 / 111.0;
            let rate = if slow {
                120e3 * spread.sqrt()
            } else {
                20e6 * spread
            };
            id.clear();
            id.push_str(&format!("{v}-{k}"));
            let row = Row {
                vantage: vantage.as_bytes(),
                run_id: b"run1",
                round: Some((k / urls.len()) as u64),
                fetch_id: id.as_bytes(),
                url: url.as_bytes(),
                host: b"",
                class: Some(Class::Image),
                group: Some(group),
                direction: Direction::Down,
                body_bytes: Some(1_000_000),
                object_bytes: Some(1_000_000),
                steady_bps: Some(rate),
                tcp_ms: Some(20.0 + (k % 13) as f64),
                tls_ms: Some(40.0 + (k % 17) as f64),
                ttfb_ms: Some(30.0 + (k % 11) as f64),
                total_ms: Some(1000.0),
                ..Row::default()
            };
            agg.add(0, &row);
        }
        let kind = if throttled(v) {
            VerdictKind::Throttled
        } else if v % 3 == 0 {
            VerdictKind::Inconclusive
        } else {
            VerdictKind::Ok
        };
        for (url, _) in &urls[..2] {
            verdicts.push(Verdict {
                vantage: vantage.clone(),
                url: url.to_string(),
                host: "t.example".into(),
                class: Some(Class::Image),
                verdict: kind,
                n: FETCHES / 4,
                n_control: FETCHES / 2,
                plateau_bps: throttled(v).then_some(131_000.0),
                reason: "synthetic".into(),
                ..empty_verdict()
            });
        }
        verdicts.push(Verdict {
            vantage: vantage.clone(),
            scope: Scope::Class,
            class: Some(Class::Image),
            verdict: kind,
            n: 2,
            summary: format!("image {kind}"),
            ..empty_verdict()
        });
    }
    (agg, verdicts)
}

#[test]
fn thousand_vantages_render() {
    let (mut agg, verdicts) = synthetic();
    let tmp = tempfile::tempdir().unwrap();
    let opts = ReportOptions::default();
    let r = model::build(
        &verdicts,
        &mut agg,
        &[tmp.path().to_path_buf()],
        Vec::new(),
        &opts,
    )
    .unwrap();
    let loud = (0..VANTAGES).filter(|&v| throttled(v)).count();
    assert_eq!(r.n_vantages, VANTAGES);
    assert_eq!(r.n_fetches, VANTAGES * FETCHES);
    assert_eq!(r.matrix.rows.len(), loud);
    assert_eq!(r.matrix.quiet.len(), VANTAGES - loud);
    assert!(r
        .matrix
        .rows
        .iter()
        .all(|row| row.cells[0].verdict == "throttled"));
    assert_eq!(r.vantages.len(), opts.max_vantages);
    assert_eq!(r.omitted, VANTAGES - opts.max_vantages);
    // Sections start with the throttled vantages.
    for v in &r.vantages[..loud] {
        assert!(v.rows[0].verdict == "throttled", "{}", v.name);
        assert_eq!(v.cdfs.len(), 1);
    }
    for v in &r.vantages {
        for f in v.cdfs.iter().chain(&v.phases).chain(&v.rounds) {
            roxmltree::Document::parse(&f.svg).expect("SVG parses");
        }
    }
    let html = page::html(&r).unwrap();
    assert!(html.contains(&format!(
        "{} vantages with every class ok or inconclusive",
        VANTAGES - loud
    )));
    assert_eq!(html.matches("<section").count(), opts.max_vantages);
    // The control CDF of a throttled vantage still sits two decades right of
    // its targets: quantiles, not a point per fetch, drew it.
    let cdf = &r.vantages[0].cdfs[0].svg;
    assert!(
        cdf.matches("<polyline").count() < 100,
        "one polyline per fetch?"
    );
}
