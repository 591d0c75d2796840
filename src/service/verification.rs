//! Verification: one operation for every channel (API, Discord), so all share the same
//! rules, throttling and events.

use chrono::{DateTime, Utc};
use serde_json::json;

use super::{Doorman, ServiceError};
use crate::domain::Email;
use crate::domain::event::{Actor, Channel, EventKind, NewEvent};
use crate::domain::invitee::{DiscordUserId, Invitee, token_expired};
use crate::store::{Failed, RecentFailures, Verified};

/// An attempt, as typed by the person.
#[derive(Debug, Clone)]
pub struct VerifyRequest<'a> {
    pub email: &'a str,
    pub token: &'a str,
    pub discord_user_id: Option<&'a DiscordUserId>,
    pub channel: Channel,
    pub actor: Actor,
}

/// How an attempt ended. Throttling is an error instead, since the attempt was not made.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum VerifyOutcome {
    Verified {
        invitee_id: i64,
        discord_user_id: Option<String>,
    },
    NotFound,
    InvalidToken,
    AlreadyVerified,
    Expired,
    /// The Discord account is already linked to another invitee.
    DiscordAccountInUse,
}

impl VerifyOutcome {
    pub fn is_success(&self) -> bool {
        matches!(self, Self::Verified { .. })
    }

    /// The original system's wording, which its clients match on.
    pub fn message(&self) -> &'static str {
        match self {
            Self::Verified { .. } => "User verified successfully",
            Self::NotFound => "User not found with this email",
            Self::InvalidToken => "Invalid verification token",
            Self::AlreadyVerified => "User is already verified",
            Self::Expired => "Verification token has expired",
            Self::DiscordAccountInUse => {
                "This Discord account is already linked to another invitation"
            }
        }
    }
}

/// A failed attempt, with what is needed to record it.
struct Attempt<'a> {
    email: &'a str,
    recent_failures: i64,
    reason: Failure,
    request: &'a VerifyRequest<'a>,
    now: DateTime<Utc>,
}

/// Why a failure counts against the throttle, for the event log.
#[derive(Debug, Clone, Copy)]
enum Failure {
    UnknownEmail,
    WrongToken,
}

impl Doorman {
    /// Checks an email and token and, if they match a valid invitation, marks it verified
    /// (linking the Discord account when one is given).
    pub async fn verify(&self, request: VerifyRequest<'_>) -> Result<VerifyOutcome, ServiceError> {
        let now = crate::domain::now();
        let email = Email::normalise(request.email);
        let email: String = email.chars().take(254).collect();
        let (recent, invitee) = self
            .store()
            .verification_lookup(&email, now - self.throttle_window())
            .await?;
        let recent_failures = self.check_throttle(recent, now)?;
        let failure = |reason| Attempt {
            email: &email,
            recent_failures,
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
        if invitee.is_verified {
            self.note_conflicting_account(&invitee, &request).await?;
            return Ok(VerifyOutcome::AlreadyVerified);
        }
        if token_expired(&invitee, now) {
            return Ok(VerifyOutcome::Expired);
        }
        let discord_id = request.discord_user_id.map(DiscordUserId::as_str);
        if let Some(discord_id) = discord_id
            && self
                .linked_elsewhere(discord_id, invitee.id, &request)
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
        };
        match self.inner.outcomes.mark_verified(outcome).await {
            Ok(true) => Ok(VerifyOutcome::Verified {
                invitee_id: invitee.id,
                discord_user_id: discord_id.map(str::to_owned),
            }),
            // Someone else got there first: another attempt verified it, or a refresh
            // replaced the token, between our read and our write.
            Ok(false) => match self.store().invitee(invitee.id).await? {
                Some(current) if current.is_verified => Ok(VerifyOutcome::AlreadyVerified),
                Some(current) if token_expired(&current, now) => Ok(VerifyOutcome::Expired),
                _ => Ok(VerifyOutcome::InvalidToken),
            },
            Err(e) if e.is_unique_violation("invitees_discord_user_id_key") => {
                Ok(VerifyOutcome::DiscordAccountInUse)
            }
            Err(e) => Err(e.into()),
        }
    }

    /// Refuses the attempt if the email has used up its failures; else says how many it has.
    fn check_throttle(
        &self,
        recent: RecentFailures,
        now: DateTime<Utc>,
    ) -> Result<i64, ServiceError> {
        let window = self.throttle_window();
        if recent.count < i64::from(self.inner.throttle.max_failures) {
            return Ok(recent.count);
        }
        let free_at = recent.oldest.unwrap_or(now) + window;
        let retry_after_secs = (free_at - now).num_seconds().max(1) as u64;
        Err(ServiceError::Throttled { retry_after_secs })
    }

    fn throttle_window(&self) -> chrono::Duration {
        chrono::Duration::from_std(self.inner.throttle.window).expect("the window is at most a day")
    }

    /// Counts a failed attempt; the one that uses up the email's allowance is also logged
    /// as a throttling, so admins see guessing without one event per refused attempt.
    async fn record_failure(
        &self,
        attempt: Attempt<'_>,
        invitee_id: Option<i64>,
    ) -> Result<(), ServiceError> {
        let Attempt {
            email,
            recent_failures,
            reason,
            request,
            now,
        } = attempt;
        let reason = match reason {
            Failure::UnknownEmail => "unknown_email",
            Failure::WrongToken => "wrong_token",
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
        let mut events = vec![event(EventKind::VerificationFailed)];
        if recent_failures + 1 >= i64::from(self.inner.throttle.max_failures) {
            events.push(event(EventKind::VerificationThrottled));
        }
        let window_start = now - self.throttle_window();
        let failed = Failed {
            email: email.to_owned(),
            now,
            window_start,
            events,
        };
        self.inner.outcomes.record_failure(failed).await?;
        Ok(())
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
        self.store().record_event(&event).await?;
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
        self.store().record_event(&event).await?;
        Ok(())
    }
}
