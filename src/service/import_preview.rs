//! What importing a file would do, before it is done: how the file was read, its first
//! rows, and how many rows would be added, skipped (already invited, or repeated in the
//! file) and refused. The file is read by the same reader and checked by the same rules as
//! the import itself; nothing is written.

use std::collections::HashSet;

use tokio::sync::{mpsc, oneshot};

use super::Doorman;
use super::import::{ImportError, MAX_LISTED};
use crate::domain::invitee::NewInvitee;
use crate::import::reader::{self, CsvError, CsvFormat, RowError};

/// How many of the file's first rows a preview shows.
pub const PREVIEW_ROWS: usize = 10;
/// Rows looked up in the database at a time.
const CHUNK_ROWS: usize = crate::store::INSERT_BATCH_ROWS;

/// What would become of one row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RowOutcome {
    Added,
    AlreadyInvited,
    /// The same email appears on an earlier line.
    Repeated,
    Refused(String),
}

/// One of the first rows, as read.
#[derive(Debug, Clone)]
pub struct PreviewRow {
    pub line: u64,
    /// Empty for a refused row, but for its email if it had one.
    pub fields: [String; 5],
    pub outcome: RowOutcome,
}

#[derive(Debug, Clone)]
pub struct ImportPreview {
    pub format: CsvFormat,
    pub first_rows: Vec<PreviewRow>,
    /// Data rows, good and bad.
    pub rows: u64,
    pub would_add: u64,
    pub already_invited: u64,
    pub repeated: u64,
    pub refused: u64,
    /// The first [`MAX_LISTED`] refused rows.
    pub errors: Vec<RowError>,
}

impl ImportPreview {
    /// Rows that would be skipped, as the import counts them.
    pub fn would_skip(&self) -> u64 {
        self.already_invited + self.repeated
    }
}

type Row = (u64, Result<NewInvitee, RowError>);

impl Doorman {
    /// Reads a CSV file that is fully on disk and says what importing it now would do.
    #[tracing::instrument(skip_all)]
    pub async fn preview_import(&self, file: std::fs::File) -> Result<ImportPreview, ImportError> {
        let (format_tx, format_rx) = oneshot::channel();
        let (rows_tx, mut rows_rx) = mpsc::channel::<Vec<Row>>(2);
        let reading = tokio::task::spawn_blocking(move || read_rows(file, format_tx, rows_tx));
        let format = match format_rx.await {
            Ok(result) => result?,
            Err(_) => {
                return Err(match reading.await {
                    Err(e) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
                    _ => CsvError::Io(std::io::Error::other("the CSV reader stopped")).into(),
                });
            }
        };
        let mut preview = ImportPreview {
            format,
            first_rows: Vec::new(),
            rows: 0,
            would_add: 0,
            already_invited: 0,
            repeated: 0,
            refused: 0,
            errors: Vec::new(),
        };
        let mut seen = HashSet::new();
        while let Some(chunk) = rows_rx.recv().await {
            let emails: Vec<&str> = chunk
                .iter()
                .filter_map(|(_, row)| row.as_ref().ok())
                .map(|invitee| invitee.email.as_str())
                .collect();
            let existing = self.store().existing_emails(&emails).await?;
            for (line, row) in chunk {
                let outcome = match &row {
                    Err(error) => RowOutcome::Refused(error.message.clone()),
                    Ok(invitee) if existing.contains(invitee.email.as_str()) => {
                        RowOutcome::AlreadyInvited
                    }
                    Ok(invitee) if !seen.insert(invitee.email.as_str().to_owned()) => {
                        RowOutcome::Repeated
                    }
                    Ok(_) => RowOutcome::Added,
                };
                preview.count(line, row, outcome);
            }
        }
        if let Err(e) = reading.await {
            std::panic::resume_unwind(e.into_panic());
        }
        Ok(preview)
    }
}

impl ImportPreview {
    fn count(&mut self, line: u64, row: Result<NewInvitee, RowError>, outcome: RowOutcome) {
        self.rows += 1;
        match &outcome {
            RowOutcome::Added => self.would_add += 1,
            RowOutcome::AlreadyInvited => self.already_invited += 1,
            RowOutcome::Repeated => self.repeated += 1,
            RowOutcome::Refused(_) => self.refused += 1,
        }
        let shown = self.first_rows.len() < PREVIEW_ROWS;
        let fields = match row {
            Ok(i) => [i.email.into_string(), i.name, i.college, i.branch, i.year],
            Err(error) => {
                let email = error.email.clone().unwrap_or_default();
                if self.errors.len() < MAX_LISTED {
                    self.errors.push(error);
                }
                [
                    email,
                    String::new(),
                    String::new(),
                    String::new(),
                    String::new(),
                ]
            }
        };
        if shown {
            self.first_rows.push(PreviewRow {
                line,
                fields,
                outcome,
            });
        }
    }
}

/// Runs on a blocking thread: reads the file and sends its rows on in chunks, each with
/// its line; the file's format goes first.
fn read_rows(
    file: std::fs::File,
    format: oneshot::Sender<Result<CsvFormat, CsvError>>,
    rows: mpsc::Sender<Vec<Row>>,
) {
    let mut csv = match reader::read_csv(file) {
        Ok(csv) => {
            let _ = format.send(Ok(csv.format().clone()));
            csv
        }
        Err(e) => {
            let _ = format.send(Err(e));
            return;
        }
    };
    loop {
        let mut chunk = Vec::with_capacity(CHUNK_ROWS);
        while chunk.len() < CHUNK_ROWS {
            let Some(row) = csv.next() else { break };
            let line = match &row {
                Ok(_) => csv.line(),
                Err(error) => error.line,
            };
            chunk.push((line, row));
        }
        if chunk.is_empty() || rows.blocking_send(chunk).is_err() {
            return;
        }
    }
}
