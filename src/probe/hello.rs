//! Where the server name sits in a ClientHello record, and editing it there.
//!
//! Two users: the probe's `split-hello` cuts the record inside the name, and
//! the `trailing-dot` variant adds a dot to the name on the wire (rustls
//! strips it, per RFC 6066); the reflector (`serve`) removes that dot again
//! before its TLS stack reads the hello, so both ends hash the same
//! transcript while the path in between saw `name.`. Only a hello held in a
//! single record is handled (rustls always sends one); anything else is left
//! alone.

/// Byte offsets of the SNI and of every length field that covers it, in a
/// buffer starting with the ClientHello record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SniSpan {
    /// Offset of the extensions' total length (u16).
    ext_total: usize,
    /// Offset of the server_name extension's length (u16).
    ext_len: usize,
    /// Offset of the server name list length (u16).
    list_len: usize,
    /// Offset of the host name length (u16).
    name_len: usize,
    /// Offset and length of the host name itself.
    pub name: usize,
    pub len: usize,
}

/// The SNI of the single-record ClientHello at the start of `b`, if any.
pub fn sni_span(b: &[u8]) -> Option<SniSpan> {
    let u16_at = |i: usize| -> Option<usize> {
        Some(u16::from_be_bytes([*b.get(i)?, *b.get(i + 1)?]) as usize)
    };
    if *b.first()? != 22 || *b.get(5)? != 1 {
        return None;
    }
    let record_end = 5 + u16_at(3)?;
    if b.len() < record_end {
        return None;
    }
    let hs_len = u32::from_be_bytes([0, b[6], b[7], b[8]]) as usize;
    if 9 + hs_len != record_end {
        return None; // the hello spans records: not ours to edit
    }
    let mut p = 9 + 2 + 32; // version, random
    p += 1 + *b.get(p)? as usize; // session id
    p += 2 + u16_at(p)?; // cipher suites
    p += 1 + *b.get(p)? as usize; // compression methods
    let ext_total = p;
    let end = (p + 2 + u16_at(p)?).min(record_end);
    p += 2;
    while p + 4 <= end {
        let (ty, len) = (u16_at(p)?, u16_at(p + 2)?);
        if ty == 0 {
            let list_len = p + 4;
            // One host_name entry: type 0, then its length and bytes.
            if *b.get(list_len + 2)? != 0 {
                return None;
            }
            let name_len = list_len + 3;
            let n = u16_at(name_len)?;
            let name = name_len + 2;
            if name + n > end {
                return None;
            }
            return Some(SniSpan {
                ext_total,
                ext_len: p + 2,
                list_len,
                name_len,
                name,
                len: n,
            });
        }
        p += 4 + len;
    }
    None
}

/// Add `delta` to every length field covering the name (record, handshake,
/// extensions, server_name extension, list, name).
fn adjust(b: &mut [u8], s: &SniSpan, delta: isize) {
    let add16 = |b: &mut [u8], i: usize| {
        let v = u16::from_be_bytes([b[i], b[i + 1]]) as isize + delta;
        b[i..i + 2].copy_from_slice(&(v as u16).to_be_bytes());
    };
    for i in [3, s.ext_total, s.ext_len, s.list_len, s.name_len] {
        add16(b, i);
    }
    let hs = u32::from_be_bytes([0, b[6], b[7], b[8]]) as isize + delta;
    b[6..9].copy_from_slice(&(hs as u32).to_be_bytes()[1..]);
}

/// Append a dot to the SNI of the hello at the start of `b`. Returns the
/// span after the edit, or `None` (nothing changed) when there is no SNI.
pub fn add_trailing_dot(b: &mut Vec<u8>) -> Option<SniSpan> {
    let s = sni_span(b)?;
    b.insert(s.name + s.len, b'.');
    adjust(b, &s, 1);
    sni_span(b)
}

/// Remove one trailing dot from the SNI of the hello at the start of `b`.
/// Returns whether there was one.
pub fn strip_trailing_dot(b: &mut Vec<u8>) -> bool {
    let Some(s) = sni_span(b) else { return false };
    if s.len < 2 || b[s.name + s.len - 1] != b'.' {
        return false;
    }
    b.remove(s.name + s.len - 1);
    adjust(b, &s, -1);
    true
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::testbed::clienthello::parse_client_hello;

    /// A real rustls ClientHello for `name` (also `hello_edit`'s tests').
    pub(crate) fn hello(name: &str) -> Vec<u8> {
        let provider = std::sync::Arc::new(rustls::crypto::ring::default_provider());
        let cfg = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_root_certificates(rustls::RootCertStore::empty())
            .with_no_client_auth();
        let sn = rustls::pki_types::ServerName::try_from(name.to_string()).unwrap();
        let mut c = rustls::ClientConnection::new(std::sync::Arc::new(cfg), sn).unwrap();
        let mut out = Vec::new();
        c.write_tls(&mut out).unwrap();
        out
    }

    #[test]
    fn finds_the_name_and_round_trips_a_trailing_dot() {
        let mut b = hello("PBS.twimg.com");
        let s = sni_span(&b).unwrap();
        assert_eq!(&b[s.name..s.name + s.len], b"PBS.twimg.com");
        let orig = b.clone();
        add_trailing_dot(&mut b).unwrap();
        let h = parse_client_hello(&b, false).unwrap();
        assert_eq!(h.sni.as_deref(), Some("PBS.twimg.com."));
        assert!(strip_trailing_dot(&mut b));
        assert_eq!(b, orig);
        assert!(!strip_trailing_dot(&mut b));
        assert_eq!(sni_span(&b[..20]), None);
        assert_eq!(sni_span(b"GET / HTTP/1.1\r\n"), None);
    }
}
