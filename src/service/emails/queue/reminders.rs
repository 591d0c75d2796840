//! Reminders: queued on their days after each invitation, for those who have not verified.

use serde_json::json;

use super::super::invitations::new_batch_id;
use crate::domain::EmailKind;
use crate::domain::event::{Actor, EventKind, NewEvent};
use crate::service::{Doorman, ServiceError};

impl Doorman {
    /// Queues the reminders that are due (REMINDER_DAYS after each invitation, to those
    /// who have not verified); each at most once, whichever replica looks. When a later
    /// reminder is due already, the earlier one is not sent any more.
    #[tracing::instrument(skip_all, fields(queued))]
    pub async fn queue_due_reminders(&self) -> Result<u64, ServiceError> {
        let days = &self.email_settings().reminder_days;
        let route = self.email().route();
        let now = self.now();
        let mut queued = 0;
        for (i, day) in days.iter().enumerate() {
            let invited_before = now - chrono::Duration::days(i64::from(*day));
            let invited_after = match days.get(i + 1) {
                Some(next) => now - chrono::Duration::days(i64::from(*next)),
                None => chrono::DateTime::UNIX_EPOCH,
            };
            let event = NewEvent::new(EventKind::EmailQueued, Actor::System)
                .detail(json!({ "kind": EmailKind::Reminder, "day": day, "route": route }));
            queued += self
                .store()
                .queue_reminders(
                    *day,
                    invited_after,
                    invited_before,
                    route,
                    &new_batch_id(),
                    now,
                    &event,
                )
                .await?;
        }
        if queued > 0 {
            self.email().note_queued();
        }
        tracing::Span::current().record("queued", queued);
        Ok(queued)
    }
}
