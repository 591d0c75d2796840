//! (d) The wrong-token verification load of (b), spread over two replicas sharing one
//! PostgreSQL: request `i` goes to replica `i % 2`. Its target is the one-replica figure
//! measured just before, on the same data.

use crate::database::Backend;
use crate::report::{Report, Row, thousands};
use crate::server::Server;
use crate::steps::{Invitee, Session};
use crate::traffic::Load;
use crate::verify::{report_run, wrong_token_load};

pub async fn verify_wrong_two_replicas(
    session: &Session<'_>,
    servers: [&Server; 2],
    invitees: &[Invitee],
    load: Load,
    one_replica_per_second: f64,
    report: &mut Report,
) {
    let (run, _) = wrong_token_load(session, &servers, invitees, load).await;
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
