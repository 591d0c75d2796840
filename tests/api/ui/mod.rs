//! The admin UI in a real headless Chromium: what an organiser sees and does.

mod assets;
mod browser;
mod csrf;
mod events;
mod http;
mod join;
mod sessions;
mod sign_in;
