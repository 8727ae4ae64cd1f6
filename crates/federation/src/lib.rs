//! Guildhall's federation layer: everything ActivityPub.
//!
//! So far: the URL layout of local actors and the creation of local actors (people, groups and
//! the instance actor) with their key pairs. WebFinger, NodeInfo, the inbox, objects,
//! activities and the delivery worker build on these.
//!
//! Error policy: [`LocalActorError`] separates what the caller got wrong (invalid or taken
//! names, weak passwords: exit code 2 on the CLI, 422 in the API) from unexpected failures.
#![deny(missing_docs)]

pub mod local_actors;
pub mod urls;

pub use local_actors::LocalActorError;
pub use urls::Urls;
