//! A fake Discord for end-to-end tests of the bot: a server on 127.0.0.1 speaking
//! Discord's REST API v10 (under `/api/v10`) and gateway protocol (WebSocket at
//! `/gateway`, resumes at `/resume`), with one guild, and a record of what the bot did.
//! Written from Discord's developer documentation; `checks.rs` drives it with the real
//! twilight clients.
//!
//! # Connecting a bot
//! `fake.bot_settings()` gives `DISCORD_TOKEN`, `DISCORD_API_URL` (`http://127.0.0.1:PORT`),
//! `DISCORD_GATEWAY_URL` (`ws://127.0.0.1:PORT/gateway`) and `DISCORD_GUILD_ID`. With
//! twilight: `Client::builder().proxy("127.0.0.1:PORT", true)` (host and port, no scheme;
//! `fake.proxy_host()`), and `ConfigBuilder::proxy_url(fake.gateway_url())` (twilight
//! appends `/?v=10&encoding=json`). Install a rustls crypto provider first.
//!
//! # The world
//! One guild, created at start: `@everyone` (its id is the guild's), the bot's managed
//! role "doorman" at position 10 with Kick Members, Manage Roles, View Channel, Send
//! Messages and Embed Links, text channels "general" and "verification", an owner, and
//! the bot as a member. Tests add roles, channels and members, then play users: joining,
//! leaving, pressing buttons, submitting modals, running commands.
//!
//! # Faithful to the documentation
//! - Gateway: HELLO (heartbeat_interval 41250 ms, settable), op 1 answered by op 11 and
//!   sent by the server on request, IDENTIFY checked (token with or without `Bot `, 4004;
//!   intents: bits outside the defined ones 4013, privileged ones not enabled 4014; shard
//!   4010; twice 4005; anything before it 4003; bad JSON 4002; unknown op 4001; more than
//!   120 payloads a minute 4008), `v` other than 10 closes 4012. READY (v, user, unavailable
//!   guilds, session_id, resume_gateway_url = `ws://127.0.0.1:PORT/resume`, shard,
//!   application) then GUILD_CREATE with the GUILDS intent. Dispatches carry sequence
//!   numbers and are filtered by intent (member events need GUILD_MEMBERS; MESSAGE_CREATE
//!   needs GUILD_MESSAGES / DIRECT_MESSAGES; INTERACTION_CREATE always). GUILD_CREATE's
//!   `members` holds only the bot unless GUILD_PRESENCES was granted, as Discord does.
//!   RESUME replays what the session missed, then RESUMED; an unknown or ended session
//!   gets op 9 `false`, a sequence never sent closes 4007. A client closing with 1000/1001
//!   ends its session; other closes and dropped connections keep it resumable. Op 7, op 9
//!   and close codes on demand. Op 8 answers GUILD_MEMBERS_CHUNK.
//! - REST: success bodies shaped as the documented objects (all deserialise into
//!   twilight-model types), 204 where Discord answers no content, JSON errors
//!   `{"message", "code"}`: 401 code 0, 404 code 0 for unknown routes, 10003, 10004,
//!   10007, 10008, 10011, 10013, 10015, 10062, 10063, 40060, 50001, 50006, 50007, 50013,
//!   50027, 50033, 50109, and 50035 "Invalid Form Body" with Discord's nested `errors`
//!   (`{"embeds": {"0": {"title": {"_errors": [{"code", "message"}]}}}}`).
//! - Permissions and hierarchy: giving, taking, editing and moving roles need Manage
//!   Roles and a role strictly below the bot's highest; kicking needs Kick Members and a
//!   target below the bot, never the owner. Role changes send GUILD_MEMBER_UPDATE, kicks
//!   GUILD_MEMBER_REMOVE; X-Audit-Log-Reason is percent-decoded and recorded.
//! - DMs: Create DM always works; a message to a user whose DMs are closed, or who shares
//!   no server with the bot any more, is 403 50007.
//! - Rate limits: every answer carries X-RateLimit-Limit/Remaining/Reset/Reset-After/
//!   Bucket; per-route buckets keyed by route and top-level resource (default 50 per s),
//!   a global limit (50/s, interaction routes exempt), and injected 429s. A 429 adds
//!   X-RateLimit-Scope (user/shared/global), Retry-After (whole seconds, rounded up),
//!   X-RateLimit-Global on global ones, and the body `{message, retry_after, global}`.
//!   X-RateLimit-Scope appears only on 429s, as documented — note that twilight 0.18 reads
//!   the bucket headers only when that header is present, so it learns a bucket from its
//!   first 429 and retries it (`set_scope_header_on_every_answer(true)` sends the header
//!   on every answer, and then twilight paces itself).
//! - Interactions: one callback per interaction (then 400 40060), only within 3 s (then
//!   404 10062); types 4, 5, 6, 7, 9 checked against the interaction's kind; message and
//!   modal payloads validated (content ≤ 2000, ≤ 10 embeds and their limits, ≤ 5 action
//!   rows of ≤ 5 buttons or 1 select, custom ids 1..=100 and unique, modal title ≤ 45,
//!   ≤ 5 components: action rows with one text input, labels, text displays; text input
//!   style/lengths). `?with_response=true` answers the callback resource. Original
//!   response GET/PATCH/DELETE, followups (the first after a deferred answer edits it),
//!   tokens valid 15 minutes. Ephemeral messages are visible only through the interaction.
//! - Commands: bulk overwrite and create, validated (names, descriptions, options), ids
//!   kept across overwrites; `run_command` only where Discord's client would offer it.
//!
//! # Simplified
//! - One guild, one shard (a shard count other than 1 closes 4010), no channel overwrites
//!   (permissions are the member's guild permissions), no presences, voice, threads.
//! - No transport compression: a `compress` query parameter is ignored (recorded in
//!   `gateway_connections`) and frames are plain JSON text; `encoding=etf` closes 4002.
//! - Sessions never expire and the server does not enforce heartbeat timeouts; no
//!   invalid-request (Cloudflare) limit; no identify concurrency limit.
//! - `member.permissions` of an admin is every permission bit (ADMINISTRATOR included), as
//!   Discord computes it; a non-admin may still run an admin-only command (as if the
//!   server granted an override), so the bot's own check is what is tested.
//! - Membership screening: `pending` members are otherwise ordinary members.
//! - Messages: attachments, stickers, polls and allowed_mentions are accepted unchecked;
//!   `mentions` is filled from `<@id>` in content.

#![allow(dead_code)]

mod gateway;
mod interactions;
mod oauth;
mod rest;
mod state;
mod validate;

#[cfg(test)]
mod checks;

use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde_json::Value;

#[allow(unused_imports)]
pub use interactions::Interaction;
pub use state::RequestRecord;
use state::{Control, Injection, Member, Role, State, intent};

pub(crate) struct Shared {
    state: Mutex<State>,
    /// True while new gateway connections must wait before HELLO (an outage).
    held: tokio::sync::watch::Sender<bool>,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

struct ServerGuard {
    task: tokio::task::JoinHandle<()>,
    shared: Arc<Shared>,
}

impl Drop for ServerGuard {
    fn drop(&mut self) {
        self.task.abort();
        for c in self.shared.lock().connections.values() {
            let _ = c.tx.send(Control::Drop);
        }
    }
}

/// The fake Discord. Cheap to clone; the server stops when the last clone is dropped.
#[derive(Clone)]
pub struct FakeDiscord {
    shared: Arc<Shared>,
    _guard: Arc<ServerGuard>,
    port: u16,
}

/// A member's events are delivered only to sessions with this intent.
const MEMBERS: Option<u64> = Some(intent::GUILD_MEMBERS);

impl FakeDiscord {
    /// The only bot token this Discord accepts (REST `Authorization: Bot <token>`,
    /// gateway IDENTIFY/RESUME with or without the `Bot ` prefix).
    pub const BOT_TOKEN: &'static str = "ODg4ODg4ODg4ODg4ODg4ODg4.fake.doorman-test-bot-token";

    /// Starts on a random port of 127.0.0.1.
    pub async fn start() -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind the fake Discord");
        let port = listener.local_addr().expect("local addr").port();
        let mut state = State::new();
        state.port = port;
        let shared = Arc::new(Shared {
            state: Mutex::new(state),
            held: tokio::sync::watch::Sender::new(false),
        });
        let ws = axum::routing::get(gateway::upgrade);
        let app = rest::router(shared.clone())
            .route("/oauth2/authorize", axum::routing::get(oauth::authorize))
            .route("/gateway", ws.clone())
            .route("/gateway/", ws.clone())
            .route("/resume", ws.clone())
            .route("/resume/", ws.clone())
            // A configured URL with a trailing slash gives `/gateway//?v=10...`.
            .route("/gateway/{*rest}", ws.clone())
            .route("/resume/{*rest}", ws)
            .with_state(shared.clone());
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        FakeDiscord {
            _guard: Arc::new(ServerGuard {
                task,
                shared: shared.clone(),
            }),
            shared,
            port,
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.shared.lock()
    }

    /// `http://127.0.0.1:PORT` — doorman's `DISCORD_API_URL`.
    pub fn api_url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// `127.0.0.1:PORT` — what twilight-http's `ClientBuilder::proxy` takes.
    pub fn proxy_host(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// `ws://127.0.0.1:PORT/gateway` — doorman's `DISCORD_GATEWAY_URL`.
    pub fn gateway_url(&self) -> String {
        format!("ws://127.0.0.1:{}/gateway", self.port)
    }

    /// `ws://127.0.0.1:PORT/resume` — READY's `resume_gateway_url`.
    pub fn resume_gateway_url(&self) -> String {
        format!("ws://127.0.0.1:{}/resume", self.port)
    }

    pub fn application_id(&self) -> u64 {
        self.lock().application_id
    }

    pub fn bot_user_id(&self) -> u64 {
        self.lock().bot_user_id
    }

    pub fn guild_id(&self) -> u64 {
        self.lock().guild_id
    }

    pub fn owner_id(&self) -> u64 {
        self.lock().owner_id
    }

    /// The bot's managed role ("doorman", position 10).
    pub fn bot_role_id(&self) -> u64 {
        self.lock().bot_role_id
    }

    pub fn channel_id(&self, name: &str) -> Option<u64> {
        self.lock().channel_by_name(name)
    }

    pub fn role_id(&self, name: &str) -> Option<u64> {
        self.lock()
            .roles
            .values()
            .find(|r| r.name == name)
            .map(|r| r.id)
    }

    /// Roles as Discord lists them (`Get Guild Roles` objects).
    pub fn roles(&self) -> Vec<Value> {
        self.lock().roles_json()
    }

    // ------------------------------------------------------------ arranging the world

    /// Adds a role (no permissions beyond none) at `position`; the bot's role is at 10.
    /// Sends GUILD_ROLE_CREATE.
    pub fn add_role(&self, name: &str, position: i64) -> u64 {
        let mut st = self.lock();
        let id = st.snowflake();
        let role = Role {
            id,
            name: name.to_owned(),
            position,
            permissions: 0,
            managed_by_bot: None,
            color: 0,
            hoist: false,
            mentionable: false,
        };
        st.roles.insert(id, role.clone());
        let data =
            serde_json::json!({"guild_id": st.guild_id.to_string(), "role": st.role_json(&role)});
        st.dispatch("GUILD_ROLE_CREATE", data, Some(intent::GUILDS));
        id
    }

    /// Sets a role's permission bits (e.g. take Manage Roles from the bot's role).
    pub fn set_role_permissions(&self, role_id: u64, permissions: u64) {
        let mut st = self.lock();
        if let Some(r) = st.roles.get_mut(&role_id) {
            r.permissions = permissions;
        }
    }

    /// Moves a role (e.g. put "member" above the bot's role).
    pub fn set_role_position(&self, role_id: u64, position: i64) {
        let mut st = self.lock();
        if let Some(r) = st.roles.get_mut(&role_id) {
            r.position = position;
        }
    }

    /// Adds a text channel and sends CHANNEL_CREATE.
    pub fn add_text_channel(&self, name: &str) -> u64 {
        let mut st = self.lock();
        let id = st.add_text_channel(name);
        let c = st.channels[&id].clone();
        let data = st.channel_json(&c);
        st.dispatch("CHANNEL_CREATE", data, Some(intent::GUILDS));
        id
    }

    /// A member who was there before: no event is sent.
    pub fn add_existing_member(
        &self,
        user_id: u64,
        name: &str,
        joined_at: DateTime<Utc>,
        roles: &[u64],
    ) {
        let mut st = self.lock();
        st.ensure_user(user_id, name);
        st.members.insert(
            user_id,
            Member {
                user_id,
                nick: None,
                roles: roles.to_vec(),
                joined_at,
                pending: false,
                communication_disabled_until: None,
            },
        );
    }

    /// Adds a bot user as a member and sends GUILD_MEMBER_ADD (bots must be ignored).
    pub async fn bot_join(&self, user_id: u64, name: &str) {
        {
            let mut st = self.lock();
            st.ensure_user(user_id, name);
            if let Some(u) = st.users.get_mut(&user_id) {
                u.bot = true;
            }
        }
        self.join(user_id, name, false).await;
    }

    /// Whether the privileged Server Members intent is enabled in the "developer portal".
    /// Off: IDENTIFY with GUILD_MEMBERS is closed with 4014, List Guild Members → 403.
    pub fn set_members_intent_enabled(&self, on: bool) {
        self.lock().members_intent_enabled = on;
    }

    /// HELLO's heartbeat interval for connections made from now on (default 41250 ms).
    pub fn set_heartbeat_interval(&self, ms: u64) {
        self.lock().heartbeat_interval_ms = ms;
    }

    /// The global limit: requests per second across all non-interaction routes
    /// (Discord's default for bots: 50).
    pub fn set_global_limit(&self, per_second: u32) {
        self.lock().global_limit = per_second.max(1);
    }

    /// Also send `X-RateLimit-Scope: user` on successful answers. Discord documents that
    /// header on 429s only (the default here); twilight 0.18 reads a bucket's headers only
    /// when it is present, so with this on it paces itself before the first 429.
    pub fn set_scope_header_on_every_answer(&self, on: bool) {
        self.lock().scope_header_always = on;
    }

    /// Each REST bucket allows `limit` requests per `window` (default 50 per second).
    pub fn set_bucket_limit(&self, limit: u32, window: Duration) {
        let mut st = self.lock();
        st.bucket_limit = limit.max(1);
        st.bucket_window = window;
    }

    // ------------------------------------------------------------ events for the bot

    async fn join(&self, user_id: u64, name: &str, pending: bool) {
        let mut st = self.lock();
        if st.members.contains_key(&user_id) {
            panic!("member_join: {user_id} is already a member");
        }
        st.ensure_user(user_id, name);
        st.members.insert(
            user_id,
            Member {
                user_id,
                nick: None,
                roles: vec![],
                joined_at: Utc::now(),
                pending,
                communication_disabled_until: None,
            },
        );
        let mut m = st.member_json(user_id, true).expect("member");
        m["guild_id"] = serde_json::json!(st.guild_id.to_string());
        st.dispatch("GUILD_MEMBER_ADD", m, MEMBERS);
    }

    /// GUILD_MEMBER_ADD with `pending: false`.
    pub async fn member_join(&self, user_id: u64, name: &str) {
        self.join(user_id, name, false).await;
    }

    /// Membership screening on: GUILD_MEMBER_ADD with `pending: true`.
    pub async fn member_join_pending(&self, user_id: u64, name: &str) {
        self.join(user_id, name, true).await;
    }

    /// The member passed the rules screen: GUILD_MEMBER_UPDATE with `pending: false`.
    pub async fn complete_screening(&self, user_id: u64) {
        let mut st = self.lock();
        let Some(m) = st.members.get_mut(&user_id) else {
            panic!("complete_screening: {user_id} is not a member");
        };
        m.pending = false;
        st.member_update_event(user_id);
    }

    /// GUILD_MEMBER_REMOVE (the member left).
    pub async fn member_leave(&self, user_id: u64) {
        let mut st = self.lock();
        if st.members.remove(&user_id).is_none() {
            panic!("member_leave: {user_id} is not a member");
        }
        let data =
            serde_json::json!({"guild_id": st.guild_id.to_string(), "user": st.user_json(user_id)});
        st.dispatch("GUILD_MEMBER_REMOVE", data, MEMBERS);
    }

    /// The user's DMs are closed: Create Message in their DM answers 403 code 50007.
    pub fn close_dms(&self, user_id: u64) {
        self.lock().closed_dms.insert(user_id);
    }

    pub fn open_dms(&self, user_id: u64) {
        self.lock().closed_dms.remove(&user_id);
    }

    /// The user is also in another server with the bot: Discord still delivers the bot's
    /// DMs to them after they leave (or are removed from) this one.
    pub fn share_another_server(&self, user_id: u64) {
        self.lock().in_another_server.insert(user_id);
    }

    /// The next `times` requests to `route` (e.g. `PUT
    /// /guilds/{guild_id}/members/{user_id}/roles/{role_id}`, method given separately)
    /// get a 429 with scope "user", `Retry-After` and a JSON body.
    pub fn rate_limit(&self, method: &str, route: &str, times: u32, retry_after_secs: f64) {
        self.inject(method, route, times, retry_after_secs, "user");
    }

    /// Like `rate_limit` with scope "shared" (a per-resource limit, as Discord sends).
    pub fn rate_limit_shared(&self, method: &str, route: &str, times: u32, retry_after_secs: f64) {
        self.inject(method, route, times, retry_after_secs, "shared");
    }

    /// Like `rate_limit` with the global limit (`X-RateLimit-Global: true`).
    pub fn rate_limit_global(&self, method: &str, route: &str, times: u32, retry_after_secs: f64) {
        self.inject(method, route, times, retry_after_secs, "global");
    }

    fn inject(&self, method: &str, route: &str, times: u32, retry_after: f64, scope: &'static str) {
        let route = route.trim_start_matches("/api/v10").to_owned();
        let known = [
            "/guilds/{guild_id}/members/{user_id}/roles/{role_id}",
            "/guilds/{guild_id}/members/{user_id}",
            "/channels/{channel_id}/messages",
            "/users/@me/channels",
            "/interactions/{interaction_id}/{interaction_token}/callback",
        ];
        if !route.contains('{') && !known.contains(&route.as_str()) && !route.contains('@') {
            panic!("rate_limit: give the route template, e.g. {}", known[0]);
        }
        self.lock().injections.push(Injection {
            method: method.to_uppercase(),
            route,
            times,
            retry_after,
            scope,
        });
    }

    /// Cuts every gateway connection without a close frame. Sessions stay resumable;
    /// events produced meanwhile are queued and replayed on RESUME.
    pub async fn drop_gateway(&self) {
        let ids: Vec<u64> = {
            let st = self.lock();
            for c in st.connections.values() {
                let _ = c.tx.send(Control::Drop);
            }
            st.connections.keys().copied().collect()
        };
        for _ in 0..200 {
            if !self.lock().connections.keys().any(|id| ids.contains(id)) {
                return;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    /// Starts a gateway outage: new connections are accepted but get no HELLO until
    /// `release_gateway`. With `drop_gateway`, this guarantees events produced meanwhile
    /// are queued and replayed on RESUME rather than raced by a quick reconnect.
    pub fn hold_gateway(&self) {
        self.shared.held.send_replace(true);
    }

    /// Ends the outage started by `hold_gateway`.
    pub fn release_gateway(&self) {
        self.shared.held.send_replace(false);
    }

    /// Sends op 1 (heartbeat request) on every connection; the bot must heartbeat at once.
    pub async fn request_heartbeat(&self) {
        for c in self.lock().connections.values() {
            let _ = c.tx.send(Control::RequestHeartbeat);
        }
    }

    /// The window for the first interaction callback (Discord: 3 s). Only widen it for a
    /// machine too loaded to be fair to the bot; the default is Discord's.
    pub fn set_interaction_deadline(&self, deadline: Duration) {
        self.lock().interaction_deadline = deadline;
    }

    /// Sends op 7 Reconnect on every connection.
    pub async fn request_reconnect(&self) {
        for c in self.lock().connections.values() {
            let _ = c.tx.send(Control::Reconnect);
        }
    }

    /// Sends op 9 Invalid Session (`d` = resumable) on every connection.
    pub async fn invalidate_session(&self, resumable: bool) {
        for c in self.lock().connections.values() {
            let _ = c.tx.send(Control::InvalidSession(resumable));
        }
    }

    /// Closes every gateway connection with this close code.
    pub async fn close_gateway(&self, code: u16, reason: &str) {
        for c in self.lock().connections.values() {
            let _ = c.tx.send(Control::Close(code, reason.to_owned()));
        }
    }

    // ------------------------------------------------------------ what the bot did

    /// Messages (objects as Discord returns them) in the DM channel with this user.
    pub fn dms_to(&self, user_id: u64) -> Vec<Value> {
        let st = self.lock();
        let ids: Vec<String> = st
            .channels
            .values()
            .filter(|c| c.kind == 1 && c.recipient == Some(user_id))
            .map(|c| c.id.to_string())
            .collect();
        st.messages
            .values()
            .filter(|m| {
                m["channel_id"]
                    .as_str()
                    .is_some_and(|c| ids.iter().any(|i| i == c))
            })
            .cloned()
            .collect()
    }

    /// Non-ephemeral messages in a channel, oldest first.
    pub fn channel_messages(&self, channel_id: u64) -> Vec<Value> {
        let st = self.lock();
        let id = channel_id.to_string();
        st.messages
            .values()
            .filter(|m| m["channel_id"].as_str() == Some(id.as_str()))
            .cloned()
            .collect()
    }

    /// One message by id (DM, channel, or an ephemeral interaction message).
    pub fn message(&self, message_id: u64) -> Option<Value> {
        self.lock().find_message(message_id).map(|(m, _)| m)
    }

    /// Everything the bot answered to this user's interactions, oldest first: each
    /// accepted callback body (`{type, data}`), then the original response as last
    /// edited and the followups (message objects). Ephemeral answers included.
    pub fn replies_to(&self, user_id: u64) -> Vec<Value> {
        let st = self.lock();
        let mut out = Vec::new();
        for r in st.interactions.values().filter(|r| r.user_id == user_id) {
            if let Some(resp) = &r.response {
                out.push(resp.clone());
            }
            if let Some(o) = &r.original {
                out.push(o.clone());
            }
            out.extend(r.followups.iter().cloned());
        }
        out
    }

    /// All text of `replies_to(user)` (contents, embed titles, descriptions, fields),
    /// one piece a line: for asserting on wording.
    pub fn reply_text(&self, user_id: u64) -> String {
        let mut out = String::new();
        for v in self.replies_to(user_id) {
            let m = if v.get("type").is_some() && v.get("data").is_some() {
                &v["data"]
            } else {
                &v
            };
            interactions::push_text(m, &mut out);
        }
        out
    }

    /// The custom ids of the buttons of a message.
    pub fn buttons(&self, message_id: u64) -> Vec<String> {
        self.lock()
            .find_message(message_id)
            .map(|(m, _)| {
                let mut out = Vec::new();
                interactions::collect_buttons(&m["components"], &mut out);
                out.into_iter()
                    .map(|b| b["custom_id"].as_str().unwrap_or_default().to_owned())
                    .collect()
            })
            .unwrap_or_default()
    }

    /// A member's role ids, or None if not a member.
    pub fn member_roles(&self, user_id: u64) -> Option<Vec<u64>> {
        self.lock().members.get(&user_id).map(|m| m.roles.clone())
    }

    pub fn is_member(&self, user_id: u64) -> bool {
        self.lock().members.contains_key(&user_id)
    }

    /// `(user, audit-log reason)` for every kick.
    pub fn kicks(&self) -> Vec<(u64, Option<String>)> {
        self.lock().kicks.clone()
    }

    /// Registered application commands, guild ones first, then global ones.
    pub fn registered_commands(&self) -> Vec<Value> {
        let st = self.lock();
        st.guild_commands
            .iter()
            .chain(st.global_commands.iter())
            .cloned()
            .collect()
    }

    pub fn identifies(&self) -> usize {
        self.lock().identifies
    }

    pub fn resumes(&self) -> usize {
        self.lock().resumes
    }

    pub fn heartbeats(&self) -> usize {
        self.lock().heartbeats
    }

    /// Live gateway connections that are identified or resumed.
    pub fn connected_sessions(&self) -> usize {
        self.lock()
            .connections
            .values()
            .filter(|c| c.session_id.is_some())
            .count()
    }

    /// `(path, query, outcome, close code)` of every gateway connection, in order:
    /// path is `/gateway` or `/resume`, outcome `identify`, `resume` or empty.
    pub fn gateway_connections(&self) -> Vec<(String, String, String, Option<u16>)> {
        self.lock()
            .connection_log
            .iter()
            .map(|c| {
                (
                    c.path.clone(),
                    c.query.clone(),
                    c.outcome.clone(),
                    c.close_code,
                )
            })
            .collect()
    }

    /// Every dispatch the fake produced (to all sessions with the intent), in order:
    /// `(event name, d)`.
    pub fn dispatches(&self) -> Vec<(String, Value)> {
        self.lock().dispatch_log.clone()
    }

    /// Every payload the bot sent on the gateway.
    pub fn gateway_payloads(&self) -> Vec<Value> {
        self.lock().gateway_payloads.clone()
    }

    /// `(method, path without /api/v10, status)` of every REST request.
    pub fn requests(&self) -> Vec<(String, String, u16)> {
        self.lock()
            .requests
            .iter()
            .map(|r| (r.method.clone(), r.path.clone(), r.status))
            .collect()
    }

    /// Every REST request with its route template, JSON body and audit-log reason.
    pub fn request_log(&self) -> Vec<RequestRecord> {
        self.lock().requests.clone()
    }

    /// `(route, audit-log reason)` of every request that carried X-Audit-Log-Reason.
    pub fn audit_log(&self) -> Vec<(String, String)> {
        self.lock()
            .requests
            .iter()
            .filter_map(|r| Some((r.route.clone(), r.audit_log_reason.clone()?)))
            .collect()
    }

    /// The settings a bot needs to reach this fake: `DISCORD_TOKEN`, `DISCORD_API_URL`,
    /// `DISCORD_GATEWAY_URL`, `DISCORD_GUILD_ID`.
    pub fn bot_settings(&self) -> Vec<(&'static str, String)> {
        vec![
            ("DISCORD_TOKEN", Self::BOT_TOKEN.to_owned()),
            ("DISCORD_API_URL", self.api_url()),
            ("DISCORD_GATEWAY_URL", self.gateway_url()),
            ("DISCORD_GUILD_ID", self.guild_id().to_string()),
        ]
    }

    /// Polls `check` every 20 ms until it returns Some; panics naming `what` on timeout.
    pub async fn wait_until<T>(
        &self,
        what: &str,
        timeout: Duration,
        check: impl Fn(&Self) -> Option<T>,
    ) -> T {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            if let Some(v) = check(self) {
                return v;
            }
            if tokio::time::Instant::now() >= deadline {
                let recent: Vec<_> = self.requests().into_iter().rev().take(15).collect();
                panic!(
                    "timed out after {timeout:?} waiting for: {what}\nlast REST requests (newest first): {recent:#?}"
                );
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Waits until the bot holds an identified (or resumed) gateway connection.
    pub async fn wait_for_bot(&self, timeout: Duration) {
        self.wait_until("the bot to connect to the gateway", timeout, |f| {
            (f.connected_sessions() > 0).then_some(())
        })
        .await;
    }
}
