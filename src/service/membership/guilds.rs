//! What doorman keeps and reports per server.

use chrono::{DateTime, Utc};
use serde_json::json;
use twilight_model::id::Id;
use twilight_model::id::marker::GuildMarker;

use super::discord_event;
use crate::domain::MemberState;
use crate::domain::event::{Actor, EventKind};
use crate::domain::membership::needs_catch_up;
use crate::service::{Doorman, ServiceError};
use crate::store::InviteeFilter;

/// What `/doorman_status` reports.
#[derive(Debug, Clone)]
pub struct DiscordStatus {
    pub database_connected: bool,
    pub backend: &'static str,
    pub invitees: i64,
    pub verified: i64,
    /// Members of the server waiting to verify.
    pub pending: i64,
    pub held: i64,
}

impl Doorman {
    /// When doorman first saw this server (recorded now if this is the first time);
    /// members who joined before are left alone.
    #[tracing::instrument(skip_all, fields(guild_id = %guild_id))]
    pub async fn guild_first_connected(
        &self,
        guild_id: Id<GuildMarker>,
    ) -> Result<DateTime<Utc>, ServiceError> {
        let settings = self.store().guild_settings(guild_id, self.now()).await?;
        Ok(settings.first_connected)
    }

    #[tracing::instrument(skip_all, fields(guild_id = %guild_id, minutes))]
    pub async fn set_verification_timeout(
        &self,
        guild_id: Id<GuildMarker>,
        minutes: u32,
        actor: Actor,
    ) -> Result<(), ServiceError> {
        let detail = json!({ "guild_id": guild_id.to_string(), "minutes": minutes });
        let event = discord_event(EventKind::DiscordTimeoutSet, actor, detail);
        self.store()
            .set_guild_timeout_seconds(guild_id, i64::from(minutes) * 60, &event, self.now())
            .await?;
        Ok(())
    }

    /// Members of a server in one state, earliest deadline first.
    #[tracing::instrument(skip_all, fields(guild_id = %guild_id, state = %state))]
    pub async fn discord_members_in_state(
        &self,
        guild_id: Id<GuildMarker>,
        state: MemberState,
    ) -> Result<Vec<super::DiscordMember>, ServiceError> {
        let records = self
            .store()
            .discord_members_in_state(guild_id, state)
            .await?;
        Ok(super::members(records))
    }

    /// Whether the catch-up after downtime should admit this member (see
    /// `domain::membership::needs_catch_up`).
    #[tracing::instrument(skip_all, fields(guild_id = %guild_id, user_id = %user_id))]
    pub async fn needs_catch_up(
        &self,
        guild_id: Id<GuildMarker>,
        user_id: Id<twilight_model::id::marker::UserMarker>,
        joined_since: bool,
    ) -> Result<bool, ServiceError> {
        let member = self.store().discord_member(guild_id, user_id).await?;
        Ok(needs_catch_up(
            member.as_ref().map(|m| &m.membership),
            joined_since,
        ))
    }

    /// Database, roster and this server's counts.
    #[tracing::instrument(skip_all, fields(guild_id = %guild_id))]
    pub async fn discord_status(
        &self,
        guild_id: Id<GuildMarker>,
    ) -> Result<DiscordStatus, ServiceError> {
        let store = self.store();
        let verified = InviteeFilter {
            verified: Some(true),
            ..Default::default()
        };
        Ok(DiscordStatus {
            database_connected: store.ping().await.is_ok(),
            backend: store.backend(),
            pending: store
                .discord_member_count(guild_id, MemberState::Pending)
                .await?,
            held: store
                .discord_member_count(guild_id, MemberState::Held)
                .await?,
            invitees: store.count_invitees(&InviteeFilter::default()).await?,
            verified: store.count_invitees(&verified).await?,
        })
    }

    /// Something in the server an admin must fix (a missing role, a missing permission).
    #[tracing::instrument(skip_all, fields(guild_id = %guild_id))]
    pub async fn discord_problem(
        &self,
        guild_id: Id<GuildMarker>,
        problem: &str,
    ) -> Result<(), ServiceError> {
        let detail = json!({ "guild_id": guild_id.to_string(), "problem": problem });
        let event = discord_event(EventKind::DiscordProblem, Actor::System, detail);
        self.store()
            .record_discord_event(&event, self.now())
            .await?;
        Ok(())
    }
}
