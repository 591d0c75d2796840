//! What operators watch: the metrics' exposition and whether doorman is ready to serve.

use std::time::Duration;

use super::{Doorman, ServiceError, VerifyOutcome};
use crate::domain::event::Channel;
use crate::observe::Metrics;

/// How long a scrape or a readiness check waits for the database.
const DATABASE_WAIT: Duration = Duration::from_secs(3);

/// Whether doorman can serve requests now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Readiness {
    pub database_reachable: bool,
    /// Every migration this doorman knows has been applied.
    pub schema_current: bool,
}

impl Readiness {
    pub fn is_ready(&self) -> bool {
        self.database_reachable && self.schema_current
    }
}

impl Doorman {
    /// Where the operations count what they do.
    pub fn metrics(&self) -> &Metrics {
        &self.inner.metrics
    }

    /// The metrics in Prometheus' text format. The queue's gauges come from the
    /// database; when it does not answer they keep their last values.
    pub async fn render_metrics(&self) -> String {
        let store = self.store();
        let queue = match tokio::time::timeout(DATABASE_WAIT, store.queue_gauges()).await {
            Ok(Ok(gauges)) => Some(gauges),
            Ok(Err(e)) => {
                tracing::warn!(error = %e, "metrics: cannot read the queue's gauges");
                None
            }
            Err(_) => {
                tracing::warn!("metrics: the database did not answer in time");
                None
            }
        };
        self.metrics()
            .render(queue, store.pool_gauges(), self.now())
    }

    /// Readiness: the database answers and its schema is this doorman's.
    pub async fn readiness(&self) -> Readiness {
        match tokio::time::timeout(DATABASE_WAIT, self.store().schema_is_current()).await {
            Ok(Ok(current)) => Readiness {
                database_reachable: true,
                schema_current: current,
            },
            // No migrations table yet, or no answer.
            _ => Readiness {
                database_reachable: self.health().await.database_reachable,
                schema_current: false,
            },
        }
    }
}

impl Doorman {
    /// Counts a verification attempt by how it ended (and, if refused, as throttled).
    pub(super) fn count_verification(
        &self,
        channel: Channel,
        result: &Result<VerifyOutcome, ServiceError>,
    ) {
        let outcome = match result {
            Ok(VerifyOutcome::Verified { .. }) => "verified",
            Ok(VerifyOutcome::NotFound) => "not_found",
            Ok(VerifyOutcome::InvalidToken) => "invalid_token",
            Ok(VerifyOutcome::AlreadyVerified) => "already_verified",
            Ok(VerifyOutcome::Expired) => "expired",
            Ok(VerifyOutcome::DiscordAccountInUse) => "discord_account_in_use",
            Err(ServiceError::Throttled { .. }) => "throttled",
            Err(_) => "error",
        };
        debug_assert!(crate::observe::VERIFICATION_OUTCOMES.contains(&outcome));
        self.metrics().verification(channel.as_str(), outcome);
        if outcome == "throttled" {
            self.metrics().throttled("verification", channel.as_str());
        }
    }
}
