//! Reading a client's QUIC Initial packets as a path in between can.
//!
//! The Initial's keys derive from the client's destination connection ID and
//! a salt published in RFC 9001 (§5.2), so anyone on the path can remove the
//! header protection, decrypt the payload and read the ClientHello from its
//! CRYPTO frames — that is how a DPI box filters QUIC by SNI. rustls derives
//! the keys (`rustls::quic::Keys::initial`) with the same ring provider the
//! engine uses; this module only parses. Two users: the probe measures the
//! shape of its own hello (`hello_bytes`, `initial_packets`) and the lab's
//! UDP middlebox reads the name it polices by.

use std::collections::BTreeMap;

use rustls::quic::{Keys, Version};
use rustls::Side;

/// QUIC version 1 (RFC 9000); the only one quinn speaks by default.
const V1: u32 = 1;

/// Is this datagram's first packet a QUIC v1 Initial (long header, type 0)?
pub fn is_initial(d: &[u8]) -> bool {
    // Long header (0x80), fixed bit (0x40), type Initial (0x30 clear).
    d.len() >= 7 && d[0] & 0xf0 == 0xc0 && version(d) == Some(V1)
}

fn version(d: &[u8]) -> Option<u32> {
    Some(u32::from_be_bytes(d.get(1..5)?.try_into().ok()?))
}

/// A variable-length integer (RFC 9000 §16) at `*p`, advancing `*p`.
fn varint(b: &[u8], p: &mut usize) -> Option<u64> {
    let first = *b.get(*p)?;
    let len = 1usize << (first >> 6);
    let bytes = b.get(*p..*p + len)?;
    let mut v = u64::from(first & 0x3f);
    for &x in &bytes[1..] {
        v = (v << 8) | u64::from(x);
    }
    *p += len;
    Some(v)
}

/// The decrypted content of one client Initial packet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Initial {
    /// The destination connection ID (what the keys derive from).
    pub dcid: Vec<u8>,
    pub packet_number: u64,
    /// CRYPTO frames: (offset in the crypto stream, data).
    pub crypto: Vec<(u64, Vec<u8>)>,
}

/// Decrypt the first packet of `datagram` if it is a client Initial (v1).
/// `None` for anything else, including a packet that fails authentication.
pub fn open_client_initial(datagram: &[u8]) -> Option<Initial> {
    if !is_initial(datagram) {
        return None;
    }
    let b = datagram;
    let mut p = 5;
    let dcid_len = *b.get(p)? as usize;
    let dcid = b.get(p + 1..p + 1 + dcid_len)?.to_vec();
    p += 1 + dcid_len;
    let scid_len = *b.get(p)? as usize;
    p += 1 + scid_len;
    let token_len = varint(b, &mut p)? as usize;
    p += token_len;
    let length = varint(b, &mut p)? as usize;
    let pn_offset = p;
    let end = pn_offset.checked_add(length)?;
    if end > b.len() || length < 20 {
        return None;
    }
    let suite = rustls::crypto::ring::cipher_suite::TLS13_AES_128_GCM_SHA256.tls13()?;
    let keys = Keys::initial(Version::V1, suite, suite.quic?, &dcid, Side::Server);
    let mut pkt = b[..end].to_vec();
    // Header protection: the sample starts 4 bytes after the packet number
    // offset, whatever the packet number's real length (RFC 9001 §5.4.2).
    let sample_len = keys.remote.header.sample_len();
    let sample = pkt.get(pn_offset + 4..pn_offset + 4 + sample_len)?.to_vec();
    let (head, rest) = pkt.split_at_mut(pn_offset);
    keys.remote
        .header
        .decrypt_in_place(&sample, &mut head[0], &mut rest[..4])
        .ok()?;
    let pn_len = (pkt[0] & 0x03) as usize + 1;
    let packet_number = pkt[pn_offset..pn_offset + pn_len]
        .iter()
        .fold(0u64, |a, &x| (a << 8) | u64::from(x));
    let (header, payload) = pkt.split_at_mut(pn_offset + pn_len);
    let plain = keys
        .remote
        .packet
        .decrypt_in_place(packet_number, header, payload)
        .ok()?;
    Some(Initial {
        dcid,
        packet_number,
        crypto: crypto_frames(plain),
    })
}

/// The CRYPTO frames of a decrypted Initial payload. Stops at the first
/// frame it cannot step over (only PADDING, PING, ACK and CRYPTO are
/// allowed in a client's first Initials anyway).
fn crypto_frames(b: &[u8]) -> Vec<(u64, Vec<u8>)> {
    let mut out = Vec::new();
    let mut p = 0;
    while p < b.len() {
        let Some(ty) = varint(b, &mut p) else { break };
        match ty {
            0x00 | 0x01 => {}
            0x02 | 0x03 => {
                // ACK: largest, delay, range count, first range, ranges [, ECN]
                let step = (|| {
                    varint(b, &mut p)?;
                    varint(b, &mut p)?;
                    let n = varint(b, &mut p)?;
                    varint(b, &mut p)?;
                    for _ in 0..n {
                        varint(b, &mut p)?;
                        varint(b, &mut p)?;
                    }
                    if ty == 0x03 {
                        for _ in 0..3 {
                            varint(b, &mut p)?;
                        }
                    }
                    Some(())
                })();
                if step.is_none() {
                    break;
                }
            }
            0x06 => {
                let (Some(off), Some(len)) = (varint(b, &mut p), varint(b, &mut p)) else {
                    break;
                };
                let Some(data) = b.get(p..p + len as usize) else {
                    break;
                };
                out.push((off, data.to_vec()));
                p += len as usize;
            }
            _ => break,
        }
    }
    out
}

/// Collects a client's Initials until the ClientHello is whole. A hello
/// larger than one packet (a big key share) spans several Initials; a
/// retransmitted Initial repeats data already held, which is harmless.
#[derive(Debug, Default)]
pub struct HelloAssembler {
    /// The crypto stream from offset 0, contiguous.
    stream: Vec<u8>,
    /// Data that arrived ahead of a gap, by offset.
    ahead: BTreeMap<u64, Vec<u8>>,
    /// Client Initial packets seen (decryptable ones).
    pub packets: u32,
    /// The DCID of the first Initial (the keys of every later one).
    pub dcid: Option<Vec<u8>>,
}

impl HelloAssembler {
    /// Feed one datagram the client sent; returns true when it held a
    /// client Initial.
    pub fn push(&mut self, datagram: &[u8]) -> bool {
        let Some(init) = open_client_initial(datagram) else {
            return false;
        };
        self.packets += 1;
        self.dcid.get_or_insert(init.dcid);
        for (off, data) in init.crypto {
            self.ahead.entry(off).or_insert(data);
        }
        // Move everything now contiguous into the stream.
        while let Some((&off, _)) = self.ahead.iter().next() {
            let have = self.stream.len() as u64;
            if off > have {
                break;
            }
            let data = self.ahead.remove(&off).expect("key just seen");
            let skip = (have - off) as usize;
            if skip < data.len() {
                self.stream.extend_from_slice(&data[skip..]);
            }
        }
        true
    }

    /// The whole ClientHello handshake message (4-byte header + body), once
    /// every byte of it has arrived.
    pub fn hello(&self) -> Option<&[u8]> {
        let s = &self.stream;
        if s.len() < 4 || s[0] != 1 {
            return None;
        }
        let len = 4 + u32::from_be_bytes([0, s[1], s[2], s[3]]) as usize;
        s.get(..len)
    }

    /// The hello wrapped in a TLS record header, so the TCP-side hello
    /// parsers (which read records) read it unchanged.
    pub fn hello_record(&self) -> Option<Vec<u8>> {
        let h = self.hello()?;
        let len = u16::try_from(h.len()).ok()?;
        let mut r = vec![22, 3, 1];
        r.extend_from_slice(&len.to_be_bytes());
        r.extend_from_slice(h);
        Some(r)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 9001 Appendix A.2: the client's Initial, protected, and what it
    /// holds (a CRYPTO frame carrying a ClientHello for example.com...).
    fn rfc9001_a2() -> Vec<u8> {
        let hex = "c000000001088394c8f03e5157080000449e7b9aec34d1b1c98dd7689fb8ec11\
            d242b123dc9bd8bab936b47d92ec356c0bab7df5976d27cd449f63300099f399\
            1c260ec4c60d17b31f8429157bb35a1282a643a8d2262cad67500cadb8e7378c\
            8eb7539ec4d4905fed1bee1fc8aafba17c750e2c7ace01e6005f80fcb7df6212\
            30c83711b39343fa028cea7f7fb5ff89eac2308249a02252155e2347b63d58c5\
            457afd84d05dfffdb20392844ae812154682e9cf012f9021a6f0be17ddd0c208\
            4dce25ff9b06cde535d0f920a2db1bf362c23e596d11a4f5a6cf3948838a3aec\
            4e15daf8500a6ef69ec4e3feb6b1d98e610ac8b7ec3faf6ad760b7bad1db4ba3\
            485e8a94dc250ae3fdb41ed15fb6a8e5eba0fc3dd60bc8e30c5c4287e53805db\
            059ae0648db2f64264ed5e39be2e20d82df566da8dd5998ccabdae053060ae6c\
            7b4378e846d29f37ed7b4ea9ec5d82e7961b7f25a9323851f681d582363aa5f8\
            9937f5a67258bf63ad6f1a0b1d96dbd4faddfcefc5266ba6611722395c906556\
            be52afe3f565636ad1b17d508b73d8743eeb524be22b3dcbc2c7468d54119c74\
            68449a13d8e3b95811a198f3491de3e7fe942b330407abf82a4ed7c1b311663a\
            c69890f4157015853d91e923037c227a33cdd5ec281ca3f79c44546b9d90ca00\
            f064c99e3dd97911d39fe9c5d0b23a229a234cb36186c4819e8b9c5927726632\
            291d6a418211cc2962e20fe47feb3edf330f2c603a9d48c0fcb5699dbfe58964\
            25c5bac4aee82e57a85aaf4e2513e4f05796b07ba2ee47d80506f8d2c25e50fd\
            14de71e6c418559302f939b0e1abd576f279c4b2e0feb85c1f28ff18f58891ff\
            ef132eef2fa09346aee33c28eb130ff28f5b766953334113211996d20011a198\
            e3fc433f9f2541010ae17c1bf202580f6047472fb36857fe843b19f5984009dd\
            c324044e847a4f4a0ab34f719595de37252d6235365e9b84392b061085349d73\
            203a4a13e96f5432ec0fd4a1ee65accdd5e3904df54c1da510b0ff20dcc0c77f\
            cb2c0e0eb605cb0504db87632cf3d8b4dae6e705769d1de354270123cb11450e\
            fc60ac47683d7b8d0f811365565fd98c4c8eb936bcab8d069fc33bd801b03ade\
            a2e1fbc5aa463d08ca19896d2bf59a071b851e6c239052172f296bfb5e724047\
            90a2181014f3b94a4e97d117b438130368cc39dbb2d198065ae3986547926cd2\
            162f40a29f0c3c8745c0f50fba3852e566d44575c29d39a03f0cda721984b6f4\
            40591f355e12d439ff150aab7613499dbd49adabc8676eef023b15b65bfc5ca0\
            6948109f23f350db82123535eb8a7433bdabcb909271a6ecbcb58b936a88cd4e\
            8f2e6ff5800175f113253d8fa9ca8885c2f552e657dc603f252e1a8e308f76f0\
            be79e2fb8f5d5fbbe2e30ecadd220723c8c0aea8078cdfcb3868263ff8f09400\
            54da48781893a7e49ad5aff4af300cd804a6b6279ab3ff3afb64491c85194aab\
            760d58a606654f9f4400e8b38591356fbf6425aca26dc85244259ff2b19c41b9\
            f96f3ca9ec1dde434da7d2d392b905ddf3d1f9af93d1af5950bd493f5aa731b4\
            056df31bd267b6b90a079831aaf579be0a39013137aac6d404f518cfd4684064\
            7e78bfe706ca4cf5e9c5453e9f7cfd2b8b4c8d169a44e55c88d4a9a7f9474241\
            e221af44860018ab0856972e194cd934";
        let hex: String = hex.split_whitespace().collect();
        (0..hex.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).unwrap())
            .collect()
    }

    #[test]
    fn rfc9001_client_initial_decrypts_to_its_client_hello() {
        let d = rfc9001_a2();
        assert!(is_initial(&d));
        let init = open_client_initial(&d).expect("decrypts");
        assert_eq!(init.dcid, [0x83, 0x94, 0xc8, 0xf0, 0x3e, 0x51, 0x57, 0x08]);
        assert_eq!(init.packet_number, 2);
        // One CRYPTO frame at offset 0 with the 241-byte ClientHello.
        assert_eq!(init.crypto.len(), 1);
        assert_eq!(init.crypto[0].0, 0);
        assert_eq!(&init.crypto[0].1[..4], &[0x01, 0x00, 0x00, 0xed]);
        let mut a = HelloAssembler::default();
        assert!(a.push(&d));
        assert_eq!(a.hello().map(<[u8]>::len), Some(241));
        let rec = a.hello_record().unwrap();
        let span = crate::probe::hello::sni_span(&rec).expect("an SNI");
        assert_eq!(&rec[span.name..span.name + span.len], b"example.com");
    }

    #[test]
    fn a_flipped_bit_fails_authentication_and_non_initials_are_ignored() {
        let mut d = rfc9001_a2();
        let n = d.len();
        d[n - 30] ^= 1;
        assert!(open_client_initial(&d).is_none());
        let mut a = HelloAssembler::default();
        assert!(!a.push(&d));
        assert!(!a.push(&[0x40, 1, 2, 3, 4, 5, 6, 7, 8]));
        assert_eq!(a.packets, 0);
        assert!(a.hello().is_none());
    }
}
