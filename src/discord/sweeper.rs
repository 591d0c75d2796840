//! Enforces deadlines. Each pass claims the members whose deadline has passed (with a
//! lease, so several replicas never kick one member twice), re-reads each one from
//! Discord, and kicks only those still unverified.

use std::time::Duration;

use super::{Bot, UNKNOWN_MEMBER, discord_error_code};
use crate::domain::membership::KickReason;
use crate::service::DiscordMember;

pub async fn run(bot: Bot, every: Duration) {
    let mut ticker = tokio::time::interval(every);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticker.tick().await;
        if !bot.status.is_connected() {
            continue;
        }
        if let Err(error) = bot.sweep().await {
            tracing::warn!(
                error = format!("{error:#}"),
                "enforcing verification deadlines failed"
            );
        }
    }
}

impl Bot {
    async fn sweep(&self) -> anyhow::Result<()> {
        let due = self.doorman.due_kicks(&self.rules).await?;
        let mut held_by_guild = std::collections::BTreeMap::<_, usize>::new();
        for member in &due.held {
            *held_by_guild.entry(member.guild_id).or_default() += 1;
        }
        for (guild_id, count) in held_by_guild {
            let line = format!(
                "⚠ {count} verification kick(s) came due at once, more than KICK_BURST_LIMIT allows: they are held. \
                 An administrator can /confirm_kicks or /cancel_kicks."
            );
            self.log(guild_id, &line).await;
        }
        if let Err(error) = self.grant_due_roles().await {
            tracing::warn!(
                error = format!("{error:#}"),
                "giving roles verified in the admin UI failed"
            );
        }
        for member in due.kick {
            // This replica stopped leading (or lost Discord) mid-pass: the rest are left to
            // whoever leads next, once their claims run out.
            if !self.status.is_connected() {
                break;
            }
            if let Err(error) = self.enforce(&member).await {
                // The lease runs out and the next pass tries again.
                tracing::warn!(error = format!("{error:#}"), user = %member.user_id, "cannot enforce a deadline");
            }
        }
        Ok(())
    }

    /// Kicks a member whose deadline passed, unless they verified or left meanwhile.
    async fn enforce(&self, member: &DiscordMember) -> anyhow::Result<()> {
        let (guild_id, user_id) = (member.guild_id, member.user_id);
        let current = match self.http.guild_member(guild_id, user_id).await {
            Ok(response) => response.model().await?,
            Err(error) if discord_error_code(&error) == Some(UNKNOWN_MEMBER) => {
                self.doorman
                    .member_needs_no_kick(guild_id, user_id, false, &self.rules)
                    .await?;
                return Ok(());
            }
            Err(error) => return Err(error.into()),
        };
        let member_role = self
            .role_id(guild_id, &self.settings.member_role_name)
            .await?;
        if member_role.is_some_and(|role| current.roles.contains(&role)) {
            self.doorman
                .member_needs_no_kick(guild_id, user_id, true, &self.rules)
                .await?;
            return Ok(());
        }
        self.kick_for(guild_id, user_id, KickReason::Timeout).await
    }
}
