//! doorman as a real process: killed mid-send it loses nothing; the CLI sends and tests.

use std::process::{Command, Stdio};

use super::*;
use crate::fakes::fake_sendgrid::{FakeSendGrid, Fault};
use crate::fakes::fake_smtp::FakeSmtp;
use crate::on_both_databases;

const SHARED_SECRET: &str = "a-token-secret-shared-by-every-replica-0123";

fn doorman(app: &TestApp, env: &[(&str, String)]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_doorman"));
    command
        .env_clear()
        .env("DATABASE_URL", &app.database_url)
        .env("DATA_DIR", app.data_dir.path())
        .env("SECRET_KEY", crate::helpers::API_KEY)
        .env("TOKEN_SECRET", SHARED_SECRET)
        .env("RUST_LOG", "warn")
        .current_dir(app.data_dir.path());
    for (k, v) in env {
        command.env(k, v);
    }
    command
}

fn stdout(output: &std::process::Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

on_both_databases! {
    async fn a_doorman_killed_while_sending_loses_no_email_and_sends_none_twice(backend: Backend) {
        let sendgrid = FakeSendGrid::start().await;
        let mut env = sendgrid.env();
        env.push(("TOKEN_SECRET", SHARED_SECRET.into()));
        let api = spawn(backend, &env, &[("EMAIL_WORKERS", "false"), ("EMAIL_SEND_WAIT_SECONDS", "0")]).await;
        let people = import(&api, &[("a@example.org", "A"), ("b@example.org", "B"), ("c@example.org", "C")]).await;
        assert_eq!(send(&api, ids(&people)).await["emails_queued"], 3);

        // A server process claims the emails; SendGrid hangs; the process is killed.
        sendgrid.fail_next([Fault::Hang]);
        let mut process_env = env.clone();
        process_env.extend([
            ("BIND_ADDR", "127.0.0.1:0".to_owned()),
            ("EMAIL_TIMEOUT_SECONDS", "1".to_owned()),
            ("EMAIL_LEASE_SECONDS", "2".to_owned()),
        ]);
        let mut server = doorman(&api, &process_env).arg("serve").stdout(Stdio::null()).spawn().unwrap();
        eventually("the process to send", || async { sendgrid.requests() >= 1 }).await;
        server.kill().unwrap();
        server.wait().unwrap();
        assert_eq!(emails(&api, "status=queued").await.len(), 3, "claimed, never recorded as sent");

        // Another doorman takes over once the dead one's lease has run out.
        let mut next_env: Vec<(&str, &str)> = process_env.iter().map(|(k, v)| (*k, v.as_str())).collect();
        next_env.extend([("DATABASE_URL", api.database_url.as_str()), ("EMAIL_POLL_INTERVAL_MS", "50")]);
        let _next = crate::helpers::TestApp::spawn_on(backend, &next_env).await;
        eventually("the emails to be sent after the crash", || async { sendgrid.received().len() >= 3 }).await;
        // Once every email is recorded as sent, nothing is left that could go twice.
        eventually("every send to be recorded", || async { emails(&api, "status=sent").await.len() == 3 }).await;
        for address in ["a@example.org", "b@example.org", "c@example.org"] {
            assert_eq!(sendgrid.received_by(address).len(), 1, "{address} exactly once");
        }
        let token = token_in(sendgrid.received_by("b@example.org")[0].text.as_deref().unwrap());
        assert_eq!(api.verify_json("b@example.org", &token).await["success"], true);
    }

    async fn the_cli_sends_invitations_and_reports_what_it_did(backend: Backend) {
        let app = spawn(backend, &[("TOKEN_SECRET", SHARED_SECRET.into())], &[("EMAIL_WORKERS", "false")]).await;
        let people = import(&app, &[("ana@example.org", "Ana"), ("bo@example.org", "Bo")]).await;
        let output = doorman(&app, &[]).args(["send-emails", "--all-unverified"]).output().unwrap();
        assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
        let out = stdout(&output);
        assert!(out.contains("2 emails sent, 0 failed, 0 still queued"), "{out}");
        assert_eq!(user(&app, people[0]).await["email_status"], "sent");
        let sent = emails(&app, "").await;
        let bo = sent.iter().find(|e| e["recipient"] == "bo@example.org").unwrap();
        let token = token_in(bo["text_body"].as_str().unwrap());
        assert_eq!(app.events("kind=email_queued").await[0]["actor"], "cli");

        let ids = format!("{},{}", people[0], people[1]);
        let again = doorman(&app, &[]).args(["send-emails", "--ids", &ids]).output().unwrap();
        let out = stdout(&again);
        assert!(out.contains("0 emails sent") && out.contains("cooldown"), "{out}");
        assert_eq!(app.verify_json("bo@example.org", &token).await["success"], true, "the skipped resend kept Bo's token");
    }

    async fn send_test_prints_exactly_what_the_smtp_server_answered(backend: Backend) {
        let smtp = FakeSmtp::start().await;
        let app = spawn(backend, &[], &[]).await;
        let env = [("SMTP_URL", smtp.url()), ("EMAIL_FROM", "club@example.org".to_owned())];
        let output = doorman(&app, &env).args(["send-test", "me@example.org"]).output().unwrap();
        assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
        let out = stdout(&output);
        assert!(out.contains("route:    smtp") && out.contains("status:   250") && out.contains("queued as FAKE1"), "{out}");
        assert_eq!(smtp.messages()[0].to, ["me@example.org"]);

        let refused = doorman(&app, &env).args(["send-test", "reject@example.org"]).output().unwrap();
        assert!(!refused.status.success());
        assert!(stdout(&refused).contains("User unknown"), "{}", stdout(&refused));
    }
}
