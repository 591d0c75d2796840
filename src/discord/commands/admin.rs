//! What the commands do: the member's `/verify`, and the administrators' commands.

use anyhow::Context;
use twilight_model::http::interaction::InteractionResponse;
use twilight_model::id::Id;
use twilight_model::id::marker::{GuildMarker, UserMarker};

use crate::discord::guilds::top_position;
use crate::discord::{Bot, messages};
use crate::domain::MemberState;
use crate::domain::event::Actor;
use crate::domain::membership::VerificationRequest;
use crate::service::RolesBy;

impl Bot {
    pub(super) async fn verify_command(
        &self,
        guild_id: Id<GuildMarker>,
        user_id: Id<UserMarker>,
        joined_at: Option<chrono::DateTime<chrono::Utc>>,
    ) -> anyhow::Result<InteractionResponse> {
        let request = self
            .doorman
            .request_verification(guild_id, user_id, joined_at, &self.rules)
            .await?;
        let text = match request {
            VerificationRequest::Pending { deadline } => {
                let text = format!(
                    "Press Verify and enter your invited email and token. Time left: {}.",
                    messages::time_left(deadline, self.doorman.now())
                );
                return Ok(messages::ephemeral_with_button(text, guild_id, user_id));
            }
            VerificationRequest::AlreadyVerified => "You're already verified.",
            VerificationRequest::Held => {
                "Your verification is with the server's administrators; they will decide."
            }
            VerificationRequest::NotNeeded => {
                "You don't need to verify: you were here before doorman."
            }
        };
        Ok(messages::ephemeral(text))
    }

    pub(super) async fn verification_status(
        &self,
        guild_id: Id<GuildMarker>,
    ) -> anyhow::Result<String> {
        let now = self.doorman.now();
        let pending = self
            .doorman
            .discord_members_in_state(guild_id, MemberState::Pending)
            .await?;
        let held = self
            .doorman
            .discord_members_in_state(guild_id, MemberState::Held)
            .await?;
        if pending.is_empty() && held.is_empty() {
            return Ok("Nobody is waiting to verify.".into());
        }
        let mut lines = vec![format!("{} member(s) waiting to verify:", pending.len())];
        for member in pending.iter().take(40) {
            let left = member
                .membership
                .deadline
                .map_or_else(|| "no deadline".into(), |d| messages::time_left(d, now));
            lines.push(format!(
                "• <@{}>: {left}, {} failed attempt(s)",
                member.user_id, member.membership.failed_attempts
            ));
        }
        if pending.len() > 40 {
            lines.push(format!("… and {} more", pending.len() - 40));
        }
        if !held.is_empty() {
            lines.push(format!(
                "{} kick(s) held: /confirm_kicks or /cancel_kicks",
                held.len()
            ));
        }
        Ok(lines.join("\n"))
    }

    pub(super) async fn force_verify(
        &self,
        guild_id: Id<GuildMarker>,
        target: Id<UserMarker>,
        actor: Actor,
    ) -> anyhow::Result<String> {
        let invitee = self
            .doorman
            .force_verify_member(guild_id, target, actor, RolesBy::Caller, &self.rules)
            .await?;
        let given = self.grant_roles(guild_id, target, invitee.as_ref()).await?;
        self.log(
            guild_id,
            &format!("<@{target}> was verified by an administrator"),
        )
        .await;
        if !given {
            return Ok(format!(
                "<@{target}> is verified, but Discord refused to give them the '{}' role: doorman's own role must \
                 sit above it and have Manage Roles (or run /setup_roles).",
                self.settings.member_role_name
            ));
        }
        Ok(format!("<@{target}> is verified."))
    }

    pub(super) async fn setup_roles(&self, guild_id: Id<GuildMarker>) -> anyhow::Result<String> {
        let mut report = Vec::new();
        let info = self.guild_info(guild_id).await?;
        for name in [
            &self.settings.member_role_name,
            &self.settings.unverified_role_name,
        ] {
            if info.role(name).is_none() {
                self.http
                    .create_role(guild_id)
                    .name(name)
                    .await
                    .with_context(|| format!("creating the role {name}"))?;
                report.push(format!("✓ created the role '{name}'"));
            } else {
                report.push(format!("✓ the role '{name}' exists"));
            }
        }
        self.guilds.forget(guild_id);
        let (info, own) = self.own_roles(guild_id).await?;
        let bot_top = top_position(&own, guild_id);
        for name in [
            &self.settings.member_role_name,
            &self.settings.unverified_role_name,
        ] {
            if let Some(role) = info.role(name)
                && role.position >= bot_top
            {
                report.push(format!(
                    "✗ move doorman's role above '{name}' (Server Settings → Roles)"
                ));
            }
        }
        match info.channel(&self.settings.verification_channel_name) {
            Some(channel) => {
                let (embed, button) = messages::panel(&self.settings.community_name, guild_id);
                self.http
                    .create_message(channel)
                    .embeds(&[embed])
                    .components(&[button])
                    .await
                    .context("posting the panel")?;
                report.push(format!(
                    "✓ posted the Verify panel in #{}",
                    self.settings.verification_channel_name
                ));
            }
            None => report.push(format!(
                "✗ create a text channel #{} (members whose DMs are closed are asked there)",
                self.settings.verification_channel_name
            )),
        }
        Ok(report.join("\n"))
    }

    pub(super) async fn status_report(&self, guild_id: Id<GuildMarker>) -> anyhow::Result<String> {
        let status = self.doorman.discord_status(guild_id).await?;
        let database = if status.database_connected {
            "connected"
        } else {
            "unreachable"
        };
        Ok(format!(
            "Database: {database} ({})\nEmail: {} route\nBot: connected\n\
             Invitees: {}, verified: {}\nWaiting to verify here: {}; kicks held: {}",
            status.backend,
            self.doorman.email_settings().route.name(),
            status.invitees,
            status.verified,
            status.pending,
            status.held,
        ))
    }
}
