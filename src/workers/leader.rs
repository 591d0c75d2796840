//! Leadership: with several replicas on one PostgreSQL, exactly one of them holds the
//! Discord gateway (and so enforces deadlines); the others serve the API and send email.
//!
//! The leader is whoever holds PostgreSQL's advisory lock (see `store::leader`). Every
//! replica looks every `LEADER_TAKEOVER_SECS / 5`: the leader confirms its connection
//! still answers, and steps down at once when it does not; the others try the lock. A
//! leader that dies releases the lock with its connection; one that goes silent is cut
//! off by the server after three looks. Either way another replica holds the lock within
//! `LEADER_TAKEOVER_SECS`. On SQLite the one process always leads.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::service::{Doorman, LeaderConnection, LeaderDatabase, LeaderElection};

/// Whether this replica leads, as it changes. Cheap to clone.
#[derive(Debug, Clone)]
pub struct Leadership {
    leading: watch::Receiver<bool>,
    /// Keeps a fixed answer alive when no election runs.
    _fixed: Option<Arc<watch::Sender<bool>>>,
}

impl Leadership {
    /// Leads for good: the only process there is.
    pub fn always() -> Self {
        let (sender, leading) = watch::channel(true);
        Self {
            leading,
            _fixed: Some(Arc::new(sender)),
        }
    }

    pub fn is_leader(&self) -> bool {
        *self.leading.borrow()
    }

    /// Waits until this replica leads; false once the election has ended (shutdown).
    pub async fn acquired(&mut self) -> bool {
        self.leading.wait_for(|leading| *leading).await.is_ok()
    }

    /// Waits until this replica no longer leads (or the election has ended).
    pub async fn lost(&mut self) {
        let _ = self.leading.wait_for(|leading| !*leading).await;
    }
}

/// How often each replica looks, and when the server gives up on a silent holder.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Timing {
    every: Duration,
    server_gives_up: Duration,
}

impl Timing {
    /// A silent leader steps down after two looks (one missed, one timed out); the server
    /// drops its lock after three; a contender, looking every fifth of `takeover`, has it
    /// by the fourth.
    fn for_takeover(takeover: Duration) -> Self {
        let every = (takeover / 5).max(Duration::from_millis(100));
        Self {
            every,
            server_gives_up: every * 3,
        }
    }
}

/// Starts competing for leadership; on SQLite, leads at once with no task.
pub fn spawn(doorman: &Doorman, takeover: Duration) -> (Leadership, Option<JoinHandle<()>>) {
    match doorman.leader_election() {
        LeaderElection::Alone => (Leadership::always(), None),
        LeaderElection::Postgres(database) => {
            let (sender, leading) = watch::channel(false);
            let timing = Timing::for_takeover(takeover);
            let task = tokio::spawn(contend(database, timing, sender));
            let leadership = Leadership {
                leading,
                _fixed: None,
            };
            (leadership, Some(task))
        }
    }
}

async fn contend(database: LeaderDatabase, timing: Timing, leading: watch::Sender<bool>) {
    let mut ticker = tokio::time::interval(timing.every);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut connection: Option<LeaderConnection> = None;
    let mut unreachable = false;
    // Opening may need a TLS handshake with a distant server; a look need not.
    let open_within = timing.every.max(Duration::from_secs(5));
    loop {
        ticker.tick().await;
        let current = match &mut connection {
            Some(current) => current,
            None => {
                let opened = tokio::time::timeout(
                    open_within,
                    LeaderConnection::open(&database, timing.server_gives_up),
                )
                .await;
                match opened {
                    Ok(Ok(opened)) => {
                        if unreachable {
                            tracing::info!("the leader lock's database answers again");
                            unreachable = false;
                        }
                        connection.insert(opened)
                    }
                    Ok(Err(error)) if !unreachable => {
                        tracing::warn!(%error, "cannot reach the database to compete for leadership");
                        unreachable = true;
                        continue;
                    }
                    _ => continue,
                }
            }
        };
        if *leading.borrow() {
            let confirmed = tokio::time::timeout(timing.every, current.confirm()).await;
            if !matches!(confirmed, Ok(Ok(()))) {
                leading.send_replace(false);
                connection = None;
                tracing::warn!(
                    "lost the leader lock (the database connection failed): closing the Discord gateway"
                );
            }
        } else {
            match tokio::time::timeout(timing.every, current.try_acquire()).await {
                Ok(Ok(true)) => {
                    leading.send_replace(true);
                    tracing::info!("this replica now leads: it holds the Discord gateway");
                }
                Ok(Ok(false)) => {}
                Ok(Err(_)) | Err(_) => connection = None,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_silent_leader_steps_down_before_the_server_frees_its_lock_and_within_the_takeover() {
        for secs in [1, 3, 15, 600] {
            let takeover = Duration::from_secs(secs);
            let t = Timing::for_takeover(takeover);
            // Steps down after its next look times out.
            let steps_down = t.every * 2;
            assert!(steps_down < t.server_gives_up, "{secs}");
            // The server frees the lock, and a contender looks once more.
            assert!(t.server_gives_up + t.every <= takeover, "{secs}");
        }
    }

    #[tokio::test]
    async fn alone_it_always_leads() {
        let mut leadership = Leadership::always();
        assert!(leadership.is_leader());
        assert!(leadership.acquired().await);
    }
}
