//! How far the lab middlebox looks for a name: the DPI behaviours that the
//! A/B variants probe (`docs/reflector.md`, the evasion matrix).
//!
//! Each field is one behaviour seen on a real box. The 2021 Russian box read
//! only the first segment, needed the whole hello in one record, and gave up
//! after a non-TLS first packet; the 2024-25 one (`tspu-2025`) reassembled a
//! split beyond byte 2, read the name from the first TLS record when it
//! held it, skipped junk first packets and read an urgent byte as data.

use serde::Deserialize;

use super::clienthello::{sni_in_first_record, ClientHello};
use super::sniff::{sniff, Sniff};

/// What the middlebox inspects before it decides.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Inspect {
    /// Client segments read before deciding: 1 = the first segment only (a
    /// "segment" is one read of at most the announced MSS). More reassembles
    /// a hello split over up to that many segments.
    pub segments: usize,
    /// Join a hello split over TLS records. Off: only the first record is
    /// parsed, and its name is used when the record holds all of it.
    pub join_records: bool,
    /// A first segment shorter than this many bytes ends inspection (too
    /// short to tell TLS: a split at byte 1 or 2 escaped the 2024-25 box).
    pub min_first_segment: usize,
    /// Skip a non-TLS first packet (junk, a ChangeCipherSpec record) and
    /// look at the next one; off: such a packet ends inspection.
    pub skip_junk: bool,
    /// With `skip_junk`: a non-TLS first packet of at least this many bytes
    /// ends inspection all the same (the 2021 box: 101).
    pub junk_gives_up: Option<usize>,
    /// Skip ChangeCipherSpec records before the hello (the 2021 box did
    /// not: a CCS record first hid the name).
    pub skip_ccs: bool,
    /// Read an urgent (TCP out-of-band) byte as stream data, as a box that
    /// ignores the URG flag does: the hello then does not start the stream.
    /// Off: the urgent byte is left out, as the receiving kernel does.
    pub urgent_inline: bool,
}

impl Default for Inspect {
    fn default() -> Inspect {
        Inspect {
            segments: 1,
            join_records: false,
            min_first_segment: 0,
            skip_junk: false,
            junk_gives_up: None,
            skip_ccs: false,
            urgent_inline: false,
        }
    }
}

/// Segments read at most when reassembling (`reassemble = true`).
pub const REASSEMBLE_SEGMENTS: usize = 16;

impl Inspect {
    /// The old `reassemble = true`: join segments and records.
    pub fn reassembling() -> Inspect {
        Inspect {
            segments: REASSEMBLE_SEGMENTS,
            join_records: true,
            ..Inspect::default()
        }
    }

    /// Whether the first packet (`first` bytes of `view`) is junk the box
    /// skips to look at the next one.
    fn skips(&self, view: &[u8], first: usize) -> bool {
        if !self.skip_junk || first == 0 {
            return false;
        }
        let head = &view[..first.min(view.len())];
        // Junk: neither (the start of) a TLS hello nor an HTTP request.
        let junk = matches!(sniff(head, true), Sniff::Unknown { tls: false });
        let ccs = self.skip_ccs && head[0] == 20;
        junk && !ccs && self.junk_gives_up.is_none_or(|n| first < n)
    }

    /// Segments the box reads at most for this connection: one more when
    /// it skipped a junk first packet.
    pub fn segment_limit(&self, buf: &[u8], segs: &[usize], urgent: Option<u8>) -> usize {
        let (view, first) = Self::view(buf, segs, urgent);
        self.segments.max(1) + usize::from(self.skips(&view, first))
    }

    /// The bytes as the box reads them and the first packet's length.
    fn view(buf: &[u8], segs: &[usize], urgent: Option<u8>) -> (Vec<u8>, usize) {
        // An urgent byte read as data belongs to the first packet.
        let first = segs.first().copied().unwrap_or(0) + usize::from(urgent.is_some());
        let mut view: Vec<u8> = urgent.into_iter().collect();
        view.extend_from_slice(buf);
        (view, first)
    }

    /// Classify the segments read so far (`segs`: their lengths, in order;
    /// `buf`: their bytes; `urgent`: an urgent byte the box reads as data).
    /// `Sniff::Incomplete` means: read another segment if allowed.
    pub fn classify(&self, buf: &[u8], segs: &[usize], urgent: Option<u8>) -> Sniff {
        let (view, first) = Self::view(buf, segs, urgent);
        if first < self.min_first_segment {
            return Sniff::Unknown {
                tls: buf.first() == Some(&22),
            };
        }
        let mut view = &view[..];
        if self.skips(view, first) {
            if segs.len() < 2 {
                return Sniff::Incomplete { tls: false };
            }
            view = &view[first..];
        }
        while self.skip_ccs && view.len() >= 5 && view[0] == 20 && view[1] == 3 {
            let len = u16::from_be_bytes([view[3], view[4]]) as usize;
            view = view.get(5 + len..).unwrap_or_default();
        }
        match sniff(view, self.join_records) {
            Sniff::Incomplete { tls: true } if !self.join_records => {
                // A hello over several records: the first record's name, if
                // that record is whole and holds all of it.
                match sni_in_first_record(view) {
                    Some(Ok(sni)) => Sniff::Tls(ClientHello {
                        sni: Some(sni),
                        alpn: Vec::new(),
                        version: 0x0303,
                        records: 1,
                    }),
                    Some(Err(())) => Sniff::Unknown { tls: true },
                    None => Sniff::Incomplete { tls: true },
                }
            }
            s => s,
        }
    }
}
