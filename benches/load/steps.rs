//! The measurements. Each sends its traffic and adds its rows to the report.

use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use anyhow::{Context, ensure};
use reqwest::StatusCode;
use reqwest::header::{HeaderMap, HeaderValue};
use reqwest::multipart::{Form, Part};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::cpu::Meter;
use crate::data::CsvFile;
use crate::database::{Backend, Database};
use crate::progress;
use crate::report::{Report, Row, thousands};
use crate::server::{SECRET_KEY, Server};
use crate::traffic::{self, Kind, Load, Run, classify};

/// Upper bound for the single big requests (upload, listing).
const LONG_REQUEST: Duration = Duration::from_secs(600);
/// Upper bound for one verification or token request.
const SHORT_REQUEST: Duration = Duration::from_secs(30);
/// Tokens are issued with this many requests in flight.
const ISSUE_CLIENTS: usize = 64;
/// The count bound of the time-bound runs: far more than a run's duration allows.
const MAX_REQUESTS_PER_RUN: usize = 10_000_000;
/// doorman's tokens never contain `0` (see its token alphabet), so this never matches.
pub(crate) const WRONG_TOKEN: &str = "00000000";
/// Emails the throttled run cycles through.
const THROTTLED_EMAILS: usize = 64;

// The team's targets.
const IMPORT_MAX_SECS: f64 = 3.0;
const IMPORT_MAX_COPY_RATIO: f64 = 3.0;
const LIST_MAX_SECS: f64 = 1.0;
const LIST_MAX_RSS_MIB: f64 = 150.0;
const VERIFY_MIN_PER_SEC: f64 = 5_000.0;
const VERIFY_MAX_P99: Duration = Duration::from_millis(50);

/// One HTTP client for the whole bench; it sends the API key with every request.
pub fn api_client() -> anyhow::Result<reqwest::Client> {
    let mut headers = HeaderMap::new();
    headers.insert("x-api-key", HeaderValue::from_static(SECRET_KEY));
    reqwest::Client::builder()
        .default_headers(headers)
        .no_proxy()
        .tcp_nodelay(true)
        .build()
        .context("cannot build the HTTP client")
}

/// A running server, how to reach it, and which backend it runs on.
pub struct Session<'a> {
    client: &'a reqwest::Client,
    server: &'a Server,
    backend: Backend,
}

impl<'a> Session<'a> {
    pub fn new(client: &'a reqwest::Client, server: &'a Server, backend: Backend) -> Self {
        Self {
            client,
            server,
            backend,
        }
    }

    fn row(&self, measurement: impl Into<String>, measured: impl Into<String>) -> Row {
        Row::new(self.backend, measurement, measured)
    }
}

/// An invitee as listed; the bench only needs these two fields.
#[derive(Debug, Clone, Deserialize)]
pub struct Invitee {
    pub id: i64,
    pub email: String,
}

/// Uploads the CSV file through the API; returns how long that took.
pub async fn import(
    session: &Session<'_>,
    csv: &CsvFile,
    report: &mut Report,
) -> anyhow::Result<Duration> {
    let part = Part::bytes(csv.read()?)
        .file_name("invitees.csv")
        .mime_str("text/csv")?;
    let cpu = Meter::start(session.server.pid());
    let started = Instant::now();
    let response = session
        .client
        .post(session.server.url("/api/upload-csv"))
        .multipart(Form::new().part("file", part))
        .timeout(LONG_REQUEST)
        .send()
        .await
        .context("the upload failed")?;
    let status = response.status();
    let body = response
        .text()
        .await
        .context("the upload's answer was cut")?;
    let elapsed = started.elapsed();
    let cpu = cpu.finish();
    ensure!(
        status == StatusCode::OK,
        "the upload answered {status}: {body}"
    );

    let target = match session.backend {
        Backend::Postgres => format!("< {IMPORT_MAX_SECS} s"),
        Backend::Sqlite => format!("< {IMPORT_MAX_SECS} s (set for PostgreSQL)"),
    };
    report.push(
        session
            .row(
                format!(
                    "import {} rows (POST /api/upload-csv, {})",
                    thousands(csv.rows as f64),
                    mib(csv.bytes as f64)
                ),
                with_cpu(
                    format!("{} ({} rows/s)", secs(elapsed), rate(csv.rows, elapsed)),
                    cpu,
                ),
            )
            .target(target, elapsed.as_secs_f64() < IMPORT_MAX_SECS),
    );
    let added = serde_json::from_str::<Value>(&body)
        .ok()
        .and_then(|report| report.get("newly_added")?.as_u64());
    let measured = added.map_or_else(
        || format!("missing from: {body:.200}"),
        |n| thousands(n as f64),
    );
    report.push(
        session
            .row("import: `newly_added` in the answer", measured)
            .target(
                format!("= {}", thousands(csv.rows as f64)),
                added == Some(csv.rows as u64),
            ),
    );
    Ok(elapsed)
}

/// Times PostgreSQL's own `\copy` of the same file, for comparison with the API import:
/// into a copy of doorman's `invitees` table (same constraints and unique indexes, which is
/// what the target compares against) and, for reference, into a bare scratch table.
pub async fn psql_copy(
    database: &Database,
    csv: &CsvFile,
    api_import: Duration,
    report: &mut Report,
) {
    let backend = database.backend;
    let targets = [
        (
            "bench_copy",
            "CREATE TABLE bench_copy (email text, name text, college text, branch text, year text)",
            "a bare scratch table (no index)",
        ),
        (
            "bench_invitees",
            "CREATE TABLE bench_invitees (LIKE invitees INCLUDING ALL); \
             ALTER TABLE bench_invitees ALTER created_at SET DEFAULT now(), \
             ALTER updated_at SET DEFAULT now()",
            "a copy of the invitees table (same constraints and unique indexes)",
        ),
    ];
    let mut like_for_like = None;
    for (table, create, what) in targets {
        match copy_with_psql(&database.url, csv, table, create).await {
            Ok((copied, rows)) => {
                report.push(Row::new(
                    backend,
                    format!("psql `\\copy` of the same file into {what} (psql start-up included)"),
                    format!(
                        "{} ({} rows/s, {} rows)",
                        secs(copied),
                        rate(csv.rows, copied),
                        thousands(rows as f64)
                    ),
                ));
                like_for_like = Some(copied);
            }
            Err(e) => {
                progress(format_args!("psql \\copy into {table} failed: {e:#}"));
                report.push(Row::new(
                    backend,
                    format!("psql `\\copy` of the same file into {what}"),
                    format!("failed: {e:#}"),
                ));
                like_for_like = None;
            }
        }
    }
    let Some(copied) = like_for_like else { return };
    let ratio = api_import.as_secs_f64() / copied.as_secs_f64();
    report.push(
        Row::new(
            backend,
            "import: API time / `\\copy` time into the invitees table's copy",
            format!("{ratio:.1}×"),
        )
        .target(
            format!("≤ {IMPORT_MAX_COPY_RATIO}×"),
            ratio <= IMPORT_MAX_COPY_RATIO,
        ),
    );
}

/// Returns how long the `\copy` into `table` took and how many rows landed.
async fn copy_with_psql(
    url: &str,
    csv: &CsvFile,
    table: &str,
    create: &str,
) -> anyhow::Result<(Duration, u64)> {
    let path = csv.path().display().to_string();
    ensure!(
        !path.contains('\''),
        "the CSV path {path} cannot be quoted for psql"
    );
    psql(url, create).await?;
    let started = Instant::now();
    psql(
        url,
        &format!("\\copy {table}(email,name,college,branch,year) FROM '{path}' CSV HEADER"),
    )
    .await?;
    let elapsed = started.elapsed();
    let count = psql(url, &format!("SELECT count(*) FROM {table}")).await?;
    let count = count
        .trim()
        .parse()
        .context("psql's count is not a number")?;
    Ok((elapsed, count))
}

/// Runs one psql command and returns its unaligned output.
async fn psql(url: &str, command: &str) -> anyhow::Result<String> {
    let output = tokio::process::Command::new("psql")
        .args([
            "-X",
            "-q",
            "-t",
            "-A",
            "-v",
            "ON_ERROR_STOP=1",
            "-d",
            url,
            "-c",
            command,
        ])
        .output()
        .await
        .context("cannot run psql (is it installed?)")?;
    ensure!(
        output.status.success(),
        "psql failed: {}",
        String::from_utf8_lossy(&output.stderr).trim()
    );
    Ok(String::from_utf8_lossy(&output.stdout).into_owned())
}

/// Fetches every invitee in one request; returns them in id order.
pub async fn list(
    session: &Session<'_>,
    rows: usize,
    report: &mut Report,
) -> anyhow::Result<Vec<Invitee>> {
    let cpu = Meter::start(session.server.pid());
    let started = Instant::now();
    let response = session
        .client
        .get(session.server.url("/api/users"))
        .timeout(LONG_REQUEST)
        .send()
        .await
        .context("the listing failed")?;
    let status = response.status();
    let body = response
        .bytes()
        .await
        .context("the listing was cut short")?;
    let elapsed = started.elapsed();
    let cpu = cpu.finish();
    ensure!(status == StatusCode::OK, "the listing answered {status}");
    let peak_rss = session.server.peak_rss_mib();

    report.push(
        session
            .row(
                format!(
                    "list all invitees (GET /api/users, {} of JSON)",
                    mib(body.len() as f64)
                ),
                with_cpu(secs(elapsed), cpu),
            )
            .target(
                format!("< {LIST_MAX_SECS} s"),
                elapsed.as_secs_f64() < LIST_MAX_SECS,
            ),
    );
    let invitees: Result<Vec<Invitee>, _> = serde_json::from_slice(&body);
    let measured = match &invitees {
        Ok(invitees) => thousands(invitees.len() as f64),
        Err(e) => format!("not a JSON array of invitees: {e}"),
    };
    let complete = invitees.as_ref().is_ok_and(|i| i.len() == rows);
    report.push(
        session
            .row("list: invitees in the answer", measured)
            .target(format!("= {}", thousands(rows as f64)), complete),
    );
    let measurement = "server peak RSS after a fresh start and the listing (VmHWM)";
    report.push(match peak_rss {
        Ok(rss) => session
            .row(measurement, format!("{rss:.1} MiB"))
            .target(format!("< {LIST_MAX_RSS_MIB} MiB"), rss < LIST_MAX_RSS_MIB),
        Err(e) => session.row(measurement, format!("unknown: {e:#}")),
    });
    invitees.context("the listing is not a JSON array of invitees")
}

/// Issues a token to each invitee, [`ISSUE_CLIENTS`] requests at a time; returns the
/// (email, token) pairs that were issued.
pub async fn issue_tokens(
    session: &Session<'_>,
    invitees: &[Invitee],
    report: &mut Report,
) -> Vec<(String, String)> {
    let tokens: Arc<Vec<OnceLock<String>>> =
        Arc::new(invitees.iter().map(|_| OnceLock::new()).collect());
    let urls: Vec<String> = invitees
        .iter()
        .map(|i| session.server.url(&format!("/api/refresh-token/{}", i.id)))
        .collect();
    let (client, slots) = (session.client.clone(), Arc::clone(&tokens));
    let load = Load {
        clients: ISSUE_CLIENTS,
        duration: LONG_REQUEST,
    };
    let cpu = Meter::start(session.server.pid());
    let run = traffic::drive(load, invitees.len(), move |i| {
        let request = client.post(&urls[i]).timeout(SHORT_REQUEST);
        let slots = Arc::clone(&slots);
        async move {
            classify(request.send().await, |status, body| {
                let token = body["new_token"]
                    .as_str()
                    .filter(|_| status == StatusCode::OK);
                token.is_some_and(|token| slots[i].set(token.to_owned()).is_ok())
            })
            .await
        }
    })
    .await;
    let cpu = cpu.finish();

    let mut measured = format!(
        "{} ({}/s, p99 {})",
        secs(run.elapsed),
        rate(run.requests(), run.elapsed),
        ms(run.percentile(99.0))
    );
    if run.unexpected() > 0 {
        measured.push_str(&format!(
            ", {} failed: {}",
            run.unexpected(),
            run.statuses()
        ));
    }
    report.push(session.row(
        format!(
            "issue {} tokens (POST /api/refresh-token/{{id}}, {ISSUE_CLIENTS} at a time)",
            thousands(invitees.len() as f64)
        ),
        with_cpu(measured, cpu),
    ));
    invitees
        .iter()
        .zip(tokens.iter())
        .filter_map(|(invitee, token)| Some((invitee.email.clone(), token.get()?.clone())))
        .collect()
}

/// (a) Each request verifies a different invitee with its right token: at most one
/// request per issued token, since a verified invitee cannot be verified again.
pub async fn verify_correct(
    session: &Session<'_>,
    tokens: Vec<(String, String)>,
    load: Load,
    report: &mut Report,
) {
    let count = tokens.len();
    let (run, cpu) = verify_load(
        session,
        load,
        true,
        count,
        move |i| {
            let (email, token) = &tokens[i];
            json!({ "email": email, "token": token })
        },
        |status, body| status == StatusCode::OK && body["success"] == true,
    )
    .await;
    report_run(session, "verify, correct token", &run, cpu, load, report);
}

/// (b) Random invitees with a wrong token: every request is checked, then recorded as a
/// failure (the throttle is lifted for this run).
pub async fn verify_wrong(
    session: &Session<'_>,
    invitees: &[Invitee],
    load: Load,
    report: &mut Report,
) -> f64 {
    let emails: Vec<String> = invitees.iter().map(|i| i.email.clone()).collect();
    let (run, cpu) = verify_load(
        session,
        load,
        true,
        time_bound_requests(&emails),
        move |_| {
            let email = &emails[rand::random_range(0..emails.len())];
            json!({ "email": email, "token": WRONG_TOKEN })
        },
        |status, body| status == StatusCode::OK && body["success"] == false,
    )
    .await;
    report_run(session, "verify, wrong token", &run, cpu, load, report);
    run.per_second()
}

/// (c) Wrong tokens for a few fixed emails under the default throttle: after five
/// failures an email is refused with 429, which counts as a valid answer here.
pub async fn verify_throttled(
    session: &Session<'_>,
    invitees: &[Invitee],
    load: Load,
    report: &mut Report,
) {
    let first = invitees.len().saturating_sub(THROTTLED_EMAILS);
    let emails: Vec<String> = invitees[first..].iter().map(|i| i.email.clone()).collect();
    let name = format!("verify, throttled ({} emails, wrong token)", emails.len());
    let (run, cpu) = verify_load(
        session,
        load,
        false,
        time_bound_requests(&emails),
        move |i| json!({ "email": emails[i % emails.len()], "token": WRONG_TOKEN }),
        |status, body| {
            status == StatusCode::TOO_MANY_REQUESTS
                || (status == StatusCode::OK && body["success"] == false)
        },
    )
    .await;
    report_run(session, &name, &run, cpu, load, report);
}

/// The count bound of a run that picks among `emails`: none at all if there are none.
pub(crate) fn time_bound_requests(emails: &[String]) -> usize {
    if emails.is_empty() {
        0
    } else {
        MAX_REQUESTS_PER_RUN
    }
}

/// Sends `POST /api/verify` with the body `body(i)` for the `i`-th request; with
/// `many_clients`, each as if from its own client behind the proxy, as real traffic comes
/// (failures are also counted per client, and one client's are capped by its limit).
async fn verify_load(
    session: &Session<'_>,
    load: Load,
    many_clients: bool,
    max_requests: usize,
    body: impl Fn(usize) -> Value + Send + Sync + 'static,
    expected: fn(StatusCode, &Value) -> bool,
) -> (Run, Option<String>) {
    let servers = [session.server];
    let (run, cpu) = verify_load_over(
        session,
        &servers,
        load,
        many_clients,
        max_requests,
        body,
        expected,
    )
    .await;
    (run, cpu.and_then(Meter::finish))
}

/// As `verify_load`, the `i`-th request going to `servers[i % servers.len()]`; the CPU
/// meter (of the first server) is handed back unfinished.
pub(crate) async fn verify_load_over(
    session: &Session<'_>,
    servers: &[&Server],
    load: Load,
    many_clients: bool,
    max_requests: usize,
    body: impl Fn(usize) -> Value + Send + Sync + 'static,
    expected: fn(StatusCode, &Value) -> bool,
) -> (Run, Option<Meter>) {
    if max_requests == 0 || servers.is_empty() {
        return (Run::default(), None);
    }
    let client = session.client.clone();
    let urls: Vec<String> = servers.iter().map(|s| s.url("/api/verify")).collect();
    let cpu = Meter::start(servers[0].pid());
    let run = traffic::drive(load, max_requests, move |i| {
        let url = &urls[i % urls.len()];
        let mut request = client.post(url).json(&body(i)).timeout(SHORT_REQUEST);
        if many_clients {
            let client = std::net::Ipv4Addr::from(0x0a00_0000 | (i as u32 & 0x00ff_ffff));
            request = request.header("x-forwarded-for", client.to_string());
        }
        async move { classify(request.send().await, expected).await }
    })
    .await;
    (run, Some(cpu))
}

/// Throughput, latency and unexpected answers of one verification run.
pub(crate) fn report_run(
    session: &Session<'_>,
    name: &str,
    run: &Run,
    cpu: Option<String>,
    load: Load,
    report: &mut Report,
) {
    if run.requests() == 0 {
        report.push(session.row(name, "no requests sent"));
        return;
    }
    let per_second = run.per_second();
    report.push(
        session
            .row(
                format!("{name}: throughput, {} clients", load.clients),
                with_cpu(
                    format!(
                        "{}/s ({} requests in {})",
                        thousands(per_second),
                        thousands(run.requests() as f64),
                        secs(run.elapsed)
                    ),
                    cpu,
                ),
            )
            .target(
                format!("≥ {}/s", thousands(VERIFY_MIN_PER_SEC)),
                per_second >= VERIFY_MIN_PER_SEC,
            ),
    );
    let p99 = run.percentile(99.0);
    report.push(
        session
            .row(
                format!("{name}: latency p50 / p99"),
                format!("{} / {}", ms(run.percentile(50.0)), ms(p99)),
            )
            .target(
                format!("p99 < {} ms", VERIFY_MAX_P99.as_millis()),
                p99 < VERIFY_MAX_P99,
            ),
    );
    let unexpected = run.unexpected();
    let mut measured = thousands(unexpected as f64);
    if unexpected > 0 {
        measured.push_str(&format!(
            " ({} transport, {} 5xx, {} other)",
            run.count(Kind::Transport),
            run.count(Kind::ServerError),
            run.count(Kind::Other)
        ));
    }
    measured.push_str(&format!("; statuses {}", run.statuses()));
    report.push(
        session
            .row(format!("{name}: unexpected answers"), measured)
            .target("0", unexpected == 0),
    );
}

/// `measured; CPU cores: doorman 1.2, postgres 0.4, bench 0.3, other 0.0`.
fn with_cpu(measured: String, cpu: Option<String>) -> String {
    match cpu {
        Some(cpu) => format!("{measured}; {cpu}"),
        None => measured,
    }
}

fn secs(d: Duration) -> String {
    format!("{:.2} s", d.as_secs_f64())
}

fn ms(d: Duration) -> String {
    format!("{:.1} ms", d.as_secs_f64() * 1000.0)
}

fn mib(bytes: f64) -> String {
    format!("{:.1} MiB", bytes / 1024.0 / 1024.0)
}

fn rate(count: usize, d: Duration) -> String {
    thousands(count as f64 / d.as_secs_f64().max(f64::EPSILON))
}
