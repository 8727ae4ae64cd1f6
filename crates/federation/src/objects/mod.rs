//! Storage rows wrapped as ActivityPub objects (the library's `Object`/`Actor` traits):
//! rendering ours, storing theirs.

pub mod actor;
pub mod status;
