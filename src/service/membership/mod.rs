//! The door's operations: who must verify, by when, how many tries they get, and when
//! kicks wait for a human. The rules are `domain::membership`'s; here each operation
//! reads the member, asks the rules, and writes the change with its event at once. The
//! bot carries out what the answers say.

mod by_admin;
mod guilds;
mod joined;
mod kicks;
mod verify;

use std::time::Duration;

use chrono::{DateTime, Utc};
use serde_json::json;
use twilight_model::id::Id;
use twilight_model::id::marker::{GuildMarker, UserMarker};

use super::{Doorman, ServiceError};
use crate::domain::event::{Actor, Channel, EventKind, NewEvent};
use crate::domain::invitee::Invitee;
use crate::domain::membership::{Decision, Input, Rules, Then, decide};
use crate::domain::{Change, MemberState, Membership};
use crate::store::MemberRecord;

pub use by_admin::KnownGuild;
pub use guilds::DiscordStatus;
pub use kicks::DueKicks;

/// One member's verification in one server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DiscordMember {
    pub guild_id: Id<GuildMarker>,
    pub user_id: Id<UserMarker>,
    pub membership: Membership,
}

impl From<MemberRecord> for DiscordMember {
    fn from(record: MemberRecord) -> Self {
        let MemberRecord {
            guild_id,
            user_id,
            membership,
        } = record;
        Self {
            guild_id,
            user_id,
            membership,
        }
    }
}

fn members(records: Vec<MemberRecord>) -> Vec<DiscordMember> {
    records.into_iter().map(DiscordMember::from).collect()
}

/// Rules that come from configuration.
#[derive(Debug, Clone, Copy)]
pub struct GateRules {
    pub default_timeout: Duration,
    pub max_attempts: u32,
    pub kick_burst_limit: u32,
}

impl GateRules {
    pub fn from_settings(settings: &crate::config::DiscordSettings) -> Self {
        Self {
            default_timeout: settings.verification_timeout,
            max_attempts: settings.max_verify_attempts,
            kick_burst_limit: settings.kick_burst_limit,
        }
    }
}

/// The longest verification timeout an admin may set, in minutes (a week).
pub const MAX_TIMEOUT_MINUTES: u32 = 7 * 24 * 60;

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

fn discord_event(kind: EventKind, actor: Actor, detail: serde_json::Value) -> NewEvent {
    NewEvent::new(kind, actor)
        .channel(Channel::Discord)
        .detail(detail)
}

/// The event that records a decision about one member.
fn decision_event(
    decision: &Decision,
    actor: Actor,
    guild_id: Id<GuildMarker>,
    user_id: Id<UserMarker>,
    invitee_id: Option<i64>,
) -> Option<NewEvent> {
    decision.event.map(|kind| {
        let detail = json!({ "guild_id": guild_id.to_string(), "user_id": user_id.to_string() });
        let mut event = discord_event(kind, actor, detail);
        event.invitee_id = invitee_id;
        event
    })
}

/// Who gives a force-verified member their roles.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RolesBy {
    /// The caller, at once: it holds the Discord connection (the bot's own command).
    Caller,
    /// Whichever replica holds the Discord connection, from the database (see
    /// [`Doorman::due_role_grants`]): the admin UI may run on a replica without it.
    Bot,
}

/// Who a decision is written for: the actor and invitee its event names, and who gives
/// the roles it may bring.
#[derive(Debug, Clone)]
struct Who {
    actor: Actor,
    invitee_id: Option<i64>,
    roles: RolesBy,
}

impl From<(Actor, Option<i64>)> for Who {
    fn from((actor, invitee_id): (Actor, Option<i64>)) -> Self {
        Self {
            actor,
            invitee_id,
            roles: RolesBy::Caller,
        }
    }
}

/// A decision, and the member as the change left them (None when nothing was written:
/// no change was needed, or its guard found the member moved on).
struct Applied {
    decision: Decision,
    written: Option<MemberRecord>,
}

impl Applied {
    /// The change's guard found the member moved on, so its `then` does not hold.
    fn held_back(&self) -> bool {
        self.decision.change != Change::None && self.written.is_none()
    }
}

impl Doorman {
    /// The rules as they stand now in this server.
    async fn rules(
        &self,
        guild_id: Id<GuildMarker>,
        gate: &GateRules,
    ) -> Result<Rules, ServiceError> {
        let now = self.now();
        let settings = self.store().guild_settings(guild_id, now).await?;
        let timeout = settings.timeout_seconds.map_or(gate.default_timeout, |s| {
            Duration::from_secs(u64::try_from(s).unwrap_or(0))
        });
        Ok(Rules {
            now,
            timeout,
            first_connected: settings.first_connected,
        })
    }

    /// Decides what `input` means for a member whose record is `current`, and writes the
    /// change with its event in one transaction.
    async fn apply(
        &self,
        guild_id: Id<GuildMarker>,
        user_id: Id<UserMarker>,
        current: Option<&Membership>,
        input: Input,
        rules: &Rules,
        who: impl Into<Who>,
    ) -> Result<Applied, ServiceError> {
        let who = who.into();
        let decision = decide(current, input, rules);
        let event = decision_event(&decision, who.actor, guild_id, user_id, who.invitee_id);
        let written = self
            .store()
            .change_member(
                guild_id,
                user_id,
                decision.change,
                event.as_ref(),
                who.roles == RolesBy::Bot,
                rules.now,
            )
            .await?;
        Ok(Applied { decision, written })
    }

    /// Reads the member, then [`Self::apply`].
    async fn step(
        &self,
        guild_id: Id<GuildMarker>,
        user_id: Id<UserMarker>,
        input: Input,
        gate: &GateRules,
        who: impl Into<Who>,
    ) -> Result<Applied, ServiceError> {
        let rules = self.rules(guild_id, gate).await?;
        let current = self.store().discord_member(guild_id, user_id).await?;
        let current = current.map(|m| m.membership);
        self.apply(guild_id, user_id, current.as_ref(), input, &rules, who)
            .await
    }

    /// What doorman knows of a member's verification in a server.
    #[tracing::instrument(skip_all, fields(guild_id = %guild_id, user_id = %user_id))]
    pub async fn discord_member(
        &self,
        guild_id: Id<GuildMarker>,
        user_id: Id<UserMarker>,
    ) -> Result<Option<DiscordMember>, ServiceError> {
        let member = self.store().discord_member(guild_id, user_id).await?;
        Ok(member.map(DiscordMember::from))
    }

    #[tracing::instrument(skip_all, fields(guild_id = %guild_id, user_id = %user_id))]
    pub async fn pending_member(
        &self,
        guild_id: Id<GuildMarker>,
        user_id: Id<UserMarker>,
    ) -> Result<Option<DiscordMember>, ServiceError> {
        let member = self.store().discord_member(guild_id, user_id).await?;
        Ok(member
            .filter(|m| m.membership.state == MemberState::Pending)
            .map(DiscordMember::from))
    }

    /// Decides what a join means. The deadline belongs to the person: rejoining while a
    /// verification is pending keeps its deadline.
    #[tracing::instrument(skip_all, fields(guild_id = %guild_id, user_id = %user_id))]
    pub async fn member_joined(
        &self,
        guild_id: Id<GuildMarker>,
        user_id: Id<UserMarker>,
        gate: &GateRules,
    ) -> Result<JoinDecision, ServiceError> {
        let invitee = self
            .store()
            .invitee_by_discord_id(&user_id.to_string())
            .await?
            .filter(|i| i.is_verified);
        let input = Input::Joined {
            verified_before: invitee.is_some(),
        };
        let who = (Actor::System, invitee.as_ref().map(|i| i.id));
        let applied = self.step(guild_id, user_id, input, gate, who).await?;
        Ok(match applied.decision.then {
            // The join event and the catch-up after a reconnect can both get here for one
            // member: only the one that starts the verification prompts.
            _ if applied.held_back() => JoinDecision::Underway,
            Then::Welcome => JoinDecision::Welcome {
                invitee: invitee.map(Box::new),
            },
            Then::Prompt { deadline } => JoinDecision::Prompt { deadline },
            _ => JoinDecision::Underway,
        })
    }

    #[tracing::instrument(skip_all, fields(guild_id = %guild_id, user_id = %user_id))]
    pub async fn member_left(
        &self,
        guild_id: Id<GuildMarker>,
        user_id: Id<UserMarker>,
        gate: &GateRules,
    ) -> Result<(), ServiceError> {
        let who = (Actor::System, None);
        self.step(guild_id, user_id, Input::Left, gate, who).await?;
        Ok(())
    }

    /// Records that a prompt reached the member (`fell_back`: in the channel, as DMs were closed).
    #[tracing::instrument(skip_all, fields(guild_id = %guild_id, user_id = %user_id))]
    pub async fn member_prompted(
        &self,
        guild_id: Id<GuildMarker>,
        user_id: Id<UserMarker>,
        fell_back: bool,
        gate: &GateRules,
    ) -> Result<(), ServiceError> {
        let input = Input::Prompted { fell_back };
        let who = (Actor::System, None);
        self.step(guild_id, user_id, input, gate, who).await?;
        Ok(())
    }
}
