//! Invitation emails leaving doorman: rendering, the three routes (SendGrid, SMTP, the
//! local outbox) behind one [`Transport`], and the checking of SendGrid's Event Webhook.
//!
//! Nothing here knows about the queue or the database: the service decides what to send
//! and records what became of it.

pub mod compose;
pub mod outbox;
pub mod sendgrid;
pub mod smtp;
pub mod templates;
pub mod webhook;

use std::sync::Arc;
use std::time::Duration;

use futures::future::BoxFuture;

use crate::config::{EmailRoute, EmailSettings};
use crate::domain::MailRoute;
pub use compose::{Composer, Recipient, Rendered, Values};
use templates::Templates;

/// What a provider made of one email.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Delivery {
    Accepted {
        message_id: Option<String>,
        /// The email as sent, where the route keeps it (the outbox).
        kept: Option<Rendered>,
    },
    /// Worth trying again later (rate limits, server errors, the network).
    Transient {
        error: String,
        retry_after: Option<Duration>,
    },
    /// The provider refused for a reason a retry will not change.
    Permanent { error: String },
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

/// What the provider answered to a test email, as received.
#[derive(Debug, Clone, Default)]
pub struct TestAnswer {
    pub accepted: bool,
    /// The HTTP status (SendGrid) or SMTP reply code.
    pub status: Option<u16>,
    /// SendGrid's body, the SMTP reply, or the error.
    pub response: String,
    pub message_id: Option<String>,
    pub kept: Option<Rendered>,
}

/// A way out for emails.
pub trait Transport: Send + Sync {
    fn route(&self) -> MailRoute;

    /// How many emails one [`Transport::send_batch`] may carry.
    fn batch_limit(&self) -> usize;

    /// Sends a batch (all invitations or all reminders, no address twice) and returns
    /// what became of each email, in order.
    fn send_batch<'a>(&'a self, batch: &'a [Outgoing]) -> BoxFuture<'a, Vec<Delivery>>;

    /// Sends one email now and reports exactly what the provider answered.
    fn send_test<'a>(&'a self, email: &'a Outgoing) -> BoxFuture<'a, TestAnswer>;
}

#[derive(Debug, thiserror::Error)]
pub enum EmailSetupError {
    #[error("EMAIL_TEMPLATE_DIR: {0}")]
    Templates(#[from] templates::TemplateError),
    #[error("SMTP_URL: {0}")]
    Smtp(String),
}

/// The configured route, with what its emails say.
pub struct Mailer {
    pub composer: Arc<Composer>,
    pub transport: Box<dyn Transport>,
}

impl Mailer {
    pub fn new(settings: &EmailSettings) -> Result<Self, EmailSetupError> {
        let templates = Templates::load(settings.template_dir.as_deref())?;
        let composer = Arc::new(Composer::new(settings, templates));
        let timeout = settings.request_timeout;
        let transport: Box<dyn Transport> = match &settings.route {
            EmailRoute::SendGrid(sg) => Box::new(sendgrid::SendGrid::new(
                sg,
                &settings.from,
                timeout,
                settings.batch_size,
                composer.clone(),
            )),
            EmailRoute::Smtp(smtp) => Box::new(
                smtp::Smtp::new(smtp, &settings.from, timeout, composer.clone())
                    .map_err(EmailSetupError::Smtp)?,
            ),
            EmailRoute::Outbox => Box::new(outbox::Outbox::new(composer.clone())),
        };
        Ok(Self {
            composer,
            transport,
        })
    }
}
