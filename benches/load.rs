//! Load benchmark: how doorman holds up on this machine, on SQLite and on PostgreSQL.
//!
//! ```text
//! cargo bench --bench load [-- --backend sqlite|postgres|both --rows 100000 --verify-seconds 10 --clients 64]
//! ```
//!
//! For each backend it starts the release `doorman` binary on a fresh database, drives it
//! over HTTP on 127.0.0.1 (import, listing, verification; on PostgreSQL also the
//! wrong-token load spread over two replicas), and finally prints a Markdown
//! table of what it measured next to the team's targets, with a description of the
//! machine. Nothing is asserted: the numbers are for people to compare, not for CI.
//!
//! PostgreSQL is reached through `BENCH_POSTGRES_URL` (default
//! `postgres://postgres@127.0.0.1:5432/postgres`); if it is unreachable that backend is
//! skipped. `psql` must be on the PATH for the `\copy` comparison.

// A bench's root file is a crate root, so its modules are found next to it unless told.
#[path = "load/cpu.rs"]
mod cpu;
#[path = "load/data.rs"]
mod data;
#[path = "load/database.rs"]
mod database;
#[path = "load/replicas.rs"]
mod replicas;
#[path = "load/report.rs"]
mod report;
#[path = "load/server.rs"]
mod server;
#[path = "load/steps.rs"]
mod steps;
#[path = "load/traffic.rs"]
mod traffic;

use std::time::Duration;

use clap::{Parser, ValueEnum};

use data::CsvFile;
use database::{Backend, Database, Setup};
use report::{Report, Row};
use server::{Server, Throttle};
use steps::Session;
use traffic::Load;

/// The load benchmark's options (after `cargo bench --bench load --`).
#[derive(Debug, Parser)]
#[command(
    name = "load",
    about = "Measure doorman's import, listing and verification speed"
)]
struct Args {
    /// Which database(s) to measure.
    #[arg(long, value_enum, default_value_t = BackendChoice::Both)]
    backend: BackendChoice,
    /// Rows in the imported CSV file (the targets are set for 100,000).
    #[arg(long, default_value_t = 100_000)]
    rows: usize,
    /// Longest duration of each verification run, in seconds.
    #[arg(long, default_value_t = 10)]
    verify_seconds: u64,
    /// Concurrent clients during the verification runs (the targets are set for 64).
    #[arg(long, default_value_t = 64)]
    clients: usize,
    /// Passed by `cargo bench` to every `harness = false` bench; ignored.
    #[arg(long, hide = true)]
    bench: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum BackendChoice {
    Sqlite,
    Postgres,
    Both,
}

impl BackendChoice {
    fn backends(self) -> &'static [Backend] {
        match self {
            Self::Sqlite => &[Backend::Sqlite],
            Self::Postgres => &[Backend::Postgres],
            Self::Both => &[Backend::Sqlite, Backend::Postgres],
        }
    }
}

impl Args {
    fn verify_duration(&self) -> Duration {
        Duration::from_secs(self.verify_seconds)
    }
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    anyhow::ensure!(args.rows > 0, "--rows must be at least 1");
    anyhow::ensure!(args.clients > 0, "--clients must be at least 1");

    // First, so that the load average it notes is from before the bench's own work.
    let mut report = Report::new(&args);
    let client = steps::api_client()?;
    progress(format_args!("writing a {}-row CSV file", args.rows));
    let csv = data::write_csv(args.rows)?;

    for &backend in args.backend.backends() {
        progress(format_args!("== {backend} =="));
        if let Err(e) = run_backend(backend, &args, &client, &csv, &mut report).await {
            progress(format_args!("{backend} failed: {e:#}"));
            report.push(Row::new(backend, "benchmark", format!("failed: {e:#}")));
        }
    }
    println!("{}", report.to_markdown());
    Ok(())
}

/// One backend from a fresh database to its removal, whatever happens in between.
async fn run_backend(
    backend: Backend,
    args: &Args,
    client: &reqwest::Client,
    csv: &CsvFile,
    report: &mut Report,
) -> anyhow::Result<()> {
    let database = match Database::create(backend).await? {
        Setup::Ready(database) => database,
        Setup::Unavailable(why) => {
            progress(format_args!("skipping {backend}: {why}"));
            report.push(Row::new(backend, "benchmark", format!("skipped: {why}")));
            return Ok(());
        }
    };
    report.add_database_version(backend, &database.version);
    let result = run_steps(&database, args, client, csv, report).await;
    // Every server is gone by now (each `Server` is dropped inside `run_steps`).
    if let Err(e) = database.remove().await {
        progress(format_args!(
            "could not remove the {backend} database: {e:#}"
        ));
    }
    result
}

async fn run_steps(
    database: &Database,
    args: &Args,
    client: &reqwest::Client,
    csv: &CsvFile,
    report: &mut Report,
) -> anyhow::Result<()> {
    let backend = database.backend;
    let load = Load {
        clients: args.clients,
        duration: args.verify_duration(),
    };

    progress(format_args!("importing {} rows through the API", csv.rows));
    let server = Server::start(database, Throttle::Relaxed, client).await?;
    let session = Session::new(client, &server, backend);
    let import = steps::import(&session, csv, report).await?;
    if backend == Backend::Postgres {
        progress(format_args!("importing the same file with psql \\copy"));
        steps::psql_copy(database, csv, import, report).await;
    }
    drop(server);

    // Restart: the server's peak RSS (VmHWM) only ever grows, so a fresh process is the
    // only way to see what listing alone costs, without the import's high-water mark.
    progress(format_args!("listing every invitee"));
    let server = Server::start(database, Throttle::Relaxed, client).await?;
    let session = Session::new(client, &server, backend);
    let invitees = steps::list(&session, csv.rows, report).await?;

    let issue = invitees.len().min(20_000);
    progress(format_args!("issuing {issue} tokens"));
    let tokens = steps::issue_tokens(&session, &invitees[..issue], report).await;
    progress(format_args!("verifying with correct tokens"));
    steps::verify_correct(&session, tokens, load, report).await;
    progress(format_args!("verifying with wrong tokens"));
    let one_replica = steps::verify_wrong(&session, &invitees, load, report).await;
    if backend == Backend::Postgres {
        progress(format_args!(
            "verifying with wrong tokens over two replicas"
        ));
        let second = Server::start(database, Throttle::Relaxed, client).await?;
        replicas::verify_wrong_two_replicas(
            &session,
            [&server, &second],
            &invitees,
            load,
            one_replica,
            report,
        )
        .await;
    }
    drop(server);

    // Restart with the default throttle (5 failures per email per window): the runs above
    // lift it so that wrong tokens are checked rather than refused; this run measures the
    // refusals themselves.
    progress(format_args!("verifying wrong tokens until throttled"));
    let server = Server::start(database, Throttle::Default, client).await?;
    let session = Session::new(client, &server, backend);
    steps::verify_throttled(&session, &invitees, load, report).await;
    Ok(())
}

/// What the bench is doing, on stderr so that stdout is only the report.
fn progress(message: std::fmt::Arguments<'_>) {
    eprintln!("[load] {message}");
}
