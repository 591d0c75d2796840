//! Imports that run on their own, for callers that cannot wait on one request (the
//! admin UI): a file is first *staged* (kept, with its preview), then imported by a
//! background task that goes on whoever is watching; its progress and report are
//! looked up by the job's id.
//!
//! Staged files and jobs are kept in the database, so that whichever replica answers a
//! request knows them, and a restart forgets neither (the latest few of each are kept).
//! The import itself runs on the replica that started it, which notes its progress in
//! the job's row every [`PROGRESS_EVERY`]; that is also its heartbeat. A running job
//! not heard from for [`STALE_AFTER`] reads as failed: its replica stopped.

use std::io::{Read, Seek, Write};
use std::sync::Arc;

use chrono::{DateTime, Utc};
use tokio::sync::watch;

use super::import::{ImportError, ImportReport};
use super::import_preview::ImportPreview;
use super::{Doorman, ServiceError};
use crate::domain::ImportJobState;
use crate::domain::event::Actor;
use crate::domain::token::random_hex;
use crate::import::Progress;
use crate::import::reader::CsvError;
use crate::store::{ImportJobEnd, StoredImportJob};

/// How often the replica running an import writes its progress (and heartbeat).
const PROGRESS_EVERY: std::time::Duration = std::time::Duration::from_millis(500);
/// Silence after which a running job's replica is taken to have stopped: far longer than
/// [`PROGRESS_EVERY`], so that a slow database does not make a live import look dead.
pub const STALE_AFTER: chrono::Duration = chrono::Duration::seconds(60);
/// What a job whose replica stopped says.
pub const STOPPED: &str = "the server running this import stopped; rows committed before that \
     are kept. Import the same file again to add the rest (emails already added are skipped)";

/// A file staged for import, and what importing it would do.
#[derive(Debug)]
pub struct StagedImport {
    pub id: String,
    pub preview: ImportPreview,
}

#[derive(Debug, Clone)]
pub enum JobState {
    Running,
    Finished(Arc<ImportReport>),
    /// Why the import stopped; rows committed before it are kept.
    Failed(String),
}

/// Where an import job stands.
#[derive(Debug, Clone)]
pub struct ImportJob {
    pub id: String,
    pub started_at: DateTime<Utc>,
    pub file_bytes: u64,
    pub bytes_read: u64,
    pub rows: u64,
    pub state: JobState,
}

impl ImportJob {
    /// How far the file is read, 0 to 100.
    pub fn percent(&self) -> u64 {
        match self.state {
            JobState::Running if self.file_bytes > 0 => {
                (self.bytes_read.min(self.file_bytes) * 100 / self.file_bytes).min(99)
            }
            JobState::Running => 0,
            _ => 100,
        }
    }

    /// The job as its row says at `now`. A report that no longer reads (written by
    /// another version of doorman) is said so, rather than failing the page that shows it.
    fn from_stored(row: StoredImportJob, now: DateTime<Utc>) -> Self {
        let state = match row.state {
            ImportJobState::Running if now - row.updated_at > STALE_AFTER => {
                JobState::Failed(STOPPED.into())
            }
            ImportJobState::Running => JobState::Running,
            ImportJobState::Failed => JobState::Failed(row.failure.unwrap_or_default()),
            ImportJobState::Finished => {
                match serde_json::from_str(row.report.as_deref().unwrap_or_default()) {
                    Ok(report) => JobState::Finished(Arc::new(report)),
                    Err(e) => {
                        tracing::warn!(job = %row.id, error = %e, "an import's stored report does not read");
                        JobState::Failed(
                            "the import finished, but doorman cannot read its report; the \
                             invitees it added are kept"
                                .into(),
                        )
                    }
                }
            }
        };
        let unsigned = |n: i64| u64::try_from(n).unwrap_or(0);
        Self {
            id: row.id,
            started_at: row.started_at,
            file_bytes: unsigned(row.file_bytes),
            bytes_read: unsigned(row.bytes_read),
            rows: unsigned(row.rows_read),
            state,
        }
    }
}

/// Runs blocking file work off the async threads.
async fn on_blocking_thread<T: Send + 'static>(
    work: impl FnOnce() -> std::io::Result<T> + Send + 'static,
) -> Result<T, CsvError> {
    match tokio::task::spawn_blocking(work).await {
        Ok(result) => Ok(result?),
        Err(e) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
        Err(_) => Err(std::io::Error::other("file work was cancelled").into()),
    }
}

impl Doorman {
    /// Previews a file fully on disk and keeps it for [`Doorman::start_import`].
    pub async fn stage_import(&self, file: std::fs::File) -> Result<StagedImport, ImportError> {
        let mut kept = file.try_clone().map_err(CsvError::from)?;
        let preview = self.preview_import(file).await?;
        // The clone shares the preview's position in the file.
        let bytes = on_blocking_thread(move || {
            kept.rewind()?;
            let mut bytes = Vec::new();
            kept.read_to_end(&mut bytes)?;
            Ok(bytes)
        })
        .await?;
        let id = random_hex(16);
        self.store().stage_import(&id, &bytes, self.now()).await?;
        Ok(StagedImport { id, preview })
    }

    /// Imports a staged file in the background, on this replica, and returns the job
    /// that follows it. `NotFound` if the file is no longer staged (imported already,
    /// through any replica, or dropped).
    pub async fn start_import(
        &self,
        staged_id: &str,
        actor: Actor,
    ) -> Result<ImportJob, ServiceError> {
        let now = self.now();
        let (bytes, row) = self
            .store()
            .start_import_job(staged_id, &random_hex(16), now)
            .await?
            .ok_or(ServiceError::NotFound)?;
        let job = ImportJob::from_stored(row, now);
        tokio::spawn(self.clone().run_import_job(job.id.clone(), bytes, actor));
        Ok(job)
    }

    /// The import itself, noting its progress as it goes and its end when done.
    async fn run_import_job(self, id: String, bytes: Vec<u8>, actor: Actor) {
        let (progress_tx, progress_rx) = watch::channel(Progress {
            bytes_read: 0,
            rows: 0,
        });
        let heartbeat = tokio::spawn(self.clone().note_progress(id.clone(), progress_rx));
        // In a task of its own, so that even a panic ends the job as failed rather than
        // leaving it to go stale.
        let doorman = self.clone();
        let importing = tokio::spawn(async move {
            let file = on_blocking_thread(move || {
                let mut file = tempfile::tempfile()?;
                file.write_all(&bytes)?;
                file.rewind()?;
                Ok(file)
            })
            .await?;
            doorman
                .import_csv(file, actor, |progress| {
                    progress_tx.send_replace(progress);
                })
                .await
        });
        let result = importing.await;
        // Its last write lands before the end is recorded, never after.
        let _ = heartbeat.await;
        let outcome = match result {
            Ok(Ok(report)) => serde_json::to_string(&report)
                .map(|json| (report.total_processed, json))
                .map_err(|e| format!("the import finished, but its report could not be kept: {e}")),
            Ok(Err(e)) => {
                tracing::error!(error = %e, "an import job failed");
                Err(e.to_string())
            }
            Err(e) => {
                tracing::error!(error = %e, "an import job stopped");
                Err(
                    "the import stopped on an internal error; rows committed before that are \
                     kept"
                        .into(),
                )
            }
        };
        let end = match &outcome {
            Ok((rows, report)) => ImportJobEnd::Finished {
                rows: *rows,
                report,
            },
            Err(message) => ImportJobEnd::Failed { message },
        };
        if let Err(e) = self.store().end_import_job(&id, end, self.now()).await {
            // The job goes stale, and then reads as stopped.
            tracing::error!(error = %e, "an import job's end could not be recorded");
        }
    }

    /// Writes the job's progress every [`PROGRESS_EVERY`] until the import is done.
    async fn note_progress(self, id: String, mut progress: watch::Receiver<Progress>) {
        let mut every = tokio::time::interval(PROGRESS_EVERY);
        every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        // The first tick is at once, and the row was just written.
        every.tick().await;
        loop {
            tokio::select! {
                _ = every.tick() => {}
                changed = progress.changed() => match changed {
                    Ok(()) => continue,
                    Err(_) => return,
                },
            }
            let now = *progress.borrow_and_update();
            let noted = self
                .store()
                .note_import_progress(&id, now.bytes_read, now.rows, self.now())
                .await;
            if let Err(e) = noted {
                tracing::warn!(error = %e, "an import's progress could not be noted");
            }
        }
    }

    pub async fn import_job(&self, id: &str) -> Result<Option<ImportJob>, ServiceError> {
        let row = self.store().import_job(id).await?;
        Ok(row.map(|row| ImportJob::from_stored(row, self.now())))
    }

    /// The job started last, through any replica.
    pub async fn latest_import_job(&self) -> Result<Option<ImportJob>, ServiceError> {
        let row = self.store().latest_import_job().await?;
        Ok(row.map(|row| ImportJob::from_stored(row, self.now())))
    }
}
