//! The lock that makes one replica the leader: a PostgreSQL session advisory lock, held
//! on a connection of its own (never one of the pool's, which are shared and recycled).
//!
//! A session lock lasts exactly as long as its connection. When the holder's process dies
//! its socket closes and PostgreSQL lets go at once; when the holder goes silent (a
//! network partition, a frozen machine), `idle_session_timeout` makes the server end the
//! session, and with it the lock, after `server_gives_up`. Advisory locks belong to one
//! database; the key also names the schema, so doorman instances sharing a database in
//! schemas of their own each elect their own leader.

use std::time::Duration;

use sqlx::{Connection, PgConnection};

use super::{Op, Result, Store};

/// The first half of the lock's key: doorman's leader lock ("door").
const LEADER_LOCK_CLASS: i32 = 0x646f_6f72;

/// Where a replica can compete for leadership.
#[derive(Debug, Clone)]
pub enum LeaderElection {
    /// SQLite: one process serves the file, so it always leads.
    Alone,
    /// PostgreSQL: the advisory lock decides.
    Postgres(LeaderDatabase),
}

/// Where to open the leader lock's connection: the pool's own settings (URL, TLS,
/// search path), named so that operators can tell the connection apart.
#[derive(Debug, Clone)]
pub struct LeaderDatabase(Box<sqlx::postgres::PgConnectOptions>);

/// A dedicated connection competing for, or holding, the leader lock.
pub struct LeaderConnection {
    connection: PgConnection,
}

impl Store {
    pub fn leader_election(&self) -> LeaderElection {
        match self {
            Store::Sqlite(_) => LeaderElection::Alone,
            Store::Postgres(pool) => {
                let options = (*pool.connect_options()).clone();
                LeaderElection::Postgres(LeaderDatabase(Box::new(
                    options.application_name(&format!("doorman leader {}", std::process::id())),
                )))
            }
        }
    }
}

impl LeaderConnection {
    /// Opens a connection of its own. The server ends it after `server_gives_up` without
    /// a statement (PostgreSQL 14 and later; older servers rely on TCP keepalives).
    pub async fn open(database: &LeaderDatabase, server_gives_up: Duration) -> Result<Self> {
        const OP: &str = "opening the leader lock's connection";
        let mut connection = PgConnection::connect_with(&database.0).await.op(OP)?;
        let millis = server_gives_up.as_millis().max(1);
        if let Err(error) = sqlx::query(&format!("SET idle_session_timeout = {millis}"))
            .execute(&mut connection)
            .await
        {
            tracing::debug!(%error, "the server has no idle_session_timeout");
        }
        let keepalive = server_gives_up.as_secs().max(1);
        for setting in [
            format!("SET tcp_keepalives_idle = {keepalive}"),
            "SET tcp_keepalives_interval = 1".to_owned(),
            "SET tcp_keepalives_count = 3".to_owned(),
        ] {
            if let Err(error) = sqlx::query(&setting).execute(&mut connection).await {
                tracing::debug!(%error, "cannot set TCP keepalives on the leader connection");
            }
        }
        Ok(Self { connection })
    }

    /// Takes the lock if nobody holds it; true if this connection now holds it.
    pub async fn try_acquire(&mut self) -> Result<bool> {
        sqlx::query_scalar("SELECT pg_try_advisory_lock($1, hashtext(current_schema()))")
            .bind(LEADER_LOCK_CLASS)
            .fetch_one(&mut self.connection)
            .await
            .op("trying the leader lock")
    }

    /// A round trip: while the connection answers, its session (and so the lock) lives.
    pub async fn confirm(&mut self) -> Result<()> {
        sqlx::query("SELECT 1")
            .execute(&mut self.connection)
            .await
            .op("confirming the leader lock")?;
        Ok(())
    }
}
