//! The admin UI in a real headless Chromium: what an organiser sees and does.

mod assets;
mod browser;
mod csrf;
mod discord;
mod events;
mod http;
mod overview;
mod invitees;
mod invitees_journey;
mod sessions;
mod sign_in;
