//! Which replica leads: the one that holds the Discord gateway (see `workers::leader`).

use super::Doorman;
pub use crate::store::{LeaderConnection, LeaderDatabase, LeaderElection};

impl Doorman {
    /// How this replica competes for leadership: alone on SQLite, through PostgreSQL's
    /// advisory lock otherwise.
    pub fn leader_election(&self) -> LeaderElection {
        self.store().leader_election()
    }
}
