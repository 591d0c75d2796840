//! The operations doorman offers, callable from the JSON API, the CLI, and later the admin
//! UI and the Discord bot alike. Nothing here knows about HTTP or Discord.

mod emails;
mod gate;
mod sessions;
mod tokens;
mod verification;

use std::sync::Arc;

use serde_json::json;

use crate::config::{Settings, ThrottleSettings};
use crate::domain::Clock;
use crate::domain::event::{Actor, EventKind, NewEvent};
use crate::domain::invitee::Invitee;
use crate::domain::token::TokenKeys;
use crate::store::{Store, StoreError};

pub use emails::{QueuedBatch, Recipients, SendReport, Skipped, TestReport, WebhookReport};
pub use gate::{
    DueKicks, GateRules, JoinDecision, KickReason, MemberVerification, RefusalNotice,
    VerificationRequest, kick_retry_after,
};
pub use sessions::{AdminSession, OpenedSession, SessionToken};
pub use tokens::IssuedToken;
pub use verification::{AttemptSource, VerifyOutcome, VerifyRequest};

#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    #[error("User not found")]
    NotFound,
    /// A value the caller gave is unusable (e.g. a malformed address).
    #[error("{0}")]
    Invalid(String),
    #[error("too many failed attempts; try again in {retry_after_secs} s")]
    Throttled { retry_after_secs: u64 },
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// The shared core: storage, token keys and the rules that use them.
#[derive(Clone)]
pub struct Doorman {
    inner: Arc<Inner>,
}

struct Inner {
    store: Store,
    clock: Arc<dyn Clock>,
    keys: TokenKeys,
    token_expiry: chrono::Duration,
    token_length: usize,
    throttle: ThrottleSettings,
    mailer: crate::email::Mailer,
    webhook_key: Option<p256::ecdsa::VerifyingKey>,
    /// Writes verification outcomes in groups (see `store::OutcomeWriter`).
    outcomes: crate::store::OutcomeWriter,
}

impl Doorman {
    /// Fails only on an email setting that cannot be used (templates, SMTP URL).
    pub fn new(
        store: Store,
        settings: &Settings,
        clock: Arc<dyn Clock>,
    ) -> Result<Self, crate::email::EmailSetupError> {
        let mailer = crate::email::Mailer::new(&settings.email)?;
        let webhook_key = settings
            .email
            .webhook_public_key
            .as_deref()
            .and_then(|k| crate::email::webhook::parse_public_key(k).ok());
        Ok(Self {
            inner: Arc::new(Inner {
                outcomes: crate::store::OutcomeWriter::spawn(store.clone()),
                store,
                clock,
                keys: TokenKeys::derive(settings.token_secret.expose()),
                token_expiry: settings.token_expiry,
                token_length: settings.token_length,
                throttle: settings.throttle,
                mailer,
                webhook_key,
            }),
        })
    }

    /// The time by the clock doorman was started with.
    pub fn now(&self) -> chrono::DateTime<chrono::Utc> {
        self.inner.clock.now()
    }

    pub(crate) fn mailer(&self) -> &crate::email::Mailer {
        &self.inner.mailer
    }

    pub(crate) fn keys(&self) -> &TokenKeys {
        &self.inner.keys
    }

    pub fn store(&self) -> &Store {
        &self.inner.store
    }

    pub async fn invitee(&self, id: i64) -> Result<Invitee, ServiceError> {
        self.store()
            .invitee(id)
            .await?
            .ok_or(ServiceError::NotFound)
    }

    pub async fn delete_invitee(&self, id: i64, actor: Actor) -> Result<Invitee, ServiceError> {
        let event = NewEvent::new(EventKind::InviteeDeleted, actor).invitee(id);
        let deleted = self.store().delete_invitee(id, &event).await?;
        deleted.ok_or(ServiceError::NotFound)
    }

    pub async fn delete_all_invitees(&self, actor: Actor) -> Result<u64, ServiceError> {
        let event = NewEvent::new(EventKind::AllInviteesDeleted, actor).detail(json!({}));
        Ok(self.store().delete_all_invitees(event).await?)
    }
}
