//! Handlers for received activities, after the inbox has verified the signature and
//! deduplicated by id. Each checks that the signer may do what the activity says (only the
//! author edits or deletes, only the followed accepts) and ignores what concerns nothing we
//! know.

mod account;
mod content;
mod social;

pub use social::{Decision, decide as decide_follow, respond};

use crate::error::FedError;
use crate::objects::actor::DbActor;
use crate::protocol::activity::Activity;
use crate::state::FedData;

/// Types we act on; anything else is accepted and ignored.
pub const HANDLED: [&str; 13] = [
    "Follow",
    "Accept",
    "Reject",
    "Undo",
    "Create",
    "Update",
    "Delete",
    "Like",
    "Announce",
    "Block",
    "Move",
    "Flag",
    "EmojiReact",
];

/// Applies a verified activity from `actor`.
pub async fn receive(activity: Activity, actor: DbActor, data: &FedData) -> Result<(), FedError> {
    match activity.kind.as_str() {
        "Follow" => social::follow(activity, actor, data).await,
        "Accept" => social::accept(activity, actor, data).await,
        "Reject" => social::reject(activity, actor, data).await,
        "Block" => social::block(activity, actor, data).await,
        "Undo" => undo(activity, actor, data).await,
        "Create" => content::create(activity, actor, data).await,
        "Update" => update(activity, actor, data).await,
        "Delete" => delete(activity, actor, data).await,
        "Like" => content::like(activity, actor, data).await,
        "Announce" => content::announce(activity, actor, data).await,
        "Move" => account::moved(activity, actor, data).await,
        "Flag" => account::flag(activity, actor, data).await,
        other => {
            tracing::debug!(kind = other, "ignored activity type");
            Ok(())
        }
    }
}

async fn undo(activity: Activity, actor: DbActor, data: &FedData) -> Result<(), FedError> {
    let inner_type = match activity.object_type() {
        Some(t) => t.to_owned(),
        None => lookup_type_of_undone(&activity, data).await?,
    };
    match inner_type.as_str() {
        "Follow" => social::undo_follow(activity, actor, data).await,
        "Block" => social::undo_block(activity, actor, data).await,
        "Like" | "EmojiReact" => content::undo_like(activity, actor, data).await,
        "Announce" => content::undo_announce(activity, actor, data).await,
        _ => Ok(()),
    }
}

/// An `Undo` that names the undone activity only by id: find what we stored under that id.
async fn lookup_type_of_undone(activity: &Activity, data: &FedData) -> Result<String, FedError> {
    let Some(id) = activity.object_id().map(String::from) else { return Ok(String::new()) };
    data.db
        .run(move |c| {
            use guildhall_storage::{favourites, follows, statuses};
            Ok(if follows::find_by_ap_id(c, &id)?.is_some() {
                "Follow"
            } else if favourites::find_by_ap_id(c, &id)?.is_some() {
                "Like"
            } else if statuses::find_by_ap_id(c, &id)?.is_some_and(|s| s.reblog_of_id.is_some()) {
                "Announce"
            } else {
                ""
            }
            .to_owned())
        })
        .await
        .map_err(FedError::from)
}

async fn update(activity: Activity, actor: DbActor, data: &FedData) -> Result<(), FedError> {
    match activity.object_type() {
        Some("Person" | "Group" | "Service" | "Application" | "Organization") => {
            account::update_actor(activity, actor, data).await
        }
        _ => content::update_note(activity, actor, data).await,
    }
}

async fn delete(activity: Activity, actor: DbActor, data: &FedData) -> Result<(), FedError> {
    let object = activity.object_id().ok_or_else(|| FedError::BadRequest("Delete without object".into()))?;
    if object.as_str() == actor.row.ap_id {
        account::delete_actor(actor, data).await
    } else {
        content::delete_note(&activity, object, actor, data).await
    }
}
