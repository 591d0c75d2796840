//! What SendGrid's Event Webhook reports about sent emails.

use serde_json::json;

use super::WebhookReport;
use crate::domain::event::{Actor, NewEvent};
use crate::email::webhook::{self, Event, WebhookKey};
use crate::service::{Doorman, ServiceError};
use crate::store::WebhookChange;

/// How long applied webhook event ids are remembered (SendGrid retries a delivery for
/// up to a day or so; a week leaves room).
const WEBHOOK_MEMORY: chrono::Duration = chrono::Duration::days(7);

impl Doorman {
    /// The SendGrid webhook's verification key, if configured.
    pub fn webhook_key(&self) -> Option<&WebhookKey> {
        self.email().webhook_key.as_ref()
    }

    /// Applies SendGrid events (already verified): each once, by its `sg_event_id`.
    #[tracing::instrument(skip_all, fields(received = events.len(), applied))]
    pub async fn apply_sendgrid_events(
        &self,
        events: Vec<Event>,
    ) -> Result<WebhookReport, ServiceError> {
        let mut report = WebhookReport {
            received: events.len(),
            ..Default::default()
        };
        for event in events {
            let invitee_id = event.invitee_id.as_ref().and_then(|i| i.get());
            let (Some(effect), Some(invitee_id), Some(event_id)) =
                (webhook::effect(&event), invitee_id, event.sg_event_id)
            else {
                report.ignored += 1;
                continue;
            };
            let email_id = event.email_id.as_ref().and_then(|i| i.get());
            let log = NewEvent::new(effect.report.event_kind(), Actor::System)
                .invitee(invitee_id)
                .detail(json!({ "email_id": email_id, "sg_event_id": event_id, "reason": effect.error }));
            let change = WebhookChange {
                event_id,
                email_id,
                invitee_id,
                report: effect.report,
                error: effect.error,
                event: log,
            };
            if self
                .store()
                .apply_webhook_change(&change, self.now())
                .await?
            {
                report.applied += 1;
            } else {
                report.duplicates += 1;
            }
        }
        tracing::Span::current().record("applied", report.applied);
        Ok(report)
    }

    /// Forgets the ids of webhook events older than SendGrid would redeliver; returns
    /// how many.
    #[tracing::instrument(skip_all)]
    pub async fn forget_old_webhook_events(&self) -> Result<u64, ServiceError> {
        let before = self.now() - WEBHOOK_MEMORY;
        Ok(self.store().prune_webhook_events(before).await?)
    }
}
