//! One-click join in the browser: from the invitation email's link to the server.

use fantoccini::Locator;

use super::browser::Ui;
use crate::fake_discord::FakeDiscord;
use crate::helpers::Backend;
use crate::join::{emailed_text, join_link_in};
use crate::on_both_databases;

const ANA: u64 = 600_000_000_000_000_011;

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

on_both_databases! {
    async fn the_email_link_takes_the_invitee_into_the_server_in_two_clicks(backend: Backend) {
        let discord = FakeDiscord::start().await;
        let member_role = discord.add_role("member", 1);
        discord.add_role("unverified", 1);
        discord.consent_as(ANA, "ana");
        // Discord sends the browser back to PUBLIC_URL, so doorman listens exactly there.
        let port = free_port();
        let public = format!("http://127.0.0.1:{port}");
        let bind = format!("127.0.0.1:{port}");
        let (api, gateway, guild) = (discord.api_url(), discord.gateway_url(), discord.guild_id().to_string());
        let (client_id, oauth) = (FakeDiscord::CLIENT_ID.to_string(), discord.oauth_url());
        let vars = [
            ("BIND_ADDR", bind.as_str()),
            ("PUBLIC_URL", public.as_str()),
            ("DISCORD_TOKEN", FakeDiscord::BOT_TOKEN),
            ("DISCORD_API_URL", api.as_str()),
            ("DISCORD_GATEWAY_URL", gateway.as_str()),
            ("DISCORD_GUILD_ID", guild.as_str()),
            ("COMMUNITY_NAME", "Test Community"),
            ("DISCORD_CLIENT_ID", client_id.as_str()),
            ("DISCORD_CLIENT_SECRET", FakeDiscord::CLIENT_SECRET),
            ("DISCORD_OAUTH_URL", oauth.as_str()),
        ];
        let Some(ui) = Ui::start_with(backend, "join", &vars).await else { return };
        let app = &ui.app;
        let (id, _) = app.invite("ana@example.org").await;
        let link = join_link_in(&emailed_text(app, id).await, &public);

        // Click one: the email's link.
        ui.browser.goto(&link).await.unwrap();
        ui.settle().await;
        assert!(ui.text("h1").await.contains("Join Test Community as Test Person"));
        ui.screenshot("invitation").await;

        // Click two: Discord (the fake consents at once) and back.
        ui.browser
            .find(Locator::LinkText("Continue with Discord"))
            .await
            .unwrap()
            .click()
            .await
            .unwrap();
        ui.settle().await;
        assert_eq!(ui.path().await.split('?').next(), Some("/join/callback"));
        assert_eq!(ui.text("h1").await, "Welcome to Test Community");
        ui.screenshot("welcome").await;

        let roles = discord.member_roles(ANA).expect("Ana is in the server");
        assert!(roles.contains(&member_role));
        let stored = app.get_json(&format!("/api/users/{id}")).await;
        assert_eq!(stored["is_verified"], true);
        assert_eq!(stored["discord_user_id"], ANA.to_string());

        // The same link afterwards explains itself.
        ui.browser.goto(&link).await.unwrap();
        ui.settle().await;
        assert_eq!(ui.text("h1").await, "Already joined");
        ui.screenshot("used").await;
        ui.close().await;
    }
}
