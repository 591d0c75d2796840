//! The admin key as the operator meets it: the real binary, started twice on one DATA_DIR.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

use crate::helpers::{Backend, TestApp};
use crate::on_both_databases;

fn doorman(app: &TestApp, secret_key: Option<&str>) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_doorman"));
    command
        .arg("serve")
        .env_clear()
        .env("DATABASE_URL", &app.database_url)
        .env("DATA_DIR", app.data_dir.path())
        .env("BIND_ADDR", "127.0.0.1:0")
        .env("EMAIL_WORKERS", "false")
        .env("RUST_LOG", "warn")
        .current_dir(app.data_dir.path());
    if let Some(key) = secret_key {
        command.env("SECRET_KEY", key);
    }
    command
}

/// Starts `serve`, reads its banner (up to the blank line that ends it) and stops it.
fn banner(mut command: Command) -> String {
    let mut child: Child = command
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut text = String::new();
    let mut seen_content = false;
    for line in lines.by_ref() {
        let line = line.unwrap();
        if line.trim().is_empty() && seen_content {
            break;
        }
        seen_content |= !line.trim().is_empty();
        text.push_str(&line);
        text.push('\n');
    }
    child.kill().unwrap();
    child.wait().unwrap();
    text
}

on_both_databases! {
    async fn the_generated_key_is_printed_only_when_it_is_made(backend: Backend) {
        let app = TestApp::spawn(backend).await;
        let first = banner(doorman(&app, None));
        let key = std::fs::read_to_string(app.data_dir.path().join("admin_api_key")).unwrap();
        assert!(first.contains(key.trim()), "{first}");
        assert!(first.contains("generated"), "{first}");

        let second = banner(doorman(&app, None));
        assert!(!second.contains(key.trim()), "printed again: {second}");
        assert!(second.contains("admin_api_key"), "says where it is kept: {second}");
    }

    async fn a_placeholder_key_stops_the_binary(backend: Backend) {
        let app = TestApp::spawn(backend).await;
        for key in ["your-super-secret-api-key", "change-me-to-a-long-random-string"] {
            let output = doorman(&app, Some(key)).output().unwrap();
            assert!(!output.status.success(), "started with {key}");
            let stderr = String::from_utf8_lossy(&output.stderr);
            assert!(stderr.contains("SECRET_KEY"), "{stderr}");
            assert!(!stderr.contains(key), "{stderr}");
        }
    }

    async fn a_short_key_starts_with_a_warning(backend: Backend) {
        let app = TestApp::spawn(backend).await;
        let mut child = doorman(&app, Some("sixteen-chars-ok"))
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut stdout = BufReader::new(child.stdout.take().unwrap()).lines();
        let running = stdout.by_ref().map(|l| l.unwrap()).find(|l| l.contains("is running"));
        child.kill().unwrap();
        let output = child.wait_with_output().unwrap();
        assert!(running.is_some(), "it starts");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(stderr.contains("SECRET_KEY is only 16 characters"), "{stderr}");
    }
}
