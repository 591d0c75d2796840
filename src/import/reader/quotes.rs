//! Follows the CSV quoting rules during the up-front scan, to sniff the delimiter and to
//! find a quote that is never closed.
//!
//! A stray `"` at the start of a field makes the `csv` crate read the whole rest of the
//! file as one field, without any error: the rows after it silently vanish and memory
//! grows with the file. Finding it up front lets the reader stop before that row and
//! report it instead.

const QUOTE: u16 = b'"' as u16;
const LF: u16 = b'\n' as u16;
const CR: u16 = b'\r' as u16;

/// Where something is in the text, counted in code units after any BOM.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Spot {
    pub unit: u64,
    /// 1-based line, counting `\n`s.
    pub line_lf: u64,
    /// 1-based line, counting `\r`s; right for files whose line breaks are all `\r`.
    pub line_cr: u64,
}

/// A quoted field still open at the end of the file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct OpenQuote {
    /// Where the record holding the field starts.
    pub record: Spot,
    /// Where its opening quote is.
    pub quote: Spot,
    /// Whether that record is the first one (the header).
    pub in_first_record: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    StartRecord,
    StartField,
    InField,
    InQuotes,
    /// Just after a `"` inside quotes: either the closing quote or the first of a `""`.
    QuoteInQuotes,
}

/// The quoting rules of `csv_core` with its defaults (double quotes escaped by doubling,
/// a quote only special at the start of a field, `\r`, `\n` and `\r\n` ending records,
/// blank lines skipped), for one candidate delimiter.
#[derive(Debug)]
pub(super) struct QuoteTracker {
    delimiter: u16,
    state: State,
    here: Spot,
    records: u64,
    record_start: Spot,
    quote_start: Spot,
    delimiters_in_first_record: u64,
}

impl QuoteTracker {
    pub fn new(delimiter: u8) -> Self {
        let start = Spot {
            unit: 0,
            line_lf: 1,
            line_cr: 1,
        };
        Self {
            delimiter: u16::from(delimiter),
            state: State::StartRecord,
            here: start,
            records: 0,
            record_start: start,
            quote_start: start,
            delimiters_in_first_record: 0,
        }
    }

    /// Takes the next code unit (a byte, or a UTF-16 unit; only ASCII ones matter).
    pub fn observe(&mut self, unit: u16) {
        let line_break = unit == LF || unit == CR;
        if self.state == State::StartRecord && !line_break {
            self.records += 1;
            self.record_start = self.here;
            self.state = State::StartField;
        }
        self.state = match (self.state, unit) {
            (State::StartRecord, _) => State::StartRecord,
            (State::StartField, QUOTE) => {
                self.quote_start = self.here;
                State::InQuotes
            }
            (State::InQuotes, QUOTE) => State::QuoteInQuotes,
            (State::InQuotes, _) => State::InQuotes,
            (State::QuoteInQuotes, QUOTE) => State::InQuotes,
            (_, delimiter) if delimiter == self.delimiter => {
                if self.records == 1 {
                    self.delimiters_in_first_record += 1;
                }
                State::StartField
            }
            (_, _) if line_break => State::StartRecord,
            (_, _) => State::InField,
        };
        self.advance(unit);
    }

    fn advance(&mut self, unit: u16) {
        self.here.unit += 1;
        self.here.line_lf += u64::from(unit == LF);
        self.here.line_cr += u64::from(unit == CR);
    }

    /// How many unquoted delimiters the first record (the header) holds.
    pub fn delimiters_in_header(&self) -> u64 {
        self.delimiters_in_first_record
    }

    /// The quoted field left open at the end, if the text ended inside one.
    pub fn open_quote(&self) -> Option<OpenQuote> {
        (self.state == State::InQuotes).then_some(OpenQuote {
            record: self.record_start,
            quote: self.quote_start,
            in_first_record: self.records == 1,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn track(text: &str, delimiter: u8) -> QuoteTracker {
        let mut tracker = QuoteTracker::new(delimiter);
        text.bytes().for_each(|b| tracker.observe(u16::from(b)));
        tracker
    }

    #[test]
    fn balanced_quotes_leave_nothing_open() {
        let text = "a,b\n\"x, \"\"y\"\"\nz\",2\n5\" screen,3\n";
        assert_eq!(track(text, b',').open_quote(), None);
    }

    #[test]
    fn a_quote_inside_an_unquoted_field_is_literal() {
        assert_eq!(track("a,b\nx\"y,2\n", b',').open_quote(), None);
    }

    #[test]
    fn an_unclosed_quote_is_found_with_its_record() {
        let open = track("h1,h2\r\nok,1\r\n\r\nbad,\"oops\r\nmore,2\r\n", b',')
            .open_quote()
            .unwrap();
        assert_eq!(open.record.line_lf, 4);
        assert_eq!(open.record.unit, 15);
        assert_eq!(open.quote.unit, 19);
        assert!(!open.in_first_record);
    }

    #[test]
    fn only_unquoted_delimiters_of_the_header_are_counted() {
        let tracker = track("\n\"a,b\";c;d\ne;f;g\n", b';');
        assert_eq!(tracker.delimiters_in_header(), 2);
        assert_eq!(track("\n\"a,b\";c;d\n", b',').delimiters_in_header(), 0);
    }
}
