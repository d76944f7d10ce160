//! Which control sets are "another set minus one series".
//!
//! A control's own row compares it with the other controls of its class (or
//! of its size): with `P \ {i}`, where `P` is what a target of that size is
//! compared with. With 500 controls that is 500 sets of ~100k values that
//! differ by one series each; sorting each from scratch was most of an
//! `analyze` of such a directory. A set `S` that equals a parent `P` minus one
//! series `x` is derived from `P`'s [`super::Base`] in O(n) instead.
//!
//! Parents are found by hashing: `h(S)` is a sum of per-series hashes, so
//! `h(S) + r(x)` is `h(S ∪ {x})` for every candidate `x` (the series, not in
//! `S`, that share `S`'s vantage, class and direction and appear in some set).
//! A parent is a set already asked for (targets use it) or, when at least two
//! sets would share it, a set made up here. Every link is checked element by
//! element, so a hash collision costs nothing but a missed shortcut.

use std::collections::HashMap;
use std::hash::Hash;

/// A derivation: set `child` is `parent` without series `removed`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Link {
    pub child: usize,
    /// Index into the input sets, or a made-up set (ascending).
    pub parent: Parent,
    pub removed: usize,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Parent {
    Given(usize),
    Made(Vec<usize>),
}

/// A well-mixed 64-bit hash of a series index (splitmix64).
fn r(x: usize) -> u64 {
    let mut z = (x as u64).wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// Whether ascending `p` is ascending `s` with `x` added (as multisets:
/// an ascending list is the one spelling of its multiset).
fn is_plus(p: &[usize], s: &[usize], x: usize) -> bool {
    if p.len() != s.len() + 1 {
        return false;
    }
    let at = s.partition_point(|&v| v < x);
    p[..at] == s[..at] && p[at] == x && p[at + 1..] == s[at..]
}

/// The derivations among `sets`: each child at most once, never a set that is
/// itself a parent. `key` groups series that can stand in for each other
/// (vantage, class, direction).
pub fn plan<K: Eq + Hash>(sets: &[Vec<usize>], key: impl Fn(usize) -> K) -> Vec<Link> {
    let sorted: Vec<Vec<usize>> = sets
        .iter()
        .map(|s| {
            let mut s = s.clone();
            s.sort_unstable();
            s
        })
        .collect();
    let hash: Vec<u64> = sorted
        .iter()
        .map(|s| s.iter().fold(0u64, |h, &x| h.wrapping_add(r(x))))
        .collect();
    let mut by_hash: HashMap<u64, Vec<usize>> = HashMap::new();
    for (i, h) in hash.iter().enumerate() {
        by_hash.entry(*h).or_default().push(i);
    }
    // The candidates for the missing series, per key.
    let mut universe: HashMap<K, Vec<usize>> = HashMap::new();
    for s in &sorted {
        for &x in s {
            universe.entry(key(x)).or_default().push(x);
        }
    }
    for u in universe.values_mut() {
        u.sort_unstable();
        u.dedup();
    }
    let candidates = |s: &[usize]| -> Vec<usize> {
        match s.first() {
            None => Vec::new(),
            Some(&f) => universe.get(&key(f)).map_or(Vec::new(), |u| {
                u.iter()
                    .copied()
                    .filter(|x| s.binary_search(x).is_err())
                    .collect()
            }),
        }
    };
    let mut links: Vec<Option<Link>> = vec![None; sets.len()];
    // Sets that were asked for.
    let mut unlinked = Vec::new();
    for (si, s) in sorted.iter().enumerate() {
        let cands = candidates(s);
        let found = cands.iter().find_map(|&x| {
            let h = hash[si].wrapping_add(r(x));
            by_hash
                .get(&h)?
                .iter()
                .find(|&&pi| is_plus(&sorted[pi], s, x))
                .map(|&pi| (pi, x))
        });
        match found {
            Some((pi, x)) => {
                links[si] = Some(Link {
                    child: si,
                    parent: Parent::Given(pi),
                    removed: x,
                })
            }
            None => unlinked.push((si, cands)),
        }
    }
    // Made-up parents that at least two remaining sets share.
    let mut made: HashMap<u64, Vec<(usize, usize)>> = HashMap::new();
    for (si, cands) in &unlinked {
        for &x in cands {
            made.entry(hash[*si].wrapping_add(r(x)))
                .or_default()
                .push((*si, x));
        }
    }
    let mut groups: Vec<(u64, Vec<(usize, usize)>)> =
        made.into_iter().filter(|(_, g)| g.len() >= 2).collect();
    groups.sort_by(|a, b| b.1.len().cmp(&a.1.len()).then(a.0.cmp(&b.0)));
    for (_, g) in groups {
        let free: Vec<(usize, usize)> = g
            .into_iter()
            .filter(|&(si, _)| links[si].is_none())
            .collect();
        let Some(&(s0, x0)) = free.first() else {
            continue;
        };
        let mut p = sorted[s0].clone();
        let at = p.partition_point(|&v| v < x0);
        p.insert(at, x0);
        let fits: Vec<(usize, usize)> = free
            .into_iter()
            .filter(|&(si, x)| is_plus(&p, &sorted[si], x))
            .collect();
        if fits.len() < 2 {
            continue;
        }
        for (si, x) in fits {
            links[si] = Some(Link {
                child: si,
                parent: Parent::Made(p.clone()),
                removed: x,
            });
        }
    }
    // One level only: a parent is built from scratch.
    let is_parent: Vec<usize> = links
        .iter()
        .flatten()
        .filter_map(|l| match l.parent {
            Parent::Given(pi) => Some(pi),
            Parent::Made(_) => None,
        })
        .collect();
    for pi in is_parent {
        links[pi] = None;
    }
    links.into_iter().flatten().collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plus_checks_multisets() {
        assert!(is_plus(&[1, 2, 3], &[1, 3], 2));
        assert!(is_plus(&[1, 2, 3], &[2, 3], 1));
        assert!(is_plus(&[1, 2, 3], &[1, 2], 3));
        assert!(!is_plus(&[1, 2, 3], &[1, 2], 4));
        assert!(!is_plus(&[1, 2, 4], &[1, 3], 2));
        assert!(is_plus(&[1, 2, 2], &[1, 2], 2));
        assert!(!is_plus(&[1, 2], &[1, 2], 3));
    }

    #[test]
    fn leave_one_out_sets_link_to_the_target_set() {
        let full: Vec<usize> = (0..6).collect();
        let mut sets = vec![full.clone()];
        for i in 0..6 {
            sets.push(full.iter().copied().filter(|&c| c != i).collect());
        }
        let links = plan(&sets, |_| 0);
        assert_eq!(links.len(), 6);
        for l in &links {
            assert_eq!(l.parent, Parent::Given(0));
            assert_eq!(l.removed, l.child - 1);
        }
    }

    #[test]
    fn a_parent_nobody_asked_for_is_made_when_shared() {
        let full: Vec<usize> = (10..15).collect();
        let sets: Vec<Vec<usize>> = (10..15)
            .map(|i| full.iter().copied().filter(|&c| c != i).collect())
            .collect();
        let links = plan(&sets, |_| 0);
        assert_eq!(links.len(), 5);
        assert!(links.iter().all(|l| l.parent == Parent::Made(full.clone())));
        // Different keys cannot stand in for each other: nothing to derive.
        assert!(plan(&sets, |x| x).is_empty());
        // A lone set has no one to share a made-up parent with.
        assert!(plan(&sets[..1], |_| 0).is_empty());
    }
}
