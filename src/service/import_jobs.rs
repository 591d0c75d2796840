//! Imports that run on their own, for callers that cannot wait on one request (the
//! admin UI): a file is first *staged* (kept, with its preview), then imported by a
//! background task that goes on whoever is watching; its progress and report are
//! looked up by the job's id.
//!
//! Staged files and jobs live in this process's memory: a restart forgets them (a
//! finished import's invitees and event are in the database, of course), and the few
//! kept are the latest ones.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

use chrono::{DateTime, Utc};

use super::import::{ImportError, ImportReport};
use super::import_preview::ImportPreview;
use super::{Doorman, ServiceError};
use crate::domain::event::Actor;
use crate::domain::token::random_hex;

/// Staged files kept waiting for their import; an older one is dropped.
const STAGED_KEPT: usize = 8;
/// Jobs remembered, running or finished.
const JOBS_KEPT: usize = 20;

#[derive(Default)]
pub(super) struct ImportJobs {
    staged: Mutex<VecDeque<(String, std::fs::File)>>,
    jobs: Mutex<VecDeque<ImportJob>>,
}

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
}

impl ImportJobs {
    fn update(&self, id: &str, change: impl FnOnce(&mut ImportJob)) {
        let mut jobs = self.jobs.lock().expect("import jobs lock");
        if let Some(job) = jobs.iter_mut().find(|job| job.id == id) {
            change(job);
        }
    }
}

impl Doorman {
    fn import_jobs(&self) -> &ImportJobs {
        &self.inner.import_jobs
    }

    /// Previews a file fully on disk and keeps it for [`Doorman::start_import`].
    pub async fn stage_import(&self, file: std::fs::File) -> Result<StagedImport, ImportError> {
        let kept = file
            .try_clone()
            .map_err(crate::import::reader::CsvError::from)?;
        let preview = self.preview_import(file).await?;
        let id = random_hex(16);
        let mut staged = self.import_jobs().staged.lock().expect("staged lock");
        if staged.len() >= STAGED_KEPT {
            staged.pop_front();
        }
        staged.push_back((id.clone(), kept));
        Ok(StagedImport { id, preview })
    }

    /// Imports a staged file in the background and returns the job that follows it.
    /// `NotFound` if the file is no longer staged (imported already, or dropped).
    pub fn start_import(&self, staged_id: &str, actor: Actor) -> Result<ImportJob, ServiceError> {
        let file = {
            let mut staged = self.import_jobs().staged.lock().expect("staged lock");
            let at = staged
                .iter()
                .position(|(id, _)| id == staged_id)
                .ok_or(ServiceError::NotFound)?;
            staged
                .remove(at)
                .map(|(_, file)| file)
                .ok_or(ServiceError::NotFound)?
        };
        let job = ImportJob {
            id: random_hex(16),
            started_at: self.now(),
            file_bytes: file.metadata().map(|m| m.len()).unwrap_or(0),
            bytes_read: 0,
            rows: 0,
            state: JobState::Running,
        };
        {
            let mut jobs = self.import_jobs().jobs.lock().expect("import jobs lock");
            if jobs.len() >= JOBS_KEPT {
                jobs.pop_front();
            }
            jobs.push_back(job.clone());
        }
        let doorman = self.clone();
        let id = job.id.clone();
        tokio::spawn(async move {
            let jobs = doorman.import_jobs();
            let result = doorman
                .import_csv(file, actor, |progress| {
                    jobs.update(&id, |job| {
                        job.bytes_read = progress.bytes_read;
                        job.rows = progress.rows;
                    });
                })
                .await;
            jobs.update(&id, |job| match result {
                Ok(report) => {
                    job.bytes_read = job.file_bytes;
                    job.rows = report.total_processed;
                    job.state = JobState::Finished(Arc::new(report));
                }
                Err(e) => {
                    tracing::error!(error = %e, "an import job failed");
                    job.state = JobState::Failed(e.to_string());
                }
            });
        });
        Ok(job)
    }

    pub fn import_job(&self, id: &str) -> Option<ImportJob> {
        let jobs = self.import_jobs().jobs.lock().expect("import jobs lock");
        jobs.iter().find(|job| job.id == id).cloned()
    }

    /// The job started last, if this process has started any.
    pub fn latest_import_job(&self) -> Option<ImportJob> {
        let jobs = self.import_jobs().jobs.lock().expect("import jobs lock");
        jobs.back().cloned()
    }
}
