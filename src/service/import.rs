//! Importing invitees from a CSV file.
//!
//! Each batch commits on its own, so that an import never keeps SQLite's write lock (and
//! verifications) waiting for longer than one batch takes.
//!
//! An import only ever adds invitees, and skips emails already there, so importing a file
//! again is harmless. That is what makes batches safe: an import that fails midway keeps
//! the batches before the failure, says how far it got (and logs it), and the same file
//! uploaded again adds the rest.

use serde_json::json;
use tokio::sync::{mpsc, oneshot};

use super::Doorman;
use crate::domain::event::{Actor, EventKind, NewEvent};
use crate::domain::invitee::NewInvitee;
use crate::import::reader::{CsvError, RowError};
use crate::import::{Batch, Progress, read_batches};
use crate::store::{ImportWriter, NewInviteeOutcome, StoreError};

/// How many added users and row errors a report lists; the counts are always complete.
pub const MAX_LISTED: usize = 1000;

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

/// What an import did. Serde is for storing it with its job (the API answers with its
/// own view, `api::views::ImportReportView`).
#[derive(Debug, Default, serde::Serialize, serde::Deserialize)]
pub struct ImportReport {
    /// Data rows read, good and bad.
    pub total_processed: u64,
    pub newly_added: u64,
    /// Rows whose email was already invited, or appeared earlier in the file.
    pub skipped: u64,
    /// The first [`MAX_LISTED`] invitees added.
    pub newly_added_users: Vec<AddedInvitee>,
    pub newly_added_users_truncated: bool,
    /// The first [`MAX_LISTED`] rows refused, with their line numbers.
    pub errors: Vec<RowError>,
    pub error_count: u64,
}

/// An invitee the import added, with the id it was given.
#[derive(Debug, serde::Serialize, serde::Deserialize)]
pub struct AddedInvitee {
    pub id: i64,
    pub invitee: NewInvitee,
}

impl Doorman {
    /// Imports invitees from a CSV file that is fully on disk.
    #[tracing::instrument(skip_all, fields(actor = %actor))]
    pub async fn import_csv(
        &self,
        file: std::fs::File,
        actor: Actor,
        mut progress: impl FnMut(Progress) + Send,
    ) -> Result<ImportReport, ImportError> {
        let (header_tx, header_rx) = oneshot::channel();
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
            let outcomes = match writer.insert(&batch.rows, self.now()).await {
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
    writer: &mut ImportWriter,
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
        self.total_processed += batch.len() as u64;
        for (invitee, outcome) in batch.rows.into_iter().zip(outcomes) {
            match outcome {
                NewInviteeOutcome::Inserted { id } => {
                    self.newly_added += 1;
                    if self.newly_added_users.len() < MAX_LISTED {
                        self.newly_added_users.push(AddedInvitee { id, invitee });
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
                self.errors.push(error);
            }
        }
    }
}
