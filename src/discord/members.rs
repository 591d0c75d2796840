//! Members arriving, leaving and being let in, and the catch-up after doorman was down.

mod prompt;
mod roles;

use anyhow::Context;
use chrono::{DateTime, Utc};
use twilight_model::gateway::payload::incoming::{
    GuildCreate, MemberAdd, MemberRemove, MemberUpdate,
};
use twilight_model::id::Id;
use twilight_model::id::marker::{GuildMarker, UserMarker};
use twilight_model::util::Timestamp;

use super::Bot;
use super::guilds::{GuildInfo, text_channels};
use crate::service::JoinDecision;

/// Whether Discord's join time is after doorman first saw the server.
fn joined_since(joined_at: Option<Timestamp>, first_connected: DateTime<Utc>) -> bool {
    joined_at.is_some_and(|t| t.as_micros() > first_connected.timestamp_micros())
}

impl Bot {
    pub(super) async fn guild_available(&self, guild: GuildCreate) -> anyhow::Result<()> {
        let GuildCreate::Available(guild) = guild else {
            return Ok(());
        };
        if !self.serves(guild.id.get()) {
            return Ok(());
        }
        // Before anything else: whoever joins from this moment on is doorman's to ask,
        // even if doorman stops again before the catch-up below is done.
        let first_connected = self.doorman.guild_first_connected(guild.id).await?;
        self.guilds.put(
            guild.id,
            GuildInfo {
                roles: guild.roles.clone(),
                text_channels: text_channels(&guild.channels),
            },
        );
        if self.settings.guild_id == Some(guild.id.get()) {
            self.register_commands(Some(guild.id)).await;
        }
        self.record_setup(guild.id, Some(guild.name.clone())).await;
        self.reconcile(guild.id, first_connected).await
    }

    /// Catches up after downtime: members who joined since doorman first connected (or who
    /// hold the unverified role) and have no verification under way get one. Members who
    /// were there before doorman are never prompted or kicked automatically.
    async fn reconcile(
        &self,
        guild_id: Id<GuildMarker>,
        first_connected: DateTime<Utc>,
    ) -> anyhow::Result<()> {
        let info = self.guild_info(guild_id).await?;
        let member_role = info.role(&self.settings.member_role_name).map(|r| r.id);
        let unverified_role = info.role(&self.settings.unverified_role_name).map(|r| r.id);
        let mut after = None;
        loop {
            let mut request = self.http.guild_members(guild_id).limit(1000);
            if let Some(after) = after {
                request = request.after(after);
            }
            let members = request.await.context("listing members")?.models().await?;
            let Some(last) = members.last() else { break };
            after = Some(last.user.id);
            let page_len = members.len();
            for member in members {
                if member.user.bot
                    || member.pending
                    || member_role.is_some_and(|r| member.roles.contains(&r))
                {
                    continue;
                }
                let joined_since = joined_since(member.joined_at, first_connected);
                let marked = unverified_role.is_some_and(|r| member.roles.contains(&r));
                if !(joined_since || marked) {
                    continue;
                }
                if self
                    .doorman
                    .needs_catch_up(guild_id, member.user.id, joined_since)
                    .await?
                {
                    self.admit(guild_id, member.user.id).await?;
                }
            }
            if page_len < 1000 {
                break;
            }
        }
        Ok(())
    }

    pub(super) async fn member_added(&self, member: MemberAdd) -> anyhow::Result<()> {
        if member.user.bot || !self.serves(member.guild_id.get()) {
            return Ok(());
        }
        // With Membership Screening on, wait until Discord says they accepted the rules.
        if member.pending {
            return Ok(());
        }
        self.admit(member.guild_id, member.user.id).await
    }

    /// The update that matters is the end of Membership Screening (`pending` turning off)
    /// for someone doorman has not dealt with yet.
    pub(super) async fn member_updated(&self, update: MemberUpdate) -> anyhow::Result<()> {
        if update.user.bot || update.pending || !self.serves(update.guild_id.get()) {
            return Ok(());
        }
        let (guild_id, user_id) = (update.guild_id, update.user.id);
        if self
            .doorman
            .discord_member(guild_id, user_id)
            .await?
            .is_some()
        {
            return Ok(());
        }
        let first_connected = self.doorman.guild_first_connected(guild_id).await?;
        if !joined_since(update.joined_at, first_connected) {
            return Ok(());
        }
        let member_role = self
            .role_id(guild_id, &self.settings.member_role_name)
            .await?;
        if member_role.is_some_and(|r| update.roles.contains(&r)) {
            return Ok(());
        }
        self.admit(guild_id, user_id).await
    }

    pub(super) async fn member_removed(&self, member: MemberRemove) -> anyhow::Result<()> {
        if member.user.bot || !self.serves(member.guild_id.get()) {
            return Ok(());
        }
        self.doorman
            .member_left(member.guild_id, member.user.id, &self.rules)
            .await?;
        Ok(())
    }

    /// Lets a returning verified member straight in, or asks a newcomer to verify.
    pub(super) async fn admit(
        &self,
        guild_id: Id<GuildMarker>,
        user_id: Id<UserMarker>,
    ) -> anyhow::Result<()> {
        let decision = self
            .doorman
            .member_joined(guild_id, user_id, &self.rules)
            .await?;
        match decision {
            JoinDecision::Welcome { invitee } => {
                self.grant_roles(guild_id, user_id, invitee.as_deref())
                    .await?;
                self.log(
                    guild_id,
                    &format!("<@{user_id}> rejoined and was verified before: roles given"),
                )
                .await;
            }
            JoinDecision::Prompt { deadline } => {
                if let Some(role) = self
                    .role_id(guild_id, &self.settings.unverified_role_name)
                    .await?
                {
                    self.add_role(guild_id, user_id, role).await?;
                }
                self.send_prompt(guild_id, user_id, deadline).await?;
            }
            JoinDecision::Underway => {}
        }
        Ok(())
    }
}
