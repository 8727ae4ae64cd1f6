//! Posts, edits, deletions, likes and boosts.

use activitypub_federation::fetch::object_id::ObjectId;
use guildhall_core::Id;
use guildhall_core::model::{ActorKind, Visibility};
use guildhall_storage::notifications::NotificationKind;
use guildhall_storage::statuses::{self, Status};
use guildhall_storage::{favourites, notifications, now};
use serde_json::Value;
use url::Url;

use crate::error::FedError;
use crate::groups;
use crate::objects::actor::DbActor;
use crate::objects::status::{DbStatus, store_relayed, store_remote_by, store_remote_then, visibility_of};
use crate::protocol::activity::Activity;
use crate::protocol::note::{ApNote, STATUS_TYPES};
use crate::state::FedData;

/// The embedded object as a note written by `actor`, or `None` when it is not status-like.
fn embedded_note(activity: &Activity, actor: &DbActor) -> Result<Option<ApNote>, FedError> {
    let Some(object) = activity.object.clone().filter(Value::is_object) else { return Ok(None) };
    if !crate::protocol::type_of(&object).is_some_and(|t| STATUS_TYPES.contains(&t.as_str())) {
        return Ok(None);
    }
    let note: ApNote = serde_json::from_value(object)?;
    if note.attributed_to.as_str() != actor.row.ap_id {
        return Err(FedError::Forbidden("the object is attributed to someone else".into()));
    }
    Ok(Some(note))
}

/// `Create` of a status. A post into one of our groups is relayed to its members (or refused).
///
/// `unrecorded`: the activity's id when the inbox left its replay guard to this handler. A
/// note that comes whole is stored in the same transaction that records the id (one write
/// instead of two for most of what an instance receives); anything else records it first.
pub async fn create(
    activity: Activity,
    actor: DbActor,
    data: &FedData,
    unrecorded: Option<String>,
) -> Result<(), FedError> {
    let note = embedded_note(&activity, &actor)?;
    // A poll vote (a named reply) is counted outside the store transaction: recorded first.
    let stored_with_receipt = note.as_ref().is_some_and(|n| n.name.is_none() || n.in_reply_to.is_none());
    match unrecorded {
        Some(id) if !stored_with_receipt => {
            super::recorded_first(data, id, create_recorded(activity, actor, data, note, None)).await
        }
        receipt => create_recorded(activity, actor, data, note, receipt).await,
    }
}

/// [`create`] once the replay guard is taken care of: `receipt` is the id still to record
/// in the store transaction, if any.
async fn create_recorded(
    activity: Activity,
    actor: DbActor,
    data: &FedData,
    note: Option<ApNote>,
    receipt: Option<String>,
) -> Result<(), FedError> {
    let (doc, urls) = (activity.to_json(), data.urls.clone());
    let stored = match note {
        Some(note) if crate::polls::receive_vote(data, &actor.row, &note).await? => return Ok(()),
        Some(note) => {
            // Stored and decided by our group in one transaction.
            // What it queues (a group's relay) marks a change, which wakes the delivery
            // worker once committed (on PostgreSQL through a notification, within ~15 ms).
            // Its author is the verified sender (embedded_note checked): no second lookup.
            let stored = store_remote_by(note, actor, receipt, data, move |c, status| {
                groups::on_new_status(c, &urls, status, &doc).map(|_| ())
            })
            .await?;
            if stored.is_none() {
                tracing::debug!(id = %activity.id, "replayed activity ignored");
            }
            return Ok(());
        }
        None if activity.object.as_ref().is_some_and(Value::is_string) => {
            // Only an id: fetch it from its origin, which also proves who wrote it.
            let Some(id) = activity.object_id() else { return Ok(()) };
            let fetched = ObjectId::<DbStatus>::from(id).dereference(data).await?;
            if fetched.row.actor_id != actor.row.id {
                return Err(FedError::Forbidden("the object is attributed to someone else".into()));
            }
            Some(fetched)
        }
        None => None,
    };
    if let Some(status) = stored {
        data.db
            .run(move |c| {
                guildhall_storage::transaction(c, |c| groups::on_new_status(c, &urls, &status.row, &doc))
            })
            .await?;
        data.delivery_wakeup.notify_one();
    }
    Ok(())
}

/// Runs `change` in one transaction with the relay of `activity` to the members of our group
/// its status is in, if any: `change` returns the status it changed (`None`: nothing changed,
/// nothing to relay). A failed relay rolls the change back, so a retry finds it new again.
async fn change_and_relay(
    activity: &Activity,
    data: &FedData,
    change: impl FnOnce(&mut guildhall_storage::DbConnection) -> guildhall_storage::StorageResult<Option<Status>>
    + Send
    + 'static,
) -> Result<(), FedError> {
    let (doc, urls) = (activity.to_json(), data.urls.clone());
    data.db
        .run(move |c| {
            guildhall_storage::transaction(c, |c| {
                if let Some(status) = change(c)? {
                    groups::on_thread_activity(c, &urls, &status, &doc)?;
                }
                Ok(())
            })
        })
        .await?;
    data.delivery_wakeup.notify_one();
    Ok(())
}

/// `Update` of a status we have, by its author.
pub async fn update_note(activity: Activity, actor: DbActor, data: &FedData) -> Result<(), FedError> {
    let Some(note) = embedded_note(&activity, &actor)? else { return Ok(()) };
    let id = note.id.to_string();
    let known = data.db.run(move |c| statuses::find_by_ap_id(c, &id)).await?;
    if known.is_some_and(|s| s.actor_id == actor.row.id && s.deleted_at.is_none()) {
        let (doc, urls) = (activity.to_json(), data.urls.clone());
        store_remote_then(note, data, move |c, status| groups::on_thread_activity(c, &urls, status, &doc))
            .await?;
        data.delivery_wakeup.notify_one();
    }
    Ok(())
}

/// `Delete` of a status, by its author or by the group it was posted in (a moderator's
/// removal). An author's deletion in one of our groups is relayed to the members.
pub async fn delete_note(
    activity: &Activity,
    object: Url,
    actor: DbActor,
    data: &FedData,
) -> Result<(), FedError> {
    let deleter = actor.row.id;
    change_and_relay(activity, data, move |c| {
        let Some(status) = statuses::find_by_ap_id(c, object.as_str())? else { return Ok(None) };
        if status.deleted_at.is_some() {
            return Ok(None);
        }
        if status.actor_id == deleter {
            statuses::mark_deleted(c, status.id)?;
            return Ok(Some(status));
        }
        if status.group_id == Some(deleter) {
            remove_from_group(c, &status)?;
        }
        Ok(None)
    })
    .await
}

/// `Like` (and Misskey's `EmojiReact`) of a status we have; relayed when in one of our groups.
pub async fn like(activity: Activity, actor: DbActor, data: &FedData) -> Result<(), FedError> {
    let Some(object) = activity.object_id() else { return Ok(()) };
    let liker = actor.row.id;
    let like_id = activity.id.to_string();
    change_and_relay(&activity, data, move |c| {
        let Some(status) = statuses::find_by_ap_id(c, object.as_str())?.filter(|s| s.deleted_at.is_none())
        else {
            return Ok(None);
        };
        let (_, new) = favourites::add(c, liker, status.id, Some(&like_id))?;
        if new {
            notifications::notify(c, status.actor_id, NotificationKind::Favourite, liker, Some(status.id))?;
        }
        Ok(Some(status).filter(|_| new))
    })
    .await
}

/// `Undo{Like}`.
pub async fn undo_like(activity: Activity, actor: DbActor, data: &FedData) -> Result<(), FedError> {
    let inner = activity.object.clone().unwrap_or(Value::Null);
    let like_id = crate::protocol::id_of(&inner).map(String::from);
    let object = inner.get("object").and_then(crate::protocol::id_of).map(String::from);
    let liker = actor.row.id;
    change_and_relay(&activity, data, move |c| {
        let by_id = like_id.map(|id| favourites::find_by_ap_id(c, &id)).transpose()?.flatten();
        let status = match (by_id, object) {
            (Some(f), _) if f.actor_id == liker => Some(f.status_id),
            (_, Some(o)) => statuses::find_by_ap_id(c, &o)?.map(|s| s.id),
            _ => None,
        };
        match status {
            Some(status) if favourites::remove(c, liker, status)? => Ok(Some(statuses::get(c, status)?)),
            _ => Ok(None),
        }
    })
    .await
}

/// `Announce`: a boost of a status (fetched from its origin when unknown), or — from a group —
/// a relayed activity, trusted only after checking it at its origin (or, for removals, on the
/// group's own authority over its threads).
pub async fn announce(activity: Activity, actor: DbActor, data: &FedData) -> Result<(), FedError> {
    let Some(object) = activity.object.clone() else { return Ok(()) };
    let inner_type = crate::protocol::type_of(&object).unwrap_or_default();
    let inner_type = inner_type.as_str();
    match inner_type {
        "Create" | "Update" => return relayed_content(&object, &actor, data).await,
        "Delete" => return relayed_delete(&object, &actor, data).await,
        "Like" => return relayed_like(&object, &actor, data).await,
        "Undo" => return relayed_unlike(&object, &actor, data).await,
        _ => {}
    }
    if !inner_type.is_empty() && !STATUS_TYPES.contains(&inner_type) {
        return Ok(());
    }
    let Some(object_id) = activity.object_id() else { return Ok(()) };
    let mut original = ObjectId::<DbStatus>::from(object_id).dereference(data).await?.row;
    // Boosts of non-public posts only by their author (Mastodon's self-boost to followers).
    let public = original.is(Visibility::Public) || original.is(Visibility::Unlisted);
    if !public && original.actor_id != actor.row.id {
        return Err(FedError::Forbidden("only public posts can be boosted".into()));
    }
    if actor.row.is(ActorKind::Group) && original.group_id.is_none() {
        // A group's plain Announce is its relay in the form Mastodon shows: the post is in the
        // group when it mentions the group or replies in its thread.
        let (group, status) = (actor.row.clone(), original.clone());
        original = data
            .db
            .run(move |c| {
                let named = guildhall_storage::status_parts::mentions(c, status.id)?.contains(&group.id);
                groups::claim_for_group(c, &status, &group, named)?;
                statuses::get(c, status.id)
            })
            .await?;
    }
    if original.group_id == Some(actor.row.id) {
        // A group's plain form of a post already shown as posted in it: once is enough.
        return Ok(());
    }
    store_boost(&activity, &actor, original, data).await
}

/// A relayed `Create`/`Update`: the object is fetched from its origin and stored in the group
/// that relayed it.
///
/// A members-only group's post may be shown by its origin only to that server's own members.
/// When the origin refuses our signed fetch (401 or 403, not a 404), the embedded copy is taken
/// on the group's word, and only then when: the group is members-only; the author already has
/// a post in this group that we fetched from its origin (a known member); the post is new,
/// remote, not public and addressed to that very group. It is shown to the group's members
/// alone (other addressees and mentions are dropped, so a group cannot put words in anyone's
/// mouth towards people outside it).
async fn relayed_content(inner: &Value, group: &DbActor, data: &FedData) -> Result<(), FedError> {
    let Some(object_id) = inner.get("object").and_then(crate::protocol::id_of) else { return Ok(()) };
    let fetch_error = match fetch_note(&object_id, data).await {
        Ok(note) => {
            store_relayed(note, &group.row, data).await?;
            return Ok(());
        }
        Err(e) => e,
    };
    let note = embedded_copy(inner, group, data).await?.ok_or(fetch_error)?;
    if !origin_protects(&note.id, data).await {
        return Err(FedError::Forbidden("the relayed post is not confirmed by its origin".into()));
    }
    let mut note = note;
    note.to = vec![group.row.ap_id.clone()];
    note.cc = Vec::new();
    note.tag.retain(|t| !t.is_mention());
    tracing::debug!(id = %note.id, group = %group.row.ap_id, "members-only post taken from its group");
    store_relayed(note, &group.row, data).await?;
    Ok(())
}

/// Whether the origin of `id` protects it rather than lacks it: our signed fetch of it is
/// refused (401 or 403) while one of an id that cannot exist beside it is not found (404). A
/// server that refuses us everything (it blocks us, or allows only a list of servers) proves
/// nothing, so a group cannot pass off made-up posts by its members there.
async fn origin_protects(id: &Url, data: &FedData) -> bool {
    let Some(signer) = &data.fetch_signer else { return false };
    let refused = signer.status_of(id, data.config.insecure).await.ok();
    if !refused.is_some_and(|s| s == 401 || s == 403) {
        return false;
    }
    let mut absent = id.clone();
    absent.set_path(&format!("{}-{}", id.path().trim_end_matches('/'), guildhall_core::keys::random_token()));
    absent.set_query(None);
    signer.status_of(&absent, data.config.insecure).await.ok().is_some_and(|s| s == 404)
}

/// The note at `id`, from its origin (which must be the note's own server).
async fn fetch_note(id: &Url, data: &FedData) -> Result<ApNote, FedError> {
    let fetched = activitypub_federation::fetch::fetch_object_http::<_, ApNote>(id, data).await?;
    let note = fetched.object;
    activitypub_federation::protocol::verification::verify_domains_match(&note.id, id)?;
    Ok(note)
}

/// The embedded note of a relay when the rules of [`relayed_content`] let it be taken on the
/// group's word (before asking the origin); `None` otherwise.
async fn embedded_copy(inner: &Value, group: &DbActor, data: &FedData) -> Result<Option<ApNote>, FedError> {
    let Some(embedded) = inner.get("object").filter(|o| o.is_object()) else { return Ok(None) };
    let Ok(note) = serde_json::from_value::<ApNote>(embedded.clone()) else { return Ok(None) };
    let for_this_group = note.audience.as_ref().is_some_and(|a| a.as_str() == group.row.ap_id);
    let public = note.to.iter().chain(&note.cc).any(|a| crate::protocol::is_public(a));
    let inner_actor = inner.get("actor").and_then(crate::protocol::id_of);
    if !group.row.is(ActorKind::Group)
        || !group.row.members_only
        || !for_this_group
        || public
        || inner_actor.as_ref() != Some(&note.attributed_to)
    {
        return Ok(None);
    }
    let local_domain = data.config.domain.to_string();
    let local = |u: &Url| crate::objects::actor::authority(u) == local_domain;
    if local(&note.id) || local(&note.attributed_to) {
        return Ok(None);
    }
    let (id, author, group_id) = (note.id.to_string(), note.attributed_to.to_string(), group.row.id);
    let known_member = data
        .db
        .run(move |c| {
            if statuses::find_by_ap_id(c, &id)?.is_some() {
                return Ok(false);
            }
            let Some(author) = guildhall_storage::actors::find_by_ap_id(c, &author)? else {
                return Ok(false);
            };
            statuses::has_post_in_group(c, author.id, group_id)
        })
        .await?;
    Ok(known_member.then_some(note))
}

/// A relayed `Delete`: the group may remove anything posted in it.
async fn relayed_delete(inner: &Value, group: &DbActor, data: &FedData) -> Result<(), FedError> {
    let Some(object_id) = inner.get("object").and_then(crate::protocol::id_of) else { return Ok(()) };
    let group_id = group.row.id;
    data.db
        .run(move |c| {
            if let Some(status) = statuses::find_by_ap_id(c, object_id.as_str())?
                && status.group_id == Some(group_id)
                && status.deleted_at.is_none()
            {
                remove_from_group(c, &status)?;
            }
            Ok(())
        })
        .await?;
    Ok(())
}

/// A relayed `Undo{Like}`: applied once the liker's server says the like is gone (410).
async fn relayed_unlike(inner: &Value, group: &DbActor, data: &FedData) -> Result<(), FedError> {
    let undone = inner.get("object").cloned().unwrap_or(Value::Null);
    if !group.row.is(ActorKind::Group) || undone.get("type").and_then(Value::as_str) != Some("Like") {
        return Ok(());
    }
    let Some(like_id) = crate::protocol::id_of(&undone) else { return Ok(()) };
    let known = like_id.to_string();
    if data.db.run(move |c| favourites::find_by_ap_id(c, &known)).await?.is_none() {
        return Ok(());
    }
    match activitypub_federation::fetch::fetch_object_http::<_, Value>(&like_id, data).await {
        Err(activitypub_federation::error::Error::ObjectDeleted(_)) => {}
        _ => return Err(FedError::Forbidden("the like is still there at its origin".into())),
    }
    let (like_id, group_id) = (like_id.to_string(), group.row.id);
    data.db
        .run(move |c| {
            if let Some(f) = favourites::find_by_ap_id(c, &like_id)?
                && statuses::get(c, f.status_id)?.group_id == Some(group_id)
            {
                favourites::remove(c, f.actor_id, f.status_id)?;
            }
            Ok(())
        })
        .await?;
    Ok(())
}

/// A group's removal of a post: a copy of someone else's post goes; our own users' posts are
/// theirs, so they only leave the group.
fn remove_from_group(
    c: &mut guildhall_storage::DbConnection,
    status: &Status,
) -> guildhall_storage::StorageResult<()> {
    if status.local { statuses::set_group(c, status.id, None) } else { statuses::mark_deleted(c, status.id) }
}

/// A relayed `Like`: applied once the liker's server confirms it (a signed fetch of its id).
async fn relayed_like(inner: &Value, group: &DbActor, data: &FedData) -> Result<(), FedError> {
    let Some(like_id) = crate::protocol::id_of(inner) else { return Ok(()) };
    if !group.row.is(ActorKind::Group) {
        return Ok(());
    }
    let confirmed: Value = activitypub_federation::fetch::fetch_object_http(&like_id, data).await?.object;
    let liker = confirmed.get("actor").and_then(crate::protocol::id_of);
    let liked = confirmed.get("object").and_then(crate::protocol::id_of);
    let (Some(liker), Some(liked)) = (liker, liked) else { return Ok(()) };
    if confirmed.get("type").and_then(Value::as_str) != Some("Like")
        || crate::protocol::id_of(&confirmed).as_ref() != Some(&like_id)
        || crate::objects::actor::authority(&liker) != crate::objects::actor::authority(&like_id)
    {
        return Err(FedError::Forbidden("the relayed like was not confirmed by its origin".into()));
    }
    let liker = ObjectId::<DbActor>::from(liker).dereference(data).await?;
    let (liker, like_id) = (liker.row.id, like_id.to_string());
    data.db
        .run(move |c| {
            if let Some(status) =
                statuses::find_by_ap_id(c, liked.as_str())?.filter(|s| s.deleted_at.is_none())
            {
                let (_, new) = favourites::add(c, liker, status.id, Some(&like_id))?;
                if new {
                    notifications::notify(
                        c,
                        status.actor_id,
                        NotificationKind::Favourite,
                        liker,
                        Some(status.id),
                    )?;
                }
            }
            Ok(())
        })
        .await?;
    Ok(())
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
                notifications::notify(
                    c,
                    original.actor_id,
                    NotificationKind::Reblog,
                    boost.actor_id,
                    Some(original.id),
                )?;
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
