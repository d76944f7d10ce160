//! Turning errors into OONI failure strings.
//!
//! Faults on the network are data: every error a fetch can meet is mapped to
//! the failure names OONI uses (`connection_reset`, `ssl_unknown_authority`, …)
//! so results line up with what researchers already have. Anything we cannot
//! name becomes `unknown_failure: <text>`, never a crash.

use std::error::Error as StdError;
use std::io;

use crate::types::Phase;

/// A fetch failure: the OONI failure string and the phase it happened in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    pub kind: String,
    pub phase: Phase,
}

impl Failure {
    pub fn new(kind: impl Into<String>, phase: Phase) -> Failure {
        Failure {
            kind: kind.into(),
            phase,
        }
    }

    pub fn timeout(phase: Phase) -> Failure {
        Failure::new("generic_timeout_error", phase)
    }

    /// Classify any error by walking its source chain for something we know.
    pub fn classify(err: &(dyn StdError + 'static), phase: Phase) -> Failure {
        Failure::new(classify_chain(err), phase)
    }
}

fn classify_chain(err: &(dyn StdError + 'static)) -> String {
    let mut cur: Option<&(dyn StdError + 'static)> = Some(err);
    while let Some(e) = cur {
        if let Some(tls) = e.downcast_ref::<rustls::Error>() {
            return classify_tls(tls);
        }
        if let Some(ioe) = e.downcast_ref::<io::Error>() {
            // rustls wraps its errors in io::Error; look inside first.
            if let Some(inner) = ioe.get_ref() {
                if let Some(tls) = inner.downcast_ref::<rustls::Error>() {
                    return classify_tls(tls);
                }
            }
            if let Some(kind) = classify_io_kind(ioe) {
                return kind.to_string();
            }
        }
        if let Some(h2) = e.downcast_ref::<h2::Error>() {
            if let Some(kind) = classify_h2(h2) {
                return kind.to_string();
            }
        }
        if let Some(h) = e.downcast_ref::<hyper::Error>() {
            if h.is_incomplete_message() {
                return "eof_error".into();
            }
            if h.is_timeout() {
                return "generic_timeout_error".into();
            }
        }
        cur = e.source();
    }
    // h2 wraps socket errors without exposing the io::Error as a source, so
    // the last resort is the text of the whole chain.
    let text = full_chain(err);
    let lower = text.to_ascii_lowercase();
    if lower.contains("connection reset") || lower.contains("broken pipe") {
        return "connection_reset".into();
    }
    if lower.contains("unexpected eof") || lower.contains("unexpected end of file") {
        return "eof_error".into();
    }
    format!("unknown_failure: {text}")
}

/// An HTTP/2 error: the socket's (see [`classify_h2_io`]), or an abort the
/// peer (or a middlebox speaking for it) sent — RST_STREAM on the fetch's
/// stream is `http2_stream_reset`, GOAWAY that leaves the stream unprocessed
/// is `http2_goaway`, whatever the error code. Errors h2 detected itself (a
/// peer breaking the protocol) stay unnamed, with their text.
fn classify_h2(e: &h2::Error) -> Option<&'static str> {
    if let Some(io) = e.get_io() {
        return classify_h2_io(io);
    }
    if !e.is_remote() {
        return None;
    }
    if e.is_reset() {
        Some("http2_stream_reset")
    } else if e.is_go_away() {
        Some("http2_goaway")
    } else {
        None
    }
}

/// h2 keeps the socket error inside its own error (not as a `source`), and
/// marks a connection that ended with a clean end of stream — TLS
/// close_notify then FIN — with a `BrokenPipe` of its own making ("stream
/// closed because of a broken pipe"), not the `UnexpectedEof` HTTP/1.1
/// reports. A body cut short that way is `eof_error`, as with HTTP/1.1; a
/// bare FIN (no close_notify) reaches us as rustls's `UnexpectedEof`. A real
/// EPIPE from the OS carries no inner message and stays `connection_reset`.
fn classify_h2_io(e: &io::Error) -> Option<&'static str> {
    let h2_eof = e.kind() == io::ErrorKind::BrokenPipe
        && e.get_ref()
            .is_some_and(|m| m.to_string().ends_with("closed because of a broken pipe"));
    if h2_eof {
        return Some("eof_error");
    }
    classify_io_kind(e)
}

fn full_chain(err: &(dyn StdError + 'static)) -> String {
    let mut s = err.to_string();
    let mut cur = err.source();
    while let Some(e) = cur {
        let t = e.to_string();
        if !s.contains(&t) {
            s.push_str(": ");
            s.push_str(&t);
        }
        cur = e.source();
    }
    s
}

/// Map an `io::Error` by kind; `None` when the kind carries no meaning here.
pub fn classify_io_kind(e: &io::Error) -> Option<&'static str> {
    use io::ErrorKind::*;
    Some(match e.kind() {
        ConnectionRefused => "connection_refused",
        ConnectionReset | ConnectionAborted | BrokenPipe => "connection_reset",
        UnexpectedEof => "eof_error",
        TimedOut | WouldBlock => "generic_timeout_error",
        HostUnreachable => "host_unreachable",
        NetworkUnreachable => "network_unreachable",
        _ => return None,
    })
}

/// Classify an io::Error, falling back to `unknown_failure`.
pub fn classify_io(e: &io::Error, phase: Phase) -> Failure {
    Failure::classify(e, phase)
}

fn classify_tls(e: &rustls::Error) -> String {
    use rustls::{CertificateError, Error};
    match e {
        Error::InvalidCertificate(c) => match c {
            CertificateError::UnknownIssuer | CertificateError::BadSignature => {
                "ssl_unknown_authority".into()
            }
            CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. } => {
                "ssl_invalid_hostname".into()
            }
            _ => "ssl_invalid_certificate".into(),
        },
        _ => "ssl_failed_handshake".into(),
    }
}

/// Map a `getaddrinfo` failure (as surfaced by `tokio::net::lookup_host`) to
/// OONI's DNS failure names. The resolver only gives us text, so we match the
/// glibc messages for EAI_NONAME, EAI_NODATA, EAI_AGAIN and EAI_FAIL.
pub fn classify_dns(e: &io::Error) -> Failure {
    let text = e.to_string();
    let kind = if text.contains("not known") || text.contains("No such host") {
        "dns_nxdomain_error".to_string()
    } else if text.contains("No address associated") || text.contains("no addresses") {
        "dns_no_answer".to_string()
    } else if text.contains("Temporary failure") {
        "dns_servfail_error".to_string()
    } else if text.contains("Non-recoverable") {
        "dns_refused_error".to_string()
    } else {
        return Failure::classify(e, Phase::Dns);
    };
    Failure::new(kind, Phase::Dns)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn io_kinds_map_to_ooni_names() {
        let e = io::Error::from(io::ErrorKind::ConnectionRefused);
        assert_eq!(classify_io(&e, Phase::Tcp).kind, "connection_refused");
        let e = io::Error::from(io::ErrorKind::ConnectionReset);
        assert_eq!(classify_io(&e, Phase::Body).kind, "connection_reset");
        let e = io::Error::other("weird");
        assert!(classify_io(&e, Phase::Body)
            .kind
            .starts_with("unknown_failure: weird"));
    }

    #[test]
    fn tls_errors_inside_io_errors_are_found() {
        let tls = rustls::Error::InvalidCertificate(rustls::CertificateError::UnknownIssuer);
        let e = io::Error::new(io::ErrorKind::InvalidData, tls);
        assert_eq!(classify_io(&e, Phase::Tls).kind, "ssl_unknown_authority");
    }

    #[test]
    fn wrapped_reset_text_is_found() {
        #[derive(Debug)]
        struct Wrapper;
        impl std::fmt::Display for Wrapper {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("error reading a body from connection: connection reset")
            }
        }
        impl StdError for Wrapper {}
        assert_eq!(
            Failure::classify(&Wrapper, Phase::Body).kind,
            "connection_reset"
        );
    }

    #[test]
    fn dns_messages_map() {
        let e = io::Error::other("failed to lookup address information: Name or service not known");
        assert_eq!(classify_dns(&e).kind, "dns_nxdomain_error");
    }
}
