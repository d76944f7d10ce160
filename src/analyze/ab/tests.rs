//! Unit tests of the A/B rows (split from `mod.rs` for its size).

use super::*;

/// Rows of one reflector: (name, variant, control?, rate or failure) per
/// round, 8 rounds.
fn records(sides: &[(&str, &str, bool, Option<u64>)]) -> Vec<FetchRecord> {
    records_n(sides, 8)
}

fn records_n(sides: &[(&str, &str, bool, Option<u64>)], rounds: u32) -> Vec<FetchRecord> {
    let mut out = Vec::new();
    for round in 1..=rounds {
        for (name, variant, control, bps) in sides {
            out.push(FetchRecord {
                vantage: "vp".into(),
                run_id: "r".into(),
                round,
                url: format!("https://lab/bytes/1000?v={variant}"),
                host: (*name).into(),
                sni: (*name).into(),
                group: Some(if *control {
                    crate::types::Group::Control
                } else {
                    crate::types::Group::Target
                }),
                object_bytes: Some(1000),
                body_bytes: 1000,
                steady_bps: bps.map(|b| b + u64::from(round) * 1000),
                error: bps.is_none().then(|| "connection_reset".to_string()),
                total_ms: Some(crate::types::Ms(100.0)),
                ab: "lab".into(),
                variant: (*variant).into(),
                ..Default::default()
            });
        }
    }
    out
}

fn result<'a>(rows: &'a [Verdict], variant: &str) -> &'a str {
    rows.iter()
        .find(|v| !v.control && v.variant == variant)
        .map(|v| v.evasion_result.as_str())
        .unwrap()
}

#[test]
fn variants_are_judged_against_the_controls_fetched_the_same_way() {
    let (slow, fast) = (Some(130_000), Some(20_000_000));
    let mut sides = vec![("t.co", "plain", false, slow)];
    for c in ["example.com", "example.net"] {
        sides.push((c, "plain", true, fast));
        // Fine under the controls; fails under them; slow under them.
        sides.push((c, "split:2", true, fast));
        sides.push((c, "pad", true, None));
        sides.push((c, "disorder", true, Some(1_000_000)));
        sides.push((c, "oob", true, fast));
    }
    sides.push(("t.co", "split:2", false, fast));
    sides.push(("t.co", "pad", false, None));
    sides.push(("t.co", "disorder", false, Some(1_000_000)));
    sides.push(("t.co", "oob", false, slow));
    let rows = from_records(&records(&sides), &AnalyzeOptions::default());
    assert_eq!(result(&rows, "split:2"), "evades");
    assert_eq!(result(&rows, "pad"), "breaks");
    // Like its controls and faster than plain, but the controls are
    // slow as disorder too: no evasion can be claimed.
    assert_eq!(result(&rows, "disorder"), "inconclusive");
    assert_eq!(result(&rows, "oob"), "does_not_evade");
    let s = &rows[0].summary;
    assert!(
        s.contains("split at byte 2 evades")
            && s.contains("padded hello breaks")
            && s.contains("urgent byte does not")
            && s.contains("disordered split inconclusive"),
        "{s}"
    );
    // A control row under a variant is judged against the others so:
    // like them, but 8 rounds cannot evidence absence (0/8 slowed
    // allows 31%): inconclusive, with the rounds that would settle it.
    let c = rows
        .iter()
        .find(|v| v.control && v.variant == "split:2")
        .unwrap();
    assert_eq!(c.verdict, VerdictKind::Inconclusive, "{c:?}");
    assert!(
        c.reason
            .starts_with("cannot exclude a partial throttle: 0/8 fetches slowed"),
        "{}",
        c.reason
    );
    assert_eq!(c.needs_rounds, Some(21), "{c:?}");
    // The evading variant's row is no `ok` either, for the same reason;
    // `evades` rests on its ratio interval and the test against plain.
    let e = rows
        .iter()
        .find(|v| !v.control && v.variant == "split:2")
        .unwrap();
    assert_eq!(e.verdict, VerdictKind::Inconclusive, "{e:?}");
    // Thirty rounds: the same cells are evidenced `ok`.
    let rows = from_records(&records_n(&sides, 30), &AnalyzeOptions::default());
    assert_eq!(result(&rows, "split:2"), "evades");
    for v in rows.iter().filter(|v| v.variant == "split:2") {
        assert_eq!(v.verdict, VerdictKind::Ok, "{v:?}");
        assert_eq!(v.needs_rounds, None);
    }
}

/// Clearly faster than plain, but half its fetches are slow against
/// the controls: its ratio interval reaches below the threshold, so no
/// `evades` (and the row is no `ok`).
#[test]
fn evades_needs_the_ratio_interval_above_the_threshold() {
    let (slow, fast) = (Some(130_000), Some(20_000_000));
    let mut sides = vec![("t.co", "plain", false, slow)];
    for c in ["example.com", "example.net"] {
        sides.push((c, "plain", true, fast));
        sides.push((c, "tls-records", true, fast));
    }
    sides.push(("t.co", "tls-records", false, fast));
    let mut recs = records(&sides);
    for r in recs
        .iter_mut()
        .filter(|r| r.host == "t.co" && r.variant == "tls-records" && r.round % 2 == 0)
    {
        r.steady_bps = Some(4_000_000);
    }
    let rows = from_records(&recs, &AnalyzeOptions::default());
    let v = rows
        .iter()
        .find(|v| !v.control && v.variant == "tls-records")
        .unwrap();
    assert_eq!(v.evasion_result, "inconclusive", "{v:?}");
    assert_eq!(v.verdict, VerdictKind::Inconclusive, "{v:?}");
    assert!(
        v.reason.contains("cannot exclude a throttle: steady ratio")
            && v.reason.contains("not called evades"),
        "{}",
        v.reason
    );
    // The same fetches, all fast: evades.
    let rows = from_records(&records(&sides), &AnalyzeOptions::default());
    assert_eq!(result(&rows, "tls-records"), "evades");
}

#[test]
fn reflector_id_comes_back_from_the_label() {
    let mut v = empty_verdict();
    v.label = "vps: eu-1: pbs.twimg.com split-hello".into();
    assert_eq!(reflector(&v), "vps: eu-1");
    v.label = "no id".into();
    assert_eq!(reflector(&v), "");
}
