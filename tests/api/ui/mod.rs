//! The admin UI in a real headless Chromium: what an organiser sees and does.

mod assets;
mod browser;
mod csrf;
mod discord;
mod emails;
mod events;
pub(crate) mod http;
mod import;
mod import_emails;
mod import_replicas;
mod invitees;
mod invitees_journey;
mod join;
mod overview;
mod sessions;
mod sign_in;
