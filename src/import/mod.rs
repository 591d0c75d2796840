//! CSV import, shared by `POST /api/upload-csv` and `doorman import`.
//!
//! The file is read on a blocking thread and handed over in batches, so memory stays flat
//! however long the file is. Each batch commits on its own, so that an import never keeps
//! SQLite's write lock (and verifications) waiting for longer than one batch takes.
//!
//! An import only ever adds invitees, and skips emails already there, so importing a file
//! again is harmless. That is what makes batches safe: an import that fails midway keeps
//! the batches before the failure, says how far it got (and logs it), and the same file
//! uploaded again adds the rest.

pub mod reader;

use serde::Serialize;
use serde_json::json;
use tokio::sync::mpsc;
use utoipa::ToSchema;

use crate::domain::event::{Actor, EventKind, NewEvent};
use crate::domain::invitee::NewInvitee;
use crate::service::Doorman;
use crate::store::{NewInviteeOutcome, StoreError};
use reader::{CsvError, RowError};

/// How many added users and row errors a report lists; the counts are always complete.
pub const MAX_LISTED: usize = 1000;
const BATCH_ROWS: usize = crate::store::INSERT_BATCH_ROWS;

#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    #[error(transparent)]
    Csv(#[from] CsvError),
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The database failed after some batches were committed; those are kept.
    #[error(
        "the import stopped after {processed} rows: the {added} invitees added before then are \
         kept; import the same file again to add the rest (emails already added are skipped)"
    )]
    Interrupted {
        processed: u64,
        added: u64,
        #[source]
        source: StoreError,
    },
}

/// What an import did. Field names are the original system's.
#[derive(Debug, Default, Serialize, ToSchema)]
pub struct ImportReport {
    /// Data rows read, good and bad.
    pub total_processed: u64,
    pub newly_added: u64,
    /// Rows whose email was already invited, or appeared earlier in the file.
    pub skipped: u64,
    /// The first [`MAX_LISTED`] invitees added.
    pub newly_added_users: Vec<ImportedUser>,
    pub newly_added_users_truncated: bool,
    /// The first [`MAX_LISTED`] rows refused, with their line numbers.
    pub errors: Vec<ImportRowError>,
    pub error_count: u64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ImportedUser {
    pub id: i64,
    pub email: String,
    pub name: String,
    pub college: String,
    pub branch: String,
    pub year: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ImportRowError {
    pub line: u64,
    pub email: Option<String>,
    pub message: String,
}

impl From<RowError> for ImportRowError {
    fn from(e: RowError) -> Self {
        Self {
            line: e.line,
            email: e.email,
            message: e.message,
        }
    }
}

/// How far an import has got, for progress bars.
#[derive(Debug, Clone, Copy)]
pub struct Progress {
    pub bytes_read: u64,
    pub rows: u64,
}

struct Batch {
    rows: Vec<NewInvitee>,
    errors: Vec<RowError>,
    bytes_read: u64,
}

impl Doorman {
    /// Imports invitees from a CSV file that is fully on disk.
    pub async fn import_csv(
        &self,
        file: std::fs::File,
        actor: Actor,
        mut progress: impl FnMut(Progress) + Send,
    ) -> Result<ImportReport, ImportError> {
        let (header_tx, header_rx) = tokio::sync::oneshot::channel();
        let (batch_tx, mut batch_rx) = mpsc::channel::<Batch>(2);
        let reading = tokio::task::spawn_blocking(move || read_batches(file, header_tx, batch_tx));
        // The header is checked before a transaction is opened, so a file with missing
        // columns never holds the database's write lock.
        match header_rx.await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => return Err(e.into()),
            Err(_) => return Err(reader_died(reading).await),
        }

        let mut report = ImportReport::default();
        let mut writer = self.store().import_writer().await?;
        while let Some(batch) = batch_rx.recv().await {
            let now = self.now();
            let outcomes = match writer.insert(&batch.rows, now).await {
                Ok(outcomes) => outcomes,
                Err(source) => {
                    drop(batch_rx);
                    let _ = reading.await;
                    return Err(interrupted(&mut writer, &report, actor, source, self.now()).await);
                }
            };
            let bytes_read = batch.bytes_read;
            report.add(batch, outcomes);
            progress(Progress {
                bytes_read,
                rows: report.total_processed,
            });
            writer.make_way().await;
        }
        if let Err(e) = reading.await {
            std::panic::resume_unwind(e.into_panic());
        }
        let event = NewEvent::new(EventKind::InviteesImported, actor).detail(summary(&report));
        writer.record_event(&event, self.now()).await?;
        Ok(report)
    }
}

fn summary(report: &ImportReport) -> serde_json::Value {
    json!({
        "total_processed": report.total_processed,
        "newly_added": report.newly_added,
        "skipped": report.skipped,
        "errors": report.error_count,
    })
}

/// The error for an import cut short, after logging (as far as the database still lets
/// it) what was kept, so the event log does not show invitees appearing from nowhere.
async fn interrupted(
    writer: &mut crate::store::ImportWriter,
    report: &ImportReport,
    actor: Actor,
    source: StoreError,
    now: chrono::DateTime<chrono::Utc>,
) -> ImportError {
    let mut detail = summary(report);
    detail["interrupted"] = true.into();
    let event = NewEvent::new(EventKind::InviteesImported, actor).detail(detail);
    if report.newly_added > 0 {
        let _ = writer.record_event(&event, now).await;
    }
    ImportError::Interrupted {
        processed: report.total_processed,
        added: report.newly_added,
        source,
    }
}

async fn reader_died(reading: tokio::task::JoinHandle<()>) -> ImportError {
    match reading.await {
        Err(e) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
        _ => ImportError::Csv(CsvError::Io(std::io::Error::other(
            "the CSV reader stopped",
        ))),
    }
}

impl ImportReport {
    fn add(&mut self, batch: Batch, outcomes: Vec<NewInviteeOutcome>) {
        self.total_processed += (batch.rows.len() + batch.errors.len()) as u64;
        for (row, outcome) in batch.rows.into_iter().zip(outcomes) {
            match outcome {
                NewInviteeOutcome::Inserted { id } => {
                    self.newly_added += 1;
                    if self.newly_added_users.len() < MAX_LISTED {
                        self.newly_added_users.push(ImportedUser {
                            id,
                            email: row.email.into_string(),
                            name: row.name,
                            college: row.college,
                            branch: row.branch,
                            year: row.year,
                        });
                    } else {
                        self.newly_added_users_truncated = true;
                    }
                }
                NewInviteeOutcome::Skipped => self.skipped += 1,
            }
        }
        for error in batch.errors {
            self.error_count += 1;
            if self.errors.len() < MAX_LISTED {
                self.errors.push(error.into());
            }
        }
    }
}

/// Runs on a blocking thread: parses the file and sends it on in batches.
fn read_batches(
    file: std::fs::File,
    header: tokio::sync::oneshot::Sender<Result<(), CsvError>>,
    batches: mpsc::Sender<Batch>,
) {
    let mut rows = match reader::read_csv(file) {
        Ok(rows) => {
            let _ = header.send(Ok(()));
            rows
        }
        Err(e) => {
            let _ = header.send(Err(e));
            return;
        }
    };
    loop {
        let mut batch = Batch {
            rows: Vec::with_capacity(BATCH_ROWS),
            errors: Vec::new(),
            bytes_read: 0,
        };
        for row in rows.by_ref() {
            match row {
                Ok(candidate) => batch.rows.push(NewInvitee {
                    email: candidate.email,
                    name: candidate.name,
                    college: candidate.college,
                    branch: candidate.branch,
                    year: candidate.year,
                }),
                Err(error) => batch.errors.push(error),
            }
            if batch.rows.len() + batch.errors.len() >= BATCH_ROWS {
                break;
            }
        }
        batch.bytes_read = rows.bytes_read();
        let done = batch.rows.is_empty() && batch.errors.is_empty();
        if done || batches.blocking_send(batch).is_err() {
            return;
        }
    }
}
