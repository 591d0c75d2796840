//! The fake Discord's world: one guild, its roles, channels and members, the messages
//! the bot sent, the interactions the tests created, the gateway sessions, and a log of
//! every REST request.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use serde_json::{Value, json};
use tokio::sync::mpsc::UnboundedSender;

/// Milliseconds from the Unix epoch to Discord's epoch (2015-01-01T00:00:00Z).
pub const DISCORD_EPOCH_MS: u64 = 1_420_070_400_000;

/// Permission bits (https://discord.com/developers/docs/topics/permissions).
pub mod perm {
    pub const CREATE_INSTANT_INVITE: u64 = 1 << 0;
    pub const KICK_MEMBERS: u64 = 1 << 1;
    pub const ADMINISTRATOR: u64 = 1 << 3;
    pub const ADD_REACTIONS: u64 = 1 << 6;
    pub const VIEW_CHANNEL: u64 = 1 << 10;
    pub const SEND_MESSAGES: u64 = 1 << 11;
    pub const EMBED_LINKS: u64 = 1 << 14;
    pub const ATTACH_FILES: u64 = 1 << 15;
    pub const READ_MESSAGE_HISTORY: u64 = 1 << 16;
    pub const CHANGE_NICKNAME: u64 = 1 << 26;
    pub const MANAGE_ROLES: u64 = 1 << 28;
    pub const USE_APPLICATION_COMMANDS: u64 = 1 << 31;
    /// Every permission bit Discord defines today (up to bit 50).
    pub const ALL: u64 = (1 << 51) - 1;
    pub const EVERYONE_DEFAULT: u64 = CREATE_INSTANT_INVITE
        | ADD_REACTIONS
        | VIEW_CHANNEL
        | SEND_MESSAGES
        | EMBED_LINKS
        | ATTACH_FILES
        | READ_MESSAGE_HISTORY
        | CHANGE_NICKNAME
        | USE_APPLICATION_COMMANDS;
    pub const BOT_DEFAULT: u64 =
        KICK_MEMBERS | MANAGE_ROLES | VIEW_CHANNEL | SEND_MESSAGES | EMBED_LINKS;
}

/// Gateway intents (https://discord.com/developers/docs/events/gateway#gateway-intents).
pub mod intent {
    pub const GUILDS: u64 = 1 << 0;
    pub const GUILD_MEMBERS: u64 = 1 << 1;
    pub const GUILD_PRESENCES: u64 = 1 << 8;
    pub const GUILD_MESSAGES: u64 = 1 << 9;
    pub const DIRECT_MESSAGES: u64 = 1 << 12;
    pub const MESSAGE_CONTENT: u64 = 1 << 15;
    /// Every bit Discord defines (0..=25 with gaps is tolerated: it rejects bits above).
    pub const VALID: u64 = (1 << 26) - 1;
}

#[derive(Debug, Clone)]
pub struct User {
    pub id: u64,
    pub username: String,
    pub bot: bool,
}

#[derive(Debug, Clone)]
pub struct Role {
    pub id: u64,
    pub name: String,
    pub position: i64,
    pub permissions: u64,
    pub managed_by_bot: Option<u64>,
    pub color: u64,
    pub hoist: bool,
    pub mentionable: bool,
}

#[derive(Debug, Clone)]
pub struct Channel {
    pub id: u64,
    /// 0 = GUILD_TEXT, 1 = DM.
    pub kind: u8,
    pub name: Option<String>,
    pub position: i64,
    /// For a DM: the other user.
    pub recipient: Option<u64>,
    pub last_message_id: Option<u64>,
}

#[derive(Debug, Clone)]
pub struct Member {
    pub user_id: u64,
    pub nick: Option<String>,
    pub roles: Vec<u64>,
    pub joined_at: DateTime<Utc>,
    pub pending: bool,
    pub communication_disabled_until: Option<String>,
}

/// One REST request as the fake answered it.
#[derive(Debug, Clone)]
pub struct RequestRecord {
    pub method: String,
    pub path: String,
    /// The route template, e.g. `PUT /guilds/{guild_id}/members/{user_id}/roles/{role_id}`.
    pub route: String,
    pub status: u16,
    pub body: Option<Value>,
    pub audit_log_reason: Option<String>,
    pub at: Instant,
}

#[derive(Debug, Clone)]
pub struct Injection {
    pub method: String,
    pub route: String,
    pub times: u32,
    pub retry_after: f64,
    /// "user", "shared" or "global".
    pub scope: &'static str,
}

#[derive(Debug, Clone)]
pub struct Bucket {
    pub window_start: Instant,
    pub used: u32,
}

#[derive(Debug, Clone)]
pub struct InteractionRecord {
    pub id: u64,
    pub token: String,
    /// 2 command, 3 component, 5 modal submit.
    pub kind: u8,
    pub user_id: u64,
    pub channel_id: u64,
    pub created: Instant,
    /// The payload as sent in INTERACTION_CREATE.
    pub payload: Value,
    /// The first accepted callback body (`{type, data}`).
    pub response: Option<Value>,
    /// Every callback attempt with the status the fake answered.
    pub callback_attempts: Vec<(Value, u16)>,
    /// The original response message (after a type 4/5 callback, or edits).
    pub original: Option<Value>,
    pub followups: Vec<Value>,
}

/// A control order for one live gateway connection.
#[derive(Debug, Clone)]
pub enum Control {
    /// New events are queued on the session: send them.
    Flush,
    /// Cut the TCP connection without a close frame.
    Drop,
    /// Send op 7 Reconnect.
    Reconnect,
    /// Send op 1: the gateway asks for an immediate heartbeat.
    RequestHeartbeat,
    /// Send op 9 Invalid Session with this `d`.
    InvalidSession(bool),
    /// Send a close frame with this code and end the connection.
    Close(u16, String),
}

#[derive(Debug)]
pub struct Session {
    pub id: String,
    pub intents: u64,
    pub seq: u64,
    /// Every dispatch of this session, in order: `(seq, payload)`.
    pub events: Vec<(u64, Value)>,
    /// False once Discord would no longer let it resume.
    pub resumable: bool,
}

#[derive(Debug)]
pub struct ConnectionHandle {
    pub tx: UnboundedSender<Control>,
    pub session_id: Option<String>,
}

/// A record of one gateway connection (for assertions).
#[derive(Debug, Clone)]
pub struct ConnectionRecord {
    pub id: u64,
    /// `/gateway` or `/resume`.
    pub path: String,
    pub query: String,
    /// "identify", "resume", or "" while neither arrived.
    pub outcome: String,
    pub close_code: Option<u16>,
}

pub struct State {
    pub oauth: super::oauth::OauthState,
    pub last_id: u64,
    pub application_id: u64,
    pub bot_user_id: u64,
    pub owner_id: u64,
    pub guild_id: u64,
    pub bot_role_id: u64,
    pub users: BTreeMap<u64, User>,
    pub roles: BTreeMap<u64, Role>,
    pub channels: BTreeMap<u64, Channel>,
    pub members: BTreeMap<u64, Member>,
    pub messages: BTreeMap<u64, Value>,
    pub closed_dms: HashSet<u64>,
    /// Users who share another server with the bot, so DMs still reach them after they
    /// leave this one.
    pub in_another_server: HashSet<u64>,
    pub kicks: Vec<(u64, Option<String>)>,
    pub global_commands: Vec<Value>,
    pub guild_commands: Vec<Value>,
    pub interactions: BTreeMap<u64, InteractionRecord>,
    pub requests: Vec<RequestRecord>,
    pub injections: Vec<Injection>,
    pub buckets: HashMap<String, Bucket>,
    pub bucket_limit: u32,
    pub bucket_window: Duration,
    /// Requests per second across all non-interaction routes (Discord: 50).
    pub global_limit: u32,
    /// Send `X-RateLimit-Scope: user` on every answer, not only on 429s.
    pub scope_header_always: bool,
    /// Every dispatch the fake produced: `(event name, data)`.
    pub dispatch_log: Vec<(String, Value)>,
    pub global_window: (Instant, u32),
    pub members_intent_enabled: bool,
    pub presences_intent_enabled: bool,
    pub message_content_intent_enabled: bool,
    pub heartbeat_interval_ms: u64,
    /// How long after INTERACTION_CREATE the first callback is accepted (Discord: 3 s).
    pub interaction_deadline: Duration,
    pub sessions: HashMap<String, Session>,
    pub connections: HashMap<u64, ConnectionHandle>,
    pub connection_log: Vec<ConnectionRecord>,
    pub next_connection: u64,
    pub identifies: usize,
    pub resumes: usize,
    pub heartbeats: usize,
    pub gateway_payloads: Vec<Value>,
    pub port: u16,
}

pub fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock after 1970")
        .as_millis() as u64
}

/// Discord's ISO 8601 timestamp format, e.g. `2026-11-24T23:11:54.123000+00:00`.
pub fn timestamp(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%dT%H:%M:%S%.6f+00:00").to_string()
}

impl State {
    pub fn new() -> Self {
        let mut s = State {
            oauth: Default::default(),
            last_id: 0,
            application_id: 0,
            bot_user_id: 0,
            owner_id: 0,
            guild_id: 0,
            bot_role_id: 0,
            users: BTreeMap::new(),
            roles: BTreeMap::new(),
            channels: BTreeMap::new(),
            members: BTreeMap::new(),
            messages: BTreeMap::new(),
            closed_dms: HashSet::new(),
            in_another_server: HashSet::new(),
            kicks: Vec::new(),
            global_commands: Vec::new(),
            guild_commands: Vec::new(),
            interactions: BTreeMap::new(),
            requests: Vec::new(),
            injections: Vec::new(),
            buckets: HashMap::new(),
            bucket_limit: 50,
            bucket_window: Duration::from_secs(1),
            global_limit: 50,
            scope_header_always: false,
            dispatch_log: Vec::new(),
            global_window: (Instant::now(), 0),
            members_intent_enabled: true,
            presences_intent_enabled: false,
            message_content_intent_enabled: false,
            heartbeat_interval_ms: 41_250,
            interaction_deadline: Duration::from_secs(3),
            sessions: HashMap::new(),
            connections: HashMap::new(),
            connection_log: Vec::new(),
            next_connection: 1,
            identifies: 0,
            resumes: 0,
            heartbeats: 0,
            gateway_payloads: Vec::new(),
            port: 0,
        };
        // The application and its bot user share an id, as on Discord.
        let app = s.snowflake();
        s.application_id = app;
        s.bot_user_id = app;
        s.users.insert(
            app,
            User {
                id: app,
                username: "doorman".into(),
                bot: true,
            },
        );
        let owner = s.snowflake();
        s.owner_id = owner;
        s.users.insert(
            owner,
            User {
                id: owner,
                username: "server-owner".into(),
                bot: false,
            },
        );
        let guild = s.snowflake();
        s.guild_id = guild;
        // @everyone has the guild's id.
        s.roles.insert(
            guild,
            Role {
                id: guild,
                name: "@everyone".into(),
                position: 0,
                permissions: perm::EVERYONE_DEFAULT,
                managed_by_bot: None,
                color: 0,
                hoist: false,
                mentionable: false,
            },
        );
        let bot_role = s.snowflake();
        s.bot_role_id = bot_role;
        s.roles.insert(
            bot_role,
            Role {
                id: bot_role,
                name: "doorman".into(),
                position: 10,
                permissions: perm::BOT_DEFAULT,
                managed_by_bot: Some(app),
                color: 0,
                hoist: false,
                mentionable: false,
            },
        );
        let joined = Utc::now() - chrono::Duration::days(30);
        s.members.insert(
            owner,
            Member {
                user_id: owner,
                nick: None,
                roles: vec![],
                joined_at: joined - chrono::Duration::days(300),
                pending: false,
                communication_disabled_until: None,
            },
        );
        s.members.insert(
            app,
            Member {
                user_id: app,
                nick: None,
                roles: vec![bot_role],
                joined_at: joined,
                pending: false,
                communication_disabled_until: None,
            },
        );
        s.add_text_channel("general");
        s.add_text_channel("verification");
        s
    }

    /// A fresh snowflake: the current time since Discord's epoch in the top bits.
    pub fn snowflake(&mut self) -> u64 {
        let base = (now_ms() - DISCORD_EPOCH_MS) << 22;
        self.last_id = base.max(self.last_id + 1);
        self.last_id
    }

    pub fn add_text_channel(&mut self, name: &str) -> u64 {
        let id = self.snowflake();
        let position = self.channels.values().filter(|c| c.kind == 0).count() as i64;
        self.channels.insert(
            id,
            Channel {
                id,
                kind: 0,
                name: Some(name.into()),
                position,
                recipient: None,
                last_message_id: None,
            },
        );
        id
    }

    pub fn ensure_user(&mut self, user_id: u64, name: &str) {
        self.users
            .entry(user_id)
            .and_modify(|u| u.username = name.to_owned())
            .or_insert_with(|| User {
                id: user_id,
                username: name.to_owned(),
                bot: false,
            });
    }

    pub fn base_url(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// The highest position among a member's roles (@everyone = 0).
    pub fn top_position(&self, user_id: u64) -> i64 {
        self.members
            .get(&user_id)
            .map(|m| {
                m.roles
                    .iter()
                    .filter_map(|r| self.roles.get(r))
                    .map(|r| r.position)
                    .max()
                    .unwrap_or(0)
            })
            .unwrap_or(0)
    }

    /// Guild-level permissions of a member (no channel overwrites in this fake).
    pub fn permissions(&self, user_id: u64) -> u64 {
        if user_id == self.owner_id {
            return perm::ALL;
        }
        let Some(m) = self.members.get(&user_id) else {
            return 0;
        };
        let mut p = self.roles.get(&self.guild_id).map_or(0, |r| r.permissions);
        for r in &m.roles {
            if let Some(role) = self.roles.get(r) {
                p |= role.permissions;
            }
        }
        if p & perm::ADMINISTRATOR != 0 {
            perm::ALL
        } else {
            p
        }
    }

    // ---------- payloads ----------

    pub fn user_json(&self, user_id: u64) -> Value {
        let u = self.users.get(&user_id);
        let name = u.map_or_else(|| format!("user{user_id}"), |u| u.username.clone());
        let bot = u.is_some_and(|u| u.bot);
        let mut v = json!({
            "id": user_id.to_string(),
            "username": name,
            "discriminator": "0",
            "global_name": if bot { Value::Null } else { Value::String(name.clone()) },
            "avatar": null,
            "public_flags": 0,
            "avatar_decoration_data": null,
            "primary_guild": null,
            "collectibles": null,
        });
        if bot {
            v["bot"] = json!(true);
        }
        v
    }

    pub fn member_json(&self, user_id: u64, with_user: bool) -> Option<Value> {
        let m = self.members.get(&user_id)?;
        let mut v = json!({
            "nick": m.nick,
            "avatar": null,
            "banner": null,
            "roles": m.roles.iter().map(|r| r.to_string()).collect::<Vec<_>>(),
            "joined_at": timestamp(m.joined_at),
            "premium_since": null,
            "deaf": false,
            "mute": false,
            "flags": 0,
            "pending": m.pending,
            "communication_disabled_until": m.communication_disabled_until,
        });
        if with_user {
            v["user"] = self.user_json(user_id);
        }
        Some(v)
    }

    pub fn role_json(&self, role: &Role) -> Value {
        let mut v = json!({
            "id": role.id.to_string(),
            "name": role.name,
            "color": role.color,
            "colors": {"primary_color": role.color, "secondary_color": null, "tertiary_color": null},
            "hoist": role.hoist,
            "icon": null,
            "unicode_emoji": null,
            "position": role.position,
            "permissions": role.permissions.to_string(),
            "managed": role.managed_by_bot.is_some(),
            "mentionable": role.mentionable,
            "flags": 0,
        });
        if let Some(bot) = role.managed_by_bot {
            v["tags"] = json!({"bot_id": bot.to_string()});
        }
        v
    }

    pub fn roles_json(&self) -> Vec<Value> {
        let mut roles: Vec<&Role> = self.roles.values().collect();
        roles.sort_by_key(|r| (r.position, r.id));
        roles.into_iter().map(|r| self.role_json(r)).collect()
    }

    pub fn channel_json(&self, c: &Channel) -> Value {
        if c.kind == 1 {
            let recipient = c.recipient.unwrap_or_default();
            return json!({
                "id": c.id.to_string(),
                "type": 1,
                "last_message_id": c.last_message_id.map(|m| m.to_string()),
                "flags": 0,
                "recipients": [self.user_json(recipient)],
            });
        }
        json!({
            "id": c.id.to_string(),
            "type": c.kind,
            "guild_id": self.guild_id.to_string(),
            "name": c.name,
            "position": c.position,
            "permission_overwrites": [],
            "topic": null,
            "nsfw": false,
            "last_message_id": c.last_message_id.map(|m| m.to_string()),
            "rate_limit_per_user": 0,
            "parent_id": null,
            "flags": 0,
        })
    }

    pub fn guild_channels_json(&self) -> Vec<Value> {
        self.channels
            .values()
            .filter(|c| c.kind != 1)
            .map(|c| self.channel_json(c))
            .collect()
    }

    pub fn channel_by_name(&self, name: &str) -> Option<u64> {
        self.channels
            .values()
            .find(|c| c.kind == 0 && c.name.as_deref() == Some(name))
            .map(|c| c.id)
    }

    /// The guild object (REST shape, without the gateway-only fields).
    pub fn guild_json(&self) -> Value {
        json!({
            "id": self.guild_id.to_string(),
            "name": "Doorman Test Server",
            "icon": null,
            "icon_hash": null,
            "splash": null,
            "discovery_splash": null,
            "owner_id": self.owner_id.to_string(),
            "region": null,
            "afk_channel_id": null,
            "afk_timeout": 300,
            "widget_enabled": false,
            "widget_channel_id": null,
            "verification_level": 1,
            "default_message_notifications": 1,
            "explicit_content_filter": 2,
            "roles": self.roles_json(),
            "emojis": [],
            "features": ["MEMBER_VERIFICATION_GATE_ENABLED"],
            "mfa_level": 0,
            "application_id": null,
            "system_channel_id": self.channel_by_name("general").map(|c| c.to_string()),
            "system_channel_flags": 0,
            "rules_channel_id": null,
            "max_presences": null,
            "max_members": 500000,
            "vanity_url_code": null,
            "description": null,
            "banner": null,
            "premium_tier": 0,
            "premium_subscription_count": 0,
            "preferred_locale": "en-US",
            "public_updates_channel_id": null,
            "max_video_channel_users": 25,
            "max_stage_video_channel_users": 50,
            "nsfw_level": 0,
            "stickers": [],
            "premium_progress_bar_enabled": false,
            "safety_alerts_channel_id": null,
            "incidents_data": null,
        })
    }

    /// GUILD_CREATE's `d`: the guild plus the gateway-only fields. Without the
    /// GUILD_PRESENCES intent Discord lists only the bot (and users in voice) in `members`.
    pub fn guild_create_json(&self, intents: u64) -> Value {
        let mut g = self.guild_json();
        let members: Vec<Value> = self
            .members
            .keys()
            .filter(|id| intents & intent::GUILD_PRESENCES != 0 || **id == self.bot_user_id)
            .filter_map(|id| self.member_json(*id, true))
            .collect();
        let bot_joined = self
            .members
            .get(&self.bot_user_id)
            .map(|m| timestamp(m.joined_at));
        let extra = json!({
            "joined_at": bot_joined,
            "large": false,
            "unavailable": false,
            "member_count": self.members.len(),
            "voice_states": [],
            "members": members,
            "channels": self.guild_channels_json(),
            "threads": [],
            "presences": [],
            "stage_instances": [],
            "guild_scheduled_events": [],
            "soundboard_sounds": [],
            "lazy": true,
        });
        for (k, v) in extra.as_object().expect("object") {
            g[k] = v.clone();
        }
        g
    }

    pub fn current_user_json(&self) -> Value {
        let mut u = self.user_json(self.bot_user_id);
        u["verified"] = json!(true);
        u["mfa_enabled"] = json!(false);
        u["flags"] = json!(0);
        u["locale"] = json!("en-US");
        u["email"] = Value::Null;
        u["premium_type"] = json!(0);
        u["banner"] = Value::Null;
        u["accent_color"] = Value::Null;
        u
    }

    pub fn application_json(&self) -> Value {
        json!({
            "id": self.application_id.to_string(),
            "name": "doorman",
            "icon": null,
            "description": "Verifies new members.",
            "summary": "",
            "type": null,
            "bot_public": false,
            "bot_require_code_grant": false,
            "verify_key": "0".repeat(64),
            "team": null,
            "owner": self.user_json(self.owner_id),
            "flags": if self.members_intent_enabled { 1 << 15 } else { 0 },
            "approximate_guild_count": 1,
            "redirect_uris": [],
            "interactions_endpoint_url": null,
            "tags": [],
            "bot": self.user_json(self.bot_user_id),
        })
    }

    /// A message by id: a stored one, or an ephemeral interaction message, with the
    /// user who alone can see it in that case.
    pub fn find_message(&self, message_id: u64) -> Option<(Value, Option<u64>)> {
        if let Some(m) = self.messages.get(&message_id) {
            return Some((m.clone(), None));
        }
        let id = message_id.to_string();
        self.interactions.values().find_map(|r| {
            r.original
                .iter()
                .chain(r.followups.iter())
                .find(|m| m["id"].as_str() == Some(id.as_str()))
                .map(|m| (m.clone(), Some(r.user_id)))
        })
    }

    // ---------- gateway dispatch ----------

    /// Queues a dispatch on every live session whose intents include `needed` (None =
    /// sent regardless of intents) and tells their connections to send it.
    pub fn dispatch(&mut self, event: &str, data: Value, needed: Option<u64>) {
        self.dispatch_log.push((event.to_owned(), data.clone()));
        for session in self.sessions.values_mut() {
            if !session.resumable {
                continue;
            }
            if let Some(bits) = needed
                && session.intents & bits == 0
            {
                continue;
            }
            session.seq += 1;
            let payload = json!({"op": 0, "s": session.seq, "t": event, "d": data});
            session.events.push((session.seq, payload));
        }
        self.flush_connections();
    }

    pub fn flush_connections(&self) {
        for c in self.connections.values() {
            if c.session_id.is_some() {
                let _ = c.tx.send(Control::Flush);
            }
        }
    }

    pub fn member_update_event(&mut self, user_id: u64) {
        if let Some(mut m) = self.member_json(user_id, true) {
            m["guild_id"] = json!(self.guild_id.to_string());
            self.dispatch("GUILD_MEMBER_UPDATE", m, Some(intent::GUILD_MEMBERS));
        }
    }
}
