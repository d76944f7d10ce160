//! QUIC and HTTP/3 faults as failure names.
//!
//! OONI's names where one fits (`generic_timeout_error` for a handshake no
//! one answers, `connection_refused` for an ICMP port unreachable, the
//! `ssl_*` names for certificate faults); names of our own where QUIC has
//! an event TCP has not: the peer's CONNECTION_CLOSE
//! (`quic_connection_closed`), a reset request stream
//! (`quic_stream_reset`), an HTTP/3 GOAWAY (`quic_goaway`). The connection's
//! own close reason is the truth (h3 wraps it in several layers), so it is
//! read first.

use std::io;

use quinn::ConnectionError;

use crate::probe::failure::{classify_io_kind, Failure};
use crate::types::Phase;

/// Classify a failed QUIC fetch: an ICMP error seen on the socket first,
/// then why the connection closed (if it did), then the h3 stream error.
pub fn classify(
    icmp: Option<io::ErrorKind>,
    closed: Option<&ConnectionError>,
    stream: Option<&h3::error::StreamError>,
    phase: Phase,
) -> Failure {
    if let Some(kind) = icmp.and_then(|k| classify_io_kind(&k.into())) {
        return Failure::new(kind, phase);
    }
    if let Some(c) = closed {
        return Failure::new(connection_error(c), phase);
    }
    use h3::error::StreamError as S;
    let kind = match stream {
        Some(S::RemoteTerminate { .. }) => "quic_stream_reset".to_string(),
        // Unit variants h3 marks non-exhaustive: known by their names.
        Some(e) if format!("{e:?}") == "RemoteClosing" => "quic_goaway".to_string(),
        Some(e) if format!("{e:?}").contains("Timeout") => "generic_timeout_error".to_string(),
        Some(e) => format!("unknown_failure: {e}"),
        None => "unknown_failure: QUIC connection ended".to_string(),
    };
    Failure::new(kind, phase)
}

/// A quinn connection error as a failure name.
pub fn connection_error(e: &ConnectionError) -> String {
    match e {
        ConnectionError::TimedOut => "generic_timeout_error".into(),
        // A stateless reset: the peer lost the connection's state (QUIC's RST).
        ConnectionError::Reset => "connection_reset".into(),
        ConnectionError::ConnectionClosed(_) | ConnectionError::ApplicationClosed(_) => {
            "quic_connection_closed".into()
        }
        ConnectionError::VersionMismatch => "quic_version_mismatch".into(),
        ConnectionError::TransportError(t) => {
            // rustls's certificate verdicts arrive as a crypto error code
            // (0x100 + TLS alert) with rustls's message as the reason.
            let code = u64::from(t.code);
            let reason = t.reason.as_str();
            if reason.contains("UnknownIssuer") || reason.contains("BadSignature") {
                "ssl_unknown_authority".into()
            } else if reason.contains("NotValidForName") || reason.contains("not valid for name") {
                "ssl_invalid_hostname".into()
            } else if reason.contains("invalid peer certificate") {
                "ssl_invalid_certificate".into()
            } else if (0x100..0x200).contains(&code) {
                "ssl_failed_handshake".into()
            } else {
                format!("unknown_failure: {t}")
            }
        }
        other => format!("unknown_failure: {other}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn icmp_wins_then_close_reason_then_stream() {
        let f = classify(
            Some(io::ErrorKind::ConnectionRefused),
            Some(&ConnectionError::TimedOut),
            None,
            Phase::Quic,
        );
        assert_eq!(f, Failure::new("connection_refused", Phase::Quic));
        let f = classify(None, Some(&ConnectionError::TimedOut), None, Phase::Quic);
        assert_eq!(f.kind, "generic_timeout_error");
        let f = classify(None, Some(&ConnectionError::Reset), None, Phase::Body);
        assert_eq!(f.kind, "connection_reset");
        let f = classify(None, None, None, Phase::Body);
        assert!(f.kind.starts_with("unknown_failure"));
    }
}
