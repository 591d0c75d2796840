//! The Import page when requests land on different replicas: two apps on one database, as
//! two replicas behind a load balancer without sticky sessions; and one app over a
//! restart, and over the death of the replica running an import.

use reqwest::header::COOKIE;

use super::http::{client, get_with, signed_in};
use super::import::{MIXED_CSV, count, preview, staged_id, start};
use crate::email::eventually;
use crate::helpers::{Backend, TestApp};
use crate::on_both_databases;
use crate::replicas::two_replicas;

/// The job's part, as the page's polling asks for it.
async fn polled(app: &TestApp, cookie: &str, job: &str) -> String {
    let response = client()
        .get(app.url(job))
        .header(COOKIE, format!("doorman_session={cookie}"))
        .header("hx-request", "true")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    response.text().await.unwrap()
}

async fn finished(app: &TestApp, cookie: &str, job: &str) -> String {
    eventually("the import to finish", || async {
        polled(app, cookie, job).await.contains("Import finished")
    })
    .await;
    polled(app, cookie, job).await
}

fn job_path(started: &reqwest::Response) -> String {
    assert_eq!(started.status(), 303);
    let job = started.headers()["location"].to_str().unwrap().to_owned();
    assert!(job.starts_with("/admin/import/jobs/"), "{job}");
    job
}

async fn refused_csv_lines(app: &TestApp, cookie: &str, job: &str) -> Vec<String> {
    let csv = get_with(app, &format!("{job}/refused.csv"), cookie).await;
    assert_eq!(csv.status(), 200);
    let text = csv.text().await.unwrap();
    text.lines().map(str::to_owned).collect()
}

on_both_databases! {
    async fn a_file_staged_on_one_replica_is_imported_through_the_other(backend: Backend) {
        let (first, second) = two_replicas(backend, &[]).await;
        first.invite("old@example.org").await;
        let cookie = signed_in(&first).await;
        let html = preview(&first, &cookie, MIXED_CSV.into()).await;
        let staged = staged_id(&html);

        // Started through the second replica: the file is taken, for both of them.
        let job = job_path(&start(&second, &cookie, &staged).await);
        let again = start(&first, &cookie, &staged).await;
        assert_eq!(again.status(), 409);
        assert!(again.text().await.unwrap().contains("imported already"));

        // The first follows the job the second runs, from its first answer on.
        let progress = polled(&first, &cookie, &job).await;
        assert!(
            progress.contains("Importing…") || progress.contains("Import finished"),
            "{progress}"
        );
        let summary = finished(&first, &cookie, &job).await;
        assert_eq!(count(&summary, "added"), 2);
        assert_eq!(count(&summary, "skipped"), 2);
        assert_eq!(count(&summary, "refused"), 2);
        let lines = refused_csv_lines(&first, &cookie, &job).await;
        assert_eq!(lines.len(), 3, "{lines:?}");
        assert_eq!(lines[2], "6,bo@example.org,name is empty");

        // Either replica's page shows the last import.
        for app in [&first, &second] {
            let page = get_with(app, "/admin/import", &cookie).await.text().await.unwrap();
            assert!(page.contains("Import finished") && page.contains(&format!("{job}/refused.csv")), "{page}");
        }
        assert_eq!(first.get_json("/api/users").await.as_array().unwrap().len(), 3);
    }

    async fn two_replicas_starting_one_file_at_once_import_it_once(backend: Backend) {
        let (first, second) = two_replicas(backend, &[]).await;
        let cookie = signed_in(&first).await;
        let html = preview(&second, &cookie, MIXED_CSV.into()).await;
        let staged = staged_id(&html);

        let (one, other) = tokio::join!(start(&first, &cookie, &staged), start(&second, &cookie, &staged));
        let mut statuses = [one.status().as_u16(), other.status().as_u16()];
        statuses.sort_unstable();
        assert_eq!(statuses, [303, 409]);
        let job = job_path(if one.status() == 303 { &one } else { &other });
        finished(&second, &cookie, &job).await;
        let events = first.events("kind=invitees_imported").await;
        assert_eq!(events.len(), 1, "{events:?}");
        assert_eq!(first.get_json("/api/users").await.as_array().unwrap().len(), 3);
    }

    async fn a_restart_keeps_the_last_import_and_a_dead_replicas_job_reads_as_stopped(backend: Backend) {
        let mut app = TestApp::spawn(backend).await;
        let cookie = signed_in(&app).await;
        let html = preview(&app, &cookie, MIXED_CSV.into()).await;
        let job = job_path(&start(&app, &cookie, &staged_id(&html)).await);
        finished(&app, &cookie, &job).await;

        app.restart(&[]).await;
        let page = get_with(&app, "/admin/import", &cookie).await.text().await.unwrap();
        assert!(page.contains("Import finished") && page.contains(&format!("{job}/refused.csv")), "{page}");
        assert_eq!(count(&polled(&app, &cookie, &job).await, "added"), 3);
        assert_eq!(refused_csv_lines(&app, &cookie, &job).await.len(), 3);

        // A job left running by a replica that died: nothing refreshes its heartbeat. It
        // is shown running while the silence is short...
        app.sql("UPDATE import_jobs SET state = 'running'").await;
        let running = polled(&app, &cookie, &job).await;
        assert!(running.contains("Importing…") && running.contains("hx-trigger"), "{running}");
        // ...and as stopped once it is long, which also ends the polling.
        app.advance(doorman::service::STALE_AFTER + chrono::Duration::seconds(1));
        let stopped = polled(&app, &cookie, &job).await;
        assert!(stopped.contains("The import stopped"), "{stopped}");
        assert!(stopped.contains("the server running this import stopped; rows committed before that are kept"), "{stopped}");
        assert!(!stopped.contains("hx-trigger"), "{stopped}");
        let page = get_with(&app, "/admin/import", &cookie).await.text().await.unwrap();
        assert!(page.contains("the server running this import stopped"), "{page}");
    }
}
