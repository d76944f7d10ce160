//! A certificate pin: how a fetch names the one `slowlane serve` reflector
//! it trusts. Pure data (parsed from campaign files and flags, written to
//! `campaign.json`), so it lives with the other shared types; `probe::tls`
//! checks it during the handshake.

use rustls::pki_types::CertificateDer;

/// A certificate pin: the SHA-256 of the server's leaf certificate (DER),
/// written `sha256:<64 hex digits>` as `slowlane serve` prints it. Check by
/// hand with `openssl x509 -in cert.pem -outform der | sha256sum`.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Pin(pub [u8; 32]);

impl Pin {
    /// The pin of a certificate.
    pub fn of(cert: &CertificateDer<'_>) -> Pin {
        let d = ring::digest::digest(&ring::digest::SHA256, cert.as_ref());
        let mut out = [0u8; 32];
        out.copy_from_slice(d.as_ref());
        Pin(out)
    }
}

impl std::fmt::Display for Pin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("sha256:")?;
        self.0.iter().try_for_each(|b| write!(f, "{b:02x}"))
    }
}

impl std::fmt::Debug for Pin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Display::fmt(self, f)
    }
}

impl std::str::FromStr for Pin {
    type Err = String;

    fn from_str(s: &str) -> Result<Pin, String> {
        let bad = || {
            format!("bad pin {s:?}: expected sha256:<64 hex digits>, as `slowlane serve` prints it")
        };
        let hex = s.trim().strip_prefix("sha256:").ok_or_else(bad)?;
        if hex.len() != 64 || !hex.bytes().all(|c| c.is_ascii_hexdigit()) {
            return Err(bad());
        }
        let mut out = [0u8; 32];
        for (i, b) in out.iter_mut().enumerate() {
            *b = u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).map_err(|_| bad())?;
        }
        Ok(Pin(out))
    }
}

impl serde::Serialize for Pin {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

#[cfg(test)]
mod tests {
    use super::Pin;

    #[test]
    fn pin_round_trips_and_rejects_garbage() {
        let text = format!("sha256:{}", "ab".repeat(32));
        let p: Pin = text.parse().unwrap();
        assert_eq!(p.to_string(), text);
        assert_eq!(p, format!("sha256:{}", "AB".repeat(32)).parse().unwrap());
        for bad in [
            "",
            "sha256:",
            "ab".repeat(32).as_str(),
            "sha256:zz",
            "md5:00",
        ] {
            assert!(bad.parse::<Pin>().is_err(), "{bad}");
        }
    }
}
