//! Several `doorman serve` processes: replicas sharing one PostgreSQL, and the one server
//! an SQLite file allows (with its online backup).

mod failover;
mod shared_state;
mod sqlite;

pub use shared_state::two_replicas;

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use serde_json::{Value, json};

use crate::helpers::API_KEY;

/// The token secret every replica shares (as they must).
pub const SHARED_SECRET: &str = "a-token-secret-shared-by-every-replica-0123";

/// `doorman` with a clean environment, the test admin key and the shared token secret.
pub fn doorman(data_dir: &Path, env: &[(&str, String)]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_doorman"));
    command
        .env_clear()
        .env("DATA_DIR", data_dir)
        .env("SECRET_KEY", API_KEY)
        .env("TOKEN_SECRET", SHARED_SECRET)
        .env("BIND_ADDR", "127.0.0.1:0")
        .env("RUST_LOG", "info,sqlx=warn")
        .current_dir(data_dir);
    for (k, v) in env {
        command.env(k, v);
    }
    command
}

/// A `doorman serve` child process, killed when dropped. Its log goes to a file in its
/// data directory, shown when it fails to start.
pub struct Replica {
    child: Child,
    pub address: String,
    pub client: reqwest::Client,
    pub data_dir: tempfile::TempDir,
}

impl Replica {
    /// Starts `doorman serve` and waits for its banner, which names its address.
    pub fn start(env: &[(&str, String)]) -> Self {
        let data_dir = tempfile::tempdir().expect("temp dir");
        let log = std::fs::File::create(data_dir.path().join("doorman.log")).unwrap();
        let mut child = doorman(data_dir.path(), env)
            .arg("serve")
            .stdout(Stdio::piped())
            .stderr(log)
            .spawn()
            .expect("doorman starts");
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        // Reads the banner, then keeps the pipe drained for the process's life.
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if let Some(api) = line.trim().strip_prefix("API:") {
                    let _ = tx.send(api.trim().trim_end_matches("/api").to_owned());
                }
            }
        });
        match rx.recv_timeout(Duration::from_secs(60)) {
            Ok(address) => Self {
                child,
                address,
                client: reqwest::Client::new(),
                data_dir,
            },
            Err(_) => {
                let _ = child.kill();
                let _ = child.wait();
                let log = std::fs::read_to_string(data_dir.path().join("doorman.log"));
                panic!("doorman serve did not start: {}", log.unwrap_or_default());
            }
        }
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// SIGKILL: no shutdown of any kind.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.data_dir.path().join("doorman.log")).unwrap_or_default()
    }

    pub fn post(&self, path: &str) -> reqwest::RequestBuilder {
        self.client
            .post(format!("{}{path}", self.address))
            .header("x-api-key", API_KEY)
    }

    pub async fn get_json(&self, path: &str) -> Value {
        let response = self
            .client
            .get(format!("{}{path}", self.address))
            .header("x-api-key", API_KEY)
            .send()
            .await
            .expect("request sent");
        response.json().await.expect("a JSON body")
    }

    /// `POST /api/upload-csv` of `csv` through this replica, ready to send (from another
    /// task too: it holds all it needs).
    pub fn upload(&self, csv: String) -> reqwest::RequestBuilder {
        let part = reqwest::multipart::Part::bytes(csv.into_bytes())
            .file_name("invitees.csv")
            .mime_str("text/csv")
            .unwrap();
        self.post("/api/upload-csv")
            .multipart(reqwest::multipart::Form::new().part("file", part))
    }

    /// Imports `csv` through this replica; the report (asserting a 200).
    pub async fn upload_csv(&self, csv: String) -> Value {
        let response = self.upload(csv).send().await.expect("request sent");
        assert_eq!(response.status(), 200, "upload through {}", self.address);
        response.json().await.unwrap()
    }

    /// `POST /api/verify` through this replica; the body (asserting a 200).
    pub async fn verify(&self, email: &str, token: &str) -> Value {
        let response = self
            .post("/api/verify")
            .json(&json!({ "email": email, "token": token }))
            .send()
            .await
            .expect("request sent");
        assert_eq!(response.status(), 200, "verify through {}", self.address);
        response.json().await.unwrap()
    }
}

impl Drop for Replica {
    fn drop(&mut self) {
        self.kill();
    }
}

/// An import file of `{prefix}{i}@example.org` for each `i` of `people`.
pub fn people_csv(prefix: &str, people: std::ops::Range<usize>) -> String {
    let mut csv = String::from("email,name,college,branch,year\n");
    for i in people {
        csv.push_str(&format!(
            "{prefix}{i}@example.org,Person {i},MIT,CSE,2026\n"
        ));
    }
    csv
}

/// Polls `check` every 50 ms until it holds; panics naming `what` after `patience`.
pub async fn eventually<F, Fut>(what: &str, patience: Duration, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let deadline = tokio::time::Instant::now() + patience;
    while !check().await {
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out after {patience:?} waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
