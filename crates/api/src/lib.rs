//! Guildhall's HTTP side: the server skeleton now; the Mastodon client API, OAuth, streaming,
//! web pages and admin build on it.
//!
//! Error policy: handlers return [`ApiError`]. Expected failures carry their status (404, 409,
//! 422, 503) and a message meant for the client; anything unexpected is logged and answered
//! with a bare 500 — no internals in the body. Every 4xx/5xx body, including those produced by
//! actix itself (unknown route, payload too large, bad JSON), is `{"error": "..."}`.
#![deny(missing_docs)]

mod error;
mod guildhall;
mod health;
mod mastodon;
mod media;
pub mod metrics;
mod request_log;
mod server;

pub use error::ApiError;
pub use guildhall::route_list as guildhall_routes;
pub use mastodon::RateLimits;
pub use mastodon::streaming::{LookCause, POLL_FALLBACK, Streamer};
pub use server::{AppState, HttpOptions, image_store, serve};
