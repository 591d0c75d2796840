//! (d) The wrong-token verification load of (b), spread over two replicas sharing one
//! PostgreSQL: request `i` goes to replica `i % 2`. Its target is the one-replica figure
//! measured just before, on the same data.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::database::Backend;
use crate::report::{Report, Row, thousands};
use crate::server::Server;
use crate::steps::{Invitee, Session};
use crate::traffic::Load;
use crate::verify::{WRONG_TOKEN, report_run, time_bound_requests, verify_load_over};

pub async fn verify_wrong_two_replicas(
    session: &Session<'_>,
    servers: [&Server; 2],
    invitees: &[Invitee],
    load: Load,
    one_replica_per_second: f64,
    report: &mut Report,
) {
    let emails: Vec<String> = invitees.iter().map(|i| i.email.clone()).collect();
    let (run, _) = verify_load_over(
        session,
        &servers,
        load,
        true,
        time_bound_requests(&emails),
        move |_| {
            let email = &emails[rand::random_range(0..emails.len())];
            json!({ "email": email, "token": WRONG_TOKEN })
        },
        |status: StatusCode, body: &Value| status == StatusCode::OK && body["success"] == false,
    )
    .await;
    // The CPU notes follow one process; with two doormen they would tell half the story.
    let name = "verify, wrong token, two replicas";
    report_run(session, name, &run, None, load, report);
    if run.requests() == 0 || one_replica_per_second <= 0.0 {
        return;
    }
    let two = run.per_second();
    let ratio = two / one_replica_per_second;
    report.push(
        Row::new(
            Backend::Postgres,
            format!("{name}: throughput against one replica's"),
            format!(
                "{}/s against {}/s ({ratio:.2}×)",
                thousands(two),
                thousands(one_replica_per_second)
            ),
        )
        .target("≥ 1×", ratio >= 1.0),
    );
}
