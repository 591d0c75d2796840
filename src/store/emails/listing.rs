//! Reading the queue: a batch's progress, and the emails themselves.

use super::{BatchCounts, EmailFilter, EmailRecord};
use crate::domain::EmailState;
use crate::store::{Op, Result, Store, on_pool};

const EMAIL_COLUMNS: &str = "id, invitee_id, kind, recipient, status, route, attempts, last_error, \
     provider_message_id, next_attempt_at, created_at, updated_at, sent_at, subject, html_body, text_body";

impl Store {
    /// How many of a batch's emails are in each state.
    pub async fn batch_counts(&self, batch_id: &str) -> Result<BatchCounts> {
        let rows: Vec<(EmailState, i64)> = on_pool!(self, pool => {
            sqlx::query_as("SELECT status, COUNT(*) FROM emails WHERE batch_id = $1 GROUP BY status")
                .bind(batch_id)
                .fetch_all(pool)
                .await
                .op("counting a batch's emails")?
        });
        Ok(BatchCounts::from_rows(rows))
    }

    /// One email, with its body where the route kept it.
    pub async fn email(&self, id: i64) -> Result<Option<EmailRecord>> {
        let sql = format!("SELECT {EMAIL_COLUMNS} FROM emails WHERE id = $1");
        Ok(on_pool!(self, pool => {
            sqlx::query_as(&sql)
                .bind(id)
                .fetch_optional(pool)
                .await
                .op("reading an email")?
        }))
    }

    /// Emails newest first.
    pub async fn emails(&self, filter: &EmailFilter) -> Result<Vec<EmailRecord>> {
        let sql = format!(
            "SELECT {EMAIL_COLUMNS} FROM emails WHERE ($1 IS NULL OR status = $1) \
             AND ($2 IS NULL OR invitee_id = $2) AND ($5 IS NULL OR batch_id = $5) \
             ORDER BY id DESC LIMIT $3 OFFSET $4"
        );
        Ok(on_pool!(self, pool => {
            sqlx::query_as(&sql)
                .bind(filter.status)
                .bind(filter.invitee_id)
                .bind(filter.limit)
                .bind(filter.offset)
                .bind(filter.batch_id.as_deref())
                .fetch_all(pool)
                .await
                .op("listing emails")?
        }))
    }
}

impl BatchCounts {
    /// Adds up `(status, count)` rows: every state past sending counts as sent.
    pub(super) fn from_rows(rows: Vec<(EmailState, i64)>) -> Self {
        let mut counts = Self::default();
        for (status, n) in rows {
            match status {
                EmailState::Queued => counts.queued += n,
                EmailState::Failed => counts.failed += n,
                EmailState::Cancelled => counts.cancelled += n,
                EmailState::Sent
                | EmailState::Delivered
                | EmailState::Bounced
                | EmailState::Dropped => counts.sent += n,
            }
        }
        counts
    }
}
