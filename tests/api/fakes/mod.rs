//! Stand-ins for the services doorman talks to, written from their documentation.

pub mod fake_sendgrid;
pub mod fake_smtp;
