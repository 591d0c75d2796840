//! doorman: invite people by email and admit them to a Discord server only once they
//! prove who they are.

pub mod api;
pub mod cli;
pub mod config;
pub mod discord;
pub mod domain;
pub mod email;
pub mod import;
pub mod observe;
pub mod server;
pub mod service;
pub mod startup;
mod store;
pub mod web;
pub mod workers;
