//! Email benchmark: how long doorman takes to deliver a batch of invitations through
//! SendGrid, against a fake SendGrid that answers every request after 100 ms.
//!
//! ```text
//! cargo bench --bench email [-- --emails 2000 --latency-ms 100 --backend sqlite|postgres|both]
//! ```
//!
//! It starts doorman in-process on a fresh database, imports the invitees over HTTP,
//! calls `POST /api/send-emails` with `all_unverified`, and times from that call until
//! the fake has accepted every email. The target: 2,000 emails in under 5 s. PostgreSQL
//! is reached through `BENCH_POSTGRES_URL` (default
//! `postgres://postgres@127.0.0.1:5432/postgres`); if unreachable it is skipped.

#[path = "../tests/api/fakes/fake_sendgrid.rs"]
#[allow(dead_code)]
mod fake_sendgrid;

use std::collections::HashMap;
use std::time::{Duration, Instant};

use clap::{Parser, ValueEnum};
use doorman::config::Settings;
use doorman::startup::Application;
use fake_sendgrid::FakeSendGrid;

const API_KEY: &str = "bench-admin-key-0123456789abcdef";
const TARGET: Duration = Duration::from_secs(5);

#[derive(Debug, Parser)]
#[command(
    name = "email",
    about = "Measure how fast doorman delivers invitation emails"
)]
struct Args {
    /// Invitees to email.
    #[arg(long, default_value_t = 2000)]
    emails: usize,
    /// How long the fake SendGrid takes to answer each request.
    #[arg(long, default_value_t = 100)]
    latency_ms: u64,
    #[arg(long, value_enum, default_value_t = Choice::Both)]
    backend: Choice,
    /// Passed by `cargo bench`; ignored.
    #[arg(long, hide = true)]
    bench: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Choice {
    Sqlite,
    Postgres,
    Both,
}

struct Measured {
    backend: &'static str,
    queued_in: Duration,
    delivered_in: Duration,
    requests: usize,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let mut results = Vec::new();
    if args.backend != Choice::Postgres {
        results.push(run(&args, "sqlite").await?);
    }
    if args.backend != Choice::Sqlite {
        match postgres_url().await {
            Some(url) => results.push(run_on(&args, "postgres", url).await?),
            None => eprintln!("PostgreSQL unreachable: skipped"),
        }
    }
    println!();
    println!(
        "| database | emails | provider latency | queued in | all delivered in | requests | target |"
    );
    println!("|---|---|---|---|---|---|---|");
    for m in &results {
        println!(
            "| {} | {} | {} ms | {:.2} s | {:.2} s | {} | < {} s {} |",
            m.backend,
            args.emails,
            args.latency_ms,
            m.queued_in.as_secs_f64(),
            m.delivered_in.as_secs_f64(),
            m.requests,
            TARGET.as_secs(),
            if m.delivered_in < TARGET {
                "met"
            } else {
                "MISSED"
            }
        );
    }
    Ok(())
}

async fn postgres_url() -> Option<String> {
    let admin = std::env::var("BENCH_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into());
    let pool = sqlx::PgPool::connect(&admin).await.ok()?;
    let schema = format!("bench_email_{}", std::process::id());
    sqlx::query(&format!("DROP SCHEMA IF EXISTS {schema} CASCADE"))
        .execute(&pool)
        .await
        .ok()?;
    sqlx::query(&format!("CREATE SCHEMA {schema}"))
        .execute(&pool)
        .await
        .ok()?;
    pool.close().await;
    let separator = if admin.contains('?') { '&' } else { '?' };
    Some(format!(
        "{admin}{separator}options=-c%20search_path%3D{schema}"
    ))
}

async fn run(args: &Args, backend: &'static str) -> anyhow::Result<Measured> {
    let dir = tempfile::tempdir()?;
    let url = format!(
        "sqlite://{}?mode=rwc",
        dir.path().join("bench.sqlite").display()
    );
    let measured = run_on(args, backend, url).await;
    drop(dir);
    measured
}

async fn run_on(
    args: &Args,
    backend: &'static str,
    database_url: String,
) -> anyhow::Result<Measured> {
    let sendgrid = FakeSendGrid::start_with_delay(Duration::from_millis(args.latency_ms)).await;
    let dir = tempfile::tempdir()?;
    let mut env: HashMap<String, String> = sendgrid
        .env()
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v))
        .collect();
    env.extend(
        [
            ("DATABASE_URL", database_url.as_str()),
            ("DATA_DIR", &dir.path().display().to_string()),
            ("BIND_ADDR", "127.0.0.1:0"),
            ("SECRET_KEY", API_KEY),
            ("EMAIL_SEND_WAIT_SECONDS", "0"),
        ]
        .map(|(k, v)| (k.to_owned(), v.to_owned())),
    );
    let settings = Settings::from_lookup(|name| env.get(name).cloned())?;
    let app = Application::build(&settings).await?;
    let base = format!("http://{}", app.local_addr());
    tokio::spawn(app.run_until(std::future::pending()));
    let client = reqwest::Client::new();

    let mut csv = String::from("email,name,college,branch,year\n");
    for i in 0..args.emails {
        csv.push_str(&format!(
            "person{i}@example.org,Person {i},College,CSE,2026\n"
        ));
    }
    let form = reqwest::multipart::Form::new().part(
        "file",
        reqwest::multipart::Part::bytes(csv.into_bytes()).file_name("invitees.csv"),
    );
    let imported = client
        .post(format!("{base}/api/upload-csv"))
        .header("x-api-key", API_KEY)
        .multipart(form)
        .send()
        .await?;
    anyhow::ensure!(imported.status().is_success(), "import failed");

    eprintln!("{backend}: sending {} emails...", args.emails);
    let start = Instant::now();
    let report: serde_json::Value = client
        .post(format!("{base}/api/send-emails"))
        .header("x-api-key", API_KEY)
        .json(&serde_json::json!({ "all_unverified": true }))
        .send()
        .await?
        .json()
        .await?;
    let queued_in = start.elapsed();
    anyhow::ensure!(report["emails_skipped"] == 0, "unexpected answer: {report}");
    let deadline = start + Duration::from_secs(120);
    while sendgrid.received().len() < args.emails {
        anyhow::ensure!(Instant::now() < deadline, "not delivered within 2 minutes");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let delivered_in = start.elapsed();
    // None twice.
    let mut unique: Vec<String> = sendgrid.received().into_iter().map(|r| r.to).collect();
    unique.sort();
    unique.dedup();
    anyhow::ensure!(unique.len() == args.emails, "some invitee got two emails");
    Ok(Measured {
        backend,
        queued_in,
        delivered_in,
        requests: sendgrid.requests(),
    })
}
