//! Invitation emails: rendering, the three routes (SendGrid, SMTP, the local outbox), the
//! queue's workers and SendGrid's Event Webhook.
//!
//! The queue itself lives in the database (`store::emails`); everything here is
//! stateless, so any replica, or the CLI, can deliver what is due.

pub mod message;
pub mod sendgrid;
pub mod smtp;
pub mod webhook;
pub mod worker;

use std::sync::Arc;
use std::time::Duration;

use crate::config::{EmailRoute, EmailSettings};
use message::{Templates, Values};

/// What a provider made of one send (one email, or one SendGrid batch).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Delivery {
    Accepted {
        message_id: Option<String>,
    },
    /// Worth trying again later (rate limits, server errors, the network).
    Transient {
        error: String,
        retry_after: Option<Duration>,
    },
    /// The provider refused for a reason a retry will not change.
    Permanent {
        error: String,
    },
}

/// One email ready to go: to whom, and the values its templates show.
#[derive(Debug, Clone)]
pub struct Outgoing {
    pub to: String,
    pub values: Values,
    /// Ids doorman puts in SendGrid's `custom_args`, to match webhook events back.
    pub invitee_id: Option<i64>,
    pub email_id: Option<i64>,
}

/// An email fully rendered for one recipient.
#[derive(Debug, Clone)]
pub struct Rendered {
    pub subject: String,
    pub html: String,
    pub text: String,
}

#[derive(Debug, thiserror::Error)]
pub enum EmailSetupError {
    #[error("EMAIL_TEMPLATE_DIR: {0}")]
    Templates(#[from] message::TemplateError),
    #[error("SMTP_URL: {0}")]
    Smtp(String),
}

/// The configured route.
pub enum Transport {
    SendGrid(sendgrid::SendGrid),
    Smtp(smtp::Smtp),
    Outbox,
}

/// Everything needed to render and send: settings, templates, the route.
pub struct Mailer {
    pub settings: EmailSettings,
    pub templates: Templates,
    pub transport: Transport,
    /// Woken when emails are queued, so idle workers start at once.
    pub wake: Arc<tokio::sync::Notify>,
}

impl Mailer {
    pub fn new(settings: &EmailSettings) -> Result<Self, EmailSetupError> {
        let templates = Templates::load(settings.template_dir.as_deref())?;
        let transport = match &settings.route {
            EmailRoute::SendGrid(sg) => Transport::SendGrid(sendgrid::SendGrid::new(
                sg,
                &settings.from,
                settings.request_timeout,
            )),
            EmailRoute::Smtp(smtp) => Transport::Smtp(
                smtp::Smtp::new(smtp, &settings.from, settings.request_timeout)
                    .map_err(EmailSetupError::Smtp)?,
            ),
            EmailRoute::Outbox => Transport::Outbox,
        };
        Ok(Self {
            settings: settings.clone(),
            templates,
            transport,
            wake: Arc::new(tokio::sync::Notify::new()),
        })
    }

    pub fn route(&self) -> &'static str {
        self.settings.route.name()
    }

    pub fn render(&self, values: &Values) -> Rendered {
        Rendered {
            subject: message::subject(&self.settings.subject, &values.community, values.reminder),
            html: self.templates.html(values),
            text: self.templates.text(values),
        }
    }

    /// The values every email shares; the caller fills in the recipient's.
    pub fn values(
        &self,
        name: &str,
        email: &str,
        token: &str,
        expires_at: chrono::DateTime<chrono::Utc>,
        reminder: bool,
        now: chrono::DateTime<chrono::Utc>,
    ) -> Values {
        Values {
            name: name.to_owned(),
            email: email.to_owned(),
            token: token.to_owned(),
            expires_at: message::format_expiry(expires_at),
            expires_in_days: message::days_left(expires_at, now),
            community: self.settings.community.clone(),
            invite_url: self.settings.discord_invite_url.clone(),
            reminder,
        }
    }
}

/// The delay before retry number `attempt` (1-based): `base` doubled each time, capped at
/// an hour, with ±50% jitter so a burst of failures does not retry in lockstep.
pub fn backoff(base: Duration, attempt: u32) -> Duration {
    use rand::Rng;
    let exp = base.saturating_mul(1u32 << attempt.saturating_sub(1).min(20));
    let capped = exp.min(Duration::from_secs(3600));
    capped.mul_f64(rand::rng().random_range(0.5..1.5))
}
