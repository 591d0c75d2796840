//! A sample email sent at once through the configured route, outside the queue.

use serde_json::json;

use super::TestReport;
use crate::domain::event::{Actor, EventKind, NewEvent};
use crate::domain::token::Token;
use crate::domain::{Email, EmailKind};
use crate::email::{Outgoing, Recipient};
use crate::service::{Doorman, ServiceError};
use crate::store::EmailBody;

const SAMPLE_NAME: &str = "Test Recipient";

impl Doorman {
    /// Sends one sample email now through the configured route (not through the queue)
    /// and reports exactly what the provider answered. Its token is a random sample that
    /// opens nothing.
    #[tracing::instrument(skip_all, fields(route = %self.email().route(), success))]
    pub async fn send_test_email(
        &self,
        to: &str,
        actor: Actor,
    ) -> Result<TestReport, ServiceError> {
        let to = Email::parse(to).map_err(|e| ServiceError::Invalid(e.to_string()))?;
        let mailer = &self.email().mailer;
        let sample = Token::generate(self.inner.token_length);
        let now = self.now();
        let recipient = Recipient {
            name: SAMPLE_NAME,
            email: to.as_str(),
            token: &sample.grouped(),
            expires_at: now + self.inner.token_expiry,
            reminder: false,
        };
        let outgoing = Outgoing {
            to: to.to_string(),
            values: mailer.composer.values(&recipient, now),
            invitee_id: None,
            email_id: None,
        };
        let answer = mailer.transport.send_test(&outgoing).await;
        let mut report = TestReport {
            success: answer.accepted,
            route: mailer.transport.route(),
            to: to.to_string(),
            status: answer.status,
            provider_response: answer.response,
            message_id: answer.message_id,
            email_id: None,
        };
        tracing::Span::current().record("success", report.success);
        if report.success {
            let event = NewEvent::new(EventKind::TestEmailSent, actor)
                .detail(json!({ "to": report.to, "route": report.route }));
            let kept = answer.kept.map(|email| EmailBody {
                subject: email.subject,
                html: email.html,
                text: email.text,
            });
            let id = self
                .store()
                .record_sent_email(
                    EmailKind::Test,
                    to.as_str(),
                    report.route,
                    report.message_id.as_deref(),
                    kept.as_ref(),
                    &event,
                    self.now(),
                )
                .await?;
            report.email_id = Some(id);
        }
        Ok(report)
    }
}
