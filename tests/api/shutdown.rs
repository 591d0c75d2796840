//! Stopping `doorman serve`, the real binary: SIGTERM under load loses and repeats
//! nothing; after SIGKILL, the work it had claimed is taken up again once its leases run
//! out.

use std::collections::HashMap;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use crate::email::{eventually, import, send};
use crate::fakes::fake_sendgrid::FakeSendGrid;
use crate::helpers::{API_KEY, Backend, TestApp};
use crate::on_both_databases;

const SHARED_SECRET: &str = "a-token-secret-shared-by-every-replica-0123";

/// A `doorman serve` process on `app`'s database.
struct Server {
    child: Child,
    url: String,
}

impl Server {
    async fn start(app: &TestApp, sendgrid: &FakeSendGrid, extra: &[(&str, &str)]) -> Self {
        // A free port: bound, read, let go (the child binds it a moment later).
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let mut command = Command::new(env!("CARGO_BIN_EXE_doorman"));
        command
            .arg("serve")
            .env_clear()
            .env("DATABASE_URL", &app.database_url)
            .env("DATA_DIR", app.data_dir.path())
            .env("SECRET_KEY", API_KEY)
            .env("TOKEN_SECRET", SHARED_SECRET)
            .env("BIND_ADDR", format!("127.0.0.1:{port}"))
            .env("EMAIL_POLL_INTERVAL_MS", "50")
            .env("EMAIL_BATCH_SIZE", "4")
            .env("EMAIL_CONCURRENCY", "2")
            .env(
                "RUST_LOG",
                std::env::var("CHILD_LOG").unwrap_or_else(|_| "warn".into()),
            )
            .current_dir(app.data_dir.path())
            .stdin(Stdio::null())
            .stdout(Stdio::null());
        for (key, value) in sendgrid.env() {
            command.env(key, value);
        }
        for (key, value) in extra {
            command.env(key, value);
        }
        let server = Self {
            child: command.spawn().expect("doorman starts"),
            url: format!("http://127.0.0.1:{port}"),
        };
        let client = reqwest::Client::new();
        eventually("doorman serve to be ready", || async {
            matches!(client.get(format!("{}/ready", server.url)).send().await, Ok(r) if r.status() == 200)
        })
        .await;
        server
    }

    fn signal(&self, signal: &str) {
        let status = Command::new("kill")
            .args([signal, &self.child.id().to_string()])
            .status()
            .unwrap();
        assert!(status.success());
    }

    /// Waits (up to 30 s) for the process to end.
    async fn exit_status(mut self) -> std::process::ExitStatus {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "doorman did not stop"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Whether `error` is a connection reset while the request was being sent (no response
/// had begun).
fn reset_before_sending(error: &reqwest::Error) -> bool {
    let mut source: Option<&dyn std::error::Error> = Some(error);
    let mut sending = false;
    while let Some(e) = source {
        sending |= format!("{e:?}").starts_with("hyper_util::client::legacy::Error(SendRequest");
        if let Some(io) = e.downcast_ref::<std::io::Error>() {
            return sending && io.kind() == std::io::ErrorKind::ConnectionReset;
        }
        source = e.source();
    }
    false
}

/// How many emails each address received.
fn received_counts(sendgrid: &FakeSendGrid) -> HashMap<String, usize> {
    let mut counts = HashMap::new();
    for received in sendgrid.received() {
        *counts.entry(received.to).or_default() += 1;
    }
    counts
}

/// `(status, leased)` of every email, straight from the database.
async fn email_rows(app: &TestApp) -> Vec<(String, String, bool)> {
    let sql = "SELECT e.recipient, e.status, e.lease_until IS NOT NULL FROM emails e ORDER BY e.id";
    match app.backend {
        Backend::Sqlite => {
            let pool = sqlx::SqlitePool::connect(&app.database_url).await.unwrap();
            let rows = sqlx::query_as(sql).fetch_all(&pool).await.unwrap();
            pool.close().await;
            rows
        }
        Backend::Postgres => {
            let pool = sqlx::PgPool::connect(&app.database_url).await.unwrap();
            let rows = sqlx::query_as(sql).fetch_all(&pool).await.unwrap();
            pool.close().await;
            rows
        }
    }
}

/// Imports `n` people and queues their invitations through an app whose workers are off.
async fn queue_invitations(app: &TestApp, prefix: &str, n: usize) -> Vec<String> {
    let people: Vec<(String, String)> = (0..n)
        .map(|i| (format!("{prefix}{i}@example.org"), format!("Person {i}")))
        .collect();
    let pairs: Vec<(&str, &str)> = people
        .iter()
        .map(|(e, n)| (e.as_str(), n.as_str()))
        .collect();
    let ids = import(app, &pairs).await;
    let report = send(app, serde_json::json!(ids)).await;
    assert_eq!(report["emails_queued"], n as i64, "{report}");
    people.into_iter().map(|(email, _)| email).collect()
}

async fn queuing_app(backend: Backend, sendgrid: &FakeSendGrid) -> TestApp {
    let mut env: Vec<(&str, &str)> = vec![
        ("EMAIL_WORKERS", "false"),
        ("EMAIL_SEND_WAIT_SECONDS", "0"),
        ("TOKEN_SECRET", SHARED_SECRET),
    ];
    let sendgrid_env = sendgrid.env();
    env.extend(sendgrid_env.iter().map(|(k, v)| (*k, v.as_str())));
    TestApp::spawn_with(backend, &env).await
}

/// Starts `doorman serve` on a fresh SQLite database with `vars`, logging to a pipe.
fn serve_logging(dir: &std::path::Path, port: u16, vars: &[(&str, &str)]) -> Child {
    let mut command = Command::new(env!("CARGO_BIN_EXE_doorman"));
    command
        .arg("serve")
        .env_clear()
        .env("DATA_DIR", dir)
        .env("SECRET_KEY", API_KEY)
        .env("BIND_ADDR", format!("127.0.0.1:{port}"))
        .current_dir(dir)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    for (key, value) in vars {
        command.env(key, value);
    }
    command.spawn().expect("doorman starts")
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

async fn wait_ready(url: &str) {
    let client = reqwest::Client::new();
    eventually("doorman serve to be ready", || async {
        matches!(client.get(format!("{url}/ready")).send().await, Ok(r) if r.status() == 200)
    })
    .await;
}

/// Waits (up to `limit`) for `child` to end.
async fn wait_exit(child: &mut Child, limit: Duration) -> std::process::ExitStatus {
    let deadline = tokio::time::Instant::now() + limit;
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "doorman did not stop in {limit:?}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn a_request_outlasting_the_grace_does_not_hold_the_shutdown() {
    use tokio::io::AsyncWriteExt;
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let mut child = serve_logging(
        dir.path(),
        port,
        &[("SHUTDOWN_GRACE_SECONDS", "1"), ("RUST_LOG", "warn")],
    );
    let url = format!("http://127.0.0.1:{port}");
    wait_ready(&url).await;
    // An upload whose body never finishes: a request in flight for as long as we like.
    let mut upload = tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .unwrap();
    let head = format!(
        "POST /api/upload-csv HTTP/1.1\r\nHost: x\r\nx-api-key: {API_KEY}\r\n\
         Content-Type: multipart/form-data; boundary=b\r\nContent-Length: 100000\r\n\r\n--b\r\n"
    );
    upload.write_all(head.as_bytes()).await.unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;
    let started = std::time::Instant::now();
    Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    let status = wait_exit(&mut child, Duration::from_secs(10)).await;
    assert!(status.success(), "{status:?}");
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "stopped after the grace, not the upload's limit"
    );
    let mut stderr = String::new();
    std::io::Read::read_to_string(child.stderr.as_mut().unwrap(), &mut stderr).unwrap();
    assert!(stderr.contains("SHUTDOWN_GRACE_SECONDS"), "{stderr}");
}

#[tokio::test]
async fn json_logs_carry_the_request_id_and_never_the_url() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let mut child = serve_logging(
        dir.path(),
        port,
        &[
            ("LOG_FORMAT", "json"),
            ("RUST_LOG", "info,tower_http=debug"),
        ],
    );
    let url = format!("http://127.0.0.1:{port}");
    wait_ready(&url).await;
    let client = reqwest::Client::new();
    let response = client
        .get(format!("{url}/api/users?search=private-marker@example.org"))
        .header("x-api-key", API_KEY)
        .header("x-request-id", "probe-42")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["x-request-id"], "probe-42");
    Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(
        wait_exit(&mut child, Duration::from_secs(10))
            .await
            .success()
    );
    let mut stderr = String::new();
    std::io::Read::read_to_string(child.stderr.as_mut().unwrap(), &mut stderr).unwrap();

    let lines: Vec<serde_json::Value> = stderr
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect();
    let request_lines: Vec<_> = lines
        .iter()
        .filter(|l| l["span"]["request_id"] == "probe-42")
        .collect();
    assert!(!request_lines.is_empty(), "{stderr}");
    assert!(
        request_lines
            .iter()
            .any(|l| l["span"]["route"] == "/api/users" && l["status"] == 200),
        "{stderr}"
    );
    for leak in ["private-marker", API_KEY, "search="] {
        assert!(!stderr.contains(leak), "{leak} logged: {stderr}");
    }
}

on_both_databases! {
    async fn each_round_claims_no_more_than_its_limit(backend: Backend) {
        // What lets a stop take effect between rounds: a round claims at most batch size
        // × concurrency, however often the claim has run (PostgreSQL plans a statement
        // again, generically, after a few runs).
        let sendgrid = FakeSendGrid::start().await;
        let mut env: Vec<(&str, &str)> = vec![
            ("EMAIL_WORKERS", "false"),
            ("EMAIL_SEND_WAIT_SECONDS", "0"),
            ("EMAIL_BATCH_SIZE", "2"),
            ("EMAIL_CONCURRENCY", "2"),
        ];
        let sendgrid_env = sendgrid.env();
        env.extend(sendgrid_env.iter().map(|(k, v)| (*k, v.as_str())));
        let app = TestApp::spawn_with(backend, &env).await;
        queue_invitations(&app, "r", 40).await;
        for round in 1..=8 {
            let once = AtomicBool::new(true);
            let handled = app.doorman.deliver_due_emails_while(|| once.swap(false, Ordering::SeqCst)).await.unwrap();
            assert_eq!(handled, 4, "round {round}");
            assert_eq!(sendgrid.received().len(), 4 * round, "round {round}");
        }
    }

    async fn each_claim_of_due_deadlines_takes_no_more_than_its_limit(backend: Backend) {
        let app = TestApp::spawn(backend).await;
        let now = chrono::Utc::now();
        // 400 members past their deadline; the service claims 100 at a time.
        let insert = "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 400) \
                      INSERT INTO discord_members (guild_id, user_id, state, deadline, updated_at) \
                      SELECT '7', CAST(i AS TEXT), 'pending', $1, $1 FROM n";
        let deadline = now - chrono::Duration::minutes(1);
        match backend {
            Backend::Sqlite => {
                let pool = sqlx::SqlitePool::connect(&app.database_url).await.unwrap();
                sqlx::query(insert).bind(deadline).execute(&pool).await.unwrap();
                pool.close().await;
            }
            Backend::Postgres => {
                let pool = sqlx::PgPool::connect(&app.database_url).await.unwrap();
                sqlx::query(insert).bind(deadline).execute(&pool).await.unwrap();
                pool.close().await;
            }
        }
        let gate = doorman::service::GateRules {
            default_timeout: Duration::from_secs(600),
            max_attempts: 3,
            // No burst holds: every claimed member comes back as a kick.
            kick_burst_limit: u32::MAX,
        };
        let mut claimed = Vec::new();
        for _ in 0..6 {
            let due = app.doorman.due_kicks(&gate).await.unwrap();
            assert!(due.held.is_empty());
            claimed.push(due.kick.len());
        }
        assert_eq!(claimed, [100, 100, 100, 100, 0, 0]);
    }

    async fn sigterm_under_load_fails_no_request_and_sends_no_email_twice(backend: Backend) {
        let sendgrid = FakeSendGrid::start_with_delay(Duration::from_millis(150)).await;
        let app = queuing_app(backend, &sendgrid).await;
        let people = queue_invitations(&app, "t", 48).await;
        let server = Server::start(&app, &sendgrid, &[]).await;

        // Clients on fresh connections, until the server refuses them.
        let stop = Arc::new(AtomicBool::new(false));
        let answered = Arc::new(AtomicUsize::new(0));
        let terminated = Arc::new(AtomicBool::new(false));
        let clients: Vec<_> = (0..4).map(|i| {
            let (url, stop, answered) = (server.url.clone(), stop.clone(), answered.clone());
            let terminated = terminated.clone();
            tokio::spawn(async move {
                let client = reqwest::Client::builder().pool_max_idle_per_host(0).build().unwrap();
                let mut failures = Vec::new();
                while !stop.load(Ordering::Relaxed) {
                    let request = if i % 2 == 0 {
                        client.get(format!("{url}/api/users?limit=5")).header("x-api-key", API_KEY)
                    } else {
                        client.get(format!("{url}/health"))
                    };
                    match request.send().await {
                        Ok(response) if response.status().is_success() => {
                            answered.fetch_add(1, Ordering::Relaxed);
                        }
                        Ok(response) => failures.push(format!("status {}", response.status())),
                        // Refused: the server no longer accepts, as it should.
                        Err(e) if e.is_connect() => break,
                        // A connection that reached the listen backlog in the instant the
                        // listener closed is reset by the kernel: never accepted either.
                        Err(e) if terminated.load(Ordering::SeqCst) && reset_before_sending(&e) => break,
                        Err(e) => failures.push(format!("{e:?}")),
                    }
                }
                failures
            })
        }).collect();

        eventually("sends to be under way", || async { sendgrid.received().len() >= 8 }).await;
        assert!(answered.load(Ordering::Relaxed) > 0);
        // A request that waits for its batch to be sent, in flight at the signal: it
        // answers with what is done, the rest stays queued.
        let late: Vec<(String, String)> = (0..6).map(|i| (format!("late{i}@example.org"), format!("Late {i}"))).collect();
        let pairs: Vec<(&str, &str)> = late.iter().map(|(e, n)| (e.as_str(), n.as_str())).collect();
        let late_ids = import(&app, &pairs).await;
        let waiting = {
            let url = server.url.clone();
            tokio::spawn(async move {
                reqwest::Client::new()
                    .post(format!("{url}/api/send-emails"))
                    .header("x-api-key", API_KEY)
                    .json(&late_ids)
                    .send()
                    .await
            })
        };
        let all = people.len() + late.len();
        eventually("the late batch to be queued", || async { email_rows(&app).await.len() == all }).await;
        let mut people = people;
        people.extend(late.into_iter().map(|(email, _)| email));
        terminated.store(true, Ordering::SeqCst);
        server.signal("-TERM");
        let status = server.exit_status().await;
        stop.store(true, Ordering::Relaxed);
        assert!(status.success(), "SIGTERM ends doorman with 0, not {status:?}");
        let waited = waiting.await.unwrap().expect("the waiting request is answered");
        assert_eq!(waited.status(), 200);
        let report: serde_json::Value = waited.json().await.unwrap();
        assert!(report["emails_queued"].as_i64().unwrap() > 0, "{report}");
        for client in clients {
            let failures = client.await.unwrap();
            assert!(failures.is_empty(), "accepted requests failed: {failures:?}");
        }

        // Every send the provider accepted is recorded as sent; nothing is left claimed.
        let counts = received_counts(&sendgrid);
        let rows = email_rows(&app).await;
        let stopped_with = counts.len();
        assert!(stopped_with < people.len(), "the workers stopped claiming at once ({stopped_with} sent)");
        for (recipient, status, leased) in &rows {
            assert!(!leased, "{recipient} was left claimed");
            let sent = counts.contains_key(recipient);
            assert_eq!(status == "sent", sent, "{recipient}: {status}");
        }

        // After a restart the rest go out, and each email exactly once.
        let again = Server::start(&app, &sendgrid, &[]).await;
        eventually("the queue to drain", || async { sendgrid.received().len() >= people.len() }).await;
        eventually("every send to be recorded", || async {
            email_rows(&app).await.iter().all(|(_, status, _)| status == "sent")
        }).await;
        let counts = received_counts(&sendgrid);
        for email in &people {
            assert_eq!(counts.get(email), Some(&1), "{email}");
        }
        again.signal("-TERM");
        assert!(again.exit_status().await.success());
    }

    async fn after_sigkill_claimed_emails_are_sent_once_their_leases_run_out(backend: Backend) {
        let sendgrid = FakeSendGrid::start_with_delay(Duration::from_millis(400)).await;
        let app = queuing_app(backend, &sendgrid).await;
        let people = queue_invitations(&app, "k", 12).await;
        let short_lease = [("EMAIL_TIMEOUT_SECONDS", "1"), ("EMAIL_LEASE_SECONDS", "2")];
        let server = Server::start(&app, &sendgrid, &short_lease).await;
        eventually("a send to be in flight", || async { sendgrid.requests() >= 1 }).await;
        server.signal("-KILL");
        assert!(!server.exit_status().await.success());
        let claimed = email_rows(&app).await.iter().filter(|(_, status, leased)| status == "queued" && *leased).count();
        assert!(claimed > 0, "the killed doorman held claims");

        let again = Server::start(&app, &sendgrid, &short_lease).await;
        eventually("every email to be sent", || async {
            email_rows(&app).await.iter().all(|(_, status, _)| status == "sent")
        }).await;
        let counts = received_counts(&sendgrid);
        for email in &people {
            // At least once: a send the provider took just before the kill may go again.
            assert!(counts.get(email).is_some_and(|n| *n >= 1), "{email} was lost");
        }
        let repeated = counts.values().filter(|n| **n > 1).count();
        assert!(repeated <= claimed, "only the claims in flight at the kill can repeat");
        again.signal("-TERM");
        assert!(again.exit_status().await.success());
    }
}
