//! Reads invitees from a CSV file as exported by spreadsheets, one row at a time.
//!
//! The file is read twice: once up front in chunks ([`scan`]) to decide its encoding,
//! delimiter and line endings and to reject files that are not CSV, then as a decoded
//! stream parsed by the `csv` crate. Memory stays flat whatever the file's size.

mod quotes;
mod scan;
mod stream;

use std::fs::File;
use std::io::{self, Seek};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use csv::StringRecord;

use crate::domain::invitee::NewInvitee;
use crate::domain::{Email, EmailError};
use scan::UnclosedQuote;
use stream::Decoded;

/// The columns a file must have, matched after trimming and lowercasing the header.
pub const REQUIRED_COLUMNS: [&str; 5] = ["email", "name", "college", "branch", "year"];

/// The longest field (in bytes, as UTF-8) a row may have. No real name, college or note
/// comes near it; a longer one is a broken export (a stray quote swallowing lines, say)
/// and is refused rather than stored.
pub const MAX_FIELD_BYTES: usize = 64 * 1024;

/// Why a file cannot be read at all.
#[derive(Debug, thiserror::Error)]
pub enum CsvError {
    /// Zero bytes, only a BOM, or only whitespace. (A header without rows is not empty.)
    #[error("the file is empty")]
    Empty,
    /// Binary data, such as a spreadsheet or an image uploaded by mistake.
    #[error("the file is not a CSV text file ({0})")]
    NotText(String),
    /// The header lacks these columns, listed in [`REQUIRED_COLUMNS`] order.
    #[error("missing required column(s): {}", .0.join(", "))]
    MissingColumns(Vec<String>),
    #[error("could not read the file: {0}")]
    Io(#[from] io::Error),
}

/// How a file was read: what a preview shows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CsvFormat {
    /// The encoding's name, such as `UTF-8` or `windows-1252`.
    pub encoding: &'static str,
    pub delimiter: char,
    /// The header's column names, as written (trimmed).
    pub columns: Vec<String>,
}

/// A row that did not, with the 1-based line number where the record starts in the file.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct RowError {
    pub line: u64,
    /// The row's email as written (trimmed), if it had one.
    pub email: Option<String>,
    pub message: String,
}

/// Opens a CSV file that is fully on disk and prepares to stream its data rows.
///
/// The file is read from its start, wherever its cursor is. Fails if the file is empty,
/// not text, or lacks a required column; problems with single rows come out of the
/// iterator instead.
pub fn read_csv(mut file: File) -> Result<CsvRows, CsvError> {
    let file_len = file.metadata()?.len();
    file.rewind()?;
    let scan = scan::scan(&mut file)?;
    file.rewind()?;
    let progress = Arc::new(AtomicU64::new(0));
    let mut reader = csv::ReaderBuilder::new()
        // The header is read by hand, so that blank records before it are skipped.
        .has_headers(false)
        .flexible(true)
        .delimiter(scan.delimiter)
        // Ending records at `\n` only (a `\r` before it stays in the field, which is
        // trimmed) is what lets `CsvRows::start_line` work; see `stream::LineEndings`.
        .terminator(csv::Terminator::Any(b'\n'))
        .from_reader(stream::decoded(file, &scan, Arc::clone(&progress)));
    let (columns, names) = read_header(&mut reader)?;
    let format = CsvFormat {
        encoding: scan.encoding.name(),
        delimiter: char::from(scan.delimiter),
        columns: names,
    };
    Ok(CsvRows {
        format,
        reader,
        record: StringRecord::new(),
        columns,
        progress,
        file_len,
        unclosed_quote: scan.unclosed_quote,
        done: false,
    })
}

/// Reads the first non-blank record and finds the required columns in it.
fn read_header(reader: &mut csv::Reader<Decoded>) -> Result<([usize; 5], Vec<String>), CsvError> {
    let mut header = StringRecord::new();
    while reader.read_record(&mut header).map_err(io::Error::from)? {
        if !is_blank(&header) {
            break;
        }
    }
    let names = header
        .iter()
        .map(|name| name.trim_matches(|c: char| c.is_whitespace() || c == '\u{FEFF}'))
        .map(str::to_owned)
        .collect();
    Ok((column_indexes(&header)?, names))
}

/// Where each of [`REQUIRED_COLUMNS`] is in the header.
fn column_indexes(header: &StringRecord) -> Result<[usize; 5], CsvError> {
    // Trimming U+FEFF as well copes with files saved with their BOM doubled.
    let names: Vec<String> = header
        .iter()
        .map(|name| {
            name.trim_matches(|c: char| c.is_whitespace() || c == '\u{FEFF}')
                .to_lowercase()
        })
        .collect();
    let mut indexes = [0; REQUIRED_COLUMNS.len()];
    let mut missing = Vec::new();
    for (index, column) in indexes.iter_mut().zip(REQUIRED_COLUMNS) {
        match names.iter().position(|name| name == column) {
            Some(found) => *index = found,
            None => missing.push(column.to_owned()),
        }
    }
    if missing.is_empty() {
        Ok(indexes)
    } else {
        Err(CsvError::MissingColumns(missing))
    }
}

/// The data rows of a CSV file, validated one by one as they are read.
pub struct CsvRows {
    format: CsvFormat,
    reader: csv::Reader<Decoded>,
    /// Reused for every record, to avoid an allocation per row.
    record: StringRecord,
    /// Index of each of [`REQUIRED_COLUMNS`] in a record.
    columns: [usize; 5],
    progress: Arc<AtomicU64>,
    file_len: u64,
    /// Reported after the rows before it, where the stream was cut short.
    unclosed_quote: Option<UnclosedQuote>,
    done: bool,
}

impl CsvRows {
    pub fn format(&self) -> &CsvFormat {
        &self.format
    }

    /// The line on which the row last handed out starts (a refused row carries its own).
    pub fn line(&self) -> u64 {
        self.start_line()
    }

    /// Bytes of the underlying file consumed so far (for a progress bar); monotonically
    /// increasing, <= file length.
    ///
    /// Reading runs a little ahead of the rows handed out (by the parser's buffer), and
    /// reaches the file length once the last row is out.
    pub fn bytes_read(&self) -> u64 {
        self.progress.load(Ordering::Relaxed).min(self.file_len)
    }

    /// The line on which the record just read starts.
    ///
    /// `csv::Position::line()` of a record is where the previous record ended, which is a
    /// line early after CRLF and ignores blank lines before the record. The parser's line
    /// count after the record is exact, though: every record ends in a `\n` (the stream
    /// sees to it), so the record starts that many lines back, less the line breaks
    /// inside its quoted fields.
    fn start_line(&self) -> u64 {
        let line_after = self.reader.position().line();
        let inner_breaks = self
            .record
            .iter()
            .map(|field| field.matches('\n').count())
            .sum::<usize>();
        line_after.saturating_sub(1 + inner_breaks as u64).max(1)
    }

    fn row(&self) -> Result<NewInvitee, RowError> {
        // Every field counts, not only the stored ones: an oversized extra column is as
        // sure a sign that the row was not read as its author meant.
        if let Some(index) = self
            .record
            .iter()
            .position(|field| field.len() > MAX_FIELD_BYTES)
        {
            return Err(self.oversized(index));
        }
        let fields = self
            .columns
            .map(|index| self.record.get(index).unwrap_or("").trim());
        new_invitee(fields, self.start_line())
    }

    fn oversized(&self, index: usize) -> RowError {
        let column = self.columns.iter().position(|&c| c == index).map_or_else(
            || format!("column {}", index + 1),
            |i| REQUIRED_COLUMNS[i].to_owned(),
        );
        let email = self.record.get(self.columns[0]).map(str::trim);
        RowError {
            line: self.start_line(),
            // An oversized email is not worth echoing back.
            email: email
                .filter(|e| !e.is_empty() && e.len() <= 320)
                .map(str::to_owned),
            message: format!("{column} is longer than {} KiB", MAX_FIELD_BYTES / 1024),
        }
    }

    /// Ends the rows: with the error for a never-closed quote, if the stream was cut there.
    fn finish(&mut self) -> Option<Result<NewInvitee, RowError>> {
        self.done = true;
        let quote = self.unclosed_quote.take()?;
        // The rest of the file is deliberately left unread; it is done with all the same.
        self.progress.fetch_max(self.file_len, Ordering::Relaxed);
        Some(Err(RowError {
            line: quote.line,
            email: None,
            message:
                "a quoted field starting on this line is never closed (is there a stray \"?), \
                      so this line and the rest of the file could not be read"
                    .into(),
        }))
    }

    fn read_failed(&mut self, error: csv::Error) -> Option<Result<NewInvitee, RowError>> {
        self.done = true;
        Some(Err(RowError {
            line: self.reader.position().line(),
            email: None,
            message: format!("could not read the rest of the file: {error}"),
        }))
    }
}

impl Iterator for CsvRows {
    type Item = Result<NewInvitee, RowError>;

    fn next(&mut self) -> Option<Self::Item> {
        while !self.done {
            match self.reader.read_record(&mut self.record) {
                Ok(true) if is_blank(&self.record) => continue,
                Ok(true) => return Some(self.row()),
                Ok(false) => return self.finish(),
                // The decoded stream is valid UTF-8 and the reader is flexible, so this is
                // an I/O error, after which there is nothing sensible left to read.
                Err(error) => return self.read_failed(error),
            }
        }
        None
    }
}

/// Whether every field of a record is empty or whitespace (a line of commas, say).
fn is_blank(record: &StringRecord) -> bool {
    record.iter().all(|field| field.trim().is_empty())
}

/// Validates a row's trimmed fields, given in [`REQUIRED_COLUMNS`] order; reports the
/// first problem.
fn new_invitee(fields: [&str; 5], line: u64) -> Result<NewInvitee, RowError> {
    let [raw_email, name, college, branch, year] = fields;
    let error = |message: String| RowError {
        line,
        email: (!raw_email.is_empty()).then(|| raw_email.to_owned()),
        message,
    };
    let email = Email::parse(raw_email).map_err(|e: EmailError| error(e.to_string()))?;
    if let Some((column, _)) = REQUIRED_COLUMNS
        .iter()
        .zip(fields)
        .skip(1)
        .find(|(_, value)| value.is_empty())
    {
        return Err(error(format!("{column} is empty")));
    }
    Ok(NewInvitee {
        email,
        name: name.to_owned(),
        college: college.to_owned(),
        branch: branch.to_owned(),
        year: year.to_owned(),
    })
}

#[cfg(test)]
mod tests;
