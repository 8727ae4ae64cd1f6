//! Guildhall's core: the values every other layer speaks in.
//!
//! Ids, validated domain values (usernames, e-mail addresses, the instance domain), the
//! configuration, password hashing and actor key generation. Nothing here performs I/O: no
//! files, no network, no SQL. Reading the configuration file is the caller's job; this crate
//! only parses and validates what it is given, so every rule is unit-testable.
//!
//! Error policy: every fallible function returns a typed error from its own module
//! (`thiserror` enums, one doc line per variant). The HTTP edge decides status codes.
#![deny(missing_docs)]

pub mod calendar;
pub mod config;
pub mod domain;
pub mod email;
pub mod id;
pub mod keys;
pub mod limits;
pub mod mail;
pub mod model;
pub mod net;
pub mod password;
pub mod text;
pub mod username;

pub use config::Config;
pub use domain::Domain;
pub use email::Email;
pub use id::Id;
pub use username::Username;
