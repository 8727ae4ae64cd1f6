//! Profile updates, account deletions, moves and reports.

use activitypub_federation::fetch::object_id::ObjectId;
use guildhall_core::model::Visibility;
use guildhall_storage::{actors, follows, reports, statuses};
use serde_json::Value;

use crate::error::FedError;
use crate::objects::actor::{DbActor, authority, remote_row};
use crate::protocol::activity::Activity;
use crate::protocol::actor::ApActor;
use crate::state::FedData;

/// `Update` of the sender's own actor document.
pub async fn update_actor(activity: Activity, actor: DbActor, data: &FedData) -> Result<(), FedError> {
    let object = activity.object.clone().unwrap_or(Value::Null);
    let json: ApActor = serde_json::from_value(object)?;
    if json.id.as_str() != actor.row.ap_id {
        // Lemmy moderators send updates of their community: trust its origin, not the sender.
        ObjectId::<DbActor>::from(json.id).dereference_forced(data).await?;
        return Ok(());
    }
    // The checks a fetched actor document gets: inbox and shared inbox on the actor's own
    // server, the key the actor's own.
    let own_id = json.id.clone();
    <DbActor as activitypub_federation::traits::Object>::verify(&json, &own_id, data).await?;
    let domain = authority(&json.id);
    let instance_id = actor.row.instance_id.unwrap_or_default();
    let row = remote_row(&json, instance_id, &domain);
    data.db.run(move |c| actors::upsert_remote(c, &row)).await?;
    Ok(())
}

/// `Delete` of the sender itself: the account is gone, its follows end and its statuses go.
pub async fn delete_actor(actor: DbActor, data: &FedData) -> Result<(), FedError> {
    let id = actor.row.id;
    data.db
        .run(move |c| {
            guildhall_storage::transaction(c, |c| {
                actors::mark_deleted(c, id)?;
                follows::remove_all_of(c, id)?;
                for status in statuses::by_actor(c, id, None, i64::MAX)? {
                    statuses::mark_deleted(c, status.id)?;
                }
                Ok(())
            })
        })
        .await?;
    Ok(())
}

/// `Move`: recorded on the old account (following it over is left to the user).
pub async fn moved(activity: Activity, actor: DbActor, data: &FedData) -> Result<(), FedError> {
    if activity.object_id().map(String::from).as_deref() != Some(actor.row.ap_id.as_str()) {
        return Err(FedError::Forbidden("an actor may only move itself".into()));
    }
    let Some(target) = activity.target.as_ref().and_then(crate::protocol::id_of) else { return Ok(()) };
    let mut row = actor.row;
    row.moved_to_ap_id = Some(target.to_string());
    data.db.run(move |c| actors::upsert_remote(c, &row)).await?;
    Ok(())
}

/// Objects of a `Flag` looked at, and posts a report keeps, at most.
const FLAG_OBJECTS: usize = 50;
const REPORT_POSTS: usize = 20;
/// Longest report comment kept.
const REPORT_COMMENT_CHARS: usize = 1000;

/// `Flag`: stored as a report for the admins when it names a local actor. Only the reported
/// account's own posts are kept, and never a direct one (a report must not make a private
/// post readable to whoever reviews it), at most [`REPORT_POSTS`] of them.
pub async fn flag(activity: Activity, actor: DbActor, data: &FedData) -> Result<(), FedError> {
    let objects: Vec<String> = match activity.object.clone() {
        Some(Value::Array(items)) => {
            items.iter().take(FLAG_OBJECTS).filter_map(crate::protocol::id_of).map(String::from).collect()
        }
        Some(one) => crate::protocol::id_of(&one).map(String::from).into_iter().collect(),
        None => Vec::new(),
    };
    let reporter = actor.row.id;
    let flag_id = activity.id.to_string();
    let comment: String =
        activity.content.clone().unwrap_or_default().chars().take(REPORT_COMMENT_CHARS).collect();
    data.db
        .run(move |c| {
            let mut target = None;
            let mut posts = Vec::new();
            for id in &objects {
                if let Some(a) = actors::find_by_ap_id(c, id)? {
                    target.get_or_insert(a.id);
                } else if let Some(s) = statuses::find_by_ap_id(c, id)? {
                    posts.push(s);
                }
            }
            let target = target.or_else(|| posts.first().map(|s| s.actor_id));
            let Some(target) = target else { return Ok(()) };
            let status_ids: Vec<i64> = posts
                .iter()
                .filter(|s| s.actor_id == target && s.local && !s.is(Visibility::Direct))
                .take(REPORT_POSTS)
                .map(|s| s.id)
                .collect();
            if actors::get(c, target)?.is_local() {
                reports::add(c, Some(&flag_id), reporter, target, &status_ids, &comment)?;
            }
            Ok(())
        })
        .await?;
    Ok(())
}
