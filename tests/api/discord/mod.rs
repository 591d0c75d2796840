//! The bot's journeys, end to end: doorman with the real twilight clients, talking over
//! real HTTP and WebSocket to the fake Discord.

mod commands;
mod journeys;
mod resilience;
mod safety;

use std::time::Duration;

use doorman::domain::MemberState;
use doorman::service::DiscordMember;
use serde_json::Value;
use twilight_model::id::Id;

use crate::fake_discord::FakeDiscord;
use crate::helpers::{Backend, TestApp};

/// How long a test waits for the bot to do something before failing.
pub const PATIENCE: Duration = Duration::from_secs(15);

/// A fake Discord server with the usual roles and channels, and doorman connected to it.
pub struct World {
    pub discord: FakeDiscord,
    pub app: TestApp,
    pub member_role: u64,
    pub unverified_role: u64,
    pub verification_channel: u64,
    pub log_channel: u64,
}

impl World {
    pub async fn start(backend: Backend, vars: &[(&str, &str)]) -> Self {
        Self::start_on(FakeDiscord::start().await, backend, vars).await
    }

    /// Connects doorman to a fake Discord the test has already set up.
    pub async fn start_on(discord: FakeDiscord, backend: Backend, vars: &[(&str, &str)]) -> Self {
        let member_role = discord.add_role("member", 1);
        let unverified_role = discord.add_role("unverified", 1);
        let verification_channel = discord
            .channel_id("verification")
            .expect("the fake has #verification");
        let log_channel = discord.add_text_channel("mod-log");
        let env = Self::discord_env(&discord);
        let mut all: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
        all.extend_from_slice(vars);
        let app = TestApp::spawn_with(backend, &all).await;
        let world = Self {
            discord,
            app,
            member_role,
            unverified_role,
            verification_channel,
            log_channel,
        };
        world.wait_connected(1).await;
        world
    }

    /// The settings that point doorman at this fake.
    fn discord_env(discord: &FakeDiscord) -> Vec<(&'static str, String)> {
        vec![
            ("DISCORD_TOKEN", FakeDiscord::BOT_TOKEN.to_owned()),
            ("DISCORD_API_URL", discord.api_url()),
            ("DISCORD_GATEWAY_URL", discord.gateway_url()),
            ("DISCORD_GUILD_ID", discord.guild_id().to_string()),
            ("LOG_CHANNEL_NAME", "mod-log".to_owned()),
            ("COMMUNITY_NAME", "Test Community".to_owned()),
        ]
    }

    /// Stops doorman and starts it again on the same database.
    pub async fn restart(&mut self, vars: &[(&str, &str)]) {
        let identified = self.discord.identifies();
        let env = Self::discord_env(&self.discord);
        let mut all: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
        all.extend_from_slice(vars);
        self.app.restart(&all).await;
        self.wait_connected(identified + 1).await;
    }

    async fn wait_connected(&self, identifies: usize) {
        self.discord
            .wait_until("doorman identifies", PATIENCE, |d| {
                (d.identifies() >= identifies).then_some(())
            })
            .await;
        self.discord
            .wait_until("slash commands to be registered", PATIENCE, |d| {
                (!d.registered_commands().is_empty()).then_some(())
            })
            .await;
        let app = &self.app;
        wait_for("/health to say the bot is connected", || async move {
            let health: Value = app
                .client
                .get(app.url("/health"))
                .send()
                .await
                .ok()?
                .json()
                .await
                .ok()?;
            (health["discord_bot"] == "connected").then_some(())
        })
        .await;
    }

    /// Someone who was in the server long before doorman (an admin, a bystander).
    pub fn add_old_member(&self, user: u64) {
        let long_ago = chrono::Utc::now() - chrono::Duration::days(365);
        self.discord
            .add_existing_member(user, "old-member", long_ago, &[]);
    }

    /// The DM prompts sent to this user so far.
    pub fn prompts_to(&self, user: u64) -> Vec<Value> {
        self.discord
            .dms_to(user)
            .into_iter()
            .filter(|m| custom_id_of(m).is_some())
            .collect()
    }

    /// Waits for the DM prompt and returns (message id, button custom id).
    pub async fn prompt_for(&self, user: u64) -> (u64, String) {
        self.discord
            .wait_until("a DM prompt with a Verify button", PATIENCE, |d| {
                d.dms_to(user)
                    .iter()
                    .find_map(|m| Some((message_id(m), custom_id_of(m)?)))
            })
            .await
    }

    /// What doorman knows of this user's verification.
    pub async fn member(&self, user: u64) -> Option<DiscordMember> {
        let guild = Id::new(self.discord.guild_id());
        self.app
            .doorman
            .discord_member(guild, Id::new(user))
            .await
            .expect("the database answers")
    }

    pub async fn member_state(&self, user: u64) -> Option<MemberState> {
        self.member(user).await.map(|m| m.membership.state)
    }

    /// Proves the deadline sweeper has run since this call: a `probe` newcomer is let
    /// past their deadline and kicked, so whatever an earlier pass would have done is done.
    pub async fn sweeper_moved_on(&self, probe: u64) {
        self.discord.member_join(probe, "probe").await;
        self.prompt_for(probe).await;
        self.app.advance(chrono::Duration::days(1));
        self.wait_for_kick(probe).await;
    }

    /// Waits for a line containing `text` in the moderators' log channel.
    pub async fn wait_for_log(&self, text: &str) {
        self.discord
            .wait_until("a line in the log channel", PATIENCE, |d| {
                d.channel_messages(self.log_channel)
                    .iter()
                    .any(|m| m["content"].as_str().is_some_and(|c| c.contains(text)))
                    .then_some(())
            })
            .await;
    }

    pub fn roles_of(&self, user: u64) -> Vec<u64> {
        self.discord.member_roles(user).unwrap_or_default()
    }

    pub async fn wait_for_role(&self, user: u64, role: u64) {
        self.discord
            .wait_until("the role to be given", PATIENCE, |d| {
                d.member_roles(user)
                    .is_some_and(|r| r.contains(&role))
                    .then_some(())
            })
            .await;
    }

    pub async fn wait_for_kick(&self, user: u64) -> Option<String> {
        self.discord
            .wait_until("the member to be kicked", PATIENCE, |d| {
                d.kicks()
                    .into_iter()
                    .find(|(u, _)| *u == user)
                    .map(|(_, reason)| reason)
            })
            .await
    }

    /// Presses the member's Verify button and fills in the modal; returns the reply.
    pub async fn verify(&self, user: u64, email: &str, token: &str) -> Value {
        let (message, custom_id) = self.prompt_for(user).await;
        let modal = self
            .discord
            .press_button(user, message, &custom_id)
            .await
            .response()
            .await;
        assert_eq!(modal["type"], 9, "the button opens a modal: {modal}");
        let modal_id = modal["data"]["custom_id"]
            .as_str()
            .expect("the modal has an id")
            .to_owned();
        let reply = self
            .discord
            .submit_modal(user, &modal_id, &[("email", email), ("token", token)])
            .await;
        reply.response().await
    }
}

pub fn message_id(message: &Value) -> u64 {
    message["id"]
        .as_str()
        .and_then(|id| id.parse().ok())
        .expect("a message id")
}

/// The custom id of the first button in a message, if it has one.
pub fn custom_id_of(message: &Value) -> Option<String> {
    let rows = message["components"].as_array()?;
    rows.iter()
        .flat_map(|row| row["components"].as_array().cloned().unwrap_or_default())
        .find_map(|c| c["custom_id"].as_str().map(str::to_owned))
}

/// The text of an interaction reply, and whether only its recipient sees it.
pub fn reply_text(response: &Value) -> (String, bool) {
    let data = &response["data"];
    let ephemeral = data["flags"].as_u64().is_some_and(|f| f & 64 != 0);
    (
        data["content"].as_str().unwrap_or_default().to_owned(),
        ephemeral,
    )
}

/// Polls `check` until it gives a value, or fails the test after [`PATIENCE`].
pub async fn wait_for<T, F, Fut>(what: &str, check: F) -> T
where
    F: Fn() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let deadline = tokio::time::Instant::now() + PATIENCE;
    loop {
        if let Some(value) = check().await {
            return value;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
