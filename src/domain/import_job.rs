//! Where an admin UI import job stands, as its row stores it.

use super::text_enum;

text_enum! {
    pub enum ImportJobState {
        /// Reading and adding; the replica running it keeps its heartbeat fresh.
        Running = "running",
        /// Done, with its report.
        Finished = "finished",
        /// Stopped by an error, with its message; rows committed before it are kept.
        Failed = "failed",
    }
}
