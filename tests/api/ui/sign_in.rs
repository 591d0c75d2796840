//! Signing in and out in the browser.

use super::browser::Ui;
use super::http;
use crate::helpers::{API_KEY, Backend};
use crate::on_both_databases;

on_both_databases! {
    async fn a_wrong_key_is_refused_and_signs_nobody_in(backend: Backend) {
        let Some(ui) = Ui::start(backend, "sign_in").await else { return };
        ui.goto("/admin/sign-in").await;
        ui.screenshot("sign-in").await;
        ui.fill("API key", "not-the-key-at-all-0123456789").await;
        ui.press("Sign in").await;

        assert!(ui.path().await.starts_with("/admin/sign-in"), "{}", ui.path().await);
        assert!(ui.text("[role=alert]").await.contains("That is not the API key"));
        assert_eq!(ui.session_cookie().await, None);
        ui.screenshot("sign-in-refused").await;
        let refused = ui.app.events("kind=ui_sign_in_refused").await;
        assert_eq!(refused.len(), 1);
        assert_eq!(refused[0]["actor"], "ui");
        assert!(!refused[0].to_string().contains("not-the-key"), "the key is not logged");
        assert!(ui.app.events("kind=ui_signed_in").await.is_empty());
        ui.close().await;
    }

    async fn the_right_key_opens_the_overview(backend: Backend) {
        let Some(ui) = Ui::start(backend, "sign_in").await else { return };
        ui.sign_in().await;

        assert_eq!(ui.text("h1").await, "Overview");
        let nav = ui.text("nav[aria-label=Main]").await;
        let labels: Vec<&str> = nav.split_whitespace().collect();
        assert_eq!(labels, ["Overview", "Invitees", "Import", "Emails", "Discord", "Events"]);
        assert!(ui.page_text().await.contains("ui_signed_in"), "the latest events show the sign-in");
        let source = ui.browser.source().await.unwrap();
        assert!(!source.contains(API_KEY), "the key never appears in a page");
        assert!(!ui.path().await.contains(API_KEY));
        let signed_in = ui.app.events("kind=ui_signed_in").await;
        assert_eq!(signed_in.len(), 1);
        assert_eq!(signed_in[0]["actor"], "ui");
        ui.screenshot("overview").await;
        for (page, heading) in [("invitees", "Invitees"), ("import", "Import"), ("emails", "Emails"), ("discord", "Discord")] {
            ui.goto(&format!("/admin/{page}")).await;
            assert_eq!(ui.text("h1").await, heading);
            ui.screenshot(page).await;
        }
        ui.close().await;
    }

    async fn a_page_without_a_session_sends_to_sign_in_and_back(backend: Backend) {
        let Some(ui) = Ui::start(backend, "redirect").await else { return };
        ui.goto("/").await;
        assert_eq!(ui.path().await, "/admin/sign-in?next=%2Fadmin");
        ui.goto("/admin/events?kind=ui_signed_in").await;
        assert_eq!(ui.path().await, "/admin/sign-in?next=%2Fadmin%2Fevents%3Fkind%3Dui_signed_in");

        ui.fill("API key", API_KEY).await;
        ui.press("Sign in").await;
        assert_eq!(ui.path().await, "/admin/events?kind=ui_signed_in");
        assert_eq!(ui.text("h1").await, "Events");
        ui.close().await;
    }

    async fn signing_out_ends_the_session_on_the_server(backend: Backend) {
        let Some(ui) = Ui::start(backend, "sign_out").await else { return };
        ui.sign_in().await;
        let cookie = ui.session_cookie().await.expect("a session cookie");
        assert!(http::still_signed_in(&ui.app, &cookie).await);

        ui.press("Sign out").await;
        assert_eq!(ui.path().await, "/admin/sign-in");
        assert_eq!(ui.session_cookie().await, None, "the browser forgot it");
        assert!(!http::still_signed_in(&ui.app, &cookie).await, "the old cookie opens nothing");
        let response = http::get_with(&ui.app, "/admin/events", &cookie).await;
        assert_eq!(response.status(), 303);
        let signed_out = ui.app.events("kind=ui_signed_out").await;
        assert_eq!(signed_out.len(), 1);
        assert_eq!(signed_out[0]["actor"], "ui");
        ui.goto("/admin").await;
        assert!(ui.path().await.starts_with("/admin/sign-in"));
        ui.close().await;
    }
}
