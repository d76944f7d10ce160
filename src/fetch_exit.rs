//! Exit codes of `slowlane fetch`, so scripts can branch on a failure the way
//! they do with curl. The numbers are curl's for the same family; the printed
//! row is the same whatever the code (the failure is data either way).
//!
//! | code | family                                                        | curl |
//! |------|---------------------------------------------------------------|------|
//! | 0    | the fetch succeeded, or was only capped (`max_time`/`max_bytes`) | 0 |
//! | 6    | DNS: the name did not resolve                                  | 6    |
//! | 7    | TCP connect: refused, unreachable, reset                      | 7    |
//! | 22   | HTTP status ≥ 400, only with `--fail`                          | 22   |
//! | 28   | a timeout in any phase (`connect`/`tls`/`ttfb_timeout`)        | 28   |
//! | 35   | TLS handshake failed (reset, alert, no common protocol)       | 35   |
//! | 56   | the connection failed after the handshake (reset, EOF)        | 56   |
//! | 60   | TLS: the server certificate was not accepted                  | 60   |
//!
//! `--fail-ok` maps all of them to 0 (the behaviour before codes existed).

use crate::types::{FetchRecord, Phase};

pub const DNS: i32 = 6;
pub const CONNECT: i32 = 7;
pub const HTTP: i32 = 22;
pub const TIMEOUT: i32 = 28;
pub const TLS: i32 = 35;
pub const RECV: i32 = 56;
pub const TLS_CERT: i32 = 60;
/// curl's CURLE_QUIC_CONNECT_ERROR: the QUIC handshake failed (not a
/// timeout, not unreachable, not a certificate).
pub const QUIC_CONNECT: i32 = 96;

/// The exit code for one fetch's record. `fail_http`: HTTP status ≥ 400 is a
/// failure (curl's `--fail`); otherwise any response is a success.
pub fn exit_code(rec: &FetchRecord, fail_http: bool) -> i32 {
    let Some(kind) = rec.error.as_deref() else {
        return match rec.status {
            Some(s) if fail_http && s >= 400 => HTTP,
            _ => 0,
        };
    };
    if kind == "generic_timeout_error" {
        return TIMEOUT;
    }
    if kind.starts_with("dns_") || rec.error_phase == Some(Phase::Dns) {
        return DNS;
    }
    if matches!(
        kind,
        "ssl_unknown_authority" | "ssl_invalid_hostname" | "ssl_invalid_certificate"
    ) {
        return TLS_CERT;
    }
    match rec.error_phase {
        Some(Phase::Tcp) => CONNECT,
        Some(Phase::Tls) => TLS,
        Some(Phase::Quic)
            if matches!(
                kind,
                "connection_refused" | "host_unreachable" | "network_unreachable"
            ) =>
        {
            CONNECT
        }
        Some(Phase::Quic) => QUIC_CONNECT,
        _ => RECV,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn failed(kind: &str, phase: Phase) -> FetchRecord {
        FetchRecord {
            error: Some(kind.into()),
            error_phase: Some(phase),
            ..FetchRecord::default()
        }
    }

    #[test]
    fn families_map_to_curl_codes() {
        assert_eq!(
            exit_code(&failed("dns_nxdomain_error", Phase::Dns), false),
            6
        );
        assert_eq!(
            exit_code(&failed("connection_refused", Phase::Tcp), false),
            7
        );
        assert_eq!(exit_code(&failed("host_unreachable", Phase::Tcp), false), 7);
        assert_eq!(
            exit_code(&failed("generic_timeout_error", Phase::Dns), false),
            28
        );
        assert_eq!(
            exit_code(&failed("generic_timeout_error", Phase::Tls), false),
            28
        );
        assert_eq!(
            exit_code(&failed("connection_reset", Phase::Tls), false),
            35
        );
        assert_eq!(
            exit_code(&failed("ssl_unknown_authority", Phase::Tls), false),
            60
        );
        assert_eq!(
            exit_code(&failed("connection_reset", Phase::Body), false),
            56
        );
        assert_eq!(exit_code(&failed("eof_error", Phase::Headers), false), 56);
        assert_eq!(
            exit_code(&failed("connection_refused", Phase::Quic), false),
            7
        );
        assert_eq!(
            exit_code(&failed("quic_connection_closed", Phase::Quic), false),
            96
        );
        assert_eq!(
            exit_code(&failed("generic_timeout_error", Phase::Quic), false),
            28
        );
    }

    #[test]
    fn capped_and_http_errors_are_success_unless_fail() {
        let capped = FetchRecord {
            status: Some(200),
            capped: Some(crate::types::Capped::Time),
            ..FetchRecord::default()
        };
        assert_eq!(exit_code(&capped, true), 0);
        let not_found = FetchRecord {
            status: Some(404),
            ..FetchRecord::default()
        };
        assert_eq!(exit_code(&not_found, false), 0);
        assert_eq!(exit_code(&not_found, true), 22);
        let redirect = FetchRecord {
            status: Some(302),
            ..FetchRecord::default()
        };
        assert_eq!(exit_code(&redirect, true), 0);
    }
}
