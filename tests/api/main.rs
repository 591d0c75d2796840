//! Integration tests: the real application over HTTP, on SQLite and on PostgreSQL.

mod fake_discord;
mod fakes;
mod helpers;

mod admin_key;
mod auth;
mod cli;
mod conformance;
mod db_tls;
mod discord;
mod docs;
mod email;
mod events;
mod health;
mod join;
mod limits;
mod observe;
mod replicas;
mod shutdown;
mod storage;
mod tokens;
mod ui;
mod upload;
mod users;
mod verify;
