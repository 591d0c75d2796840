//! Failed verification attempts, counted per email to throttle guessing.

use chrono::{DateTime, Utc};

use super::{BeginWrite, Result, Store, events::insert_event, on_pool};
use crate::domain::event::NewEvent;

/// Failures for one email since a moment, and the oldest of them.
#[derive(Debug, Clone, Copy)]
pub struct RecentFailures {
    pub count: i64,
    pub oldest: Option<DateTime<Utc>>,
}

impl Store {
    pub async fn recent_failures(
        &self,
        email: &str,
        since: DateTime<Utc>,
    ) -> Result<RecentFailures> {
        let sql = "SELECT COUNT(*), MIN(failed_at) FROM verification_failures WHERE email = $1 AND failed_at > $2";
        let (count, oldest): (i64, Option<DateTime<Utc>>) = on_pool!(self, pool => {
            sqlx::query_as(sql).bind(email).bind(since).fetch_one(pool).await?
        });
        Ok(RecentFailures { count, oldest })
    }

    /// Records a failure and its events together, and forgets this email's failures that
    /// have left the window (so the table stays as small as the window).
    pub async fn record_failure(
        &self,
        email: &str,
        now: DateTime<Utc>,
        window_start: DateTime<Utc>,
        events: &[NewEvent],
    ) -> Result<()> {
        on_pool!(self, pool => {
            let mut tx = pool.begin_write().await?;
            sqlx::query("DELETE FROM verification_failures WHERE email = $1 AND failed_at <= $2")
                .bind(email)
                .bind(window_start)
                .execute(&mut *tx)
                .await?;
            sqlx::query("INSERT INTO verification_failures (email, failed_at) VALUES ($1, $2)")
                .bind(email)
                .bind(now)
                .execute(&mut *tx)
                .await?;
            for event in events {
                insert_event!(&mut *tx, event, now).await?;
            }
            tx.commit().await?;
        });
        Ok(())
    }
}
