//! Rows of `fetches.csv` that analysis cannot use, counted and located.
//!
//! A torn last line after a crash, a second header pasted in the middle of a
//! concatenated file, a rate of `NaN` or `-3` from a converter, a class
//! spelled `photo`: each is skipped, never guessed at, and reported on stderr
//! with the first line numbers of each kind so the user can look
//! (`analyze --strict` makes any of them an error).

use std::fmt::Write as _;

/// Why a row was not used.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum BadKind {
    /// More or fewer fields than the header (torn or mis-joined line).
    ColumnCount,
    /// A header line in the middle of the file (files concatenated).
    RepeatedHeader,
    /// A numeric cell that is not a finite non-negative number.
    BadNumber,
    /// A `class` that is none of text, image, video, audio, other.
    UnknownClass,
    /// A `group` that is neither target nor control.
    UnknownGroup,
    /// A `direction` that is neither down nor up.
    UnknownDirection,
    /// A `transport` that is neither tcp nor quic.
    UnknownTransport,
    /// No URL.
    NoUrl,
}

impl BadKind {
    pub fn describe(&self) -> &'static str {
        match self {
            BadKind::ColumnCount => "wrong number of fields (torn or mis-joined line)",
            BadKind::RepeatedHeader => "a header line in the middle of the file",
            BadKind::BadNumber => "a number cell that is not a finite number >= 0",
            BadKind::UnknownClass => "unknown class (text, image, video, audio, other)",
            BadKind::UnknownGroup => "unknown group (target, control)",
            BadKind::UnknownDirection => "unknown direction (down, up)",
            BadKind::UnknownTransport => "unknown transport (tcp, quic)",
            BadKind::NoUrl => "empty url",
        }
    }
}

/// How many lines to name per kind.
const FIRST_LINES: usize = 5;

/// Counts of unusable rows per kind, with the first line numbers (1-based,
/// counting the header as line 1).
#[derive(Debug, Clone, Default)]
pub struct BadRows {
    pub kinds: Vec<(BadKind, usize, Vec<u64>)>,
}

impl BadRows {
    pub fn add(&mut self, line: u64, kind: BadKind) {
        let e = match self.kinds.iter_mut().find(|k| k.0 == kind) {
            Some(e) => e,
            None => {
                self.kinds.push((kind, 0, Vec::new()));
                self.kinds.last_mut().expect("just pushed")
            }
        };
        e.1 += 1;
        if e.2.len() < FIRST_LINES {
            e.2.push(line);
        }
    }

    /// Add another part's counts, its line numbers shifted by `offset`. Parts
    /// are absorbed in file order, so the first lines stay the first.
    pub fn absorb(&mut self, other: &BadRows, offset: u64) {
        for (kind, count, lines) in &other.kinds {
            let e = match self.kinds.iter_mut().position(|k| k.0 == *kind) {
                Some(i) => &mut self.kinds[i],
                None => {
                    self.kinds.push((*kind, 0, Vec::new()));
                    self.kinds.last_mut().expect("just pushed")
                }
            };
            e.1 += count;
            for l in lines {
                if e.2.len() < FIRST_LINES {
                    e.2.push(l + offset);
                }
            }
        }
    }

    pub fn total(&self) -> usize {
        self.kinds.iter().map(|k| k.1).sum()
    }

    /// `12 unusable rows skipped: 3 wrong number of fields (lines 4, 9, 20); …`
    pub fn describe(&self) -> String {
        let mut kinds = self.kinds.clone();
        kinds.sort();
        let mut s = format!(
            "{} unusable row{} skipped:",
            self.total(),
            if self.total() == 1 { "" } else { "s" }
        );
        for (i, (kind, count, lines)) in kinds.iter().enumerate() {
            let ls: Vec<String> = lines.iter().map(|l| l.to_string()).collect();
            let more = if *count > lines.len() { ", …" } else { "" };
            let _ = write!(
                s,
                "{} {count} {} (line{} {}{more})",
                if i == 0 { "" } else { ";" },
                kind.describe(),
                if lines.len() == 1 { "" } else { "s" },
                ls.join(", ")
            );
        }
        s
    }
}
