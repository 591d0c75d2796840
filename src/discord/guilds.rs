//! What the bot knows of each server's roles and channels, so that a raid of joins does
//! not cost a REST call per join. Refilled from Discord when an event says it changed.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use anyhow::Context;
use twilight_model::channel::ChannelType;
use twilight_model::guild::Role;
use twilight_model::id::Id;
use twilight_model::id::marker::{ChannelMarker, GuildMarker, RoleMarker};

use super::Bot;

#[derive(Debug, Default)]
pub struct GuildInfo {
    pub roles: Vec<Role>,
    pub text_channels: Vec<(Id<ChannelMarker>, String)>,
}

impl GuildInfo {
    pub fn role(&self, name: &str) -> Option<&Role> {
        self.roles
            .iter()
            .find(|r| r.name.eq_ignore_ascii_case(name))
    }

    pub fn channel(&self, name: &str) -> Option<Id<ChannelMarker>> {
        let name = name.trim_start_matches('#');
        self.text_channels
            .iter()
            .find(|(_, n)| n.eq_ignore_ascii_case(name))
            .map(|(id, _)| *id)
    }
}

#[derive(Default)]
pub struct GuildCache(RwLock<HashMap<Id<GuildMarker>, Arc<GuildInfo>>>);

impl GuildCache {
    pub fn forget(&self, guild_id: Id<GuildMarker>) {
        self.0.write().expect("cache lock").remove(&guild_id);
    }

    pub fn put(&self, guild_id: Id<GuildMarker>, info: GuildInfo) {
        self.0
            .write()
            .expect("cache lock")
            .insert(guild_id, Arc::new(info));
    }

    fn get(&self, guild_id: Id<GuildMarker>) -> Option<Arc<GuildInfo>> {
        self.0.read().expect("cache lock").get(&guild_id).cloned()
    }
}

/// The position of the highest of `roles` besides @everyone (0 when there is none): the
/// roles doorman may manage sit below it.
pub fn top_position(roles: &[Role], guild_id: Id<GuildMarker>) -> i64 {
    roles
        .iter()
        .filter(|r| r.id.cast() != guild_id)
        .map(|r| r.position)
        .max()
        .unwrap_or(0)
}

pub fn text_channels(
    channels: &[twilight_model::channel::Channel],
) -> Vec<(Id<ChannelMarker>, String)> {
    channels
        .iter()
        .filter(|c| c.kind == ChannelType::GuildText)
        .filter_map(|c| Some((c.id, c.name.clone()?)))
        .collect()
}

impl Bot {
    pub(super) async fn guild_info(
        &self,
        guild_id: Id<GuildMarker>,
    ) -> anyhow::Result<Arc<GuildInfo>> {
        if let Some(info) = self.guilds.get(guild_id) {
            return Ok(info);
        }
        let roles = self
            .http
            .roles(guild_id)
            .await
            .context("listing roles")?
            .models()
            .await?;
        let channels = self
            .http
            .guild_channels(guild_id)
            .await
            .context("listing channels")?
            .models()
            .await?;
        let info = GuildInfo {
            roles,
            text_channels: text_channels(&channels),
        };
        self.guilds.put(guild_id, info);
        Ok(self.guilds.get(guild_id).expect("just inserted"))
    }

    /// The server as the bot knows it, and the roles doorman's own member holds there
    /// with @everyone (which every member holds), read from Discord each time: an admin
    /// moves them by hand.
    pub(super) async fn own_roles(
        &self,
        guild_id: Id<GuildMarker>,
    ) -> anyhow::Result<(Arc<GuildInfo>, Vec<Role>)> {
        let info = self.guild_info(guild_id).await?;
        let bot_id = *self.user_id.get().context("no READY yet")?;
        let bot = self
            .http
            .guild_member(guild_id, bot_id)
            .await
            .context("reading doorman's member")?
            .model()
            .await?;
        let own = info
            .roles
            .iter()
            .filter(|r| bot.roles.contains(&r.id) || r.id.cast() == guild_id)
            .cloned()
            .collect();
        Ok((info, own))
    }

    pub(super) async fn role_id(
        &self,
        guild_id: Id<GuildMarker>,
        name: &str,
    ) -> anyhow::Result<Option<Id<RoleMarker>>> {
        Ok(self.guild_info(guild_id).await?.role(name).map(|r| r.id))
    }

    /// Posts a one-line summary to the moderators' log channel, if one is configured.
    pub(super) async fn log(&self, guild_id: Id<GuildMarker>, line: &str) {
        let Some(name) = &self.settings.log_channel_name else {
            return;
        };
        let channel = match self.guild_info(guild_id).await {
            Ok(info) => info.channel(name),
            Err(error) => {
                tracing::warn!(
                    error = format!("{error:#}"),
                    "cannot look up the log channel"
                );
                return;
            }
        };
        let Some(channel) = channel else {
            tracing::warn!(channel = %name, "LOG_CHANNEL_NAME does not name a text channel");
            return;
        };
        let no_pings = twilight_model::channel::message::AllowedMentions::default();
        if let Err(error) = self
            .http
            .create_message(channel)
            .content(line)
            .allowed_mentions(Some(&no_pings))
            .await
        {
            tracing::warn!(%error, "cannot post to the log channel");
        }
    }
}
