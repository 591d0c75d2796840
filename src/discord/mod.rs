//! The Discord bot: it asks everyone who joins to verify, gives the member role on
//! success, and removes those who fail or run out of time. It runs in the same process as
//! the API and calls the domain core directly; all it knows lives in the database, so a
//! restart forgets nothing.

mod commands;
mod guilds;
mod interactions;
mod kicks;
mod members;
mod messages;
mod setup;
mod sweeper;

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use tokio::sync::watch;
use tokio::task::JoinHandle;
use twilight_gateway::{Event, EventTypeFlags, Intents, Shard, ShardId, StreamExt};
use twilight_model::id::Id;
use twilight_model::id::marker::{ApplicationMarker, UserMarker};

use crate::config::DiscordSettings;
use crate::service::{Doorman, GateRules};
use crate::workers::leader::Leadership;

/// Whether the bot holds a gateway session, for `/health`.
#[derive(Debug, Clone, Default)]
pub struct BotStatus(Arc<GatewayState>);

/// The session's state, and how many sessions were opened (for `/metrics`).
#[derive(Debug, Default)]
struct GatewayState {
    connected: AtomicBool,
    /// Another replica leads and holds the gateway; this one waits to take over.
    standby: AtomicBool,
    sessions: AtomicU64,
}

impl BotStatus {
    pub fn is_connected(&self) -> bool {
        self.0.connected.load(Ordering::Relaxed)
    }

    /// Another replica holds the gateway; this one takes it over if that one goes.
    pub fn is_standby(&self) -> bool {
        !self.is_connected() && self.0.standby.load(Ordering::Relaxed)
    }

    fn set_standby(&self, standby: bool) {
        self.0.standby.store(standby, Ordering::Relaxed);
    }

    /// Sessions opened (or resumed) after the first.
    pub fn reconnects(&self) -> u64 {
        self.0.sessions.load(Ordering::Relaxed).saturating_sub(1)
    }

    /// `true` on each READY or RESUMED: a session opened, or taken up again after the
    /// connection dropped (which twilight may do without reporting an error first).
    fn set(&self, connected: bool) {
        self.0.connected.store(connected, Ordering::Relaxed);
        if connected {
            self.0.sessions.fetch_add(1, Ordering::Relaxed);
        }
    }
}

/// Everything the bot's handlers share. Cheap to clone.
#[derive(Clone)]
pub(crate) struct Bot(Arc<BotInner>);

pub(crate) struct BotInner {
    http: twilight_http::Client,
    doorman: Doorman,
    settings: DiscordSettings,
    rules: GateRules,
    application_id: OnceLock<Id<ApplicationMarker>>,
    user_id: OnceLock<Id<UserMarker>>,
    guilds: guilds::GuildCache,
    status: BotStatus,
}

impl std::ops::Deref for Bot {
    type Target = BotInner;
    fn deref(&self) -> &BotInner {
        &self.0
    }
}

/// How often deadlines are checked. Deadlines live in the database; this only sets how
/// late after its deadline a kick can happen.
const SWEEP_EVERY: Duration = Duration::from_secs(1);

/// The bot's running parts.
pub struct BotTasks {
    /// Ends by itself, its session closed, once told to stop.
    pub gateway: JoinHandle<()>,
    /// Its claims are leased in the database, so stopping it at any point loses nothing.
    pub sweeper: JoinHandle<()>,
}

/// Starts the gateway connection (held only while this replica leads, and closed when
/// `stopping` turns true) and the deadline sweeper (which works only while the gateway is
/// connected).
pub fn spawn(
    settings: &DiscordSettings,
    doorman: Doorman,
    status: BotStatus,
    leadership: Leadership,
    stopping: watch::Receiver<bool>,
) -> BotTasks {
    // twilight's TLS needs a process-wide crypto provider; a second install is harmless.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let mut http = twilight_http::Client::builder()
        .token(settings.token.expose().clone())
        .timeout(Duration::from_secs(15));
    if let Some((host, plain_http)) = &settings.api_proxy {
        http = http.proxy(host.clone(), *plain_http);
    }
    let bot = Bot(Arc::new(BotInner {
        http: http.build(),
        doorman,
        rules: GateRules::from_settings(settings),
        settings: settings.clone(),
        application_id: OnceLock::new(),
        user_id: OnceLock::new(),
        guilds: guilds::GuildCache::default(),
        status,
    }));
    BotTasks {
        gateway: tokio::spawn(bot.clone().run_gateway(leadership, stopping)),
        sweeper: tokio::spawn(sweeper::run(bot, SWEEP_EVERY)),
    }
}

impl Bot {
    /// Holds a gateway session whenever this replica leads, and closes it the moment it
    /// stops leading, so that only one replica ever answers Discord.
    async fn run_gateway(self, mut leadership: Leadership, mut stopping: watch::Receiver<bool>) {
        loop {
            self.status.set_standby(!leadership.is_leader());
            let leads = tokio::select! {
                leads = leadership.acquired() => leads,
                () = stopped(&mut stopping) => return,
            };
            self.status.set_standby(false);
            if !leads || !self.run_session(&mut leadership, &mut stopping).await {
                // Shutting down, or twilight gave up for good (a fatal close, such as a
                // rejected token).
                return;
            }
        }
    }

    /// One gateway session; true if it ended because this replica stopped leading, false
    /// when it ended for good (a shutdown, or a close twilight does not come back from).
    async fn run_session(
        &self,
        leadership: &mut Leadership,
        stopping: &mut watch::Receiver<bool>,
    ) -> bool {
        let intents = Intents::GUILDS | Intents::GUILD_MEMBERS;
        let mut config =
            twilight_gateway::ConfigBuilder::new(self.settings.token.expose().clone(), intents);
        if let Some(url) = &self.settings.gateway_url {
            config = config.proxy_url(url.clone());
        }
        let mut shard = Shard::with_config(ShardId::ONE, config.build());
        // twilight reconnects and resumes on its own; errors here are logged and the
        // loop goes on with the next event.
        loop {
            let item = tokio::select! {
                item = shard.next_event(EventTypeFlags::all()) => item,
                () = leadership.lost() => {
                    self.status.set(false);
                    close_session(&mut shard).await;
                    return true;
                }
                () = stopped(stopping) => {
                    self.status.set(false);
                    close_session(&mut shard).await;
                    tracing::info!("Discord gateway session closed");
                    return false;
                }
            };
            match item {
                Some(Ok(event)) => self.dispatch(event),
                Some(Err(error)) => {
                    self.status.set(false);
                    tracing::warn!(%error, "Discord gateway error");
                }
                None => break,
            }
        }
        self.status.set(false);
        false
    }

    fn dispatch(&self, event: Event) {
        match event {
            Event::Ready(ready) => {
                self.status.set(true);
                let _ = self.application_id.set(ready.application.id);
                let _ = self.user_id.set(ready.user.id);
                tracing::info!(user = %ready.user.name, guilds = ready.guilds.len(), "Discord bot connected");
                let bot = self.clone();
                if self.settings.guild_id.is_none() {
                    tokio::spawn(async move { bot.register_commands(None).await });
                }
            }
            Event::Resumed => self.status.set(true),
            Event::GatewayClose(frame) => {
                self.status.set(false);
                if frame.is_some_and(|f| f.code == DISALLOWED_INTENTS) {
                    let bot = self.clone();
                    tokio::spawn(async move { bot.members_intent_refused().await });
                }
            }
            event => {
                let bot = self.clone();
                tokio::spawn(async move { bot.handle(event).await });
            }
        }
    }

    async fn handle(self, event: Event) {
        let result = match event {
            Event::GuildCreate(guild) => self.guild_available(*guild).await,
            Event::MemberAdd(member) => self.member_added(*member).await,
            Event::MemberUpdate(member) => self.member_updated(*member).await,
            Event::MemberRemove(member) => self.member_removed(member).await,
            Event::InteractionCreate(interaction) => self.interaction(interaction.0).await,
            // Roles or channels changed: look them up afresh next time.
            Event::RoleCreate(e) => self.setup_changed(Some(e.guild_id)).await,
            Event::RoleUpdate(e) => self.setup_changed(Some(e.guild_id)).await,
            Event::RoleDelete(e) => self.setup_changed(Some(e.guild_id)).await,
            Event::ChannelCreate(c) => self.setup_changed(c.guild_id).await,
            Event::ChannelUpdate(c) => self.setup_changed(c.guild_id).await,
            Event::ChannelDelete(c) => self.setup_changed(c.guild_id).await,
            _ => Ok(()),
        };
        if let Err(error) = result {
            tracing::warn!(
                error = format!("{error:#}"),
                "handling a Discord event failed"
            );
        }
    }

    fn forget_guild(
        &self,
        guild_id: Option<twilight_model::id::Id<twilight_model::id::marker::GuildMarker>>,
    ) -> anyhow::Result<()> {
        if let Some(guild_id) = guild_id {
            self.guilds.forget(guild_id);
        }
        Ok(())
    }

    /// A role or channel changed: forget what was cached, and check the setup again.
    async fn setup_changed(
        &self,
        guild_id: Option<twilight_model::id::Id<twilight_model::id::marker::GuildMarker>>,
    ) -> anyhow::Result<()> {
        self.forget_guild(guild_id)?;
        if let Some(guild_id) = guild_id.filter(|g| self.serves(g.get())) {
            self.record_setup(guild_id, None).await;
        }
        Ok(())
    }

    /// Whether doorman looks after this server (all of them, unless DISCORD_GUILD_ID says one).
    fn serves(&self, guild_id: u64) -> bool {
        self.settings.guild_id.is_none_or(|only| only == guild_id)
    }
}

/// Resolves once a shutdown has begun (or whoever could announce one is gone).
async fn stopped(stopping: &mut watch::Receiver<bool>) {
    let _ = stopping.wait_for(|stop| *stop).await;
}

/// Ends a session for good (close code 1000, so Discord drops it rather than waiting for
/// a resume), waiting briefly for the close to go out.
async fn close_session(shard: &mut Shard) {
    shard.close(twilight_gateway::CloseFrame::NORMAL);
    let closed = async {
        while let Some(item) = shard.next_event(EventTypeFlags::empty()).await {
            if matches!(item, Ok(Event::GatewayClose(_))) {
                break;
            }
        }
    };
    let _ = tokio::time::timeout(Duration::from_secs(2), closed).await;
}

/// A Discord id read from text (a button's custom id, a database row): digits only and
/// never zero, which twilight's `Id::new` would panic on.
pub(crate) fn parse_id<T>(raw: &str) -> Option<Id<T>> {
    if raw.is_empty() || !raw.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    raw.parse::<u64>().ok().and_then(Id::new_checked)
}

/// The Discord error code in a failed REST call (e.g. 50007: the user's DMs are closed).
fn discord_error_code(error: &twilight_http::Error) -> Option<u64> {
    match error.kind() {
        twilight_http::error::ErrorType::Response {
            error: twilight_http::api_error::ApiError::General(general),
            ..
        } => Some(general.code),
        _ => None,
    }
}

/// The gateway's close code for a privileged intent the application may not use.
const DISALLOWED_INTENTS: u16 = 4014;
/// Discord's code for "Unknown Member".
const UNKNOWN_MEMBER: u64 = 10007;
/// Discord's code for "Missing Permissions".
const MISSING_PERMISSIONS: u64 = 50013;
/// Discord's code for "Cannot send messages to this user".
const CANNOT_MESSAGE_USER: u64 = 50007;

#[cfg(test)]
mod tests {
    use twilight_model::id::marker::GuildMarker;

    use super::parse_id;

    #[test]
    fn ids_are_digits_and_never_zero() {
        assert_eq!(
            parse_id::<GuildMarker>("1234").map(|id| id.get()),
            Some(1234)
        );
        for bad in [
            "",
            "0",
            "00",
            "-1",
            "+5",
            " 5",
            "5 ",
            "1e3",
            "abc",
            "18446744073709551616",
        ] {
            assert_eq!(parse_id::<GuildMarker>(bad), None, "{bad:?}");
        }
    }
}
