//! The email queue's loop: delivers what is due when woken (emails were queued) or every
//! poll interval, and now and then queues due reminders and forgets old webhook event ids.

use std::time::Duration;

use tokio::sync::watch;

use crate::service::Doorman;

/// How often the reminder schedule is looked at (new invitations are what change it,
/// and reminders are counted in days), and old webhook event ids forgotten.
const HOUSEKEEPING: Duration = Duration::from_secs(60);

/// Runs until `stop` turns true. On stop it finishes the round in flight and claims
/// nothing new.
pub fn spawn(doorman: Doorman, mut stop: watch::Receiver<bool>) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let poll = doorman.email_settings().poll_interval;
        let mut next_housekeeping = tokio::time::Instant::now();
        loop {
            if *stop.borrow() {
                break;
            }
            if tokio::time::Instant::now() >= next_housekeeping {
                housekeeping(&doorman).await;
                next_housekeeping = tokio::time::Instant::now() + HOUSEKEEPING;
            }
            let stopping = stop.clone();
            if let Err(e) = doorman
                .deliver_due_emails_while(|| !*stopping.borrow())
                .await
            {
                tracing::error!(error = %e, "email delivery failed; retrying shortly");
            }
            tokio::select! {
                () = doorman.emails_queued() => {}
                () = tokio::time::sleep(poll) => {}
                _ = stop.changed() => {}
            }
        }
    })
}

async fn housekeeping(doorman: &Doorman) {
    if !doorman.email_settings().reminder_days.is_empty()
        && let Err(e) = doorman.queue_due_reminders().await
    {
        tracing::error!(error = %e, "could not queue reminders");
    }
    if let Err(e) = doorman.forget_old_webhook_events().await {
        tracing::warn!(error = %e, "could not prune old webhook event ids");
    }
}
