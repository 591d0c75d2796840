//! Slash commands: registered at start-up, the admin ones visible only to administrators
//! and checked again on every use; every answer is ephemeral.

use anyhow::Context;
use twilight_model::application::interaction::Interaction;
use twilight_model::application::interaction::application_command::{
    CommandData, CommandOptionValue,
};
use twilight_model::guild::Permissions;
use twilight_model::http::interaction::InteractionResponse;

mod admin;
mod definitions;

use super::{Bot, messages};
use crate::domain::event::Actor;
use crate::service::ServiceError;

pub(super) const MAX_TIMEOUT_MINUTES: i64 = crate::service::MAX_TIMEOUT_MINUTES as i64;

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

impl Bot {
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
                            .set_verification_timeout(guild_id, m as u32, actor)
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
                let count = self.doorman.confirm_held_kicks(guild_id, actor).await?;
                format!("{count} held kick(s) confirmed; they will be carried out now.")
            }
            "cancel_kicks" => {
                let users = self
                    .doorman
                    .cancel_held_kicks(guild_id, actor, &self.rules)
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
}
