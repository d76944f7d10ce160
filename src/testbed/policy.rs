//! The middlebox's per-rule state: which connections a partial rule
//! (`share`) takes, and the queues a `shared` shaper puts them in.
//!
//! A [`RuleSet`] is plain data and decides nothing about a single
//! connection beyond "which patterns match"; a [`Policy`] is built from it
//! once per middlebox and holds everything that lives across connections.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::SeedableRng;

use super::limiter::SharedShaper;
use super::rules::{Action, RuleSet, Share};

/// A shuffled deck of `of` cards, `take` of them marked, dealt one per
/// connection and reshuffled when empty: exactly `take` of every `of`
/// consecutive draws are `true`, in an order that differs block by block.
#[derive(Debug)]
pub struct Deck {
    share: Share,
    rng: StdRng,
    cards: Vec<bool>,
}

impl Deck {
    pub fn new(share: Share) -> Deck {
        let rng = match share.seed {
            Some(seed) => StdRng::seed_from_u64(seed),
            None => StdRng::from_entropy(),
        };
        Deck {
            share,
            rng,
            cards: Vec::new(),
        }
    }

    /// Whether the next connection is one the rule applies to.
    pub fn draw(&mut self) -> bool {
        if self.cards.is_empty() {
            let (take, of) = (self.share.take as usize, self.share.of as usize);
            self.cards = (0..of).map(|i| i < take).collect();
            self.cards.shuffle(&mut self.rng);
        }
        self.cards.pop().unwrap_or(true)
    }
}

/// What the middlebox does to one direction of one connection.
#[derive(Debug, Clone, Default)]
pub(crate) struct Leg {
    pub action: Action,
    pub delay: Duration,
    /// The rule's queue when the action is a shared shaper.
    pub shared: Option<Arc<SharedShaper>>,
}

/// The rule chosen for one connection.
#[derive(Debug, Clone, Default)]
pub(crate) struct Decision {
    /// Index of the rule applied; `None`: nothing matched, pass untouched.
    pub rule: Option<usize>,
    /// Rules whose patterns matched but whose `share` left this connection
    /// to the next matching rule, in order.
    pub declined: Vec<usize>,
    pub down: Leg,
    pub up: Leg,
    /// The rule came from the address's state (a `sticky` rule matched an
    /// earlier connection), not from this connection's name.
    pub sticky: bool,
}

/// Per-rule state of a running middlebox.
#[derive(Debug)]
pub(crate) struct Policy {
    rules: RuleSet,
    decks: Vec<Option<Mutex<Deck>>>,
    /// (down, up) queue of each rule with a shared shaper.
    queues: Vec<[Option<Arc<SharedShaper>>; 2]>,
    /// Per server address: the `sticky` rule a connection matched, and
    /// until when later connections get it.
    sticky: Mutex<HashMap<SocketAddr, (Instant, usize)>>,
}

impl Policy {
    pub fn new(rules: RuleSet) -> Policy {
        let decks = rules
            .rules
            .iter()
            .map(|r| r.share.map(|s| Mutex::new(Deck::new(s))))
            .collect();
        let queue = |a: Action| match a {
            Action::Shape {
                rate,
                queue,
                shared: true,
                ..
            } => Some(Arc::new(SharedShaper::new(rate, queue))),
            _ => None,
        };
        let queues = rules
            .rules
            .iter()
            .map(|r| [queue(r.down), queue(r.up)])
            .collect();
        Policy {
            rules,
            decks,
            queues,
            sticky: Mutex::new(HashMap::new()),
        }
    }

    /// [`Policy::decide`] for a TCP connection to `server`: a name that
    /// matches a `sticky` rule marks the address; a connection to a marked
    /// address that its own name does not put under a named rule gets the
    /// marking rule (catch-alls, such as the access link, do not count).
    pub fn decide_to(&self, name: Option<&str>, server: SocketAddr) -> Decision {
        let d = self.decide(name);
        let now = Instant::now();
        let Ok(mut map) = self.sticky.lock() else {
            return d;
        };
        map.retain(|_, (until, _)| *until > now);
        let named = d.rule.filter(|&i| {
            !self.rules.rules[i]
                .patterns
                .iter()
                .all(super::rules::Pattern::is_catch_all)
        });
        if let Some(i) = named {
            if let Some(t) = self.rules.rules[i].sticky {
                map.insert(server, (now + t, i));
            }
            return d;
        }
        match map.get(&server) {
            Some(&(_, i)) => {
                let mut s = self.take(i);
                s.declined = d.declined;
                s.sticky = true;
                s
            }
            None => d,
        }
    }

    /// The decision that applies rule `i`.
    fn take(&self, i: usize) -> Decision {
        let r = &self.rules.rules[i];
        let [down_q, up_q] = &self.queues[i];
        Decision {
            rule: Some(i),
            declined: Vec::new(),
            down: Leg {
                action: r.down,
                delay: r.down_delay,
                shared: down_q.clone(),
            },
            up: Leg {
                action: r.up,
                delay: r.up_delay,
                shared: up_q.clone(),
            },
            sticky: false,
        }
    }

    /// The first matching rule that takes this connection: a rule with a
    /// `share` draws a card and, when it declines, the next match is tried.
    pub fn decide(&self, name: Option<&str>) -> Decision {
        let mut d = Decision::default();
        for i in self.rules.matching(name) {
            let takes = match &self.decks[i] {
                None => true,
                Some(deck) => deck.lock().map(|mut d| d.draw()).unwrap_or(true),
            };
            if !takes {
                d.declined.push(i);
                continue;
            }
            let declined = std::mem::take(&mut d.declined);
            d = self.take(i);
            d.declined = declined;
            break;
        }
        d
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deck_is_exact_per_block_and_shuffled() {
        let share = Share::new(0.3, Some(7)).unwrap();
        let mut deck = Deck::new(share);
        let draws: Vec<bool> = (0..1000).map(|_| deck.draw()).collect();
        for block in draws.chunks(10) {
            assert_eq!(block.iter().filter(|&&b| b).count(), 3, "{block:?}");
        }
        // Every position of a block gets a marked card some time.
        for pos in 0..10 {
            assert!(draws.chunks(10).any(|b| b[pos]), "position {pos}");
        }
        // The same seed deals the same cards.
        let mut again = Deck::new(share);
        assert!(draws.iter().all(|&b| b == again.draw()));
    }
}
