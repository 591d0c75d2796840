//! SQLite: one server per file, and `doorman backup` while it serves.

use super::{Replica, doorman, people_csv};
use crate::helpers::Backend;

fn sqlite_url(dir: &std::path::Path) -> String {
    format!("sqlite://{}?mode=rwc", dir.join("doorman.sqlite").display())
}

#[tokio::test]
async fn a_second_server_on_one_sqlite_file_is_refused_until_the_first_is_gone() {
    let shared = tempfile::tempdir().unwrap();
    let env = [("DATABASE_URL", sqlite_url(shared.path()))];
    let mut first = Replica::start(&env);

    let second = doorman(shared.path(), &env).arg("serve").output().unwrap();
    assert!(!second.status.success());
    let stderr = String::from_utf8_lossy(&second.stderr);
    assert!(
        stderr.contains("another `doorman serve` is already running on the SQLite database")
            && stderr.contains("doorman.sqlite")
            && stderr.contains("PostgreSQL"),
        "{stderr}"
    );
    // The first is untouched and still answers.
    assert_eq!(
        first.get_json("/health").await["database"],
        "connected",
        "{}",
        first.log()
    );
    // The other commands work beside it.
    let migrate = doorman(shared.path(), &env)
        .arg("migrate")
        .output()
        .unwrap();
    assert!(migrate.status.success());

    // However the first ends, the file is free again.
    first.kill();
    let third = Replica::start(&env);
    assert_eq!(third.get_json("/health").await["database"], "connected");
}

#[tokio::test]
async fn a_backup_made_while_serving_is_a_database_with_the_rows() {
    let shared = tempfile::tempdir().unwrap();
    let env = [("DATABASE_URL", sqlite_url(shared.path()))];
    let server = Replica::start(&env);
    assert_eq!(
        server.upload_csv(people_csv("p", 0..50)).await["newly_added"],
        50
    );

    // An import runs while the copy is made; the copy holds all of it or none of it.
    let more = server.upload(people_csv("p", 50..2050));
    let importing = tokio::spawn(async move { more.send().await.unwrap().status() });
    let backup = shared.path().join("copy.sqlite");
    let output = doorman(shared.path(), &env)
        .args(["backup", backup.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(String::from_utf8_lossy(&output.stdout).contains("copy.sqlite"));
    assert_eq!(importing.await.unwrap(), 200);

    let copy = sqlx::SqlitePool::connect(&format!("sqlite://{}?mode=ro", backup.display()))
        .await
        .expect("the backup opens as an SQLite database");
    let check: String = sqlx::query_scalar("PRAGMA integrity_check")
        .fetch_one(&copy)
        .await
        .unwrap();
    assert_eq!(check, "ok");
    let invitees: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM invitees")
        .fetch_one(&copy)
        .await
        .unwrap();
    // Batches of 1,000 commit one by one: the copy saw 0, 1 or 2 of them.
    assert!(
        [50, 1050, 2050].contains(&invitees),
        "{invitees} invitees in the copy"
    );
    let first: String = sqlx::query_scalar("SELECT email FROM invitees ORDER BY id LIMIT 1")
        .fetch_one(&copy)
        .await
        .unwrap();
    assert_eq!(first, "p0@example.org");
    copy.close().await;

    // A backup never overwrites.
    let size = std::fs::metadata(&backup).unwrap().len();
    let again = doorman(shared.path(), &env)
        .args(["backup", backup.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(!again.status.success());
    assert!(String::from_utf8_lossy(&again.stderr).contains("already exists"));
    assert_eq!(std::fs::metadata(&backup).unwrap().len(), size);
    drop(server);
}

#[tokio::test]
async fn backup_on_postgresql_explains_pg_dump() {
    if !Backend::Postgres.available().await {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let url = Backend::Postgres.fresh_database_url(dir.path()).await;
    let file = dir.path().join("copy.sqlite");
    let output = doorman(dir.path(), &[("DATABASE_URL", url)])
        .args(["backup", file.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("pg_dump --format=custom") && stderr.contains("pg_restore"),
        "{stderr}"
    );
    assert!(!file.exists());
}
