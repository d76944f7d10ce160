//! Validation: turn a [`RawCampaign`] into a [`Campaign`].

use std::path::{Path, PathBuf};

use toml::Spanned;

use super::bounds::{check_concurrency, check_duration, check_interval, check_rounds};
use super::error::{ConfigError, Source};
use super::file::{RawCampaign, RawList, RawUrl};
use super::list::parse_list;
use super::names::parse_name;
use super::options::{duration_value, size_value, PartialOptions};
use super::parse::parse_url;
use super::Campaign;
use crate::plan::{Schedule, Until, DEFAULT_DECIDED_ROUNDS};
use crate::types::{hostname, FetchOptions, FetchSpec, Group, Method};

/// Reads a `[[list]]` file (the disk, or memory in tests and fuzzing).
pub type ReadList<'a> = &'a dyn Fn(&Path) -> std::io::Result<Vec<u8>>;

/// Validate everything; `dir` is the campaign file's directory.
pub(crate) fn build(
    raw: RawCampaign,
    src: &Source,
    dir: &Path,
    read_list: ReadList,
) -> Result<Campaign, ConfigError> {
    let top = "the campaign";
    let name = match &raw.name {
        None => {
            // Top-level keys go before the first table: point at the top.
            return Err(src.err(
                Some(1),
                Some("name"),
                "missing required key `name` at top level (e.g. name = \"twitter-media\")".into(),
            ));
        }
        Some(n) => {
            let v = n.get_ref().trim();
            if v.is_empty() || v == "." || v == ".." || v.contains(['/', '\\']) {
                return Err(src.err_at(
                    n.span(),
                    "name",
                    format!("bad `name` {v:?}: must be non-empty, without '/' or '\\'"),
                ));
            }
            v.to_string()
        }
    };
    let vantage = match &raw.vantage {
        Some(v) if v.get_ref().trim().is_empty() => {
            return Err(src.err_at(v.span(), "vantage", "`vantage` is empty".into()))
        }
        Some(v) => v.get_ref().trim().to_string(),
        None => hostname(),
    };

    let schedule = schedule(&raw, src)?;
    let concurrency = match &raw.concurrency {
        None => 1,
        Some(c) => check_concurrency(*c.get_ref()).map_err(|e| {
            src.err_at(
                c.span(),
                "concurrency",
                format!("`concurrency` {e}, not {}", c.get_ref()),
            )
        })?,
    };
    let seed = match &raw.seed {
        None => None,
        Some(s) => Some(
            u64::try_from(*s.get_ref())
                .map_err(|_| src.err_at(s.span(), "seed", "`seed` must not be negative".into()))?,
        ),
    };
    let out = match &raw.out {
        Some(o) if o.get_ref().is_empty() => {
            return Err(src.err_at(o.span(), "out", "`out` is empty".into()))
        }
        Some(o) => super::paths::join_tidy(dir, Path::new(o.get_ref())),
        None => PathBuf::from("slowlane-out").join(&name),
    };

    let defaults = match &raw.defaults {
        Some(d) => PartialOptions::from_raw(d, src, dir, "[defaults]")?,
        None => PartialOptions::default(),
    };
    let base = defaults.over(&FetchOptions::default());

    let mut targets = Vec::new();
    for u in &raw.url {
        targets.push(url_spec(u, src, dir, &base)?);
    }
    for l in &raw.list {
        targets.extend(list_specs(l, src, dir, &base, read_list)?);
    }
    super::controls::check(&raw.url, &targets, src)?;
    targets.extend(super::reflector::expand(&raw.reflector, src, dir, &base)?);
    let triggers = super::trigger::studies(&raw.trigger, &raw.reflector, src)?;
    let targets = both_transports(targets);
    if targets.is_empty() {
        // `[[trigger]]` studies run after rounds; alone, they are the command.
        let studies = match triggers.first() {
            Some(t) => format!(" ([[trigger]] studies run after the rounds; for a study alone: `slowlane trigger {}`)", t.name),
            None => String::new(),
        };
        return Err(src.err(
            Some(src.last_line()),
            None,
            format!("no URLs in {top}: add [[url]] tables, [[list]] files or [[reflector]] tables{studies}"),
        ));
    }

    Ok(Campaign {
        name,
        vantage,
        schedule,
        concurrency,
        seed,
        out,
        source: src.path.to_path_buf(),
        targets,
        triggers,
    })
}

fn schedule(raw: &RawCampaign, src: &Source) -> Result<Schedule, ConfigError> {
    let top = "the campaign";
    if let (Some(_), Some(d)) = (&raw.rounds, &raw.duration) {
        return Err(src.err_at(
            d.span(),
            "duration",
            "set either `rounds` or `duration`, not both".into(),
        ));
    }
    let until = match &raw.until {
        None => Until::Budget,
        Some(u) => Until::parse(u.get_ref())
            .map_err(|e| src.err_at(u.span(), "until", format!("`until`: {e}")))?,
    };
    let max_total_bytes = match &raw.max_total_bytes {
        None => None,
        Some(b) => match size_value(b, src, "max_total_bytes", top)? {
            0 => {
                return Err(src.err_at(
                    b.span(),
                    "max_total_bytes",
                    "`max_total_bytes` must be at least 1 byte".into(),
                ))
            }
            n => Some(n),
        },
    };
    let rounds = match &raw.rounds {
        Some(r) => Some(check_rounds(*r.get_ref()).map_err(|e| {
            src.err_at(
                r.span(),
                "rounds",
                format!("`rounds` {e}, not {}", r.get_ref()),
            )
        })?),
        None if raw.duration.is_some() => None,
        // An adaptive campaign's rounds are a budget, not a plan.
        None if until == Until::Decided => Some(DEFAULT_DECIDED_ROUNDS),
        None => Some(1),
    };
    let opt_dur = |v: &Option<Spanned<String>>, key: &str| {
        v.as_ref()
            .map(|d| duration_value(d, src, key, top, check_interval))
            .transpose()
            .map(Option::unwrap_or_default)
    };
    let interval = opt_dur(&raw.interval, "interval")?;
    let jitter = opt_dur(&raw.jitter, "jitter")?;
    let duration = match &raw.duration {
        None => None,
        Some(d) => {
            let v = duration_value(d, src, "duration", top, Ok)?;
            Some(check_duration(v, interval).map_err(|e| {
                src.err_at(
                    d.span(),
                    "duration",
                    format!("`duration` = {:?} {e}", d.get_ref()),
                )
            })?)
        }
    };
    Ok(Schedule {
        rounds,
        duration,
        interval,
        jitter,
        until,
        max_total_bytes,
        rounds_implicit: raw.rounds.is_none() && raw.duration.is_none(),
    })
}

fn url_spec(
    u: &Spanned<RawUrl>,
    src: &Source,
    dir: &Path,
    base: &FetchOptions,
) -> Result<FetchSpec, ConfigError> {
    let table_line = src.line_of(u.span().start);
    let place = format!("[[url]] (line {table_line})");
    let r = u.get_ref();
    let Some(url) = &r.url else {
        return Err(src.err(
            Some(table_line),
            Some("url"),
            "missing required key `url` in [[url]]".into(),
        ));
    };
    let uri = parse_url(url.get_ref()).map_err(|e| src.err_at(url.span(), "url", e))?;
    url_tls_name(&uri).map_err(|e| src.err_at(url.span(), "url", e))?;
    let sni = match &r.sni {
        Some(s) if !s.get_ref().is_empty() => {
            tls_name(s.get_ref())
                .map_err(|e| src.err_at(s.span(), "sni", format!("bad `sni`: {e}")))?;
            Some(s.get_ref().clone())
        }
        other => other.as_ref().map(|s| s.get_ref().clone()),
    };
    let class = r
        .class
        .as_ref()
        .map(|c| parse_name(c, src, "class"))
        .transpose()?;
    let group = r
        .group
        .as_ref()
        .map(|g| parse_name(g, src, "group"))
        .transpose()?;
    let method = r
        .method
        .as_ref()
        .map(|m| parse_name(m, src, "method"))
        .transpose()?;
    let upload = match &r.upload {
        None => None,
        Some(s) => Some((size_value(s, src, "upload", &place)?, s)),
    };
    // `upload` alone implies POST; an explicit GET with an upload is a mistake.
    let method = match (method, upload) {
        (Some(Method::Get), Some((_, s))) => {
            return Err(src.err_at(
                s.span(),
                "upload",
                "`upload` needs method = \"POST\" (a GET has no body)".into(),
            ))
        }
        (Some(m), _) => m,
        (None, Some(_)) => Method::Post,
        (None, None) => Method::Get,
    };
    if let Some(h) = &r.host {
        let v = h.get_ref().trim();
        if v.is_empty() {
            return Err(src.err_at(h.span(), "host", "`host` is empty".into()));
        }
        // Sent as the Host header (HTTP/1.1) and as `:authority` (h2).
        if v.parse::<http::uri::Authority>().is_err() || v.contains(['@', ' ']) {
            return Err(src.err_at(
                h.span(),
                "host",
                format!("bad `host` {v:?}: not a host[:port]"),
            ));
        }
    }
    let layer = PartialOptions::from_raw(&r.options(), src, dir, &place)?;
    let options = layer.over(base);
    let quic = options.transport == crate::types::Transport::Quic || options.also_quic;
    if quic && uri.scheme_str() != Some("https") {
        return Err(src.err_at(
            url.span(),
            "url",
            format!("URL {uri}: HTTP/3 (`http = \"h3\"` or \"both\") needs an https:// URL"),
        ));
    }
    Ok(FetchSpec {
        url: uri,
        class,
        group: group.unwrap_or(Group::Target),
        sni,
        host: r.host.as_ref().map(|h| h.get_ref().trim().to_string()),
        method,
        upload: upload.map_or(0, |(n, _)| n),
        label: r.label.clone().unwrap_or_default(),
        // Checked against the campaign's control labels by `controls::check`.
        controls: r
            .control
            .as_ref()
            .map(|c| c.get_ref().iter().map(|l| l.get_ref().clone()).collect())
            .unwrap_or_default(),
        options,
        ab: String::new(),
        variant: String::new(),
        size: None,
    })
}

fn list_specs(
    l: &Spanned<RawList>,
    src: &Source,
    dir: &Path,
    base: &FetchOptions,
    read_list: ReadList,
) -> Result<Vec<FetchSpec>, ConfigError> {
    let table_line = src.line_of(l.span().start);
    let place = format!("[[list]] (line {table_line})");
    let r = l.get_ref();
    let path = match &r.path {
        Some(p) if !p.get_ref().is_empty() => p,
        _ => {
            return Err(src.err(
                Some(table_line),
                Some("path"),
                "missing required key `path` in [[list]]".into(),
            ))
        }
    };
    let class = r
        .class
        .as_ref()
        .map(|c| parse_name(c, src, "class"))
        .transpose()?;
    let group = r
        .group
        .as_ref()
        .map(|g| parse_name(g, src, "group"))
        .transpose()?;
    let options = PartialOptions::from_raw(&r.options(), src, dir, &place)?.over(base);
    let full = dir.join(path.get_ref());
    let bytes = read_list(&full).map_err(|source| {
        src.err_at(
            path.span(),
            "path",
            format!("cannot read list {}: {source}", full.display()),
        )
    })?;
    let entries = parse_list(&full, &bytes)?;
    for e in &entries {
        url_tls_name(&e.url)
            .map_err(|m| super::error::invalid(&full, Some(e.line), Some("url"), m))?;
    }
    Ok(entries
        .into_iter()
        .map(|e| FetchSpec {
            url: e.url,
            class,
            group: group.unwrap_or(Group::Target),
            sni: None,
            host: None,
            method: Method::Get,
            upload: 0,
            label: e.category,
            controls: Vec::new(),
            options: options.clone(),
            ab: String::new(),
            variant: String::new(),
            size: None,
        })
        .collect())
}

/// `http = "both"`: each such URL becomes two specs, TCP then QUIC (one
/// series per transport; the analyzer never mixes them).
fn both_transports(specs: Vec<FetchSpec>) -> Vec<FetchSpec> {
    let mut out = Vec::with_capacity(specs.len());
    for mut s in specs {
        if s.options.also_quic {
            s.options.also_quic = false;
            let mut q = s.clone();
            q.options.transport = crate::types::Transport::Quic;
            out.push(s);
            out.push(q);
        } else {
            out.push(s);
        }
    }
    out
}

/// A URL's host must be a DNS name or an IP address (for https it is also
/// the TLS name: certificate check and SNI); `http` accepts far more in an
/// authority. Refused here, with the line, rather than when the run starts.
fn url_tls_name(uri: &http::Uri) -> Result<(), String> {
    let host = uri.host().unwrap_or_default();
    crate::probe::tls::server_name(host)
        .map(drop)
        .map_err(|_| format!("URL {uri}: host {host:?} is not a valid host name or IP address"))
}

fn tls_name(name: &str) -> Result<(), String> {
    crate::probe::tls::server_name(name)
        .map(drop)
        .map_err(|_| format!("{name:?} is not a valid TLS server name"))
}
