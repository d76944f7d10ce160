//! `[[trigger]]`: a `slowlane trigger` rule discovery run by a campaign
//! once its rounds are over (`crate::run`, `docs/reflector.md`).
//!
//! The keys are the command's flags, with the same defaults
//! ([`DEFAULT_SIZE`] …, checked against the CLI by a test). Without
//! `reflector`, a campaign of exactly one `[[reflector]]` table lends its
//! `url`, `pin` and `token`: the study then runs against the same server as
//! the A/B rounds. `[defaults]` does not apply: a study is the command's
//! run, whose fetches go to the reflector by address with their own
//! `max_time`.

use std::time::Duration;

use serde::{Serialize, Serializer};
use toml::Spanned;

use super::bounds::{check_fetch_time, check_interval};
use super::error::{ConfigError, Source};
use super::file::{RawReflector, RawTrigger};
use super::options::{duration_value, size_value};
use super::parse::{parse_duration, parse_size, parse_url};
use crate::types::{FetchOptions, Pin};

/// `slowlane trigger`'s defaults: `--size`, `--max-time`, `--max-rounds`,
/// `--gap` and the control names.
pub const DEFAULT_SIZE: &str = "512KiB";
pub const DEFAULT_MAX_TIME: &str = "3s";
pub const DEFAULT_MAX_ROUNDS: u32 = 8;
pub const DEFAULT_GAP: &str = "1s";
pub const DEFAULT_CONTROLS: [&str; 2] = ["example.com", "example.org"];
/// `max_rounds` bounds (`--max-rounds`): at least the A/B rows' `min_n`.
pub const MAX_ROUNDS_RANGE: std::ops::RangeInclusive<i64> = 5..=100;

/// A validated study: what `slowlane trigger NAME --reflector … --pin …`
/// would run (also what goes into `campaign.json`, the token excepted).
#[derive(Debug, Clone, Serialize)]
pub struct TriggerStudy {
    /// The study's id (the `trigger` column); default the name.
    pub id: String,
    /// The name suspected to trigger the throttle (lower case, no dot).
    pub name: String,
    /// The reflector's `host:port`.
    pub reflector: String,
    pub pin: Pin,
    pub controls: Vec<String>,
    pub size: u64,
    #[serde(serialize_with = "human")]
    pub max_time: Duration,
    pub max_rounds: u32,
    #[serde(serialize_with = "human")]
    pub gap: Duration,
    /// The `Authorization: Bearer` header of `token`; never recorded.
    #[serde(skip)]
    pub options: FetchOptions,
}

fn human<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&humantime::format_duration(*d).to_string())
}

/// Validate every `[[trigger]]` table (after the `[[reflector]]` tables).
pub(super) fn studies(
    tables: &[Spanned<RawTrigger>],
    reflectors: &[Spanned<RawReflector>],
    src: &Source,
) -> Result<Vec<TriggerStudy>, ConfigError> {
    let mut out: Vec<TriggerStudy> = Vec::new();
    for t in tables {
        let s = one(t, reflectors, src)?;
        if out.iter().any(|o| o.id == s.id) {
            return Err(src.err(
                Some(src.line_of(t.span().start)),
                Some("id"),
                format!(
                    "two [[trigger]] tables have the id {:?}: set a distinct `id`",
                    s.id
                ),
            ));
        }
        out.push(s);
    }
    Ok(out)
}

/// A DNS name as `slowlane trigger` takes it: trimmed, lower case, no dot.
fn dns_name(v: &Spanned<String>, src: &Source, key: &str) -> Result<String, ConfigError> {
    let n = v
        .get_ref()
        .trim()
        .trim_end_matches('.')
        .to_ascii_lowercase();
    if n.is_empty() || crate::probe::tls::server_name(&n).is_err() {
        return Err(src.err_at(
            v.span(),
            key,
            format!("bad name {:?} in `{key}`: not a DNS name", v.get_ref()),
        ));
    }
    Ok(n)
}

fn one(
    t: &Spanned<RawTrigger>,
    reflectors: &[Spanned<RawReflector>],
    src: &Source,
) -> Result<TriggerStudy, ConfigError> {
    let line = src.line_of(t.span().start);
    let place = format!("[[trigger]] (line {line})");
    let r = t.get_ref();
    let Some(name) = &r.name else {
        return Err(src.err(
            Some(line),
            Some("name"),
            "missing required key `name` in [[trigger]] (the name suspected to trigger \
             the throttle, e.g. \"t.co\")"
                .into(),
        ));
    };
    let name = dns_name(name, src, "name")?;
    // The reflector, its pin and token: this table's, or those of the one
    // `[[reflector]]` table.
    let lent = match (&r.reflector, reflectors) {
        (Some(_), _) => None,
        (None, [one]) => Some(one.get_ref()),
        (None, _) => {
            return Err(src.err(
                Some(line),
                Some("reflector"),
                format!(
                    "missing required key `reflector` in [[trigger]] (https://HOST:PORT of \
                     `slowlane serve`; taken from the [[reflector]] table only when there is \
                     exactly one, here {})",
                    reflectors.len()
                ),
            ))
        }
    };
    let (url, pin, token) = match lent {
        Some(l) => (l.url.as_ref(), l.pin.as_ref(), l.token.as_ref()),
        None => (r.reflector.as_ref(), r.pin.as_ref(), r.token.as_ref()),
    };
    let url = url.expect("a [[reflector]] has a url (checked before)");
    let uri = parse_url(url.get_ref()).map_err(|e| src.err_at(url.span(), "reflector", e))?;
    let bare = uri.path() == "/" && uri.query().is_none();
    let Some(authority) = uri
        .authority()
        .filter(|_| bare && uri.scheme_str() == Some("https"))
    else {
        return Err(src.err_at(
            url.span(),
            "reflector",
            "a [[trigger]] `reflector` is https://HOST[:PORT] with no path".into(),
        ));
    };
    let Some(pin) = pin else {
        return Err(src.err(
            Some(line),
            Some("pin"),
            "missing required key `pin` in [[trigger]]: the sha256:… line `slowlane serve` printed"
                .into(),
        ));
    };
    let pin: Pin = pin
        .get_ref()
        .parse()
        .map_err(|e: String| src.err_at(pin.span(), "pin", e))?;
    let mut options = FetchOptions::default();
    if let Some(t) = token {
        // The message never quotes the token.
        options
            .headers
            .set_bearer(t.get_ref())
            .map_err(|e| src.err_at(t.span(), "token", format!("`token` in {place}: {e}")))?;
    }
    let controls = match &r.controls {
        None => DEFAULT_CONTROLS.iter().map(|c| c.to_string()).collect(),
        Some(list) if list.get_ref().is_empty() => {
            return Err(src.err_at(
                list.span(),
                "controls",
                "`controls` is empty: the study compares the name with control names".into(),
            ))
        }
        Some(list) => list
            .get_ref()
            .iter()
            .map(|c| dns_name(c, src, "controls"))
            .collect::<Result<Vec<_>, _>>()?,
    };
    let size = match &r.size {
        None => parse_size(DEFAULT_SIZE).expect("valid default"),
        Some(s) => match size_value(s, src, "size", &place)? {
            0 => {
                return Err(src.err_at(
                    s.span(),
                    "size",
                    format!("`size` in {place} must be more than 0"),
                ))
            }
            n => n,
        },
    };
    let dur = |v: &Option<Spanned<String>>,
               key: &str,
               default: &str,
               check: fn(Duration) -> Result<Duration, String>| match v {
        None => Ok(parse_duration(default).expect("valid default")),
        Some(d) => duration_value(d, src, key, &place, check),
    };
    let max_time = dur(&r.max_time, "max_time", DEFAULT_MAX_TIME, check_fetch_time)?;
    let gap = dur(&r.gap, "gap", DEFAULT_GAP, check_interval)?;
    let max_rounds = match &r.max_rounds {
        None => DEFAULT_MAX_ROUNDS,
        Some(n) if MAX_ROUNDS_RANGE.contains(n.get_ref()) => *n.get_ref() as u32,
        Some(n) => {
            return Err(src.err_at(
                n.span(),
                "max_rounds",
                format!(
                    "`max_rounds` in {place} must be between {} and {}, not {}",
                    MAX_ROUNDS_RANGE.start(),
                    MAX_ROUNDS_RANGE.end(),
                    n.get_ref()
                ),
            ))
        }
    };
    let id = match &r.id {
        Some(i) if i.get_ref().trim().is_empty() => {
            return Err(src.err_at(i.span(), "id", "`id` is empty".into()))
        }
        Some(i) => i.get_ref().trim().to_string(),
        None => name.clone(),
    };
    Ok(TriggerStudy {
        id,
        name,
        reflector: authority.as_str().to_string(),
        pin,
        controls,
        size,
        max_time,
        max_rounds,
        gap,
        options,
    })
}
