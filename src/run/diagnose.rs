//! A run in which nothing was measured: what failed, where, and the likely
//! cause, in one message — instead of a table of empty medians and
//! "inconclusive" verdicts that leave a newcomer guessing (issue 23: the lab
//! not started gave "30 fetches (30 failed)" and exit 0).

use std::collections::BTreeMap;

use crate::types::FetchRecord;

/// Fetches of this invocation that measured nothing, by what happened and
/// where; and how many did measure something.
#[derive(Debug, Default, Clone)]
pub struct Failures {
    /// (what, where) → count. `what` is the error (`connection_refused`) or
    /// `HTTP 401`; `where` the address connected to, else the host.
    by_kind: BTreeMap<(String, String), u64>,
    /// Fetches that got a response below 400 (a rate, a time, a size).
    pub measured: u64,
}

impl Failures {
    pub fn add(&mut self, r: &FetchRecord) {
        let what = match (&r.error, r.status) {
            (Some(e), _) => e.clone(),
            (None, Some(s)) if s >= 400 => format!("HTTP {s}"),
            _ => {
                self.measured += 1;
                return;
            }
        };
        let place = r.addr.clone().unwrap_or_else(|| r.host.clone());
        *self.by_kind.entry((what, place)).or_default() += 1;
    }

    /// The message when `fetches` > 0 ran and none measured anything; None
    /// when something was measured (failed fetches are then data).
    pub fn nothing_measured(&self, fetches: u64) -> Option<String> {
        if fetches == 0 || self.measured > 0 {
            return None;
        }
        let mut groups: Vec<(&(String, String), &u64)> = self.by_kind.iter().collect();
        groups.sort_by(|a, b| b.1.cmp(a.1).then(a.0.cmp(b.0)));
        let shown: Vec<String> = groups
            .iter()
            .take(3)
            .map(|((what, place), n)| {
                let prep = if what.starts_with("dns") {
                    "for"
                } else if what.starts_with("HTTP") {
                    "from"
                } else {
                    "to"
                };
                format!("{n} {what} {prep} {place} — {}", likely_cause(what))
            })
            .collect();
        let more = groups.len().saturating_sub(3);
        let all = if groups.len() == 1 {
            format!("all {fetches} fetches: ")
        } else {
            format!("all {fetches} fetches failed: ")
        };
        let mut s = format!("nothing measured: {all}{}", shown.join("; "));
        if more > 0 {
            s += &format!("; and {more} other kind(s) (fetches.csv has each row)");
        }
        Some(s)
    }
}

/// The usual reason behind a failure kind, phrased as what to check.
fn likely_cause(what: &str) -> &'static str {
    match what {
        "connection_refused" => {
            "nothing listens there: is the server running (the lab: `slowlane testbed`)?"
        }
        "host_unreachable" | "network_unreachable" => "no route there: is the network up?",
        "generic_timeout_error" => {
            "no answer in time: a firewall dropping packets, or a server too slow for the timeouts?"
        }
        "ssl_unknown_authority" | "ssl_invalid_certificate" | "ssl_invalid_hostname" => {
            "the certificate was not accepted: the lab's CA needs `--cacert` (the testbed prints it), a reflector its `pin`"
        }
        "connection_reset" | "eof_error" | "ssl_failed_handshake" => {
            "the connection was cut: blocked on the way, or a server that does not speak this protocol?"
        }
        "HTTP 401" | "HTTP 403" => {
            "the server refuses the request: a reflector started with `--token` needs `token` in its [[reflector]] table"
        }
        "HTTP 404" => "no such path on that server",
        w if w.starts_with("dns") => "the name does not resolve here: a typo, or no DNS on this machine?",
        w if w.starts_with("HTTP") => "the server answered with an error status",
        _ => "see the error and error_phase columns of fetches.csv",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(error: Option<&str>, status: Option<u16>, addr: Option<&str>) -> FetchRecord {
        FetchRecord {
            error: error.map(str::to_string),
            status,
            addr: addr.map(str::to_string),
            host: "example.org".into(),
            ..FetchRecord::default()
        }
    }

    #[test]
    fn says_what_failed_where_and_why_only_when_nothing_was_measured() {
        let mut f = Failures::default();
        for _ in 0..30 {
            f.add(&rec(
                Some("connection_refused"),
                None,
                Some("127.0.0.1:8443"),
            ));
        }
        let m = f.nothing_measured(30).unwrap();
        assert!(
            m.starts_with("nothing measured: all 30 fetches: 30 connection_refused to 127.0.0.1:8443 — nothing listens there"),
            "{m}"
        );
        f.add(&rec(Some("dns_nxdomain_error"), None, None));
        f.add(&rec(None, Some(401), Some("127.0.0.1:9")));
        let m = f.nothing_measured(32).unwrap();
        assert!(m.contains("all 32 fetches failed"), "{m}");
        assert!(m.contains("1 dns_nxdomain_error for example.org"), "{m}");
        assert!(
            m.contains("1 HTTP 401 from 127.0.0.1:9 — the server refuses"),
            "{m}"
        );
        f.add(&rec(None, Some(200), Some("127.0.0.1:9")));
        assert_eq!(f.nothing_measured(33), None);
        assert_eq!(Failures::default().nothing_measured(0), None);
    }
}
