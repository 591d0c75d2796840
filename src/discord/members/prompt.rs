//! Asking a newcomer to verify: by DM, or in the verification channel when DMs are closed.

use anyhow::Context;
use twilight_model::channel::message::AllowedMentions;
use twilight_model::id::Id;
use twilight_model::id::marker::{GuildMarker, UserMarker};

use crate::discord::{Bot, CANNOT_MESSAGE_USER, discord_error_code, messages};

impl Bot {
    /// Sends the prompt by DM; when DMs are closed, in the verification channel instead.
    pub(in crate::discord) async fn send_prompt(
        &self,
        guild_id: Id<GuildMarker>,
        user_id: Id<UserMarker>,
        deadline: chrono::DateTime<chrono::Utc>,
    ) -> anyhow::Result<()> {
        let (embed, button) =
            messages::prompt(&self.settings.community_name, guild_id, user_id, deadline);
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
                self.doorman
                    .member_prompted(guild_id, user_id, false, &self.rules)
                    .await?;
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
            self.doorman.discord_problem(guild_id, &problem).await?;
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
        self.doorman
            .member_prompted(guild_id, user_id, true, &self.rules)
            .await?;
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
}
