//! What the bot records for the admin UI: each server's setup as it finds it, and the
//! roles an admin granted from the UI, given from here because this process holds the
//! Discord connection.

use anyhow::Context;
use twilight_model::guild::Permissions;
use twilight_model::id::Id;
use twilight_model::id::marker::GuildMarker;

use super::Bot;
use super::guilds::top_position;
use crate::domain::discord_setup::GuildSetup;

impl Bot {
    /// Looks at the server's roles, channels and doorman's own member, and records what
    /// it found. A failure is logged: the checklist just stays as it was.
    pub(super) async fn record_setup(&self, guild_id: Id<GuildMarker>, name: Option<String>) {
        if let Err(error) = self.try_record_setup(guild_id, name).await {
            tracing::warn!(
                error = format!("{error:#}"),
                "cannot check the server's setup"
            );
        }
    }

    async fn try_record_setup(
        &self,
        guild_id: Id<GuildMarker>,
        name: Option<String>,
    ) -> anyhow::Result<()> {
        let (info, own) = self.own_roles(guild_id).await?;
        let name = match name {
            Some(name) => name,
            None => {
                self.http
                    .guild(guild_id)
                    .await
                    .context("reading the server")?
                    .model()
                    .await?
                    .name
            }
        };
        let permissions = own
            .iter()
            .fold(Permissions::empty(), |all, r| all | r.permissions);
        let top = top_position(&own, guild_id);
        let member_role = info.role(&self.settings.member_role_name);
        let unverified_role = info.role(&self.settings.unverified_role_name);
        let admin = permissions.contains(Permissions::ADMINISTRATOR);
        let setup = GuildSetup {
            member_role: member_role.is_some(),
            unverified_role: unverified_role.is_some(),
            role_above: [member_role, unverified_role]
                .into_iter()
                .flatten()
                .all(|r| r.position < top),
            manage_roles: admin || permissions.contains(Permissions::MANAGE_ROLES),
            kick_members: admin || permissions.contains(Permissions::KICK_MEMBERS),
            channel: info
                .channel(&self.settings.verification_channel_name)
                .is_some(),
            // Discord sends a server's members only with the intent; without it the
            // gateway refuses the connection, and nothing reaches here.
            members_intent: true,
        };
        self.doorman
            .record_guild_setup(guild_id, &name, &setup)
            .await?;
        Ok(())
    }

    /// Discord refused the connection for the Server Members Intent: the checklist of every
    /// server doorman knows says so.
    pub(super) async fn members_intent_refused(&self) {
        tracing::error!(
            "Discord refused the Server Members Intent: turn it on in the Developer Portal (Bot → Privileged Gateway Intents)"
        );
        if let Err(error) = self.doorman.members_intent_refused().await {
            tracing::warn!(
                error = format!("{error:#}"),
                "cannot record the refused intent"
            );
        }
    }

    /// Gives the roles of members an admin verified in the admin UI.
    pub(super) async fn grant_due_roles(&self) -> anyhow::Result<()> {
        for member in self.doorman.due_role_grants().await? {
            let (guild_id, user_id) = (member.guild_id, member.user_id);
            let invitee = self.doorman.invitee_of_discord_user(user_id).await?;
            // Refused roles are reported by `grant_roles`; the admin fixes and verifies again.
            let given = self.grant_roles(guild_id, user_id, invitee.as_ref()).await;
            match given {
                Ok(given) => {
                    self.doorman.role_grant_done(guild_id, user_id).await?;
                    if given {
                        self.log(
                            guild_id,
                            &format!("<@{user_id}> was verified by an administrator"),
                        )
                        .await;
                    }
                }
                // The lease runs out and the next pass tries again.
                Err(error) => {
                    tracing::warn!(error = format!("{error:#}"), user = %user_id, "cannot give a verified member their roles")
                }
            }
        }
        Ok(())
    }
}
