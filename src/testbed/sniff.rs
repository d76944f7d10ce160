//! Classifying a connection from its first bytes: TLS SNI or HTTP Host.

use super::clienthello::{parse_client_hello, ClientHello, HelloError};

/// Which protocol the first bytes look like, and the name they carry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Sniff {
    Tls(ClientHello),
    /// Plain HTTP request; `host` without a port.
    Http {
        host: Option<String>,
    },
    /// Might become classifiable with more bytes.
    Incomplete {
        tls: bool,
    },
    /// TLS with a broken hello, or neither TLS nor HTTP.
    Unknown {
        tls: bool,
    },
}

impl Sniff {
    /// The name rules are matched against.
    pub fn name(&self) -> Option<&str> {
        match self {
            Sniff::Tls(h) => h.sni.as_deref(),
            Sniff::Http { host } => host.as_deref(),
            _ => None,
        }
    }

    /// Whether the connection should go to the TLS origin.
    pub fn is_tls(&self) -> bool {
        match self {
            Sniff::Tls(_) => true,
            Sniff::Http { .. } => false,
            Sniff::Incomplete { tls } | Sniff::Unknown { tls } => *tls,
        }
    }
}

const METHODS: [&str; 8] = [
    "GET ", "POST ", "HEAD ", "PUT ", "DELETE ", "OPTIONS ", "PATCH ", "CONNECT ",
];

/// Classifies the bytes seen so far.
pub fn sniff(buf: &[u8], reassemble: bool) -> Sniff {
    match parse_client_hello(buf, reassemble) {
        Ok(h) => return Sniff::Tls(h),
        Err(HelloError::Incomplete) => return Sniff::Incomplete { tls: true },
        Err(HelloError::Malformed(_)) => return Sniff::Unknown { tls: true },
        Err(HelloError::NotTls) => {}
    }
    let starts_http = METHODS
        .iter()
        .any(|m| buf.starts_with(m.as_bytes()) || m.as_bytes().starts_with(buf));
    if !starts_http {
        return Sniff::Unknown { tls: false };
    }
    match http_host(buf) {
        Some(host) => Sniff::Http { host },
        None => Sniff::Incomplete { tls: false },
    }
}

/// The Host header of a request head: `Some(None)` when the head is complete
/// without one, `None` when more bytes are needed.
fn http_host(buf: &[u8]) -> Option<Option<String>> {
    // Only '\n'-terminated lines count: a Host line cut mid-name must wait.
    let end = buf.iter().rposition(|&b| b == b'\n')?;
    let mut lines = buf[..end].split(|&b| b == b'\n');
    lines.next()?; // request line
    for line in lines {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if line.is_empty() {
            return Some(None);
        }
        let Some(colon) = line.iter().position(|&b| b == b':') else {
            continue;
        };
        if line[..colon].eq_ignore_ascii_case(b"host") {
            let text = String::from_utf8_lossy(&line[colon + 1..])
                .trim()
                .to_string();
            return Some(Some(strip_port(&text).to_ascii_lowercase()));
        }
    }
    None
}

fn strip_port(h: &str) -> &str {
    if let Some(rest) = h.strip_prefix('[') {
        return rest.split(']').next().unwrap_or(rest);
    }
    match h.rsplit_once(':') {
        Some((host, port)) if port.chars().all(|c| c.is_ascii_digit()) => host,
        _ => h,
    }
}
