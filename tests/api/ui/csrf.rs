//! Forged requests: from another origin, or without the session's token, they are refused
//! with the "form has expired" page and change nothing.

use axum::response::Html;
use fantoccini::Locator;
use reqwest::header::COOKIE;

use super::browser::Ui;
use super::http;
use crate::helpers::{Backend, TestApp};
use crate::on_both_databases;

/// Extra request headers, as name and value.
type Headers<'a> = &'a [(&'a str, &'a str)];

/// A page on another origin of this machine whose button posts to doorman's sign-out,
/// carrying even the right CSRF token: only where it comes from gives it away.
async fn forger(target: String, csrf_token: String) -> (String, tokio::task::JoinHandle<()>) {
    let page = format!(
        "<!doctype html><form method=post action=\"{target}\">\
         <input type=hidden name=csrf_token value=\"{csrf_token}\">\
         <button type=submit>Claim your prize</button></form>"
    );
    let router =
        axum::Router::new().route("/", axum::routing::get(move || async move { Html(page) }));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = format!("http://{}/", listener.local_addr().unwrap());
    let server = tokio::spawn(async move {
        let _ = axum::serve(listener, router).await;
    });
    (address, server)
}

async fn post_sign_out(
    app: &TestApp,
    cookie: &str,
    headers: &[(&str, &str)],
    token: Option<&str>,
) -> reqwest::Response {
    let mut request = http::client()
        .post(app.url("/admin/sign-out"))
        .header(COOKIE, format!("doorman_session={cookie}"));
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let form: Vec<(&str, &str)> = token.map(|t| ("csrf_token", t)).into_iter().collect();
    request.form(&form).send().await.unwrap()
}

on_both_databases! {
    async fn a_cross_site_post_is_refused_and_changes_nothing(backend: Backend) {
        let Some(ui) = Ui::start(backend, "csrf").await else { return };
        ui.sign_in().await;
        let token = ui
            .browser
            .find(Locator::Css("input[name=csrf_token]"))
            .await
            .unwrap()
            .attr("value")
            .await
            .unwrap()
            .expect("the page carries its token");
        let (forged, server) = forger(ui.app.url("/admin/sign-out"), token).await;
        ui.browser.goto(&forged).await.unwrap();
        ui.press("Claim your prize").await;

        assert!(ui.page_text().await.contains("This form has expired; reload the page and try again"));
        ui.goto("/admin").await;
        assert_eq!(ui.path().await, "/admin", "still signed in");
        assert!(ui.app.events("kind=ui_signed_out").await.is_empty());
        server.abort();
        ui.close().await;
    }

    async fn a_post_without_the_csrf_token_is_refused(backend: Backend) {
        let Some(ui) = Ui::start(backend, "csrf").await else { return };
        ui.sign_in().await;
        ui.browser
            .execute("document.querySelector('input[name=csrf_token]').remove()", vec![])
            .await
            .unwrap();
        ui.press("Sign out").await;

        assert_eq!(ui.text("h1").await, "Form expired");
        assert!(ui.page_text().await.contains("reload the page and try again"));
        ui.screenshot("expired").await;
        ui.goto("/admin").await;
        assert_eq!(ui.path().await, "/admin", "still signed in");
        assert!(ui.app.events("kind=ui_signed_out").await.is_empty());
        ui.close().await;
    }

    async fn forged_headers_and_tokens_are_refused_on_the_wire(backend: Backend) {
        let app = TestApp::spawn(backend).await;
        let cookie = http::signed_in(&app).await;
        let token = http::csrf_token(&app, &cookie).await;
        let refused: [(Headers, Option<&str>); 5] = [
            (&[("sec-fetch-site", "cross-site")], Some(&token)),
            (&[("sec-fetch-site", "same-site")], Some(&token)),
            (&[("origin", "https://evil.example")], Some(&token)),
            (&[], Some("not-the-token")),
            (&[], None),
        ];
        for (headers, given) in refused {
            let response = post_sign_out(&app, &cookie, headers, given).await;
            assert_eq!(response.status(), 403, "{headers:?} {given:?}");
            assert!(response.text().await.unwrap().contains("This form has expired"));
            assert!(http::still_signed_in(&app, &cookie).await, "{headers:?} changed nothing");
        }
        // The header htmx sends is as good as the form field.
        let response = http::client()
            .post(app.url("/admin/sign-out"))
            .header(COOKIE, format!("doorman_session={cookie}"))
            .header("x-csrf-token", &token)
            .header("sec-fetch-site", "same-origin")
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 303);
        assert!(!http::still_signed_in(&app, &cookie).await);

        // Nobody can sign a browser in from another site either.
        let response = http::sign_in_saying(&app, "sec-fetch-site", "cross-site").await;
        assert_eq!(response.status(), 403);
        assert!(http::set_session(&response).is_none());
    }
}
