//! Mail: Guildhall's way in for members who live in their inbox.
//!
//! Out: notifications, account mail, group digests and every-post mail are composed by jobs of
//! the durable queue ([`guildhall_storage::jobs`]) into `mail_send` jobs, which the
//! [`worker::MailWorker`] hands to SMTP (lettre) or, with no SMTP configured, writes as `.eml`
//! files under `<data dir>/mail`. In: a reply to a mail's `Reply-To` (`reply+KEY@domain`)
//! arrives by `guildhall mail receive` or the optional SMTP listener and becomes a reply in
//! the thread through [`guildhall_federation::actions`].
#![deny(missing_docs)]

pub mod compose;
pub mod inbound;
pub mod letters;
pub mod listener;
pub mod receive;
pub mod render;
pub mod transport;
pub mod worker;
