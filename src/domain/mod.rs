//! Domain types and rules, free of HTTP, SQL and Discord.

mod email;
pub mod event;
pub mod invitee;
pub mod token;

pub use email::{Email, EmailError};
