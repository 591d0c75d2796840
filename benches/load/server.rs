//! The doorman server under test: a child process, killed when its guard is dropped.
//! Its start-up time and memory are read from outside, as an operator would see them.

use std::fs::File;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};

use crate::database::Database;

/// The admin API key (`x-api-key`) the server is started with.
pub const SECRET_KEY: &str = "benchmark-admin-key-000000000000";
const TOKEN_SECRET: &str = "benchmark-token-secret-00000000000000000";
const _: () = assert!(SECRET_KEY.len() == 32 && TOKEN_SECRET.len() == 40);

const STARTUP_LIMIT: Duration = Duration::from_secs(30);
/// How often `/ready` is asked during start-up: fine enough to time a start-up of ~100 ms.
const STARTUP_POLL: Duration = Duration::from_millis(5);

/// Variables the server must not inherit from the bench's environment, so that every run
/// uses doorman's defaults except where the bench says otherwise.
const CLEARED_VARS: &[&str] = &[
    "PORT",
    "DB_HOST",
    "DISCORD_TOKEN",
    "TOKEN_EXPIRY_DAYS",
    "TOKEN_LENGTH",
    "VERIFY_MAX_FAILURES",
    "VERIFY_WINDOW_MINUTES",
    "VERIFY_MAX_FAILURES_PER_EMAIL",
    "VERIFY_MAX_FAILURES_PER_SOURCE",
    "TRUSTED_PROXIES",
    // No real provider, whatever the developer's shell has: only the email step sets one.
    "SENDGRID_API_KEY",
    "SENDGRID_API_URL",
    "SENDGRID_TEMPLATE_ID",
    "SMTP_URL",
    "EMAIL_SEND_WAIT_SECONDS",
];

/// How many failed verifications per email the server allows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Throttle {
    /// A million: wrong tokens are checked, not refused, however many are sent.
    Relaxed,
    /// doorman's default (5 per 15 minutes).
    Default,
}

/// A running `doorman serve`. Dropping it kills the process, also when a step fails.
pub struct Server {
    child: Child,
    base_url: String,
    log: PathBuf,
    /// From spawning the process to the first 200 from `/ready`.
    pub started_in: Duration,
}

impl Server {
    /// Starts the release binary on a free port and waits until `/ready` answers 200.
    pub async fn start(
        database: &Database,
        throttle: Throttle,
        client: &reqwest::Client,
    ) -> anyhow::Result<Self> {
        Self::start_with(database, throttle, client, &[]).await
    }

    /// As [`Server::start`], with these variables set as well.
    pub async fn start_with(
        database: &Database,
        throttle: Throttle,
        client: &reqwest::Client,
        env: &[(&str, String)],
    ) -> anyhow::Result<Self> {
        let port = free_port()?;
        let log = database.data_dir().join(format!("server-{port}.log"));
        let mut command = Command::new(env!("CARGO_BIN_EXE_doorman"));
        command
            .arg("serve")
            // Not the project directory: doorman would read its `.env`.
            .current_dir(database.data_dir())
            .env("DATABASE_URL", &database.url)
            .env("DATA_DIR", database.data_dir())
            .env("SECRET_KEY", SECRET_KEY)
            .env("TOKEN_SECRET", TOKEN_SECRET)
            .env("BIND_ADDR", format!("127.0.0.1:{port}"))
            .env("RUST_LOG", "warn")
            .env("MAX_UPLOAD_MB", "200")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(File::create(&log).context("cannot create the server log")?);
        for var in CLEARED_VARS {
            command.env_remove(var);
        }
        command.env("TRUSTED_PROXIES", "127.0.0.1");
        if throttle == Throttle::Relaxed {
            // Every request comes from this one address, so its allowance is lifted too.
            for var in [
                "VERIFY_MAX_FAILURES",
                "VERIFY_MAX_FAILURES_PER_EMAIL",
                "VERIFY_MAX_FAILURES_PER_SOURCE",
            ] {
                command.env(var, "1000000");
            }
        }
        command.envs(env.iter().map(|(name, value)| (name, value)));
        let spawned = Instant::now();
        let child = command.spawn().context("cannot start doorman")?;
        let mut server = Self {
            child,
            base_url: format!("http://127.0.0.1:{port}"),
            log,
            started_in: Duration::ZERO,
        };
        server.wait_until_ready(client, spawned).await?;
        server.started_in = spawned.elapsed();
        Ok(server)
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base_url)
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The most memory the process has had resident so far (VmHWM), in MiB.
    pub fn peak_rss_mib(&self) -> anyhow::Result<f64> {
        self.status_mib("VmHWM")
    }

    /// The memory the process has resident now (VmRSS), in MiB.
    pub fn rss_mib(&self) -> anyhow::Result<f64> {
        self.status_mib("VmRSS")
    }

    /// A `kB` line of `/proc/<pid>/status`, in MiB.
    fn status_mib(&self, field: &str) -> anyhow::Result<f64> {
        let path = format!("/proc/{}/status", self.pid());
        let status =
            std::fs::read_to_string(&path).with_context(|| format!("cannot read {path}"))?;
        let kib: f64 = status
            .lines()
            .find_map(|line| line.strip_prefix(field)?.strip_prefix(':'))
            .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
            .with_context(|| format!("no {field} line in {path}"))?;
        Ok(kib / 1024.0)
    }

    /// Readiness, not liveness: `/ready` answers 200 once the database answers and every
    /// migration is applied, which is when a load balancer would send traffic.
    async fn wait_until_ready(
        &mut self,
        client: &reqwest::Client,
        started: Instant,
    ) -> anyhow::Result<()> {
        let ready = self.url("/ready");
        loop {
            if let Some(status) = self.child.try_wait()? {
                bail!(
                    "doorman exited ({status}) during start-up:\n{}",
                    self.log_tail()
                );
            }
            let answer = client
                .get(&ready)
                .timeout(Duration::from_secs(2))
                .send()
                .await;
            if answer.is_ok_and(|r| r.status() == reqwest::StatusCode::OK) {
                return Ok(());
            }
            if started.elapsed() > STARTUP_LIMIT {
                bail!(
                    "doorman was not ready within {} s:\n{}",
                    STARTUP_LIMIT.as_secs(),
                    self.log_tail()
                );
            }
            tokio::time::sleep(STARTUP_POLL).await;
        }
    }

    /// The end of the server's stderr, for error messages.
    fn log_tail(&self) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(20)..].join("\n")
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        // The database is scratch, so there is nothing to shut down gracefully for.
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A port that was free a moment ago: bind port 0, note what the OS picked, let it go.
fn free_port() -> anyhow::Result<u16> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").context("cannot find a free port")?;
    Ok(listener.local_addr()?.port())
}
