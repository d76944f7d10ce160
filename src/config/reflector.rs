//! `[[reflector]]`: a same-server SNI A/B test, expanded into fetches.
//!
//! Every fetch goes to the same reflector address and port and moves the
//! same bytes; only the name differs (SNI = Host = the name). Each trigger
//! name (`names`) and each control name (`controls`) is fetched plainly in
//! each direction; trigger names are also fetched once per `evasion`
//! variant. The fetches join the campaign's targets, so they are shuffled
//! within each round like every other URL. See `docs/reflector.md`.

use std::path::Path;

use rand::Rng;
use toml::Spanned;

use super::error::{ConfigError, Source};
use super::file::{RawReflector, RawSize};
use super::names::parse_name;
use super::options::{size_value, PartialOptions};
use super::parse::parse_url;
use crate::types::{Class, FetchOptions, FetchSpec, Group, Method, Pin, Transport, Wire};

/// The evasion variants, as written in `evasion = [...]` and in the
/// `variant` column (`plain` is every name's unmodified fetch; `split:N`
/// takes any N from 1 to 1024), in the order the A/B sentence names them.
pub const VARIANTS: &[&str] = crate::types::wire::WIRE_NAMES.split_at(1).1;

/// Default sizes per fetch when the table does not set them.
const DEFAULT_DOWNLOAD: u64 = 2 << 20;
const DEFAULT_UPLOAD: u64 = 1 << 20;

/// Expand every `[[reflector]]` table into fetch specs.
pub(super) fn expand(
    tables: &[Spanned<RawReflector>],
    src: &Source,
    dir: &Path,
    base: &FetchOptions,
) -> Result<Vec<FetchSpec>, ConfigError> {
    let mut out = Vec::new();
    let mut ids: Vec<String> = Vec::new();
    for t in tables {
        let (id, specs) = one(t, src, dir, base)?;
        if ids.contains(&id) {
            let line = src.line_of(t.span().start);
            return Err(src.err(
                Some(line),
                Some("id"),
                format!("two [[reflector]] tables have the id {id:?}: set a distinct `id`"),
            ));
        }
        ids.push(id);
        out.extend(specs);
    }
    Ok(out)
}

/// A list key's non-empty, trimmed strings.
fn names(
    v: &Option<Spanned<Vec<Spanned<String>>>>,
    src: &Source,
    key: &str,
    line: usize,
    required: bool,
) -> Result<Vec<String>, ConfigError> {
    let Some(list) = v else {
        if required {
            return Err(src.err(
                Some(line),
                Some(key),
                format!("missing required key `{key}` in [[reflector]]"),
            ));
        }
        return Ok(Vec::new());
    };
    if required && list.get_ref().is_empty() {
        return Err(src.err_at(list.span(), key, format!("`{key}` is empty")));
    }
    list.get_ref()
        .iter()
        .map(|n| {
            let t = n.get_ref().trim();
            let ok = !t.is_empty()
                && !t.ends_with('.')
                && (t == "random" || crate::probe::tls::server_name(t).is_ok());
            if ok {
                Ok(t.to_string())
            } else {
                Err(src.err_at(
                    n.span(),
                    key,
                    format!("bad name {t:?} in `{key}`: a DNS name without a trailing dot"),
                ))
            }
        })
        .collect()
}

/// A size key: bytes, `"2MiB"`, or `""` (skip this direction).
fn size(
    v: &Option<Spanned<RawSize>>,
    src: &Source,
    key: &str,
    default: u64,
) -> Result<Option<u64>, ConfigError> {
    match v {
        None => Ok(Some(default)),
        Some(s) if matches!(s.get_ref(), RawSize::Text(t) if t.trim().is_empty()) => Ok(None),
        Some(s) => match size_value(s, src, key, "[[reflector]]")? {
            0 => Err(src.err_at(
                s.span(),
                key,
                format!("`{key}` must be more than 0 (\"\" skips the direction)"),
            )),
            n => Ok(Some(n)),
        },
    }
}

/// A fresh innocuous name: random letters under `.net` (not `.com`, whose
/// `t.co` prefix the 2021 rule `*t.co*` matches).
fn random_name() -> String {
    let mut rng = rand::thread_rng();
    let label: String = (0..12)
        .map(|_| char::from(b'a' + rng.gen_range(0..26u8)))
        .collect();
    format!("{label}.net")
}

fn one(
    t: &Spanned<RawReflector>,
    src: &Source,
    dir: &Path,
    base: &FetchOptions,
) -> Result<(String, Vec<FetchSpec>), ConfigError> {
    let line = src.line_of(t.span().start);
    let place = format!("[[reflector]] (line {line})");
    let r = t.get_ref();
    let Some(url) = &r.url else {
        return Err(src.err(
            Some(line),
            Some("url"),
            "missing required key `url` in [[reflector]] (e.g. \"https://203.0.113.7:443\")".into(),
        ));
    };
    let uri = parse_url(url.get_ref()).map_err(|e| src.err_at(url.span(), "url", e))?;
    let bare = uri.path() == "/" && uri.query().is_none();
    if uri.scheme_str() != Some("https") || !bare {
        return Err(src.err_at(
            url.span(),
            "url",
            "a reflector `url` is https://HOST[:PORT] with no path".into(),
        ));
    }
    let Some(pin) = &r.pin else {
        return Err(src.err(
            Some(line),
            Some("pin"),
            "missing required key `pin` in [[reflector]]: the sha256:… line `slowlane serve` printed"
                .into(),
        ));
    };
    let pin: Pin = pin
        .get_ref()
        .parse()
        .map_err(|e: String| src.err_at(pin.span(), "pin", e))?;
    let authority = uri.authority().map_or("", |a| a.as_str()).to_string();
    let id = match &r.id {
        Some(i) if i.get_ref().trim().is_empty() => {
            return Err(src.err_at(i.span(), "id", "`id` is empty".into()))
        }
        Some(i) => i.get_ref().trim().to_string(),
        None => authority.clone(),
    };
    let triggers = names(&r.names, src, "names", line, true)?;
    let controls = names(&r.controls, src, "controls", line, true)?;
    let mut evasions = Vec::new();
    if let Some(list) = &r.evasion {
        for e in list.get_ref() {
            let v = e.get_ref().trim();
            let w: Wire = match v.parse() {
                Ok(w) if w != Wire::Plain => w,
                Err(m) if m.starts_with("bad variant") => {
                    return Err(src.err_at(e.span(), "evasion", m));
                }
                _ => {
                    return Err(src.err_at(
                        e.span(),
                        "evasion",
                        format!("unknown evasion {v:?} (valid: {})", VARIANTS.join(", ")),
                    ))
                }
            };
            if !evasions.contains(&w) {
                evasions.push(w);
            }
        }
    }
    let class: Class = match &r.class {
        Some(c) => parse_name(c, src, "class")?,
        None => Class::Image,
    };
    let download = size(&r.download, src, "download", DEFAULT_DOWNLOAD)?;
    let upload = size(&r.upload, src, "upload", DEFAULT_UPLOAD)?;
    if download.is_none() && upload.is_none() {
        return Err(src.err(
            Some(line),
            Some("download"),
            "both `download` and `upload` are \"\": nothing to fetch".into(),
        ));
    }
    let mut options = PartialOptions::from_raw(&r.options(), src, dir, &place)?.over(base);
    options.pin = Some(pin);
    if let Some(t) = &r.token {
        // The message never quotes the token.
        options
            .headers
            .set_bearer(t.get_ref())
            .map_err(|e| src.err_at(t.span(), "token", format!("`token` in {place}: {e}")))?;
    }
    // `transport = [...]` says it; else what `http` said (tcp, h3 or both).
    let transports: Vec<Transport> = match &r.transport {
        Some(list) => {
            let mut v = Vec::new();
            for t in list.get_ref() {
                let t: Transport = parse_name(t, src, "transport")?;
                if !v.contains(&t) {
                    v.push(t);
                }
            }
            if v.is_empty() {
                return Err(src.err_at(
                    list.span(),
                    "transport",
                    "`transport` is empty (valid: tcp, quic)".into(),
                ));
            }
            v
        }
        None if options.also_quic => vec![Transport::Tcp, Transport::Quic],
        None => vec![options.transport],
    };
    options.also_quic = false;
    // The reflector stops reading an upload a second before the probe's
    // cap, so its measurement comes back even when the upload is throttled.
    let mt = options.max_time;
    let read_for = mt
        .saturating_sub(std::time::Duration::from_secs(1))
        .max(mt / 2);
    let spec = |name: &str, group: Group, wire: Wire, up: Option<u64>, t: Transport| {
        let (sni, host) = wire.names(name);
        let variant = wire.as_str();
        let tag = if wire.is_plain() {
            String::new()
        } else {
            format!("&v={variant}")
        };
        let (path, method, direction) = match up {
            Some(_) => (
                format!("/upload?for={}ms{tag}", read_for.as_millis()),
                Method::Post,
                "up",
            ),
            None => (
                format!("/bytes/{}?type={class}{tag}", download.unwrap_or(0)),
                Method::Get,
                "down",
            ),
        };
        let mut options = options.clone();
        options.split_hello = false;
        options.wire = wire;
        options.transport = t;
        FetchSpec {
            url: format!("https://{authority}{path}")
                .parse()
                .expect("built from a valid URL"),
            class: Some(class),
            group,
            sni: Some(sni),
            host: Some(host),
            method,
            upload: up.unwrap_or(0),
            label: format!("{id}: {name} {direction} {variant}"),
            controls: Vec::new(),
            options,
            ab: id.clone(),
            variant: variant.to_string(),
            // The reflector serves exactly this many bytes: `plan` need not guess.
            size: up.is_none().then_some(download.unwrap_or(0)),
        }
    };
    // One fresh name per run for each `random`, the same in both directions.
    let controls: Vec<String> = controls
        .into_iter()
        .map(|c| if c == "random" { random_name() } else { c })
        .collect();
    let mut specs = Vec::new();
    let dirs: Vec<Option<u64>> = [download.map(|_| None), upload.map(Some)]
        .into_iter()
        .flatten()
        .collect();
    for &t in &transports {
        for d in &dirs {
            for name in &triggers {
                specs.push(spec(name, Group::Target, Wire::Plain, *d, t));
                // The evasions shape a TCP ClientHello; over QUIC the
                // names alone are compared.
                for e in evasions.iter().filter(|_| t == Transport::Tcp) {
                    specs.push(spec(name, Group::Target, *e, *d, t));
                }
            }
            for c in &controls {
                specs.push(spec(c, Group::Control, Wire::Plain, *d, t));
                // Every variant under the control names too: a variant
                // slow for its own reasons (a lost first part) is then
                // slow under the controls as well (`evasion_result`).
                for e in evasions.iter().filter(|_| t == Transport::Tcp) {
                    specs.push(spec(c, Group::Control, *e, *d, t));
                }
            }
        }
    }
    Ok((id, specs))
}
