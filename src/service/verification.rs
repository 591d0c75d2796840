//! Verification: one operation for every channel (API, Discord), so all share the same
//! rules, throttling and events.

mod link;
mod request;

use chrono::{DateTime, Utc};
use serde_json::json;

use super::{Doorman, ServiceError};
use crate::domain::Email;
use crate::domain::event::{EventKind, NewEvent};
use crate::domain::invitee::{DiscordUserId, Invitee, token_expired};
use crate::domain::throttle::{FailureLimits, RecentFailures, retry_after_secs};
use crate::store::{Failed, Verified};
pub use request::{AttemptSource, VerifyOutcome, VerifyRequest};

/// A failed attempt, with what is needed to record it.
pub(super) struct Attempt<'a> {
    pub email: &'a str,
    pub source: &'a str,
    pub reason: Failure,
    pub request: &'a VerifyRequest<'a>,
    pub now: DateTime<Utc>,
}

/// Why a failure counts against the throttle, for the event log.
#[derive(Debug, Clone, Copy)]
pub(super) enum Failure {
    UnknownEmail,
    WrongToken,
    /// A join link that opens no invitation.
    UnknownLink,
}

impl Doorman {
    /// Checks an email and token and, if they match a valid invitation, marks it verified
    /// (linking the Discord account when one is given).
    #[tracing::instrument(skip_all, fields(channel = request.channel.as_str()))]
    pub async fn verify(&self, request: VerifyRequest<'_>) -> Result<VerifyOutcome, ServiceError> {
        let channel = request.channel;
        let result = self.attempt_verification(request).await;
        self.count_verification(channel, &result);
        result
    }

    async fn attempt_verification(
        &self,
        request: VerifyRequest<'_>,
    ) -> Result<VerifyOutcome, ServiceError> {
        let now = self.now();
        let email = Email::normalise(request.email);
        let email: String = email.chars().take(254).collect();
        let source = request.source.key();
        let invitee = self.lookup_within_limits(&email, &source, now).await?;
        let failure = |reason| Attempt {
            email: &email,
            source: &source,
            reason,
            request: &request,
            now,
        };

        let Some(invitee) = invitee else {
            self.record_failure(failure(Failure::UnknownEmail), None)
                .await?;
            return Ok(VerifyOutcome::NotFound);
        };
        let token_hash = match invitee.token_hash.as_deref() {
            Some(hash) if self.inner.keys.matches(request.token, hash) => hash.to_owned(),
            _ => {
                self.record_failure(failure(Failure::WrongToken), Some(invitee.id))
                    .await?;
                return Ok(VerifyOutcome::InvalidToken);
            }
        };
        self.verify_holder(invitee, token_hash, &request, (&email, &source), now)
            .await
    }

    /// The rest of a verification once the invitee has shown they hold the token whose
    /// hash is `token_hash` (typed in, or through the join link): the rules, the write and
    /// its event, the same for every channel. `(email, source)` key the throttle.
    pub(super) async fn verify_holder(
        &self,
        invitee: Invitee,
        token_hash: String,
        request: &VerifyRequest<'_>,
        (email, source): (&str, &str),
        now: DateTime<Utc>,
    ) -> Result<VerifyOutcome, ServiceError> {
        let email = email.to_owned();
        let source = source.to_owned();
        if invitee.is_verified {
            if let Some(outcome) = self
                .link_verified_account(&invitee, &token_hash, request, now)
                .await?
            {
                return Ok(outcome);
            }
            self.note_conflicting_account(&invitee, request).await?;
            return Ok(VerifyOutcome::AlreadyVerified);
        }
        if token_expired(&invitee, now) {
            return Ok(VerifyOutcome::Expired);
        }
        let discord_id = request.discord_user_id.map(DiscordUserId::as_str);
        if let Some(discord_id) = discord_id
            && self
                .linked_elsewhere(discord_id, invitee.id, request)
                .await?
        {
            return Ok(VerifyOutcome::DiscordAccountInUse);
        }

        let event = NewEvent::new(EventKind::VerificationSucceeded, request.actor.clone())
            .invitee(invitee.id)
            .channel(request.channel)
            .detail(json!({ "discord_user_id": discord_id }));
        let outcome = Verified {
            id: invitee.id,
            token_hash,
            discord_user_id: discord_id.map(str::to_owned),
            now,
            event,
            email: email.clone(),
            source: source.clone(),
            limits: self.failure_limits(),
        };
        match self.inner.outcomes.mark_verified(outcome).await {
            Ok(true) => Ok(VerifyOutcome::Verified {
                invitee_id: invitee.id,
                discord_user_id: discord_id.map(str::to_owned),
            }),
            // Someone else got there first: another attempt verified it, a refresh
            // replaced the token, or failures arriving meanwhile used up an allowance.
            Ok(false) => match self.store().invitee(invitee.id).await? {
                Some(current) if !current.is_verified => {
                    self.lookup_within_limits(&email, &source, now).await?;
                    if token_expired(&current, now) {
                        Ok(VerifyOutcome::Expired)
                    } else {
                        Ok(VerifyOutcome::InvalidToken)
                    }
                }
                Some(current) if current.is_verified => Ok(VerifyOutcome::AlreadyVerified),
                _ => Ok(VerifyOutcome::InvalidToken),
            },
            Err(e) if e.is_unique_violation("invitees_discord_user_id_key") => {
                Ok(VerifyOutcome::DiscordAccountInUse)
            }
            Err(e) => Err(e.into()),
        }
    }

    /// The invitee with this email, unless the email or source has used up an allowance,
    /// which refuses the attempt.
    pub(super) async fn lookup_within_limits(
        &self,
        email: &str,
        source: &str,
        now: DateTime<Utc>,
    ) -> Result<Option<Invitee>, ServiceError> {
        let limits = self.failure_limits();
        let (recent, invitee): (RecentFailures, _) = self
            .store()
            .verification_lookup(email, source, limits.window_start(now))
            .await?;
        match recent.refused_until(&limits, now) {
            Some(free_at) => Err(throttled(free_at, now)),
            None => Ok(invitee),
        }
    }

    fn failure_limits(&self) -> FailureLimits {
        let throttle = &self.inner.throttle;
        FailureLimits {
            pair: throttle.max_failures.into(),
            email: throttle.max_per_email.into(),
            source: throttle.max_per_source.into(),
            window: chrono::Duration::from_std(throttle.window)
                .expect("the window is at most a day"),
        }
    }

    /// Counts a failed attempt; the one that uses up the email's allowance is also logged
    /// as a throttling, so admins see guessing without one event per refused attempt.
    pub(super) async fn record_failure(
        &self,
        attempt: Attempt<'_>,
        invitee_id: Option<i64>,
    ) -> Result<(), ServiceError> {
        let Attempt {
            email,
            source,
            reason,
            request,
            now,
        } = attempt;
        let reason = match reason {
            Failure::UnknownEmail => "unknown_email",
            Failure::WrongToken => "wrong_token",
            Failure::UnknownLink => "unknown_link",
        };
        let event = |kind| {
            let mut event = NewEvent::new(kind, request.actor.clone())
                .channel(request.channel)
                .detail(json!({
                    "email": email,
                    "reason": reason,
                    "discord_user_id": request.discord_user_id.map(DiscordUserId::as_str),
                }));
            event.invitee_id = invitee_id;
            event
        };
        let failed = Failed {
            email: email.to_owned(),
            source: source.to_owned(),
            now,
            limits: self.failure_limits(),
            event: event(EventKind::VerificationFailed),
            throttled_event: event(EventKind::VerificationThrottled),
        };
        // Refused here when attempts arriving together used up the allowance after our
        // first look: the attempt then counts as not made.
        match self.inner.outcomes.record_failure(failed).await? {
            Some(free_at) => Err(throttled(free_at, now)),
            None => Ok(()),
        }
    }

    /// Whether the Discord account already belongs to another invitee; if so, the attempt
    /// is recorded with both sides for an admin to look at.
    async fn linked_elsewhere(
        &self,
        discord_id: &str,
        invitee_id: i64,
        request: &VerifyRequest<'_>,
    ) -> Result<bool, ServiceError> {
        let Some(other) = self.store().invitee_by_discord_id(discord_id).await? else {
            return Ok(false);
        };
        if other.id == invitee_id {
            return Ok(false);
        }
        let event = NewEvent::new(EventKind::DiscordAccountConflict, request.actor.clone())
            .invitee(invitee_id)
            .channel(request.channel)
            .detail(json!({ "discord_user_id": discord_id, "linked_invitee_id": other.id }));
        self.record_event(&event).await?;
        Ok(true)
    }

    /// A verified invitation presented again from a different Discord account.
    async fn note_conflicting_account(
        &self,
        invitee: &Invitee,
        request: &VerifyRequest<'_>,
    ) -> Result<(), ServiceError> {
        let (Some(requested), Some(linked)) =
            (request.discord_user_id, invitee.discord_user_id.as_deref())
        else {
            return Ok(());
        };
        if requested.as_str() == linked {
            return Ok(());
        }
        let event = NewEvent::new(EventKind::DiscordAccountConflict, request.actor.clone())
            .invitee(invitee.id)
            .channel(request.channel)
            .detail(
                json!({ "discord_user_id": requested.as_str(), "linked_discord_user_id": linked }),
            );
        self.record_event(&event).await?;
        Ok(())
    }
}

fn throttled(free_at: DateTime<Utc>, now: DateTime<Utc>) -> ServiceError {
    ServiceError::Throttled {
        retry_after_secs: retry_after_secs(free_at, now),
    }
}
