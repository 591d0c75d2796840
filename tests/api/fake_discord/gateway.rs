//! The gateway: a WebSocket speaking Discord's gateway protocol (v10, JSON encoding,
//! no transport compression).
//!
//! HELLO on connect; IDENTIFY → READY (+ GUILD_CREATE with the GUILDS intent); RESUME →
//! the missed dispatches, then RESUMED; heartbeats acknowledged; close codes as Discord
//! documents them (4001 unknown opcode, 4002 decode error, 4003 not authenticated, 4004
//! authentication failed, 4005 already authenticated, 4008 rate limited, 4010 invalid
//! shard, 4012 invalid API version, 4013 invalid intents, 4014 disallowed intents).

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::extract::ws::{CloseFrame, Message, WebSocket, WebSocketUpgrade};
use axum::extract::{Query, State as AxState};
use axum::http::Uri;
use axum::response::Response;
use serde_json::{Value, json};
use tokio::sync::mpsc::unbounded_channel;

use super::Shared;
use super::state::{ConnectionHandle, ConnectionRecord, Control, Session, State, intent};

pub async fn upgrade(
    ws: WebSocketUpgrade,
    AxState(shared): AxState<Arc<Shared>>,
    uri: Uri,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    let path = if uri.path().starts_with("/resume") {
        "/resume"
    } else {
        "/gateway"
    };
    let raw_query = uri.query().unwrap_or_default().to_owned();
    ws.on_upgrade(move |socket| run(socket, shared, path.to_owned(), raw_query, query))
}

/// What the connection loop does after handling a payload.
enum Next {
    Continue,
    /// Answer a heartbeat with op 11.
    Ack,
    Close(u16, &'static str),
}

struct Conn {
    id: u64,
    session: Option<String>,
    /// The last sequence number sent on this connection.
    cursor: u64,
    /// Gateway send limit: 120 payloads per 60 s.
    window: (Instant, u32),
}

async fn run(
    mut socket: WebSocket,
    shared: Arc<Shared>,
    path: String,
    raw_query: String,
    query: HashMap<String, String>,
) {
    // During an outage the connection waits here, before HELLO.
    let mut held = shared.held.subscribe();
    while *held.borrow_and_update() {
        if held.changed().await.is_err() {
            return;
        }
    }
    let (tx, mut rx) = unbounded_channel();
    let id = {
        let mut st = shared.lock();
        let id = st.next_connection;
        st.next_connection += 1;
        st.connections.insert(
            id,
            ConnectionHandle {
                tx,
                session_id: None,
            },
        );
        st.connection_log.push(ConnectionRecord {
            id,
            path: path.clone(),
            query: raw_query,
            outcome: String::new(),
            close_code: None,
        });
        id
    };
    let mut conn = Conn {
        id,
        session: None,
        cursor: 0,
        window: (Instant::now(), 0),
    };

    // Query parameters: only v=10 and encoding=json are spoken here. `compress`
    // (zlib-stream / zstd-stream) is ignored: frames are always uncompressed text.
    let first = if query.get("v").map(String::as_str) != Some("10") {
        Some((4012, "Invalid API version."))
    } else if query.get("encoding").is_some_and(|e| e != "json") {
        Some((4002, "Error while decoding payload."))
    } else {
        None
    };
    let mut end = match first {
        Some((code, reason)) => Some(Next::Close(code, reason)),
        None => {
            let interval = shared.lock().heartbeat_interval_ms;
            let hello =
                json!({"op": 10, "d": {"heartbeat_interval": interval}, "s": null, "t": null});
            if socket
                .send(Message::Text(hello.to_string().into()))
                .await
                .is_err()
            {
                Some(Next::Continue)
            } else {
                None
            }
        }
    };

    while end.is_none() {
        tokio::select! {
            msg = socket.recv() => match msg {
                None | Some(Err(_)) => end = Some(Next::Continue),
                Some(Ok(Message::Text(text))) => {
                    match handle_payload(&shared, &mut conn, text.as_str()) {
                        Next::Ack => {
                            let ack = json!({"op": 11, "d": null, "s": null, "t": null});
                            if socket.send(Message::Text(ack.to_string().into())).await.is_err() {
                                end = Some(Next::Continue);
                            }
                        }
                        Next::Continue => {
                            if flush(&shared, &mut conn, &mut socket).await.is_err() {
                                end = Some(Next::Continue);
                            }
                        }
                        close => end = Some(close),
                    }
                }
                Some(Ok(Message::Binary(_))) => end = Some(Next::Close(4002, "Error while decoding payload.")),
                Some(Ok(Message::Close(frame))) => {
                    // A client closing with 1000 or 1001 ends its session; any other
                    // code keeps it resumable.
                    let code = frame.as_ref().map(|f| f.code);
                    let mut st = shared.lock();
                    if matches!(code, Some(1000 | 1001))
                        && let Some(sid) = &conn.session
                        && let Some(s) = st.sessions.get_mut(sid)
                    {
                        s.resumable = false;
                    }
                    if let Some(rec) = st.connection_log.iter_mut().find(|c| c.id == conn.id) {
                        rec.close_code = code;
                    }
                    end = Some(Next::Continue);
                }
                Some(Ok(_)) => {}
            },
            ctl = rx.recv() => match ctl {
                None | Some(Control::Drop) => {
                    // Abrupt: no close frame, the socket is just dropped.
                    shared.lock().connections.remove(&conn.id);
                    return;
                }
                Some(Control::Flush) => {
                    if flush(&shared, &mut conn, &mut socket).await.is_err() {
                        end = Some(Next::Continue);
                    }
                }
                Some(Control::RequestHeartbeat) => {
                    let p = json!({"op": 1, "d": null, "s": null, "t": null});
                    if socket.send(Message::Text(p.to_string().into())).await.is_err() {
                        end = Some(Next::Continue);
                    }
                }
                Some(Control::Reconnect) => {
                    let p = json!({"op": 7, "d": null, "s": null, "t": null});
                    if socket.send(Message::Text(p.to_string().into())).await.is_err() {
                        end = Some(Next::Continue);
                    }
                }
                Some(Control::InvalidSession(resumable)) => {
                    if !resumable {
                        invalidate(&shared, &conn);
                    }
                    let p = json!({"op": 9, "d": resumable, "s": null, "t": null});
                    if socket.send(Message::Text(p.to_string().into())).await.is_err() {
                        end = Some(Next::Continue);
                    }
                }
                Some(Control::Close(code, reason)) => {
                    let _ = socket
                        .send(Message::Close(Some(CloseFrame { code, reason: reason.into() })))
                        .await;
                    shared.lock().connections.remove(&conn.id);
                    return;
                }
            },
        }
    }

    if let Some(Next::Close(code, reason)) = end {
        // Non-resumable close codes end the session.
        if matches!(code, 4004 | 4010 | 4011 | 4012 | 4013 | 4014) {
            invalidate(&shared, &conn);
        }
        {
            let mut st = shared.lock();
            if let Some(rec) = st.connection_log.iter_mut().find(|c| c.id == conn.id) {
                rec.close_code = Some(code);
            }
        }
        let _ = socket
            .send(Message::Close(Some(CloseFrame {
                code,
                reason: reason.into(),
            })))
            .await;
        // Give the client a moment to read the close frame.
        let _ = tokio::time::timeout(Duration::from_millis(500), socket.recv()).await;
    }
    shared.lock().connections.remove(&conn.id);
}

fn invalidate(shared: &Shared, conn: &Conn) {
    if let Some(sid) = &conn.session
        && let Some(s) = shared.lock().sessions.get_mut(sid)
    {
        s.resumable = false;
    }
}

/// Sends the session's dispatches this connection has not sent yet.
async fn flush(shared: &Shared, conn: &mut Conn, socket: &mut WebSocket) -> Result<(), ()> {
    let Some(sid) = conn.session.clone() else {
        return Ok(());
    };
    let pending: Vec<(u64, Value)> = {
        let st = shared.lock();
        match st.sessions.get(&sid) {
            Some(s) => s
                .events
                .iter()
                .filter(|(seq, _)| *seq > conn.cursor)
                .cloned()
                .collect(),
            None => Vec::new(),
        }
    };
    for (seq, payload) in pending {
        socket
            .send(Message::Text(payload.to_string().into()))
            .await
            .map_err(|_| ())?;
        conn.cursor = seq;
    }
    Ok(())
}

fn push(st: &mut State, sid: &str, event: &str, data: Value) {
    if let Some(s) = st.sessions.get_mut(sid) {
        s.seq += 1;
        let payload = json!({"op": 0, "s": s.seq, "t": event, "d": data});
        s.events.push((s.seq, payload));
    }
}

fn token_ok(token: Option<&str>) -> bool {
    let Some(t) = token else { return false };
    let t = t.strip_prefix("Bot ").unwrap_or(t);
    t == super::FakeDiscord::BOT_TOKEN
}

fn session_id() -> String {
    use rand::Rng;
    let mut rng = rand::rng();
    (0..32)
        .map(|_| char::from_digit(rng.random_range(0..16), 16).expect("hex digit"))
        .collect()
}

fn handle_payload(shared: &Shared, conn: &mut Conn, text: &str) -> Next {
    let Ok(payload) = serde_json::from_str::<Value>(text) else {
        return Next::Close(4002, "Error while decoding payload.");
    };
    {
        let now = Instant::now();
        if now.duration_since(conn.window.0) > Duration::from_secs(60) {
            conn.window = (now, 0);
        }
        conn.window.1 += 1;
        if conn.window.1 > 120 {
            return Next::Close(4008, "Rate limited.");
        }
    }
    let mut st = shared.lock();
    st.gateway_payloads.push(payload.clone());
    let Some(op) = payload.get("op").and_then(Value::as_u64) else {
        return Next::Close(4002, "Error while decoding payload.");
    };
    let d = payload.get("d").cloned().unwrap_or(Value::Null);
    match op {
        1 => {
            st.heartbeats += 1;
            Next::Ack
        }
        2 => identify(&mut st, conn, &d),
        6 => resume(&mut st, conn, &d),
        3 | 4 if conn.session.is_none() => Next::Close(4003, "Not authenticated."),
        3 | 4 => Next::Continue,
        8 => {
            let Some(sid) = conn.session.clone() else {
                return Next::Close(4003, "Not authenticated.");
            };
            request_members(&mut st, &sid, &d);
            Next::Continue
        }
        _ => Next::Close(4001, "Unknown opcode."),
    }
}

fn identify(st: &mut State, conn: &mut Conn, d: &Value) -> Next {
    if conn.session.is_some() {
        return Next::Close(4005, "Already authenticated.");
    }
    if !token_ok(d.get("token").and_then(Value::as_str)) {
        return Next::Close(4004, "Authentication failed.");
    }
    if !d.get("properties").is_some_and(Value::is_object) {
        return Next::Close(4002, "Error while decoding payload.");
    }
    let Some(intents) = d.get("intents").and_then(Value::as_u64) else {
        return Next::Close(4013, "Invalid intent(s).");
    };
    if intents & !intent::VALID != 0 {
        return Next::Close(4013, "Invalid intent(s).");
    }
    let disallowed = (intents & intent::GUILD_MEMBERS != 0 && !st.members_intent_enabled)
        || (intents & intent::GUILD_PRESENCES != 0 && !st.presences_intent_enabled)
        || (intents & intent::MESSAGE_CONTENT != 0 && !st.message_content_intent_enabled);
    if disallowed {
        return Next::Close(4014, "Disallowed intent(s).");
    }
    if let Some(shard) = d.get("shard") {
        let pair = shard.as_array().map(|a| {
            (
                a.first().and_then(Value::as_u64),
                a.get(1).and_then(Value::as_u64),
            )
        });
        match pair {
            Some((Some(id), Some(count))) if count >= 1 && id < count => {
                if count != 1 {
                    // One guild: Discord would accept more shards; this fake serves one.
                    return Next::Close(4010, "Invalid shard.");
                }
            }
            _ => return Next::Close(4010, "Invalid shard."),
        }
    }
    let sid = session_id();
    st.sessions.insert(
        sid.clone(),
        Session {
            id: sid.clone(),
            intents,
            seq: 0,
            events: Vec::new(),
            resumable: true,
        },
    );
    st.identifies += 1;
    conn.session = Some(sid.clone());
    conn.cursor = 0;
    if let Some(c) = st.connections.get_mut(&conn.id) {
        c.session_id = Some(sid.clone());
    }
    if let Some(rec) = st.connection_log.iter_mut().find(|c| c.id == conn.id) {
        rec.outcome = "identify".into();
    }
    let ready = json!({
        "v": 10,
        "user": st.current_user_json(),
        "guilds": [{"id": st.guild_id.to_string(), "unavailable": true}],
        "session_id": sid,
        "session_type": "normal",
        "resume_gateway_url": format!("ws://{}/resume", st.base_url()),
        "shard": [0, 1],
        "application": {"id": st.application_id.to_string(), "flags": if st.members_intent_enabled { 1 << 15 } else { 0 }},
        "private_channels": [],
        "presences": [],
        "relationships": [],
        "guild_join_requests": [],
        "geo_ordered_rtc_regions": ["us-east"],
        "auth": {},
        "user_settings": {},
        "_trace": ["[\"fake-discord\",{\"micros\":0}]"],
    });
    push(st, &sid, "READY", ready);
    if intents & intent::GUILDS != 0 {
        let guild = st.guild_create_json(intents);
        push(st, &sid, "GUILD_CREATE", guild);
    }
    Next::Continue
}

fn resume(st: &mut State, conn: &mut Conn, d: &Value) -> Next {
    if conn.session.is_some() {
        return Next::Close(4005, "Already authenticated.");
    }
    if !token_ok(d.get("token").and_then(Value::as_str)) {
        return Next::Close(4004, "Authentication failed.");
    }
    let sid = d
        .get("session_id")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let seq = d.get("seq").and_then(Value::as_u64);
    if let Some(rec) = st.connection_log.iter_mut().find(|c| c.id == conn.id) {
        rec.outcome = "resume".into();
    }
    let session_ok = st.sessions.get(sid).is_some_and(|s| s.resumable);
    if session_ok && seq.is_none_or(|n| n > st.sessions[sid].seq) {
        // A sequence number this session never sent.
        if let Some(s) = st.sessions.get_mut(sid) {
            s.resumable = false;
        }
        return Next::Close(4007, "Invalid seq.");
    }
    if !session_ok {
        // Not resumable: op 9 with d = false; the client must identify anew.
        if let Some(c) = st.connections.get(&conn.id) {
            let _ = c.tx.send(Control::InvalidSession(false));
        }
        return Next::Continue;
    }
    st.resumes += 1;
    // Another connection still on this session no longer receives its events.
    for (id, c) in st.connections.iter_mut() {
        if *id != conn.id && c.session_id.as_deref() == Some(sid) {
            c.session_id = None;
        }
    }
    conn.session = Some(sid.to_owned());
    conn.cursor = seq.unwrap_or_default();
    if let Some(c) = st.connections.get_mut(&conn.id) {
        c.session_id = Some(sid.to_owned());
    }
    push(
        st,
        sid,
        "RESUMED",
        json!({"_trace": ["[\"fake-discord\",{\"micros\":0}]"]}),
    );
    Next::Continue
}

fn request_members(st: &mut State, sid: &str, d: &Value) {
    let intents = st.sessions.get(sid).map_or(0, |s| s.intents);
    let user_ids: Option<Vec<u64>> = d.get("user_ids").map(|v| match v {
        Value::Array(a) => a
            .iter()
            .filter_map(|x| x.as_str().and_then(|s| s.parse().ok()).or(x.as_u64()))
            .collect(),
        other => other
            .as_str()
            .and_then(|s| s.parse().ok())
            .or(other.as_u64())
            .into_iter()
            .collect(),
    });
    let query = d
        .get("query")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_lowercase();
    if user_ids.is_none() && intents & intent::GUILD_MEMBERS == 0 {
        // Listing members needs the GUILD_MEMBERS intent; Discord sends nothing.
        return;
    }
    let limit = d.get("limit").and_then(Value::as_u64).unwrap_or(0);
    let mut found: Vec<u64> = st
        .members
        .keys()
        .copied()
        .filter(|id| match &user_ids {
            Some(ids) => ids.contains(id),
            None => st
                .users
                .get(id)
                .is_some_and(|u| u.username.to_lowercase().starts_with(&query)),
        })
        .collect();
    if limit > 0 && user_ids.is_none() {
        found.truncate(limit as usize);
    }
    let members: Vec<Value> = found
        .iter()
        .filter_map(|id| st.member_json(*id, true))
        .collect();
    let mut chunk = json!({
        "guild_id": st.guild_id.to_string(),
        "members": members,
        "chunk_index": 0,
        "chunk_count": 1,
    });
    if let Some(ids) = &user_ids {
        let not_found: Vec<String> = ids
            .iter()
            .filter(|id| !found.contains(id))
            .map(u64::to_string)
            .collect();
        chunk["not_found"] = json!(not_found);
    }
    if let Some(nonce) = d.get("nonce") {
        chunk["nonce"] = nonce.clone();
    }
    push(st, sid, "GUILD_MEMBERS_CHUNK", chunk);
}
