//! A member proving their invitation: by the Discord modal, by an admin, or asking again.

use chrono::{DateTime, Utc};
use twilight_model::id::Id;
use twilight_model::id::marker::{GuildMarker, UserMarker};

use super::{DiscordMember, GateRules, MemberVerification, RolesBy, Who};
use crate::domain::event::{Actor, Channel};
use crate::domain::invitee::{DiscordUserId, Invitee};
use crate::domain::membership::{
    AttemptOutcome, Input, Then, VerificationRequest, attempt_outcome,
};
use crate::service::{AttemptSource, Doorman, ServiceError, VerifyOutcome, VerifyRequest};

impl Doorman {
    /// A member's attempt from the Discord modal: the same verification as the API, then
    /// the member's own count of attempts.
    #[tracing::instrument(skip_all, fields(guild_id = %guild_id, user_id = %user_id))]
    pub async fn verify_member(
        &self,
        guild_id: Id<GuildMarker>,
        user_id: Id<UserMarker>,
        email: &str,
        token: &str,
        gate: &GateRules,
    ) -> Result<MemberVerification, ServiceError> {
        let Some(pending) = self.pending_member(guild_id, user_id).await? else {
            return Ok(MemberVerification::NotPending);
        };
        let discord_user_id = DiscordUserId::parse(&user_id.to_string())
            .map_err(|e| ServiceError::Invalid(e.to_string()))?;
        let request = VerifyRequest {
            email,
            token,
            discord_user_id: Some(&discord_user_id),
            channel: Channel::Discord,
            actor: Actor::Invitee,
            source: AttemptSource::Discord(&discord_user_id),
        };
        // Every other outcome is a failed attempt, told apart only in the event log.
        let verified = match self.verify(request).await? {
            VerifyOutcome::Verified { invitee_id, .. } => {
                Some(self.store().invitee(invitee_id).await?)
            }
            VerifyOutcome::Expired => return Ok(MemberVerification::Expired),
            // Verified earlier through this very account (say, through the API): welcome.
            VerifyOutcome::AlreadyVerified => self
                .store()
                .invitee_by_discord_id(discord_user_id.as_str())
                .await?
                .filter(|i| i.email.as_str() == crate::domain::Email::normalise(email))
                .map(Some),
            VerifyOutcome::NotFound
            | VerifyOutcome::InvalidToken
            | VerifyOutcome::DiscordAccountInUse => None,
        };
        let Some(invitee) = verified else {
            return self.count_failed_attempt(&pending, gate).await;
        };
        let input = Input::Verified { by_admin: false };
        let who = (Actor::Invitee, invitee.as_ref().map(|i| i.id));
        self.step(guild_id, user_id, input, gate, who).await?;
        Ok(MemberVerification::Verified {
            invitee: invitee.map(Box::new),
        })
    }

    /// Counts a failed attempt against the verification `read` before the attempt. If the
    /// member changed meanwhile (force-verified, held, restarted, gone), the attempt does
    /// not count, and can never end in a kick.
    #[tracing::instrument(skip_all, fields(guild_id = %read.guild_id, user_id = %read.user_id))]
    pub async fn count_failed_attempt(
        &self,
        read: &DiscordMember,
        gate: &GateRules,
    ) -> Result<MemberVerification, ServiceError> {
        let rules = self.rules(read.guild_id, gate).await?;
        let who = (Actor::Invitee, None);
        let applied = self
            .apply(
                read.guild_id,
                read.user_id,
                Some(&read.membership),
                Input::FailedAttempt,
                &rules,
                who,
            )
            .await?;
        let counted = applied.written.map(|m| m.membership.failed_attempts);
        Ok(match attempt_outcome(counted, gate.max_attempts) {
            AttemptOutcome::TryAgain { attempts_left } => {
                MemberVerification::Mismatch { attempts_left }
            }
            AttemptOutcome::OutOfAttempts => MemberVerification::OutOfAttempts,
            AttemptOutcome::NotPending => MemberVerification::NotPending,
        })
    }

    /// An admin lets a member in without a token (`/force_verify`, or the admin UI), and
    /// `roles` says who gives them their roles.
    #[tracing::instrument(skip_all, fields(guild_id = %guild_id, user_id = %user_id))]
    pub async fn force_verify_member(
        &self,
        guild_id: Id<GuildMarker>,
        user_id: Id<UserMarker>,
        actor: Actor,
        roles: RolesBy,
        gate: &GateRules,
    ) -> Result<Option<Invitee>, ServiceError> {
        let invitee = self
            .store()
            .invitee_by_discord_id(&user_id.to_string())
            .await?;
        let input = Input::Verified { by_admin: true };
        let who = Who {
            actor,
            invitee_id: invitee.as_ref().map(|i| i.id),
            roles,
        };
        self.step(guild_id, user_id, input, gate, who).await?;
        Ok(invitee)
    }

    /// A member asks to verify (`/verify`). Only someone doorman may remove gets a
    /// deadline: never a member from before doorman, and never one whose kick is held for
    /// an admin. `joined_at` is when Discord says they joined (None: unknown, so from before).
    #[tracing::instrument(skip_all, fields(guild_id = %guild_id, user_id = %user_id))]
    pub async fn request_verification(
        &self,
        guild_id: Id<GuildMarker>,
        user_id: Id<UserMarker>,
        joined_at: Option<DateTime<Utc>>,
        gate: &GateRules,
    ) -> Result<VerificationRequest, ServiceError> {
        let input = Input::AskedToVerify { joined_at };
        let who = (Actor::System, None);
        let applied = self.step(guild_id, user_id, input, gate, who).await?;
        if !applied.held_back()
            && let Then::Answer(answer) = applied.decision.then
        {
            return Ok(answer);
        }
        // Another path moved them meanwhile: go by what it decided.
        let member = self.store().discord_member(guild_id, user_id).await?;
        Ok(member
            .and_then(|m| VerificationRequest::from_state(&m.membership))
            .unwrap_or(VerificationRequest::NotNeeded))
    }
}
