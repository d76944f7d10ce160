//! `slowlane fetch`: one measured fetch, printed like `curl -w` and exited
//! with curl's numbers (see README).

use std::io::Write;
use std::path::Path;

use super::{output, usage, Outcome};
use crate::cli::{FetchArgs, FetchFormat};
use crate::config;
use crate::probe::{self, Prepared};
use crate::record::sink::write_csv;
use crate::types::{FetchOptions, FetchSpec, Group, Headers, IpFamily, Method};

pub(super) async fn fetch_cmd(a: FetchArgs) -> Outcome {
    let url = config::parse_url(&a.url).map_err(usage)?;
    let options = FetchOptions {
        max_time: a.max_time,
        max_bytes: a.max_bytes,
        connect_timeout: a.connect_timeout,
        tls_timeout: a.tls_timeout,
        ttfb_timeout: a.ttfb_timeout,
        window: a.window,
        alpn: if a.http1 {
            vec!["http/1.1".into()]
        } else {
            FetchOptions::default().alpn
        },
        cacert: a.net.cacert,
        insecure: a.net.insecure,
        resolve: a.net.resolve,
        connect_to: a.net.connect_to,
        pin: a.pin,
        split_hello: a.split_hello,
        wire: a.variant.unwrap_or_default(),
        hello: a.hello,
        headers: fetch_headers(&a.headers, a.token.as_deref()).map_err(usage)?,
        ip_family: match (a.ipv4, a.ipv6) {
            (true, _) => IpFamily::Ipv4,
            (_, true) => IpFamily::Ipv6,
            _ => IpFamily::Any,
        },
        transport: if a.http3 {
            crate::types::Transport::Quic
        } else {
            crate::types::Transport::Tcp
        },
        also_quic: false,
    };
    // A name variant (trailing dot, case, no SNI) is made from --sni, else
    // the URL host; --host still wins for the Host header.
    let (sni, host) = match a.variant {
        Some(w) => {
            let name = a
                .sni
                .clone()
                .unwrap_or_else(|| url.host().unwrap_or("").to_string());
            let (sni, host) = w.names(name.trim_end_matches('.'));
            (Some(sni), a.host.or(Some(host).filter(|h| h != &name)))
        }
        None => (a.sni, a.host),
    };
    let spec = FetchSpec {
        url,
        class: a.class.map(Into::into),
        group: Group::Target,
        sni,
        host,
        method: if a.upload.is_some() {
            Method::Post
        } else {
            Method::Get
        },
        upload: a.upload.unwrap_or(0),
        label: String::new(),
        controls: Vec::new(),
        options,
        ab: String::new(),
        variant: a.variant.map(|w| w.as_str()).unwrap_or_default(),
        size: None,
    };
    let prepared = Prepared::new(spec).map_err(|e| usage(format!("{e:#}")))?;
    let mut rec = probe::fetch(&prepared).await;
    rec.fetch_id = "1".into();
    rec.vantage = config::hostname();
    for w in &mut rec.timeline {
        w.fetch_id = "1".into();
    }
    // `--timeline=FILE` goes to its own file (one table per stream);
    // `--timeline` / `--timeline=-` stays on stdout with the fetch.
    let inline = a.timeline.as_deref() == Some(Path::new("-"));
    if let Some(file) = a.timeline.as_deref().filter(|_| !inline) {
        std::fs::File::create(file)
            .map_err(csv::Error::from)
            .and_then(|f| write_csv(f, &rec.timeline))
            .map_err(|e| output(format!("cannot write {}: {e}", file.display())))?;
    }
    let mut out = crate::stdout::out();
    let res = match a.format {
        FetchFormat::Text => out
            .write_all(crate::report::fetch::render(&rec, inline).as_bytes())
            .map_err(anyhow::Error::from),
        FetchFormat::Csv => write_csv(&mut out, std::slice::from_ref(&rec))
            .and_then(|_| {
                if inline {
                    writeln!(out)?;
                    write_csv(&mut out, &rec.timeline)?;
                }
                Ok(())
            })
            .map_err(anyhow::Error::from),
        FetchFormat::Json => {
            let mut v = serde_json::to_value(&rec).expect("record serialises");
            if inline {
                v["timeline"] = serde_json::to_value(&rec.timeline).expect("timeline serialises");
            }
            serde_json::to_writer_pretty(&mut out, &v)
                .map_err(anyhow::Error::from)
                .and_then(|_| writeln!(out).map_err(Into::into))
        }
    };
    res.and_then(|_| out.flush().map_err(Into::into))
        .map_err(|e| output(format!("cannot write output: {e}")))?;
    Ok(if a.fail_ok {
        0
    } else {
        crate::fetch_exit::exit_code(&rec, a.fail)
    })
}

/// `--header` and `--token` as one header list (a token replaces an
/// Authorization header).
fn fetch_headers(list: &[String], token: Option<&str>) -> Result<Headers, String> {
    let mut h = Headers::default();
    for arg in list {
        let (n, v) =
            crate::types::headers::parse_header_arg(arg).map_err(|e| format!("--header: {e}"))?;
        h.push(&n, &v)?;
    }
    if let Some(t) = token {
        h.set_bearer(t).map_err(|e| format!("--token: {e}"))?;
    }
    Ok(h)
}
