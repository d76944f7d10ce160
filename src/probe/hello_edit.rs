//! Edits to the ClientHello that only `slowlane serve` undoes.
//!
//! `pad`, `ccs-first` and `junk-first` change the bytes on the wire but not
//! what rustls hashed into its transcript, so the reflector removes each
//! edit again (`serve::hello`) before its TLS stack reads the hello. Every
//! edit carries a mark the reflector recognises and an ordinary client never
//! sends: a padding extension of ≥ [`MIN_PAD`] zero bytes, a ChangeCipherSpec
//! record before the hello, or [`JUNK_MAGIC`]. Only a hello in one record is
//! edited (rustls always sends one). (`pq` is no edit: rustls sends a real
//! X25519MLKEM768 share, `probe::pq`.)

use rand::RngCore;

/// The hello is grown to at least this many bytes on the wire (past one
/// 1,500-byte Ethernet packet).
pub const PAD_TO: usize = 1600;
/// Smallest padding the reflector strips: browsers pad to 512 bytes in all,
/// so a padding extension this long comes from the probe.
pub const MIN_PAD: usize = 1024;
const EXT_PADDING: u16 = 21;
/// A ChangeCipherSpec record (TLS 1.2 form, one byte of 1).
pub const CCS: [u8; 6] = [20, 3, 3, 0, 1, 1];
/// The junk packet: this mark then random bytes, [`JUNK_LEN`] in all (the
/// 2021 box stopped inspecting after a non-TLS first packet of ≥ 101 bytes).
pub const JUNK_MAGIC: &[u8; 16] = b"slowlane-junk\0\0\x01";
pub const JUNK_LEN: usize = 128;

fn u16_at(b: &[u8], i: usize) -> Option<usize> {
    Some(u16::from_be_bytes([*b.get(i)?, *b.get(i + 1)?]) as usize)
}

/// Offsets in a single-record ClientHello: of the extensions' total length
/// and of the end of the record.
fn extensions(b: &[u8]) -> Option<(usize, usize)> {
    if *b.first()? != 22 || *b.get(5)? != 1 {
        return None;
    }
    let record_end = 5 + u16_at(b, 3)?;
    let hs_len = u32::from_be_bytes([0, *b.get(6)?, *b.get(7)?, *b.get(8)?]) as usize;
    if b.len() < record_end || 9 + hs_len != record_end {
        return None;
    }
    let mut p = 9 + 2 + 32;
    p += 1 + *b.get(p)? as usize;
    p += 2 + u16_at(b, p)?;
    p += 1 + *b.get(p)? as usize;
    (p + 2 + u16_at(b, p)? == record_end).then_some((p, record_end))
}

/// Offset of the header of extension `ty`, if present.
fn find_ext(b: &[u8], ty: u16) -> Option<usize> {
    let (total, end) = extensions(b)?;
    let mut p = total + 2;
    while p + 4 <= end {
        if u16_at(b, p)? == ty as usize {
            return Some(p);
        }
        p += 4 + u16_at(b, p + 2)?;
    }
    None
}

/// Add `delta` to the record and handshake lengths and to each u16 field
/// at `fields`.
fn grow(b: &mut [u8], fields: &[usize], delta: isize) {
    for &i in [3].iter().chain(fields) {
        let v = u16::from_be_bytes([b[i], b[i + 1]]) as isize + delta;
        b[i..i + 2].copy_from_slice(&(v as u16).to_be_bytes());
    }
    let hs = u32::from_be_bytes([0, b[6], b[7], b[8]]) as isize + delta;
    b[6..9].copy_from_slice(&(hs as u32).to_be_bytes()[1..]);
}

/// Append a padding extension of zeros so the record is ≥ [`PAD_TO`] bytes.
pub fn add_padding(b: &mut Vec<u8>) -> bool {
    let Some((total, end)) = extensions(b) else {
        return false;
    };
    let n = PAD_TO.saturating_sub(end + 4).max(MIN_PAD);
    let mut ext = Vec::with_capacity(4 + n);
    ext.extend_from_slice(&EXT_PADDING.to_be_bytes());
    ext.extend_from_slice(&(n as u16).to_be_bytes());
    ext.resize(4 + n, 0);
    b.splice(end..end, ext);
    grow(b, &[total], (4 + n) as isize);
    true
}

/// Remove the probe's padding extension; whether there was one.
pub fn strip_padding(b: &mut Vec<u8>) -> bool {
    let Some(p) = find_ext(b, EXT_PADDING) else {
        return false;
    };
    let Some((total, _)) = extensions(b) else {
        return false;
    };
    let n = u16_at(b, p + 2).unwrap_or(0);
    if n < MIN_PAD || b[p + 4..p + 4 + n].iter().any(|&x| x != 0) {
        return false;
    }
    b.drain(p..p + 4 + n);
    grow(b, &[total], -((4 + n) as isize));
    true
}

/// The hello record cut into two records at `at` (an offset inside the
/// record's body), both in one buffer.
pub fn two_records(b: &[u8], at: usize) -> Option<Vec<u8>> {
    let end = 5 + u16_at(b, 3)?;
    if *b.first()? != 22 || at <= 5 || at >= end || b.len() < end {
        return None;
    }
    let mut out = Vec::with_capacity(b.len() + 5);
    let hdr = |len: usize| [22, b[1], b[2], (len >> 8) as u8, len as u8];
    out.extend_from_slice(&hdr(at - 5));
    out.extend_from_slice(&b[5..at]);
    out.extend_from_slice(&hdr(end - at));
    out.extend_from_slice(&b[at..]);
    Some(out)
}

/// The junk packet sent before the hello.
pub fn junk() -> Vec<u8> {
    let mut j = vec![0u8; JUNK_LEN];
    j[..JUNK_MAGIC.len()].copy_from_slice(JUNK_MAGIC);
    rand::thread_rng().fill_bytes(&mut j[JUNK_MAGIC.len()..]);
    j
}

/// How many leading bytes of `b` are the probe's junk or ChangeCipherSpec
/// (to drop before the hello); `None`: more bytes are needed to tell.
pub fn preamble_len(b: &[u8]) -> Option<usize> {
    let mut n = 0;
    let starts = |b: &[u8], m: &[u8]| b.starts_with(m) || (b.len() < m.len() && m.starts_with(b));
    if starts(b, JUNK_MAGIC) {
        if b.len() < JUNK_LEN {
            return None;
        }
        n = JUNK_LEN;
    }
    let rest = &b[n..];
    if starts(rest, &CCS) {
        if rest.len() < CCS.len() {
            return None;
        }
        n += CCS.len();
    }
    Some(n)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testbed::clienthello::parse_client_hello;

    use crate::probe::hello::tests::hello;

    #[test]
    fn padding_round_trips_and_parses() {
        let orig = hello("pbs.twimg.com");
        let mut b = orig.clone();
        assert!(add_padding(&mut b));
        assert!(b.len() >= PAD_TO, "{}", b.len());
        let h = parse_client_hello(&b, false).unwrap();
        assert_eq!(h.sni.as_deref(), Some("pbs.twimg.com"));
        assert!(strip_padding(&mut b));
        assert_eq!(b, orig);
        assert!(!strip_padding(&mut b));
    }

    #[test]
    fn two_records_join_back_and_preambles_are_measured() {
        let orig = hello("t.co");
        let r = two_records(&orig, 40).unwrap();
        assert_eq!(r.len(), orig.len() + 5);
        assert_eq!(
            parse_client_hello(&r, false),
            Err(crate::testbed::HelloError::Incomplete)
        );
        let h = parse_client_hello(&r, true).unwrap();
        assert_eq!((h.sni.as_deref(), h.records), (Some("t.co"), 2));
        let mut j = junk();
        assert_eq!(preamble_len(&j[..50]), None);
        j.extend_from_slice(&CCS);
        j.extend_from_slice(&orig);
        assert_eq!(preamble_len(&j), Some(JUNK_LEN + CCS.len()));
        assert_eq!(preamble_len(&orig), Some(0));
        assert_eq!(preamble_len(&CCS[..3]), None);
    }
}
