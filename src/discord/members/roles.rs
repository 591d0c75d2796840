//! Giving a verified member their roles, and telling the admins when Discord refuses.

use anyhow::Context;
use twilight_model::id::Id;
use twilight_model::id::marker::{GuildMarker, RoleMarker, UserMarker};

use crate::discord::{Bot, MISSING_PERMISSIONS, discord_error_code};
use crate::domain::invitee::Invitee;

impl Bot {
    /// The member role, the cohort roles the roster's rules give, and no unverified role.
    /// False when the member role could not be given (the problem is reported).
    pub(in crate::discord) async fn grant_roles(
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
            self.doorman.discord_problem(guild_id, &problem).await?;
            self.log(guild_id, &problem).await;
            return Ok(false);
        };
        if !self.add_role(guild_id, user_id, member_role).await? {
            return Ok(false);
        }
        if let Some(invitee) = invitee {
            for rule in &self.settings.role_rules {
                if !rule.applies(&invitee.college, &invitee.branch, &invitee.year) {
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
                        self.doorman.discord_problem(guild_id, &problem).await?;
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
    pub(in crate::discord) async fn add_role(
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
                self.doorman.discord_problem(guild_id, &problem).await?;
                self.log(guild_id, &problem).await;
                Ok(false)
            }
            Err(error) => Err(error).context("adding a role"),
        }
    }
}
