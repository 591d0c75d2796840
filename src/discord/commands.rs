//! Slash commands: registered at start-up, the admin ones visible only to administrators
//! and checked again on every use; every answer is ephemeral.

use anyhow::Context;
use twilight_model::application::command::{Command, CommandType};
use twilight_model::application::interaction::application_command::{
    CommandData, CommandOptionValue,
};
use twilight_model::application::interaction::{Interaction, InteractionContextType};
use twilight_model::guild::Permissions;
use twilight_model::http::interaction::InteractionResponse;
use twilight_model::id::Id;
use twilight_model::id::marker::{GuildMarker, UserMarker};
use twilight_util::builder::command::{CommandBuilder, IntegerBuilder, UserBuilder};

use super::{Bot, messages};
use crate::domain::event::Actor;
use crate::service::{ServiceError, VerificationRequest};
use crate::store::MemberState;

const MAX_TIMEOUT_MINUTES: i64 = 7 * 24 * 60;

/// Discord waits three seconds for the first answer; past this, doorman defers and
/// follows up, leaving room for the answer's own trip.
const ANSWER_WITHIN: std::time::Duration = std::time::Duration::from_millis(2000);

/// What to tell an admin when a command failed: what went wrong, never internals.
fn failure_text(command: &str, error: &anyhow::Error) -> String {
    let cause = error.chain().find_map(|cause| {
        if let Some(http) = cause.downcast_ref::<twilight_http::Error>() {
            return Some(match http.kind() {
                twilight_http::error::ErrorType::Response {
                    error: twilight_http::api_error::ApiError::General(general),
                    ..
                } => format!("Discord refused ({}: {})", general.code, general.message),
                _ => "Discord could not be reached".to_owned(),
            });
        }
        match cause.downcast_ref::<ServiceError>() {
            Some(ServiceError::Store(_)) => Some("the database did not answer".to_owned()),
            Some(other) => Some(other.to_string()),
            None => cause
                .downcast_ref::<crate::store::StoreError>()
                .map(|_| "the database did not answer".to_owned()),
        }
    });
    let cause = cause.unwrap_or_else(|| "an unexpected error".to_owned());
    // The outermost context, when there is one, says what doorman was doing.
    let doing = if error.chain().count() > 1 {
        format!(" while {error}")
    } else {
        String::new()
    };
    format!("/{command} failed: {cause}{doing}. Try again once that is fixed.")
}

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

    /// Runs a slash command and always answers: within Discord's three seconds, or with a
    /// deferral followed up once the work is done. A failure is told to whoever ran it.
    pub(super) async fn command(
        &self,
        interaction: &Interaction,
        data: CommandData,
    ) -> anyhow::Result<()> {
        let name = data.name.clone();
        let work = self.command_reply(interaction, data);
        tokio::pin!(work);
        match tokio::time::timeout(ANSWER_WITHIN, &mut work).await {
            Ok(result) => {
                let Some(response) = self.answer_or_explain(&name, result) else {
                    return Ok(());
                };
                self.respond(interaction, &response).await
            }
            Err(_) => {
                self.respond(interaction, &messages::deferred_ephemeral())
                    .await?;
                let result = work.await;
                let response = self
                    .answer_or_explain(&name, result)
                    .unwrap_or_else(|| messages::ephemeral("Done."));
                self.follow_up(interaction, &response).await
            }
        }
    }

    /// The reply, or an ephemeral account of what went wrong (also logged).
    fn answer_or_explain(
        &self,
        name: &str,
        result: anyhow::Result<Option<InteractionResponse>>,
    ) -> Option<InteractionResponse> {
        match result {
            Ok(response) => response,
            Err(error) => {
                tracing::warn!(
                    error = format!("{error:#}"),
                    command = name,
                    "a slash command failed"
                );
                Some(messages::ephemeral(failure_text(name, &error)))
            }
        }
    }

    /// Replaces a deferred answer with the real one.
    async fn follow_up(
        &self,
        interaction: &Interaction,
        response: &InteractionResponse,
    ) -> anyhow::Result<()> {
        let application_id = *self.application_id.get().context("no READY yet")?;
        let data = response.data.as_ref();
        let content = data.and_then(|d| d.content.as_deref());
        let components = data.and_then(|d| d.components.as_deref());
        self.http
            .interaction(application_id)
            .update_response(&interaction.token)
            .content(content)
            .components(components)
            .await
            .context("following up a deferred answer")?;
        Ok(())
    }

    /// What a command answers; None for no answer (a server doorman does not serve).
    async fn command_reply(
        &self,
        interaction: &Interaction,
        data: CommandData,
    ) -> anyhow::Result<Option<InteractionResponse>> {
        let reply = |text: String| Ok(Some(messages::ephemeral(text)));
        let (Some(guild_id), Some(user_id)) = (interaction.guild_id, interaction.author_id())
        else {
            return reply("Use this command in the server.".into());
        };
        if !self.serves(guild_id.get()) {
            return Ok(None);
        }
        if data.name == "verify" {
            let joined_at = interaction
                .member
                .as_ref()
                .and_then(|m| m.joined_at)
                .and_then(|t| chrono::DateTime::from_timestamp_micros(t.as_micros()));
            return self
                .verify_command(guild_id, user_id, joined_at)
                .await
                .map(Some);
        }
        let is_admin = interaction
            .member
            .as_ref()
            .and_then(|m| m.permissions)
            .is_some_and(|p| p.contains(Permissions::ADMINISTRATOR));
        if !is_admin {
            return reply("Only administrators can use this command.".into());
        }
        let actor = Actor::DiscordAdmin(user_id.to_string());
        let text = match data.name.as_str() {
            "verification_status" => self.verification_status(guild_id).await?,
            "force_verify" => {
                let Some(target) = data.options.iter().find_map(|o| match o.value {
                    CommandOptionValue::User(id) => Some(id),
                    _ => None,
                }) else {
                    return reply("Name a member to verify.".into());
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
            other => format!("doorman does not know the command /{other}."),
        };
        reply(text)
    }

    async fn verify_command(
        &self,
        guild_id: Id<GuildMarker>,
        user_id: Id<UserMarker>,
        joined_at: Option<chrono::DateTime<chrono::Utc>>,
    ) -> anyhow::Result<InteractionResponse> {
        let request = self
            .doorman
            .request_verification(
                &guild_id.to_string(),
                &user_id.to_string(),
                joined_at,
                &self.rules,
            )
            .await?;
        let text = match request {
            VerificationRequest::Pending { deadline } => {
                let text = format!(
                    "Press Verify and enter your invited email and token. Time left: {}.",
                    messages::time_left(deadline, self.doorman.now())
                );
                return Ok(messages::ephemeral_with_button(
                    text,
                    guild_id.get(),
                    user_id.get(),
                ));
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

    async fn verification_status(&self, guild_id: Id<GuildMarker>) -> anyhow::Result<String> {
        let guild = guild_id.to_string();
        let now = self.doorman.now();
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
}
