//! Starting doorman for a test: the real application on a random port, against a fresh
//! database (an SQLite file, or a PostgreSQL schema of its own).

use std::collections::HashMap;
use std::sync::Arc;

use doorman::config::Settings;
use doorman::domain::ShiftedClock;
use doorman::service::Doorman;
use doorman::startup::Application;
use reqwest::{RequestBuilder, Response};
use serde_json::{Value, json};

pub const API_KEY: &str = "test-admin-key-0123456789abcdef";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// The PostgreSQL server the tests use; `TEST_POSTGRES_URL` overrides it.
pub fn postgres_admin_url() -> String {
    std::env::var("TEST_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into())
}

impl Backend {
    /// Whether tests on this backend can run. PostgreSQL missing is a failure in CI
    /// (`CI=true`) and a loud skip on a developer's machine.
    pub async fn available(self) -> bool {
        if self == Backend::Sqlite {
            return true;
        }
        match sqlx::PgPool::connect(&postgres_admin_url()).await {
            Ok(pool) => {
                pool.close().await;
                true
            }
            Err(e) if std::env::var("CI").is_ok_and(|v| v == "true") => {
                panic!(
                    "PostgreSQL at {} is unreachable in CI: {e}",
                    postgres_admin_url()
                )
            }
            Err(e) => {
                eprintln!(
                    "SKIPPED: PostgreSQL at {} is unreachable ({e}); start it to run these tests",
                    postgres_admin_url()
                );
                false
            }
        }
    }

    /// A database URL no other test uses.
    pub async fn fresh_database_url(self, data_dir: &std::path::Path) -> String {
        match self {
            Backend::Sqlite => format!(
                "sqlite://{}?mode=rwc",
                data_dir.join("test.sqlite").display()
            ),
            Backend::Postgres => {
                let schema = format!("test_{}", uuid::Uuid::new_v4().simple());
                let pool = sqlx::PgPool::connect(&postgres_admin_url())
                    .await
                    .expect("connect to PostgreSQL");
                sqlx::query(&format!("CREATE SCHEMA {schema}"))
                    .execute(&pool)
                    .await
                    .expect("create schema");
                pool.close().await;
                let separator = if postgres_admin_url().contains('?') {
                    '&'
                } else {
                    '?'
                };
                format!(
                    "{}{separator}options=-c%20search_path%3D{schema}",
                    postgres_admin_url()
                )
            }
        }
    }
}

/// Runs each test once on SQLite and once on PostgreSQL, as `name::sqlite` and
/// `name::postgres`.
#[macro_export]
macro_rules! on_both_databases {
    ($(async fn $name:ident($backend:ident: Backend) $body:block)*) => {
        $(
            mod $name {
                #[allow(unused_imports)]
                use super::*;

                async fn run($backend: Backend) $body

                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn sqlite() {
                    run($crate::helpers::Backend::Sqlite).await
                }

                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn postgres() {
                    if $crate::helpers::Backend::Postgres.available().await {
                        run($crate::helpers::Backend::Postgres).await
                    }
                }
            }
        )*
    };
}

/// The settings a test app on `database_url` starts with.
pub fn settings_for(database_url: &str, data_dir: &std::path::Path) -> Settings {
    let env = test_env(data_dir, &[("DATABASE_URL", database_url)]);
    Settings::from_lookup(|name| env.get(name).cloned()).expect("test settings are valid")
}

/// The test defaults, with `vars` on top.
fn test_env(data_dir: &std::path::Path, vars: &[(&str, &str)]) -> HashMap<String, String> {
    let mut env: HashMap<String, String> = HashMap::from([
        ("DATA_DIR".into(), data_dir.display().to_string()),
        ("BIND_ADDR".into(), "127.0.0.1:0".into()),
        ("SECRET_KEY".into(), API_KEY.into()),
    ]);
    env.extend(vars.iter().map(|(k, v)| (k.to_string(), v.to_string())));
    env
}

pub struct TestApp {
    /// Stops the application (HTTP server and background work, such as the bot).
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    stopped: Option<tokio::task::JoinHandle<anyhow::Result<()>>>,
    pub address: String,
    pub client: reqwest::Client,
    pub doorman: Doorman,
    pub database_url: String,
    pub backend: Backend,
    pub data_dir: tempfile::TempDir,
    /// doorman's clock: the machine's, moved forward by [`TestApp::advance`]. It carries
    /// over a restart, as time would.
    pub clock: Arc<ShiftedClock>,
}

impl TestApp {
    pub async fn spawn(backend: Backend) -> Self {
        Self::spawn_with(backend, &[]).await
    }

    /// Starts doorman on a fresh database with these environment variables on top of the
    /// test defaults.
    pub async fn spawn_with(backend: Backend, vars: &[(&str, &str)]) -> Self {
        let data_dir = tempfile::tempdir().expect("temp dir");
        let database_url = backend.fresh_database_url(data_dir.path()).await;
        let mut all = vec![("DATABASE_URL", database_url.as_str())];
        all.extend_from_slice(vars);
        Self::start(backend, data_dir, &all, Arc::default()).await
    }

    /// Starts doorman on whatever database `vars` names (e.g. another app's, to restart it).
    pub async fn spawn_on(backend: Backend, vars: &[(&str, &str)]) -> Self {
        Self::start(
            backend,
            tempfile::tempdir().expect("temp dir"),
            vars,
            Arc::default(),
        )
        .await
    }

    async fn start(
        backend: Backend,
        data_dir: tempfile::TempDir,
        vars: &[(&str, &str)],
        clock: Arc<ShiftedClock>,
    ) -> Self {
        // `RUST_LOG=doorman=debug cargo test ...` shows the application's logs for a test.
        let _ = tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
            .with_test_writer()
            .try_init();
        let env = test_env(data_dir.path(), vars);
        let database_url = env["DATABASE_URL"].clone();
        let settings =
            Settings::from_lookup(|name| env.get(name).cloned()).expect("test settings are valid");
        let app = Application::build_with_clock(&settings, clock.clone())
            .await
            .expect("doorman starts");
        let address = format!("http://{}", app.local_addr());
        let doorman = app.doorman().clone();
        let (stop, stop_signal) = tokio::sync::oneshot::channel::<()>();
        let stopped = tokio::spawn(app.run_until(async move {
            let _ = stop_signal.await;
        }));
        Self {
            stop: Some(stop),
            stopped: Some(stopped),
            address,
            client: reqwest::Client::new(),
            doorman,
            database_url,
            backend,
            data_dir,
            clock,
        }
    }

    /// Moves doorman's clock forward: deadlines, back-offs and expiries come due as if
    /// that much time had passed.
    pub fn advance(&self, by: chrono::Duration) {
        self.clock.advance(by);
    }

    /// Stops doorman and starts it again on the same database and data directory, with
    /// these variables.
    pub async fn restart(&mut self, vars: &[(&str, &str)]) {
        self.stop().await;
        let data_dir =
            std::mem::replace(&mut self.data_dir, tempfile::tempdir().expect("temp dir"));
        let url = self.database_url.clone();
        let mut all = vec![("DATABASE_URL", url.as_str())];
        all.extend_from_slice(vars);
        *self = Self::start(self.backend, data_dir, &all, self.clock.clone()).await;
    }

    /// Stops doorman as a shutdown would, and waits until it has.
    pub async fn stop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(stopped) = self.stopped.take() {
            stopped
                .await
                .expect("doorman stops")
                .expect("doorman stops cleanly");
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.address)
    }

    /// A request with the admin key.
    pub fn get(&self, path: &str) -> RequestBuilder {
        self.client.get(self.url(path)).header("x-api-key", API_KEY)
    }

    pub fn post(&self, path: &str) -> RequestBuilder {
        self.client
            .post(self.url(path))
            .header("x-api-key", API_KEY)
    }

    pub fn delete(&self, path: &str) -> RequestBuilder {
        self.client
            .delete(self.url(path))
            .header("x-api-key", API_KEY)
    }

    pub async fn upload_bytes(&self, bytes: Vec<u8>) -> Response {
        let part = reqwest::multipart::Part::bytes(bytes)
            .file_name("invitees.csv")
            .mime_str("text/csv")
            .unwrap();
        let form = reqwest::multipart::Form::new().part("file", part);
        self.post("/api/upload-csv")
            .multipart(form)
            .send()
            .await
            .expect("upload sent")
    }

    /// Uploads a CSV and returns the import report (asserting it was accepted).
    pub async fn upload_csv(&self, csv: &str) -> Value {
        let response = self.upload_bytes(csv.as_bytes().to_vec()).await;
        assert_eq!(response.status(), 200, "upload refused");
        response.json().await.unwrap()
    }

    /// Invites one person and issues their token: (invitee id, token).
    pub async fn invite(&self, email: &str) -> (i64, String) {
        let report = self
            .upload_csv(&format!(
                "email,name,college,branch,year\n{email},Test Person,Test College,CSE,2026\n"
            ))
            .await;
        let id = report["newly_added_users"][0]["id"]
            .as_i64()
            .expect("invitee was added");
        (id, self.refresh_token(id).await)
    }

    pub async fn refresh_token(&self, id: i64) -> String {
        let body: Value = self
            .post(&format!("/api/refresh-token/{id}"))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        body["new_token"].as_str().expect("a new token").to_owned()
    }

    pub async fn verify(&self, email: &str, token: &str) -> Response {
        self.post("/api/verify")
            .json(&json!({ "email": email, "token": token }))
            .send()
            .await
            .unwrap()
    }

    /// Verifies and returns the JSON body (asserting a 200).
    pub async fn verify_json(&self, email: &str, token: &str) -> Value {
        let response = self.verify(email, token).await;
        assert_eq!(response.status(), 200);
        response.json().await.unwrap()
    }

    /// GETs a path with the admin key and returns its JSON body.
    pub async fn get_json(&self, path: &str) -> Value {
        let response = self.get(path).send().await.expect("request sent");
        response.json().await.expect("a JSON body")
    }

    pub async fn events(&self, query: &str) -> Vec<Value> {
        let body = self.get_json(&format!("/api/events?{query}")).await;
        body["events"].as_array().expect("events array").clone()
    }

    /// Runs SQL directly against the test's database, to arrange what the API cannot
    /// (a token that has expired, an attempt long ago).
    pub async fn sql(&self, statement: &str) {
        self.sql_strings(statement).await;
    }

    /// Every text value in the invitees table, to check what is and is not stored.
    pub async fn stored_text(&self) -> String {
        let rows = self
            .sql_strings("SELECT COALESCE(token_hash, '') || ' ' || COALESCE(token_sealed, '') || ' ' || email FROM invitees")
            .await;
        rows.join("\n")
    }

    /// Runs a statement on the test's own connection; the text column it returns, if any.
    async fn sql_strings(&self, statement: &str) -> Vec<String> {
        match self.backend {
            Backend::Sqlite => {
                let pool = sqlx::SqlitePool::connect(&self.database_url).await.unwrap();
                let rows = sqlx::query_scalar(statement)
                    .fetch_all(&pool)
                    .await
                    .unwrap();
                pool.close().await;
                rows
            }
            Backend::Postgres => {
                let pool = sqlx::PgPool::connect(&self.database_url).await.unwrap();
                let rows = sqlx::query_scalar(statement)
                    .fetch_all(&pool)
                    .await
                    .unwrap();
                pool.close().await;
                rows
            }
        }
    }
}
