//! Reading raw bytes as text: code units in the file's encoding, the counts that tell
//! text from binary, and UTF-8 validity across chunk boundaries.

use encoding_rs::{Encoding, UTF_16BE, UTF_16LE};

/// Files with more control characters than this, per 100 characters, are not text.
const MAX_CONTROL_PERCENT: u64 = 1;
/// ...unless there are only a few: a stray form feed pasted into a small file is not binary.
const TOLERATED_CONTROLS: u64 = 8;

/// Splits raw bytes into code units: bytes, or UTF-16 units in the BOM's byte order.
/// The ASCII characters the scan cares about are single units either way.
pub(super) enum Units {
    Bytes,
    Utf16 {
        big_endian: bool,
        odd_byte: Option<u8>,
    },
}

impl Units {
    pub(super) fn for_encoding(declared: Option<&'static Encoding>) -> Self {
        match declared {
            Some(encoding) if encoding == UTF_16LE => Self::Utf16 {
                big_endian: false,
                odd_byte: None,
            },
            Some(encoding) if encoding == UTF_16BE => Self::Utf16 {
                big_endian: true,
                odd_byte: None,
            },
            _ => Self::Bytes,
        }
    }

    pub(super) fn width(&self) -> u64 {
        match self {
            Self::Bytes => 1,
            Self::Utf16 { .. } => 2,
        }
    }

    pub(super) fn split(&mut self, chunk: &[u8], mut each: impl FnMut(u16)) {
        match self {
            Self::Bytes => chunk.iter().for_each(|&b| each(u16::from(b))),
            Self::Utf16 {
                big_endian,
                odd_byte,
            } => {
                let mut rest = chunk;
                // A unit split across two chunks: its first byte was kept from the last one.
                if let Some(first) = odd_byte.take() {
                    let Some((&second, tail)) = rest.split_first() else {
                        *odd_byte = Some(first);
                        return;
                    };
                    each(utf16_unit([first, second], *big_endian));
                    rest = tail;
                }
                let mut pairs = rest.chunks_exact(2);
                pairs
                    .by_ref()
                    .for_each(|pair| each(utf16_unit([pair[0], pair[1]], *big_endian)));
                if let [last] = pairs.remainder() {
                    *odd_byte = Some(*last);
                }
            }
        }
    }
}

pub(super) fn utf16_unit(bytes: [u8; 2], big_endian: bool) -> u16 {
    if big_endian {
        u16::from_be_bytes(bytes)
    } else {
        u16::from_le_bytes(bytes)
    }
}

/// Counts what tells text from binary, and blank from not.
#[derive(Default)]
pub(super) struct Stats {
    pub(super) units: u64,
    pub(super) controls: u64,
    pub(super) nuls: u64,
    pub(super) lfs: u64,
    pub(super) crs: u64,
    pub(super) non_blank: bool,
}

impl Stats {
    pub(super) fn observe(&mut self, unit: u16) {
        self.units += 1;
        match unit {
            0x00 => self.nuls += 1,
            0x0A => self.lfs += 1,
            0x0D => self.crs += 1,
            0x09 | 0x20 => {}
            // Vertical tab and form feed leave a file blank, but are rare in text.
            0x0B | 0x0C => self.controls += 1,
            0x01..=0x1F | 0x7F => {
                self.controls += 1;
                self.non_blank = true;
            }
            _ => self.non_blank = true,
        }
    }

    pub(super) fn too_many_controls(&self) -> bool {
        self.controls > TOLERATED_CONTROLS && self.controls * 100 > self.units * MAX_CONTROL_PERCENT
    }
}

/// Checks that a stream of chunks is valid UTF-8, including characters whose bytes are
/// split between two chunks.
#[derive(Default)]
pub(super) struct Utf8Check {
    invalid: bool,
    /// The start of a character cut off at the end of the last chunk (at most 3 bytes).
    pending: Vec<u8>,
}

impl Utf8Check {
    pub(super) fn feed(&mut self, mut chunk: &[u8]) {
        if self.invalid {
            return;
        }
        if let Some(&lead) = self.pending.first() {
            let missing = utf8_width(lead) - self.pending.len();
            let (tail, rest) = chunk.split_at(missing.min(chunk.len()));
            self.pending.extend_from_slice(tail);
            chunk = rest;
            match std::str::from_utf8(&self.pending) {
                Ok(_) => self.pending.clear(),
                // Still incomplete: this chunk was shorter than the character's tail.
                Err(e) if e.error_len().is_none() => return,
                Err(_) => {
                    self.invalid = true;
                    return;
                }
            }
        }
        if let Err(e) = std::str::from_utf8(chunk) {
            match e.error_len() {
                None => self.pending = chunk[e.valid_up_to()..].to_vec(),
                Some(_) => self.invalid = true,
            }
        }
    }

    /// Whether everything fed was valid UTF-8, ending on a whole character.
    pub(super) fn finish(&self) -> bool {
        !self.invalid && self.pending.is_empty()
    }
}

/// The length of a UTF-8 sequence from its first byte (only called on valid lead bytes).
pub(super) fn utf8_width(lead: u8) -> usize {
    match lead {
        0xC0..=0xDF => 2,
        0xE0..=0xEF => 3,
        _ => 4,
    }
}
