//! Buttons and the verification modal.

use anyhow::Context;
use twilight_model::application::interaction::modal::{
    ModalInteractionComponent, ModalInteractionData,
};
use twilight_model::application::interaction::{Interaction, InteractionData};
use twilight_model::http::interaction::InteractionResponse;

use super::Bot;
use super::messages::{self, CustomId, EMAIL_FIELD, TOKEN_FIELD};
use crate::domain::membership::KickReason;
use crate::service::{MemberVerification, ServiceError};

impl Bot {
    pub(super) async fn interaction(&self, interaction: Interaction) -> anyhow::Result<()> {
        match interaction.data.clone() {
            Some(InteractionData::ApplicationCommand(command)) => {
                self.command(&interaction, *command).await
            }
            Some(InteractionData::MessageComponent(component)) => {
                self.button(&interaction, &component.custom_id).await
            }
            Some(InteractionData::ModalSubmit(modal)) => {
                self.modal_submitted(&interaction, *modal).await
            }
            _ => Ok(()),
        }
    }

    pub(super) async fn respond(
        &self,
        interaction: &Interaction,
        response: &InteractionResponse,
    ) -> anyhow::Result<()> {
        let application_id = *self.application_id.get().context("no READY yet")?;
        self.http
            .interaction(application_id)
            .create_response(interaction.id, &interaction.token, response)
            .await
            .context("answering an interaction")?;
        Ok(())
    }

    async fn button(&self, interaction: &Interaction, custom_id: &str) -> anyhow::Result<()> {
        let Some(user_id) = interaction.author_id() else {
            return Ok(());
        };
        let guild_id = match CustomId::parse(custom_id) {
            Some(CustomId::Verify {
                guild_id,
                user_id: owner,
            }) => {
                if owner != user_id {
                    return self
                        .respond(
                            interaction,
                            &messages::ephemeral("This button is not for you."),
                        )
                        .await;
                }
                guild_id
            }
            Some(CustomId::Panel { guild_id }) => guild_id,
            _ => return Ok(()),
        };
        let pending = self.doorman.pending_member(guild_id, user_id).await?;
        let response = if pending.is_some() {
            messages::modal(guild_id)
        } else {
            messages::ephemeral(
                "You have no verification waiting. If you were removed, rejoin the server to start again.",
            )
        };
        self.respond(interaction, &response).await
    }

    async fn modal_submitted(
        &self,
        interaction: &Interaction,
        modal: ModalInteractionData,
    ) -> anyhow::Result<()> {
        let Some(CustomId::Modal { guild_id }) = CustomId::parse(&modal.custom_id) else {
            return Ok(());
        };
        let Some(user_id) = interaction.author_id() else {
            return Ok(());
        };
        let field = |name: &str| field_value(&modal.components, name).unwrap_or_default();
        let (email, token) = (field(EMAIL_FIELD), field(TOKEN_FIELD));
        let guild = guild_id;
        let result = self
            .doorman
            .verify_member(guild, user_id, &email, &token, &self.rules)
            .await;
        let outcome = match result {
            Ok(outcome) => outcome,
            Err(ServiceError::Throttled { retry_after_secs }) => {
                let minutes = retry_after_secs.div_ceil(60);
                let text = format!("Too many failed attempts. Try again in {minutes} minute(s).");
                return self.respond(interaction, &messages::ephemeral(text)).await;
            }
            Err(error) => {
                self.respond(
                    interaction,
                    &messages::ephemeral("Something went wrong on our side; please try again."),
                )
                .await?;
                return Err(error.into());
            }
        };
        // Answer first (Discord allows three seconds), then change roles, which can wait
        // on rate limits.
        match outcome {
            MemberVerification::Verified { invitee } => {
                let welcome = format!(
                    "You're verified. Welcome to {}!",
                    self.settings.community_name
                );
                self.respond(interaction, &messages::ephemeral(welcome))
                    .await?;
                self.grant_roles(guild, user_id, invitee.as_deref()).await?;
                self.log(guild, &format!("<@{user_id}> verified")).await;
            }
            MemberVerification::Mismatch { attempts_left } => {
                let text = format!(
                    "That email and token don't match a valid invitation. You have {attempts_left} attempt(s) left: \
                     press Verify to try again."
                );
                self.respond(interaction, &messages::ephemeral(text))
                    .await?;
                self.log(
                    guild,
                    &format!("<@{user_id}> failed to verify ({attempts_left} attempt(s) left)"),
                )
                .await;
            }
            MemberVerification::Expired => {
                let text =
                    "That token has expired. Ask the organisers to send you a new invitation.";
                self.respond(interaction, &messages::ephemeral(text))
                    .await?;
            }
            MemberVerification::NotPending => {
                self.respond(
                    interaction,
                    &messages::ephemeral("You have no verification waiting."),
                )
                .await?;
            }
            MemberVerification::OutOfAttempts => {
                let text = "That email and token don't match a valid invitation, and that was your last attempt.";
                self.respond(interaction, &messages::ephemeral(text))
                    .await?;
                self.kick_for(guild, user_id, KickReason::Attempts).await?;
            }
        }
        Ok(())
    }
}

/// The value of the text input with this id, wherever the modal nests it.
fn field_value(components: &[ModalInteractionComponent], custom_id: &str) -> Option<String> {
    components.iter().find_map(|component| match component {
        ModalInteractionComponent::TextInput(input) if input.custom_id == custom_id => {
            Some(input.value.clone())
        }
        ModalInteractionComponent::ActionRow(row) => field_value(&row.components, custom_id),
        ModalInteractionComponent::Label(label) => {
            field_value(std::slice::from_ref(&label.component), custom_id)
        }
        _ => None,
    })
}
