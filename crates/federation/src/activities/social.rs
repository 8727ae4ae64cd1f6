//! Follows and blocks.

use guildhall_core::model::{ActorKind, FollowState, Membership};
use guildhall_storage::notifications::NotificationKind;
use guildhall_storage::{DbConnection, StorageResult, actors, blocks, follows, groups, notifications};
use serde_json::{Value, json};

use crate::error::FedError;
use crate::objects::actor::DbActor;
use crate::outgoing::{envelope, new_activity_id, publish};
use crate::protocol::activity::Activity;
use crate::state::FedData;

/// The local actor an activity's object names, if it is one of ours.
async fn local_object(
    activity: &Activity,
    data: &FedData,
) -> Result<Option<guildhall_storage::actors::Actor>, FedError> {
    let Some(id) = activity.object_id().map(String::from) else { return Ok(None) };
    let found = data.db.run(move |c| actors::find_by_ap_id(c, &id)).await?;
    Ok(found.filter(|a| a.is_local() && a.deleted_at.is_none()))
}

/// `Follow` of a local actor: accepted at once, kept pending for locked accounts and
/// approval groups, rejected when blocked or for invite-only groups.
pub async fn follow(activity: Activity, actor: DbActor, data: &FedData) -> Result<(), FedError> {
    let Some(target) = local_object(&activity, data).await? else { return Ok(()) };
    let follower = actor.row;
    let follow_doc = json!({
        "id": activity.id, "type": "Follow", "actor": follower.ap_id, "object": target.ap_id,
    });
    let follow_id = activity.id.to_string();
    let urls = data.urls.clone();
    if target.is(ActorKind::Group) {
        // A group sends Mastodon-family servers a plain form of its posts: learn the software.
        crate::nodeinfo::learn_software(data, &follower).await;
    }
    data.db
        .run(move |c| {
            guildhall_storage::transaction(c, |c| {
                let decision = decide(c, &target, &follower)?;
                match decision {
                    Decision::Reject => {
                        follows::remove(c, follower.id, target.id)?;
                        respond(c, &urls, &target, &follower, "Reject", follow_doc)
                    }
                    Decision::Pending => {
                        follows::upsert(c, follower.id, target.id, FollowState::Pending, Some(&follow_id))?;
                        notifications::notify(
                            c,
                            target.id,
                            NotificationKind::FollowRequest,
                            follower.id,
                            None,
                        )
                    }
                    Decision::Accept => {
                        let known = follows::find(c, follower.id, target.id)?
                            .is_some_and(|f| f.is(FollowState::Accepted));
                        follows::upsert(c, follower.id, target.id, FollowState::Accepted, Some(&follow_id))?;
                        if !known {
                            notifications::notify(c, target.id, NotificationKind::Follow, follower.id, None)?;
                        }
                        respond(c, &urls, &target, &follower, "Accept", follow_doc)
                    }
                }
            })
        })
        .await?;
    data.delivery_wakeup.notify_one();
    Ok(())
}

/// How a follow request is answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    /// At once.
    Accept,
    /// After the followed approves.
    Pending,
    /// Not at all.
    Reject,
}

/// Decides a follow of local `target` by `follower`: blocks reject; groups follow their
/// membership rule (bans reject, invitations admit); locked people approve by hand.
pub fn decide(
    c: &mut DbConnection,
    target: &actors::Actor,
    follower: &actors::Actor,
) -> StorageResult<Decision> {
    if blocks::between(c, target.id, follower.id)? {
        return Ok(Decision::Reject);
    }
    // Someone who blocked the follower's whole domain takes no follows from there.
    if let Some(domain) = &follower.domain
        && guildhall_storage::domain_blocks::is_blocked(c, target.id, domain)?
    {
        return Ok(Decision::Reject);
    }
    if follows::find(c, follower.id, target.id)?.is_some_and(|f| f.state == FollowState::Accepted.as_str()) {
        return Ok(Decision::Accept);
    }
    if target.kind()? == ActorKind::Group
        && let Some(group) = groups::get(c, target.id)?
    {
        if groups::is_banned(c, target.id, follower.id)? {
            return Ok(Decision::Reject);
        }
        let invited = groups::is_invited(c, target.id, follower.id)?;
        return Ok(match group.membership()? {
            Membership::Open => Decision::Accept,
            _ if invited => Decision::Accept,
            Membership::Approval => Decision::Pending,
            Membership::Invite => Decision::Reject,
        });
    }
    Ok(if target.manually_approves_followers { Decision::Pending } else { Decision::Accept })
}

/// Queues an `Accept` or `Reject` of a follow to the follower.
pub fn respond(
    c: &mut DbConnection,
    urls: &crate::Urls,
    target: &actors::Actor,
    follower: &actors::Actor,
    kind: &str,
    follow_doc: Value,
) -> StorageResult<()> {
    if follower.is_local() {
        return Ok(());
    }
    let doc = envelope(
        &new_activity_id(urls),
        kind,
        target,
        follow_doc,
        std::slice::from_ref(&follower.ap_id),
        &[],
    );
    publish(c, target, &doc, &[follower.delivery_inbox().to_owned()])?;
    Ok(())
}

/// The follow an `Accept`/`Reject` answers: by our `Follow` id, else by the pair.
async fn answered_follow(
    activity: &Activity,
    actor: &DbActor,
    data: &FedData,
) -> Result<Option<(i64, i64)>, FedError> {
    let inner = activity.object.clone().unwrap_or(Value::Null);
    let follow_id = crate::protocol::id_of(&inner).map(String::from);
    let follower_id = inner.get("actor").and_then(crate::protocol::id_of).map(String::from);
    let target = actor.row.id;
    Ok(data
        .db
        .run(move |c| {
            if let Some(f) =
                follow_id.as_deref().map(|id| follows::find_by_ap_id(c, id)).transpose()?.flatten()
                && f.target_id == target
            {
                return Ok(Some((f.follower_id, f.target_id)));
            }
            let Some(follower) = follower_id.map(|id| actors::find_by_ap_id(c, &id)).transpose()?.flatten()
            else {
                return Ok(None);
            };
            Ok(follows::find(c, follower.id, target)?.map(|f| (f.follower_id, f.target_id)))
        })
        .await?)
}

/// `Accept` of one of our follow requests.
pub async fn accept(activity: Activity, actor: DbActor, data: &FedData) -> Result<(), FedError> {
    if let Some((follower, target)) = answered_follow(&activity, &actor, data).await? {
        data.db.run(move |c| follows::accept(c, follower, target)).await?;
    }
    Ok(())
}

/// `Reject` of one of our follow requests (or removal of a follower by the followed).
pub async fn reject(activity: Activity, actor: DbActor, data: &FedData) -> Result<(), FedError> {
    if let Some((follower, target)) = answered_follow(&activity, &actor, data).await? {
        data.db.run(move |c| follows::remove(c, follower, target)).await?;
    }
    Ok(())
}

/// `Undo{Follow}`: the follower leaves.
pub async fn undo_follow(activity: Activity, actor: DbActor, data: &FedData) -> Result<(), FedError> {
    let inner = activity.object.clone().unwrap_or(Value::Null);
    let target_id = inner.get("object").and_then(crate::protocol::id_of).map(String::from);
    let follow_id = crate::protocol::id_of(&inner).map(String::from);
    let follower = actor.row.id;
    data.db
        .run(move |c| {
            let by_id = follow_id.map(|id| follows::find_by_ap_id(c, &id)).transpose()?.flatten();
            let target = match (by_id, target_id) {
                (Some(f), _) if f.follower_id == follower => Some(f.target_id),
                (_, Some(t)) => actors::find_by_ap_id(c, &t)?.map(|a| a.id),
                _ => None,
            };
            if let Some(target) = target {
                follows::remove(c, follower, target)?;
            }
            Ok(())
        })
        .await?;
    Ok(())
}

/// `Block` of a local actor: recorded, and follows both ways end. A group's `Block` is a ban:
/// recorded for any account we know, whose membership of that group ends.
pub async fn block(activity: Activity, actor: DbActor, data: &FedData) -> Result<(), FedError> {
    let target = if actor.row.is(ActorKind::Group) {
        let Some(id) = activity.object_id().map(String::from) else { return Ok(()) };
        data.db.run(move |c| actors::find_by_ap_id(c, &id)).await?
    } else {
        local_object(&activity, data).await?
    };
    let Some(target) = target else { return Ok(()) };
    let blocker = actor.row.id;
    let id = activity.id.to_string();
    data.db
        .run(move |c| {
            guildhall_storage::transaction(c, |c| {
                blocks::add(c, blocker, target.id, Some(&id))?;
                follows::remove_between(c, blocker, target.id)
            })
        })
        .await?;
    Ok(())
}

/// `Undo{Block}`.
pub async fn undo_block(activity: Activity, actor: DbActor, data: &FedData) -> Result<(), FedError> {
    let inner = activity.object.clone().unwrap_or(Value::Null);
    let Some(target) = inner.get("object").and_then(crate::protocol::id_of).map(String::from) else {
        return Ok(());
    };
    let blocker = actor.row.id;
    data.db
        .run(move |c| {
            if let Some(t) = actors::find_by_ap_id(c, &target)? {
                blocks::remove(c, blocker, t.id)?;
            }
            Ok(())
        })
        .await?;
    Ok(())
}
