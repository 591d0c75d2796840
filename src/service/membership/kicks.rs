//! Deadlines that came due, the kicks that follow, and the ones held for an admin.

use std::collections::BTreeMap;

use serde_json::json;
use twilight_model::id::Id;
use twilight_model::id::marker::{GuildMarker, UserMarker};

use super::{DiscordMember, GateRules, discord_event, members};
use crate::domain::Change;
use crate::domain::event::{Actor, EventKind};
use crate::domain::membership::{
    BURST_WINDOW, Input, KickReason, RefusalNotice, Then, burst_must_hold, decide,
};
use crate::service::{Doorman, ServiceError};
use crate::store::MemberClaim;

/// How long a claimed deadline is reserved for the replica that claimed it.
const CLAIM_LEASE: chrono::Duration = chrono::Duration::seconds(60);
const CLAIM_BATCH: i64 = 100;

/// The kicks that came due.
#[derive(Debug, Default)]
pub struct DueKicks {
    pub kick: Vec<DiscordMember>,
    /// Held back because too many came due at once; an admin must confirm or cancel.
    pub held: Vec<DiscordMember>,
}

fn user_ids(users: &[Id<UserMarker>]) -> Vec<String> {
    users.iter().map(ToString::to_string).collect()
}

impl Doorman {
    /// Claims the deadlines that have passed. If more are due than the burst limit allows
    /// within a minute (after an outage, or a misconfigured role), the unconfirmed ones are
    /// held for an admin instead of kicked.
    #[tracing::instrument(skip_all)]
    pub async fn due_kicks(&self, gate: &GateRules) -> Result<DueKicks, ServiceError> {
        let now = self.now();
        let claimed = self
            .store()
            .claim_members(
                MemberClaim::DueDeadlines,
                now,
                now + CLAIM_LEASE,
                CLAIM_BATCH,
            )
            .await?;
        let (confirmed, unconfirmed): (Vec<_>, Vec<_>) = members(claimed)
            .into_iter()
            .partition(|m| m.membership.kick_confirmed);
        let burst = !unconfirmed.is_empty() && {
            let recent = self.store().kicks_since(now - BURST_WINDOW).await?;
            burst_must_hold(recent, unconfirmed.len(), gate.kick_burst_limit)
        };
        let mut rules = BTreeMap::new();
        let mut due = DueKicks::default();
        let mut holds = BTreeMap::<Id<GuildMarker>, Vec<(DiscordMember, Change)>>::new();
        for member in confirmed.into_iter().chain(unconfirmed) {
            if let std::collections::btree_map::Entry::Vacant(entry) = rules.entry(member.guild_id)
            {
                entry.insert(self.rules(member.guild_id, gate).await?);
            }
            let input = Input::DeadlineReached { burst };
            let decision = decide(Some(&member.membership), input, &rules[&member.guild_id]);
            match decision.then {
                Then::Kick(_) => due.kick.push(member),
                _ => holds
                    .entry(member.guild_id)
                    .or_default()
                    .push((member, decision.change)),
            }
        }
        for (guild_id, members) in holds {
            let changes: Vec<_> = members.iter().map(|(m, c)| (m.user_id, *c)).collect();
            let held = self
                .store()
                .change_members(
                    guild_id,
                    &changes,
                    |held| {
                        let detail = json!({ "guild_id": guild_id.to_string(), "user_ids": user_ids(held), "count": held.len() });
                        discord_event(EventKind::DiscordKicksHeld, Actor::System, detail)
                    },
                    now,
                )
                .await?;
            due.held.extend(
                members
                    .into_iter()
                    .map(|(m, _)| m)
                    .filter(|m| held.contains(&m.user_id)),
            );
        }
        Ok(due)
    }

    /// Records a kick the bot carried out.
    #[tracing::instrument(skip_all, fields(guild_id = %guild_id, user_id = %user_id))]
    pub async fn member_kicked(
        &self,
        guild_id: Id<GuildMarker>,
        user_id: Id<UserMarker>,
        reason: KickReason,
        gate: &GateRules,
    ) -> Result<(), ServiceError> {
        let who = (Actor::System, None);
        self.step(guild_id, user_id, Input::Kicked(reason), gate, who)
            .await?;
        Ok(())
    }

    /// A due member turned out not to need kicking: gone already, or let in by hand.
    #[tracing::instrument(skip_all, fields(guild_id = %guild_id, user_id = %user_id))]
    pub async fn member_needs_no_kick(
        &self,
        guild_id: Id<GuildMarker>,
        user_id: Id<UserMarker>,
        verified: bool,
        gate: &GateRules,
    ) -> Result<(), ServiceError> {
        let input = if verified {
            Input::DueButLetIn
        } else {
            Input::DueButGone
        };
        self.step(guild_id, user_id, input, gate, (Actor::System, None))
            .await?;
        Ok(())
    }

    /// Discord refused to kick a member: try again later (backing off), and say whether an
    /// admin should hear about it now (once, then a reminder every few hours).
    #[tracing::instrument(skip_all, fields(guild_id = %guild_id, user_id = %user_id))]
    pub async fn kick_refused(
        &self,
        guild_id: Id<GuildMarker>,
        user_id: Id<UserMarker>,
        gate: &GateRules,
    ) -> Result<RefusalNotice, ServiceError> {
        let applied = self
            .step(
                guild_id,
                user_id,
                Input::KickRefused,
                gate,
                (Actor::System, None),
            )
            .await?;
        // Not pending any more (verified or gone meanwhile): nothing will retry, nothing to say.
        Ok(match applied.decision.then {
            Then::Report(notice) if !applied.held_back() => notice,
            _ => RefusalNotice::Quiet,
        })
    }

    #[tracing::instrument(skip_all, fields(guild_id = %guild_id))]
    pub async fn confirm_held_kicks(
        &self,
        guild_id: Id<GuildMarker>,
        actor: Actor,
    ) -> Result<u64, ServiceError> {
        let event = |users: &[Id<UserMarker>]| {
            let detail = json!({ "guild_id": guild_id.to_string(), "count": users.len() });
            discord_event(EventKind::DiscordKicksConfirmed, actor, detail)
        };
        let users = self
            .store()
            .confirm_held_kicks(guild_id, event, self.now())
            .await?;
        Ok(users.len() as u64)
    }

    /// Calls off held kicks; the members get a fresh deadline. Returns their ids.
    #[tracing::instrument(skip_all, fields(guild_id = %guild_id))]
    pub async fn cancel_held_kicks(
        &self,
        guild_id: Id<GuildMarker>,
        actor: Actor,
        gate: &GateRules,
    ) -> Result<Vec<Id<UserMarker>>, ServiceError> {
        let rules = self.rules(guild_id, gate).await?;
        let event = |users: &[Id<UserMarker>]| {
            let detail = json!({ "guild_id": guild_id.to_string(), "user_ids": user_ids(users) });
            discord_event(EventKind::DiscordKicksCancelled, actor, detail)
        };
        Ok(self
            .store()
            .cancel_held_kicks(guild_id, rules.fresh_deadline(), event, rules.now)
            .await?)
    }
}
