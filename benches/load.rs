//! The benchmark: how doorman holds up on this machine, on SQLite and on PostgreSQL.
//!
//! ```text
//! cargo bench --bench load [-- --backend sqlite|postgres|both --rows 100000 --verify-seconds 10 --clients 64 --no-write]
//! ```
//!
//! For each backend it starts the release `doorman` binary and drives it over HTTP on
//! 127.0.0.1. First on a fresh database of its own: start-up time (migrations included),
//! idle memory, a 10,000-row import, and 2,000 invitation emails through a fake SendGrid
//! in this process that answers after 100 ms. Then on another fresh database: the
//! 100,000-row import, the listing and its peak memory, start-up on that now full
//! database, verifications (and, on PostgreSQL, the wrong-token load spread over two
//! replicas). It prints one Markdown table of what it measured next to the team's
//! targets, with a description of the machine, and writes it to docs/benchmarks.md as
//! the section "## Measured <date>" (not with `--no-write`). Nothing is asserted: the
//! numbers are for people to compare, not for CI.
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
#[path = "load/doc.rs"]
mod doc;
#[path = "load/email.rs"]
mod email;
// The tests' fake, so that the bench's emails meet the same checks of SendGrid's schema.
#[path = "../tests/api/fakes/fake_sendgrid.rs"]
#[allow(dead_code)]
mod fake_sendgrid;
#[path = "load/fresh.rs"]
mod fresh;
#[path = "load/psql.rs"]
mod psql;
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
#[path = "load/verify.rs"]
mod verify;

use std::time::{Duration, Instant};

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
    about = "Measure doorman's start-up, memory, import, listing, email and verification speed"
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
    /// Print the table only; leave docs/benchmarks.md alone (for trial runs).
    #[arg(long)]
    no_write: bool,
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
    let started = Instant::now();
    let mut report = Report::new(&args);
    let client = steps::api_client()?;
    progress(format_args!(
        "writing CSV files of {} and {} rows",
        fresh::SMALL_ROWS,
        args.rows
    ));
    let files = Files {
        small: data::write_csv(fresh::SMALL_ROWS)?,
        large: data::write_csv(args.rows)?,
    };

    for &backend in args.backend.backends() {
        progress(format_args!("== {backend} =="));
        if let Err(e) = run_backend(backend, &args, &client, &files, &mut report).await {
            progress(format_args!("{backend} failed: {e:#}"));
            report.push(Row::new(backend, "benchmark", format!("failed: {e:#}")));
        }
    }
    report.finish(started.elapsed());
    let markdown = report.to_markdown();
    println!("{markdown}");
    if !args.no_write {
        let path = doc::write(&markdown)?;
        progress(format_args!("written to {}", path.display()));
    }
    Ok(())
}

struct Files {
    /// For the fresh database's import.
    small: CsvFile,
    /// For the main run's import (`--rows`).
    large: CsvFile,
}

/// One backend: the fresh database's measurements, then the main run's on another fresh
/// database, each removed afterwards whatever happens in between.
async fn run_backend(
    backend: Backend,
    args: &Args,
    client: &reqwest::Client,
    files: &Files,
    report: &mut Report,
) -> anyhow::Result<()> {
    let Some(database) = create_database(backend, report).await? else {
        return Ok(());
    };
    report.add_database_version(backend, &database.version);
    progress(format_args!(
        "a fresh database: start-up, idle memory, import, emails"
    ));
    let first = fresh::run(&database, client, &files.small, report).await;
    remove_database(database).await;
    if let Err(e) = first {
        // The main run does not depend on it, so it goes ahead.
        progress(format_args!("the fresh database's steps failed: {e:#}"));
        report.push(Row::new(
            backend,
            "start-up, idle memory, 10,000-row import, emails",
            format!("failed: {e:#}"),
        ));
    }

    let Some(database) = create_database(backend, report).await? else {
        return Ok(());
    };
    let result = run_steps(&database, args, client, &files.large, report).await;
    remove_database(database).await;
    result
}

/// A fresh database, or none (and a row saying why) if the backend cannot be measured.
async fn create_database(
    backend: Backend,
    report: &mut Report,
) -> anyhow::Result<Option<Database>> {
    match Database::create(backend).await? {
        Setup::Ready(database) => Ok(Some(database)),
        Setup::Unavailable(why) => {
            progress(format_args!("skipping {backend}: {why}"));
            report.push(Row::new(backend, "benchmark", format!("skipped: {why}")));
            Ok(None)
        }
    }
}

/// Call it once every server on the database is gone (each `Server` is dropped by then).
async fn remove_database(database: Database) {
    let backend = database.backend;
    if let Err(e) = database.remove().await {
        progress(format_args!(
            "could not remove the {backend} database: {e:#}"
        ));
    }
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
    let import = steps::import(&session, csv, true, report).await?;
    if backend == Backend::Postgres {
        progress(format_args!("importing the same file with psql \\copy"));
        psql::copy(database, csv, import, report).await;
    }
    drop(server);

    // Restart: the server's peak RSS (VmHWM) only ever grows, so a fresh process is the
    // only way to see what listing alone costs, without the import's high-water mark.
    progress(format_args!("listing every invitee"));
    let server = Server::start(database, Throttle::Relaxed, client).await?;
    let session = Session::new(client, &server, backend);
    report.push(session.row(
        format!(
            "start-up on an existing database of {} invitees (spawn to the first 200 from /ready)",
            report::thousands(csv.rows as f64)
        ),
        report::ms(server.started_in),
    ));
    let invitees = steps::list(&session, csv.rows, report).await?;

    let issue = invitees.len().min(20_000);
    progress(format_args!("issuing {issue} tokens"));
    let tokens = steps::issue_tokens(&session, &invitees[..issue], report).await;
    progress(format_args!("verifying with correct tokens"));
    verify::correct(&session, tokens, load, report).await;
    progress(format_args!("verifying with wrong tokens"));
    let one_replica = verify::wrong(&session, &invitees, load, report).await;
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
    verify::throttled(&session, &invitees, load, report).await;
    Ok(())
}

/// What the bench is doing, on stderr so that stdout is only the report.
fn progress(message: std::fmt::Arguments<'_>) {
    eprintln!("[load] {message}");
}
