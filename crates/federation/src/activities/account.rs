//! Profile updates, account deletions, moves and reports.

use activitypub_federation::fetch::object_id::ObjectId;
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

/// `Flag`: stored as a report for the admins when it names a local actor.
pub async fn flag(activity: Activity, actor: DbActor, data: &FedData) -> Result<(), FedError> {
    let objects: Vec<String> = match activity.object.clone() {
        Some(Value::Array(items)) => {
            items.iter().filter_map(crate::protocol::id_of).map(String::from).collect()
        }
        Some(one) => crate::protocol::id_of(&one).map(String::from).into_iter().collect(),
        None => Vec::new(),
    };
    let reporter = actor.row.id;
    let flag_id = activity.id.to_string();
    let comment = activity.content.clone().unwrap_or_default();
    data.db
        .run(move |c| {
            let mut target = None;
            let mut status_ids = Vec::new();
            for id in &objects {
                if let Some(a) = actors::find_by_ap_id(c, id)? {
                    target.get_or_insert(a.id);
                } else if let Some(s) = statuses::find_by_ap_id(c, id)? {
                    target.get_or_insert(s.actor_id);
                    status_ids.push(s.id);
                }
            }
            if let Some(target) = target {
                reports::add(c, Some(&flag_id), reporter, target, &status_ids, &comment)?;
            }
            Ok(())
        })
        .await?;
    Ok(())
}
