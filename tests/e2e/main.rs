//! End-to-end tests of whole instances: real HTTP on loopback, real SQLite files and, when
//! `GUILDHALL_TEST_POSTGRES_URL` is set, real PostgreSQL databases. One test binary.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly

mod support;

mod app_features;
mod app_replay;
mod backup;
mod browser;
mod cli;
mod client_api;
mod client_extras;
mod delivery;
mod discovery;
mod events;
mod events_remote;
mod federation;
mod fixtures;
mod groups;
mod groups_api;
mod hardening;
mod health;
mod hours;
pub(crate) mod inbox;
mod mail;
mod mastodon_client;
pub(crate) mod media;
mod metrics;
mod migrate_postgres;
mod pages;
mod polls;
mod processes;
mod restart;
pub(crate) mod scheduled;
mod scope_matrix;
mod signup;
mod streaming;
mod web_admin;
mod web_browser;
mod web_events;
mod web_hours;
mod web_mail;
mod web_members;
