//! The overview: the funnel's counts, verifications per day, and what setup lacks.

use super::browser::Ui;
use super::http::{get_with, signed_in};
use crate::helpers::{Backend, TestApp};
use crate::on_both_databases;

/// Five invitees at every stage: a verified, b delivered, c sent, d bounced, e not emailed;
/// two members in Discord, one of them kicked. Eight days later, the unverified tokens
/// (b, c and e, not the bounced d) have expired.
async fn a_campaign(app: &TestApp) {
    let mut tokens = Vec::new();
    for name in ["a", "b", "c", "d", "e"] {
        tokens.push(app.invite(&format!("{name}@example.org")).await.1);
    }
    app.sql("UPDATE invitees SET email_status = 'sent' WHERE email IN ('a@example.org', 'c@example.org')")
        .await;
    app.sql("UPDATE invitees SET email_status = 'delivered' WHERE email = 'b@example.org'")
        .await;
    app.sql("UPDATE invitees SET email_status = 'bounced' WHERE email = 'd@example.org'")
        .await;
    app.verify_json("a@example.org", &tokens[0]).await;
    app.sql(
        "INSERT INTO discord_members (guild_id, user_id, state, updated_at) VALUES \
         ('11', '21', 'kicked', '2026-01-01T00:00:00+00:00'), ('11', '22', 'pending', '2026-01-01T00:00:00+00:00')",
    )
    .await;
    app.advance(chrono::Duration::days(8));
}

fn step(text: &str, label: &str) -> String {
    let start = text
        .find(&format!("<dt>{label}</dt>"))
        .unwrap_or_else(|| panic!("no {label} in the funnel: {text}"));
    let rest = &text[start..];
    let number = rest.split("<strong>").nth(1).unwrap();
    number.split("</strong>").next().unwrap().to_owned()
}

on_both_databases! {
    async fn the_funnel_counts_every_stage(backend: Backend) {
        let app = TestApp::spawn(backend).await;
        let cookie = signed_in(&app).await;
        let response = get_with(&app, "/admin", &cookie).await;
        assert_eq!(response.status(), 200, "{:?}", response.headers());
        let empty = response.text().await.unwrap();
        assert_eq!(step(&empty, "Invited"), "0");
        assert!(empty.contains("0 verification(s) in the last 14 days"));

        a_campaign(&app).await;
        // Eight days on, the first session has long expired.
        let cookie = signed_in(&app).await;
        let text = get_with(&app, "/admin", &cookie).await.text().await.unwrap();
        for (label, count) in [
            ("Invited", "5"),
            ("Emailed", "4"),
            ("Delivered", "1"),
            ("Joined Discord", "2"),
            ("Verified", "1"),
            ("Expired", "3"),
            ("Bounced or failed", "1"),
            ("Kicked", "1"),
        ] {
            assert_eq!(step(&text, label), count, "{label}");
        }
        assert!(text.contains(
            "5 invited, 4 emailed, 1 delivered, 2 joined Discord, 1 verified; beside them 3 expired, 1 bounced or failed, 1 kicked."
        ));
        assert!(text.contains("20% of invited"));
        // Verified eight days ago: still on the chart.
        assert!(text.contains("1 verification(s) in the last 14 days"), "{text}");
        // Without email settings or a bot, the checklist says what to set.
        assert!(text.contains("Still to set up"));
        assert!(text.contains("SENDGRID_API_KEY or SMTP_URL"));
        assert!(text.contains("Set DISCORD_TOKEN"));
    }

    async fn the_overview_shows_the_funnel_in_the_browser(backend: Backend) {
        let Some(ui) = Ui::start(backend, "overview").await else { return };
        a_campaign(&ui.app).await;
        crate::ui::discord::sign_in(&ui).await;
        let numbers = ui.text(".funnel-numbers").await;
        assert!(numbers.contains("Invited\n5"), "{numbers}");
        assert!(numbers.contains("Verified\n1"), "{numbers}");
        let chart = ui.text("svg.funnel").await;
        assert!(chart.contains("Joined Discord"), "{chart}");
        ui.screenshot("overview").await;
        ui.browser
            .execute("document.getElementById('daily-heading').scrollIntoView()", vec![])
            .await
            .unwrap();
        ui.screenshot("overview-daily").await;
        ui.close().await;
    }
}
