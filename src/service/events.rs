//! The event log, and the state of the database behind everything.

use super::{Doorman, ServiceError};
use crate::domain::event::{EventFilter, NewEvent, RecordedEvent};

/// Whether the database answers, and which one it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Health {
    pub database_reachable: bool,
    /// `sqlite` or `postgres`.
    pub database_backend: &'static str,
}

/// How long a health check waits for the database before calling it unreachable.
const PING_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(3);

impl Doorman {
    /// Events newest first.
    #[tracing::instrument(skip_all, fields(kind = ?filter.kind, invitee_id = filter.invitee_id))]
    pub async fn events(&self, filter: &EventFilter) -> Result<Vec<RecordedEvent>, ServiceError> {
        Ok(self.store().events(filter).await?)
    }

    /// Appends an event that goes with no change of state (an attempt refused, a
    /// conflict noticed), stamped with the clock's time.
    pub(crate) async fn record_event(&self, event: &NewEvent) -> Result<(), ServiceError> {
        Ok(self.store().record_event(event, self.now()).await?)
    }

    pub async fn health(&self) -> Health {
        let store = self.store();
        let reachable = tokio::time::timeout(PING_TIMEOUT, store.ping())
            .await
            .is_ok_and(|answer| answer.is_ok());
        Health {
            database_reachable: reachable,
            database_backend: store.backend(),
        }
    }

    /// Whether the database connections use TLS, as the server sees them (PostgreSQL's
    /// `pg_stat_ssl`): what `DB_SSL` and a URL's `sslmode` come to.
    pub async fn database_uses_tls(&self) -> Result<bool, ServiceError> {
        Ok(self.store().uses_tls().await?)
    }

    /// Closes the database connections: for shutting down (and for tests of an
    /// unreachable database).
    pub async fn close(&self) {
        self.store().close().await;
    }
}
