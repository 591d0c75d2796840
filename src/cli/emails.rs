//! `doorman send-emails` and `doorman send-test`.

use std::io::IsTerminal;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressStyle};

use crate::config::Settings;
use crate::domain::EmailState;
use crate::domain::event::Actor;
use crate::service::Recipients;

/// Queues the invitations, then sends them from this process (a running server helps
/// if there is one), with a progress bar on a terminal. Emails waiting for a retry later
/// are left to the server's workers.
pub async fn send(settings: &Settings, recipients: Recipients, force: bool) -> anyhow::Result<()> {
    let doorman = crate::startup::connect(settings).await?;
    let batch = doorman
        .queue_invitations(recipients, force, Actor::Cli)
        .await?;
    let bar = if std::io::stderr().is_terminal() {
        ProgressBar::new(batch.queued as u64)
    } else {
        ProgressBar::hidden()
    };
    bar.set_style(
        ProgressStyle::with_template("{bar:40} {pos}/{len} emails {msg}")
            .expect("static template parses"),
    );
    loop {
        let handled = doorman.deliver_due_emails().await?;
        let report = doorman.batch_report(&batch).await?;
        bar.set_position((report.emails_sent + report.emails_failed) as u64);
        bar.set_message(format!("({} failed)", report.emails_failed));
        if report.emails_queued == 0 {
            break;
        }
        if handled == 0 {
            // Nothing due: the rest wait for a retry, or another process is sending them.
            tokio::time::sleep(Duration::from_millis(200)).await;
            let again = doorman.batch_report(&batch).await?;
            if again.emails_queued == report.emails_queued {
                break;
            }
        }
    }
    bar.finish_and_clear();
    let report = doorman.batch_report(&batch).await?;
    println!("{}.", report.message);
    for skipped in &report.skipped {
        let email = skipped
            .email
            .as_deref()
            .map(|e| format!(" ({e})"))
            .unwrap_or_default();
        println!("  skipped {}{email}: {}", skipped.id, skipped.reason);
    }
    if report.emails_queued > 0 {
        println!(
            "  {} still queued for a retry; a running doorman server sends them.",
            report.emails_queued
        );
    }
    let failed = crate::service::EmailFilter {
        status: Some(EmailState::Failed),
        batch_id: Some(batch.batch_id.clone()),
        limit: 20,
        ..Default::default()
    };
    for failed in doorman.list_emails(&failed).await? {
        println!(
            "  failed: {}: {}",
            failed.recipient,
            failed.last_error.as_deref().unwrap_or("unknown error")
        );
    }
    if report.emails_failed > 0 {
        anyhow::bail!("{} emails failed", report.emails_failed);
    }
    Ok(())
}

pub async fn test(settings: &Settings, address: &str) -> anyhow::Result<()> {
    let doorman = crate::startup::connect(settings).await?;
    let report = doorman.send_test_email(address, Actor::Cli).await?;
    println!("route:    {}", report.route);
    println!("to:       {}", report.to);
    if let Some(status) = report.status {
        println!("status:   {status}");
    }
    if let Some(id) = &report.message_id {
        println!("message:  {id}");
    }
    println!("answer:   {}", report.provider_response);
    if !report.success {
        anyhow::bail!("the test email was not accepted");
    }
    println!("The test email was accepted.");
    Ok(())
}
