//! X25519MLKEM768: the hybrid post-quantum key exchange browsers send since
//! 2024, as a rustls key-exchange group on the ring provider.
//!
//! Hand-composed because ring has no ML-KEM and the project keeps one crypto
//! provider (rustls's built-in X25519MLKEM768 needs aws-lc-rs). The layout
//! is draft-kwiatkowski-tls-ecdhe-mlkem (IANA 0x11EC): the client share is
//! the ML-KEM-768 encapsulation key (1,184 bytes) then an X25519 public key
//! (32); the server share is the ML-KEM ciphertext (1,088) then its X25519
//! key; the secret is the ML-KEM shared secret then the X25519 one. ML-KEM
//! is RustCrypto's `ml-kem`, fed from ring's system RNG; X25519 is rustls's
//! ring group. A 1.2 KB share is what pushes the hello past one segment
//! (`hello = "pq"`, the 2024 effect on DPI boxes that read one segment).

use std::sync::Arc;

use ml_kem::array::Array;
use ml_kem::ml_kem_768::{Ciphertext, DecapsulationKey, EncapsulationKey};
use ml_kem::{Decapsulate, KeyExport, Seed, B32};
use ring::rand::{SecureRandom, SystemRandom};
use rustls::crypto::ring::kx_group::X25519;
use rustls::crypto::{
    ActiveKeyExchange, CompletedKeyExchange, CryptoProvider, SharedSecret, SupportedKxGroup,
};
use rustls::ffdhe_groups::FfdheGroup;
use rustls::{Error, NamedGroup, PeerMisbehaved, ProtocolVersion};

/// The group's IANA code point.
pub const GROUP: u16 = 0x11EC;
/// ML-KEM-768 encapsulation key, ciphertext, and the X25519 share.
pub const MLKEM_EK_LEN: usize = 1184;
pub const MLKEM_CT_LEN: usize = 1088;
pub const X25519_LEN: usize = 32;
/// The client's key share: 1,216 bytes.
pub const CLIENT_SHARE_LEN: usize = MLKEM_EK_LEN + X25519_LEN;
/// The server's key share: 1,120 bytes.
pub const SERVER_SHARE_LEN: usize = MLKEM_CT_LEN + X25519_LEN;

const BAD_SHARE: Error = Error::PeerMisbehaved(PeerMisbehaved::InvalidKeyShare);

/// The X25519MLKEM768 group.
pub static X25519MLKEM768: &dyn SupportedKxGroup = &Hybrid;

/// The ring provider with X25519MLKEM768 first in its groups: a client
/// built on it sends that share (and X25519's, as browsers do); a server
/// picks it whenever the client sent it.
pub fn provider() -> CryptoProvider {
    let mut p = rustls::crypto::ring::default_provider();
    p.kx_groups.insert(0, X25519MLKEM768);
    p
}

/// [`provider`] in an `Arc`, for the server configs.
pub fn server_provider() -> Arc<CryptoProvider> {
    Arc::new(provider())
}

fn random<const N: usize>() -> Result<[u8; N], Error> {
    let mut b = [0u8; N];
    SystemRandom::new()
        .fill(&mut b)
        .map_err(|_| Error::FailedToGetRandomBytes)?;
    Ok(b)
}

#[derive(Debug)]
struct Hybrid;

impl SupportedKxGroup for Hybrid {
    fn start(&self) -> Result<Box<dyn ActiveKeyExchange>, Error> {
        let dk = DecapsulationKey::from_seed(Seed::from(random::<64>()?));
        let classical = X25519.start()?;
        let mut share = dk.encapsulation_key().to_bytes().to_vec();
        share.extend_from_slice(classical.pub_key());
        Ok(Box::new(Active {
            dk,
            classical,
            share,
        }))
    }

    /// The server's side: a KEM encapsulation against the client's key, so
    /// the share depends on the peer's (the default start-then-complete
    /// cannot do that).
    fn start_and_complete(&self, client_share: &[u8]) -> Result<CompletedKeyExchange, Error> {
        if client_share.len() != CLIENT_SHARE_LEN {
            return Err(BAD_SHARE);
        }
        let (ek, x) = client_share.split_at(MLKEM_EK_LEN);
        let ek = Array::try_from(ek).map_err(|_| BAD_SHARE)?;
        let ek = EncapsulationKey::new(&ek).map_err(|_| BAD_SHARE)?;
        let m = B32::from(random::<32>()?);
        let (ct, pq_secret) = ek.encapsulate_deterministic(&m);
        let cl = X25519.start_and_complete(x)?;
        let mut pub_key = ct.to_vec();
        pub_key.extend_from_slice(&cl.pub_key);
        let mut secret = pq_secret.to_vec();
        secret.extend_from_slice(cl.secret.secret_bytes());
        Ok(CompletedKeyExchange {
            group: self.name(),
            pub_key,
            secret: SharedSecret::from(secret),
        })
    }

    fn ffdhe_group(&self) -> Option<FfdheGroup<'static>> {
        None
    }

    fn name(&self) -> NamedGroup {
        NamedGroup::X25519MLKEM768
    }

    fn usable_for_version(&self, version: ProtocolVersion) -> bool {
        version == ProtocolVersion::TLSv1_3
    }
}

/// The client's half-done exchange: the ML-KEM decapsulation key and the
/// X25519 key pair.
struct Active {
    dk: DecapsulationKey,
    classical: Box<dyn ActiveKeyExchange>,
    share: Vec<u8>,
}

impl ActiveKeyExchange for Active {
    fn complete(self: Box<Self>, server_share: &[u8]) -> Result<SharedSecret, Error> {
        if server_share.len() != SERVER_SHARE_LEN {
            return Err(BAD_SHARE);
        }
        let (ct, x) = server_share.split_at(MLKEM_CT_LEN);
        let ct = Ciphertext::try_from(ct).map_err(|_| BAD_SHARE)?;
        let cl = self.classical.complete(x)?;
        let mut secret = self.dk.decapsulate(&ct).to_vec();
        secret.extend_from_slice(cl.secret_bytes());
        Ok(SharedSecret::from(secret))
    }

    /// The X25519 half, offered as its own share too: a server without the
    /// hybrid group still completes with X25519 (what browsers send).
    fn hybrid_component(&self) -> Option<(NamedGroup, &[u8])> {
        Some((self.classical.group(), self.classical.pub_key()))
    }

    fn complete_hybrid_component(
        self: Box<Self>,
        peer_pub_key: &[u8],
    ) -> Result<SharedSecret, Error> {
        self.classical.complete(peer_pub_key)
    }

    fn pub_key(&self) -> &[u8] {
        &self.share
    }

    fn ffdhe_group(&self) -> Option<FfdheGroup<'static>> {
        None
    }

    fn group(&self) -> NamedGroup {
        NamedGroup::X25519MLKEM768
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn client_and_server_agree_and_shares_have_the_draft_lengths() {
        let client = X25519MLKEM768.start().unwrap();
        assert_eq!(client.pub_key().len(), CLIENT_SHARE_LEN);
        assert_eq!(client.group(), NamedGroup::X25519MLKEM768);
        let server = X25519MLKEM768.start_and_complete(client.pub_key()).unwrap();
        assert_eq!(server.pub_key.len(), SERVER_SHARE_LEN);
        assert_eq!(server.group, NamedGroup::X25519MLKEM768);
        let secret = client.complete(&server.pub_key).unwrap();
        assert_eq!(secret.secret_bytes().len(), 64);
        assert_eq!(secret.secret_bytes(), server.secret.secret_bytes());
        // Two exchanges share nothing.
        let again = X25519MLKEM768.start().unwrap();
        assert_ne!(again.pub_key(), X25519MLKEM768.start().unwrap().pub_key());
    }

    #[test]
    fn the_x25519_half_is_offered_and_completes_alone() {
        let client = X25519MLKEM768.start().unwrap();
        let (group, x) = client.hybrid_component().unwrap();
        assert_eq!(group, NamedGroup::X25519);
        assert_eq!(x, &client.pub_key()[MLKEM_EK_LEN..]);
        let server = X25519.start_and_complete(x).unwrap();
        let secret = client.complete_hybrid_component(&server.pub_key).unwrap();
        assert_eq!(secret.secret_bytes(), server.secret.secret_bytes());
    }

    #[test]
    fn malformed_shares_are_errors() {
        let client = X25519MLKEM768.start().unwrap();
        let share = client.pub_key().to_vec();
        for bad in [&share[..100], &share[..CLIENT_SHARE_LEN - 1], &[][..]] {
            assert_eq!(
                X25519MLKEM768.start_and_complete(bad).err(),
                Some(BAD_SHARE)
            );
        }
        // An encapsulation key whose coefficients are not reduced mod q.
        let mut not_a_key = share.clone();
        not_a_key[..MLKEM_EK_LEN].fill(0xff);
        assert_eq!(
            X25519MLKEM768.start_and_complete(&not_a_key).err(),
            Some(BAD_SHARE)
        );
        // An all-zero X25519 half: a low-order point ring refuses.
        let mut zero_x = share.clone();
        zero_x[MLKEM_EK_LEN..].fill(0);
        assert!(X25519MLKEM768.start_and_complete(&zero_x).is_err());
        let server = X25519MLKEM768.start_and_complete(&share).unwrap();
        let short = &server.pub_key[..SERVER_SHARE_LEN - 1];
        assert_eq!(client.complete(short).err(), Some(BAD_SHARE));
        // A server share with a zero X25519 half.
        let client = X25519MLKEM768.start().unwrap();
        let mut s = X25519MLKEM768
            .start_and_complete(client.pub_key())
            .unwrap()
            .pub_key;
        s[MLKEM_CT_LEN..].fill(0);
        assert!(client.complete(&s).is_err());
    }
}
