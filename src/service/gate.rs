//! The rules of the door: who must verify, by when, how many tries they get, and when
//! kicks wait for a human. Discord-free: members are plain ids, and the bot carries out
//! what these decisions say.

use std::time::Duration;

use chrono::{DateTime, Utc};
use serde_json::json;

use super::{Doorman, ServiceError, VerifyOutcome, VerifyRequest};
use crate::domain::event::{Actor, Channel, EventKind, NewEvent};
use crate::domain::invitee::{DiscordUserId, Invitee};
use crate::store::{DiscordMember, MemberState};

/// Rules that come from configuration.
#[derive(Debug, Clone, Copy)]
pub struct GateRules {
    pub default_timeout: Duration,
    pub max_attempts: u32,
    pub kick_burst_limit: u32,
}

/// What to do about a member who just joined.
#[derive(Debug, Clone)]
pub enum JoinDecision {
    /// Verified before (this Discord account is linked): give the roles, no prompt.
    Welcome { invitee: Option<Box<Invitee>> },
    /// Ask them to verify by `deadline`.
    Prompt { deadline: DateTime<Utc> },
    /// Another path dealt with this join at the same moment: nothing more to do.
    Underway,
}

/// How a member's verification attempt ended.
#[derive(Debug, Clone)]
pub enum MemberVerification {
    Verified {
        invitee: Option<Box<Invitee>>,
    },
    /// Email and token do not match a valid invitation (one wording for every reason).
    Mismatch {
        attempts_left: u32,
    },
    Expired,
    /// The last allowed attempt failed: kick them.
    OutOfAttempts,
    /// They have no pending verification (already verified, or not asked).
    NotPending,
}

/// The answer to a member asking to verify.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum VerificationRequest {
    /// Under way (or just started): verify by `deadline`.
    Pending {
        deadline: DateTime<Utc>,
    },
    AlreadyVerified,
    /// Their kick waits for an admin; nothing changes until one decides.
    Held,
    /// Doorman does not ask them to verify (in the server since before doorman).
    NotNeeded,
}

impl VerificationRequest {
    /// What a known state already says; None when a verification may start.
    fn from_state(member: &DiscordMember) -> Option<Self> {
        match (member.state, member.deadline) {
            (MemberState::Verified, _) => Some(Self::AlreadyVerified),
            (MemberState::Held, _) => Some(Self::Held),
            (MemberState::Pending, Some(deadline)) => Some(Self::Pending { deadline }),
            _ => None,
        }
    }
}

/// What a counted failed attempt means; `counted` is None when the member changed
/// meanwhile, which must never turn into a kick.
fn attempt_outcome(counted: Option<i64>, max_attempts: u32) -> MemberVerification {
    let Some(attempts) = counted else {
        return MemberVerification::NotPending;
    };
    let max = i64::from(max_attempts);
    if attempts >= max {
        return MemberVerification::OutOfAttempts;
    }
    MemberVerification::Mismatch {
        attempts_left: u32::try_from(max - attempts).unwrap_or(u32::MAX),
    }
}

/// How long after its `refusals`-th refused kick (0 for the first) a member is tried
/// again: a minute, doubling, at most an hour.
pub fn kick_retry_after(refusals: i64) -> chrono::Duration {
    let doublings = u32::try_from(refusals.clamp(0, 6)).unwrap_or(6);
    let wait = chrono::Duration::minutes(1) * 2_i32.pow(doublings);
    wait.min(KICK_RETRY_CAP)
}

const KICK_RETRY_CAP: chrono::Duration = chrono::Duration::hours(1);
/// While a kick stays refused, the admin is reminded this often, not at every retry.
const REFUSAL_REMINDER_EVERY: chrono::Duration = chrono::Duration::hours(6);

/// Whether an admin should hear about a refused kick now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RefusalNotice {
    /// The first refusal: tell them.
    First,
    /// Still refused hours later: remind them.
    Reminder,
    /// Told recently; stay quiet.
    Quiet,
}

/// The kicks that came due.
#[derive(Debug, Default)]
pub struct DueKicks {
    pub kick: Vec<DiscordMember>,
    /// Held back because too many came due at once; an admin must confirm or cancel.
    pub held: Vec<DiscordMember>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KickReason {
    Timeout,
    Attempts,
}

impl KickReason {
    /// Shown in the server's audit log.
    pub fn audit_log_text(self) -> &'static str {
        match self {
            Self::Timeout => "Verification timeout",
            Self::Attempts => "Verification failed too many times",
        }
    }
}

/// How long a claimed deadline is reserved for the replica that claimed it.
const CLAIM_LEASE: chrono::Duration = chrono::Duration::seconds(60);
const CLAIM_BATCH: i64 = 100;

fn member_event(kind: EventKind, actor: Actor, guild_id: &str, user_id: &str) -> NewEvent {
    NewEvent::new(kind, actor)
        .channel(Channel::Discord)
        .detail(json!({ "guild_id": guild_id, "user_id": user_id }))
}

impl Doorman {
    /// The time a newcomer has in this server (`/set_timeout`, else the configured default).
    pub async fn verification_timeout(
        &self,
        guild_id: &str,
        rules: &GateRules,
    ) -> Result<Duration, ServiceError> {
        let custom = self.store().guild_timeout_seconds(guild_id).await?;
        Ok(custom.map_or(rules.default_timeout, |s| {
            Duration::from_secs(s.max(0) as u64)
        }))
    }

    pub async fn set_verification_timeout(
        &self,
        guild_id: &str,
        minutes: u32,
        actor: Actor,
    ) -> Result<(), ServiceError> {
        let now = self.now();
        self.store()
            .set_guild_timeout_seconds(guild_id, i64::from(minutes) * 60, now)
            .await?;
        let mut event = member_event(EventKind::DiscordTimeoutSet, actor, guild_id, "");
        event.detail = json!({ "guild_id": guild_id, "minutes": minutes });
        self.record_event(&event).await?;
        Ok(())
    }

    /// When doorman first saw this server; members who joined before are left alone.
    pub async fn guild_first_connected(
        &self,
        guild_id: &str,
    ) -> Result<DateTime<Utc>, ServiceError> {
        Ok(self
            .store()
            .guild_first_connected(guild_id, self.now())
            .await?)
    }

    /// Decides what a join means. The deadline belongs to the person: rejoining while a
    /// verification is pending keeps its deadline.
    pub async fn member_joined(
        &self,
        guild_id: &str,
        user_id: &str,
        rules: &GateRules,
    ) -> Result<JoinDecision, ServiceError> {
        let now = self.now();
        let invitee = self
            .store()
            .invitee_by_discord_id(user_id)
            .await?
            .filter(|i| i.is_verified);
        let member = self.store().discord_member(guild_id, user_id).await?;
        let mut event = member_event(
            EventKind::DiscordMemberJoined,
            Actor::System,
            guild_id,
            user_id,
        );
        event.invitee_id = invitee.as_ref().map(|i| i.id);
        self.record_event(&event).await?;

        if invitee.is_some()
            || member
                .as_ref()
                .is_some_and(|m| m.state == MemberState::Verified)
        {
            self.store()
                .mark_member_verified(guild_id, user_id, now)
                .await?;
            return Ok(JoinDecision::Welcome {
                invitee: invitee.map(Box::new),
            });
        }
        if let Some(member) =
            member.filter(|m| matches!(m.state, MemberState::Pending | MemberState::Held))
            && let Some(deadline) = member.deadline
        {
            return Ok(JoinDecision::Prompt { deadline });
        }
        let timeout = self.verification_timeout(guild_id, rules).await?;
        let deadline = now + chrono::Duration::from_std(timeout).unwrap_or(chrono::Duration::MAX);
        // The join event and the catch-up after a reconnect can both get here for one
        // member: only the one that starts the verification prompts.
        if !self
            .store()
            .start_pending_if_idle(guild_id, user_id, deadline, now)
            .await?
        {
            return Ok(JoinDecision::Underway);
        }
        Ok(JoinDecision::Prompt { deadline })
    }

    pub async fn member_left(&self, guild_id: &str, user_id: &str) -> Result<(), ServiceError> {
        let event = member_event(
            EventKind::DiscordMemberLeft,
            Actor::System,
            guild_id,
            user_id,
        );
        self.record_event(&event).await?;
        Ok(())
    }

    /// Records that a prompt reached the member (`fell_back`: in the channel, as DMs were closed).
    pub async fn member_prompted(
        &self,
        guild_id: &str,
        user_id: &str,
        fell_back: bool,
    ) -> Result<(), ServiceError> {
        let kind = if fell_back {
            EventKind::DiscordPromptFellBackToChannel
        } else {
            EventKind::DiscordPrompted
        };
        self.record_event(&member_event(kind, Actor::System, guild_id, user_id))
            .await?;
        Ok(())
    }

    pub async fn pending_member(
        &self,
        guild_id: &str,
        user_id: &str,
    ) -> Result<Option<DiscordMember>, ServiceError> {
        let member = self.store().discord_member(guild_id, user_id).await?;
        Ok(member.filter(|m| m.state == MemberState::Pending))
    }

    /// A member's attempt from the Discord modal: the same verification as the API, then
    /// the member's own count of attempts.
    pub async fn verify_member(
        &self,
        guild_id: &str,
        discord_user_id: &DiscordUserId,
        email: &str,
        token: &str,
        rules: &GateRules,
    ) -> Result<MemberVerification, ServiceError> {
        let user_id = discord_user_id.as_str();
        let Some(pending) = self.pending_member(guild_id, user_id).await? else {
            return Ok(MemberVerification::NotPending);
        };
        let request = VerifyRequest {
            email,
            token,
            discord_user_id: Some(discord_user_id),
            channel: Channel::Discord,
            actor: Actor::Invitee,
            source: super::AttemptSource::Discord(discord_user_id),
        };
        let now = self.now();
        // Every other outcome is a failed attempt, told apart only in the event log.
        match self.verify(request).await? {
            VerifyOutcome::Verified { invitee_id, .. } => {
                self.store()
                    .mark_member_verified(guild_id, user_id, now)
                    .await?;
                return Ok(MemberVerification::Verified {
                    invitee: self.store().invitee(invitee_id).await?.map(Box::new),
                });
            }
            VerifyOutcome::Expired => return Ok(MemberVerification::Expired),
            // Verified earlier through this very account (say, through the API): welcome.
            VerifyOutcome::AlreadyVerified => {
                match self.store().invitee_by_discord_id(user_id).await? {
                    Some(invitee)
                        if invitee.email.as_str() == crate::domain::Email::normalise(email) =>
                    {
                        self.store()
                            .mark_member_verified(guild_id, user_id, now)
                            .await?;
                        return Ok(MemberVerification::Verified {
                            invitee: Some(Box::new(invitee)),
                        });
                    }
                    _ => {}
                }
            }
            VerifyOutcome::NotFound
            | VerifyOutcome::InvalidToken
            | VerifyOutcome::DiscordAccountInUse => {}
        }
        self.count_failed_attempt(&pending, rules).await
    }

    /// Counts a failed attempt against the verification `read` before the attempt. If the
    /// member changed meanwhile (force-verified, held, restarted, gone), the attempt does
    /// not count, and can never end in a kick.
    pub async fn count_failed_attempt(
        &self,
        read: &DiscordMember,
        rules: &GateRules,
    ) -> Result<MemberVerification, ServiceError> {
        let counted = self.store().add_failed_attempt(read, self.now()).await?;
        Ok(attempt_outcome(counted, rules.max_attempts))
    }

    /// An admin lets a member in without a token.
    pub async fn force_verify_member(
        &self,
        guild_id: &str,
        user_id: &str,
        actor: Actor,
    ) -> Result<Option<Invitee>, ServiceError> {
        let now = self.now();
        self.store()
            .mark_member_verified(guild_id, user_id, now)
            .await?;
        let invitee = self.store().invitee_by_discord_id(user_id).await?;
        let mut event = member_event(EventKind::DiscordForceVerified, actor, guild_id, user_id);
        event.invitee_id = invitee.as_ref().map(|i| i.id);
        self.record_event(&event).await?;
        Ok(invitee)
    }

    /// A member asks to verify (`/verify`). Only someone doorman may remove gets a
    /// deadline: never a member from before doorman, and never one whose kick is held for
    /// an admin. `joined_at` is when Discord says they joined (None: unknown, so from before).
    pub async fn request_verification(
        &self,
        guild_id: &str,
        user_id: &str,
        joined_at: Option<DateTime<Utc>>,
        rules: &GateRules,
    ) -> Result<VerificationRequest, ServiceError> {
        let member = self.store().discord_member(guild_id, user_id).await?;
        if let Some(known) = member.as_ref().and_then(VerificationRequest::from_state) {
            return Ok(known);
        }
        let first_connected = self.guild_first_connected(guild_id).await?;
        if joined_at.is_none_or(|joined| joined <= first_connected) {
            return Ok(VerificationRequest::NotNeeded);
        }
        let now = self.now();
        let timeout = self.verification_timeout(guild_id, rules).await?;
        let deadline = now + chrono::Duration::from_std(timeout).unwrap_or(chrono::Duration::MAX);
        if self
            .store()
            .start_pending_if_idle(guild_id, user_id, deadline, now)
            .await?
        {
            return Ok(VerificationRequest::Pending { deadline });
        }
        // Another path moved them meanwhile: go by what it decided.
        let member = self.store().discord_member(guild_id, user_id).await?;
        Ok(member
            .as_ref()
            .and_then(VerificationRequest::from_state)
            .unwrap_or(VerificationRequest::NotNeeded))
    }

    /// Claims the deadlines that have passed. If more are due than the burst limit allows
    /// within a minute (after an outage, or a misconfigured role), the unconfirmed ones are
    /// held for an admin instead of kicked.
    pub async fn due_kicks(&self, rules: &GateRules) -> Result<DueKicks, ServiceError> {
        let now = self.now();
        let claimed = self
            .store()
            .claim_due_members(now, now + CLAIM_LEASE, CLAIM_BATCH)
            .await?;
        let (confirmed, unconfirmed): (Vec<_>, Vec<_>) =
            claimed.into_iter().partition(|m| m.kick_confirmed);
        let mut due = DueKicks {
            kick: confirmed,
            held: Vec::new(),
        };
        if unconfirmed.is_empty() {
            return Ok(due);
        }
        let recent = self
            .store()
            .kicks_since(now - chrono::Duration::minutes(1))
            .await?;
        if recent + unconfirmed.len() as i64 <= i64::from(rules.kick_burst_limit) {
            due.kick.extend(unconfirmed);
            return Ok(due);
        }
        let mut guilds = std::collections::BTreeMap::<String, Vec<String>>::new();
        for member in unconfirmed {
            let held = self
                .store()
                .move_member(
                    &member.guild_id,
                    &member.user_id,
                    &[MemberState::Pending],
                    MemberState::Held,
                    now,
                )
                .await?;
            if held {
                guilds
                    .entry(member.guild_id.clone())
                    .or_default()
                    .push(member.user_id.clone());
                due.held.push(member);
            }
        }
        for (guild_id, users) in guilds {
            let event = NewEvent::new(EventKind::DiscordKicksHeld, Actor::System)
                .channel(Channel::Discord)
                .detail(json!({ "guild_id": guild_id, "user_ids": users, "count": users.len() }));
            self.record_event(&event).await?;
        }
        Ok(due)
    }

    /// Records a kick the bot carried out.
    pub async fn member_kicked(
        &self,
        guild_id: &str,
        user_id: &str,
        reason: KickReason,
    ) -> Result<(), ServiceError> {
        let now = self.now();
        self.store()
            .move_member(
                guild_id,
                user_id,
                &[MemberState::Pending, MemberState::Held],
                MemberState::Kicked,
                now,
            )
            .await?;
        let kind = match reason {
            KickReason::Timeout => EventKind::DiscordKickedForTimeout,
            KickReason::Attempts => EventKind::DiscordKickedForAttempts,
        };
        self.record_event(&member_event(kind, Actor::System, guild_id, user_id))
            .await?;
        Ok(())
    }

    /// A due member turned out not to need kicking: gone already, or let in by hand.
    pub async fn member_needs_no_kick(
        &self,
        guild_id: &str,
        user_id: &str,
        verified: bool,
    ) -> Result<(), ServiceError> {
        let now = self.now();
        let to = if verified {
            MemberState::Verified
        } else {
            MemberState::Lapsed
        };
        self.store()
            .move_member(guild_id, user_id, &[MemberState::Pending], to, now)
            .await?;
        Ok(())
    }

    pub async fn confirm_held_kicks(
        &self,
        guild_id: &str,
        actor: Actor,
    ) -> Result<u64, ServiceError> {
        let count = self
            .store()
            .confirm_held_kicks(guild_id, self.now())
            .await?;
        let event = NewEvent::new(EventKind::DiscordKicksConfirmed, actor)
            .channel(Channel::Discord)
            .detail(json!({ "guild_id": guild_id, "count": count }));
        self.record_event(&event).await?;
        Ok(count)
    }

    /// Calls off held kicks; the members get a fresh deadline. Returns their ids.
    pub async fn cancel_held_kicks(
        &self,
        guild_id: &str,
        actor: Actor,
        rules: &GateRules,
    ) -> Result<Vec<String>, ServiceError> {
        let now = self.now();
        let timeout = self.verification_timeout(guild_id, rules).await?;
        let deadline = now + chrono::Duration::from_std(timeout).unwrap_or(chrono::Duration::MAX);
        let users = self
            .store()
            .cancel_held_kicks(guild_id, deadline, now)
            .await?;
        let event = NewEvent::new(EventKind::DiscordKicksCancelled, actor)
            .channel(Channel::Discord)
            .detail(json!({ "guild_id": guild_id, "user_ids": users }));
        self.record_event(&event).await?;
        Ok(users)
    }

    /// Discord refused to kick a member: try again later (backing off), and say whether an
    /// admin should hear about it now (once, then a reminder every few hours).
    pub async fn kick_refused(
        &self,
        guild_id: &str,
        user_id: &str,
    ) -> Result<RefusalNotice, ServiceError> {
        let now = self.now();
        let member = self.store().discord_member(guild_id, user_id).await?;
        let (refusals, reported) = member
            .as_ref()
            .map_or((0, None), |m| (m.kick_refusals, m.refusal_reported_at));
        let notice = match reported {
            None => RefusalNotice::First,
            Some(at) if now - at >= REFUSAL_REMINDER_EVERY => RefusalNotice::Reminder,
            Some(_) => RefusalNotice::Quiet,
        };
        let reported_at = (notice != RefusalNotice::Quiet).then_some(now);
        let recorded = self
            .store()
            .record_kick_refusal(
                guild_id,
                user_id,
                now + kick_retry_after(refusals),
                reported_at,
                now,
            )
            .await?;
        // Not pending any more (verified or gone meanwhile): nothing will retry, nothing to say.
        Ok(if recorded {
            notice
        } else {
            RefusalNotice::Quiet
        })
    }

    /// Something in the server an admin must fix (a missing role, a missing permission).
    pub async fn discord_problem(&self, guild_id: &str, problem: &str) -> Result<(), ServiceError> {
        let event = NewEvent::new(EventKind::DiscordProblem, Actor::System)
            .channel(Channel::Discord)
            .detail(json!({ "guild_id": guild_id, "problem": problem }));
        self.record_event(&event).await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_changed_member_never_runs_out_of_attempts() {
        assert!(matches!(
            attempt_outcome(None, 3),
            MemberVerification::NotPending
        ));
        assert!(matches!(
            attempt_outcome(Some(3), 3),
            MemberVerification::OutOfAttempts
        ));
        assert!(matches!(
            attempt_outcome(Some(1), 3),
            MemberVerification::Mismatch { attempts_left: 2 }
        ));
    }

    #[test]
    fn refused_kicks_back_off_from_a_minute_to_an_hour() {
        let minutes: Vec<i64> = (0..9).map(|n| kick_retry_after(n).num_minutes()).collect();
        assert_eq!(minutes, [1, 2, 4, 8, 16, 32, 60, 60, 60]);
        assert_eq!(kick_retry_after(-1).num_minutes(), 1);
        assert_eq!(kick_retry_after(i64::MAX).num_minutes(), 60);
    }
}
