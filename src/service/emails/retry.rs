//! Looking at single emails and the queue's counts, and retrying a failed email.

use serde_json::json;

use crate::domain::event::{Actor, EventKind, NewEvent};
use crate::service::{Doorman, ServiceError};
use crate::store::{BatchCounts, EmailRecord};

impl Doorman {
    /// One email of the queue or the outbox.
    #[tracing::instrument(skip_all, fields(email_id = id))]
    pub async fn email_record(&self, id: i64) -> Result<EmailRecord, ServiceError> {
        self.store().email(id).await?.ok_or(ServiceError::NotFound)
    }

    /// How many emails are queued, sent, failed and cancelled: of one batch, or of all.
    #[tracing::instrument(skip_all)]
    pub async fn email_counts(&self, batch_id: Option<&str>) -> Result<BatchCounts, ServiceError> {
        Ok(self.store().email_counts(batch_id).await?)
    }

    /// Puts a failed email back on the queue, from its first attempt; the workers are
    /// woken to send it. Only a failed email can be retried; any other is `Invalid`.
    #[tracing::instrument(skip_all, fields(email_id = id))]
    pub async fn retry_email(&self, id: i64, actor: Actor) -> Result<EmailRecord, ServiceError> {
        let email = self.email_record(id).await?;
        let event = NewEvent::new(EventKind::EmailRetried, actor).detail(json!({
            "email_id": id,
            "kind": email.kind,
            "attempts_before": email.attempts,
            "last_error": email.last_error,
        }));
        let requeued = self
            .store()
            .requeue_failed_email(id, &event, self.now())
            .await?;
        if requeued.is_none() {
            return Err(ServiceError::Invalid(format!(
                "Only a failed email can be retried; this one is {}",
                email.status
            )));
        }
        self.email().note_queued();
        self.email_record(id).await
    }
}
