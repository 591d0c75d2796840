//! The verification runs: many clients posting `/api/verify` at once, correct tokens,
//! wrong ones, and wrong ones until throttled.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::cpu::Meter;
use crate::report::{Report, ms, secs, thousands, with_cpu};
use crate::server::Server;
use crate::steps::{Invitee, SHORT_REQUEST, Session};
use crate::traffic::{self, Kind, Load, Run, classify};

/// The count bound of the time-bound runs: far more than a run's duration allows.
const MAX_REQUESTS_PER_RUN: usize = 10_000_000;
/// doorman's tokens never contain `0` (see its token alphabet), so this never matches.
pub(crate) const WRONG_TOKEN: &str = "00000000";
/// Emails the throttled run cycles through.
const THROTTLED_EMAILS: usize = 64;

// The team's targets.
const VERIFY_MIN_PER_SEC: f64 = 5_000.0;
const VERIFY_MAX_P99: Duration = Duration::from_millis(50);

/// (a) Each request verifies a different invitee with its right token: at most one
/// request per issued token, since a verified invitee cannot be verified again.
pub async fn correct(
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
pub async fn wrong(
    session: &Session<'_>,
    invitees: &[Invitee],
    load: Load,
    report: &mut Report,
) -> f64 {
    let servers = [session.server];
    let (run, cpu) = wrong_token_load(session, &servers, invitees, load).await;
    let cpu = cpu.and_then(Meter::finish);
    report_run(session, "verify, wrong token", &run, cpu, load, report);
    run.per_second()
}

/// The load of (b) over `servers`: random invitees, a token that never matches.
pub(crate) async fn wrong_token_load(
    session: &Session<'_>,
    servers: &[&Server],
    invitees: &[Invitee],
    load: Load,
) -> (Run, Option<Meter>) {
    let emails: Vec<String> = invitees.iter().map(|i| i.email.clone()).collect();
    verify_load_over(
        session,
        servers,
        load,
        true,
        time_bound_requests(&emails),
        move |_| {
            let email = &emails[rand::random_range(0..emails.len())];
            json!({ "email": email, "token": WRONG_TOKEN })
        },
        |status, body| status == StatusCode::OK && body["success"] == false,
    )
    .await
}

/// (c) Wrong tokens for a few fixed emails under the default throttle: after five
/// failures an email is refused with 429, which counts as a valid answer here.
pub async fn throttled(
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
