//! An admin's decisions made away from Discord (the admin UI), which may run on a
//! replica without the Discord connection: each is written down with its event, and the
//! bot that holds the connection carries it out from the database.

use serde_json::json;
use twilight_model::id::Id;
use twilight_model::id::marker::{GuildMarker, UserMarker};

use super::{DiscordMember, discord_event, members};
use crate::domain::discord_setup::GuildSetup;
use crate::domain::event::{Actor, EventKind};
use crate::domain::invitee::Invitee;
use crate::service::{Doorman, ServiceError};
pub use crate::store::KnownGuild;
use crate::store::MemberClaim;

/// How long a claimed role grant is reserved for the replica that claimed it.
const GRANT_LEASE: chrono::Duration = chrono::Duration::seconds(60);
const GRANT_BATCH: i64 = 100;

impl Doorman {
    /// Claims the verified members whose roles are due, for the bot to give them.
    #[tracing::instrument(skip_all)]
    pub async fn due_role_grants(&self) -> Result<Vec<DiscordMember>, ServiceError> {
        let now = self.now();
        let claimed = self
            .store()
            .claim_members(MemberClaim::RoleGrants, now, now + GRANT_LEASE, GRANT_BATCH)
            .await?;
        Ok(members(claimed))
    }

    #[tracing::instrument(skip_all, fields(guild_id = %guild_id, user_id = %user_id))]
    pub async fn role_grant_done(
        &self,
        guild_id: Id<GuildMarker>,
        user_id: Id<UserMarker>,
    ) -> Result<(), ServiceError> {
        Ok(self.store().role_grant_done(guild_id, user_id).await?)
    }

    /// The invitee linked to a Discord account, if any.
    pub async fn invitee_of_discord_user(
        &self,
        user_id: Id<UserMarker>,
    ) -> Result<Option<Invitee>, ServiceError> {
        Ok(self
            .store()
            .invitee_by_discord_id(&user_id.to_string())
            .await?)
    }

    /// Ends a waiting member's time to verify: the sweeper removes them as for a passed
    /// deadline, on whichever replica holds the Discord connection. False when they were
    /// not waiting (verified or gone meanwhile).
    #[tracing::instrument(skip_all, fields(guild_id = %guild_id, user_id = %user_id))]
    pub async fn remove_waiting_member(
        &self,
        guild_id: Id<GuildMarker>,
        user_id: Id<UserMarker>,
        actor: Actor,
    ) -> Result<bool, ServiceError> {
        let event = || {
            let detail =
                json!({ "guild_id": guild_id.to_string(), "user_id": user_id.to_string() });
            discord_event(EventKind::DiscordRemovalRequested, actor, detail)
        };
        let ended = self
            .store()
            .end_verification_now(guild_id, user_id, event, self.now())
            .await?;
        Ok(ended.is_some())
    }

    /// Records what the bot found in a server's setup.
    #[tracing::instrument(skip_all, fields(guild_id = %guild_id))]
    pub async fn record_guild_setup(
        &self,
        guild_id: Id<GuildMarker>,
        name: &str,
        setup: &GuildSetup,
    ) -> Result<(), ServiceError> {
        Ok(self
            .store()
            .record_guild_setup(guild_id, name, setup, self.now())
            .await?)
    }

    /// Discord refused the Server Members Intent: every known server's setup says so,
    /// the rest as last found.
    #[tracing::instrument(skip_all)]
    pub async fn members_intent_refused(&self) -> Result<(), ServiceError> {
        for guild in self.store().known_guilds().await? {
            let mut setup = guild.setup.unwrap_or_default();
            setup.members_intent = false;
            let name = guild
                .name
                .unwrap_or_else(|| format!("Server {}", guild.guild_id));
            self.store()
                .record_guild_setup(guild.guild_id, &name, &setup, self.now())
                .await?;
        }
        Ok(())
    }

    /// Every server doorman has seen, with its setup and timeout.
    pub async fn known_guilds(&self) -> Result<Vec<KnownGuild>, ServiceError> {
        Ok(self.store().known_guilds().await?)
    }
}
