//! Checks of the fake Discord with the real twilight clients: if these pass, the bot's
//! library understands what the fake says, and the fake answers as Discord documents.

use std::time::Duration;

use serde_json::{Value, json};
use twilight_gateway::{ConfigBuilder, Event, EventTypeFlags, Intents, Shard, ShardId, StreamExt};
use twilight_http::Client;
use twilight_http::api_error::ApiError;
use twilight_http::error::ErrorType;
use twilight_http::request::AuditLogReason;
use twilight_model::id::Id;

use super::FakeDiscord;

fn install_crypto() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}

fn http(fake: &FakeDiscord) -> Client {
    install_crypto();
    Client::builder()
        .proxy(fake.proxy_host(), true)
        .token(format!("Bot {}", FakeDiscord::BOT_TOKEN))
        .timeout(Duration::from_secs(10))
        .build()
}

fn shard_with(fake: &FakeDiscord, token: &str, intents: Intents) -> Shard {
    install_crypto();
    let config = ConfigBuilder::new(token.to_owned(), intents)
        .proxy_url(fake.gateway_url())
        .build();
    Shard::with_config(ShardId::ONE, config)
}

fn shard(fake: &FakeDiscord) -> Shard {
    shard_with(
        fake,
        FakeDiscord::BOT_TOKEN,
        Intents::GUILDS | Intents::GUILD_MEMBERS,
    )
}

/// Reads events until `pick` returns Some; panics after 10 s or on a read error.
async fn next<T>(shard: &mut Shard, mut pick: impl FnMut(&Event) -> Option<T>) -> T {
    let wait = async {
        loop {
            match shard.next_event(EventTypeFlags::all()).await {
                Some(Ok(event)) => {
                    if let Some(v) = pick(&event) {
                        return v;
                    }
                }
                Some(Err(e)) => panic!("gateway error: {e:?}"),
                None => panic!("the shard closed for good"),
            }
        }
    };
    tokio::time::timeout(Duration::from_secs(10), wait)
        .await
        .expect("timed out waiting for a gateway event")
}

/// Runs the shard in the background until it has seen GUILD_CREATE, then keeps
/// polling it (so heartbeats, resumes and reconnects happen) and forwards events.
fn spawn_shard(mut shard: Shard) -> tokio::sync::mpsc::UnboundedReceiver<Event> {
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
    tokio::spawn(async move {
        while let Some(item) = shard.next_event(EventTypeFlags::all()).await {
            match item {
                Ok(event) => {
                    if tx.send(event).is_err() {
                        return;
                    }
                }
                Err(e) => panic!("gateway error: {e:?}"),
            }
        }
    });
    rx
}

async fn recv<T>(
    rx: &mut tokio::sync::mpsc::UnboundedReceiver<Event>,
    mut pick: impl FnMut(&Event) -> Option<T>,
) -> T {
    let wait = async {
        loop {
            let event = rx.recv().await.expect("shard task ended");
            if let Some(v) = pick(&event) {
                return v;
            }
        }
    };
    tokio::time::timeout(Duration::from_secs(15), wait)
        .await
        .expect("timed out waiting for a gateway event")
}

fn api_error(e: &twilight_http::Error) -> (u16, u64, String) {
    match e.kind() {
        ErrorType::Response { status, error, .. } => match error {
            ApiError::General(g) => (status.get(), g.code, g.message.clone()),
            other => (status.get(), 0, format!("{other:?}")),
        },
        other => panic!("not a Discord error answer: {other:?}"),
    }
}

#[tokio::test]
async fn a_twilight_shard_identifies_and_receives_ready_guild_create_and_member_add() {
    let fake = FakeDiscord::start().await;
    let mut shard = shard(&fake);
    let ready = next(&mut shard, |e| match e {
        Event::Ready(r) => Some(r.clone()),
        _ => None,
    })
    .await;
    assert_eq!(ready.user.id.get(), fake.bot_user_id());
    assert_eq!(ready.application.id.get(), fake.application_id());
    assert_eq!(ready.resume_gateway_url, fake.resume_gateway_url());
    assert_eq!(ready.guilds[0].id.get(), fake.guild_id());
    let guild = next(&mut shard, |e| match e {
        Event::GuildCreate(g) => Some(g.clone()),
        _ => None,
    })
    .await;
    let twilight_model::gateway::payload::incoming::GuildCreate::Available(guild) = *guild else {
        panic!("guild unavailable");
    };
    assert_eq!(guild.id.get(), fake.guild_id());
    assert!(guild.roles.iter().any(|r| r.name == "doorman"));
    assert!(
        guild
            .channels
            .iter()
            .any(|c| c.name.as_deref() == Some("verification"))
    );
    assert_eq!(guild.member_count, Some(2));
    // Without GUILD_PRESENCES, Discord lists only the bot itself.
    assert_eq!(guild.members.len(), 1);
    assert_eq!(guild.members[0].user.id.get(), fake.bot_user_id());
    assert_eq!(fake.identifies(), 1);

    fake.member_join(4242, "newcomer").await;
    let added = next(&mut shard, |e| match e {
        Event::MemberAdd(m) => Some(m.clone()),
        _ => None,
    })
    .await;
    assert_eq!(added.member.user.id.get(), 4242);
    assert_eq!(added.guild_id.get(), fake.guild_id());
    assert!(!added.member.pending);
    let (_, query, outcome, _) = &fake.gateway_connections()[0];
    assert!(
        query.contains("v=10") && query.contains("encoding=json"),
        "{query}"
    );
    assert_eq!(outcome, "identify");
}

#[tokio::test]
async fn a_wrong_token_on_the_gateway_is_closed_with_4004() {
    let fake = FakeDiscord::start().await;
    let mut shard = shard_with(&fake, "not-the-token", Intents::GUILDS);
    let code = next(&mut shard, |e| match e {
        Event::GatewayClose(Some(frame)) => Some(frame.code),
        _ => None,
    })
    .await;
    assert_eq!(code, 4004);
    assert_eq!(fake.identifies(), 0);
}

#[tokio::test]
async fn the_members_intent_when_not_enabled_is_closed_with_4014() {
    let fake = FakeDiscord::start().await;
    fake.set_members_intent_enabled(false);
    let mut shard = shard(&fake);
    let code = next(&mut shard, |e| match e {
        Event::GatewayClose(Some(frame)) => Some(frame.code),
        _ => None,
    })
    .await;
    assert_eq!(code, 4014);
}

#[tokio::test]
async fn member_events_need_the_guild_members_intent() {
    let fake = FakeDiscord::start().await;
    let mut rx = spawn_shard(shard_with(&fake, FakeDiscord::BOT_TOKEN, Intents::GUILDS));
    recv(&mut rx, |e| {
        matches!(e, Event::GuildCreate(_)).then_some(())
    })
    .await;
    fake.member_join(77, "quiet").await;
    let role = fake.add_role("member", 1);
    // GUILD_ROLE_CREATE arrives (GUILDS) but GUILD_MEMBER_ADD never did.
    let mut saw_member = false;
    recv(&mut rx, |e| {
        saw_member |= matches!(e, Event::MemberAdd(_));
        matches!(e, Event::RoleCreate(r) if r.role.id.get() == role).then_some(())
    })
    .await;
    assert!(!saw_member);
}

#[tokio::test]
async fn heartbeats_are_acknowledged() {
    let fake = FakeDiscord::start().await;
    fake.set_heartbeat_interval(100);
    let mut shard = shard(&fake);
    next(&mut shard, |e| {
        matches!(e, Event::GatewayHeartbeatAck).then_some(())
    })
    .await;
    assert!(fake.heartbeats() >= 1);
}

#[tokio::test]
async fn a_dm_is_created_and_a_message_with_an_embed_and_a_button_is_sent() {
    let fake = FakeDiscord::start().await;
    let client = http(&fake);
    fake.member_join(501, "alice").await;
    let dm = client
        .create_private_channel(Id::new(501))
        .await
        .expect("create DM")
        .model()
        .await
        .expect("channel");
    assert_eq!(dm.kind, twilight_model::channel::ChannelType::Private);
    let button = twilight_model::channel::message::component::Button {
        custom_id: Some("verify:501".into()),
        disabled: false,
        emoji: None,
        label: Some("Verify".into()),
        style: twilight_model::channel::message::component::ButtonStyle::Primary,
        url: None,
        sku_id: None,
        id: None,
    };
    let row = twilight_model::channel::message::Component::ActionRow(
        twilight_model::channel::message::component::ActionRow {
            id: None,
            components: vec![twilight_model::channel::message::Component::Button(button)],
        },
    );
    let embed = twilight_util::builder::embed::EmbedBuilder::new()
        .title("Verify yourself")
        .description("You have 5 minutes.")
        .build();
    let sent = client
        .create_message(dm.id)
        .embeds(&[embed])
        .components(&[row])
        .await
        .expect("send")
        .model()
        .await
        .expect("message");
    let dms = fake.dms_to(501);
    assert_eq!(dms.len(), 1);
    assert_eq!(dms[0]["embeds"][0]["title"], "Verify yourself");
    assert_eq!(fake.buttons(sent.id.get()), vec!["verify:501".to_owned()]);
    assert_eq!(sent.author.id.get(), fake.bot_user_id());
}

#[tokio::test]
async fn closed_dms_answer_403_with_code_50007_through_twilights_error() {
    let fake = FakeDiscord::start().await;
    let client = http(&fake);
    fake.member_join(502, "bob").await;
    fake.close_dms(502);
    let dm = client
        .create_private_channel(Id::new(502))
        .await
        .expect("DM")
        .model()
        .await
        .expect("channel");
    let err = client
        .create_message(dm.id)
        .content("hello")
        .await
        .expect_err("closed DMs");
    assert_eq!(
        api_error(&err),
        (403, 50007, "Cannot send messages to this user".into())
    );
    assert!(fake.dms_to(502).is_empty());
    // The fallback channel works.
    let verification = fake.channel_id("verification").expect("channel");
    client
        .create_message(Id::new(verification))
        .content("<@502> please verify")
        .await
        .expect("channel message");
    let posted = fake.channel_messages(verification);
    assert_eq!(posted[0]["mentions"][0]["id"], "502");
}

#[tokio::test]
async fn adding_and_removing_roles_follow_the_role_hierarchy() {
    let fake = FakeDiscord::start().await;
    let client = http(&fake);
    let guild = Id::new(fake.guild_id());
    let member = fake.add_role("member", 2);
    let above = fake.add_role("moderators", 20);
    fake.member_join(600, "carol").await;
    client
        .add_guild_member_role(guild, Id::new(600), Id::new(member))
        .await
        .expect("add");
    assert_eq!(fake.member_roles(600), Some(vec![member]));
    let err = client
        .add_guild_member_role(guild, Id::new(600), Id::new(above))
        .await
        .expect_err("role above the bot");
    assert_eq!(api_error(&err).1, 50013);
    let err = client
        .add_guild_member_role(guild, Id::new(601), Id::new(member))
        .await
        .expect_err("unknown member");
    assert_eq!(api_error(&err), (404, 10007, "Unknown Member".into()));
    let err = client
        .add_guild_member_role(guild, Id::new(600), Id::new(999))
        .await
        .expect_err("unknown role");
    assert_eq!(api_error(&err), (404, 10011, "Unknown Role".into()));
    client
        .remove_guild_member_role(guild, Id::new(600), Id::new(member))
        .await
        .expect("remove");
    assert_eq!(fake.member_roles(600), Some(vec![]));
}

#[tokio::test]
async fn a_role_change_through_rest_sends_guild_member_update() {
    let fake = FakeDiscord::start().await;
    let mut rx = spawn_shard(shard(&fake));
    recv(&mut rx, |e| {
        matches!(e, Event::GuildCreate(_)).then_some(())
    })
    .await;
    let client = http(&fake);
    let member = fake.add_role("member", 2);
    fake.member_join(610, "dan").await;
    client
        .add_guild_member_role(Id::new(fake.guild_id()), Id::new(610), Id::new(member))
        .await
        .expect("add");
    let update = recv(&mut rx, |e| match e {
        Event::MemberUpdate(u) if u.user.id.get() == 610 => Some(u.clone()),
        _ => None,
    })
    .await;
    assert_eq!(update.roles, vec![Id::new(member)]);
}

#[tokio::test]
async fn a_kick_records_the_audit_log_reason_and_sends_member_remove() {
    let fake = FakeDiscord::start().await;
    let mut rx = spawn_shard(shard(&fake));
    recv(&mut rx, |e| {
        matches!(e, Event::GuildCreate(_)).then_some(())
    })
    .await;
    let client = http(&fake);
    fake.member_join(700, "eve").await;
    client
        .remove_guild_member(Id::new(fake.guild_id()), Id::new(700))
        .reason("Verification timeout")
        .await
        .expect("kick");
    assert_eq!(
        fake.kicks(),
        vec![(700, Some("Verification timeout".to_owned()))]
    );
    assert_eq!(fake.member_roles(700), None);
    recv(&mut rx, |e| {
        matches!(e, Event::MemberRemove(r) if r.user.id.get() == 700).then_some(())
    })
    .await;
    let err = client
        .remove_guild_member(Id::new(fake.guild_id()), Id::new(700))
        .await
        .expect_err("gone");
    assert_eq!(api_error(&err).1, 10007);
    let err = client
        .remove_guild_member(Id::new(fake.guild_id()), Id::new(fake.owner_id()))
        .await
        .expect_err("owner");
    assert_eq!(api_error(&err), (403, 50013, "Missing Permissions".into()));
}

#[tokio::test]
async fn a_wrong_rest_token_answers_401_with_code_0() {
    let fake = FakeDiscord::start().await;
    let resp = reqwest::Client::new()
        .get(format!("{}/api/v10/users/@me", fake.api_url()))
        .header("Authorization", "Bot nope")
        .send()
        .await
        .expect("request");
    assert_eq!(resp.status(), 401);
    assert!(resp.headers().contains_key("x-ratelimit-bucket"));
    let body: Value = resp.json().await.expect("json");
    assert_eq!(body, json!({"message": "401: Unauthorized", "code": 0}));
}

#[tokio::test]
async fn current_user_application_roles_channels_and_members_deserialise_in_twilight() {
    let fake = FakeDiscord::start().await;
    let client = http(&fake);
    let guild = Id::new(fake.guild_id());
    let me = client
        .current_user()
        .await
        .expect("me")
        .model()
        .await
        .expect("user");
    assert_eq!(me.id.get(), fake.bot_user_id());
    assert!(me.bot);
    let app = client
        .current_user_application()
        .await
        .expect("app")
        .model()
        .await
        .expect("application");
    assert_eq!(app.id.get(), fake.application_id());
    let roles = client
        .roles(guild)
        .await
        .expect("roles")
        .model()
        .await
        .expect("roles");
    assert!(
        roles
            .iter()
            .any(|r| r.name == "@everyone" && r.position == 0)
    );
    let channels = client
        .guild_channels(guild)
        .await
        .expect("channels")
        .model()
        .await
        .expect("channels");
    assert_eq!(channels.len(), 2);
    let created = client
        .create_role(guild)
        .name("unverified")
        .await
        .expect("create role")
        .model()
        .await
        .expect("role");
    assert_eq!(created.position, 1);
    assert_eq!(fake.role_id("unverified"), Some(created.id.get()));
    fake.add_existing_member(
        800,
        "old-timer",
        chrono::Utc::now() - chrono::Duration::days(100),
        &[],
    );
    let members = client
        .guild_members(guild)
        .limit(1000)
        .await
        .expect("list")
        .models()
        .await
        .expect("members");
    assert_eq!(members.len(), 3);
    let one = client
        .guild_member(guild, Id::new(800))
        .await
        .expect("get")
        .model()
        .await
        .expect("member");
    assert_eq!(one.user.name, "old-timer");
    let gateway = client
        .gateway()
        .authed()
        .await
        .expect("gateway/bot")
        .model()
        .await
        .expect("info");
    assert_eq!(gateway.url, fake.gateway_url());
}

// ------------------------------------------------------------------ stage 2

use twilight_model::application::interaction::{
    Interaction as TwInteraction, InteractionData, InteractionType,
};
use twilight_model::channel::message::component::{
    ActionRow, Button, ButtonStyle, Label, TextInput, TextInputStyle,
};
use twilight_model::channel::message::{Component, MessageFlags};
use twilight_model::http::interaction::InteractionResponseData;
use twilight_model::http::interaction::{InteractionResponse, InteractionResponseType};

fn verify_button(custom_id: &str) -> Component {
    Component::ActionRow(ActionRow {
        id: None,
        components: vec![Component::Button(Button {
            custom_id: Some(custom_id.into()),
            disabled: false,
            emoji: None,
            label: Some("Verify".into()),
            style: ButtonStyle::Primary,
            url: None,
            sku_id: None,
            id: None,
        })],
    })
}

// The text input's own label is deprecated (Discord prefers a Label around it) but
// still accepted in action rows; these checks use both layouts.
#[allow(deprecated)]
fn text_input(custom_id: &str) -> Component {
    Component::TextInput(TextInput {
        custom_id: custom_id.into(),
        id: None,
        label: None,
        max_length: Some(200),
        min_length: Some(1),
        placeholder: None,
        required: Some(true),
        style: TextInputStyle::Short,
        value: None,
    })
}

fn labelled(label: &str, custom_id: &str) -> Component {
    Component::Label(Label {
        component: Box::new(text_input(custom_id)),
        description: None,
        id: None,
        label: label.into(),
    })
}

/// Sends a DM with a Verify button to `user` and returns the message id.
async fn dm_with_button(fake: &FakeDiscord, client: &Client, user: u64, custom_id: &str) -> u64 {
    let dm = client
        .create_private_channel(Id::new(user))
        .await
        .expect("DM")
        .model()
        .await
        .expect("channel");
    let msg = client
        .create_message(dm.id)
        .content("Please verify")
        .components(&[verify_button(custom_id)])
        .await
        .expect("send")
        .model()
        .await
        .expect("message");
    assert_eq!(fake.buttons(msg.id.get()), vec![custom_id.to_owned()]);
    msg.id.get()
}

#[tokio::test]
async fn after_the_connection_drops_the_shard_resumes_at_resume_gateway_url_and_gets_the_missed_event()
 {
    let fake = FakeDiscord::start().await;
    let mut rx = spawn_shard(shard(&fake));
    recv(&mut rx, |e| {
        matches!(e, Event::GuildCreate(_)).then_some(())
    })
    .await;
    fake.drop_gateway().await;
    // Either replayed on RESUME or sent live after it, depending on who is quicker.
    fake.member_join(900, "late").await;
    recv(&mut rx, |e| {
        matches!(e, Event::MemberAdd(m) if m.user.id.get() == 900).then_some(())
    })
    .await;
    assert_eq!(fake.resumes(), 1);
    assert_eq!(fake.identifies(), 1);
    let conns = fake.gateway_connections();
    let last = conns.last().expect("connection");
    assert_eq!((last.0.as_str(), last.2.as_str()), ("/resume", "resume"));
}

#[tokio::test]
async fn a_dispatch_missed_during_a_drop_is_replayed_on_resume() {
    let fake = FakeDiscord::start().await;
    let mut rx = spawn_shard(shard(&fake));
    recv(&mut rx, |e| {
        matches!(e, Event::GuildCreate(_)).then_some(())
    })
    .await;
    fake.hold_gateway();
    fake.drop_gateway().await;
    fake.member_join(901, "missed").await;
    tokio::time::sleep(Duration::from_millis(100)).await;
    fake.release_gateway();
    let mut order = Vec::new();
    recv(&mut rx, |e| {
        match e {
            Event::MemberAdd(m) if m.user.id.get() == 901 => order.push("add"),
            Event::Resumed => order.push("resumed"),
            _ => {}
        }
        (order.len() == 2).then_some(())
    })
    .await;
    assert_eq!(order, vec!["add", "resumed"]);
}

#[tokio::test]
async fn op_7_reconnect_makes_the_shard_resume_without_identifying_again() {
    let fake = FakeDiscord::start().await;
    let mut rx = spawn_shard(shard(&fake));
    recv(&mut rx, |e| {
        matches!(e, Event::GuildCreate(_)).then_some(())
    })
    .await;
    fake.request_reconnect().await;
    recv(&mut rx, |e| matches!(e, Event::Resumed).then_some(())).await;
    assert_eq!((fake.identifies(), fake.resumes()), (1, 1));
    fake.member_join(902, "after-reconnect").await;
    recv(&mut rx, |e| {
        matches!(e, Event::MemberAdd(m) if m.user.id.get() == 902).then_some(())
    })
    .await;
}

#[tokio::test]
async fn an_invalid_session_makes_the_shard_identify_again() {
    let fake = FakeDiscord::start().await;
    let mut rx = spawn_shard(shard(&fake));
    recv(&mut rx, |e| {
        matches!(e, Event::GuildCreate(_)).then_some(())
    })
    .await;
    fake.invalidate_session(false).await;
    recv(&mut rx, |e| matches!(e, Event::Ready(_)).then_some(())).await;
    assert_eq!((fake.identifies(), fake.resumes()), (2, 0));
}

#[tokio::test]
async fn an_injected_429_on_role_assignment_is_retried_by_twilight() {
    let fake = FakeDiscord::start().await;
    let client = http(&fake);
    let member = fake.add_role("member", 2);
    fake.member_join(1000, "frank").await;
    fake.rate_limit(
        "PUT",
        "/guilds/{guild_id}/members/{user_id}/roles/{role_id}",
        1,
        0.3,
    );
    client
        .add_guild_member_role(Id::new(fake.guild_id()), Id::new(1000), Id::new(member))
        .await
        .expect("retried transparently");
    assert_eq!(fake.member_roles(1000), Some(vec![member]));
    let path = format!("/guilds/{}/members/1000/roles/{member}", fake.guild_id());
    let statuses: Vec<u16> = fake
        .requests()
        .into_iter()
        .filter(|(m, p, _)| m == "PUT" && *p == path)
        .map(|(_, _, s)| s)
        .collect();
    assert_eq!(statuses, vec![429, 204]);
}

#[tokio::test]
async fn a_429_carries_discords_headers_and_body() {
    let fake = FakeDiscord::start().await;
    fake.member_join(1001, "gina").await;
    let role = fake.add_role("member", 2);
    fake.rate_limit(
        "PUT",
        "/guilds/{guild_id}/members/{user_id}/roles/{role_id}",
        1,
        1.5,
    );
    let resp = reqwest::Client::new()
        .put(format!(
            "{}/api/v10/guilds/{}/members/1001/roles/{role}",
            fake.api_url(),
            fake.guild_id()
        ))
        .header("Authorization", format!("Bot {}", FakeDiscord::BOT_TOKEN))
        .send()
        .await
        .expect("request");
    assert_eq!(resp.status(), 429);
    let h = resp.headers();
    assert_eq!(h["retry-after"], "2");
    assert_eq!(h["x-ratelimit-scope"], "user");
    assert_eq!(h["x-ratelimit-remaining"], "0");
    assert_eq!(h["x-ratelimit-reset-after"], "1.500");
    for k in [
        "x-ratelimit-limit",
        "x-ratelimit-reset",
        "x-ratelimit-bucket",
    ] {
        assert!(h.contains_key(k), "{k}");
    }
    let body: Value = resp.json().await.expect("json");
    assert_eq!(
        body,
        json!({"message": "You are being rate limited.", "retry_after": 1.5, "global": false})
    );
}

#[tokio::test]
async fn an_exhausted_bucket_answers_429_and_twilight_retries_until_all_succeed() {
    // Discord sends X-RateLimit-Scope only on 429s, and twilight 0.18 reads the bucket
    // headers only when that header is present: it learns a bucket from its first 429.
    let fake = FakeDiscord::start().await;
    fake.set_bucket_limit(2, Duration::from_millis(300));
    let client = http(&fake);
    let guild = Id::new(fake.guild_id());
    for _ in 0..5 {
        client.roles(guild).await.expect("roles");
    }
    let statuses: Vec<u16> = fake.requests().into_iter().map(|r| r.2).collect();
    assert_eq!(
        statuses.iter().filter(|s| **s == 200).count(),
        5,
        "{statuses:?}"
    );
    assert!(
        statuses.iter().all(|s| *s == 200 || *s == 429),
        "{statuses:?}"
    );
}

#[tokio::test]
async fn a_global_429_is_retried_by_twilight() {
    let fake = FakeDiscord::start().await;
    let client = http(&fake);
    fake.rate_limit_global("GET", "/users/@me", 1, 0.2);
    client.current_user().await.expect("retried");
    let statuses: Vec<u16> = fake.requests().into_iter().map(|r| r.2).collect();
    assert_eq!(statuses, vec![429, 200]);
}

#[tokio::test]
async fn membership_screening_sends_pending_then_an_update_when_completed() {
    let fake = FakeDiscord::start().await;
    let mut rx = spawn_shard(shard(&fake));
    recv(&mut rx, |e| {
        matches!(e, Event::GuildCreate(_)).then_some(())
    })
    .await;
    fake.member_join_pending(1100, "screened").await;
    let add = recv(&mut rx, |e| match e {
        Event::MemberAdd(m) => Some(m.clone()),
        _ => None,
    })
    .await;
    assert!(add.member.pending);
    fake.complete_screening(1100).await;
    let update = recv(&mut rx, |e| match e {
        Event::MemberUpdate(u) => Some(u.clone()),
        _ => None,
    })
    .await;
    assert!(!update.pending);
    assert_eq!(update.user.id.get(), 1100);
}

#[tokio::test]
async fn invalid_message_payloads_answer_400_invalid_form_body_with_nested_errors() {
    let fake = FakeDiscord::start().await;
    let general = fake.channel_id("general").expect("general");
    let url = format!("{}/api/v10/channels/{general}/messages", fake.api_url());
    let post = |body: Value| {
        reqwest::Client::new()
            .post(url.clone())
            .header("Authorization", format!("Bot {}", FakeDiscord::BOT_TOKEN))
            .json(&body)
            .send()
    };
    let resp = post(json!({"content": "x".repeat(2001)}))
        .await
        .expect("request");
    assert_eq!(resp.status(), 400);
    let body: Value = resp.json().await.expect("json");
    assert_eq!(body["code"], 50035);
    assert_eq!(body["message"], "Invalid Form Body");
    assert_eq!(
        body["errors"]["content"]["_errors"][0]["code"],
        "BASE_TYPE_MAX_LENGTH"
    );

    let long_id = "x".repeat(101);
    let body: Value = post(json!({"components": [{"type": 1, "components": [{"type": 2, "style": 1, "label": "Go", "custom_id": long_id}]}]}))
        .await
        .expect("request")
        .json()
        .await
        .expect("json");
    assert_eq!(body["code"], 50035);
    assert!(
        body["errors"]["components"]["0"]["components"]["0"]["custom_id"]["_errors"].is_array(),
        "{body}"
    );

    let body: Value =
        post(json!({"components": [{"type": 2, "style": 1, "label": "Go", "custom_id": "a"}]}))
            .await
            .expect("request")
            .json()
            .await
            .expect("json");
    assert_eq!(
        body["code"], 50035,
        "a button outside an action row: {body}"
    );

    let body: Value =
        post(json!({"embeds": (0..11).map(|_| json!({"title": "t"})).collect::<Vec<_>>()}))
            .await
            .expect("request")
            .json()
            .await
            .expect("json");
    assert_eq!(
        body["errors"]["embeds"]["_errors"][0]["code"],
        "BASE_TYPE_MAX_LENGTH"
    );

    let body: Value = post(json!({}))
        .await
        .expect("request")
        .json()
        .await
        .expect("json");
    assert_eq!(
        body,
        json!({"message": "Cannot send an empty message", "code": 50006})
    );

    let resp = reqwest::Client::new()
        .post(url.clone())
        .header("Authorization", format!("Bot {}", FakeDiscord::BOT_TOKEN))
        .header("Content-Type", "application/json")
        .body("{not json")
        .send()
        .await
        .expect("request");
    let body: Value = resp.json().await.expect("json");
    assert_eq!(body["code"], 50109);
    assert!(fake.channel_messages(general).is_empty());
}

#[tokio::test]
async fn unknown_routes_answer_404_with_code_0() {
    let fake = FakeDiscord::start().await;
    let resp = reqwest::Client::new()
        .get(format!("{}/api/v10/no/such/route", fake.api_url()))
        .header("Authorization", format!("Bot {}", FakeDiscord::BOT_TOKEN))
        .send()
        .await
        .expect("request");
    assert_eq!(resp.status(), 404);
    let body: Value = resp.json().await.expect("json");
    assert_eq!(body, json!({"message": "404: Not Found", "code": 0}));
}

#[tokio::test]
async fn a_button_press_in_a_dm_arrives_over_the_gateway_and_a_modal_answer_is_recorded() {
    let fake = FakeDiscord::start().await;
    let mut rx = spawn_shard(shard(&fake));
    recv(&mut rx, |e| {
        matches!(e, Event::GuildCreate(_)).then_some(())
    })
    .await;
    let client = http(&fake);
    fake.member_join(1200, "hana").await;
    let message = dm_with_button(&fake, &client, 1200, "verify:1200").await;

    let pressed = fake.press_button(1200, message, "verify:1200").await;
    let got = recv(&mut rx, |e| match e {
        Event::InteractionCreate(i) => Some(i.0.clone()),
        _ => None,
    })
    .await;
    assert_eq!(got.kind, InteractionType::MessageComponent);
    assert_eq!(got.user.as_ref().map(|u| u.id.get()), Some(1200));
    assert!(got.guild_id.is_none());
    let Some(InteractionData::MessageComponent(data)) = &got.data else {
        panic!("component data");
    };
    assert_eq!(data.custom_id, "verify:1200");
    assert_eq!(got.message.as_ref().map(|m| m.id.get()), Some(message));

    let modal = InteractionResponse {
        kind: InteractionResponseType::Modal,
        data: Some(InteractionResponseData {
            custom_id: Some("verify-modal:1200".into()),
            title: Some("Verify your invitation".into()),
            components: Some(vec![labelled("Email", "email"), labelled("Token", "token")]),
            ..Default::default()
        }),
    };
    let interactions = client.interaction(Id::new(fake.application_id()));
    interactions
        .create_response(got.id, &got.token, &modal)
        .await
        .expect("modal");
    assert_eq!(pressed.response().await["type"], 9);
    assert_eq!(
        fake.last_modal(1200).expect("modal")["title"],
        "Verify your invitation"
    );

    // A second acknowledgement is refused.
    let again = interactions
        .create_response(got.id, &got.token, &modal)
        .await
        .expect_err("twice");
    assert_eq!(
        api_error(&again),
        (
            400,
            40060,
            "Interaction has already been acknowledged.".into()
        )
    );

    let submitted = fake
        .submit_modal(
            1200,
            "verify-modal:1200",
            &[("email", "hana@example.org"), ("token", "ABC-123")],
        )
        .await;
    let got = recv(&mut rx, |e| match e {
        Event::InteractionCreate(i) if i.kind == InteractionType::ModalSubmit => Some(i.0.clone()),
        _ => None,
    })
    .await;
    let Some(InteractionData::ModalSubmit(data)) = &got.data else {
        panic!("modal data");
    };
    assert_eq!(data.custom_id, "verify-modal:1200");
    let json_data = serde_json::to_value(&submitted.payload()["data"]).expect("json");
    assert_eq!(
        json_data["components"][0]["component"]["value"],
        "hana@example.org"
    );
    assert_eq!(
        json_data["components"][1]["component"]["custom_id"],
        "token"
    );

    let reply = InteractionResponse {
        kind: InteractionResponseType::ChannelMessageWithSource,
        data: Some(InteractionResponseData {
            content: Some("Welcome!".into()),
            flags: Some(MessageFlags::EPHEMERAL),
            ..Default::default()
        }),
    };
    interactions
        .create_response(got.id, &got.token, &reply)
        .await
        .expect("reply");
    let resp = submitted.response().await;
    assert_eq!(
        (resp["type"].clone(), resp["data"]["flags"].clone()),
        (json!(4), json!(64))
    );
    assert!(submitted.visible_text().await.contains("Welcome!"));
    // Ephemeral: not in the DM history.
    assert_eq!(fake.dms_to(1200).len(), 1);
}

#[tokio::test]
async fn modals_with_action_rows_are_mirrored_and_bad_modals_are_refused() {
    let fake = FakeDiscord::start().await;
    let client = http(&fake);
    fake.member_join(1300, "ivan").await;
    let message = dm_with_button(&fake, &client, 1300, "verify").await;
    let interactions = client.interaction(Id::new(fake.application_id()));

    // A title over 45 characters: 50035 (sent raw, as twilight validates it itself).
    let pressed = fake.press_button(1300, message, "verify").await;
    let resp = reqwest::Client::new()
        .post(format!("{}/api/v10/interactions/{}/{}/callback", fake.api_url(), pressed.id, pressed.token))
        .json(&json!({"type": 9, "data": {"custom_id": "m", "title": "t".repeat(46), "components": [
            {"type": 1, "components": [{"type": 4, "custom_id": "email", "style": 1, "label": "Email"}]}]}}))
        .send()
        .await
        .expect("request");
    assert_eq!(resp.status(), 400);
    let body: Value = resp.json().await.expect("json");
    assert_eq!(body["code"], 50035);
    assert!(
        body["errors"]["data"]["title"]["_errors"].is_array(),
        "{body}"
    );

    // The same interaction may still be answered properly (the failed attempt did not count).
    let row = |id: &str| {
        let mut input = text_input(id);
        if let Component::TextInput(t) = &mut input {
            #[allow(deprecated)]
            {
                t.label = Some(id.to_uppercase());
            }
        }
        Component::ActionRow(ActionRow {
            id: None,
            components: vec![input],
        })
    };
    let modal = InteractionResponse {
        kind: InteractionResponseType::Modal,
        data: Some(InteractionResponseData {
            custom_id: Some("m".into()),
            title: Some("Verify".into()),
            components: Some(vec![row("email"), row("token")]),
            ..Default::default()
        }),
    };
    interactions
        .create_response(Id::new(pressed.id), &pressed.token, &modal)
        .await
        .expect("modal");
    let submitted = fake
        .submit_modal(1300, "m", &[("email", "a@b.c"), ("token", "t")])
        .await;
    let payload = submitted.payload();
    assert_eq!(payload["data"]["components"][0]["type"], 1);
    assert_eq!(
        payload["data"]["components"][0]["components"][0]["value"],
        "a@b.c"
    );
    let parsed: TwInteraction =
        serde_json::from_value(payload).expect("twilight reads the modal submit");
    assert_eq!(parsed.kind, InteractionType::ModalSubmit);
}

#[tokio::test]
async fn an_interaction_answered_after_three_seconds_is_unknown() {
    let fake = FakeDiscord::start().await;
    let client = http(&fake);
    fake.member_join(1400, "jo").await;
    let message = dm_with_button(&fake, &client, 1400, "verify").await;
    let pressed = fake.press_button(1400, message, "verify").await;
    tokio::time::sleep(Duration::from_millis(3100)).await;
    let reply = InteractionResponse {
        kind: InteractionResponseType::DeferredUpdateMessage,
        data: None,
    };
    let err = client
        .interaction(Id::new(fake.application_id()))
        .create_response(Id::new(pressed.id), &pressed.token, &reply)
        .await
        .expect_err("too late");
    assert_eq!(api_error(&err), (404, 10062, "Unknown interaction".into()));
}

#[tokio::test]
async fn slash_commands_are_registered_run_with_resolved_options_deferred_edited_and_followed_up() {
    use twilight_model::application::command::CommandType;
    use twilight_model::guild::Permissions;
    use twilight_util::builder::command::{CommandBuilder, UserBuilder};

    let fake = FakeDiscord::start().await;
    let mut rx = spawn_shard(shard(&fake));
    recv(&mut rx, |e| {
        matches!(e, Event::GuildCreate(_)).then_some(())
    })
    .await;
    let client = http(&fake);
    let interactions = client.interaction(Id::new(fake.application_id()));
    let commands = [
        CommandBuilder::new(
            "force_verify",
            "Verify a member by hand",
            CommandType::ChatInput,
        )
        .default_member_permissions(Permissions::ADMINISTRATOR)
        .option(UserBuilder::new("member", "Who").required(true))
        .build(),
        CommandBuilder::new("verify", "Get the prompt again", CommandType::ChatInput).build(),
    ];
    let registered = interactions
        .set_guild_commands(Id::new(fake.guild_id()), &commands)
        .await
        .expect("register")
        .models()
        .await
        .expect("commands");
    assert_eq!(registered.len(), 2);
    assert_eq!(
        fake.registered_commands()[0]["default_member_permissions"],
        "8"
    );

    fake.member_join(1500, "target").await;
    fake.member_join(1501, "admin").await;
    let run = fake
        .run_command(
            1501,
            "force_verify",
            json!([{"name": "member", "type": 6, "value": "1500"}]),
            true,
        )
        .await;
    let got = recv(&mut rx, |e| match e {
        Event::InteractionCreate(i) => Some(i.0.clone()),
        _ => None,
    })
    .await;
    let member = got.member.as_ref().expect("guild invocation has a member");
    assert!(
        member
            .permissions
            .expect("permissions")
            .contains(Permissions::ADMINISTRATOR)
    );
    let Some(InteractionData::ApplicationCommand(data)) = &got.data else {
        panic!("command data");
    };
    assert_eq!(data.name, "force_verify");
    let resolved = data.resolved.as_ref().expect("resolved");
    assert!(resolved.users.contains_key(&Id::new(1500)));

    let deferred = InteractionResponse {
        kind: InteractionResponseType::DeferredChannelMessageWithSource,
        data: Some(InteractionResponseData {
            flags: Some(MessageFlags::EPHEMERAL),
            ..Default::default()
        }),
    };
    interactions
        .create_response(got.id, &got.token, &deferred)
        .await
        .expect("defer");
    interactions
        .update_response(&got.token)
        .content(Some("Done: <@1500> verified"))
        .await
        .expect("edit");
    interactions
        .create_followup(&got.token)
        .content("One more thing")
        .await
        .expect("followup");
    let original = run
        .original_when(|o| o["content"] == "Done: <@1500> verified")
        .await;
    assert_eq!(original["flags"], 64);
    assert_eq!(run.followups().await.len(), 1);

    // A non-admin's invocation says so in member.permissions.
    let run = fake
        .run_command(
            1500,
            "force_verify",
            json!([{"name": "member", "type": 6, "value": "1500"}]),
            false,
        )
        .await;
    let perms: u64 = run.payload()["member"]["permissions"]
        .as_str()
        .expect("string")
        .parse()
        .expect("int");
    assert_eq!(perms & (1 << 3), 0);
}

#[tokio::test]
async fn invalid_commands_are_refused_with_50035() {
    let fake = FakeDiscord::start().await;
    let resp = reqwest::Client::new()
        .put(format!("{}/api/v10/applications/{}/guilds/{}/commands", fake.api_url(), fake.application_id(), fake.guild_id()))
        .header("Authorization", format!("Bot {}", FakeDiscord::BOT_TOKEN))
        .json(&json!([{"name": "Bad Name", "description": "x", "type": 1}, {"name": "ok", "description": "", "type": 1}]))
        .send()
        .await
        .expect("request");
    assert_eq!(resp.status(), 400);
    let body: Value = resp.json().await.expect("json");
    assert_eq!(body["code"], 50035);
    assert!(body["errors"]["0"]["name"]["_errors"].is_array(), "{body}");
    assert!(
        body["errors"]["1"]["description"]["_errors"].is_array(),
        "{body}"
    );
    assert!(fake.registered_commands().is_empty());
}

#[tokio::test]
async fn every_interaction_payload_deserialises_in_twilight() {
    let fake = FakeDiscord::start().await;
    let client = http(&fake);
    fake.member_join(1600, "kim").await;
    let general = fake.channel_id("general").expect("general");
    let msg = client
        .create_message(Id::new(general))
        .content("<@1600> verify here")
        .components(&[verify_button("verify:1600")])
        .await
        .expect("send")
        .model()
        .await
        .expect("message");
    let pressed = fake.press_button(1600, msg.id.get(), "verify:1600").await;
    let parsed: TwInteraction = serde_json::from_value(pressed.payload()).expect("guild component");
    assert_eq!(parsed.guild_id.map(|g| g.get()), Some(fake.guild_id()));
    assert_eq!(
        parsed.member.and_then(|m| m.user).map(|u| u.id.get()),
        Some(1600)
    );
    let commands =
        json!([{"name": "verification_status", "description": "Pending members", "type": 1}]);
    reqwest::Client::new()
        .put(format!(
            "{}/api/v10/applications/{}/commands",
            fake.api_url(),
            fake.application_id()
        ))
        .header("Authorization", format!("Bot {}", FakeDiscord::BOT_TOKEN))
        .json(&commands)
        .send()
        .await
        .expect("register");
    let run = fake
        .run_command(1600, "verification_status", Value::Null, false)
        .await;
    let parsed: TwInteraction = serde_json::from_value(run.payload()).expect("command");
    assert_eq!(parsed.kind, InteractionType::ApplicationCommand);
}

#[tokio::test]
async fn a_heartbeat_request_from_the_gateway_is_answered_at_once() {
    let fake = FakeDiscord::start().await;
    let mut rx = spawn_shard(shard(&fake));
    recv(&mut rx, |e| {
        matches!(e, Event::GuildCreate(_)).then_some(())
    })
    .await;
    let before = fake.heartbeats();
    fake.request_heartbeat().await;
    fake.wait_until("a heartbeat", Duration::from_secs(5), |f| {
        (f.heartbeats() > before).then_some(())
    })
    .await;
}

#[tokio::test]
async fn request_guild_members_answers_with_a_members_chunk() {
    use twilight_model::gateway::payload::outgoing::RequestGuildMembers;

    let fake = FakeDiscord::start().await;
    fake.add_existing_member(
        1700,
        "lee",
        chrono::Utc::now() - chrono::Duration::days(3),
        &[],
    );
    let shard = shard(&fake);
    let sender = shard.sender();
    let mut rx = spawn_shard(shard);
    recv(&mut rx, |e| {
        matches!(e, Event::GuildCreate(_)).then_some(())
    })
    .await;
    sender
        .command(&RequestGuildMembers::builder(Id::new(fake.guild_id())).query("", None))
        .expect("send op 8");
    let chunk = recv(&mut rx, |e| match e {
        Event::MemberChunk(c) => Some(c.clone()),
        _ => None,
    })
    .await;
    assert_eq!(chunk.members.len(), 3);
    assert!(chunk.members.iter().any(|m| m.user.id.get() == 1700));
}

#[tokio::test]
async fn roles_are_edited_and_moved_only_below_the_bots_own_role() {
    use twilight_model::guild::RolePosition;

    let fake = FakeDiscord::start().await;
    let client = http(&fake);
    let guild = Id::new(fake.guild_id());
    let member = fake.add_role("member", 2);
    let moved = client
        .update_role_positions(
            guild,
            &[RolePosition {
                id: Id::new(member),
                position: 5,
            }],
        )
        .await
        .expect("move below the bot")
        .models()
        .await
        .expect("roles");
    assert!(
        moved
            .iter()
            .any(|r| r.id.get() == member && r.position == 5)
    );
    let err = client
        .update_role_positions(
            guild,
            &[RolePosition {
                id: Id::new(member),
                position: 11,
            }],
        )
        .await
        .expect_err("above the bot");
    assert_eq!(api_error(&err).1, 50013);
    let err = client
        .update_role(guild, Id::new(fake.bot_role_id()))
        .name(Some("renamed"))
        .await
        .expect_err("its own top role");
    assert_eq!(api_error(&err).1, 50013);
    client
        .update_role(guild, Id::new(member))
        .name(Some("members"))
        .await
        .expect("rename");
    assert_eq!(fake.role_id("members"), Some(member));
    client
        .delete_role(guild, Id::new(member))
        .await
        .expect("delete");
    assert_eq!(fake.role_id("members"), None);
}

#[tokio::test]
async fn a_button_on_an_ephemeral_reply_can_be_pressed_by_its_user_only() {
    let fake = FakeDiscord::start().await;
    let client = http(&fake);
    fake.member_join(1800, "mo").await;
    let message = dm_with_button(&fake, &client, 1800, "verify").await;
    let pressed = fake.press_button(1800, message, "verify").await;
    let reply = InteractionResponse {
        kind: InteractionResponseType::ChannelMessageWithSource,
        data: Some(InteractionResponseData {
            content: Some("Try again?".into()),
            components: Some(vec![verify_button("retry")]),
            flags: Some(MessageFlags::EPHEMERAL),
            ..Default::default()
        }),
    };
    client
        .interaction(Id::new(fake.application_id()))
        .create_response(Id::new(pressed.id), &pressed.token, &reply)
        .await
        .expect("reply");
    let ephemeral_id: u64 = pressed.original().expect("original")["id"]
        .as_str()
        .expect("id")
        .parse()
        .expect("snowflake");
    assert_eq!(fake.buttons(ephemeral_id), vec!["retry".to_owned()]);
    assert!(fake.reply_text(1800).contains("Try again?"));
    let again = fake.press_button(1800, ephemeral_id, "retry").await;
    assert_eq!(again.payload()["message"]["flags"], 64);
}

#[tokio::test]
async fn the_global_limit_answers_429_with_the_global_headers_and_body() {
    let fake = FakeDiscord::start().await;
    fake.set_global_limit(3);
    let resp = {
        let c = reqwest::Client::new();
        let mut last = None;
        for _ in 0..4 {
            last = Some(
                c.get(format!("{}/api/v10/users/@me", fake.api_url()))
                    .header("Authorization", format!("Bot {}", FakeDiscord::BOT_TOKEN))
                    .send()
                    .await
                    .expect("request"),
            );
        }
        last.expect("response")
    };
    assert_eq!(resp.status(), 429);
    assert_eq!(resp.headers()["x-ratelimit-global"], "true");
    assert_eq!(resp.headers()["x-ratelimit-scope"], "global");
    let body: Value = resp.json().await.expect("json");
    assert_eq!(body["global"], true);
}

#[tokio::test]
async fn commands_are_offered_only_where_discord_would_offer_them() {
    let fake = FakeDiscord::start().await;
    let client = http(&fake);
    fake.member_join(1900, "nia").await;
    let dm = client
        .create_private_channel(Id::new(1900))
        .await
        .expect("DM")
        .model()
        .await
        .expect("channel");
    let commands = json!([{"name": "verify", "description": "Get the prompt again", "type": 1}]);
    reqwest::Client::new()
        .put(format!(
            "{}/api/v10/applications/{}/guilds/{}/commands",
            fake.api_url(),
            fake.application_id(),
            fake.guild_id()
        ))
        .header("Authorization", format!("Bot {}", FakeDiscord::BOT_TOKEN))
        .json(&commands)
        .send()
        .await
        .expect("register");
    let fake2 = fake.clone();
    let in_dm = tokio::spawn(async move {
        fake2
            .run_command_in(dm.id.get(), 1900, "verify", Value::Null, false)
            .await
    })
    .await;
    assert!(in_dm.is_err(), "a guild command cannot be run in a DM");
    let run = fake.run_command(1900, "verify", Value::Null, false).await;
    assert_eq!(run.payload()["data"]["name"], "verify");
    assert_eq!(fake.bot_settings()[3].1, fake.guild_id().to_string());
}

#[tokio::test]
async fn resuming_an_unknown_session_gets_op_9_and_the_shard_identifies() {
    let fake = FakeDiscord::start().await;
    install_crypto();
    let config = ConfigBuilder::new(
        FakeDiscord::BOT_TOKEN.to_owned(),
        Intents::GUILDS | Intents::GUILD_MEMBERS,
    )
    .proxy_url(fake.gateway_url())
    .resume_url(fake.resume_gateway_url())
    .session(twilight_gateway::Session::new(7, "no-such-session".into()))
    .build();
    let mut rx = spawn_shard(Shard::with_config(ShardId::ONE, config));
    recv(&mut rx, |e| matches!(e, Event::Ready(_)).then_some(())).await;
    assert_eq!((fake.identifies(), fake.resumes()), (1, 0));
    let outcomes: Vec<(String, String)> = fake
        .gateway_connections()
        .into_iter()
        .map(|(path, _, outcome, _)| (path, outcome))
        .collect();
    assert_eq!(
        outcomes,
        vec![
            ("/resume".to_owned(), "resume".to_owned()),
            ("/gateway".to_owned(), "identify".to_owned())
        ]
    );
}

#[tokio::test]
async fn with_the_scope_header_on_every_answer_twilight_paces_itself_without_429() {
    let fake = FakeDiscord::start().await;
    fake.set_scope_header_on_every_answer(true);
    fake.set_bucket_limit(2, Duration::from_millis(300));
    let client = http(&fake);
    let guild = Id::new(fake.guild_id());
    for _ in 0..5 {
        client.roles(guild).await.expect("roles");
    }
    let statuses: Vec<u16> = fake.requests().into_iter().map(|r| r.2).collect();
    assert_eq!(statuses, vec![200; 5]);
}

/// The whole journey as doorman's bot will drive it, played here by hand with twilight:
/// a pattern for the bot's own end-to-end tests.
#[tokio::test]
async fn a_whole_verification_journey_driven_through_twilight() {
    let fake = FakeDiscord::start().await;
    let member_role = fake.add_role("member", 2);
    let unverified = fake.add_role("unverified", 1);
    let mut rx = spawn_shard(shard(&fake));
    recv(&mut rx, |e| {
        matches!(e, Event::GuildCreate(_)).then_some(())
    })
    .await;
    let client = http(&fake);
    let guild = Id::new(fake.guild_id());
    let app = client.interaction(Id::new(fake.application_id()));

    // A member joins; the "bot" sees it, marks them unverified and DMs a button.
    fake.member_join(2000, "olive").await;
    let joined = recv(&mut rx, |e| match e {
        Event::MemberAdd(m) => Some(m.user.id),
        _ => None,
    })
    .await;
    client
        .add_guild_member_role(guild, joined, Id::new(unverified))
        .await
        .expect("unverified");
    let message = dm_with_button(&fake, &client, 2000, "verify:2000").await;

    // They press it; the bot opens the modal.
    fake.press_button(2000, message, "verify:2000").await;
    let pressed = recv(&mut rx, |e| match e {
        Event::InteractionCreate(i) => Some(i.0.clone()),
        _ => None,
    })
    .await;
    let modal = InteractionResponse {
        kind: InteractionResponseType::Modal,
        data: Some(InteractionResponseData {
            custom_id: Some("verify-modal:2000".into()),
            title: Some("Verify".into()),
            components: Some(vec![labelled("Email", "email"), labelled("Token", "token")]),
            ..Default::default()
        }),
    };
    app.create_response(pressed.id, &pressed.token, &modal)
        .await
        .expect("modal");

    // They submit it; the bot gives the role and confirms privately.
    fake.submit_modal(
        2000,
        "verify-modal:2000",
        &[("email", "olive@example.org"), ("token", "T0KEN")],
    )
    .await;
    let submitted = recv(&mut rx, |e| match e {
        Event::InteractionCreate(i) if i.kind == InteractionType::ModalSubmit => Some(i.0.clone()),
        _ => None,
    })
    .await;
    client
        .add_guild_member_role(guild, joined, Id::new(member_role))
        .await
        .expect("member");
    client
        .remove_guild_member_role(guild, joined, Id::new(unverified))
        .await
        .expect("not unverified");
    let done = InteractionResponse {
        kind: InteractionResponseType::ChannelMessageWithSource,
        data: Some(InteractionResponseData {
            content: Some("You're verified. Welcome!".into()),
            flags: Some(MessageFlags::EPHEMERAL),
            ..Default::default()
        }),
    };
    app.create_response(submitted.id, &submitted.token, &done)
        .await
        .expect("confirm");

    assert_eq!(fake.member_roles(2000), Some(vec![member_role]));
    assert!(fake.reply_text(2000).contains("verified"));
    assert!(fake.kicks().is_empty());
    let updates = fake
        .dispatches()
        .into_iter()
        .filter(|(name, _)| name == "GUILD_MEMBER_UPDATE")
        .count();
    assert_eq!(updates, 3);
}
