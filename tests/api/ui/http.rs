//! The UI's forms sent without a browser, for what a browser will not do on its own
//! (forged headers, replayed cookies).

use reqwest::header::{COOKIE, SET_COOKIE};
use reqwest::{Response, redirect};

use crate::helpers::{API_KEY, Backend, TestApp};

/// A client that shows redirects instead of following them.
pub fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(redirect::Policy::none())
        .build()
        .unwrap()
}

/// The `doorman_session` value a response sets.
pub fn set_session(response: &Response) -> Option<String> {
    response
        .headers()
        .get_all(SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find_map(|v| v.strip_prefix("doorman_session="))
        .map(|v| v.split(';').next().unwrap_or_default().to_owned())
}

pub async fn sign_in_with(app: &TestApp, key: &str, cookie: Option<&str>) -> Response {
    let mut request = client()
        .post(app.url("/admin/sign-in"))
        .form(&[("api_key", key), ("next", "/admin")]);
    if let Some(cookie) = cookie {
        request = request.header(COOKIE, format!("doorman_session={cookie}"));
    }
    request.send().await.unwrap()
}

/// Signs in with the right key and one extra header (what a proxy or a browser adds).
pub async fn sign_in_saying(app: &TestApp, header: &str, value: &str) -> Response {
    client()
        .post(app.url("/admin/sign-in"))
        .header(header, value)
        .form(&[("api_key", API_KEY)])
        .send()
        .await
        .unwrap()
}

/// Signs in and returns the session cookie's value.
pub async fn signed_in(app: &TestApp) -> String {
    let response = sign_in_with(app, API_KEY, None).await;
    assert_eq!(response.status(), 303);
    set_session(&response).expect("a session cookie")
}

pub async fn get_with(app: &TestApp, path: &str, cookie: &str) -> Response {
    client()
        .get(app.url(path))
        .header(COOKIE, format!("doorman_session={cookie}"))
        .send()
        .await
        .unwrap()
}

/// Whether the session still opens pages.
pub async fn still_signed_in(app: &TestApp, cookie: &str) -> bool {
    get_with(app, "/admin", cookie).await.status() == 200
}

/// The CSRF token a page hands its forms.
pub async fn csrf_token(app: &TestApp, cookie: &str) -> String {
    let page = get_with(app, "/admin", cookie).await.text().await.unwrap();
    let field = "name=\"csrf_token\" value=\"";
    let start = page.find(field).expect("a CSRF field") + field.len();
    page[start..].split('"').next().unwrap().to_owned()
}

/// The ids the sessions table holds, read from the database itself.
pub async fn stored_session_ids(app: &TestApp) -> Vec<String> {
    let sql = "SELECT id FROM admin_sessions";
    match app.backend {
        Backend::Sqlite => {
            let pool = sqlx::SqlitePool::connect(&app.database_url).await.unwrap();
            let ids = sqlx::query_scalar(sql).fetch_all(&pool).await.unwrap();
            pool.close().await;
            ids
        }
        Backend::Postgres => {
            let pool = sqlx::PgPool::connect(&app.database_url).await.unwrap();
            let ids = sqlx::query_scalar(sql).fetch_all(&pool).await.unwrap();
            pool.close().await;
            ids
        }
    }
}
