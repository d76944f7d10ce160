//! The lab's private PKI: a CA generated at start and one leaf for every name.
//!
//! Clients trust the lab only through the CA PEM written to the output
//! directory (`cacert`), so nothing here touches a system trust store and a
//! fresh CA per run means a leaked key is worthless.

use std::path::Path;
use std::sync::Arc;

use anyhow::{Context, Result};
use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, KeyPair, KeyUsagePurpose};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use rustls::ServerConfig;

/// Largest TLS record the origin sends (plaintext bytes + header).
///
/// A client can only use a record once all of it has arrived, so at
/// 131 kbit/s a full 16 KiB record turns the body into one-second steps and a
/// few-second fetch cannot show its rate. 4 KiB is what servers with dynamic
/// record sizing use early in a connection; it costs ~0.5% overhead.
pub const RECORD_SIZE: usize = 4096;

/// A CA and a leaf certificate signed by it.
pub struct Pki {
    /// The CA certificate, PEM: what clients add as `cacert`.
    pub ca_pem: String,
    /// DER of the CA certificate, for in-process rustls clients.
    pub ca_der: CertificateDer<'static>,
    leaf_der: CertificateDer<'static>,
    leaf_key: Vec<u8>,
    /// The names (DNS names, wildcards, IPs) the leaf is valid for.
    pub names: Vec<String>,
}

impl Pki {
    /// Generates a CA and a leaf valid for `names` plus `localhost`,
    /// `127.0.0.1` and `::1`. Wildcards (`*.twimg.com`) are allowed.
    pub fn generate(names: &[String]) -> Result<Pki> {
        let mut all: Vec<String> = names.iter().map(|n| n.to_ascii_lowercase()).collect();
        all.extend(["localhost", "127.0.0.1", "::1"].map(String::from));
        all.sort();
        all.dedup();

        let ca_key = KeyPair::generate().context("generating CA key")?;
        let mut ca_params = CertificateParams::new(Vec::<String>::new())?;
        ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca_params
            .distinguished_name
            .push(DnType::CommonName, "slowlane testbed CA");
        ca_params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        let ca = ca_params.self_signed(&ca_key).context("self-signing CA")?;

        let leaf_key = KeyPair::generate().context("generating leaf key")?;
        let mut leaf_params = CertificateParams::new(all.clone()).context("leaf names")?;
        leaf_params
            .distinguished_name
            .push(DnType::CommonName, "slowlane testbed origin");
        let leaf = leaf_params
            .signed_by(&leaf_key, &ca, &ca_key)
            .context("signing leaf")?;

        Ok(Pki {
            ca_pem: ca.pem(),
            ca_der: ca.der().clone(),
            leaf_der: leaf.der().clone(),
            leaf_key: leaf_key.serialize_der(),
            names: all,
        })
    }

    /// Writes the CA certificate as PEM.
    pub fn write_ca(&self, path: &Path) -> Result<()> {
        std::fs::write(path, &self.ca_pem).with_context(|| format!("writing {}", path.display()))
    }

    /// A rustls server config presenting the leaf, offering h2 and http/1.1,
    /// with TLS records of at most [`RECORD_SIZE`] bytes.
    pub fn server_config(&self) -> Result<Arc<ServerConfig>> {
        // X25519MLKEM768 first: a `pq` hello completes with it.
        let provider = crate::probe::pq::server_provider();
        let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(self.leaf_key.clone()));
        let mut cfg = ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()?
            .with_no_client_auth()
            .with_single_cert(vec![self.leaf_der.clone()], key)
            .context("building the TLS server config")?;
        cfg.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
        cfg.max_fragment_size = Some(RECORD_SIZE);
        Ok(Arc::new(cfg))
    }

    /// A root store trusting only this CA, for in-process clients and tests.
    pub fn root_store(&self) -> rustls::RootCertStore {
        let mut roots = rustls::RootCertStore::empty();
        // The CA was generated just above; adding it cannot fail.
        let _ = roots.add(self.ca_der.clone());
        roots
    }
}
