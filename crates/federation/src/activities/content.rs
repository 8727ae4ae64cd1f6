//! Posts, edits, deletions, likes and boosts.

use activitypub_federation::fetch::object_id::ObjectId;
use guildhall_core::Id;
use guildhall_storage::statuses::{self, Status};
use guildhall_storage::{favourites, notifications, now};
use serde_json::Value;
use url::Url;

use crate::error::FedError;
use crate::objects::actor::DbActor;
use crate::objects::status::{DbStatus, store_remote, visibility_of};
use crate::protocol::activity::Activity;
use crate::protocol::note::{ApNote, STATUS_TYPES};
use crate::state::FedData;

/// The embedded object as a note written by `actor`, or `None` when it is not status-like.
fn embedded_note(activity: &Activity, actor: &DbActor) -> Result<Option<ApNote>, FedError> {
    let Some(object) = activity.object.clone().filter(Value::is_object) else { return Ok(None) };
    if !object.get("type").and_then(Value::as_str).is_some_and(|t| STATUS_TYPES.contains(&t)) {
        return Ok(None);
    }
    let note: ApNote = serde_json::from_value(object)?;
    if note.attributed_to.as_str() != actor.row.ap_id {
        return Err(FedError::Forbidden("the object is attributed to someone else".into()));
    }
    Ok(Some(note))
}

/// `Create` of a status.
pub async fn create(activity: Activity, actor: DbActor, data: &FedData) -> Result<(), FedError> {
    match embedded_note(&activity, &actor)? {
        Some(note) => {
            store_remote(note, data).await?;
        }
        None if activity.object.as_ref().is_some_and(Value::is_string) => {
            // Only an id: fetch it from its origin, which also proves who wrote it.
            if let Some(id) = activity.object_id() {
                let fetched = ObjectId::<DbStatus>::from(id).dereference(data).await?;
                if fetched.row.actor_id != actor.row.id {
                    return Err(FedError::Forbidden("the object is attributed to someone else".into()));
                }
            }
        }
        None => {}
    }
    Ok(())
}

/// `Update` of a status we have, by its author.
pub async fn update_note(activity: Activity, actor: DbActor, data: &FedData) -> Result<(), FedError> {
    let Some(note) = embedded_note(&activity, &actor)? else { return Ok(()) };
    let id = note.id.to_string();
    let known = data.db.run(move |c| statuses::find_by_ap_id(c, &id)).await?;
    if known.is_some_and(|s| s.actor_id == actor.row.id && s.deleted_at.is_none()) {
        store_remote(note, data).await?;
    }
    Ok(())
}

/// `Delete` of a status, by its author.
pub async fn delete_note(object: Url, actor: DbActor, data: &FedData) -> Result<(), FedError> {
    let author = actor.row.id;
    data.db
        .run(move |c| {
            if let Some(status) = statuses::find_by_ap_id(c, object.as_str())?
                && status.actor_id == author
                && status.deleted_at.is_none()
            {
                statuses::mark_deleted(c, status.id)?;
            }
            Ok(())
        })
        .await?;
    Ok(())
}

/// `Like` (and Misskey's `EmojiReact`) of a status we have.
pub async fn like(activity: Activity, actor: DbActor, data: &FedData) -> Result<(), FedError> {
    let Some(object) = activity.object_id() else { return Ok(()) };
    let liker = actor.row.id;
    let like_id = activity.id.to_string();
    data.db
        .run(move |c| {
            if let Some(status) =
                statuses::find_by_ap_id(c, object.as_str())?.filter(|s| s.deleted_at.is_none())
            {
                let (_, new) = favourites::add(c, liker, status.id, Some(&like_id))?;
                if new {
                    notifications::notify(c, status.actor_id, "favourite", liker, Some(status.id))?;
                }
            }
            Ok(())
        })
        .await?;
    Ok(())
}

/// `Undo{Like}`.
pub async fn undo_like(activity: Activity, actor: DbActor, data: &FedData) -> Result<(), FedError> {
    let inner = activity.object.clone().unwrap_or(Value::Null);
    let like_id = crate::protocol::id_of(&inner).map(String::from);
    let object = inner.get("object").and_then(crate::protocol::id_of).map(String::from);
    let liker = actor.row.id;
    data.db
        .run(move |c| {
            let by_id = like_id.map(|id| favourites::find_by_ap_id(c, &id)).transpose()?.flatten();
            let status = match (by_id, object) {
                (Some(f), _) if f.actor_id == liker => Some(f.status_id),
                (_, Some(o)) => statuses::find_by_ap_id(c, &o)?.map(|s| s.id),
                _ => None,
            };
            if let Some(status) = status {
                favourites::remove(c, liker, status)?;
            }
            Ok(())
        })
        .await?;
    Ok(())
}

/// `Announce`: a boost of a status (fetched from its origin when unknown), or — from a group —
/// a relayed activity, trusted only after fetching its object from the origin.
pub async fn announce(activity: Activity, actor: DbActor, data: &FedData) -> Result<(), FedError> {
    let Some(object) = activity.object.clone() else { return Ok(()) };
    let inner_type = object.get("type").and_then(Value::as_str).unwrap_or("");
    if matches!(inner_type, "Create" | "Update") {
        if let Some(inner_object) = object.get("object").and_then(crate::protocol::id_of) {
            ObjectId::<DbStatus>::from(inner_object).dereference_forced(data).await?;
        }
        return Ok(());
    }
    if !inner_type.is_empty() && !STATUS_TYPES.contains(&inner_type) {
        return Ok(());
    }
    let Some(object_id) = activity.object_id() else { return Ok(()) };
    let original = ObjectId::<DbStatus>::from(object_id).dereference(data).await?.row;
    store_boost(&activity, &actor, original, data).await
}

async fn store_boost(
    activity: &Activity,
    actor: &DbActor,
    original: Status,
    data: &FedData,
) -> Result<(), FedError> {
    let visibility = visibility_of(&activity.to, &activity.cc, actor.row.followers_url.as_deref());
    let stamp = now();
    let boost = Status {
        id: Id::generate().0,
        ap_id: activity.id.to_string(),
        url: None,
        actor_id: actor.row.id,
        local: false,
        kind: "Announce".into(),
        in_reply_to_id: None,
        in_reply_to_ap_id: None,
        in_reply_to_actor_id: None,
        reblog_of_id: Some(original.id),
        group_id: None,
        visibility: visibility.as_str().to_owned(),
        title: None,
        content: String::new(),
        source: None,
        spoiler_text: String::new(),
        sensitive: false,
        language: None,
        published_at: stamp,
        edited_at: None,
        deleted_at: None,
        created_at: stamp,
        updated_at: stamp,
    };
    data.db
        .run(move |c| {
            if statuses::find_by_ap_id(c, &boost.ap_id)?.is_none() && original.deleted_at.is_none() {
                statuses::insert(c, &boost)?;
                notifications::notify(c, original.actor_id, "reblog", boost.actor_id, Some(original.id))?;
            }
            Ok(())
        })
        .await?;
    Ok(())
}

/// `Undo{Announce}`: the boost goes.
pub async fn undo_announce(activity: Activity, actor: DbActor, data: &FedData) -> Result<(), FedError> {
    let Some(boost_id) = activity.object_id().map(String::from) else { return Ok(()) };
    let booster = actor.row.id;
    data.db
        .run(move |c| {
            if let Some(boost) = statuses::find_by_ap_id(c, &boost_id)?
                && boost.actor_id == booster
                && boost.reblog_of_id.is_some()
            {
                statuses::mark_deleted(c, boost.id)?;
            }
            Ok(())
        })
        .await?;
    Ok(())
}
