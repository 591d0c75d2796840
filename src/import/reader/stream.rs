//! The byte stream the CSV parser reads: the file, counted, cut short if need be, decoded
//! to UTF-8 and with its line endings made uniform.

use std::fs::File;
use std::io::{self, Read};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use encoding_rs_io::{DecodeReaderBytes, DecodeReaderBytesBuilder};

use super::scan::Scan;

/// The decoded stream handed to `csv::Reader`.
pub(super) type Decoded = LineEndings<DecodeReaderBytes<io::Take<Counted<File>>, Vec<u8>>>;

/// Builds the decoded stream for a file positioned at its start.
///
/// The encoding is always set explicitly (never left to `encoding_rs_io`'s own BOM
/// sniffing), because without a BOM that crate passes bytes through undecoded, which would
/// hand Windows-1252 text to the parser as invalid UTF-8. An explicit encoding still drops
/// a matching BOM, since `encoding_rs_io` builds it with `new_decoder_with_bom_removal`.
pub(super) fn decoded(file: File, scan: &Scan, progress: Arc<AtomicU64>) -> Decoded {
    let limit = scan
        .unclosed_quote
        .as_ref()
        .map_or(u64::MAX, |quote| quote.cut_at);
    let counted = Counted {
        inner: file,
        count: progress,
    };
    let decoder = DecodeReaderBytesBuilder::new()
        .encoding(Some(scan.encoding))
        .build(counted.take(limit));
    LineEndings::new(decoder, scan.cr_only)
}

/// Counts the bytes read from the file, for `CsvRows::bytes_read`.
///
/// The count is shared through an atomic rather than read back through the reader stack
/// because `DecodeReaderBytes` gives no access to the reader it wraps; an atomic (not a
/// `Cell`) keeps `CsvRows` `Send`, as the import runs it on a blocking thread.
pub(super) struct Counted<R> {
    inner: R,
    count: Arc<AtomicU64>,
}

impl<R: Read> Read for Counted<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.count.fetch_add(n as u64, Ordering::Relaxed);
        Ok(n)
    }
}

/// Makes every record end with `\n`, so that the parser's line count tells where each
/// record starts (see `CsvRows::start_line`):
/// - in a file whose only line breaks are `\r` (old Mac exports) each `\r` becomes `\n`;
/// - a `\n` is added after the last byte if the file does not end with one.
pub(super) struct LineEndings<R> {
    inner: R,
    cr_to_lf: bool,
    last: Option<u8>,
    done: bool,
}

impl<R> LineEndings<R> {
    fn new(inner: R, cr_to_lf: bool) -> Self {
        Self {
            inner,
            cr_to_lf,
            last: None,
            done: false,
        }
    }
}

impl<R: Read> Read for LineEndings<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        // An empty buffer reads 0 bytes from anything; that must not be taken for the end.
        if self.done || buf.is_empty() {
            return Ok(0);
        }
        let n = self.inner.read(buf)?;
        if n == 0 {
            self.done = true;
            let needs_newline = self.last.is_some_and(|last| last != b'\n');
            if needs_newline {
                buf[0] = b'\n';
            }
            return Ok(usize::from(needs_newline));
        }
        let read = &mut buf[..n];
        if self.cr_to_lf {
            read.iter_mut()
                .filter(|b| **b == b'\r')
                .for_each(|b| *b = b'\n');
        }
        self.last = read.last().copied();
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn normalise(input: &[u8], cr_to_lf: bool) -> Vec<u8> {
        let mut out = Vec::new();
        LineEndings::new(input, cr_to_lf)
            .read_to_end(&mut out)
            .unwrap();
        out
    }

    #[test]
    fn a_final_newline_is_added_only_when_missing() {
        assert_eq!(normalise(b"a,b", false), b"a,b\n");
        assert_eq!(normalise(b"a,b\n", false), b"a,b\n");
        assert_eq!(normalise(b"a,b\r\n", false), b"a,b\r\n");
        assert_eq!(normalise(b"", false), b"");
    }

    #[test]
    fn carriage_returns_become_newlines_only_when_asked() {
        assert_eq!(normalise(b"a\rb\r", true), b"a\nb\n");
        assert_eq!(normalise(b"a\r\nb", false), b"a\r\nb\n");
    }
}
