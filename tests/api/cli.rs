//! The command line, run as a real process against the same database as a test app.

use std::process::Command;

use crate::helpers::{Backend, TestApp};
use crate::on_both_databases;
use serde_json::Value;

fn doorman(app: &TestApp, args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_doorman"))
        .args(args)
        .env_clear()
        .env("DATABASE_URL", &app.database_url)
        .env("DATA_DIR", app.data_dir.path())
        .env("SECRET_KEY", crate::helpers::API_KEY)
        .env("RUST_LOG", "warn")
        .current_dir(app.data_dir.path())
        .output()
        .expect("doorman runs")
}

fn stdout(output: &std::process::Output) -> String {
    assert!(
        output.status.success(),
        "failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout.clone()).unwrap()
}

on_both_databases! {
    async fn import_prints_a_summary_and_the_bad_rows(backend: Backend) {
        let app = TestApp::spawn(backend).await;
        let file = app.data_dir.path().join("people.csv");
        std::fs::write(&file, "email,name,college,branch,year\nana@example.org,Ana,MIT,CSE,2026\nnope,Bo,MIT,CSE,2026\n").unwrap();
        let out = stdout(&doorman(&app, &["import", file.to_str().unwrap()]));
        assert!(out.contains("2 rows read: 1 added, 0 skipped"), "{out}");
        assert!(out.contains("line 3 (nope)"), "{out}");
        let events = app.events("kind=invitees_imported").await;
        assert_eq!(events[0]["actor"], "cli");
    }

    async fn users_list_prints_table_csv_and_json(backend: Backend) {
        let app = TestApp::spawn(backend).await;
        app.invite("ana@example.org").await;
        app.invite("bo@example.org").await;

        let table = stdout(&doorman(&app, &["users", "list"]));
        assert!(table.contains("ana@example.org") && table.contains("bo@example.org"), "{table}");

        let csv = stdout(&doorman(&app, &["users", "list", "--format", "csv", "--search", "bo"]));
        let lines: Vec<&str> = csv.lines().collect();
        assert!(lines[0].starts_with("id,email,name"));
        assert_eq!(lines.len(), 2);
        assert!(lines[1].contains("bo@example.org"));

        let json: Vec<Value> = serde_json::from_str(&stdout(&doorman(&app, &["users", "list", "--format", "json", "--verified", "false"]))).unwrap();
        assert_eq!(json.len(), 2);
        assert!(json[0].get("token_hash").is_none());
    }

    async fn token_refresh_prints_a_token_that_verifies(backend: Backend) {
        let app = TestApp::spawn(backend).await;
        let (_, old) = app.invite("ana@example.org").await;
        let token = stdout(&doorman(&app, &["token", "refresh", "ANA@example.org"])).trim().to_owned();
        assert_eq!(token.len(), 8);
        assert_eq!(app.verify_json("ana@example.org", &old).await["success"], false);
        assert_eq!(app.verify_json("ana@example.org", &token).await["success"], true);

        let missing = doorman(&app, &["token", "refresh", "nobody@example.org"]);
        assert!(!missing.status.success());
        assert!(String::from_utf8_lossy(&missing.stderr).contains("no invitee"));
    }

    async fn migrate_reports_an_up_to_date_database(backend: Backend) {
        let app = TestApp::spawn(backend).await;
        let out = stdout(&doorman(&app, &["migrate"]));
        assert!(out.contains("up to date"), "{out}");
    }
}

#[tokio::test]
async fn a_bad_setting_stops_start_up_naming_the_variable() {
    let dir = tempfile::tempdir().unwrap();
    let output = Command::new(env!("CARGO_BIN_EXE_doorman"))
        .arg("migrate")
        .env_clear()
        .env("DATA_DIR", dir.path())
        .env("TOKEN_LENGTH", "3")
        .current_dir(dir.path())
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("TOKEN_LENGTH"), "{stderr}");
}

#[tokio::test]
async fn help_describes_every_command() {
    let output = Command::new(env!("CARGO_BIN_EXE_doorman"))
        .arg("--help")
        .output()
        .unwrap();
    let help = String::from_utf8(output.stdout).unwrap();
    for command in ["serve", "migrate", "import", "users", "token", "backup"] {
        assert!(help.contains(command), "{help}");
    }
}
