//! Putting a failed email back on the queue, and counting the queue as a whole.

use chrono::{DateTime, Utc};

use super::BatchCounts;
use crate::domain::event::NewEvent;
use crate::domain::{EmailState, EmailStatus};
use crate::store::events::insert_event;
use crate::store::{BeginWrite, Op, Result, Store, on_pool};

/// A failed email queued again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Requeued {
    pub invitee_id: Option<i64>,
}

impl Store {
    /// Queues a failed email again from its first attempt, due now, and records `event`
    /// (given the email's invitee) in the same transaction. `None` if there is no such
    /// email or it has not failed.
    pub async fn requeue_failed_email(
        &self,
        id: i64,
        event: &NewEvent,
        now: DateTime<Utc>,
    ) -> Result<Option<Requeued>> {
        let requeue = "UPDATE emails SET status = $1, attempts = 0, next_attempt_at = $2, \
             lease_until = NULL, lease_token = NULL, updated_at = $2 \
             WHERE id = $3 AND status = $4 RETURNING invitee_id";
        // The invitee's status follows its newest email only (as a send's result does).
        let invitee = "UPDATE invitees SET email_status = $1, email_error = NULL, updated_at = $2 \
             WHERE id = $3 AND email_status = $4 \
             AND NOT EXISTS (SELECT 1 FROM emails n WHERE n.invitee_id = $3 AND n.id > $5)";
        on_pool!(self, pool => {
            let mut tx = pool.begin_write().await.op("retrying an email")?;
            let found: Option<(Option<i64>,)> = sqlx::query_as(requeue)
                .bind(EmailState::Queued)
                .bind(now)
                .bind(id)
                .bind(EmailState::Failed)
                .fetch_optional(&mut *tx)
                .await
                .op("retrying an email")?;
            let Some((invitee_id,)) = found else {
                return Ok(None);
            };
            if let Some(invitee_id) = invitee_id {
                sqlx::query(invitee)
                    .bind(EmailStatus::Queued)
                    .bind(now)
                    .bind(invitee_id)
                    .bind(EmailStatus::Failed)
                    .bind(id)
                    .execute(&mut *tx)
                    .await
                    .op("retrying an email")?;
            }
            let mut event = event.clone();
            event.invitee_id = invitee_id;
            insert_event!(&mut *tx, &event, now).await?;
            tx.commit().await.op("retrying an email")?;
            Ok(Some(Requeued { invitee_id }))
        })
    }

    /// How many emails are in each state, of one batch or of all.
    pub async fn email_counts(&self, batch_id: Option<&str>) -> Result<BatchCounts> {
        let rows: Vec<(EmailState, i64)> = on_pool!(self, pool => {
            sqlx::query_as(
                "SELECT status, COUNT(*) FROM emails WHERE ($1 IS NULL OR batch_id = $1) GROUP BY status",
            )
            .bind(batch_id)
            .fetch_all(pool)
            .await
            .op("counting emails")?
        });
        Ok(BatchCounts::from_rows(rows))
    }
}
