//! One-click join, over HTTP: the personal link, Discord's consent (the fake's), the
//! callback, and every way it can go wrong.

mod refusals;

use doorman::domain::MemberState;
use reqwest::StatusCode;
use reqwest::header::{COOKIE, LOCATION, SET_COOKIE};
use serde_json::Value;
use twilight_model::id::Id;

use crate::discord::World;
use crate::fake_discord::FakeDiscord;
use crate::helpers::{Backend, TestApp};
use crate::on_both_databases;

pub const ANA: u64 = 600_000_000_000_000_001;
pub const BO: u64 = 600_000_000_000_000_002;

/// doorman with one-click join, pointed at the fake Discord.
pub async fn world(backend: Backend) -> World {
    let discord = FakeDiscord::start().await;
    discord.add_role("Class of 2026", 1);
    let oauth_url = discord.oauth_url();
    let client_id = FakeDiscord::CLIENT_ID.to_string();
    let vars = [
        ("DISCORD_CLIENT_ID", client_id.as_str()),
        ("DISCORD_CLIENT_SECRET", FakeDiscord::CLIENT_SECRET),
        ("DISCORD_OAUTH_URL", oauth_url.as_str()),
        ("PUBLIC_URL", "http://doorman.test"),
        (
            "ROLE_RULES",
            "year=2026:Class of 2026;year=1999:Class of 1999",
        ),
    ];
    World::start_on(discord, backend, &vars).await
}

/// Ana invited (invitee `id`, her link's `token`), and signed in to Discord as herself:
/// where most joins start.
pub struct AnaInvited {
    pub world: World,
    pub id: i64,
    pub token: String,
}

pub async fn ana_invited(backend: Backend) -> AnaInvited {
    let world = world(backend).await;
    let (id, token) = world.app.invite("ana@example.org").await;
    world.discord.consent_as(ANA, "ana");
    AnaInvited { world, id, token }
}

/// Sends invitee `id` its invitation: the email's plain text.
pub async fn emailed_text(app: &TestApp, id: i64) -> String {
    crate::email::send(app, serde_json::json!({ "user_ids": [id] })).await;
    let emails = crate::email::emails(app, "").await;
    emails[0]["text_body"]
        .as_str()
        .expect("a plain-text body")
        .to_owned()
}

/// The personal join link in an email's text, on doorman at `public_url`.
pub fn join_link_in(text: &str, public_url: &str) -> String {
    let start = text
        .find(&format!("{public_url}/join/"))
        .expect("the link in the email");
    text[start..]
        .chars()
        .take_while(|c| !c.is_whitespace())
        .collect()
}

/// A browser that does not follow redirects, holding at most one join cookie.
pub struct Browser {
    http: reqwest::Client,
    pub cookie: Option<String>,
}

impl Browser {
    pub fn new() -> Self {
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap();
        Self { http, cookie: None }
    }

    pub async fn get(&self, url: &str) -> reqwest::Response {
        let mut request = self.http.get(url);
        if let Some(cookie) = &self.cookie {
            request = request.header(COOKIE, cookie);
        }
        request.send().await.unwrap()
    }

    /// Presses "Continue with Discord": the address of Discord's consent page.
    pub async fn start(&mut self, app: &TestApp, token: &str) -> String {
        let answer = self.get(&app.url(&format!("/join/{token}/discord"))).await;
        assert_eq!(answer.status(), StatusCode::SEE_OTHER);
        let set = answer.headers()[SET_COOKIE].to_str().unwrap().to_owned();
        assert!(
            set.contains("HttpOnly") && set.contains("SameSite=Lax"),
            "{set}"
        );
        self.cookie = Some(set.split(';').next().unwrap().to_owned());
        answer.headers()[LOCATION].to_str().unwrap().to_owned()
    }

    /// Discord's consent page: where it sends the browser back to, on doorman.
    pub async fn consent(&self, app: &TestApp, consent_page: &str) -> String {
        let answer = self.http.get(consent_page).send().await.unwrap();
        assert!(answer.status().is_redirection(), "{}", answer.status());
        let back = answer.headers()[LOCATION].to_str().unwrap();
        let back = url::Url::parse(back).unwrap();
        assert_eq!(back.path(), "/join/callback");
        app.url(&format!(
            "{}?{}",
            back.path(),
            back.query().unwrap_or_default()
        ))
    }

    /// From the button to the callback address Discord sends the browser back to.
    pub async fn trip(&mut self, app: &TestApp, token: &str) -> String {
        let consent_page = self.start(app, token).await;
        self.consent(app, &consent_page).await
    }

    /// The whole trip from the button to the page doorman answers.
    pub async fn join(&mut self, app: &TestApp, token: &str) -> reqwest::Response {
        let consent_page = self.start(app, token).await;
        let callback = self.consent(app, &consent_page).await;
        self.get(&callback).await
    }
}

pub async fn invitee(app: &TestApp, id: i64) -> Value {
    app.get_json(&format!("/api/users/{id}")).await
}

on_both_databases! {
    async fn the_link_signs_the_invitee_in_and_adds_them_verified(backend: Backend) {
        let AnaInvited { world, id, token } = ana_invited(backend).await;
        let app = &world.app;

        let page = Browser::new().get(&app.url(&format!("/join/{token}"))).await;
        assert_eq!(page.status(), StatusCode::OK);
        assert_eq!(page.headers()["referrer-policy"], "no-referrer");
        assert_eq!(page.headers()["cache-control"], "no-store");
        let html = page.text().await.unwrap();
        assert!(html.contains("Join Test Community as Test Person"), "{html}");
        assert!(html.contains("Continue with Discord"));
        // Looking at the page uses nothing up.
        assert_eq!(invitee(app, id).await["is_verified"], false);

        let mut browser = Browser::new();
        let consent_page = browser.start(app, &token).await;
        let consent = url::Url::parse(&consent_page).unwrap();
        let query: std::collections::HashMap<_, _> = consent.query_pairs().into_owned().collect();
        assert_eq!(query["scope"], "identify guilds.join");
        assert_eq!(query["redirect_uri"], "http://doorman.test/join/callback");
        assert!(query["state"].len() >= 40);
        let done = browser.get(&browser.consent(app, &consent_page).await).await;
        assert_eq!(done.status(), StatusCode::OK);
        assert_eq!(done.headers()["referrer-policy"], "no-referrer");
        let html = done.text().await.unwrap();
        assert!(html.contains("Welcome to Test Community"), "{html}");
        assert!(html.contains(&format!("https://discord.com/channels/{}", world.discord.guild_id())));

        let roles = world.discord.member_roles(ANA).expect("Ana is in the server");
        assert!(roles.contains(&world.member_role));
        let cohort = world.discord.role_id("Class of 2026").unwrap();
        assert!(roles.contains(&cohort), "the roster's role too: {roles:?}");
        // The nickname is left alone.
        let added = world.discord.request_log().into_iter().find(|r| r.route == "PUT /guilds/{guild_id}/members/{user_id}").unwrap();
        assert!(added.body.as_ref().unwrap().get("nick").is_none());
        let stored = invitee(app, id).await;
        assert_eq!(stored["is_verified"], true);
        assert_eq!(stored["discord_user_id"], ANA.to_string());
        let events = app.events("limit=100").await;
        let kinds: Vec<&str> = events.iter().map(|e| e["kind"].as_str().unwrap()).collect();
        for kind in ["join_started", "verification_succeeded", "discord_account_linked", "discord_member_added"] {
            assert!(kinds.contains(&kind), "{kind} in {kinds:?}");
        }
        let verified = events.iter().find(|e| e["kind"] == "verification_succeeded").unwrap();
        assert_eq!(verified["channel"], "oauth");
        // No token or state in the event log.
        let log = serde_json::to_string(&events).unwrap();
        assert!(!log.contains(&token));
        assert!(!log.contains(query["state"].as_str()));
    }

    async fn a_member_already_in_the_server_gets_their_roles(backend: Backend) {
        let AnaInvited { world, id, token } = ana_invited(backend).await;
        let app = &world.app;
        // Joined through a plain invite: asked to verify, with a deadline.
        world.discord.member_join(ANA, "ana").await;
        world.wait_for_role(ANA, world.unverified_role).await;
        let (guild, user) = (Id::new(world.discord.guild_id()), Id::new(ANA));
        let pending = app.doorman.discord_member(guild, user).await.unwrap().unwrap();
        assert_eq!(pending.membership.state, MemberState::Pending);

        let done = Browser::new().join(app, &token).await;
        assert_eq!(done.status(), StatusCode::OK);
        let roles = world.discord.member_roles(ANA).unwrap();
        assert!(roles.contains(&world.member_role), "{roles:?}");
        assert!(!roles.contains(&world.unverified_role), "{roles:?}");
        assert_eq!(invitee(app, id).await["is_verified"], true);
        let events = app.events("kind=discord_member_roles_set").await;
        assert_eq!(events.len(), 1);
        // Their deadline no longer applies.
        let member = app.doorman.discord_member(guild, user).await.unwrap().unwrap();
        assert_eq!(member.membership.state, MemberState::Verified);
    }

    async fn without_the_settings_the_join_pages_do_not_exist(backend: Backend) {
        let app = TestApp::spawn(backend).await;
        let (_, token) = app.invite("ana@example.org").await;
        for path in [format!("/join/{token}"), format!("/join/{token}/discord"), "/join/callback?state=x&code=y".into()] {
            let answer = app.get(&path).send().await.unwrap();
            assert_eq!(answer.status(), StatusCode::NOT_FOUND, "{path}");
        }
    }
}
