//! The TLS client configuration every fetch uses.
//!
//! Built once per distinct set of TLS options and shared by every URL that
//! has them (a root store is ~100 KB: one per URL made a 1,000-URL campaign
//! cost 50+ MB), so fetches pay for the handshake only. Resumption is
//! disabled (no session IDs, no tickets, no 0-RTT): a resumed handshake is
//! shorter and skips the certificate, which would make TLS time — one of the
//! strongest throttling signals — incomparable between fetches.

use std::collections::HashMap;
use std::fs::File;
use std::io::BufReader;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock, Weak};

use anyhow::{bail, Context};
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::Resumption;
use rustls::crypto::CryptoProvider;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme};

use super::spec::FetchOptions;

/// What a client config is built from: every option `build_client_config`
/// reads, or two URLs with different trust would share one config.
type Key = (Vec<PathBuf>, bool, Vec<String>, bool, Option<Pin>);

/// The client config for one URL, shared with every other URL of the same
/// options while any of them is alive. `send_sni = false` when the campaign
/// asked for no SNI (`sni = ""`).
pub fn client_config(opts: &FetchOptions, send_sni: bool) -> anyhow::Result<Arc<ClientConfig>> {
    static CACHE: OnceLock<Mutex<HashMap<Key, Weak<ClientConfig>>>> = OnceLock::new();
    let key = (
        opts.cacert.clone(),
        opts.insecure,
        opts.alpn.clone(),
        send_sni,
        opts.pin,
    );
    let mut cache = CACHE.get_or_init(Default::default).lock().unwrap();
    if let Some(c) = cache.get(&key).and_then(Weak::upgrade) {
        return Ok(c);
    }
    let c = build_client_config(opts, send_sni)?;
    cache.retain(|_, w| w.strong_count() > 0);
    cache.insert(key, Arc::downgrade(&c));
    Ok(c)
}

fn build_client_config(opts: &FetchOptions, send_sni: bool) -> anyhow::Result<Arc<ClientConfig>> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .context("TLS protocol versions")?;
    let mut config = if let Some(pin) = opts.pin {
        // A pinned reflector: its certificate is checked against the pin,
        // not against any CA or name (it answers every SNI with one cert).
        builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(PinVerifier {
                pin,
                provider: provider.clone(),
            }))
            .with_no_client_auth()
    } else if opts.insecure {
        builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(AcceptAnything(provider)))
            .with_no_client_auth()
    } else {
        let mut roots = RootCertStore::empty();
        roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
        for path in &opts.cacert {
            for cert in load_pem_certs(path)? {
                roots
                    .add(cert)
                    .with_context(|| format!("{}: bad CA certificate", path.display()))?;
            }
        }
        builder.with_root_certificates(roots).with_no_client_auth()
    };
    config.alpn_protocols = opts.alpn.iter().map(|p| p.as_bytes().to_vec()).collect();
    config.resumption = Resumption::disabled();
    config.enable_early_data = false;
    config.enable_sni = send_sni;
    Ok(Arc::new(config))
}

fn load_pem_certs(path: &Path) -> anyhow::Result<Vec<CertificateDer<'static>>> {
    let file = File::open(path).with_context(|| format!("cacert {}", path.display()))?;
    let certs: Vec<_> = rustls_pemfile::certs(&mut BufReader::new(file))
        .collect::<Result<_, _>>()
        .with_context(|| format!("{}: not a PEM certificate file", path.display()))?;
    if certs.is_empty() {
        bail!("{}: no PEM certificates found", path.display());
    }
    Ok(certs)
}

/// The name to verify the certificate against (and to send as SNI). A
/// trailing dot is dropped here (rustls drops it from the SNI anyway, per
/// RFC 6066); the `trailing-dot` variant puts it back on the wire
/// (`probe::split`).
pub fn server_name(name: &str) -> anyhow::Result<ServerName<'static>> {
    let trimmed = name.trim_start_matches('[').trim_end_matches(']');
    let trimmed = trimmed.strip_suffix('.').unwrap_or(trimmed);
    ServerName::try_from(trimmed.to_string()).with_context(|| format!("invalid TLS name {name:?}"))
}

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

/// Accepts exactly the pinned certificate (whatever its names and dates);
/// handshake signatures are still verified, so the peer must hold its key.
#[derive(Debug)]
struct PinVerifier {
    pin: Pin,
    provider: Arc<CryptoProvider>,
}

impl ServerCertVerifier for PinVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        if Pin::of(end_entity) == self.pin {
            Ok(ServerCertVerified::assertion())
        } else {
            Err(rustls::Error::InvalidCertificate(
                rustls::CertificateError::ApplicationVerificationFailure,
            ))
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        AcceptAnything(self.provider.clone()).verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        AcceptAnything(self.provider.clone()).verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}

/// `insecure = true`: accept any certificate. Measuring a neutral server with a
/// foreign SNI needs this; signatures are still checked so the handshake is a
/// real one.
#[derive(Debug)]
struct AcceptAnything(Arc<CryptoProvider>);

impl ServerCertVerifier for AcceptAnything {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

#[cfg(test)]
mod pin_tests {
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
