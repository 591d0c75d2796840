//! Admin UI sessions (`admin_sessions`), keyed by the hash of the browser's token.

use chrono::{DateTime, Utc};

use super::events::insert_event;
use super::{BeginWrite, Op, Result, Store, on_pool};
use crate::domain::event::NewEvent;

/// A session about to be opened; `id` is the token's hash, never the token.
#[derive(Debug, Clone)]
pub struct NewAdminSession {
    pub id: String,
    pub csrf_token: String,
    pub expires_at: DateTime<Utc>,
    pub client_addr: Option<String>,
}

/// A live session as stored.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct StoredAdminSession {
    pub csrf_token: String,
    pub expires_at: DateTime<Utc>,
    pub last_seen_at: DateTime<Utc>,
}

impl Store {
    /// Opens `session` with its event, dropping the session it replaces (the one the
    /// browser brought, if any) and every expired one, all in one transaction.
    pub async fn open_admin_session(
        &self,
        session: &NewAdminSession,
        replaces: Option<&str>,
        event: &NewEvent,
        now: DateTime<Utc>,
    ) -> Result<()> {
        on_pool!(self, pool => {
            let mut tx = pool.begin_write().await.op("opening an admin session")?;
            sqlx::query("DELETE FROM admin_sessions WHERE expires_at <= $1 OR id = $2")
                .bind(now)
                .bind(replaces)
                .execute(&mut *tx)
                .await
                .op("forgetting expired admin sessions")?;
            sqlx::query(
                "INSERT INTO admin_sessions (id, csrf_token, created_at, expires_at, last_seen_at, client_addr) \
                 VALUES ($1, $2, $3, $4, $3, $5)",
            )
            .bind(&session.id)
            .bind(&session.csrf_token)
            .bind(now)
            .bind(session.expires_at)
            .bind(session.client_addr.as_deref())
            .execute(&mut *tx)
            .await
            .op("opening an admin session")?;
            insert_event!(&mut *tx, event, now).await.op("recording a sign-in")?;
            tx.commit().await.op("opening an admin session")?;
        });
        Ok(())
    }

    /// The session with this id, unless it has expired.
    pub async fn admin_session(
        &self,
        id: &str,
        now: DateTime<Utc>,
    ) -> Result<Option<StoredAdminSession>> {
        let sql = "SELECT csrf_token, expires_at, last_seen_at FROM admin_sessions \
                   WHERE id = $1 AND expires_at > $2";
        on_pool!(self, pool => {
            sqlx::query_as(sql)
                .bind(id)
                .bind(now)
                .fetch_optional(pool)
                .await
                .op("looking up an admin session")
        })
    }

    /// Notes that the session was used at `now`.
    pub async fn touch_admin_session(&self, id: &str, now: DateTime<Utc>) -> Result<()> {
        on_pool!(self, pool => {
            sqlx::query("UPDATE admin_sessions SET last_seen_at = $1 WHERE id = $2")
                .bind(now)
                .bind(id)
                .execute(pool)
                .await
                .op("noting an admin session's use")?;
        });
        Ok(())
    }

    /// Deletes the session and records `event`; false when there was no such session.
    pub async fn close_admin_session(
        &self,
        id: &str,
        event: &NewEvent,
        now: DateTime<Utc>,
    ) -> Result<bool> {
        on_pool!(self, pool => {
            let mut tx = pool.begin_write().await.op("closing an admin session")?;
            let deleted = sqlx::query("DELETE FROM admin_sessions WHERE id = $1")
                .bind(id)
                .execute(&mut *tx)
                .await
                .op("closing an admin session")?
                .rows_affected();
            if deleted > 0 {
                insert_event!(&mut *tx, event, now).await.op("recording a sign-out")?;
            }
            tx.commit().await.op("closing an admin session")?;
            Ok(deleted > 0)
        })
    }
}
