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
