//! Guildhall's federation layer: everything ActivityPub.
//!
//! - [`protocol`]: wire types that accept what real servers send;
//! - [`objects`]: our rows as ActivityPub objects (rendering ours, storing theirs);
//! - [`activities`]: handlers for what arrives in the inbox, after [`inbox`] verified it;
//! - [`actions`]: what local actors do, written with its activity into the outbox;
//! - [`delivery`]: the worker that signs and sends outbox activities, with retries;
//! - [`routes`]: WebFinger, NodeInfo, actor and object documents, inboxes.
//!
//! Error policy: [`FedError`] maps to HTTP at the edge: 400 malformed, 401 unsigned or badly
//! signed, 403 not allowed, 404/410 missing or gone; anything unexpected is a logged 500.
//! [`LocalActorError`] separates what a caller got wrong from unexpected failures.
#![deny(missing_docs)]

pub mod actions;
pub mod activities;
pub mod delivery;
pub mod domain_blocks;
pub mod error;
pub mod events;
pub mod fetch_signing;
pub mod groups;
pub mod hours;
pub mod inbox;
pub mod local_actors;
pub mod moderation;
pub mod nodeinfo;
pub mod objects;
pub mod outgoing;
pub mod polls;
pub mod protocol;
pub mod routes;
pub mod scheduler;
pub mod signing;
pub mod state;
pub mod uploads;
pub mod urls;

#[cfg(test)]
mod snapshots_test;

pub use error::FedError;
pub use local_actors::LocalActorError;
pub use state::{FedConfig, FedData, FedState};
pub use urls::Urls;

/// The media type of ActivityPub documents.
pub const AP_CONTENT_TYPE: &str = "application/activity+json";

/// Our version, as NodeInfo and the User-Agent report it.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

/// The User-Agent of our requests.
pub const USER_AGENT: &str =
    concat!("Guildhall/", env!("CARGO_PKG_VERSION"), " (+https://example.invalid/guildhall)");
