//! Carrying out a kick: the audit-log reason, what happens when Discord refuses, and
//! the member's farewell.
//!
//! The farewell goes only after the kick succeeded, so nobody is told they were removed
//! while they are still in. Discord delivers a bot's DM only to someone it shares a
//! server with, so after the kick it reaches only members who are also in another of
//! doorman's servers; the rest were told of the deadline in their prompt. A refused
//! kick is retried less and less often (see `kick_retry_after`), and the admin hears of
//! it once, then again only if it lasts for hours.

use anyhow::Context;
use twilight_http::request::AuditLogReason;
use twilight_model::id::Id;
use twilight_model::id::marker::{GuildMarker, UserMarker};

use super::{Bot, CANNOT_MESSAGE_USER, MISSING_PERMISSIONS, UNKNOWN_MEMBER, discord_error_code};
use crate::domain::membership::{KickReason, RefusalNotice};

/// Shown in the server's audit log.
pub(super) fn audit_log_text(reason: KickReason) -> &'static str {
    match reason {
        KickReason::Timeout => "Verification timeout",
        KickReason::Attempts => "Verification failed too many times",
    }
}

impl Bot {
    /// Kicks a member whose verification ended badly, and records it.
    pub(super) async fn kick_for(
        &self,
        guild_id: Id<GuildMarker>,
        user_id: Id<UserMarker>,
        reason: KickReason,
    ) -> anyhow::Result<()> {
        let kicked = self
            .http
            .remove_guild_member(guild_id, user_id)
            .reason(audit_log_text(reason))
            .await;
        match kicked {
            Ok(_) => {}
            Err(error) if discord_error_code(&error) == Some(UNKNOWN_MEMBER) => {
                self.doorman
                    .member_needs_no_kick(guild_id, user_id, false, &self.rules)
                    .await?;
                return Ok(());
            }
            Err(error) if discord_error_code(&error) == Some(MISSING_PERMISSIONS) => {
                let problem = match self
                    .doorman
                    .kick_refused(guild_id, user_id, &self.rules)
                    .await?
                {
                    RefusalNotice::First => format!(
                        "Discord refused to remove <@{user_id}>: doorman needs Kick Members and a role above theirs. \
                         It will try again, less and less often."
                    ),
                    RefusalNotice::Reminder => format!(
                        "Discord still refuses to remove <@{user_id}>: doorman needs Kick Members and a role above theirs."
                    ),
                    RefusalNotice::Quiet => return Ok(()),
                };
                self.doorman.discord_problem(guild_id, &problem).await?;
                self.log(guild_id, &problem).await;
                return Ok(());
            }
            Err(error) => return Err(error).context("kicking"),
        }
        self.doorman
            .member_kicked(guild_id, user_id, reason, &self.rules)
            .await?;
        self.log(
            guild_id,
            &format!("<@{user_id}> was removed: {}", audit_log_text(reason)),
        )
        .await;
        self.farewell(user_id, reason).await;
        Ok(())
    }

    /// Tells a removed member why, where Discord still lets doorman reach them.
    async fn farewell(&self, user_id: Id<UserMarker>, reason: KickReason) {
        let text = match reason {
            KickReason::Timeout => format!(
                "You were removed from {} because you did not verify in time. You can rejoin with your invitation link and try again.",
                self.settings.community_name
            ),
            // They were told in the reply to their last attempt.
            KickReason::Attempts => return,
        };
        let dm = match self.http.create_private_channel(user_id).await {
            Ok(response) => response.model().await,
            Err(error) => {
                tracing::debug!(%error, "cannot open a DM for the farewell");
                return;
            }
        };
        let Ok(dm) = dm else { return };
        match self.http.create_message(dm.id).content(&text).await {
            Ok(_) => {}
            Err(error) if discord_error_code(&error) == Some(CANNOT_MESSAGE_USER) => {
                tracing::debug!("the removed member shares no server with doorman: no farewell");
            }
            Err(error) => tracing::warn!(%error, "cannot send the farewell"),
        }
    }
}
