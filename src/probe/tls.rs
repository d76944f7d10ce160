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

use crate::types::{FetchOptions, Hello, Pin};

/// What a client config is built from: every option `build_client_config`
/// reads, or two URLs with different trust would share one config.
type Key = (Vec<PathBuf>, bool, Vec<String>, bool, Option<Pin>, Hello);

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
        opts.hello(),
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
    // `pq`: X25519MLKEM768 first, so the hello carries its share; classic
    // keeps rustls's own hello byte for byte.
    let provider = Arc::new(match opts.hello() {
        Hello::Classic => rustls::crypto::ring::default_provider(),
        Hello::Pq => super::pq::provider(),
    });
    let builder = ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .context("TLS protocol versions")?;
    let no_ca = match (opts.pin, opts.insecure) {
        // A pinned reflector: its certificate is checked against the pin,
        // not against any CA or name (it answers every SNI with one cert).
        (Some(pin), _) => Some(Accept::Pinned(pin)),
        (None, true) => Some(Accept::Any),
        (None, false) => None,
    };
    let mut config = if let Some(accept) = no_ca {
        builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(NoCaVerifier { accept, provider }))
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

/// Which certificate a [`NoCaVerifier`] accepts.
#[derive(Debug)]
enum Accept {
    /// `insecure = true`: any certificate. Measuring a neutral server with a
    /// foreign SNI needs this.
    Any,
    /// A pinned reflector: exactly this certificate, whatever its names and
    /// dates.
    Pinned(Pin),
}

/// A verifier that checks no CA and no name, only which certificate is
/// accepted ([`Accept`]). Handshake signatures are still verified with the
/// provider's algorithms, so the peer must hold the certificate's key and
/// the handshake is a real one; that part is the same for both uses, hence
/// one type.
#[derive(Debug)]
struct NoCaVerifier {
    accept: Accept,
    provider: Arc<CryptoProvider>,
}

impl ServerCertVerifier for NoCaVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        match self.accept {
            Accept::Pinned(pin) if Pin::of(end_entity) != pin => {
                Err(rustls::Error::InvalidCertificate(
                    rustls::CertificateError::ApplicationVerificationFailure,
                ))
            }
            Accept::Any | Accept::Pinned(_) => Ok(ServerCertVerified::assertion()),
        }
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
            &self.provider.signature_verification_algorithms,
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
            &self.provider.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn first_flight(opts: &FetchOptions) -> Vec<u8> {
        let cfg = build_client_config(opts, true).unwrap();
        let name = ServerName::try_from("pbs.twimg.com").unwrap();
        let mut c = rustls::ClientConnection::new(cfg, name).unwrap();
        let mut out = Vec::new();
        c.write_tls(&mut out).unwrap();
        out
    }

    #[test]
    fn pq_hello_adds_the_hybrid_share_and_group_to_the_classic_one() {
        let classic = FetchOptions {
            insecure: true,
            ..FetchOptions::default()
        };
        let pq = FetchOptions {
            hello: Hello::Pq,
            ..classic.clone()
        };
        let (c, p) = (first_flight(&classic), first_flight(&pq));
        // One key_share entry (4 + 1,216 bytes) and one supported_groups
        // entry (2) more; everything else as rustls sends it.
        assert_eq!(
            p.len(),
            c.len() + 4 + super::super::pq::CLIENT_SHARE_LEN + 2
        );
        let share = [0x11, 0xEC, 0x04, 0xC0];
        assert!(p.windows(4).any(|w| w == share));
        // Past one segment of MSS 1460.
        assert!(p.len() > 1460);
        // The pq variant is the same hello.
        let variant = FetchOptions {
            wire: crate::types::Wire::Pq,
            ..classic.clone()
        };
        assert_eq!(first_flight(&variant).len(), p.len());
        // Classic is rustls's own hello (ring's groups, no hybrid one).
        let plain = Arc::new(rustls::crypto::ring::default_provider());
        assert!(plain
            .kx_groups
            .iter()
            .all(|g| g.name() != rustls::NamedGroup::X25519MLKEM768));
        let names = |p: &CryptoProvider| p.kx_groups.iter().map(|g| g.name()).collect::<Vec<_>>();
        let pq_names = names(&super::super::pq::provider());
        assert_eq!(pq_names[0], rustls::NamedGroup::X25519MLKEM768);
        assert_eq!(pq_names[1..], names(&plain)[..]);
    }

    #[test]
    fn no_ca_verifier_accepts_by_policy_only() {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let (a, b) = (
            CertificateDer::from(vec![1u8, 2, 3]),
            CertificateDer::from(vec![4u8, 5, 6]),
        );
        let name = ServerName::try_from("example.com").unwrap();
        let check = |accept, cert: &CertificateDer<'_>| {
            let v = NoCaVerifier {
                accept,
                provider: provider.clone(),
            };
            v.verify_server_cert(cert, &[], &name, &[], UnixTime::now())
                .is_ok()
        };
        assert!(check(Accept::Any, &a));
        assert!(check(Accept::Pinned(Pin::of(&a)), &a));
        assert!(!check(Accept::Pinned(Pin::of(&a)), &b));
        let v = NoCaVerifier {
            accept: Accept::Any,
            provider: provider.clone(),
        };
        assert_eq!(
            v.supported_verify_schemes(),
            provider
                .signature_verification_algorithms
                .supported_schemes()
        );
    }
}
