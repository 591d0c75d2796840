//! Sending invitations: choosing who gets one, queueing it with a fresh token, the
//! queue's rounds of sending, reminders, test emails, and what SendGrid's webhook reports.

mod invitations;
mod queue;
mod retry;
mod test_email;
mod webhook;

use tokio::sync::{Notify, watch};

use super::Doorman;
use crate::config::EmailSettings;
use crate::domain::{MailRoute, SkipReason};
use crate::email::webhook::WebhookKey;
use crate::email::{EmailSetupError, Mailer};

pub use crate::store::{BatchCounts, EmailFilter, EmailRecord};
pub use invitations::{InvitationPreview, Recipients};

/// The email side of the service: the route, and the signals between those who queue
/// emails, the workers that send them and those waiting for a batch.
pub(super) struct EmailService {
    settings: EmailSettings,
    mailer: Mailer,
    webhook_key: Option<WebhookKey>,
    /// Notified when emails are queued, so idle workers start at once.
    queued: Notify,
    /// Counts recorded rounds of sending, so a caller waiting for its batch looks again
    /// only when something changed.
    recorded: watch::Sender<u64>,
    /// Turns true when doorman shuts down: workers claim nothing more, and requests
    /// waiting for their batch answer with what is done so far.
    stopping: watch::Sender<bool>,
}

impl EmailService {
    pub(super) fn new(settings: &EmailSettings) -> Result<Self, EmailSetupError> {
        Ok(Self {
            settings: settings.clone(),
            mailer: Mailer::new(settings)?,
            webhook_key: settings.webhook_public_key.clone(),
            queued: Notify::new(),
            recorded: watch::Sender::new(0),
            stopping: watch::Sender::new(false),
        })
    }

    fn route(&self) -> MailRoute {
        self.mailer.transport.route()
    }

    fn note_queued(&self) {
        self.queued.notify_one();
    }

    fn note_recorded(&self) {
        self.recorded.send_modify(|n| *n = n.wrapping_add(1));
    }
}

/// An invitee left out of a batch, and why.
#[derive(Debug, Clone)]
pub struct Skipped {
    pub id: i64,
    pub email: Option<String>,
    pub reason: SkipReason,
}

/// What was queued.
#[derive(Debug, Clone)]
pub struct QueuedBatch {
    pub batch_id: String,
    pub queued: usize,
    pub skipped: Vec<Skipped>,
}

/// Where a batch stands: what is done and what is still queued (the workers go on
/// sending it).
#[derive(Debug, Clone)]
pub struct SendReport {
    /// False if any email failed.
    pub success: bool,
    pub message: String,
    pub emails_sent: i64,
    pub emails_failed: i64,
    /// Still queued (being sent, or waiting for a retry).
    pub emails_queued: i64,
    pub skipped: Vec<Skipped>,
    /// Identifies the batch's emails in the listing.
    pub batch_id: String,
}

/// What the provider answered to a test email, exactly.
#[derive(Debug, Clone)]
pub struct TestReport {
    pub success: bool,
    pub route: MailRoute,
    pub to: String,
    /// The HTTP status (SendGrid) or SMTP reply code.
    pub status: Option<u16>,
    /// The provider's answer as received (SendGrid's body, the SMTP reply, or the error).
    pub provider_response: String,
    pub message_id: Option<String>,
    /// The stored email (the outbox keeps it, rendered).
    pub email_id: Option<i64>,
}

/// What a webhook delivery did.
#[derive(Debug, Clone, Default)]
pub struct WebhookReport {
    pub received: usize,
    pub applied: usize,
    /// Events applied before (SendGrid delivers some more than once).
    pub duplicates: usize,
    /// Events doorman does not track (opens, clicks...) or cannot match to an invitee.
    pub ignored: usize,
}

impl Doorman {
    fn email(&self) -> &EmailService {
        &self.inner.emails
    }

    /// The email settings in force (route, waits...).
    pub fn email_settings(&self) -> &EmailSettings {
        &self.email().settings
    }

    /// Resolves when emails were queued since the last call (or at once if they were).
    pub async fn emails_queued(&self) {
        self.email().queued.notified().await;
    }

    /// From now on no email is claimed for sending; sends already under way finish and
    /// are recorded. For shutting down.
    pub fn stop_sending(&self) {
        self.email().stopping.send_replace(true);
    }

    /// Turns true once [`Doorman::stop_sending`] was called.
    pub fn sending_stopped(&self) -> watch::Receiver<bool> {
        self.email().stopping.subscribe()
    }
}
