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

/// A row that passed validation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Candidate {
    pub email: Email,
    pub name: String,
    pub college: String,
    pub branch: String,
    pub year: String,
}

/// A row that did not, with the 1-based line number where the record starts in the file.
#[derive(Debug, Clone, PartialEq, Eq)]
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
    let columns = read_header(&mut reader)?;
    Ok(CsvRows {
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
fn read_header(reader: &mut csv::Reader<Decoded>) -> Result<[usize; 5], CsvError> {
    let mut header = StringRecord::new();
    while reader.read_record(&mut header).map_err(io::Error::from)? {
        if !is_blank(&header) {
            break;
        }
    }
    column_indexes(&header)
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

    fn row(&self) -> Result<Candidate, RowError> {
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
        candidate(fields, self.start_line())
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
    fn finish(&mut self) -> Option<Result<Candidate, RowError>> {
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

    fn read_failed(&mut self, error: csv::Error) -> Option<Result<Candidate, RowError>> {
        self.done = true;
        Some(Err(RowError {
            line: self.reader.position().line(),
            email: None,
            message: format!("could not read the rest of the file: {error}"),
        }))
    }
}

impl Iterator for CsvRows {
    type Item = Result<Candidate, RowError>;

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
fn candidate(fields: [&str; 5], line: u64) -> Result<Candidate, RowError> {
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
    Ok(Candidate {
        email,
        name: name.to_owned(),
        college: college.to_owned(),
        branch: branch.to_owned(),
        year: year.to_owned(),
    })
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use proptest::prelude::*;

    use super::*;

    const HEADER: &str = "email,name,college,branch,year\n";

    /// A file holding `bytes`, left positioned at its end, as after an upload.
    fn file_with(bytes: &[u8]) -> File {
        let mut file = tempfile::tempfile().unwrap();
        file.write_all(bytes).unwrap();
        file
    }

    fn rows(bytes: &[u8]) -> Vec<Result<Candidate, RowError>> {
        read_csv(file_with(bytes)).unwrap().collect()
    }

    fn candidates(bytes: &[u8]) -> Vec<Candidate> {
        rows(bytes).into_iter().map(|row| row.unwrap()).collect()
    }

    fn error(bytes: &[u8]) -> CsvError {
        read_csv(file_with(bytes))
            .err()
            .expect("the file should be rejected")
    }

    fn candidate(email: &str, name: &str, college: &str, branch: &str, year: &str) -> Candidate {
        Candidate {
            email: Email::parse(email).unwrap(),
            name: name.into(),
            college: college.into(),
            branch: branch.into(),
            year: year.into(),
        }
    }

    fn ana() -> Candidate {
        candidate("ana@x.org", "Ana", "MIT", "CS", "2")
    }

    fn row_error(line: u64, email: Option<&str>, message: &str) -> Result<Candidate, RowError> {
        Err(RowError {
            line,
            email: email.map(Into::into),
            message: message.into(),
        })
    }

    fn utf16(text: &str, big_endian: bool) -> Vec<u8> {
        let units = std::iter::once(0xFEFF).chain(text.encode_utf16());
        if big_endian {
            units.flat_map(u16::to_be_bytes).collect()
        } else {
            units.flat_map(u16::to_le_bytes).collect()
        }
    }

    #[test]
    fn plain_utf8_rows_are_read_with_fields_trimmed() {
        let text = format!(
            "{HEADER} Ana@X.org , Ana ,MIT, CS ,2\nbo@y.org,Bó Ñandú,Universität,EE,2025\n"
        );
        assert_eq!(
            candidates(text.as_bytes()),
            [
                ana(),
                candidate("bo@y.org", "Bó Ñandú", "Universität", "EE", "2025")
            ]
        );
    }

    #[test]
    fn a_utf8_bom_does_not_break_the_first_header_name() {
        let text = format!("\u{FEFF}{HEADER}ana@x.org,Ana,MIT,CS,2\n");
        assert_eq!(candidates(text.as_bytes()), [ana()]);
    }

    #[test]
    fn utf16_little_endian_with_a_bom_is_decoded() {
        let text = format!("{HEADER}ana@x.org,Ana,MIT,CS,2\r\nzoe@x.org,Zoë 😀,MIT,CS,2\r\n");
        let rows = candidates(&utf16(&text, false));
        assert_eq!(
            rows,
            [ana(), candidate("zoe@x.org", "Zoë 😀", "MIT", "CS", "2")]
        );
    }

    #[test]
    fn utf16_big_endian_with_a_bom_is_decoded() {
        let text = format!("{HEADER}ana@x.org,Ana,MIT,CS,2\nzoe@x.org,Zoë,MIT,CS,2\n");
        let rows = candidates(&utf16(&text, true));
        assert_eq!(
            rows,
            [ana(), candidate("zoe@x.org", "Zoë", "MIT", "CS", "2")]
        );
    }

    #[test]
    fn bytes_that_are_not_utf8_are_decoded_as_windows_1252() {
        let mut bytes = HEADER.as_bytes().to_vec();
        bytes.extend_from_slice(b"jose@x.org,Jos\xe9 \x93Pep\xe9\x94,MIT,CS,2\n");
        assert_eq!(
            candidates(&bytes),
            [candidate("jose@x.org", "José “Pepé”", "MIT", "CS", "2")]
        );
    }

    #[test]
    fn windows_1252_is_detected_even_when_its_first_non_ascii_byte_is_past_the_first_chunk() {
        let mut bytes = HEADER.as_bytes().to_vec();
        while bytes.len() < scan::CHUNK_SIZE + 10 {
            bytes.extend_from_slice(b"ana@x.org,Ana,MIT,CS,2\n");
        }
        bytes.extend_from_slice(b"jose@x.org,Jos\xe9,MIT,CS,2\n");
        let rows = candidates(&bytes);
        assert_eq!(rows.last().unwrap().name, "José");
    }

    #[test]
    fn a_utf8_character_split_between_scan_chunks_keeps_the_file_utf8() {
        let mut text = String::from(HEADER);
        let row = "ana@x.org,Ana,MIT,CS,2\n";
        while text.len() + row.len() < scan::CHUNK_SIZE - 20 {
            text.push_str(row);
        }
        // Pad the name so that the 3-byte '€' starts one byte before the chunk boundary.
        let prefix = "eu@x.org,";
        let padding = scan::CHUNK_SIZE - 1 - text.len() - prefix.len();
        text.push_str(&format!("{prefix}{}€,MIT,CS,2\n", "x".repeat(padding)));
        assert_eq!(text.find('€'), Some(scan::CHUNK_SIZE - 1));
        text.push_str("zoe@x.org,Zoë,MIT,CS,2\n");
        let rows = candidates(text.as_bytes());
        assert!(rows[rows.len() - 2].name.ends_with("x€"));
        assert_eq!(rows.last().unwrap().name, "Zoë");
    }

    #[test]
    fn crlf_line_endings_are_read_with_the_right_line_numbers() {
        let text =
            "email,name,college,branch,year\r\nana@x.org,Ana,MIT,CS,2\r\nbad,Bo,MIT,CS,2\r\n";
        let rows = rows(text.as_bytes());
        assert_eq!(
            rows,
            [
                Ok(ana()),
                row_error(3, Some("bad"), "'bad' is not a valid email address")
            ]
        );
    }

    #[test]
    fn lines_ending_in_carriage_returns_only_are_read_with_the_right_line_numbers() {
        let text = "email,name,college,branch,year\rana@x.org,Ana,MIT,CS,2\r\rbad,Bo,MIT,CS,2";
        let rows = rows(text.as_bytes());
        assert_eq!(
            rows,
            [
                Ok(ana()),
                row_error(4, Some("bad"), "'bad' is not a valid email address")
            ]
        );
    }

    #[test]
    fn quoted_fields_may_hold_commas_quotes_and_newlines() {
        let text = format!(
            "{HEADER}ana@x.org,\"Lima, Ana \"\"Nana\"\"\",\"MIT\r\nBoston\",CS,2\r\n\
             bo@x.org,\"Bo\nBo\",MIT,CS,\"\"\nbad,Cy,MIT,CS,2\n"
        );
        let rows = rows(text.as_bytes());
        assert_eq!(
            rows,
            [
                Ok(candidate(
                    "ana@x.org",
                    "Lima, Ana \"Nana\"",
                    "MIT\r\nBoston",
                    "CS",
                    "2"
                )),
                row_error(4, Some("bo@x.org"), "year is empty"),
                row_error(6, Some("bad"), "'bad' is not a valid email address"),
            ]
        );
    }

    #[test]
    fn a_semicolon_separated_file_is_recognised() {
        let text = "\"email\";name;college;branch;year\nana@x.org;Ana;MIT;CS;2\nbo@x.org;\"Bo; Jr, Sr\";MIT;CS;2,5\n";
        assert_eq!(
            candidates(text.as_bytes()),
            [
                ana(),
                candidate("bo@x.org", "Bo; Jr, Sr", "MIT", "CS", "2,5")
            ]
        );
    }

    #[test]
    fn commas_inside_a_quoted_header_name_do_not_make_a_file_comma_separated() {
        let text =
            "email;name;college;branch;year;\"notes, misc, other\"\nana@x.org;Ana;MIT;CS;2;x\n";
        assert_eq!(candidates(text.as_bytes()), [ana()]);
    }

    #[test]
    fn columns_match_in_any_order_and_case_with_spaces_and_extra_columns() {
        let text = "Year , ID,COLLEGE, Email ,Branch,name ,Notes\n2,17,MIT,ana@x.org,CS,Ana,hi\n";
        assert_eq!(candidates(text.as_bytes()), [ana()]);
    }

    #[test]
    fn missing_columns_are_listed_in_the_required_order() {
        let err = error(b"Year,e-mail,Name\nx,y,z\n");
        assert!(
            matches!(&err, CsvError::MissingColumns(missing) if missing == &["email", "college", "branch"])
        );
        assert_eq!(
            err.to_string(),
            "missing required column(s): email, college, branch"
        );
    }

    #[test]
    fn a_file_with_nothing_but_blanks_or_a_bom_is_empty() {
        for bytes in [
            &b""[..],
            b"\xEF\xBB\xBF",
            b"\xFF\xFE",
            b"\xFE\xFF",
            b" \r\n\t\n\n",
            b"\xEF\xBB\xBF\r\n",
        ] {
            assert!(
                matches!(error(bytes), CsvError::Empty),
                "{bytes:?} should be empty"
            );
        }
        assert!(matches!(error(&utf16(" \r\n", false)), CsvError::Empty));
    }

    #[test]
    fn a_header_without_rows_gives_no_rows() {
        assert_eq!(rows(HEADER.as_bytes()), []);
        assert_eq!(rows(b"email,name,college,branch,year"), []);
    }

    #[test]
    fn a_file_with_nul_bytes_is_not_text() {
        let mut bytes = HEADER.as_bytes().to_vec();
        bytes.extend_from_slice(b"ana@x.org,A\0na,MIT,CS,2\n");
        let err = error(&bytes);
        assert!(matches!(&err, CsvError::NotText(why) if why == "contains binary data"));
        assert_eq!(
            err.to_string(),
            "the file is not a CSV text file (contains binary data)"
        );
    }

    #[test]
    fn a_file_full_of_control_characters_is_not_text() {
        let bytes: Vec<u8> = (0..2000u32)
            .map(|i| [b'a', b',', 0x01, 0x1B, b'\n'][i as usize % 5])
            .collect();
        assert!(matches!(error(&bytes), CsvError::NotText(_)));
    }

    #[test]
    fn an_xlsx_file_is_not_text_and_the_error_says_to_export_it_as_csv() {
        let mut bytes = b"PK\x03\x04\x14\x00\x06\x00\x08\x00\x00\x00!\x00".to_vec();
        bytes.extend_from_slice(b"[Content_Types].xml");
        let err = error(&bytes);
        assert!(
            err.to_string()
                .contains("looks like a spreadsheet (.xlsx); export it as CSV"),
            "{err}"
        );
    }

    #[test]
    fn a_png_image_is_not_text() {
        let bytes = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR";
        assert!(matches!(error(bytes), CsvError::NotText(_)));
    }

    #[test]
    fn bad_rows_are_reported_with_their_line_while_good_rows_come_through() {
        let text = format!(
            "{HEADER}ana@x.org,Ana,MIT,CS,2\n\
             foo,Bo,MIT,CS,2\n\
             cy@x.org,   ,MIT,CS,2\n\
             ,Di,MIT,CS,2\n\
             ed@x.org,Ed,MIT\n\
             ana@x.org,Ana,MIT,CS,2,extra,fields\n"
        );
        assert_eq!(
            rows(text.as_bytes()),
            [
                Ok(ana()),
                row_error(3, Some("foo"), "'foo' is not a valid email address"),
                row_error(4, Some("cy@x.org"), "name is empty"),
                row_error(5, None, "email is empty"),
                row_error(6, Some("ed@x.org"), "branch is empty"),
                Ok(ana()),
            ]
        );
    }

    #[test]
    fn blank_lines_and_rows_of_empty_fields_are_skipped_without_losing_count_of_lines() {
        let text = format!(
            "\n\r\n{HEADER}\nana@x.org,Ana,MIT,CS,2\n , ,,,\n\r\n,,\n\n\nfoo,Bo,MIT,CS,2\n\n"
        );
        assert_eq!(
            rows(text.as_bytes()),
            [
                Ok(ana()),
                row_error(11, Some("foo"), "'foo' is not a valid email address")
            ]
        );
    }

    #[test]
    fn an_unclosed_quote_ends_the_rows_with_an_error_at_its_line() {
        let text = format!(
            "{HEADER}ana@x.org,Ana,MIT,CS,2\nbo@x.org,\"Bo,MIT,CS,2\nana@x.org,Ana,MIT,CS,2\n"
        );
        let file_len = text.len() as u64;
        let mut rows = read_csv(file_with(text.as_bytes())).unwrap();
        assert_eq!(rows.next(), Some(Ok(ana())));
        let error = rows.next().unwrap().unwrap_err();
        assert_eq!((error.line, error.email), (3, None));
        assert!(error.message.contains("never closed"), "{}", error.message);
        assert_eq!(rows.next(), None);
        assert_eq!(rows.bytes_read(), file_len);
    }

    #[test]
    fn an_unclosed_quote_in_the_header_keeps_the_columns_before_it() {
        let err = error(b"email,name,\"college,branch,year\nana@x.org,Ana,MIT,CS,2\n");
        assert!(
            matches!(err, CsvError::MissingColumns(missing) if missing == ["college", "branch", "year"])
        );

        let rows = rows(b"email,name,college,branch,year,\"notes\nana@x.org,Ana,MIT,CS,2\n");
        assert!(
            matches!(&rows[..], [Err(RowError { line: 1, .. })]),
            "{rows:?}"
        );
    }

    #[test]
    fn bytes_read_grows_to_the_file_length() {
        let mut text = String::from(HEADER);
        (0..5000).for_each(|i| text.push_str(&format!("user{i}@x.org,User {i},MIT,CS,2\n")));
        let mut rows = read_csv(file_with(text.as_bytes())).unwrap();
        let mut last = rows.bytes_read();
        let mut count = 0;
        while let Some(row) = rows.next() {
            row.unwrap();
            count += 1;
            assert!(rows.bytes_read() >= last && rows.bytes_read() <= text.len() as u64);
            last = rows.bytes_read();
        }
        assert_eq!(count, 5000);
        assert_eq!(rows.bytes_read(), text.len() as u64);
    }

    #[test]
    fn a_field_over_the_limit_is_a_row_error_and_the_rows_around_it_are_read() {
        let long = "x".repeat(MAX_FIELD_BYTES + 1);
        let just_fits = "y".repeat(MAX_FIELD_BYTES);
        let text = format!(
            "email,name,college,branch,year,notes\n\
             bo@x.org,\"{long}\",MIT,CS,2,\n\
             cy@x.org,Cy,MIT,CS,2,{long}\n\
             ana@x.org,Ana,MIT,CS,2,{just_fits}\n"
        );
        assert_eq!(
            rows(text.as_bytes()),
            [
                row_error(2, Some("bo@x.org"), "name is longer than 64 KiB"),
                row_error(3, Some("cy@x.org"), "column 6 is longer than 64 KiB"),
                Ok(ana()),
            ]
        );
    }

    #[test]
    fn rows_can_be_read_on_another_thread() {
        fn assert_send<T: Send>() {}
        assert_send::<CsvRows>();
    }

    /// Any printable text, with the characters CSV must quote and some beyond ASCII.
    fn field() -> impl Strategy<Value = String> {
        "[ a-zA-Z0-9,;\"'\n\r\téüñ€“”😀-]{1,12}"
            .prop_filter("must not be blank", |s| !s.trim().is_empty())
    }

    fn person() -> impl Strategy<Value = [String; 5]> {
        (
            "[a-z]{1,10}@[a-z]{1,10}\\.org",
            field(),
            field(),
            field(),
            field(),
        )
            .prop_map(|(email, name, college, branch, year)| [email, name, college, branch, year])
    }

    fn write_csv(people: &[[String; 5]], delimiter: u8) -> Vec<u8> {
        let mut writer = csv::WriterBuilder::new()
            .delimiter(delimiter)
            .from_writer(Vec::new());
        writer.write_record(REQUIRED_COLUMNS).unwrap();
        people
            .iter()
            .for_each(|person| writer.write_record(person).unwrap());
        writer.into_inner().unwrap()
    }

    proptest! {
        #[test]
        fn fields_written_by_the_csv_crate_are_read_back_trimmed(
            people in prop::collection::vec(person(), 1..8),
            semicolon in any::<bool>(),
        ) {
            let bytes = write_csv(&people, if semicolon { b';' } else { b',' });
            let read = candidates(&bytes);
            let expected: Vec<Candidate> = people
                .iter()
                .map(|[email, name, college, branch, year]| {
                    candidate(email, name.trim(), college.trim(), branch.trim(), year.trim())
                })
                .collect();
            prop_assert_eq!(read, expected);
        }
    }
}
