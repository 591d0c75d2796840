//! REST API v10 under `/api/v10`: the routes a verification bot uses, with Discord's
//! success bodies, JSON error bodies (`{"message", "code"}`, 50035 with `errors`),
//! rate-limit headers on every answer and 429s (real per-route buckets plus injected
//! ones).

// Handlers answer errors as ready-made `Response`s, the axum idiom; boxing them would
// only add noise to a test fake.
#![allow(clippy::result_large_err)]

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::{Body, Bytes, to_bytes};
use axum::extract::{MatchedPath, Path, Query, Request, State as AxState};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use chrono::Utc;
use serde_json::{Value, json};
use std::collections::HashMap;

use super::Shared;
use super::state::{
    Bucket, Channel, Member, RequestRecord, Role, State, intent, now_ms, perm, timestamp,
};
use super::validate::{self, Problems};

type Res = Result<Response, Response>;
type St = AxState<Arc<Shared>>;

pub fn router(shared: Arc<Shared>) -> Router<Arc<Shared>> {
    let api = Router::new()
        .route("/gateway", get(get_gateway))
        .route("/gateway/bot", get(get_gateway_bot))
        .route("/users/@me", get(current_user))
        .route("/oauth2/token", post(super::oauth::token))
        .route("/users/@me/channels", post(create_dm))
        .route("/users/@me/guilds", get(current_user_guilds))
        .route(
            "/users/@me/guilds/{guild_id}/member",
            get(current_user_member),
        )
        .route("/users/{user_id}", get(get_user))
        .route("/applications/@me", get(current_application))
        .route("/oauth2/applications/@me", get(current_application))
        .route(
            "/applications/{application_id}/commands",
            get(get_global_commands)
                .put(set_global_commands)
                .post(create_global_command),
        )
        .route(
            "/applications/{application_id}/commands/{command_id}",
            axum::routing::delete(delete_global_command),
        )
        .route(
            "/applications/{application_id}/guilds/{guild_id}/commands",
            get(get_guild_commands)
                .put(set_guild_commands)
                .post(create_guild_command),
        )
        .route(
            "/applications/{application_id}/guilds/{guild_id}/commands/{command_id}",
            axum::routing::delete(delete_guild_command),
        )
        .route("/guilds/{guild_id}", get(get_guild))
        .route(
            "/guilds/{guild_id}/roles",
            get(get_roles).post(create_role).patch(move_roles),
        )
        .route(
            "/guilds/{guild_id}/roles/{role_id}",
            get(get_role).patch(modify_role).delete(delete_role),
        )
        .route("/guilds/{guild_id}/channels", get(get_channels))
        .route("/guilds/{guild_id}/members", get(list_members))
        .route(
            "/guilds/{guild_id}/members/{user_id}",
            get(get_member)
                .patch(modify_member)
                .delete(kick_member)
                .put(super::oauth::add_member),
        )
        .route(
            "/guilds/{guild_id}/members/{user_id}/roles/{role_id}",
            put(add_member_role).delete(remove_member_role),
        )
        .route("/channels/{channel_id}", get(get_channel))
        .route(
            "/channels/{channel_id}/messages",
            get(get_messages).post(create_message),
        )
        .route(
            "/channels/{channel_id}/messages/{message_id}",
            get(get_message).patch(edit_message).delete(delete_message),
        )
        .route(
            "/interactions/{interaction_id}/{interaction_token}/callback",
            post(interaction_callback),
        )
        .route(
            "/webhooks/{application_id}/{interaction_token}",
            post(create_followup),
        )
        .route(
            "/webhooks/{application_id}/{interaction_token}/messages/{message_id}",
            get(get_webhook_message)
                .patch(edit_webhook_message)
                .delete(delete_webhook_message),
        )
        .route_layer(middleware::from_fn_with_state(shared.clone(), rest_layer))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed);
    Router::new().nest("/api/v10", api)
}

// ---------------------------------------------------------------- answers

pub fn json_answer(status: StatusCode, body: Value) -> Response {
    (status, axum::Json(body)).into_response()
}

pub fn error(status: u16, code: u64, message: &str) -> Response {
    json_answer(
        StatusCode::from_u16(status).expect("status"),
        json!({"message": message, "code": code}),
    )
}

fn invalid_form(problems: &Problems) -> Response {
    // Discord answers an empty message with its own code rather than 50035.
    if problems.len() == 1 && problems[0].1 == "EMPTY" {
        return error(400, 50006, "Cannot send an empty message");
    }
    json_answer(
        StatusCode::BAD_REQUEST,
        json!({"message": "Invalid Form Body", "code": 50035, "errors": validate::form_errors(problems)}),
    )
}

fn no_content() -> Response {
    StatusCode::NO_CONTENT.into_response()
}

async fn not_found(AxState(shared): St, req: Request) -> Response {
    unrouted(&shared, req, 404, "404: Not Found")
}

async fn method_not_allowed(AxState(shared): St, req: Request) -> Response {
    unrouted(&shared, req, 405, "405: Method Not Allowed")
}

/// Answers (and records) a request no route serves, with rate-limit headers too.
fn unrouted(shared: &Shared, req: Request, status: u16, message: &str) -> Response {
    let method = req.method().as_str().to_owned();
    let path = req.uri().path().to_owned();
    let path = path.strip_prefix("/api/v10").unwrap_or(&path).to_owned();
    let mut st = shared.lock();
    st.requests.push(RequestRecord {
        method: method.clone(),
        route: format!("{method} {path}"),
        path,
        status,
        body: None,
        audit_log_reason: None,
        at: Instant::now(),
    });
    let mut resp = error(status, 0, message);
    let (limit, window) = (st.bucket_limit, st.bucket_window.as_secs_f64());
    rate_headers(
        resp.headers_mut(),
        limit,
        limit,
        window,
        &bucket_hash("unrouted"),
    );
    resp
}

fn parse_body(body: &Bytes) -> Result<Value, Response> {
    if body.is_empty() {
        return Ok(Value::Null);
    }
    serde_json::from_slice(body)
        .map_err(|_| error(400, 50109, "The request body contains invalid JSON."))
}

fn snowflake(field: &str, raw: &str) -> Result<u64, Response> {
    raw.parse::<u64>().map_err(|_| {
        invalid_form(&vec![(
            field.to_owned(),
            "NUMBER_TYPE_COERCE",
            format!("Value \"{raw}\" is not snowflake."),
        )])
    })
}

fn check_guild(st: &State, raw: &str) -> Result<u64, Response> {
    let id = snowflake("guild_id", raw)?;
    if id != st.guild_id {
        return Err(error(404, 10004, "Unknown Guild"));
    }
    Ok(id)
}

// ---------------------------------------------------------------- the layer

/// Decodes the percent-encoding twilight (and Discord's docs) use for X-Audit-Log-Reason.
pub fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%'
            && i + 2 < bytes.len() + 1
            && let Some(h) = s.get(i + 1..i + 3)
            && let Ok(b) = u8::from_str_radix(h, 16)
        {
            out.push(b);
            i += 3;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn major_key(route: &str, path: &str) -> String {
    route
        .split('/')
        .zip(path.split('/'))
        .filter(|(r, _)| {
            matches!(
                *r,
                "{guild_id}" | "{channel_id}" | "{interaction_token}" | "{application_id}"
            )
        })
        .map(|(_, p)| p)
        .collect::<Vec<_>>()
        .join(":")
}

fn bucket_hash(route_key: &str) -> String {
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    route_key.hash(&mut h);
    format!("{:016x}", h.finish())
}

fn rate_headers(
    headers: &mut HeaderMap,
    limit: u32,
    remaining: u32,
    reset_after: f64,
    bucket: &str,
) {
    let reset = now_ms() as f64 / 1000.0 + reset_after;
    let mut set = |k: &'static str, v: String| {
        headers.insert(k, HeaderValue::from_str(&v).expect("header value"));
    };
    set("x-ratelimit-limit", limit.to_string());
    set("x-ratelimit-remaining", remaining.to_string());
    set("x-ratelimit-reset", format!("{reset:.3}"));
    set("x-ratelimit-reset-after", format!("{reset_after:.3}"));
    set("x-ratelimit-bucket", bucket.to_owned());
}

fn too_many(scope: &str, retry_after: f64, limit: u32, bucket: &str) -> Response {
    let global = scope == "global";
    let message = if scope == "shared" {
        "The resource is being rate limited."
    } else {
        "You are being rate limited."
    };
    let body = json!({
        "message": message,
        "retry_after": (retry_after * 1000.0).round() / 1000.0,
        "global": global,
    });
    let mut resp = json_answer(StatusCode::TOO_MANY_REQUESTS, body);
    let h = resp.headers_mut();
    if !global {
        rate_headers(h, limit, 0, retry_after, bucket);
    } else {
        h.insert("x-ratelimit-global", HeaderValue::from_static("true"));
    }
    h.insert(
        "x-ratelimit-scope",
        HeaderValue::from_str(scope).expect("scope"),
    );
    h.insert(
        "retry-after",
        HeaderValue::from_str(&(retry_after.ceil() as u64).to_string()).expect("retry"),
    );
    resp
}

async fn rest_layer(
    AxState(shared): St,
    matched: MatchedPath,
    req: Request,
    next: Next,
) -> Response {
    let method = req.method().as_str().to_owned();
    let full_path = req.uri().path().to_owned();
    let path = full_path
        .strip_prefix("/api/v10")
        .unwrap_or(&full_path)
        .to_owned();
    let route_tmpl = matched
        .as_str()
        .strip_prefix("/api/v10")
        .unwrap_or(matched.as_str())
        .to_owned();
    let route_key = format!("{method} {route_tmpl}");
    let reason = req
        .headers()
        .get("x-audit-log-reason")
        .and_then(|v| v.to_str().ok())
        .map(percent_decode);
    let auth_ok = req
        .headers()
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v == format!("Bot {}", super::FakeDiscord::BOT_TOKEN));
    // Interaction callbacks and interaction webhooks are authorised by their token.
    let needs_auth = !(route_tmpl.starts_with("/interactions/")
        || route_tmpl.starts_with("/webhooks/")
        || route_tmpl == "/gateway"
        || route_tmpl == "/oauth2/token"
        || (route_tmpl == "/users/@me"
            && req
                .headers()
                .get("authorization")
                .and_then(|v| v.to_str().ok())
                .is_some_and(|v| v.starts_with("Bearer "))));
    let (parts, body) = req.into_parts();
    let bytes = to_bytes(body, 64 * 1024 * 1024).await.unwrap_or_default();
    let body_json = serde_json::from_slice::<Value>(&bytes).ok();
    let bucket = bucket_hash(&route_key);
    let bucket_key = format!("{route_key}|{}", major_key(&route_tmpl, &path));

    let record = |shared: &Shared, status: u16| {
        shared.lock().requests.push(RequestRecord {
            method: method.clone(),
            path: path.clone(),
            route: route_key.clone(),
            status,
            body: body_json.clone(),
            audit_log_reason: reason.clone(),
            at: Instant::now(),
        });
    };

    if needs_auth && !auth_ok {
        record(&shared, 401);
        let mut resp = error(401, 0, "401: Unauthorized");
        let (limit, window) = {
            let st = shared.lock();
            (st.bucket_limit, st.bucket_window.as_secs_f64())
        };
        rate_headers(resp.headers_mut(), limit, limit, window, &bucket);
        return resp;
    }

    // Injected 429s, then the global limit (interaction routes are exempt), then the
    // route's bucket.
    let interaction_route =
        route_tmpl.starts_with("/interactions/") || route_tmpl.starts_with("/webhooks/");
    let limited = {
        let mut st = shared.lock();
        let limit = st.bucket_limit;
        let now = Instant::now();
        let global_over = if interaction_route {
            None
        } else {
            // A fixed window opened by the first request, as clients count it; it closes
            // 50 ms early so a client that opened its own window a moment before ours
            // (network latency) never lands its next window in our old one.
            if now.duration_since(st.global_window.0) >= GLOBAL_WINDOW {
                st.global_window = (now, 0);
            }
            st.global_window.1 += 1;
            (st.global_window.1 > st.global_limit).then(|| {
                GLOBAL_WINDOW
                    .saturating_sub(now.duration_since(st.global_window.0))
                    .as_secs_f64()
            })
        };
        let injected = st.injections.iter_mut().find(|i| {
            i.times > 0 && i.method.eq_ignore_ascii_case(&method) && i.route == route_tmpl
        });
        if let Some(inj) = injected {
            inj.times -= 1;
            Some(too_many(inj.scope, inj.retry_after, limit, &bucket))
        } else if let Some(wait) = global_over {
            Some(too_many("global", wait, limit, &bucket))
        } else {
            let window = st.bucket_window;
            let now = Instant::now();
            let b = st.buckets.entry(bucket_key.clone()).or_insert(Bucket {
                window_start: now,
                used: 0,
            });
            if now.duration_since(b.window_start) >= window {
                b.window_start = now;
                b.used = 0;
            }
            if b.used >= limit {
                let left = window.saturating_sub(now.duration_since(b.window_start));
                Some(too_many("user", left.as_secs_f64(), limit, &bucket))
            } else {
                b.used += 1;
                None
            }
        }
    };
    if let Some(resp) = limited {
        record(&shared, 429);
        return resp;
    }

    let req = Request::from_parts(parts, Body::from(bytes.clone()));
    let mut resp = next.run(req).await;
    let (limit, remaining, reset_after, scope_always) = {
        let st = shared.lock();
        let b = st.buckets.get(&bucket_key);
        let used = b.map_or(0, |b| b.used);
        let left = b.map_or(st.bucket_window, |b| {
            st.bucket_window.saturating_sub(b.window_start.elapsed())
        });
        (
            st.bucket_limit,
            st.bucket_limit.saturating_sub(used),
            left.as_secs_f64(),
            st.scope_header_always,
        )
    };
    rate_headers(resp.headers_mut(), limit, remaining, reset_after, &bucket);
    if scope_always {
        resp.headers_mut()
            .insert("x-ratelimit-scope", HeaderValue::from_static("user"));
    }
    record(&shared, resp.status().as_u16());
    resp
}

// ---------------------------------------------------------------- gateway, users, app

async fn get_gateway(AxState(shared): St) -> Response {
    let st = shared.lock();
    json_answer(
        StatusCode::OK,
        json!({"url": format!("ws://{}/gateway", st.base_url())}),
    )
}

async fn get_gateway_bot(AxState(shared): St) -> Response {
    let st = shared.lock();
    json_answer(
        StatusCode::OK,
        json!({
            "url": format!("ws://{}/gateway", st.base_url()),
            "shards": 1,
            "session_start_limit": {"total": 1000, "remaining": 1000 - st.identifies.min(1000), "reset_after": 86_400_000, "max_concurrency": 1},
        }),
    )
}

async fn current_user(AxState(shared): St, headers: HeaderMap) -> Response {
    if let Some(answer) = super::oauth::bearer_user(&shared, &headers) {
        return answer;
    }
    json_answer(StatusCode::OK, shared.lock().current_user_json())
}

async fn get_user(AxState(shared): St, Path(user_id): Path<String>) -> Res {
    let id = snowflake("user_id", &user_id)?;
    let st = shared.lock();
    if !st.users.contains_key(&id) {
        return Err(error(404, 10013, "Unknown User"));
    }
    Ok(json_answer(StatusCode::OK, st.user_json(id)))
}

async fn current_user_guilds(AxState(shared): St) -> Response {
    let st = shared.lock();
    let bot = st.bot_user_id;
    json_answer(
        StatusCode::OK,
        json!([{
            "id": st.guild_id.to_string(),
            "name": "Doorman Test Server",
            "icon": null,
            "banner": null,
            "owner": false,
            "permissions": st.permissions(bot).to_string(),
            "features": ["MEMBER_VERIFICATION_GATE_ENABLED"],
        }]),
    )
}

async fn current_user_member(AxState(shared): St, Path(guild): Path<String>) -> Res {
    let st = shared.lock();
    check_guild(&st, &guild)?;
    Ok(json_answer(
        StatusCode::OK,
        st.member_json(st.bot_user_id, true)
            .expect("the bot is a member"),
    ))
}

async fn current_application(AxState(shared): St) -> Response {
    json_answer(StatusCode::OK, shared.lock().application_json())
}

async fn create_dm(AxState(shared): St, body: Bytes) -> Res {
    let body = parse_body(&body)?;
    let raw = match body.get("recipient_id") {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Number(n)) => n.to_string(),
        _ => {
            return Err(invalid_form(&vec![(
                "recipient_id".into(),
                "BASE_TYPE_REQUIRED",
                "This field is required".into(),
            )]));
        }
    };
    let user = snowflake("recipient_id", &raw)?;
    let mut st = shared.lock();
    if !st.users.contains_key(&user) {
        return Err(error(400, 50033, "Invalid Recipient(s)"));
    }
    let existing = st
        .channels
        .values()
        .find(|c| c.kind == 1 && c.recipient == Some(user))
        .map(|c| c.id);
    let id = match existing {
        Some(id) => id,
        None => {
            let id = st.snowflake();
            st.channels.insert(
                id,
                Channel {
                    id,
                    kind: 1,
                    name: None,
                    position: 0,
                    recipient: Some(user),
                    last_message_id: None,
                },
            );
            id
        }
    };
    let c = st.channels[&id].clone();
    Ok(json_answer(StatusCode::OK, st.channel_json(&c)))
}

// ---------------------------------------------------------------- commands

fn check_app(st: &State, raw: &str) -> Result<(), Response> {
    let id = snowflake("application_id", raw)?;
    if id != st.application_id {
        return Err(error(403, 50001, "Missing Access"));
    }
    Ok(())
}

fn normalise_command(st: &mut State, c: &Value, guild: bool, existing: &[Value]) -> Value {
    let kind = c.get("type").and_then(Value::as_u64).unwrap_or(1);
    let name = c.get("name").and_then(Value::as_str).unwrap_or_default();
    let prior = existing
        .iter()
        .find(|e| e["name"].as_str() == Some(name) && e["type"].as_u64() == Some(kind));
    let id = match prior {
        Some(p) => p["id"]
            .as_str()
            .and_then(|s| s.parse().ok())
            .unwrap_or_default(),
        None => st.snowflake(),
    };
    let version = st.snowflake();
    let mut out = json!({
        "id": id.to_string(),
        "application_id": st.application_id.to_string(),
        "version": version.to_string(),
        "type": kind,
        "name": name,
        "name_localizations": c.get("name_localizations").cloned().unwrap_or(Value::Null),
        "description": c.get("description").cloned().unwrap_or(json!("")),
        "description_localizations": c.get("description_localizations").cloned().unwrap_or(Value::Null),
        "default_member_permissions": c.get("default_member_permissions").cloned().unwrap_or(Value::Null),
        "dm_permission": c.get("dm_permission").cloned().unwrap_or(json!(true)),
        "nsfw": c.get("nsfw").cloned().unwrap_or(json!(false)),
        "contexts": c.get("contexts").cloned().unwrap_or(Value::Null),
        "integration_types": c.get("integration_types").cloned().unwrap_or(json!([0])),
    });
    if let Some(opts) = c.get("options").filter(|o| !o.is_null()) {
        out["options"] = opts.clone();
    }
    if guild {
        out["guild_id"] = json!(st.guild_id.to_string());
    }
    out
}

fn overwrite_commands(st: &mut State, body: &Value, guild: bool) -> Res {
    let Some(list) = body.as_array() else {
        return Err(invalid_form(&vec![(
            String::new(),
            "BASE_TYPE_LIST",
            "Must be a list.".into(),
        )]));
    };
    let mut problems = Problems::new();
    if list.len() > 100 {
        problems.push((
            String::new(),
            "BASE_TYPE_MAX_LENGTH",
            "Must be 100 or fewer in length.".into(),
        ));
    }
    let mut names = std::collections::HashSet::new();
    for (i, c) in list.iter().enumerate() {
        problems.extend(validate::command(c, &i.to_string()));
        let key = (
            c.get("type").and_then(Value::as_u64).unwrap_or(1),
            c.get("name")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned(),
        );
        if !names.insert(key) {
            problems.push((
                format!("{i}.name"),
                "APPLICATION_COMMANDS_DUPLICATE_NAME",
                "Application command names must be unique".into(),
            ));
        }
    }
    if !problems.is_empty() {
        return Err(invalid_form(&problems));
    }
    let existing = commands_of(st, guild).clone();
    let out: Vec<Value> = list
        .iter()
        .map(|c| normalise_command(st, c, guild, &existing))
        .collect();
    *commands_of(st, guild) = out.clone();
    Ok(json_answer(StatusCode::OK, Value::Array(out)))
}

fn create_command(st: &mut State, body: &Value, guild: bool) -> Res {
    let problems = validate::command(body, "");
    if !problems.is_empty() {
        return Err(invalid_form(&problems));
    }
    let existing = commands_of(st, guild).clone();
    let cmd = normalise_command(st, body, guild, &existing);
    let list = commands_of(st, guild);
    let status = match list.iter_mut().find(|c| c["id"] == cmd["id"]) {
        Some(slot) => {
            *slot = cmd.clone();
            StatusCode::OK
        }
        None => {
            list.push(cmd.clone());
            StatusCode::CREATED
        }
    };
    Ok(json_answer(status, cmd))
}

/// The guild's commands or the global ones.
fn commands_of(st: &mut State, guild: bool) -> &mut Vec<Value> {
    if guild {
        &mut st.guild_commands
    } else {
        &mut st.global_commands
    }
}

/// The global and the guild routes differ only in the list they work on: `guild` is the
/// guild in the path, if there is one.
fn command_scope(st: &State, app: &str, guild: Option<&str>) -> Result<bool, Response> {
    check_app(st, app)?;
    if let Some(guild) = guild {
        check_guild(st, guild)?;
    }
    Ok(guild.is_some())
}

fn list_commands(shared: &Shared, app: &str, guild: Option<&str>) -> Res {
    let mut st = shared.lock();
    let guild = command_scope(&st, app, guild)?;
    let list = commands_of(&mut st, guild).clone();
    Ok(json_answer(StatusCode::OK, Value::Array(list)))
}

fn put_commands(shared: &Shared, app: &str, guild: Option<&str>, body: &Bytes) -> Res {
    let body = parse_body(body)?;
    let mut st = shared.lock();
    let guild = command_scope(&st, app, guild)?;
    overwrite_commands(&mut st, &body, guild)
}

fn post_command(shared: &Shared, app: &str, guild: Option<&str>, body: &Bytes) -> Res {
    let body = parse_body(body)?;
    let mut st = shared.lock();
    let guild = command_scope(&st, app, guild)?;
    create_command(&mut st, &body, guild)
}

fn remove_command(shared: &Shared, app: &str, guild: Option<&str>, cmd: &str) -> Res {
    let mut st = shared.lock();
    let guild = command_scope(&st, app, guild)?;
    let list = commands_of(&mut st, guild);
    let before = list.len();
    list.retain(|c| c["id"].as_str() != Some(cmd));
    if list.len() == before {
        return Err(error(404, 10063, "Unknown application command"));
    }
    Ok(no_content())
}

async fn get_global_commands(AxState(shared): St, Path(app): Path<String>) -> Res {
    list_commands(&shared, &app, None)
}

async fn set_global_commands(AxState(shared): St, Path(app): Path<String>, body: Bytes) -> Res {
    put_commands(&shared, &app, None, &body)
}

async fn create_global_command(AxState(shared): St, Path(app): Path<String>, body: Bytes) -> Res {
    post_command(&shared, &app, None, &body)
}

async fn delete_global_command(
    AxState(shared): St,
    Path((app, cmd)): Path<(String, String)>,
) -> Res {
    remove_command(&shared, &app, None, &cmd)
}

async fn get_guild_commands(
    AxState(shared): St,
    Path((app, guild)): Path<(String, String)>,
) -> Res {
    list_commands(&shared, &app, Some(&guild))
}

async fn set_guild_commands(
    AxState(shared): St,
    Path((app, guild)): Path<(String, String)>,
    body: Bytes,
) -> Res {
    put_commands(&shared, &app, Some(&guild), &body)
}

async fn create_guild_command(
    AxState(shared): St,
    Path((app, guild)): Path<(String, String)>,
    body: Bytes,
) -> Res {
    post_command(&shared, &app, Some(&guild), &body)
}

async fn delete_guild_command(
    AxState(shared): St,
    Path((app, guild, cmd)): Path<(String, String, String)>,
) -> Res {
    remove_command(&shared, &app, Some(&guild), &cmd)
}

// ---------------------------------------------------------------- guild, roles, channels

async fn get_guild(
    AxState(shared): St,
    Path(guild): Path<String>,
    Query(q): Query<HashMap<String, String>>,
) -> Res {
    let st = shared.lock();
    check_guild(&st, &guild)?;
    let mut g = st.guild_json();
    if q.get("with_counts").is_some_and(|v| v == "true") {
        g["approximate_member_count"] = json!(st.members.len());
        g["approximate_presence_count"] = json!(0);
    }
    Ok(json_answer(StatusCode::OK, g))
}

async fn get_roles(AxState(shared): St, Path(guild): Path<String>) -> Res {
    let st = shared.lock();
    check_guild(&st, &guild)?;
    Ok(json_answer(StatusCode::OK, Value::Array(st.roles_json())))
}

async fn create_role(AxState(shared): St, Path(guild): Path<String>, body: Bytes) -> Res {
    let body = parse_body(&body)?;
    let mut st = shared.lock();
    check_guild(&st, &guild)?;
    let bot = st.bot_user_id;
    if st.permissions(bot) & perm::MANAGE_ROLES == 0 {
        return Err(error(403, 50013, "Missing Permissions"));
    }
    let body = if body.is_null() { json!({}) } else { body };
    let mut problems = Problems::new();
    if let Some(name) = body.get("name")
        && name.as_str().is_none_or(|n| n.chars().count() > 100)
    {
        problems.push((
            "name".into(),
            "BASE_TYPE_MAX_LENGTH",
            "Must be 100 or fewer in length.".into(),
        ));
    }
    let permissions = match body.get("permissions") {
        None | Some(Value::Null) => perm::EVERYONE_DEFAULT,
        Some(Value::String(s)) => match s.parse::<u64>() {
            Ok(p) => p,
            Err(_) => {
                problems.push((
                    "permissions".into(),
                    "NUMBER_TYPE_COERCE",
                    format!("Value \"{s}\" is not int."),
                ));
                0
            }
        },
        Some(Value::Number(n)) => n.as_u64().unwrap_or_default(),
        Some(_) => {
            problems.push((
                "permissions".into(),
                "NUMBER_TYPE_COERCE",
                "Value is not int.".into(),
            ));
            0
        }
    };
    if !problems.is_empty() {
        return Err(invalid_form(&problems));
    }
    // A role cannot be created with permissions the bot does not have.
    if permissions & !st.permissions(bot) != 0 {
        return Err(error(403, 50013, "Missing Permissions"));
    }
    // New roles go to position 1, just above @everyone; the others move up.
    for r in st.roles.values_mut() {
        if r.position >= 1 {
            r.position += 1;
        }
    }
    let id = st.snowflake();
    let role = Role {
        id,
        name: body
            .get("name")
            .and_then(Value::as_str)
            .unwrap_or("new role")
            .to_owned(),
        position: 1,
        permissions,
        managed_by_bot: None,
        color: body.get("color").and_then(Value::as_u64).unwrap_or(0),
        hoist: body.get("hoist").and_then(Value::as_bool).unwrap_or(false),
        mentionable: body
            .get("mentionable")
            .and_then(Value::as_bool)
            .unwrap_or(false),
    };
    st.roles.insert(id, role.clone());
    let rj = st.role_json(&role);
    let gid = st.guild_id.to_string();
    st.dispatch(
        "GUILD_ROLE_CREATE",
        json!({"guild_id": gid, "role": rj}),
        Some(intent::GUILDS),
    );
    Ok(json_answer(StatusCode::OK, rj))
}

async fn get_role(AxState(shared): St, Path((guild, role)): Path<(String, String)>) -> Res {
    let st = shared.lock();
    check_guild(&st, &guild)?;
    let role = snowflake("role_id", &role)?;
    let r = st
        .roles
        .get(&role)
        .ok_or_else(|| error(404, 10011, "Unknown Role"))?;
    Ok(json_answer(StatusCode::OK, st.role_json(r)))
}

/// The bot may edit a role only with Manage Roles and below its own highest role.
fn check_edit_role(st: &State, role: u64) -> Result<(), Response> {
    let Some(r) = st.roles.get(&role) else {
        return Err(error(404, 10011, "Unknown Role"));
    };
    let bot = st.bot_user_id;
    if st.permissions(bot) & perm::MANAGE_ROLES == 0 || r.position >= st.top_position(bot) {
        return Err(error(403, 50013, "Missing Permissions"));
    }
    Ok(())
}

fn role_updated(st: &mut State, role: u64) -> Value {
    let r = st.roles[&role].clone();
    let rj = st.role_json(&r);
    let gid = st.guild_id.to_string();
    st.dispatch(
        "GUILD_ROLE_UPDATE",
        json!({"guild_id": gid, "role": rj}),
        Some(intent::GUILDS),
    );
    rj
}

async fn modify_role(
    AxState(shared): St,
    Path((guild, role)): Path<(String, String)>,
    body: Bytes,
) -> Res {
    let body = parse_body(&body)?;
    let mut st = shared.lock();
    check_guild(&st, &guild)?;
    let role = snowflake("role_id", &role)?;
    check_edit_role(&st, role)?;
    let bot = st.bot_user_id;
    if let Some(p) = body.get("permissions").filter(|p| !p.is_null()) {
        let Some(bits) = p
            .as_str()
            .and_then(|s| s.parse::<u64>().ok())
            .or(p.as_u64())
        else {
            return Err(invalid_form(&vec![(
                "permissions".into(),
                "NUMBER_TYPE_COERCE",
                format!("Value \"{p}\" is not int."),
            )]));
        };
        if bits & !st.permissions(bot) != 0 {
            return Err(error(403, 50013, "Missing Permissions"));
        }
        st.roles.get_mut(&role).expect("role").permissions = bits;
    }
    let r = st.roles.get_mut(&role).expect("role");
    if let Some(name) = body.get("name").and_then(Value::as_str) {
        r.name = name.to_owned();
    }
    if let Some(c) = body.get("color").and_then(Value::as_u64) {
        r.color = c;
    }
    if let Some(h) = body.get("hoist").and_then(Value::as_bool) {
        r.hoist = h;
    }
    if let Some(m) = body.get("mentionable").and_then(Value::as_bool) {
        r.mentionable = m;
    }
    Ok(json_answer(StatusCode::OK, role_updated(&mut st, role)))
}

async fn move_roles(AxState(shared): St, Path(guild): Path<String>, body: Bytes) -> Res {
    let body = parse_body(&body)?;
    let mut st = shared.lock();
    check_guild(&st, &guild)?;
    let Some(list) = body.as_array() else {
        return Err(invalid_form(&vec![(
            String::new(),
            "BASE_TYPE_LIST",
            "Must be a list.".into(),
        )]));
    };
    let top = st.top_position(st.bot_user_id);
    let mut moves = Vec::new();
    for (i, item) in list.iter().enumerate() {
        let raw = item["id"]
            .as_str()
            .map(str::to_owned)
            .unwrap_or_else(|| item["id"].to_string());
        let id = snowflake(&format!("{i}.id"), &raw)?;
        check_edit_role(&st, id)?;
        if let Some(pos) = item.get("position").and_then(Value::as_i64) {
            if pos >= top || pos < 1 {
                return Err(error(403, 50013, "Missing Permissions"));
            }
            moves.push((id, pos));
        }
    }
    for (id, pos) in &moves {
        st.roles.get_mut(id).expect("role").position = *pos;
    }
    for (id, _) in &moves {
        role_updated(&mut st, *id);
    }
    Ok(json_answer(StatusCode::OK, Value::Array(st.roles_json())))
}

async fn delete_role(AxState(shared): St, Path((guild, role)): Path<(String, String)>) -> Res {
    let mut st = shared.lock();
    check_guild(&st, &guild)?;
    let role = snowflake("role_id", &role)?;
    check_edit_role(&st, role)?;
    if role == st.guild_id || st.roles[&role].managed_by_bot.is_some() {
        return Err(invalid_form(&vec![(
            "role_id".into(),
            "INVALID_ROLE",
            "This role cannot be deleted".into(),
        )]));
    }
    st.roles.remove(&role);
    for m in st.members.values_mut() {
        m.roles.retain(|r| *r != role);
    }
    let gid = st.guild_id.to_string();
    st.dispatch(
        "GUILD_ROLE_DELETE",
        json!({"guild_id": gid, "role_id": role.to_string()}),
        Some(intent::GUILDS),
    );
    Ok(no_content())
}

async fn get_channels(AxState(shared): St, Path(guild): Path<String>) -> Res {
    let st = shared.lock();
    check_guild(&st, &guild)?;
    Ok(json_answer(
        StatusCode::OK,
        Value::Array(st.guild_channels_json()),
    ))
}

// ---------------------------------------------------------------- members

async fn list_members(
    AxState(shared): St,
    Path(guild): Path<String>,
    Query(q): Query<HashMap<String, String>>,
) -> Res {
    let st = shared.lock();
    check_guild(&st, &guild)?;
    if !st.members_intent_enabled {
        return Err(error(403, 50001, "Missing Access"));
    }
    let limit = match q.get("limit") {
        None => 1,
        Some(raw) => match raw.parse::<u64>() {
            Ok(n) if (1..=1000).contains(&n) => n,
            _ => {
                return Err(invalid_form(&vec![(
                    "limit".into(),
                    "NUMBER_TYPE_MAX",
                    "int value should be less than or equal to 1000.".into(),
                )]));
            }
        },
    };
    let after = match q.get("after") {
        None => 0,
        Some(raw) => snowflake("after", raw)?,
    };
    let out: Vec<Value> = st
        .members
        .keys()
        .filter(|id| **id > after)
        .take(limit as usize)
        .filter_map(|id| st.member_json(*id, true))
        .collect();
    Ok(json_answer(StatusCode::OK, Value::Array(out)))
}

async fn get_member(AxState(shared): St, Path((guild, user)): Path<(String, String)>) -> Res {
    let st = shared.lock();
    check_guild(&st, &guild)?;
    let user = snowflake("user_id", &user)?;
    st.member_json(user, true)
        .map(|m| json_answer(StatusCode::OK, m))
        .ok_or_else(|| error(404, 10007, "Unknown Member"))
}

/// Whether the bot may give or take `role`: Manage Roles, and the role strictly below
/// the bot's highest role.
fn check_manage_role(st: &State, role: u64) -> Result<(), Response> {
    let Some(r) = st.roles.get(&role) else {
        return Err(error(404, 10011, "Unknown Role"));
    };
    let bot = st.bot_user_id;
    if st.permissions(bot) & perm::MANAGE_ROLES == 0
        || r.position >= st.top_position(bot)
        || r.managed_by_bot.is_some()
        || role == st.guild_id
    {
        return Err(error(403, 50013, "Missing Permissions"));
    }
    Ok(())
}

fn member_role_change(shared: &Shared, guild: &str, user: &str, role: &str, add: bool) -> Res {
    let mut st = shared.lock();
    check_guild(&st, guild)?;
    let user = snowflake("user_id", user)?;
    let role = snowflake("role_id", role)?;
    if !st.members.contains_key(&user) {
        return Err(error(404, 10007, "Unknown Member"));
    }
    check_manage_role(&st, role)?;
    let m = st.members.get_mut(&user).expect("member");
    let changed = if add {
        if m.roles.contains(&role) {
            false
        } else {
            m.roles.push(role);
            true
        }
    } else {
        let before = m.roles.len();
        m.roles.retain(|r| *r != role);
        before != m.roles.len()
    };
    if changed {
        st.member_update_event(user);
    }
    Ok(no_content())
}

async fn add_member_role(
    AxState(shared): St,
    Path((g, u, r)): Path<(String, String, String)>,
) -> Res {
    member_role_change(&shared, &g, &u, &r, true)
}

async fn remove_member_role(
    AxState(shared): St,
    Path((g, u, r)): Path<(String, String, String)>,
) -> Res {
    member_role_change(&shared, &g, &u, &r, false)
}

async fn modify_member(
    AxState(shared): St,
    Path((guild, user)): Path<(String, String)>,
    body: Bytes,
) -> Res {
    let body = parse_body(&body)?;
    let mut st = shared.lock();
    check_guild(&st, &guild)?;
    let user = snowflake("user_id", &user)?;
    let Some(member) = st.members.get(&user).cloned() else {
        return Err(error(404, 10007, "Unknown Member"));
    };
    let mut updated: Member = member.clone();
    if let Some(roles) = body.get("roles").filter(|r| !r.is_null()) {
        let Some(list) = roles.as_array() else {
            return Err(invalid_form(&vec![(
                "roles".into(),
                "BASE_TYPE_LIST",
                "Must be a list.".into(),
            )]));
        };
        let mut wanted = Vec::new();
        for (i, r) in list.iter().enumerate() {
            let raw = r
                .as_str()
                .map(str::to_owned)
                .unwrap_or_else(|| r.to_string());
            let id = snowflake(&format!("roles.{i}"), &raw)?;
            if !wanted.contains(&id) {
                wanted.push(id);
            }
        }
        for r in wanted.iter().filter(|r| !member.roles.contains(r)) {
            check_manage_role(&st, *r)?;
        }
        for r in member.roles.iter().filter(|r| !wanted.contains(r)) {
            check_manage_role(&st, *r)?;
        }
        updated.roles = wanted;
    }
    if let Some(nick) = body.get("nick") {
        updated.nick = nick.as_str().map(str::to_owned);
    }
    if let Some(until) = body.get("communication_disabled_until") {
        updated.communication_disabled_until = until.as_str().map(str::to_owned);
    }
    st.members.insert(user, updated);
    st.member_update_event(user);
    Ok(json_answer(
        StatusCode::OK,
        st.member_json(user, true).expect("member"),
    ))
}

async fn kick_member(
    AxState(shared): St,
    Path((guild, user)): Path<(String, String)>,
    headers: HeaderMap,
) -> Res {
    let mut st = shared.lock();
    check_guild(&st, &guild)?;
    let user = snowflake("user_id", &user)?;
    if !st.members.contains_key(&user) {
        return Err(error(404, 10007, "Unknown Member"));
    }
    let bot = st.bot_user_id;
    if st.permissions(bot) & perm::KICK_MEMBERS == 0
        || user == st.owner_id
        || user == bot
        || st.top_position(user) >= st.top_position(bot)
    {
        return Err(error(403, 50013, "Missing Permissions"));
    }
    let reason = headers
        .get("x-audit-log-reason")
        .and_then(|v| v.to_str().ok())
        .map(percent_decode);
    st.members.remove(&user);
    st.kicks.push((user, reason));
    let data = json!({"guild_id": st.guild_id.to_string(), "user": st.user_json(user)});
    st.dispatch("GUILD_MEMBER_REMOVE", data, Some(intent::GUILD_MEMBERS));
    Ok(no_content())
}

// ---------------------------------------------------------------- channels, messages

async fn get_channel(AxState(shared): St, Path(channel): Path<String>) -> Res {
    let st = shared.lock();
    let id = snowflake("channel_id", &channel)?;
    let c = st
        .channels
        .get(&id)
        .ok_or_else(|| error(404, 10003, "Unknown Channel"))?;
    Ok(json_answer(StatusCode::OK, st.channel_json(c)))
}

/// Parses `<@id>` / `<@!id>` mentions out of message content.
fn mentioned_users(content: &str) -> Vec<u64> {
    let mut out = Vec::new();
    let mut rest = content;
    while let Some(start) = rest.find("<@") {
        rest = &rest[start + 2..];
        let digits = rest.trim_start_matches('!');
        if let Some(end) = digits.find('>')
            && let Ok(id) = digits[..end].parse::<u64>()
            && !out.contains(&id)
        {
            out.push(id);
        }
    }
    out
}

/// Builds a stored message object from a validated body.
pub fn build_message(
    st: &mut State,
    channel_id: u64,
    body: &Value,
    kind: u64,
    extra: Option<Value>,
) -> Value {
    let id = st.snowflake();
    let content = body
        .get("content")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned();
    let mentions: Vec<Value> = mentioned_users(&content)
        .into_iter()
        .filter(|u| st.users.contains_key(u))
        .map(|u| st.user_json(u))
        .collect();
    let embeds: Vec<Value> = body
        .get("embeds")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default()
        .into_iter()
        .map(|mut e| {
            if e.get("type").is_none() {
                e["type"] = json!("rich");
            }
            e
        })
        .collect();
    let mut msg = json!({
        "id": id.to_string(),
        "channel_id": channel_id.to_string(),
        "author": st.user_json(st.bot_user_id),
        "content": content,
        "timestamp": timestamp(Utc::now()),
        "edited_timestamp": null,
        "tts": body.get("tts").and_then(Value::as_bool).unwrap_or(false),
        "mention_everyone": false,
        "mentions": mentions,
        "mention_roles": [],
        "attachments": [],
        "embeds": embeds,
        "pinned": false,
        "type": kind,
        "flags": body.get("flags").and_then(Value::as_u64).unwrap_or(0),
        "components": body.get("components").cloned().unwrap_or(json!([])),
    });
    if let Some(extra) = extra
        && let Some(obj) = extra.as_object()
    {
        for (k, v) in obj {
            msg[k] = v.clone();
        }
    }
    if let Some(c) = st.channels.get_mut(&channel_id) {
        c.last_message_id = Some(id);
    }
    msg
}

/// Records a message in its channel and dispatches MESSAGE_CREATE.
pub fn store_message(st: &mut State, msg: Value) {
    let id: u64 = msg["id"]
        .as_str()
        .and_then(|s| s.parse().ok())
        .unwrap_or_default();
    let channel: u64 = msg["channel_id"]
        .as_str()
        .and_then(|s| s.parse().ok())
        .unwrap_or_default();
    st.messages.insert(id, msg.clone());
    let dm = st.channels.get(&channel).is_some_and(|c| c.kind == 1);
    let mut event = msg;
    if !dm {
        event["guild_id"] = json!(st.guild_id.to_string());
        if let Some(m) = st.member_json(st.bot_user_id, false) {
            event["member"] = m;
        }
    }
    let needed = if dm {
        intent::DIRECT_MESSAGES
    } else {
        intent::GUILD_MESSAGES
    };
    st.dispatch("MESSAGE_CREATE", event, Some(needed));
}

async fn create_message(AxState(shared): St, Path(channel): Path<String>, body: Bytes) -> Res {
    let body = parse_body(&body)?;
    let mut st = shared.lock();
    let channel_id = snowflake("channel_id", &channel)?;
    let Some(channel) = st.channels.get(&channel_id).cloned() else {
        return Err(error(404, 10003, "Unknown Channel"));
    };
    let problems = validate::message(&body, true, 0);
    if !problems.is_empty() {
        return Err(invalid_form(&problems));
    }
    if channel.kind == 1 {
        let to = channel.recipient.unwrap_or_default();
        // DMs need a shared server and open DMs.
        let shares_a_server = st.members.contains_key(&to) || st.in_another_server.contains(&to);
        if st.closed_dms.contains(&to) || !shares_a_server {
            return Err(error(403, 50007, "Cannot send messages to this user"));
        }
    } else {
        let p = st.permissions(st.bot_user_id);
        if p & perm::VIEW_CHANNEL == 0 {
            return Err(error(403, 50001, "Missing Access"));
        }
        if p & perm::SEND_MESSAGES == 0 {
            return Err(error(403, 50013, "Missing Permissions"));
        }
    }
    let mut extra = None;
    if let Some(r) = body.get("message_reference").filter(|r| !r.is_null()) {
        extra = Some(json!({"message_reference": r}));
    }
    let msg = build_message(&mut st, channel_id, &body, 0, extra);
    store_message(&mut st, msg.clone());
    Ok(json_answer(StatusCode::OK, msg))
}

async fn get_messages(
    AxState(shared): St,
    Path(channel): Path<String>,
    Query(q): Query<HashMap<String, String>>,
) -> Res {
    let st = shared.lock();
    let channel_id = snowflake("channel_id", &channel)?;
    if !st.channels.contains_key(&channel_id) {
        return Err(error(404, 10003, "Unknown Channel"));
    }
    let limit = q
        .get("limit")
        .and_then(|l| l.parse::<usize>().ok())
        .unwrap_or(50)
        .clamp(1, 100);
    let cid = channel_id.to_string();
    let out: Vec<Value> = st
        .messages
        .values()
        .rev()
        .filter(|m| m["channel_id"].as_str() == Some(cid.as_str()))
        .take(limit)
        .cloned()
        .collect();
    Ok(json_answer(StatusCode::OK, Value::Array(out)))
}

fn find_message(st: &State, channel: &str, message: &str) -> Result<(u64, u64), Response> {
    let channel_id = snowflake("channel_id", channel)?;
    let message_id = snowflake("message_id", message)?;
    if !st.channels.contains_key(&channel_id) {
        return Err(error(404, 10003, "Unknown Channel"));
    }
    match st.messages.get(&message_id) {
        Some(m) if m["channel_id"].as_str() == Some(channel_id.to_string().as_str()) => {
            Ok((channel_id, message_id))
        }
        _ => Err(error(404, 10008, "Unknown Message")),
    }
}

async fn get_message(AxState(shared): St, Path((c, m)): Path<(String, String)>) -> Res {
    let st = shared.lock();
    let (_, id) = find_message(&st, &c, &m)?;
    Ok(json_answer(StatusCode::OK, st.messages[&id].clone()))
}

/// Applies an edit body to a stored message.
pub fn apply_edit(msg: &mut Value, body: &Value) {
    for key in [
        "content",
        "embeds",
        "components",
        "flags",
        "allowed_mentions",
    ] {
        if let Some(v) = body.get(key) {
            msg[key] = if v.is_null() && key != "content" {
                json!([])
            } else {
                v.clone()
            };
        }
    }
    msg["edited_timestamp"] = json!(timestamp(Utc::now()));
}

async fn edit_message(
    AxState(shared): St,
    Path((c, m)): Path<(String, String)>,
    body: Bytes,
) -> Res {
    let body = parse_body(&body)?;
    let mut st = shared.lock();
    let (_, id) = find_message(&st, &c, &m)?;
    let problems = validate::message(&body, false, 0);
    if !problems.is_empty() {
        return Err(invalid_form(&problems));
    }
    let msg = st.messages.get_mut(&id).expect("message");
    apply_edit(msg, &body);
    let out = msg.clone();
    let mut event = out.clone();
    let dm = st
        .channels
        .get(&c.parse().unwrap_or_default())
        .is_some_and(|ch| ch.kind == 1);
    if !dm {
        event["guild_id"] = json!(st.guild_id.to_string());
    }
    st.dispatch(
        "MESSAGE_UPDATE",
        event,
        Some(if dm {
            intent::DIRECT_MESSAGES
        } else {
            intent::GUILD_MESSAGES
        }),
    );
    Ok(json_answer(StatusCode::OK, out))
}

async fn delete_message(AxState(shared): St, Path((c, m)): Path<(String, String)>) -> Res {
    let mut st = shared.lock();
    let (channel_id, id) = find_message(&st, &c, &m)?;
    st.messages.remove(&id);
    let dm = st.channels.get(&channel_id).is_some_and(|ch| ch.kind == 1);
    let mut event = json!({"id": id.to_string(), "channel_id": channel_id.to_string()});
    if !dm {
        event["guild_id"] = json!(st.guild_id.to_string());
    }
    st.dispatch(
        "MESSAGE_DELETE",
        event,
        Some(if dm {
            intent::DIRECT_MESSAGES
        } else {
            intent::GUILD_MESSAGES
        }),
    );
    Ok(no_content())
}

// ---------------------------------------------------------------- interactions

/// The global limit's window (see `rest_layer`).
const GLOBAL_WINDOW: Duration = Duration::from_millis(950);

/// How long an interaction token stays valid for edits and followups.
pub const TOKEN_LIFETIME: Duration = Duration::from_secs(15 * 60);

async fn interaction_callback(
    AxState(shared): St,
    Path((id, token)): Path<(String, String)>,
    Query(q): Query<HashMap<String, String>>,
    body: Bytes,
) -> Res {
    let parsed = parse_body(&body)?;
    let mut st = shared.lock();
    let id = snowflake("interaction_id", &id)?;
    let Some(rec) = st.interactions.get(&id).cloned() else {
        return Err(error(404, 10062, "Unknown interaction"));
    };
    let answer = callback(&mut st, &rec, &token, &parsed, &q);
    let status = match &answer {
        Ok(r) | Err(r) => r.status().as_u16(),
    };
    if let Some(r) = st.interactions.get_mut(&id) {
        r.callback_attempts.push((parsed, status));
    }
    answer
}

fn callback(
    st: &mut State,
    rec: &super::state::InteractionRecord,
    token: &str,
    body: &Value,
    q: &HashMap<String, String>,
) -> Res {
    if rec.token != token {
        return Err(error(401, 50027, "Invalid Webhook Token"));
    }
    if rec.response.is_some() {
        return Err(error(
            400,
            40060,
            "Interaction has already been acknowledged.",
        ));
    }
    if rec.created.elapsed() > st.interaction_deadline {
        return Err(error(404, 10062, "Unknown interaction"));
    }
    let kind = body.get("type").and_then(Value::as_u64);
    let data = body.get("data").cloned().unwrap_or(Value::Null);
    let from_component = rec.kind == 3 || rec.payload.get("message").is_some();
    let problems: Problems = match kind {
        Some(4) => validate::message(&data, true, 1 << 6)
            .into_iter()
            .map(|(p, c, m)| {
                (
                    if p.is_empty() {
                        "data".into()
                    } else {
                        format!("data.{p}")
                    },
                    c,
                    m,
                )
            })
            .collect(),
        Some(7) if from_component => validate::message(&data, false, 1 << 6)
            .into_iter()
            .map(|(p, c, m)| (format!("data.{p}"), c, m))
            .collect(),
        Some(5) => {
            let flags = data.get("flags").and_then(Value::as_u64).unwrap_or(0);
            if flags & !(1 << 6) != 0 {
                vec![(
                    "data.flags".into(),
                    "MESSAGE_FLAGS_INVALID",
                    "Invalid flags".into(),
                )]
            } else {
                vec![]
            }
        }
        Some(6) if from_component => vec![],
        Some(9) if rec.kind != 5 => validate::modal(&data),
        _ => vec![(
            "type".into(),
            "INTERACTION_RESPONSE_TYPE_INVALID",
            "Interaction response type is invalid for this interaction.".into(),
        )],
    };
    if !problems.is_empty() {
        // An empty type 4 answer is reported with its own code, like Create Message.
        if problems.len() == 1 && problems[0].1 == "EMPTY" {
            return Err(error(400, 50006, "Cannot send an empty message"));
        }
        return Err(invalid_form(&problems));
    }
    let kind = kind.expect("validated");
    let mut original = None;
    let ephemeral = data.get("flags").and_then(Value::as_u64).unwrap_or(0) & (1 << 6) != 0;
    let meta = json!({
        "webhook_id": st.application_id.to_string(),
        "application_id": st.application_id.to_string(),
        "interaction_metadata": {
            "id": rec.id.to_string(),
            "type": rec.kind,
            "user": st.user_json(rec.user_id),
            "authorizing_integration_owners": {"0": st.guild_id.to_string()},
        },
    });
    let msg_kind = if rec.kind == 2 { 20 } else { 0 };
    match kind {
        4 => {
            let msg = build_message(st, rec.channel_id, &data, msg_kind, Some(meta));
            if !ephemeral {
                store_message(st, msg.clone());
            }
            original = Some(msg);
        }
        5 => {
            let mut d = data.clone();
            d["flags"] = json!(data.get("flags").and_then(Value::as_u64).unwrap_or(0) | 128);
            d["content"] = json!("");
            let msg = build_message(st, rec.channel_id, &d, msg_kind, Some(meta));
            original = Some(msg);
        }
        6 | 7 => {
            let mid: u64 = rec.payload["message"]["id"]
                .as_str()
                .and_then(|s| s.parse().ok())
                .unwrap_or_default();
            if let Some(m) = st.messages.get_mut(&mid) {
                if kind == 7 {
                    apply_edit(m, &data);
                }
                original = Some(m.clone());
            }
        }
        _ => {}
    }
    let response = json!({"type": kind, "data": data});
    if let Some(r) = st.interactions.get_mut(&rec.id) {
        r.response = Some(response);
        r.original = original.clone();
    }
    if q.get("with_response").is_some_and(|v| v == "true") {
        let mut resource = json!({"type": kind});
        if let Some(m) = &original {
            resource["message"] = m.clone();
        }
        return Ok(json_answer(
            StatusCode::OK,
            json!({
                "interaction": {
                    "id": rec.id.to_string(),
                    "type": rec.kind,
                    "response_message_id": original.as_ref().map(|m| m["id"].clone()),
                    "response_message_loading": kind == 5,
                    "response_message_ephemeral": ephemeral,
                },
                "resource": resource,
            }),
        ));
    }
    Ok(no_content())
}

fn find_by_token(st: &State, app: &str, token: &str) -> Result<u64, Response> {
    let app = snowflake("webhook_id", app)?;
    if app != st.application_id {
        return Err(error(404, 10015, "Unknown Webhook"));
    }
    let rec = st
        .interactions
        .values()
        .find(|r| r.token == token)
        .ok_or_else(|| error(401, 50027, "Invalid Webhook Token"))?;
    if rec.created.elapsed() > TOKEN_LIFETIME {
        return Err(error(401, 50027, "Invalid Webhook Token"));
    }
    Ok(rec.id)
}

async fn create_followup(
    AxState(shared): St,
    Path((app, token)): Path<(String, String)>,
    body: Bytes,
) -> Res {
    let body = parse_body(&body)?;
    let mut st = shared.lock();
    let id = find_by_token(&st, &app, &token)?;
    let rec = st.interactions[&id].clone();
    if rec.response.is_none() {
        return Err(error(404, 10015, "Unknown Webhook"));
    }
    let problems = validate::message(&body, true, 1 << 6);
    if !problems.is_empty() {
        return Err(invalid_form(&problems));
    }
    // Right after a deferred response (type 5), the first followup edits the
    // "thinking..." original, as Discord documents for backwards compatibility.
    let deferred_open = rec.response.as_ref().is_some_and(|r| r["type"] == 5)
        && rec
            .original
            .as_ref()
            .is_some_and(|o| o["flags"].as_u64().unwrap_or(0) & 128 != 0);
    if deferred_open {
        let mut msg = rec.original.clone().expect("original");
        apply_edit(&mut msg, &body);
        let flags = msg["flags"].as_u64().unwrap_or(0) & !128;
        let keep_ephemeral = rec
            .original
            .as_ref()
            .and_then(|o| o["flags"].as_u64())
            .unwrap_or(0)
            & 64;
        msg["flags"] = json!(flags | keep_ephemeral);
        if keep_ephemeral == 0 {
            store_message(&mut st, msg.clone());
        }
        st.interactions.get_mut(&id).expect("rec").original = Some(msg.clone());
        return Ok(json_answer(StatusCode::OK, msg));
    }
    let meta = json!({"webhook_id": st.application_id.to_string(), "application_id": st.application_id.to_string()});
    let msg = build_message(&mut st, rec.channel_id, &body, 0, Some(meta));
    if body.get("flags").and_then(Value::as_u64).unwrap_or(0) & 64 == 0 {
        store_message(&mut st, msg.clone());
    }
    st.interactions
        .get_mut(&id)
        .expect("rec")
        .followups
        .push(msg.clone());
    Ok(json_answer(StatusCode::OK, msg))
}

/// The message a webhook route names: `@original` or a followup id.
fn webhook_target(st: &State, id: u64, message: &str) -> Result<Value, Response> {
    let rec = &st.interactions[&id];
    if message == "@original" {
        return rec
            .original
            .clone()
            .ok_or_else(|| error(404, 10008, "Unknown Message"));
    }
    rec.followups
        .iter()
        .find(|m| m["id"].as_str() == Some(message))
        .cloned()
        .ok_or_else(|| error(404, 10008, "Unknown Message"))
}

async fn get_webhook_message(
    AxState(shared): St,
    Path((app, token, message)): Path<(String, String, String)>,
) -> Res {
    let st = shared.lock();
    let id = find_by_token(&st, &app, &token)?;
    Ok(json_answer(
        StatusCode::OK,
        webhook_target(&st, id, &message)?,
    ))
}

async fn edit_webhook_message(
    AxState(shared): St,
    Path((app, token, message)): Path<(String, String, String)>,
    body: Bytes,
) -> Res {
    let body = parse_body(&body)?;
    let mut st = shared.lock();
    let id = find_by_token(&st, &app, &token)?;
    let mut msg = webhook_target(&st, id, &message)?;
    let problems = validate::message(&body, false, 1 << 6);
    if !problems.is_empty() {
        return Err(invalid_form(&problems));
    }
    apply_edit(&mut msg, &body);
    if message == "@original" {
        // Editing a deferred original ends its loading state.
        let flags = msg["flags"].as_u64().unwrap_or(0);
        msg["flags"] = json!(flags & !128);
    }
    let mid: u64 = msg["id"]
        .as_str()
        .and_then(|s| s.parse().ok())
        .unwrap_or_default();
    let ephemeral = msg["flags"].as_u64().unwrap_or(0) & 64 != 0;
    let known = st.messages.contains_key(&mid);
    if known || !ephemeral {
        st.messages.insert(mid, msg.clone());
    }
    let rec = st.interactions.get_mut(&id).expect("rec");
    if message == "@original" {
        rec.original = Some(msg.clone());
    } else if let Some(f) = rec.followups.iter_mut().find(|m| m["id"] == msg["id"]) {
        *f = msg.clone();
    }
    Ok(json_answer(StatusCode::OK, msg))
}

async fn delete_webhook_message(
    AxState(shared): St,
    Path((app, token, message)): Path<(String, String, String)>,
) -> Res {
    let mut st = shared.lock();
    let id = find_by_token(&st, &app, &token)?;
    let msg = webhook_target(&st, id, &message)?;
    let mid: u64 = msg["id"]
        .as_str()
        .and_then(|s| s.parse().ok())
        .unwrap_or_default();
    st.messages.remove(&mid);
    let rec = st.interactions.get_mut(&id).expect("rec");
    if message == "@original" {
        rec.original = None;
    } else {
        rec.followups.retain(|m| m["id"] != msg["id"]);
    }
    Ok(no_content())
}
