//! The per-round shuffle and the schedule built from a campaign.

use std::collections::HashSet;
use std::time::Duration;

use rand::rngs::StdRng;
use rand::SeedableRng;
use slowlane::plan::{random_seed, Plan, Schedule};

#[test]
fn shuffle_is_reproducible_from_seed_and_round() {
    let a = Plan::new(30, 42);
    let b = Plan::new(30, 42);
    for round in 0..20 {
        assert_eq!(a.order(round), b.order(round));
    }
    // A different seed gives a different sequence of orders.
    let c = Plan::new(30, 43);
    assert!((0..20).any(|r| a.order(r) != c.order(r)));
}

#[test]
fn shuffle_is_a_permutation() {
    for n in [0usize, 1, 2, 7, 100] {
        let p = Plan::new(n, 9);
        for round in 0..10 {
            let mut o = p.order(round);
            assert_eq!(o.len(), n);
            o.sort_unstable();
            assert_eq!(o, (0..n).collect::<Vec<_>>());
        }
    }
}

#[test]
fn shuffle_differs_across_rounds() {
    let p = Plan::new(20, 1);
    let orders: HashSet<Vec<usize>> = (0..50).map(|r| p.order(r)).collect();
    assert_eq!(orders.len(), 50, "every round should get its own order");
    // Not the identity for most rounds, and each position sees many targets.
    let firsts: HashSet<usize> = (0..50).map(|r| p.order(r)[0]).collect();
    assert!(firsts.len() > 8, "{firsts:?}");
}

#[test]
fn jitter_rng_is_reproducible() {
    let s = Schedule {
        rounds: Some(5),
        duration: None,
        interval: Duration::from_secs(60),
        jitter: Duration::from_secs(10),
        ..Schedule::default()
    };
    let p = Plan::new(3, 5);
    let a: Vec<Duration> = (0..5)
        .map(|r| s.round_start_offset(r, &mut p.round_rng(r)))
        .collect();
    let b: Vec<Duration> = (0..5)
        .map(|r| s.round_start_offset(r, &mut Plan::new(3, 5).round_rng(r)))
        .collect();
    assert_eq!(a, b);
    for (r, o) in a.iter().enumerate() {
        let base = Duration::from_secs(60 * r as u64);
        assert!(
            *o >= base && *o <= base + Duration::from_secs(10),
            "{r}: {o:?}"
        );
    }
}

#[test]
fn jitter_is_spread_over_its_range() {
    let s = Schedule {
        jitter: Duration::from_secs(30),
        ..Schedule::default()
    };
    let mut rng = StdRng::seed_from_u64(3);
    let v: Vec<Duration> = (0..1000)
        .map(|_| s.round_start_offset(0, &mut rng))
        .collect();
    let lo = v.iter().filter(|d| **d < Duration::from_secs(10)).count();
    let hi = v.iter().filter(|d| **d > Duration::from_secs(20)).count();
    assert!(lo > 250 && hi > 250, "lo={lo} hi={hi}");
    assert!(v.iter().all(|d| *d <= Duration::from_secs(30)));
}

#[test]
fn duration_schedule_runs_whole_rounds_until_it_passes() {
    let s = Schedule {
        rounds: None,
        duration: Some(Duration::from_secs(600)),
        interval: Duration::from_secs(120),
        jitter: Duration::ZERO,
        ..Schedule::default()
    };
    // Simulate: each round takes 150 s, starting at max(offset, end of previous).
    let mut rng = StdRng::seed_from_u64(0);
    let mut now = Duration::ZERO;
    let mut round = 0;
    while s.should_start(round, s.round_start_offset(round, &mut rng).max(now)) {
        now = s.round_start_offset(round, &mut rng).max(now) + Duration::from_secs(150);
        round += 1;
    }
    // Starts at 0, 150, 300, 450 (all < 600); the next would be at 600.
    assert_eq!(round, 4);
    // The round that started at 450 s ran its full 150 s.
    assert_eq!(now, Duration::from_secs(600));
}

#[test]
fn fixed_rounds_ignore_elapsed_time() {
    let s = Schedule {
        rounds: Some(2),
        ..Schedule::default()
    };
    assert!(s.should_start(1, Duration::from_secs(1 << 30)));
    assert!(!s.should_start(2, Duration::ZERO));
    assert_eq!(s.total_rounds(), Some(2));
}

#[test]
fn random_seeds_differ() {
    assert_ne!(random_seed(), random_seed());
}
