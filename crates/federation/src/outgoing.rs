//! Building the activities we publish, and queueing them for delivery.

use guildhall_core::Id;
use guildhall_core::model::Visibility;
use guildhall_storage::actors::{self, Actor};
use guildhall_storage::outbox::{self, NewActivity, OutboxActivity};
use guildhall_storage::{DbConnection, StorageResult, follows, statuses};
use serde_json::{Value, json};

use crate::Urls;
use crate::objects::status::NoteParts;
use crate::protocol::with_context;

/// A fresh id for an activity we publish.
pub fn new_activity_id(urls: &Urls) -> String {
    format!("{}/activities/{}", urls.base(), Id::generate())
}

/// An activity envelope: `{@context, id, type, actor, object, to?, cc?}`.
pub fn envelope(id: &str, kind: &str, actor: &Actor, object: Value, to: &[String], cc: &[String]) -> Value {
    let mut doc = json!({ "id": id, "type": kind, "actor": actor.ap_id, "object": object });
    if !to.is_empty() {
        doc["to"] = json!(to);
    }
    if !cc.is_empty() {
        doc["cc"] = json!(cc);
    }
    with_context(doc)
}

/// Stores an activity and queues its deliveries, in the caller's transaction. The caller wakes
/// the delivery worker after committing.
pub fn publish(
    c: &mut DbConnection,
    actor: &Actor,
    doc: &Value,
    inboxes: &[String],
) -> StorageResult<OutboxActivity> {
    let new = NewActivity {
        ap_id: doc["id"].as_str().unwrap_or_default().to_owned(),
        actor_id: actor.id,
        kind: doc["type"].as_str().unwrap_or_default().to_owned(),
        json: doc.to_string(),
    };
    outbox::publish(c, new, inboxes)
}

/// Where a status of a local author goes: followers' instances (unless direct), mentioned
/// remote actors, the remote group it is posted in, and the parent's remote author when the
/// reply is visible to them. Each
/// inbox once (shared inboxes where advertised); nobody outside the audience.
pub fn status_inboxes(c: &mut DbConnection, parts: &NoteParts) -> StorageResult<Vec<String>> {
    let visibility = parts.status.visibility()?;
    let mut inboxes = Vec::new();
    if visibility != Visibility::Direct {
        inboxes.extend(follows::follower_inboxes(c, parts.author.id)?);
    }
    for m in parts.mentions.iter().filter(|m| !m.is_local() && m.deleted_at.is_none()) {
        inboxes.push(m.delivery_inbox().to_owned());
    }
    // A post in a remote group's thread goes to the group, which relays it to the members.
    if let Some(group) = parts.status.group_id {
        let group = actors::get(c, group)?;
        if !group.is_local() && group.deleted_at.is_none() {
            inboxes.push(group.delivery_inbox().to_owned());
        }
    }
    if let Some(parent) = parts.status.in_reply_to_id {
        let parent_author_id = statuses::get(c, parent)?.actor_id;
        let parent_author = actors::get(c, parent_author_id)?;
        let may_see = matches!(visibility, Visibility::Public | Visibility::Unlisted)
            || parts.mentions.iter().any(|m| m.id == parent_author.id);
        if !parent_author.is_local() && may_see {
            inboxes.push(parent_author.delivery_inbox().to_owned());
        }
    }
    if parts.event.is_some() && parts.status.local {
        inboxes.extend(guildhall_storage::events::remote_inboxes(c, parts.status.id)?);
    }
    inboxes.sort();
    inboxes.dedup();
    Ok(inboxes)
}

/// The delivery inboxes of an actor's remote followers and of everyone it follows remotely
/// (where a profile update or account deletion must go).
pub fn network_inboxes(c: &mut DbConnection, actor: &Actor) -> StorageResult<Vec<String>> {
    let mut inboxes = follows::follower_inboxes(c, actor.id)?;
    for target in follows::following(c, actor.id)? {
        let target = actors::get(c, target)?;
        if !target.is_local() {
            inboxes.push(target.delivery_inbox().to_owned());
        }
    }
    inboxes.sort();
    inboxes.dedup();
    Ok(inboxes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn envelopes_carry_context_and_addressing() {
        let mut actor = guildhall_storage::actors::Actor::new_local(
            guildhall_core::model::ActorKind::Person,
            "ada",
            Urls::new(&guildhall_core::Config::defaults())
                .actor(guildhall_core::model::ActorKind::Person, "ada"),
            "PUB".into(),
        );
        actor.id = 1;
        let doc = envelope(
            "http://localhost:8080/activities/1",
            "Like",
            &actor,
            json!("https://r.example/n/1"),
            &[],
            &[],
        );
        assert_eq!(doc["actor"], "http://localhost:8080/users/ada");
        assert!(doc.get("to").is_none());
        assert!(doc["@context"].is_array());
    }
}
