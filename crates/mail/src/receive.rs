//! Replies by mail: one inbound message, read ([`crate::inbound`]), checked and posted.
//!
//! A reply counts only when it went to a reply address we signed for one member and one post
//! (`reply+STATUS-ACTOR-MAC@…`), its `From` is that member's address, it is not automatic (a
//! bounce, an out-of-office note, bulk mail), and the member may still see the post. It is
//! posted as the member, as a reply to that post, through [`actions::post`] like any other,
//! with its images as attachments (their file names as starting alt text). The message's
//! `Message-ID` is the post's idempotency key, so a message delivered twice posts once.

use std::sync::Arc;

use actix_web::web::Bytes;
use guildhall_core::mail::Signer;
use guildhall_core::model::Visibility;
use guildhall_federation::actions::{self, NewPost};
use guildhall_federation::error::FedError;
use guildhall_federation::state::FedConfig;
use guildhall_federation::uploads::ImageStore;
use guildhall_storage::{accounts, actors, statuses, timelines};

use crate::inbound::{self, Limits};

/// What became of an inbound message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Posted as a reply.
    Posted {
        /// The new status.
        status_id: i64,
    },
    /// Not a person's reply (a bounce, an automatic answer): dropped without a word.
    Dropped(String),
    /// Refused, with the reason (a reply address not ours, another sender, an empty reply).
    Refused(String),
}

/// Why a message could not be handled now.
#[derive(Debug, thiserror::Error)]
pub enum ReceiveError {
    /// The message cannot be read (too large, no headers, no sender).
    #[error(transparent)]
    Unreadable(#[from] inbound::InboundError),
    /// Our side failed; the sender should try again later.
    #[error("{0}")]
    Temporary(String),
}

/// Turns reply mail into posts. Cheap to clone.
#[derive(Clone)]
pub struct Receiver {
    federation: FedConfig,
    signer: Arc<Signer>,
    images: Option<Arc<dyn ImageStore>>,
    limits: Limits,
}

impl std::fmt::Debug for Receiver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Receiver").field("limits", &self.limits).finish_non_exhaustive()
    }
}

impl Receiver {
    /// A receiver posting through `federation`, checking keys with `signer`, storing images
    /// through `images` (none: images are left out).
    pub fn new(federation: FedConfig, signer: Arc<Signer>, images: Option<Arc<dyn ImageStore>>) -> Receiver {
        Receiver { federation, signer, images, limits: Limits::default() }
    }

    /// Handles one raw message; `envelope` holds the SMTP recipients when known.
    pub async fn receive(&self, raw: &[u8], envelope: &[String]) -> Result<Outcome, ReceiveError> {
        let mail = inbound::parse_with_recipients(raw, envelope, &self.limits)?;
        if let Some(automatic) = mail.automatic {
            tracing::info!(reason = automatic.reason(), "inbound mail dropped");
            return Ok(Outcome::Dropped(automatic.reason().into()));
        }
        let today = guildhall_core::mail::day_of(guildhall_storage::now());
        let opened: Vec<_> = mail.reply_keys.iter().map(|k| self.signer.open_reply_key(k, today)).collect();
        let Some((status_id, actor_id)) = opened.iter().find_map(|k| k.ok()) else {
            if opened.contains(&Err(guildhall_core::mail::KeyError::Expired)) {
                return Ok(Outcome::Refused(
                    "this reply address has expired: reply from the web or an app".into(),
                ));
            }
            return Ok(Outcome::Refused("not sent to a reply address of this server".into()));
        };
        let data = self.federation.to_request_data();
        let from = mail.from.clone();
        let found = data
            .db
            .run(move |c| {
                let Some(account) = accounts::find_by_actor_id(c, actor_id)? else { return Ok(None) };
                let status = statuses::get(c, status_id)?;
                let visible =
                    timelines::may_see(c, &status, Some(actor_id))? && group_takes(c, &status, actor_id)?;
                // Whom the reply names: in a group's thread the group (so the reply is addressed
                // to it, as a members-only group's posts are); elsewhere the post's author and,
                // for a private or direct post, everyone it named, so it reaches them.
                let named = match status.group_id {
                    Some(group) => vec![group],
                    None => {
                        let mut named = vec![status.actor_id];
                        if matches!(status.visibility()?, Visibility::Private | Visibility::Direct) {
                            named.extend(guildhall_storage::status_parts::mentions(c, status.id)?);
                        }
                        named
                    }
                };
                let mut handles = Vec::new();
                for id in named {
                    let actor = actors::get(c, id)?;
                    let wanted = id != actor_id
                        && (status.group_id == Some(id)
                            || !actor.is(guildhall_core::model::ActorKind::Group));
                    if wanted {
                        let handle = match &actor.domain {
                            Some(domain) => format!("@{}@{domain}", actor.username),
                            None => format!("@{}", actor.username),
                        };
                        if !handles.contains(&handle) {
                            handles.push(handle);
                        }
                    }
                }
                Ok(Some((account, status, visible, handles)))
            })
            .await;
        let (account, status, visible, handles) = match found {
            Ok(Some(found)) => found,
            Ok(None) | Err(guildhall_storage::StorageError::NotFound) => {
                return Ok(Outcome::Refused("the account or the post is gone".into()));
            }
            Err(e) => return Err(ReceiveError::Temporary(e.to_string())),
        };
        if account.user.email != from {
            tracing::info!(
                actor = actor_id,
                "inbound mail refused: the sender is not the reply address's member"
            );
            return Ok(Outcome::Refused("the sender is not the member this reply address belongs to".into()));
        }
        if let Some(why) = account.user.refusal() {
            return Ok(Outcome::Refused(why.into()));
        }
        if !visible {
            return Ok(Outcome::Refused("the post can no longer be seen or answered".into()));
        }
        let mut text = mail.text.clone();
        if text.trim().is_empty() && mail.images.is_empty() {
            return Ok(Outcome::Refused("the reply has no text of its own".into()));
        }
        // A reply names whom it answers, as apps do.
        {
            let written: Vec<String> = text
                .split_whitespace()
                .map(|w| w.trim_end_matches(|c: char| !c.is_alphanumeric()).to_lowercase())
                .collect();
            let missing: Vec<&String> =
                handles.iter().filter(|h| !written.contains(&h.to_lowercase())).collect();
            if !missing.is_empty() {
                let names: Vec<&str> = missing.iter().map(|h| h.as_str()).collect();
                text = format!("{} {text}", names.join(" "));
            }
        }
        let mut media_ids = Vec::new();
        if let Some(store) = &self.images {
            for image in mail.images {
                let alt = image.alt_text();
                let stored = store.store_attachment(actor_id, Bytes::from(image.data), Some(alt)).await;
                match stored {
                    Ok(id) => media_ids.push(id),
                    Err(e) => {
                        tracing::info!(error = %e, file = %image.filename, "an image of a reply by mail was left out")
                    }
                }
            }
        }
        let visibility = status.visibility().unwrap_or(Visibility::Direct);
        let new = NewPost {
            text,
            visibility,
            in_reply_to: Some(status.id),
            spoiler_text: String::new(),
            sensitive: false,
            language: None,
            media_ids,
            idempotency: mail.message_id.as_ref().map(|id| (account.user.id, format!("mail:{id}"))),
            poll: None,
        };
        match actions::post(&data, &account.actor, new).await {
            Ok(posted) => {
                tracing::info!(status = posted.id, actor = actor_id, "reply by mail posted");
                Ok(Outcome::Posted { status_id: posted.id })
            }
            Err(FedError::BadRequest(why) | FedError::Forbidden(why)) => Ok(Outcome::Refused(why)),
            Err(e) => Err(ReceiveError::Temporary(e.to_string())),
        }
    }
}

/// Whether a reply by `actor` stays in the post's group: a local group must take the
/// member's posts (not banned, allowed to post), else the reply would leave the group's
/// thread and reach the member's followers instead.
fn group_takes(
    c: &mut guildhall_storage::DbConnection,
    status: &guildhall_storage::statuses::Status,
    actor: i64,
) -> guildhall_storage::StorageResult<bool> {
    let Some(group) = status.group_id else { return Ok(true) };
    match guildhall_storage::groups::get(c, group)? {
        Some(settings) => Ok(guildhall_storage::groups::may_post(c, &settings, actor)?.is_ok()),
        None => Ok(true),
    }
}

/// The SMTP listener's door: each accepted message is handled at once; refusals are answered
/// 550 so the sender learns of them, automatic mail is taken and dropped.
#[derive(Debug, Clone)]
pub struct ListenerDoor(pub Receiver);

impl crate::listener::Deliver for ListenerDoor {
    fn deliver(&self, envelope: crate::listener::Envelope) -> crate::listener::DeliverFuture<'_> {
        Box::pin(async move {
            use crate::listener::Rejection;
            // The envelope sender, as a delivering MTA records it: `<>` marks a bounce.
            let mut data = format!("Return-Path: <{}>\r\n", envelope.mail_from).into_bytes();
            data.extend_from_slice(&envelope.data);
            match self.0.receive(&data, &envelope.recipients).await {
                Ok(Outcome::Posted { .. } | Outcome::Dropped(_)) => Ok(()),
                Ok(Outcome::Refused(why)) => Err(Rejection::Permanent(why)),
                Err(ReceiveError::Unreadable(e)) => Err(Rejection::Permanent(e.to_string())),
                Err(ReceiveError::Temporary(why)) => {
                    // The sender hears only that it should try again; the reason is ours.
                    tracing::warn!(error = %why, "a reply by mail could not be handled now");
                    Err(Rejection::Temporary("try again later".into()))
                }
            }
        })
    }
}
