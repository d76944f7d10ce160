//! Command-line overrides for `slowlane run`, applied after the file is loaded.

use std::path::PathBuf;

use serde::Serialize;

use super::Campaign;
use crate::plan::Until;
use crate::types::{ConnectTo, Resolve};

/// Flags of `slowlane run` that override the campaign file. Flags apply to
/// every URL. Relative paths here are relative to the current directory (they
/// were typed at a shell), unlike paths inside the campaign file.
#[derive(Debug, Clone, Default, Serialize)]
pub struct CliOverrides {
    /// `--rounds N`: replaces both `rounds` and `duration`.
    pub rounds: Option<u32>,
    /// `--resolve`: added to every URL, taking precedence over file entries
    /// for the same host and port.
    pub resolve: Vec<Resolve>,
    /// `--connect-to`: added to every URL, taking precedence over file entries
    /// with the same H1:P1.
    pub connect_to: Vec<ConnectTo>,
    /// `--cacert`: extra trust roots added to every URL's own.
    pub cacert: Vec<PathBuf>,
    /// `--insecure`: turns certificate verification off everywhere (never on).
    pub insecure: bool,
    pub seed: Option<u64>,
    pub out: Option<PathBuf>,
    /// `--vantage NAME`: replaces the campaign's `vantage`.
    pub vantage: Option<String>,
    /// `--until decided|budget`: replaces the campaign's `until`.
    pub until: Option<Until>,
    /// `--max-total-bytes SIZE`: replaces the campaign's `max_total_bytes`.
    pub max_total_bytes: Option<u64>,
}

impl Campaign {
    /// Apply command-line overrides. CLI `resolve`/`connect_to` entries are put
    /// first and file entries for the same host:port dropped, so whichever
    /// way the probe matches (first wins or any), the flag wins.
    pub fn apply(&mut self, o: &CliOverrides) {
        if let Some(n) = o.rounds {
            self.schedule.rounds = Some(n);
            self.schedule.duration = None;
            self.schedule.rounds_implicit = false;
        }
        if let Some(u) = o.until {
            self.schedule.until = u;
            // A file without `rounds`/`duration` has one round; made adaptive
            // from the command line it gets the adaptive budget instead.
            if u == Until::Decided && self.schedule.rounds_implicit {
                self.schedule.rounds = Some(crate::plan::DEFAULT_DECIDED_ROUNDS);
            }
        }
        if let Some(b) = o.max_total_bytes {
            self.schedule.max_total_bytes = Some(b);
        }
        if let Some(s) = o.seed {
            self.seed = Some(s);
        }
        if let Some(out) = &o.out {
            self.out = out.clone();
        }
        if let Some(v) = &o.vantage {
            self.vantage = v.clone();
        }
        for t in &mut self.targets {
            let opts = &mut t.options;
            if !o.resolve.is_empty() {
                let mut v = o.resolve.clone();
                v.extend(opts.resolve.drain(..).filter(|r| {
                    !o.resolve
                        .iter()
                        .any(|c| c.port == r.port && c.host.eq_ignore_ascii_case(&r.host))
                }));
                opts.resolve = v;
            }
            if !o.connect_to.is_empty() {
                let mut v = o.connect_to.clone();
                v.extend(opts.connect_to.drain(..).filter(|r| {
                    !o.connect_to.iter().any(|c| {
                        c.from_port == r.from_port && c.from_host.eq_ignore_ascii_case(&r.from_host)
                    })
                }));
                opts.connect_to = v;
            }
            for c in &o.cacert {
                if !opts.cacert.contains(c) {
                    opts.cacert.push(c.clone());
                }
            }
            if o.insecure {
                opts.insecure = true;
            }
        }
    }
}
