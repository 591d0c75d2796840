//! Fresh databases for one backend's run, and their removal afterwards.

use std::fmt;
use std::path::Path;
use std::time::Duration;

use anyhow::Context;
use sqlx::Connection;
use tempfile::TempDir;

const DEFAULT_POSTGRES_URL: &str = "postgres://postgres@127.0.0.1:5432/postgres";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

impl fmt::Display for Backend {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Sqlite => "SQLite",
            Self::Postgres => "PostgreSQL",
        })
    }
}

/// A database no one else uses, with a temporary DATA_DIR for the server beside it.
pub struct Database {
    pub backend: Backend,
    /// What the server gets as DATABASE_URL.
    pub url: String,
    /// The database server's version, for the report.
    pub version: String,
    data_dir: TempDir,
    /// For PostgreSQL: the database made for this run, dropped by [`Database::remove`].
    scratch: Option<Scratch>,
}

struct Scratch {
    admin_url: String,
    name: String,
}

pub enum Setup {
    Ready(Database),
    /// The backend cannot be measured here (PostgreSQL is not running), and why.
    Unavailable(String),
}

impl Database {
    pub async fn create(backend: Backend) -> anyhow::Result<Setup> {
        let data_dir = tempfile::Builder::new()
            .prefix("doorman-bench-")
            .tempdir()
            .context("cannot create a temporary DATA_DIR")?;
        match backend {
            Backend::Sqlite => create_sqlite(data_dir).await.map(Setup::Ready),
            Backend::Postgres => create_postgres(data_dir).await,
        }
    }

    pub fn data_dir(&self) -> &Path {
        self.data_dir.path()
    }

    /// Drops the PostgreSQL database (the temporary directory goes when `self` does).
    /// Call it once no server is connected any more.
    pub async fn remove(self) -> anyhow::Result<()> {
        let Some(scratch) = &self.scratch else {
            return Ok(());
        };
        let mut admin = sqlx::PgConnection::connect(&scratch.admin_url).await?;
        // FORCE: a killed server's connections may not be gone from PostgreSQL's view yet.
        sqlx::query(&format!(
            "DROP DATABASE IF EXISTS \"{}\" WITH (FORCE)",
            scratch.name
        ))
        .execute(&mut admin)
        .await
        .with_context(|| format!("cannot drop the database {}", scratch.name))?;
        admin.close().await?;
        Ok(())
    }
}

async fn create_sqlite(data_dir: TempDir) -> anyhow::Result<Database> {
    let url = format!(
        "sqlite://{}?mode=rwc",
        data_dir.path().join("bench.sqlite").display()
    );
    // The bench links the same libsqlite3 that doorman does (one Cargo.lock).
    let mut memory = sqlx::SqliteConnection::connect("sqlite::memory:").await?;
    let version: String = sqlx::query_scalar("SELECT sqlite_version()")
        .fetch_one(&mut memory)
        .await?;
    Ok(Database {
        backend: Backend::Sqlite,
        url,
        version: format!("SQLite {version}"),
        data_dir,
        scratch: None,
    })
}

async fn create_postgres(data_dir: TempDir) -> anyhow::Result<Setup> {
    let admin_url =
        std::env::var("BENCH_POSTGRES_URL").unwrap_or_else(|_| DEFAULT_POSTGRES_URL.into());
    let shown = without_password(&admin_url);
    let connecting = sqlx::PgConnection::connect(&admin_url);
    let mut admin = match tokio::time::timeout(Duration::from_secs(5), connecting).await {
        Ok(Ok(admin)) => admin,
        Ok(Err(e)) => {
            return Ok(Setup::Unavailable(format!(
                "PostgreSQL at {shown} is unreachable ({e})"
            )));
        }
        Err(_) => {
            return Ok(Setup::Unavailable(format!(
                "PostgreSQL at {shown} did not answer within 5 s"
            )));
        }
    };
    let version: String = sqlx::query_scalar("SHOW server_version")
        .fetch_one(&mut admin)
        .await?;
    let name = format!("doorman_bench_{}", uuid::Uuid::new_v4().simple());
    sqlx::query(&format!("CREATE DATABASE \"{name}\""))
        .execute(&mut admin)
        .await
        .with_context(|| format!("cannot create the database {name} on {shown}"))?;
    admin.close().await?;

    let mut url = url::Url::parse(&admin_url).context("BENCH_POSTGRES_URL is not a URL")?;
    url.set_path(&name);
    Ok(Setup::Ready(Database {
        backend: Backend::Postgres,
        url: url.into(),
        version: format!("PostgreSQL {version}"),
        data_dir,
        scratch: Some(Scratch { admin_url, name }),
    }))
}

/// The URL fit for printing.
fn without_password(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut url) => {
            let _ = url.set_password(None);
            url.into()
        }
        Err(_) => "(BENCH_POSTGRES_URL)".into(),
    }
}
