//! Import, listing and token issuing. Each sends its traffic and adds its rows to the report.

use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use anyhow::{Context, ensure};
use reqwest::StatusCode;
use reqwest::header::{HeaderMap, HeaderValue};
use reqwest::multipart::{Form, Part};
use serde::Deserialize;
use serde_json::Value;

use crate::cpu::Meter;
use crate::data::CsvFile;
use crate::database::Backend;
use crate::report::{Report, Row, mib, ms, rate, secs, thousands, with_cpu};
use crate::server::{SECRET_KEY, Server};
use crate::traffic::{self, Load, classify};

/// Upper bound for the single big requests (upload, listing).
const LONG_REQUEST: Duration = Duration::from_secs(600);
/// Upper bound for one verification or token request.
pub(crate) const SHORT_REQUEST: Duration = Duration::from_secs(30);
/// Tokens are issued with this many requests in flight.
const ISSUE_CLIENTS: usize = 64;

// The team's targets.
const IMPORT_MAX_SECS: f64 = 3.0;
const LIST_MAX_SECS: f64 = 1.0;
const LIST_MAX_RSS_MIB: f64 = 150.0;

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
    pub client: &'a reqwest::Client,
    pub server: &'a Server,
    pub backend: Backend,
}

impl<'a> Session<'a> {
    pub fn new(client: &'a reqwest::Client, server: &'a Server, backend: Backend) -> Self {
        Self {
            client,
            server,
            backend,
        }
    }

    pub fn row(&self, measurement: impl Into<String>, measured: impl Into<String>) -> Row {
        Row::new(self.backend, measurement, measured)
    }
}

/// An invitee as listed; the bench only needs these two fields.
#[derive(Debug, Clone, Deserialize)]
pub struct Invitee {
    pub id: i64,
    pub email: String,
}

/// Uploads the CSV file through the API; returns how long that took. With `targeted`, the
/// time is compared with the team's target (set for 100,000 rows).
pub async fn import(
    session: &Session<'_>,
    csv: &CsvFile,
    targeted: bool,
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
    let row = session.row(
        format!(
            "import {} rows (POST /api/upload-csv, {})",
            thousands(csv.rows as f64),
            mib(csv.bytes as f64)
        ),
        with_cpu(
            format!("{} ({} rows/s)", secs(elapsed), rate(csv.rows, elapsed)),
            cpu,
        ),
    );
    report.push(if targeted {
        row.target(target, elapsed.as_secs_f64() < IMPORT_MAX_SECS)
    } else {
        row
    });
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

/// Every invitee, in id order, without measuring anything.
pub async fn invitees(session: &Session<'_>) -> anyhow::Result<Vec<Invitee>> {
    session
        .client
        .get(session.server.url("/api/users"))
        .timeout(LONG_REQUEST)
        .send()
        .await
        .context("the listing failed")?
        .error_for_status()
        .context("the listing failed")?
        .json()
        .await
        .context("the listing is not a JSON array of invitees")
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
