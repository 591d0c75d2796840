//! Members arriving, leaving and being let in: prompts, roles, kicks, and the catch-up
//! after doorman was down.

use anyhow::Context;
use twilight_model::channel::message::AllowedMentions;
use twilight_model::gateway::payload::incoming::{
    GuildCreate, MemberAdd, MemberRemove, MemberUpdate,
};
use twilight_model::guild::Member;
use twilight_model::id::Id;
use twilight_model::id::marker::{GuildMarker, RoleMarker, UserMarker};

use super::guilds::{GuildInfo, text_channels};
use super::{Bot, CANNOT_MESSAGE_USER, MISSING_PERMISSIONS, discord_error_code, messages};
use crate::config::RuleField;
use crate::domain::invitee::Invitee;
use crate::service::JoinDecision;
use crate::store::MemberState;

fn joined_micros(member: &Member) -> Option<i64> {
    member.joined_at.map(|t| t.as_micros())
}

impl Bot {
    pub(super) async fn guild_available(&self, guild: GuildCreate) -> anyhow::Result<()> {
        let GuildCreate::Available(guild) = guild else {
            return Ok(());
        };
        if !self.serves(guild.id.get()) {
            return Ok(());
        }
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
        self.reconcile(guild.id).await
    }

    /// Catches up after downtime: members who joined since doorman first connected (or who
    /// hold the unverified role) and have no verification under way get one. Members who
    /// were there before doorman are never prompted or kicked automatically.
    async fn reconcile(&self, guild_id: Id<GuildMarker>) -> anyhow::Result<()> {
        let first_connected = self
            .doorman
            .guild_first_connected(&guild_id.to_string())
            .await?;
        let first_micros = first_connected.timestamp_micros();
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
                let joined_since = joined_micros(&member).is_some_and(|j| j > first_micros);
                let marked = unverified_role.is_some_and(|r| member.roles.contains(&r));
                if !(joined_since || marked) {
                    continue;
                }
                let state = self
                    .doorman
                    .store()
                    .discord_member(&guild_id.to_string(), &member.user.id.to_string())
                    .await?;
                // The role alone proves nothing (another bot may have given it): a member
                // from before doorman is one doorman has never dealt with.
                if !joined_since && state.is_none() {
                    continue;
                }
                if state
                    .is_some_and(|m| matches!(m.state, MemberState::Pending | MemberState::Held))
                {
                    continue;
                }
                self.admit(guild_id, member.user.id).await?;
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
        let guild = update.guild_id.to_string();
        if self
            .doorman
            .store()
            .discord_member(&guild, &update.user.id.to_string())
            .await?
            .is_some()
        {
            return Ok(());
        }
        let first_connected = self.doorman.guild_first_connected(&guild).await?;
        let joined_since = update
            .joined_at
            .is_some_and(|t| t.as_micros() > first_connected.timestamp_micros());
        if !joined_since {
            return Ok(());
        }
        let member_role = self
            .role_id(update.guild_id, &self.settings.member_role_name)
            .await?;
        if member_role.is_some_and(|r| update.roles.contains(&r)) {
            return Ok(());
        }
        self.admit(update.guild_id, update.user.id).await
    }

    pub(super) async fn member_removed(&self, member: MemberRemove) -> anyhow::Result<()> {
        if member.user.bot || !self.serves(member.guild_id.get()) {
            return Ok(());
        }
        self.doorman
            .member_left(&member.guild_id.to_string(), &member.user.id.to_string())
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
            .member_joined(&guild_id.to_string(), &user_id.to_string(), &self.rules)
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

    /// Sends the prompt by DM; when DMs are closed, in the verification channel instead.
    pub(super) async fn send_prompt(
        &self,
        guild_id: Id<GuildMarker>,
        user_id: Id<UserMarker>,
        deadline: chrono::DateTime<chrono::Utc>,
    ) -> anyhow::Result<()> {
        let (embed, button) = messages::prompt(
            &self.settings.community_name,
            guild_id.get(),
            user_id.get(),
            deadline,
        );
        let (guild, user) = (guild_id.to_string(), user_id.to_string());
        let dm = self
            .http
            .create_private_channel(user_id)
            .await
            .context("opening a DM")?
            .model()
            .await?;
        let sent = self
            .http
            .create_message(dm.id)
            .embeds(std::slice::from_ref(&embed))
            .components(std::slice::from_ref(&button))
            .await;
        match sent {
            Ok(_) => {
                self.doorman.member_prompted(&guild, &user, false).await?;
                self.log(
                    guild_id,
                    &format!("<@{user_id}> joined and was asked to verify by DM"),
                )
                .await;
                return Ok(());
            }
            Err(error) if discord_error_code(&error) == Some(CANNOT_MESSAGE_USER) => {}
            Err(error) => return Err(error).context("sending the prompt by DM"),
        }
        let info = self.guild_info(guild_id).await?;
        let Some(channel) = info.channel(&self.settings.verification_channel_name) else {
            let problem = format!(
                "cannot prompt <@{user_id}>: their DMs are closed and there is no #{} channel",
                self.settings.verification_channel_name
            );
            self.doorman.discord_problem(&guild, &problem).await?;
            self.log(guild_id, &problem).await;
            return Ok(());
        };
        let mention = AllowedMentions {
            users: vec![user_id],
            ..Default::default()
        };
        self.http
            .create_message(channel)
            .content(&format!("<@{user_id}>"))
            .embeds(&[embed])
            .components(&[button])
            .allowed_mentions(Some(&mention))
            .await
            .context("posting the prompt in the verification channel")?;
        self.doorman.member_prompted(&guild, &user, true).await?;
        self.log(
            guild_id,
            &format!(
                "<@{user_id}> joined; DMs closed, asked in #{}",
                self.settings.verification_channel_name
            ),
        )
        .await;
        Ok(())
    }

    /// The member role, the cohort roles the roster's rules give, and no unverified role.
    /// False when the member role could not be given (the problem is reported).
    pub(super) async fn grant_roles(
        &self,
        guild_id: Id<GuildMarker>,
        user_id: Id<UserMarker>,
        invitee: Option<&Invitee>,
    ) -> anyhow::Result<bool> {
        let info = self.guild_info(guild_id).await?;
        let Some(member_role) = info.role(&self.settings.member_role_name).map(|r| r.id) else {
            let problem = format!(
                "there is no '{}' role to give <@{user_id}>; run /setup_roles",
                self.settings.member_role_name
            );
            self.doorman
                .discord_problem(&guild_id.to_string(), &problem)
                .await?;
            self.log(guild_id, &problem).await;
            return Ok(false);
        };
        if !self.add_role(guild_id, user_id, member_role).await? {
            return Ok(false);
        }
        if let Some(invitee) = invitee {
            for rule in &self.settings.role_rules {
                let value = match rule.field {
                    RuleField::College => &invitee.college,
                    RuleField::Branch => &invitee.branch,
                    RuleField::Year => &invitee.year,
                };
                if !value.eq_ignore_ascii_case(&rule.value) {
                    continue;
                }
                match info.role(&rule.role) {
                    Some(role) => {
                        self.add_role(guild_id, user_id, role.id).await?;
                    }
                    None => {
                        let problem = format!(
                            "ROLE_RULES names a role '{}' the server does not have",
                            rule.role
                        );
                        self.doorman
                            .discord_problem(&guild_id.to_string(), &problem)
                            .await?;
                    }
                }
            }
        }
        if let Some(unverified) = info.role(&self.settings.unverified_role_name) {
            let removed = self
                .http
                .remove_guild_member_role(guild_id, user_id, unverified.id)
                .await;
            if let Err(error) = removed {
                tracing::warn!(%error, "cannot remove the unverified role");
            }
        }
        Ok(true)
    }

    /// Gives a role; false when Discord refused (reported to the admins).
    async fn add_role(
        &self,
        guild_id: Id<GuildMarker>,
        user_id: Id<UserMarker>,
        role: Id<RoleMarker>,
    ) -> anyhow::Result<bool> {
        // twilight waits out 429s on its own; what reaches us is a real refusal.
        match self
            .http
            .add_guild_member_role(guild_id, user_id, role)
            .await
        {
            Ok(_) => Ok(true),
            Err(error) if discord_error_code(&error) == Some(MISSING_PERMISSIONS) => {
                let problem = format!(
                    "Discord refused to give <@{user_id}> the role <@&{role}>: doorman's own role must sit above it \
                     and have Manage Roles"
                );
                self.doorman
                    .discord_problem(&guild_id.to_string(), &problem)
                    .await?;
                self.log(guild_id, &problem).await;
                Ok(false)
            }
            Err(error) => Err(error).context("adding a role"),
        }
    }
}
