//! What users do in Discord's client that reaches the bot as INTERACTION_CREATE:
//! pressing a button (type 3), submitting a modal (type 5), running a slash command
//! (type 2). Each returns an [`Interaction`] to await the bot's answer.

use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use super::state::{InteractionRecord, State, perm};
use super::{FakeDiscord, Shared};

/// An interaction the fake created; the bot answers it through REST.
#[derive(Clone)]
pub struct Interaction {
    pub id: u64,
    pub token: String,
    shared: Arc<Shared>,
}

impl std::fmt::Debug for Interaction {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Interaction").field("id", &self.id).finish()
    }
}

impl Interaction {
    /// The payload sent in INTERACTION_CREATE.
    pub fn payload(&self) -> Value {
        self.shared.lock().interactions[&self.id].payload.clone()
    }

    /// Waits for the accepted callback body (`{"type": .., "data": ..}`); panics 2 s after
    /// the callback window (Discord's 3 s) closed, listing rejected attempts.
    pub async fn response(&self) -> Value {
        let window = self.shared.lock().interaction_deadline;
        let deadline = Instant::now() + window + Duration::from_secs(2);
        loop {
            let (resp, attempts) = {
                let st = self.shared.lock();
                let r = &st.interactions[&self.id];
                (r.response.clone(), r.callback_attempts.clone())
            };
            if let Some(r) = resp {
                return r;
            }
            if Instant::now() > deadline {
                panic!(
                    "the bot did not answer interaction {} in time; rejected attempts: {attempts:#?}",
                    self.id
                );
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Every callback attempt with the status the fake answered (e.g. 400 for a second
    /// acknowledgement).
    pub fn callback_attempts(&self) -> Vec<(Value, u16)> {
        self.shared.lock().interactions[&self.id]
            .callback_attempts
            .clone()
    }

    /// The original response message, after edits (None before a type 4/5/6/7 answer).
    pub fn original(&self) -> Option<Value> {
        self.shared.lock().interactions[&self.id].original.clone()
    }

    /// Waits up to 5 s for the original response to satisfy `check` (e.g. a deferred
    /// answer being edited) and returns it.
    pub async fn original_when(&self, check: impl Fn(&Value) -> bool) -> Value {
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            if let Some(o) = self.original()
                && check(&o)
            {
                return o;
            }
            if Instant::now() > deadline {
                panic!(
                    "original response of interaction {} never matched; now {:?}",
                    self.id,
                    self.original()
                );
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Followup messages created so far.
    pub async fn followups(&self) -> Vec<Value> {
        self.shared.lock().interactions[&self.id].followups.clone()
    }

    /// The text a user sees: the response's/original's content and embed texts, and
    /// followups' — handy for asserting on wording.
    pub async fn visible_text(&self) -> String {
        let resp = self.response().await;
        let mut out = String::new();
        let mut add = |m: &Value| push_text(m, &mut out);
        add(&resp["data"]);
        if let Some(o) = self.original() {
            add(&o);
        }
        for f in self.followups().await {
            add(&f);
        }
        out
    }
}

/// Appends a message's visible text (content, embed title/description/fields, and
/// Components V2 text displays) to `out`, a piece a line.
pub fn push_text(m: &Value, out: &mut String) {
    let mut line = |t: &str| {
        if !t.is_empty() {
            out.push_str(t);
            out.push('\n');
        }
    };
    if let Some(c) = m["content"].as_str() {
        line(c);
    }
    for e in m["embeds"].as_array().into_iter().flatten() {
        for k in ["title", "description"] {
            line(e[k].as_str().unwrap_or_default());
        }
        for f in e["fields"].as_array().into_iter().flatten() {
            line(f["name"].as_str().unwrap_or_default());
            line(f["value"].as_str().unwrap_or_default());
        }
        line(e["footer"]["text"].as_str().unwrap_or_default());
    }
    let mut stack: Vec<&Value> = m["components"].as_array().into_iter().flatten().collect();
    while let Some(c) = stack.pop() {
        if c["type"] == 10 {
            line(c["content"].as_str().unwrap_or_default());
        }
        stack.extend(c["components"].as_array().into_iter().flatten());
    }
}

pub fn collect_buttons(components: &Value, out: &mut Vec<Value>) {
    for c in components.as_array().into_iter().flatten() {
        if c["type"] == 2 {
            out.push(c.clone());
        }
        collect_buttons(&c["components"], out);
        if c.get("accessory").is_some() {
            collect_buttons(&json!([c["accessory"].clone()]), out);
        }
    }
}

fn token() -> String {
    use rand::Rng;
    let mut rng = rand::rng();
    let tail: String = (0..160)
        .map(|_| {
            let n = rng.random_range(0..62u8);
            (match n {
                0..=9 => b'0' + n,
                10..=35 => b'a' + n - 10,
                _ => b'A' + n - 36,
            }) as char
        })
        .collect();
    format!("aW50ZXJhY3Rpb246{tail}")
}

/// The fields every interaction carries, for `user_id` in `channel_id`.
fn base(
    st: &mut State,
    kind: u8,
    user_id: u64,
    channel_id: u64,
    admin: bool,
) -> (u64, String, Value) {
    let id = st.snowflake();
    let tok = token();
    let channel = st
        .channels
        .get(&channel_id)
        .cloned()
        .unwrap_or_else(|| panic!("unknown channel {channel_id}"));
    let dm = channel.kind == 1;
    let bot = st.bot_user_id;
    let mut v = json!({
        "id": id.to_string(),
        "application_id": st.application_id.to_string(),
        "type": kind,
        "channel_id": channel_id.to_string(),
        "channel": st.channel_json(&channel),
        "token": tok,
        "version": 1,
        "locale": "en-US",
        "app_permissions": st.permissions(bot).to_string(),
        "entitlements": [],
        "authorizing_integration_owners": {"0": st.guild_id.to_string()},
        "context": if dm { 1 } else { 0 },
        "attachment_size_limit": 10_485_760,
    });
    if dm {
        v["user"] = st.user_json(user_id);
    } else {
        let mut member = st.member_json(user_id, true).unwrap_or_else(|| {
            panic!("{user_id} is not a member of the guild, so cannot interact there")
        });
        let perms = if admin {
            perm::ALL
        } else {
            st.permissions(user_id) & !perm::ADMINISTRATOR
        };
        member["permissions"] = json!(perms.to_string());
        v["member"] = member;
        v["guild_id"] = json!(st.guild_id.to_string());
        v["guild_locale"] = json!("en-US");
        v["guild"] = json!({"id": st.guild_id.to_string(), "locale": "en-US", "features": ["MEMBER_VERIFICATION_GATE_ENABLED"]});
    }
    (id, tok, v)
}

#[allow(clippy::too_many_arguments)]
fn record(
    st: &mut State,
    shared: &Arc<FakeDiscord>,
    id: u64,
    token: String,
    kind: u8,
    user_id: u64,
    channel_id: u64,
    payload: Value,
) -> Interaction {
    st.interactions.insert(
        id,
        InteractionRecord {
            id,
            token: token.clone(),
            kind,
            user_id,
            channel_id,
            created: Instant::now(),
            payload: payload.clone(),
            response: None,
            callback_attempts: Vec::new(),
            original: None,
            followups: Vec::new(),
        },
    );
    st.dispatch("INTERACTION_CREATE", payload, None);
    Interaction {
        id,
        token,
        shared: shared.shared.clone(),
    }
}

impl FakeDiscord {
    /// `user_id` presses the button `custom_id` of message `message_id` (DM or guild
    /// channel). Panics if the message has no such enabled button, or if the user could
    /// not see the message (someone else's DM).
    pub async fn press_button(
        &self,
        user_id: u64,
        message_id: u64,
        custom_id: &str,
    ) -> Interaction {
        let me = Arc::new(self.clone());
        let mut st = self.lock();
        let (msg, only_for) = st
            .find_message(message_id)
            .unwrap_or_else(|| panic!("press_button: no message {message_id}"));
        if let Some(owner) = only_for
            && owner != user_id
        {
            panic!("press_button: message {message_id} is ephemeral, only {owner} sees it");
        }
        let mut buttons = Vec::new();
        collect_buttons(&msg["components"], &mut buttons);
        let Some(button) = buttons.iter().find(|b| b["custom_id"] == custom_id) else {
            panic!(
                "press_button: message {message_id} has no button {custom_id:?}; it has {buttons:?}"
            );
        };
        if button["disabled"] == true {
            panic!("press_button: button {custom_id:?} is disabled");
        }
        let channel_id: u64 = msg["channel_id"]
            .as_str()
            .and_then(|s| s.parse().ok())
            .expect("channel id");
        let channel = st.channels[&channel_id].clone();
        if channel.kind == 1 && channel.recipient != Some(user_id) {
            panic!(
                "press_button: {user_id} cannot see a DM to {:?}",
                channel.recipient
            );
        }
        let (id, tok, mut v) = base(&mut st, 3, user_id, channel_id, false);
        v["message"] = msg;
        v["data"] = json!({"custom_id": custom_id, "component_type": 2, "id": button.get("id").cloned().unwrap_or(json!(1))});
        record(&mut st, &me, id, tok, 3, user_id, channel_id, v)
    }

    /// The last modal (the `data` of a type 9 response) the bot showed `user_id`.
    pub fn last_modal(&self, user_id: u64) -> Option<Value> {
        let st = self.lock();
        st.interactions
            .values()
            .rev()
            .filter(|r| r.user_id == user_id)
            .filter_map(|r| r.response.as_ref())
            .find(|resp| resp["type"] == 9)
            .map(|resp| resp["data"].clone())
    }

    /// `user_id` submits the modal `custom_id` the bot showed them, with text input
    /// values by custom id. The submitted components mirror the modal's layout (action
    /// rows or labels). Panics if no such modal was shown, a field is unknown, or a
    /// required field is missing or outside its length limits.
    pub async fn submit_modal(
        &self,
        user_id: u64,
        custom_id: &str,
        fields: &[(&str, &str)],
    ) -> Interaction {
        let me = Arc::new(self.clone());
        let mut st = self.lock();
        let origin = st
            .interactions
            .values()
            .rev()
            .find(|r| {
                r.user_id == user_id
                    && r.response.as_ref().is_some_and(|resp| {
                        resp["type"] == 9 && resp["data"]["custom_id"] == custom_id
                    })
            })
            .cloned()
            .unwrap_or_else(|| {
                panic!("submit_modal: the bot never showed {user_id} a modal {custom_id:?}")
            });
        let modal = origin.response.as_ref().expect("response")["data"].clone();
        let mut used = Vec::new();
        let mut submit_input = |input: &Value, cid: u64| -> Value {
            let id = input["custom_id"].as_str().unwrap_or_default();
            let value = fields
                .iter()
                .find(|(k, _)| *k == id)
                .map(|(_, v)| (*v).to_owned());
            used.push(id.to_owned());
            let required = input["required"].as_bool().unwrap_or(true);
            let value = value.unwrap_or_default();
            let n = value.chars().count() as u64;
            if required && n == 0 {
                panic!("submit_modal: field {id:?} is required");
            }
            if n > 0 {
                let min = input["min_length"].as_u64().unwrap_or(0);
                let max = input["max_length"].as_u64().unwrap_or(4000);
                if n < min || n > max {
                    panic!(
                        "submit_modal: Discord's client refuses {id:?} of length {n} (allowed {min}..={max})"
                    );
                }
            }
            json!({"type": 4, "id": input.get("id").cloned().unwrap_or(json!(cid)), "custom_id": id, "value": value})
        };
        let mut components = Vec::new();
        let mut counter = 1;
        for c in modal["components"].as_array().into_iter().flatten() {
            counter += 1;
            match c["type"].as_u64() {
                Some(1) => {
                    let row_id = c.get("id").cloned().unwrap_or(json!(counter));
                    let inner: Vec<Value> = c["components"]
                        .as_array()
                        .into_iter()
                        .flatten()
                        .map(|i| {
                            counter += 1;
                            submit_input(i, counter)
                        })
                        .collect();
                    components.push(json!({"type": 1, "id": row_id, "components": inner}));
                }
                Some(18) if c["component"]["type"] == 4 => {
                    let label_id = c.get("id").cloned().unwrap_or(json!(counter));
                    counter += 1;
                    let inner = submit_input(&c["component"], counter);
                    components.push(json!({"type": 18, "id": label_id, "component": inner}));
                }
                Some(10) => components.push(
                    json!({"type": 10, "id": c.get("id").cloned().unwrap_or(json!(counter))}),
                ),
                _ => {}
            }
        }
        for (k, _) in fields {
            if !used.iter().any(|u| u == k) {
                panic!(
                    "submit_modal: modal {custom_id:?} has no text input {k:?} (it has {used:?})"
                );
            }
        }
        let (id, tok, mut v) = base(&mut st, 5, user_id, origin.channel_id, false);
        if let Some(m) = origin.payload.get("message") {
            // A modal opened from a button carries that button's message.
            let mid: u64 = m["id"]
                .as_str()
                .and_then(|s| s.parse().ok())
                .unwrap_or_default();
            v["message"] = st.messages.get(&mid).cloned().unwrap_or_else(|| m.clone());
        }
        v["data"] = json!({"custom_id": custom_id, "components": components});
        record(&mut st, &me, id, tok, 5, user_id, origin.channel_id, v)
    }

    /// `user_id` runs the registered slash command `name` in #general with `options` as
    /// Discord sends them (e.g. `[{"name": "member", "type": 6, "value": "123"}]`;
    /// `resolved` is filled in for user/role/channel options). `admin` gives the member
    /// every permission (ADMINISTRATOR included) in `member.permissions`, else their
    /// roles' permissions without ADMINISTRATOR. A non-admin may run an admin-only
    /// command, as if the server's admins had granted an override: the bot must check.
    pub async fn run_command(
        &self,
        user_id: u64,
        name: &str,
        options: Value,
        admin: bool,
    ) -> Interaction {
        let general = self.channel_id("general").expect("#general");
        self.run_command_in(general, user_id, name, options, admin)
            .await
    }

    /// `run_command` in a given channel (a DM channel id gives a DM invocation).
    pub async fn run_command_in(
        &self,
        channel_id: u64,
        user_id: u64,
        name: &str,
        options: Value,
        admin: bool,
    ) -> Interaction {
        let me = Arc::new(self.clone());
        let mut st = self.lock();
        let cmd = st
            .guild_commands
            .iter()
            .chain(st.global_commands.iter())
            .find(|c| c["name"] == name && c["type"].as_u64().unwrap_or(1) == 1)
            .cloned()
            .unwrap_or_else(|| panic!("run_command: the bot registered no command {name:?}"));
        // Discord's client offers a command only where it may be used.
        let in_dm = st.channels.get(&channel_id).is_some_and(|c| c.kind == 1);
        if in_dm {
            let dm_allowed = cmd.get("guild_id").is_none()
                && cmd["dm_permission"] != false
                && cmd["contexts"]
                    .as_array()
                    .is_none_or(|c| c.iter().any(|x| x == 1));
            if !dm_allowed {
                panic!("run_command: Discord does not offer {name:?} in DMs");
            }
        } else if cmd["contexts"]
            .as_array()
            .is_some_and(|c| !c.iter().any(|x| x == 0))
        {
            panic!("run_command: Discord does not offer {name:?} in servers");
        }
        let (id, tok, mut v) = base(&mut st, 2, user_id, channel_id, admin);
        let options = if options.is_null() {
            json!([])
        } else {
            options
        };
        let mut data = json!({
            "id": cmd["id"],
            "name": name,
            "type": 1,
            "options": options,
        });
        if let Some(g) = cmd.get("guild_id") {
            data["guild_id"] = g.clone();
        }
        let mut users = serde_json::Map::new();
        let mut members = serde_json::Map::new();
        let mut roles = serde_json::Map::new();
        let mut channels = serde_json::Map::new();
        let mut stack: Vec<Value> = options.as_array().cloned().unwrap_or_default();
        while let Some(o) = stack.pop() {
            if let Some(sub) = o["options"].as_array() {
                stack.extend(sub.iter().cloned());
            }
            let raw = o["value"]
                .as_str()
                .map(str::to_owned)
                .unwrap_or_else(|| o["value"].to_string());
            let Ok(target) = raw.parse::<u64>() else {
                continue;
            };
            match o["type"].as_u64() {
                Some(6) | Some(9) if st.users.contains_key(&target) => {
                    users.insert(raw.clone(), st.user_json(target));
                    if let Some(mut m) = st.member_json(target, false) {
                        m["permissions"] = json!(st.permissions(target).to_string());
                        members.insert(raw.clone(), m);
                    }
                }
                Some(8) | Some(9) if st.roles.contains_key(&target) => {
                    let r = st.roles[&target].clone();
                    roles.insert(raw.clone(), st.role_json(&r));
                }
                Some(7) if st.channels.contains_key(&target) => {
                    let c = st.channels[&target].clone();
                    let mut cj = st.channel_json(&c);
                    cj["permissions"] = json!(perm::ALL.to_string());
                    channels.insert(raw.clone(), cj);
                }
                _ => {}
            }
        }
        if !(users.is_empty() && roles.is_empty() && channels.is_empty()) {
            let mut resolved = json!({});
            if !users.is_empty() {
                resolved["users"] = Value::Object(users);
            }
            if !members.is_empty() {
                resolved["members"] = Value::Object(members);
            }
            if !roles.is_empty() {
                resolved["roles"] = Value::Object(roles);
            }
            if !channels.is_empty() {
                resolved["channels"] = Value::Object(channels);
            }
            data["resolved"] = resolved;
        }
        v["data"] = data;
        record(&mut st, &me, id, tok, 2, user_id, channel_id, v)
    }
}
