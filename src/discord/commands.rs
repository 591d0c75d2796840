//! Slash commands: registered at start-up, the admin ones visible only to administrators
//! and checked again on every use; every answer is ephemeral.

use anyhow::Context;
use twilight_model::application::command::{Command, CommandType};
use twilight_model::application::interaction::application_command::{
    CommandData, CommandOptionValue,
};
use twilight_model::application::interaction::{Interaction, InteractionContextType};
use twilight_model::guild::Permissions;
use twilight_model::id::Id;
use twilight_model::id::marker::{GuildMarker, UserMarker};
use twilight_util::builder::command::{CommandBuilder, IntegerBuilder, UserBuilder};

use super::{Bot, messages};
use crate::domain::event::Actor;
use crate::service::KickReason;
use crate::store::MemberState;

const MAX_TIMEOUT_MINUTES: i64 = 7 * 24 * 60;

fn admin(name: &str, description: &str) -> CommandBuilder {
    CommandBuilder::new(name, description, CommandType::ChatInput)
        .default_member_permissions(Permissions::ADMINISTRATOR)
        .contexts([InteractionContextType::Guild])
}

pub fn definitions() -> Vec<Command> {
    vec![
        admin(
            "verification_status",
            "Members waiting to verify, with the time they have left",
        )
        .build(),
        admin("force_verify", "Let a member in without a token")
            .option(UserBuilder::new("member", "The member to verify").required(true))
            .build(),
        admin(
            "set_timeout",
            "How long newcomers have to verify (for new joins)",
        )
        .option(
            IntegerBuilder::new("minutes", "Minutes, 1 to 10080")
                .required(true)
                .min_value(1)
                .max_value(MAX_TIMEOUT_MINUTES),
        )
        .build(),
        admin(
            "setup_roles",
            "Create the member and unverified roles and check the server's set-up",
        )
        .build(),
        admin(
            "doorman_status",
            "Database, email and bot health, and counts",
        )
        .build(),
        admin(
            "confirm_kicks",
            "Carry out kicks held back because too many came due at once",
        )
        .build(),
        admin(
            "cancel_kicks",
            "Call off held kicks and give those members a fresh deadline",
        )
        .build(),
        CommandBuilder::new(
            "verify",
            "Get your verification prompt again",
            CommandType::ChatInput,
        )
        .contexts([InteractionContextType::Guild])
        .build(),
    ]
}

impl Bot {
    /// Registers the commands: in one server when DISCORD_GUILD_ID names it (instant),
    /// else globally (Discord may take a while to show them).
    pub(super) async fn register_commands(&self, guild_id: Option<Id<GuildMarker>>) {
        let Some(application_id) = self.application_id.get() else {
            return;
        };
        let commands = definitions();
        let client = self.http.interaction(*application_id);
        let registered = match guild_id {
            Some(guild_id) => client.set_guild_commands(guild_id, &commands).await,
            None => client.set_global_commands(&commands).await,
        };
        if let Err(error) = registered {
            tracing::warn!(%error, "cannot register slash commands");
        }
    }

    pub(super) async fn command(
        &self,
        interaction: &Interaction,
        data: CommandData,
    ) -> anyhow::Result<()> {
        let (Some(guild_id), Some(user_id)) = (interaction.guild_id, interaction.author_id())
        else {
            return self
                .respond(
                    interaction,
                    &messages::ephemeral("Use this command in the server."),
                )
                .await;
        };
        if !self.serves(guild_id.get()) {
            return Ok(());
        }
        if data.name == "verify" {
            return self.verify_command(interaction, guild_id, user_id).await;
        }
        let is_admin = interaction
            .member
            .as_ref()
            .and_then(|m| m.permissions)
            .is_some_and(|p| p.contains(Permissions::ADMINISTRATOR));
        if !is_admin {
            return self
                .respond(
                    interaction,
                    &messages::ephemeral("Only administrators can use this command."),
                )
                .await;
        }
        let actor = Actor::DiscordAdmin(user_id.to_string());
        let reply = match data.name.as_str() {
            "verification_status" => self.verification_status(guild_id).await?,
            "force_verify" => {
                let Some(target) = data.options.iter().find_map(|o| match o.value {
                    CommandOptionValue::User(id) => Some(id),
                    _ => None,
                }) else {
                    return self
                        .respond(
                            interaction,
                            &messages::ephemeral("Name a member to verify."),
                        )
                        .await;
                };
                self.force_verify(guild_id, target, actor).await?
            }
            "set_timeout" => {
                let minutes = data.options.iter().find_map(|o| match o.value {
                    CommandOptionValue::Integer(n) => Some(n),
                    _ => None,
                });
                match minutes {
                    Some(m @ 1..=MAX_TIMEOUT_MINUTES) => {
                        self.doorman
                            .set_verification_timeout(&guild_id.to_string(), m as u32, actor)
                            .await?;
                        format!(
                            "New members now have {m} minute(s) to verify. Members already waiting keep their deadline."
                        )
                    }
                    _ => format!("Give a number of minutes from 1 to {MAX_TIMEOUT_MINUTES}."),
                }
            }
            "setup_roles" => self.setup_roles(guild_id).await?,
            "doorman_status" => self.status_report(guild_id).await?,
            "confirm_kicks" => {
                let count = self
                    .doorman
                    .confirm_held_kicks(&guild_id.to_string(), actor)
                    .await?;
                format!("{count} held kick(s) confirmed; they will be carried out now.")
            }
            "cancel_kicks" => {
                let users = self
                    .doorman
                    .cancel_held_kicks(&guild_id.to_string(), actor, &self.rules)
                    .await?;
                format!(
                    "{} held kick(s) called off; those members have a fresh deadline.",
                    users.len()
                )
            }
            _ => return Ok(()),
        };
        self.respond(interaction, &messages::ephemeral(reply)).await
    }

    async fn verify_command(
        &self,
        interaction: &Interaction,
        guild_id: Id<GuildMarker>,
        user_id: Id<UserMarker>,
    ) -> anyhow::Result<()> {
        let (guild, user) = (guild_id.to_string(), user_id.to_string());
        let member = self.doorman.store().discord_member(&guild, &user).await?;
        if member
            .as_ref()
            .is_some_and(|m| m.state == MemberState::Verified)
        {
            return self
                .respond(
                    interaction,
                    &messages::ephemeral("You're already verified."),
                )
                .await;
        }
        let deadline = match member
            .filter(|m| m.state == MemberState::Pending)
            .and_then(|m| m.deadline)
        {
            Some(deadline) => deadline,
            None => {
                self.doorman
                    .restart_verification(&guild, &user, &self.rules)
                    .await?
            }
        };
        let text = format!(
            "Press Verify and enter your invited email and token. Time left: {}.",
            messages::time_left(deadline, crate::domain::now())
        );
        self.respond(
            interaction,
            &messages::ephemeral_with_button(text, guild_id.get(), user_id.get()),
        )
        .await
    }

    async fn verification_status(&self, guild_id: Id<GuildMarker>) -> anyhow::Result<String> {
        let guild = guild_id.to_string();
        let now = crate::domain::now();
        let pending = self
            .doorman
            .store()
            .discord_members_in_state(&guild, MemberState::Pending)
            .await?;
        let held = self
            .doorman
            .store()
            .discord_members_in_state(&guild, MemberState::Held)
            .await?;
        if pending.is_empty() && held.is_empty() {
            return Ok("Nobody is waiting to verify.".into());
        }
        let mut lines = vec![format!("{} member(s) waiting to verify:", pending.len())];
        for member in pending.iter().take(40) {
            let left = member
                .deadline
                .map_or_else(|| "no deadline".into(), |d| messages::time_left(d, now));
            lines.push(format!(
                "• <@{}>: {left}, {} failed attempt(s)",
                member.user_id, member.failed_attempts
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

    async fn force_verify(
        &self,
        guild_id: Id<GuildMarker>,
        target: Id<UserMarker>,
        actor: Actor,
    ) -> anyhow::Result<String> {
        let invitee = self
            .doorman
            .force_verify_member(&guild_id.to_string(), &target.to_string(), actor)
            .await?;
        self.grant_roles(guild_id, target, invitee.as_ref()).await?;
        self.log(
            guild_id,
            &format!("<@{target}> was verified by an administrator"),
        )
        .await;
        Ok(format!("<@{target}> is verified."))
    }

    async fn setup_roles(&self, guild_id: Id<GuildMarker>) -> anyhow::Result<String> {
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
        let info = self.guild_info(guild_id).await?;
        let bot_id = *self.user_id.get().context("no READY yet")?;
        let bot = self
            .http
            .guild_member(guild_id, bot_id)
            .await
            .context("reading doorman's member")?
            .model()
            .await?;
        let bot_top = info
            .roles
            .iter()
            .filter(|r| bot.roles.contains(&r.id))
            .map(|r| r.position)
            .max()
            .unwrap_or(0);
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
                let (embed, button) =
                    messages::panel(&self.settings.community_name, guild_id.get());
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

    async fn status_report(&self, guild_id: Id<GuildMarker>) -> anyhow::Result<String> {
        let store = self.doorman.store();
        let database = if store.ping().await.is_ok() {
            "connected"
        } else {
            "unreachable"
        };
        let all = crate::store::InviteeFilter::default();
        let verified = crate::store::InviteeFilter {
            verified: Some(true),
            ..Default::default()
        };
        let pending = store
            .discord_member_count(&guild_id.to_string(), MemberState::Pending)
            .await?;
        let held = store
            .discord_member_count(&guild_id.to_string(), MemberState::Held)
            .await?;
        Ok(format!(
            "Database: {database} ({})\nEmail: {} route\nBot: connected\n\
             Invitees: {}, verified: {}\nWaiting to verify here: {pending}; kicks held: {held}",
            store.backend(),
            self.doorman.email_settings().route.name(),
            store.count_invitees(&all).await?,
            store.count_invitees(&verified).await?,
        ))
    }

    /// Not a command: used by the sweeper to tell a member why they are leaving.
    pub(super) async fn farewell(&self, user_id: Id<UserMarker>, reason: KickReason) {
        let text = match reason {
            KickReason::Timeout => format!(
                "You were removed from {} because you did not verify in time. You can rejoin with your invitation link and try again.",
                self.settings.community_name
            ),
            KickReason::Attempts => return,
        };
        let dm = match self.http.create_private_channel(user_id).await {
            Ok(response) => response.model().await,
            Err(_) => return,
        };
        if let Ok(dm) = dm {
            let _ = self.http.create_message(dm.id).content(&text).await;
        }
    }
}
