//! The UI's files come from doorman itself, cached for good under names that change
//! with their content; pages are never cached and load nothing from elsewhere.

use reqwest::header::{CACHE_CONTROL, CONTENT_SECURITY_POLICY, CONTENT_TYPE, LOCATION};

use super::http;
use crate::helpers::{Backend, TestApp};
use crate::on_both_databases;

on_both_databases! {
    async fn assets_are_embedded_and_cached_for_good(backend: Backend) {
        let app = TestApp::spawn(backend).await;
        let root = http::client().get(app.url("/")).send().await.unwrap();
        assert_eq!(root.headers()[LOCATION], "/admin");

        let page = http::client().get(app.url("/admin/sign-in")).send().await.unwrap();
        assert_eq!(page.headers()[CACHE_CONTROL], "no-store");
        let policy = page.headers()[CONTENT_SECURITY_POLICY].to_str().unwrap().to_owned();
        assert!(policy.contains("script-src 'self'") && policy.contains("frame-ancestors 'none'"));
        let html = page.text().await.unwrap();
        let css = html
            .split('"')
            .find(|part| part.starts_with("/admin/assets/doorman.") && part.ends_with(".css"))
            .expect("the page links its stylesheet")
            .to_owned();

        let response = http::client().get(app.url(&css)).send().await.unwrap();
        assert_eq!(response.status(), 200);
        assert_eq!(response.headers()[CACHE_CONTROL], "public, max-age=31536000, immutable");
        assert!(response.headers()[CONTENT_TYPE].to_str().unwrap().starts_with("text/css"));
        assert!(response.text().await.unwrap().contains(":focus-visible"));

        let stale = http::client().get(app.url("/admin/assets/doorman.000000000000.css")).send().await.unwrap();
        assert_eq!(stale.status(), 404);
    }
}
