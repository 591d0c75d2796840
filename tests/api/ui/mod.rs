//! The admin UI in a real headless Chromium: what an organiser sees and does.

mod assets;
mod browser;
mod csrf;
mod events;
mod http;
mod invitees;
mod invitees_journey;
mod sessions;
mod sign_in;
