//! A fresh database's first minutes, on a database of its own so that the main run's
//! 100,000-row import still starts from an empty table: start-up with migrations, the
//! server's memory when idle, a 10,000-row import, and 2,000 invitation emails.

use std::time::Duration;

use crate::data::CsvFile;
use crate::database::Database;
use crate::report::{Report, ms};
use crate::server::{Server, Throttle};
use crate::steps::{self, Session};
use crate::{email, progress};

/// Rows of the small import.
pub const SMALL_ROWS: usize = 10_000;
/// How long the server is left alone before its idle memory is read: long enough for
/// start-up's work (migrations, the workers' first polls) to be over.
const IDLE: Duration = Duration::from_secs(3);

pub async fn run(
    database: &Database,
    client: &reqwest::Client,
    csv: &CsvFile,
    report: &mut Report,
) -> anyhow::Result<()> {
    let fake = email::fake_sendgrid().await;
    let env = email::server_env(&fake);
    let server = Server::start_with(database, Throttle::Relaxed, client, &env).await?;
    let session = Session::new(client, &server, database.backend);
    report.push(session.row(
        "start-up on a fresh database, migrations included (spawn to the first 200 from /ready)",
        ms(server.started_in),
    ));

    progress(format_args!("idle for {} s", IDLE.as_secs()));
    tokio::time::sleep(IDLE).await;
    let measurement = format!(
        "server memory after start-up and {} s idle, before any load (VmRSS)",
        IDLE.as_secs()
    );
    report.push(match server.rss_mib() {
        Ok(rss) => session.row(measurement, format!("{rss:.1} MiB")),
        Err(e) => session.row(measurement, format!("unknown: {e:#}")),
    });

    progress(format_args!("importing {} rows", csv.rows));
    steps::import(&session, csv, false, report).await?;
    let invitees = steps::invitees(&session).await?;
    progress(format_args!("sending {} invitations", email::EMAILS));
    email::send_invitations(&session, &fake, &invitees, report).await
}
