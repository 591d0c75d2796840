//! Failed verification attempts, counted per email to throttle guessing.

use chrono::{DateTime, Utc};

use sqlx::{FromRow, Row};

use super::{BeginWrite, Result, Store, events::insert_event, on_pool};
use crate::domain::event::NewEvent;
use crate::domain::invitee::Invitee;

/// Failures for one email since a moment, and the oldest of them.
#[derive(Debug, Clone, Copy)]
pub struct RecentFailures {
    pub count: i64,
    pub oldest: Option<DateTime<Utc>>,
}

impl Store {
    /// What a verification attempt needs to know, in one round trip: the email's recent
    /// failures (for throttling) and the invitee, if there is one.
    pub async fn verification_lookup(
        &self,
        email: &str,
        since: DateTime<Utc>,
    ) -> Result<(RecentFailures, Option<Invitee>)> {
        let sql = format!(
            "SELECT f.failures, f.oldest_failure, {} FROM \
             (SELECT COUNT(*) AS failures, MIN(failed_at) AS oldest_failure FROM verification_failures \
              WHERE email = $1 AND failed_at > $2) AS f \
             LEFT JOIN invitees ON invitees.email = $1",
            super::invitees::COLUMNS
        );
        on_pool!(self, pool => {
            let row = sqlx::query(&sql).bind(email).bind(since).fetch_one(pool).await?;
            let failures = RecentFailures { count: row.try_get("failures")?, oldest: row.try_get("oldest_failure")? };
            let invitee = match row.try_get::<Option<i64>, _>("id")? {
                Some(_) => Some(Invitee::from_row(&row)?),
                None => None,
            };
            Ok((failures, invitee))
        })
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
        if let Store::Postgres(pool) = self {
            // One statement: PostgreSQL runs every data-modifying part of a WITH.
            let events_values: Vec<String> = (0..events.len())
                .map(|i| {
                    let b = 3 + i * 5;
                    format!(
                        "(${}, ${}, ${}, ${}, ${}, $2)",
                        b + 1,
                        b + 2,
                        b + 3,
                        b + 4,
                        b + 5
                    )
                })
                .collect();
            let sql = format!(
                "WITH pruned AS (DELETE FROM verification_failures WHERE email = $1 AND failed_at <= $3), \
                 failed AS (INSERT INTO verification_failures (email, failed_at) VALUES ($1, $2)) \
                 INSERT INTO events (kind, invitee_id, actor, channel, detail, created_at) VALUES {}",
                events_values.join(", ")
            );
            let mut query = sqlx::query(&sql).bind(email).bind(now).bind(window_start);
            for event in events {
                query = query
                    .bind(event.kind.as_str())
                    .bind(event.invitee_id)
                    .bind(event.actor.to_string())
                    .bind(event.channel.map(|c| c.as_str()))
                    .bind(event.detail.to_string());
            }
            query.execute(pool).await?;
            return Ok(());
        }
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
