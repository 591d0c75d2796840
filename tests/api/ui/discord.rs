//! The Discord page over HTTP, with doorman connected to the fake Discord: the setup
//! checklist, the countdown, and actions the bot carries out from the database.

use reqwest::header::COOKIE;
use serde_json::Value;

use doorman::domain::MemberState;

use super::browser::Ui;
use super::http::{client, csrf_token, get_with, signed_in};
use crate::discord::{PATIENCE, World, wait_for};
use crate::fake_discord::FakeDiscord;
use crate::helpers::{Backend, TestApp};
use crate::on_both_databases;

/// Posts one of the Discord page's forms; returns where it sends the browser.
pub async fn post_form(app: &TestApp, path: &str, cookie: &str, fields: &[(&str, &str)]) -> String {
    let csrf = csrf_token(app, cookie).await;
    let mut form: Vec<(&str, &str)> = vec![("csrf_token", csrf.as_str())];
    form.extend_from_slice(fields);
    let response = client()
        .post(app.url(path))
        .header(COOKIE, format!("doorman_session={cookie}"))
        .form(&form)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 303, "{path} answers with a redirect");
    response.headers()["location"].to_str().unwrap().to_owned()
}

async fn page(app: &TestApp, cookie: &str) -> String {
    let response = get_with(app, "/admin/discord", cookie).await;
    assert_eq!(response.status(), 200);
    response.text().await.unwrap()
}

/// The page once the bot has recorded the server's setup.
async fn page_with_setup(app: &TestApp, cookie: &str) -> String {
    wait_for("the bot to record the server's setup", || async {
        let text = page(app, cookie).await;
        text.contains("class=\"checklist\"").then_some(text)
    })
    .await
}

fn ui_events(events: &[Value]) -> Vec<&Value> {
    events.iter().filter(|e| e["actor"] == "ui").collect()
}

on_both_databases! {
    async fn the_checklist_says_what_to_fix_and_the_timeout_is_the_set_timeout_setting(backend: Backend) {
        let world = World::start(
            backend,
            &[("VERIFICATION_CHANNEL_NAME", "welcome-check"), ("VERIFICATION_TIMEOUT", "600")],
        )
        .await;
        let app = &world.app;
        let guild = world.discord.guild_id().to_string();
        let cookie = signed_in(app).await;

        let text = page_with_setup(app, &cookie).await;
        assert_eq!(text.matches("✓ Done:").count(), 5, "{text}");
        assert_eq!(text.matches("✗ To fix:").count(), 1);
        assert!(text.contains("Create a text channel named #welcome-check"));
        // The overview lists what is missing too, and nothing that is in place.
        let overview = get_with(app, "/admin", &cookie).await.text().await.unwrap();
        assert!(overview.contains("Still to set up"));
        assert!(overview.contains("#welcome-check"));
        assert!(!overview.contains("A Discord bot token"));
        assert!(overview.contains("Doorman Test Server: 0 waiting to verify, 0 kick(s) held."), "{overview}");

        // Fixed in Discord: the checklist follows.
        world.discord.add_text_channel("welcome-check");
        wait_for("the checklist to see the new channel", || async {
            (!page(app, &cookie).await.contains("✗ To fix:")).then_some(())
        })
        .await;

        // The timeout: the configured default, then the admin's, with its event by `ui`.
        assert!(page(app, &cookie).await.contains("value=\"10\""));
        let location =
            post_form(app, "/admin/discord/timeout", &cookie, &[("guild", &guild), ("minutes", "45")]).await;
        assert_eq!(location, format!("/admin/discord?guild={guild}&done=timeout"));
        let events = app.events("kind=discord_timeout_set").await;
        let by_ui = ui_events(&events);
        assert_eq!(by_ui.len(), 1, "{events:?}");
        assert_eq!(by_ui[0]["detail"]["minutes"], 45);
        let text = page(app, &cookie).await;
        assert!(text.contains("value=\"45\""));
        let location =
            post_form(app, "/admin/discord/timeout", &cookie, &[("guild", &guild), ("minutes", "0")]).await;
        assert!(location.ends_with("done=bad-timeout"));
        assert_eq!(app.events("kind=discord_timeout_set").await.len(), 1, "nothing saved");
        // A newcomer now gets the new timeout.
        world.discord.member_join(601, "newcomer").await;
        world.prompt_for(601).await;
        assert!(page(app, &cookie).await.contains("44 min"));

        // The intent turned off: Discord refuses the next identify, and the checklist says so.
        world.discord.set_members_intent_enabled(false);
        world.discord.invalidate_session(false).await;
        wait_for("the checklist to miss the intent", || async {
            let text = page(app, &cookie).await;
            text.contains("Turn on Server Members Intent").then_some(())
        })
        .await;
    }

    async fn force_verify_and_remove_are_carried_out_by_the_bot(backend: Backend) {
        let world = World::start(backend, &[("VERIFICATION_TIMEOUT", "600")]).await;
        let app = &world.app;
        let guild = world.discord.guild_id().to_string();
        let cookie = signed_in(app).await;
        page_with_setup(app, &cookie).await;
        world.discord.member_join(701, "ana").await;
        world.discord.member_join(702, "ben").await;
        world.prompt_for(701).await;
        world.prompt_for(702).await;

        // Both wait, with the time they have left, readable without the script.
        let text = page(app, &cookie).await;
        assert!(text.contains("Waiting to verify <span class=\"count\">(2)</span>"), "{text}");
        assert!(text.contains(">9 min "), "{text}");
        assert!(text.contains("data-seconds-left=\"59"));
        app.advance(chrono::Duration::minutes(5));
        assert!(page(app, &cookie).await.contains(">4 min "));

        // Verified on the page; the bot gives the role from what was written down.
        let location =
            post_form(app, "/admin/discord/force-verify", &cookie, &[("guild", &guild), ("user", "701")]).await;
        assert!(location.ends_with("done=verified"));
        world.wait_for_role(701, world.member_role).await;
        let events = app.events("kind=discord_force_verified").await;
        assert_eq!(ui_events(&events).len(), 1, "{events:?}");
        assert_eq!(events[0]["detail"]["user_id"], "701");

        // Removed on the page: the sweeper kicks them as for a passed deadline.
        let location =
            post_form(app, "/admin/discord/remove", &cookie, &[("guild", &guild), ("user", "702")]).await;
        assert!(location.ends_with("done=removed"));
        world.wait_for_kick(702).await;
        let events = app.events("kind=discord_removal_requested").await;
        assert_eq!(ui_events(&events).len(), 1, "{events:?}");
        assert!(!world.discord.kicks().iter().any(|(u, _)| *u == 701), "the verified stay");
        // Someone no longer waiting cannot be removed from the page.
        let location =
            post_form(app, "/admin/discord/remove", &cookie, &[("guild", &guild), ("user", "701")]).await;
        assert!(location.ends_with("done=not-waiting"));
        let text = page(app, &cookie).await;
        assert!(text.contains("Nobody is waiting to verify."));
        assert!(text.contains("discord_kicked_for_timeout"));
    }

    async fn held_kicks_called_off_from_the_page_get_a_fresh_deadline(backend: Backend) {
        let world = World::start(backend, &[("KICK_BURST_LIMIT", "1")]).await;
        let app = &world.app;
        let guild = world.discord.guild_id().to_string();
        for user in [901, 902] {
            world.discord.member_join(user, "newcomer").await;
            world.prompt_for(user).await;
        }
        app.advance(chrono::Duration::days(1));
        let guild_id = twilight_model::id::Id::new(world.discord.guild_id());
        wait_for("both kicks to be held", || async {
            let held = app.doorman.discord_members_in_state(guild_id, MemberState::Held).await.ok()?;
            (held.len() == 2).then_some(())
        })
        .await;
        let cookie = signed_in(app).await;
        assert!(page(app, &cookie).await.contains("Confirm 2 kick(s)"));
        let location = post_form(app, "/admin/discord/cancel-kicks", &cookie, &[("guild", &guild)]).await;
        assert!(location.ends_with("done=cancelled"));
        let events = app.events("kind=discord_kicks_cancelled").await;
        assert_eq!(ui_events(&events).len(), 1, "{events:?}");
        for user in [901, 902] {
            let member = world.member(user).await.expect("still known");
            assert_eq!(member.membership.state, MemberState::Pending);
            assert!(member.membership.deadline.expect("a deadline") > app.doorman.now());
        }
        assert!(world.discord.kicks().is_empty());
        let text = page(app, &cookie).await;
        assert!(text.contains("No kicks are held."));
        assert!(text.contains("Waiting to verify <span class=\"count\">(2)</span>"));
    }

    async fn without_a_bot_the_page_says_how_to_set_it_up(backend: Backend) {
        let app = TestApp::spawn(backend).await;
        let cookie = signed_in(&app).await;
        let text = page(&app, &cookie).await;
        assert!(text.contains("Set DISCORD_TOKEN"));
        let csrf = csrf_token(&app, &cookie).await;
        let response = client()
            .post(app.url("/admin/discord/confirm-kicks"))
            .header(COOKIE, format!("doorman_session={cookie}"))
            .form(&[("csrf_token", csrf.as_str()), ("guild", "123")])
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 404);
    }
}

/// Waits until the fake Discord holds a DM prompt for `user`.
async fn prompted(discord: &FakeDiscord, user: u64) {
    discord
        .wait_until("a DM prompt", PATIENCE, |d| {
            (!d.dms_to(user).is_empty()).then_some(())
        })
        .await;
}

/// Signs in through the form and waits for the overview (the form's answer may come
/// after the sign-in page reports itself loaded).
pub async fn sign_in(ui: &Ui) {
    ui.goto("/admin/sign-in").await;
    ui.fill("API key", crate::helpers::API_KEY).await;
    ui.press("Sign in").await;
    wait_for("the overview after signing in", || async {
        (ui.path().await == "/admin").then_some(())
    })
    .await;
    ui.settle().await;
}

on_both_databases! {
    async fn the_discord_page_counts_down_verifies_and_confirms_held_kicks(backend: Backend) {
        let discord = FakeDiscord::start().await;
        let member_role = discord.add_role("member", 1);
        discord.add_role("unverified", 1);
        let (api, gateway, guild) = (discord.api_url(), discord.gateway_url(), discord.guild_id().to_string());
        let vars = [
            ("DISCORD_TOKEN", FakeDiscord::BOT_TOKEN),
            ("DISCORD_API_URL", api.as_str()),
            ("DISCORD_GATEWAY_URL", gateway.as_str()),
            ("DISCORD_GUILD_ID", guild.as_str()),
            ("COMMUNITY_NAME", "Test Community"),
            ("VERIFICATION_TIMEOUT", "600"),
            ("KICK_BURST_LIMIT", "1"),
        ];
        let Some(ui) = Ui::start_with(backend, "discord", &vars).await else { return };
        let cookie = signed_in(&ui.app).await;
        page_with_setup(&ui.app, &cookie).await;
        discord.member_join(801, "ana").await;
        prompted(&discord, 801).await;

        // The countdown: the server's numbers, then ticking in the browser.
        sign_in(&ui).await;
        ui.goto("/admin/discord").await;
        let first = ui.text(".countdown").await;
        assert!(first.starts_with("9 min"), "{first}");
        wait_for("the countdown to tick", || async {
            (ui.text(".countdown").await != first).then_some(())
        })
        .await;
        assert!(!ui.page_text().await.contains("✗ To fix:"), "the fake server is set up");
        ui.screenshot("pending").await;
        ui.browser
            .execute("document.getElementById('timeout-heading').scrollIntoView()", vec![])
            .await
            .unwrap();
        ui.screenshot("setup").await;

        // Verified from the page: the fake Discord sees the role given.
        ui.press("Verify").await;
        assert!(ui.text(".message").await.contains("Verified."));
        discord
            .wait_until("the member role", PATIENCE, |d| {
                d.member_roles(801).is_some_and(|r| r.contains(&member_role)).then_some(())
            })
            .await;

        // Two deadlines at once, over KICK_BURST_LIMIT: held until confirmed here.
        discord.member_join(802, "ben").await;
        discord.member_join(803, "cleo").await;
        prompted(&discord, 802).await;
        prompted(&discord, 803).await;
        ui.app.advance(chrono::Duration::days(1));
        let guild_id = twilight_model::id::Id::new(discord.guild_id());
        let doorman = &ui.app.doorman;
        wait_for("both kicks to be held", || async {
            let held = doorman.discord_members_in_state(guild_id, MemberState::Held).await.ok()?;
            (held.len() == 2).then_some(())
        })
        .await;
        // A day on, the browser signs in again.
        sign_in(&ui).await;
        ui.goto("/admin/discord").await;
        assert!(ui.text("#held-heading").await.contains("(2)"));
        assert!(discord.kicks().is_empty());
        ui.screenshot("held").await;
        ui.press("Confirm 2 kick(s)").await;
        assert!(ui.text(".message").await.contains("Held kicks confirmed"));
        discord
            .wait_until("both kicks", PATIENCE, |d| (d.kicks().len() == 2).then_some(()))
            .await;
        let events = ui.app.events("kind=discord_kicks_confirmed").await;
        assert_eq!(ui_events(&events).len(), 1, "{events:?}");
        ui.close().await;
    }
}
