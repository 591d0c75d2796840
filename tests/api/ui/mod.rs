//! The admin UI in a real headless Chromium: what an organiser sees and does.

mod assets;
mod browser;
mod csrf;
mod discord;
mod events;
mod http;
mod invitees;
mod invitees_journey;
mod overview;
mod sessions;
mod sign_in;
