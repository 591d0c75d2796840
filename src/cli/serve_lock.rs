//! One `doorman serve` per SQLite file. Two servers on one file would both run the bot and
//! race each other's deadlines and email queue with nothing to share them out, so the
//! second is refused. The claim is an OS lock on a file beside the database, held for the
//! life of the process: the operating system lets go when the process ends, however it
//! ends, so a crash never leaves a stale lock behind.
//!
//! The other commands (import, send-emails, backup...) do not take it: they work beside a
//! running server, as SQLite's own locking allows.

use std::fs::{File, OpenOptions, TryLockError};
use std::path::{Path, PathBuf};
use std::str::FromStr;

use anyhow::Context;

/// Held while this process serves its SQLite file.
#[derive(Debug)]
pub struct ServeLock {
    _file: File,
}

/// Claims the SQLite file behind `database_url` for this process; `None` for PostgreSQL
/// (any number of replicas may share it) and for an in-memory database.
pub fn claim(database_url: &str) -> anyhow::Result<Option<ServeLock>> {
    let Some(database) = sqlite_file(database_url)? else {
        return Ok(None);
    };
    let path = lock_path(&database);
    let file = OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .with_context(|| format!("cannot open {}", path.display()))?;
    match file.try_lock() {
        Ok(()) => Ok(Some(ServeLock { _file: file })),
        Err(TryLockError::WouldBlock) => anyhow::bail!(
            "another `doorman serve` is already running on the SQLite database {}: only one \
             may serve an SQLite file. Stop it first, or move to PostgreSQL (DATABASE_URL) to \
             run several replicas",
            database.display()
        ),
        Err(TryLockError::Error(error)) => {
            Err(error).with_context(|| format!("cannot lock {}", path.display()))
        }
    }
}

/// The database file an SQLite URL names, if it is one.
fn sqlite_file(database_url: &str) -> anyhow::Result<Option<PathBuf>> {
    let in_memory = database_url.contains(":memory:") || database_url.contains("mode=memory");
    if !database_url.starts_with("sqlite:") || in_memory {
        return Ok(None);
    }
    let options = sqlx::sqlite::SqliteConnectOptions::from_str(database_url)
        .context("DATABASE_URL is not a valid SQLite URL")?;
    Ok(Some(options.get_filename().to_path_buf()))
}

/// `doorman.sqlite` → `doorman.sqlite.serve-lock`, beside it.
fn lock_path(database: &Path) -> PathBuf {
    let mut name = database.as_os_str().to_owned();
    name.push(".serve-lock");
    PathBuf::from(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_an_sqlite_file_is_claimed() {
        assert_eq!(sqlite_file("postgres://db/doorman").unwrap(), None);
        assert_eq!(sqlite_file("sqlite::memory:").unwrap(), None);
        assert_eq!(
            sqlite_file("sqlite://data/doorman.sqlite?mode=rwc").unwrap(),
            Some(PathBuf::from("data/doorman.sqlite"))
        );
        assert_eq!(
            lock_path(Path::new("data/doorman.sqlite")),
            PathBuf::from("data/doorman.sqlite.serve-lock")
        );
    }

    #[test]
    fn a_second_claim_on_one_file_is_refused_until_the_first_ends() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!(
            "sqlite://{}?mode=rwc",
            dir.path().join("d.sqlite").display()
        );
        let first = claim(&url).unwrap().expect("an SQLite file is claimed");
        let refused = claim(&url).unwrap_err().to_string();
        assert!(refused.contains("already running"), "{refused}");
        drop(first);
        assert!(claim(&url).unwrap().is_some());
    }
}
