//! One pass over the raw file, in chunks, before any parsing: decides the encoding, the
//! delimiter and the line endings, and rejects files that are empty or not text.
//!
//! Deciding the encoding needs the whole file (Windows-1252 text may be plain ASCII for
//! its first megabytes), which a streaming decoder cannot look ahead at; one cheap read
//! up front can, and memory stays at one chunk.

use std::io::{self, Read};

use encoding_rs::{Encoding, UTF_8, WINDOWS_1252};

use super::CsvError;
use super::quotes::{OpenQuote, QuoteTracker, Spot};
use text::{Stats, Units, Utf8Check};

mod text;

/// How much of the file the scan holds at once.
pub(super) const CHUNK_SIZE: usize = 64 * 1024;

const BINARY: &str = "contains binary data";

/// Files that people upload by mistake, by their first bytes.
const SIGNATURES: &[(&[u8], &str)] = &[
    (
        b"PK\x03\x04",
        "looks like a spreadsheet (.xlsx); export it as CSV",
    ),
    (
        b"\xD0\xCF\x11\xE0\xA1\xB1\x1A\xE1",
        "looks like an old Excel spreadsheet (.xls); export it as CSV",
    ),
    (b"%PDF-", "looks like a PDF document"),
    (b"\x89PNG", "looks like an image"),
    (b"\xFF\xD8\xFF", "looks like an image"),
    (b"GIF8", "looks like an image"),
];

/// What the scan found out about a file that can be read as CSV.
#[derive(Debug)]
pub(super) struct Scan {
    pub encoding: &'static Encoding,
    pub delimiter: u8,
    /// The file's only line breaks are `\r`s.
    pub cr_only: bool,
    pub unclosed_quote: Option<UnclosedQuote>,
}

/// Where the readable part of a file with a never-closed quote ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct UnclosedQuote {
    /// The line of the record holding the quote.
    pub line: u64,
    /// The byte offset at which reading stops: the start of that record, or the quote
    /// itself when it is in the header, so that the columns before it can still be found.
    pub cut_at: u64,
}

/// Reads `file` from its current position to the end and tells how to parse it.
pub(super) fn scan(mut file: impl Read) -> Result<Scan, CsvError> {
    let mut buf = vec![0; CHUNK_SIZE];
    let first = read_chunk(&mut file, &mut buf)?;
    let mut scanner = Scanner::start(&buf[..first])?;
    let mut chunk = &buf[scanner.bom_len..first];
    loop {
        scanner.feed(chunk)?;
        let n = read_chunk(&mut file, &mut buf)?;
        if n == 0 {
            break;
        }
        chunk = &buf[..n];
    }
    scanner.finish()
}

/// Fills `buf` unless the file ends first. Full chunks put chunk boundaries at fixed
/// offsets, which the tests rely on to split a character across two chunks.
fn read_chunk(file: &mut impl Read, buf: &mut [u8]) -> io::Result<usize> {
    let mut filled = 0;
    while filled < buf.len() {
        match file.read(&mut buf[filled..]) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(filled)
}

/// The state of the scan between chunks.
struct Scanner {
    /// The encoding a BOM declares, if there is one.
    declared: Option<&'static Encoding>,
    bom_len: usize,
    units: Units,
    utf8: Utf8Check,
    stats: Stats,
    comma: QuoteTracker,
    semicolon: QuoteTracker,
}

impl Scanner {
    fn start(first_chunk: &[u8]) -> Result<Self, CsvError> {
        let (declared, bom_len) = match Encoding::for_bom(first_chunk) {
            Some((encoding, len)) => (Some(encoding), len),
            None => {
                reject_known_formats(first_chunk)?;
                (None, 0)
            }
        };
        Ok(Self {
            declared,
            bom_len,
            units: Units::for_encoding(declared),
            utf8: Utf8Check::default(),
            stats: Stats::default(),
            // The delimiter is not known yet, and where quotes open depends on it, so the
            // quoting is followed for both candidates at once.
            comma: QuoteTracker::new(b','),
            semicolon: QuoteTracker::new(b';'),
        })
    }

    fn feed(&mut self, chunk: &[u8]) -> Result<(), CsvError> {
        if self.declared.is_none() {
            self.utf8.feed(chunk);
        }
        let Self {
            units,
            stats,
            comma,
            semicolon,
            ..
        } = self;
        units.split(chunk, |unit| {
            stats.observe(unit);
            comma.observe(unit);
            semicolon.observe(unit);
        });
        // A NUL never appears in text outside UTF-16; stop reading a binary file early.
        if stats.nuls > 0 {
            return Err(CsvError::NotText(BINARY.into()));
        }
        Ok(())
    }

    fn finish(self) -> Result<Scan, CsvError> {
        if !self.stats.non_blank {
            return Err(CsvError::Empty);
        }
        if self.stats.too_many_controls() {
            return Err(CsvError::NotText(BINARY.into()));
        }
        let encoding = self.declared.unwrap_or(if self.utf8.finish() {
            UTF_8
        } else {
            WINDOWS_1252
        });
        // Only a header with more semicolons than commas is semicolon-separated, so that
        // a header with neither (a single column) stays comma-separated.
        let (delimiter, tracker) =
            if self.semicolon.delimiters_in_header() > self.comma.delimiters_in_header() {
                (b';', &self.semicolon)
            } else {
                (b',', &self.comma)
            };
        let cr_only = self.stats.crs > 0 && self.stats.lfs == 0;
        let unclosed_quote = tracker
            .open_quote()
            .map(|open| self.unclosed_quote(open, cr_only));
        Ok(Scan {
            encoding,
            delimiter,
            cr_only,
            unclosed_quote,
        })
    }

    fn unclosed_quote(&self, open: OpenQuote, cr_only: bool) -> UnclosedQuote {
        let cut = if open.in_first_record {
            open.quote
        } else {
            open.record
        };
        let line = if cr_only {
            open.record.line_cr
        } else {
            open.record.line_lf
        };
        UnclosedQuote {
            line,
            cut_at: self.byte_offset(cut),
        }
    }

    fn byte_offset(&self, spot: Spot) -> u64 {
        self.bom_len as u64 + spot.unit * self.units.width()
    }
}

/// Fails for files whose first bytes show a known non-text format, with a hint.
fn reject_known_formats(first_chunk: &[u8]) -> Result<(), CsvError> {
    match SIGNATURES
        .iter()
        .find(|(magic, _)| first_chunk.starts_with(magic))
    {
        Some((_, what)) => Err(CsvError::NotText((*what).into())),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn utf8_valid(chunks: &[&[u8]]) -> bool {
        let mut check = Utf8Check::default();
        chunks.iter().for_each(|chunk| check.feed(chunk));
        check.finish()
    }

    #[test]
    fn utf8_characters_split_between_chunks_are_valid() {
        let euro = "€".as_bytes();
        assert!(utf8_valid(&[
            b"a",
            &euro[..1],
            &euro[1..2],
            &euro[2..],
            b"b"
        ]));
        assert!(utf8_valid(&[&euro[..2], &euro[2..]]));
    }

    #[test]
    fn broken_or_truncated_utf8_is_invalid() {
        let euro = "€".as_bytes();
        assert!(!utf8_valid(&[&euro[..2]]));
        assert!(!utf8_valid(&[&euro[..2], b"x"]));
        assert!(!utf8_valid(&[b"Jos\xe9"]));
    }

    #[test]
    fn utf16_units_split_between_chunks_are_joined() {
        let mut units = Units::Utf16 {
            big_endian: true,
            odd_byte: None,
        };
        let mut seen = Vec::new();
        for chunk in [&b"\x00a\x00"[..], b"", b"b\x20", b"\xAC"] {
            units.split(chunk, |u| seen.push(u));
        }
        assert_eq!(seen, [0x61, 0x62, 0x20AC]);
    }

    #[test]
    fn a_few_control_characters_are_tolerated_but_many_are_binary() {
        let mut stats = Stats::default();
        b"name\x0cx"
            .iter()
            .for_each(|&b| stats.observe(u16::from(b)));
        assert!(!stats.too_many_controls());
        (0..20).for_each(|_| stats.observe(0x01));
        assert!(stats.too_many_controls());
    }
}
