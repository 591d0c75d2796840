//! The admin UI's imports (`staged_imports`, `import_jobs`): files waiting to be imported
//! and the jobs importing them, kept here so that any replica can answer for them.

use chrono::{DateTime, Utc};

use super::{BeginWrite, Op, Result, Store, on_pool, text_column};
use crate::domain::ImportJobState;

text_column!(ImportJobState);

/// Staged files kept: the newest, and none older than [`STAGED_LIFETIME`]. Each may be as
/// large as `MAX_UPLOAD_MB`, so only a few.
const STAGED_KEPT: i64 = 4;
/// How long a staged file waits for its import (a preview someone walked away from).
const STAGED_LIFETIME: chrono::Duration = chrono::Duration::hours(1);
/// Jobs kept, running or done: the page shows the latest, and a job's link keeps working
/// for a while.
const JOBS_KEPT: i64 = 20;

const JOB_COLUMNS: &str =
    "id, started_at, file_bytes, bytes_read, rows_read, state, report, failure, updated_at";

/// An import job as stored.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct StoredImportJob {
    pub id: String,
    pub started_at: DateTime<Utc>,
    pub file_bytes: i64,
    pub bytes_read: i64,
    pub rows_read: i64,
    pub state: ImportJobState,
    /// The finished import's report, as JSON.
    pub report: Option<String>,
    pub failure: Option<String>,
    /// The last word from the replica running it.
    pub updated_at: DateTime<Utc>,
}

/// How a job ended.
#[derive(Debug, Clone, Copy)]
pub enum ImportJobEnd<'a> {
    /// With the rows it read and its report (JSON).
    Finished {
        rows: u64,
        report: &'a str,
    },
    Failed {
        message: &'a str,
    },
}

/// Counts and sizes are `u64` in doorman and `BIGINT` in the database.
fn signed(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

impl Store {
    /// Keeps `file` under `id` for [`Store::start_import_job`], dropping staged files
    /// past their lifetime and the oldest beyond the few kept.
    pub async fn stage_import(&self, id: &str, file: &[u8], now: DateTime<Utc>) -> Result<()> {
        const OP: &str = "staging an import";
        on_pool!(self, pool => {
            let mut tx = pool.begin_write().await.op(OP)?;
            sqlx::query(
                "DELETE FROM staged_imports WHERE staged_at <= $1 OR id NOT IN \
                 (SELECT id FROM staged_imports ORDER BY staged_at DESC LIMIT $2)",
            )
            .bind(now - STAGED_LIFETIME)
            .bind(STAGED_KEPT - 1)
            .execute(&mut *tx)
            .await
            .op("forgetting old staged imports")?;
            sqlx::query("INSERT INTO staged_imports (id, file, size, staged_at) VALUES ($1, $2, $3, $4)")
                .bind(id)
                .bind(file)
                .bind(signed(file.len() as u64))
                .bind(now)
                .execute(&mut *tx)
                .await
                .op(OP)?;
            tx.commit().await.op(OP)?;
        });
        Ok(())
    }

    /// Takes (deletes) the staged file `staged_id` and opens job `job_id` for it, in one
    /// transaction: of two requests starting one file, on whichever replicas, only one
    /// gets it. `None` when it is not staged (taken already, or dropped).
    pub async fn start_import_job(
        &self,
        staged_id: &str,
        job_id: &str,
        now: DateTime<Utc>,
    ) -> Result<Option<(Vec<u8>, StoredImportJob)>> {
        const OP: &str = "starting an import";
        let insert = format!(
            "INSERT INTO import_jobs (id, started_at, file_bytes, bytes_read, rows_read, state, updated_at) \
             VALUES ($1, $2, $3, 0, 0, $4, $2) RETURNING {JOB_COLUMNS}"
        );
        on_pool!(self, pool => {
            let mut tx = pool.begin_write().await.op(OP)?;
            let file: Option<Vec<u8>> = sqlx::query_scalar(
                "DELETE FROM staged_imports WHERE id = $1 AND staged_at > $2 RETURNING file",
            )
            .bind(staged_id)
            .bind(now - STAGED_LIFETIME)
            .fetch_optional(&mut *tx)
            .await
            .op("taking a staged import")?;
            let Some(file) = file else {
                return Ok(None);
            };
            sqlx::query(
                "DELETE FROM import_jobs WHERE id NOT IN \
                 (SELECT id FROM import_jobs ORDER BY started_at DESC LIMIT $1)",
            )
            .bind(JOBS_KEPT - 1)
            .execute(&mut *tx)
            .await
            .op("forgetting old import jobs")?;
            let job: StoredImportJob = sqlx::query_as(&insert)
                .bind(job_id)
                .bind(now)
                .bind(signed(file.len() as u64))
                .bind(ImportJobState::Running)
                .fetch_one(&mut *tx)
                .await
                .op(OP)?;
            tx.commit().await.op(OP)?;
            Ok(Some((file, job)))
        })
    }

    /// Notes how far a running job has got; also its heartbeat.
    pub async fn note_import_progress(
        &self,
        id: &str,
        bytes_read: u64,
        rows: u64,
        now: DateTime<Utc>,
    ) -> Result<()> {
        on_pool!(self, pool => {
            sqlx::query(
                "UPDATE import_jobs SET bytes_read = $2, rows_read = $3, updated_at = $4 \
                 WHERE id = $1 AND state = $5",
            )
            .bind(id)
            .bind(signed(bytes_read))
            .bind(signed(rows))
            .bind(now)
            .bind(ImportJobState::Running)
            .execute(pool)
            .await
            .op("noting an import's progress")?;
        });
        Ok(())
    }

    /// Records how job `id` ended.
    pub async fn end_import_job(
        &self,
        id: &str,
        end: ImportJobEnd<'_>,
        now: DateTime<Utc>,
    ) -> Result<()> {
        let (state, rows, report, failure) = match end {
            ImportJobEnd::Finished { rows, report } => (
                ImportJobState::Finished,
                Some(signed(rows)),
                Some(report),
                None,
            ),
            ImportJobEnd::Failed { message } => (ImportJobState::Failed, None, None, Some(message)),
        };
        // A finished job has read its whole file; a failed one got as far as it noted.
        let sql = "UPDATE import_jobs SET state = $2, rows_read = COALESCE($3, rows_read), \
                   bytes_read = CASE WHEN $3 IS NULL THEN bytes_read ELSE file_bytes END, \
                   report = $4, failure = $5, updated_at = $6 WHERE id = $1";
        on_pool!(self, pool => {
            sqlx::query(sql)
                .bind(id)
                .bind(state)
                .bind(rows)
                .bind(report)
                .bind(failure)
                .bind(now)
                .execute(pool)
                .await
                .op("recording an import's end")?;
        });
        Ok(())
    }

    pub async fn import_job(&self, id: &str) -> Result<Option<StoredImportJob>> {
        let sql = format!("SELECT {JOB_COLUMNS} FROM import_jobs WHERE id = $1");
        on_pool!(self, pool => {
            sqlx::query_as(&sql)
                .bind(id)
                .fetch_optional(pool)
                .await
                .op("looking up an import job")
        })
    }

    /// The job started last, on any replica.
    pub async fn latest_import_job(&self) -> Result<Option<StoredImportJob>> {
        let sql =
            format!("SELECT {JOB_COLUMNS} FROM import_jobs ORDER BY started_at DESC, id LIMIT 1");
        on_pool!(self, pool => {
            sqlx::query_as(&sql)
                .fetch_optional(pool)
                .await
                .op("looking up the latest import job")
        })
    }
}
