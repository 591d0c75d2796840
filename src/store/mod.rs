//! Storage on SQLite or PostgreSQL through one code path.
//!
//! Every statement is written once, with `$n` placeholders that both databases accept;
//! [`on_pool!`] compiles the same code against whichever pool is in use, so the queries
//! are shared while each backend keeps its native types.

mod api_keys;
mod backup;
mod batch;
mod columns;
mod discord;
mod emails;
mod events;
mod failures;
mod import_jobs;
mod invitees;
mod join_states;
mod leader;
mod migrations;
mod observe;
mod sessions;
mod stats;

use std::str::FromStr;
use std::time::Duration;

use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{PgPool, SqlitePool};

pub use crate::domain::invitee::InviteeFilter;
pub use batch::{Failed, OutcomeWriter, Verified};
pub(crate) use columns::{Op, text_column};
pub use discord::{KnownGuild, MemberClaim, MemberRecord};
pub use emails::{
    BatchCounts, ClaimedEmail, EmailBody, EmailFilter, EmailRecord, EmailResult, QueueItem,
    WebhookChange,
};
pub use import_jobs::{ImportJobEnd, StoredImportJob};
pub use invitees::{AdminChange, AdminEdit, InviteePage, ListedInvitee};
pub use invitees::{INSERT_BATCH_ROWS, ImportWriter, NewInviteeOutcome};
pub use join_states::NewJoinState;
pub use leader::{LeaderConnection, LeaderDatabase, LeaderElection};
pub use observe::{PoolGauges, QueueGauges};
pub use sessions::NewAdminSession;
pub use stats::{FunnelCounts, MemberCounts};

/// Runs `$body` with `$pool` bound to the concrete pool.
macro_rules! on_pool {
    ($store:expr, $pool:ident => $body:expr) => {
        match $store {
            $crate::store::Store::Sqlite($pool) => $body,
            $crate::store::Store::Postgres($pool) => $body,
        }
    };
}
pub(crate) use on_pool;

/// On PostgreSQL, takes the transaction-scoped advisory lock `$key` in `$tx`, so that
/// replicas doing the same work queue behind each other; SQLite's write lock (taken by
/// `begin_write`) already does that.
macro_rules! lock_across_replicas {
    ($store:expr, $tx:expr, $key:expr, $operation:expr) => {
        if let $crate::store::Store::Postgres(_) = $store {
            $crate::store::Op::op(
                sqlx::query("SELECT pg_advisory_xact_lock($1)")
                    .bind($key)
                    .execute($tx)
                    .await,
                $operation,
            )?;
        }
    };
}
pub(crate) use lock_across_replicas;

/// Opening a transaction that will write. SQLite's must be `BEGIN IMMEDIATE`: a deferred
/// one that reads first cannot wait for the write lock and fails with "database is locked".
pub(crate) trait BeginWrite {
    type Db: sqlx::Database;
    fn begin_write(
        &self,
    ) -> impl Future<Output = Result<sqlx::Transaction<'static, Self::Db>, sqlx::Error>> + Send;
}

impl BeginWrite for SqlitePool {
    type Db = sqlx::Sqlite;
    async fn begin_write(&self) -> Result<sqlx::Transaction<'static, sqlx::Sqlite>, sqlx::Error> {
        self.begin_with("BEGIN IMMEDIATE").await
    }
}

impl BeginWrite for PgPool {
    type Db = sqlx::Postgres;
    async fn begin_write(&self) -> Result<sqlx::Transaction<'static, sqlx::Postgres>, sqlx::Error> {
        self.begin().await
    }
}

#[derive(Debug, Clone)]
pub enum Store {
    Sqlite(SqlitePool),
    Postgres(PgPool),
}

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A statement failed; `operation` says which of doorman's operations it served.
    #[error("{operation}: database error: {source}")]
    Query {
        operation: &'static str,
        source: sqlx::Error,
    },
    #[error("migration {version} failed: {source}")]
    Migration { version: i64, source: sqlx::Error },
    #[error("the database was migrated by a newer doorman (version {0}); upgrade doorman")]
    NewerSchema(i64),
    #[error("stored data is corrupt: {0}")]
    Corrupt(String),
}

impl StoreError {
    /// Whether this is a violation of the named unique index.
    pub fn is_unique_violation(&self, index: &str) -> bool {
        match self {
            Self::Query {
                source: sqlx::Error::Database(e),
                ..
            } => {
                e.is_unique_violation()
                    && (e.constraint() == Some(index) || e.message().contains(index_columns(index)))
            }
            _ => false,
        }
    }
}

/// SQLite names the columns, not the index, in its unique-violation messages.
fn index_columns(index: &str) -> &str {
    match index {
        "invitees_discord_user_id_key" => "invitees.discord_user_id",
        "invitees_email_key" => "invitees.email",
        other => other,
    }
}

pub type Result<T, E = StoreError> = std::result::Result<T, E>;

impl Store {
    /// Connects to the database behind `url` (`sqlite:` or `postgres://`);
    /// `sqlite_busy_timeout` is how long SQLite waits for another writer's lock.
    pub async fn connect_with(url: &str, sqlite_busy_timeout: Duration) -> Result<Self> {
        if url.starts_with("sqlite:") {
            let options = SqliteConnectOptions::from_str(url)
                .op("reading the SQLite URL")?
                .create_if_missing(true)
                .journal_mode(SqliteJournalMode::Wal)
                // WAL with NORMAL is durable across application crashes; only a power
                // loss can lose the last transactions.
                .synchronous(SqliteSynchronous::Normal)
                .busy_timeout(sqlite_busy_timeout)
                // Rows cross from SQLite's thread in a channel; a deeper one means fewer
                // wake-ups per listing (50 by default).
                .row_buffer_size(1024)
                .foreign_keys(true);
            // A new database file is switched to WAL on first contact, which needs a
            // moment of exclusive access: processes opening it at the same instant can be
            // told "locked" once, and simply try again.
            let mut attempts = 0;
            loop {
                let pool = SqlitePoolOptions::new()
                    .max_connections(8)
                    .acquire_timeout(Duration::from_secs(10))
                    .connect_with(options.clone())
                    .await;
                match pool {
                    Ok(pool) => return Ok(Self::Sqlite(pool)),
                    Err(sqlx::Error::Database(e))
                        if attempts < 5 && e.message().contains("locked") =>
                    {
                        attempts += 1;
                        tokio::time::sleep(Duration::from_millis(100 * attempts)).await;
                    }
                    Err(e) => return Err(e).op("connecting to SQLite"),
                }
            }
        } else {
            // TLS is the URL's `sslmode`/`sslrootcert` as written (config builds them from
            // DB_SSL and DB_SSL_ROOT_CERT); overriding them here would make a URL lie.
            let options = PgConnectOptions::from_str(url).op("reading the PostgreSQL URL")?;
            let pool = PgPoolOptions::new()
                .max_connections(16)
                .acquire_timeout(Duration::from_secs(10))
                .connect_with(options)
                .await
                .op("connecting to PostgreSQL")?;
            Ok(Self::Postgres(pool))
        }
    }

    pub fn backend(&self) -> &'static str {
        match self {
            Self::Sqlite(_) => "sqlite",
            Self::Postgres(_) => "postgres",
        }
    }

    /// Brings the schema up to date; safe to run from several processes at once. `now` is
    /// recorded as when each migration was applied.
    pub async fn migrate(&self, now: chrono::DateTime<chrono::Utc>) -> Result<Vec<i64>> {
        migrations::run(self, now).await
    }

    /// A round trip to the database, for health checks.
    pub async fn ping(&self) -> Result<()> {
        on_pool!(self, pool => {
            sqlx::query("SELECT 1")
                .execute(pool)
                .await
                .op("checking the database answers")?;
        });
        Ok(())
    }

    /// Whether a connection of the pool is encrypted, as the server sees it. SQLite
    /// opens a file, with nothing to encrypt.
    pub async fn uses_tls(&self) -> Result<bool> {
        match self {
            Self::Sqlite(_) => Ok(false),
            Self::Postgres(pool) => {
                sqlx::query_scalar("SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()")
                    .fetch_one(pool)
                    .await
                    .op("asking whether the connection is encrypted")
            }
        }
    }

    pub async fn close(&self) {
        on_pool!(self, pool => pool.close().await)
    }
}

text_column!(crate::domain::EmailStatus);
