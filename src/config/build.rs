//! Validation: turn a [`RawCampaign`] into a [`Campaign`].

use std::path::{Path, PathBuf};
use std::str::FromStr;

use toml::Spanned;

use super::error::{ConfigError, Source};
use super::file::{RawCampaign, RawList, RawUrl};
use super::list::load_list;
use super::options::{duration_value, size_value, PartialOptions};
use super::parse::parse_url;
use super::Campaign;
use crate::plan::Schedule;
use crate::probe::spec::{FetchOptions, FetchSpec, Group, Method};
use crate::types::{hostname, UnknownName};

/// Validate everything; `dir` is the campaign file's directory.
pub(crate) fn build(raw: RawCampaign, src: &Source, dir: &Path) -> Result<Campaign, ConfigError> {
    let top = "the campaign";
    let name = match &raw.name {
        None => {
            return Err(src.err(
                None,
                Some("name"),
                "missing required key `name` (e.g. name = \"twitter-media\")".into(),
            ))
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
        Some(c) => match usize::try_from(*c.get_ref()) {
            Ok(n) if n > 0 => n,
            _ => {
                return Err(src.err_at(
                    c.span(),
                    "concurrency",
                    format!("`concurrency` must be at least 1, not {}", c.get_ref()),
                ))
            }
        },
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
        Some(o) => dir.join(o.get_ref()),
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
        targets.extend(list_specs(l, src, dir, &base)?);
    }
    super::controls::check(&raw.url, &targets, src)?;
    targets.extend(super::reflector::expand(&raw.reflector, src, dir, &base)?);
    if targets.is_empty() {
        return Err(src.err(
            None,
            None,
            format!("no URLs in {top}: add [[url]] tables, [[list]] files or [[reflector]] tables"),
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
    let rounds = match &raw.rounds {
        Some(r) => match u32::try_from(*r.get_ref()) {
            Ok(n) if n > 0 => Some(n),
            _ => {
                return Err(src.err_at(
                    r.span(),
                    "rounds",
                    format!(
                        "`rounds` must be between 1 and {}, not {}",
                        u32::MAX,
                        r.get_ref()
                    ),
                ))
            }
        },
        None if raw.duration.is_some() => None,
        None => Some(1),
    };
    let duration = raw
        .duration
        .as_ref()
        .map(|d| duration_value(d, src, "duration", top, true))
        .transpose()?;
    let opt_dur = |v: &Option<Spanned<String>>, key: &str| {
        v.as_ref()
            .map(|d| duration_value(d, src, key, top, false))
            .transpose()
            .map(Option::unwrap_or_default)
    };
    Ok(Schedule {
        rounds,
        duration,
        interval: opt_dur(&raw.interval, "interval")?,
        jitter: opt_dur(&raw.jitter, "jitter")?,
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
        if h.get_ref().trim().is_empty() {
            return Err(src.err_at(h.span(), "host", "`host` is empty".into()));
        }
    }
    let layer = PartialOptions::from_raw(&r.options(), src, dir, &place)?;
    Ok(FetchSpec {
        url: uri,
        class,
        group: group.unwrap_or(Group::Target),
        sni: r.sni.clone(),
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
        options: layer.over(base),
        ab: String::new(),
        variant: String::new(),
    })
}

fn list_specs(
    l: &Spanned<RawList>,
    src: &Source,
    dir: &Path,
    base: &FetchOptions,
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
    let entries = load_list(&full).map_err(|e| match e {
        ConfigError::Read { source, .. } => src.err_at(
            path.span(),
            "path",
            format!("cannot read list {}: {source}", full.display()),
        ),
        other => other,
    })?;
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
        })
        .collect())
}

/// A named value (`class`, `group`, `method`) through its one `FromStr`.
pub(super) fn parse_name<T>(v: &Spanned<String>, src: &Source, key: &str) -> Result<T, ConfigError>
where
    T: FromStr<Err = UnknownName>,
{
    v.get_ref()
        .parse()
        .map_err(|e: UnknownName| src.err_at(v.span(), key, e.to_string()))
}
