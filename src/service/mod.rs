//! The operations doorman offers: the one door through which the JSON API, the admin UI,
//! the CLI, the Discord bot and the background workers reach the data. Nothing here knows
//! about HTTP; of Discord it knows only the typed ids of servers, members and roles.

mod api_keys;
mod backup;
mod emails;
mod events;
mod import;
mod import_jobs;
mod import_preview;
mod invitee_admin;
mod invitees;
mod join;
mod leader;
mod membership;
mod observe;
mod sessions;
mod stats;
mod tokens;
mod verification;

use std::sync::Arc;

use crate::config::{Settings, ThrottleSettings};
use crate::domain::Clock;
use crate::domain::token::TokenKeys;
use crate::store::{Store, StoreError};

pub use api_keys::ApiKeyRefusal;
pub use backup::{BackupError, POSTGRES_BACKUP_COMMAND};
pub use emails::InvitationPreview;
pub use emails::{
    BatchCounts, EmailFilter, EmailRecord, QueuedBatch, Recipients, SendReport, Skipped,
    TestReport, WebhookReport,
};
pub use events::Health;
pub use import::{AddedInvitee, ImportError, ImportReport, MAX_LISTED};
pub use import_jobs::{ImportJob, JobState, STALE_AFTER, STOPPED, StagedImport};
pub use import_preview::{ImportPreview, PREVIEW_ROWS, PreviewRow, RowOutcome};
pub use invitee_admin::{HandChange, InviteeCounts};
pub use join::{
    JoinClaim, JoinInvitation, JoinPlan, JoinRefusal, JoinSecret, STATE_LIFETIME, StartedJoin,
};
pub use leader::{LeaderConnection, LeaderDatabase, LeaderElection};
pub use membership::{
    DiscordMember, DiscordStatus, DueKicks, GateRules, JoinDecision, KnownGuild,
    MAX_TIMEOUT_MINUTES, MemberVerification, RolesBy,
};
pub use observe::Readiness;
pub use sessions::{AdminSession, OpenedSession, SessionToken};
pub use stats::{CHART_DAYS, CampaignStats, FunnelCounts, MemberCounts};
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
    emails: emails::EmailService,
    /// Writes verification outcomes in groups (see `store::OutcomeWriter`).
    outcomes: crate::store::OutcomeWriter,
    api_keys: api_keys::ApiKeyGuard,
    /// What `/metrics` reports; counted by the operations themselves.
    metrics: crate::observe::Metrics,
}

impl Doorman {
    /// Fails only on an email setting that cannot be used (templates, SMTP URL).
    pub(crate) fn new(
        store: Store,
        settings: &Settings,
        clock: Arc<dyn Clock>,
    ) -> Result<Self, crate::email::EmailSetupError> {
        let emails = emails::EmailService::new(&settings.email)?;
        Ok(Self {
            inner: Arc::new(Inner {
                outcomes: crate::store::OutcomeWriter::spawn(store.clone()),
                store,
                clock,
                keys: TokenKeys::derive(settings.token_secret.expose()),
                token_expiry: settings.token_expiry,
                token_length: settings.token_length,
                throttle: settings.throttle,
                emails,
                api_keys: api_keys::ApiKeyGuard::new(
                    settings.api_key.clone(),
                    settings.api_key_throttle,
                ),
                metrics: crate::observe::Metrics::new(),
            }),
        })
    }

    /// The time by the clock doorman was started with.
    pub fn now(&self) -> chrono::DateTime<chrono::Utc> {
        self.inner.clock.now()
    }

    pub(crate) fn keys(&self) -> &TokenKeys {
        &self.inner.keys
    }

    /// The storage behind the operations. Only the service should reach it: everything
    /// else calls an operation, so each operation's rules live in one place.
    pub(in crate::service) fn store(&self) -> &Store {
        &self.inner.store
    }
}
