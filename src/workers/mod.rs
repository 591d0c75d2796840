//! Background loops that keep doorman's queues moving. Each only calls service
//! operations; the work itself, and its state, live in the service and the database.

pub mod email;
pub mod leader;
