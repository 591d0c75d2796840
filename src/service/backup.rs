//! `doorman backup`: a copy of the database that is itself a database.

use std::path::{Path, PathBuf};

use super::Doorman;
use crate::store::StoreError;

/// The command PostgreSQL deployments back up with, as the README documents it.
pub const POSTGRES_BACKUP_COMMAND: &str =
    "pg_dump --format=custom --file=doorman.dump \"$DATABASE_URL\"";
/// And the command that restores it.
pub const POSTGRES_RESTORE_COMMAND: &str =
    "pg_restore --clean --if-exists --no-owner --dbname=\"$DATABASE_URL\" doorman.dump";

#[derive(Debug, thiserror::Error)]
pub enum BackupError {
    #[error("{} already exists: a backup never overwrites a file; choose a new name", .0.display())]
    Exists(PathBuf),
    #[error("the backup file name must be valid UTF-8")]
    NotUtf8,
    #[error(
        "doorman backup copies an SQLite database; this one is PostgreSQL, which is backed up \
         with its own tools while doorman runs: {POSTGRES_BACKUP_COMMAND} \
         (restore with {POSTGRES_RESTORE_COMMAND}); managed PostgreSQL such as Azure's \
         also keeps automatic backups"
    )]
    Postgres,
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl Doorman {
    /// Copies the SQLite database, consistently and while it is in use, to a new file.
    /// Returns the copy's size in bytes.
    #[tracing::instrument(skip_all)]
    pub async fn backup_to(&self, file: &Path) -> Result<u64, BackupError> {
        if file.exists() {
            return Err(BackupError::Exists(file.to_path_buf()));
        }
        let name = file.to_str().ok_or(BackupError::NotUtf8)?;
        if !self.store().vacuum_into(name).await? {
            return Err(BackupError::Postgres);
        }
        Ok(std::fs::metadata(file).map(|m| m.len()).unwrap_or(0))
    }
}
