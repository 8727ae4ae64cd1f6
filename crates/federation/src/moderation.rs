//! What a local group's owner and moderators do: answer join requests, invite, ban, remove
//! posts, appoint moderators, edit the group. Every action is checked (the acting account must
//! moderate the group), recorded in the group's moderation log, and federated where other
//! servers must know: a removal reaches every member's server, a ban too.

use guildhall_core::model::{ActorKind, FollowState, GroupVisibility, Membership, PostingPolicy};
use guildhall_core::text;
use guildhall_storage::actors::{self, Actor};
use guildhall_storage::groups::{self, Group};
use guildhall_storage::{DbConnection, StorageError, StorageResult, follows, statuses};
use serde_json::json;

use crate::error::FedError;
use crate::groups::{mastodon_inboxes, plain_announce_id};
use crate::objects::actor::DbActor;
use crate::outgoing::{envelope, new_activity_id, publish};
use crate::protocol::PUBLIC;
use crate::state::FedData;

/// The group's settings when `moderator` moderates it; `Forbidden` otherwise, `NotFound` when it
/// is not a local group.
fn moderated(c: &mut DbConnection, group: &Actor, moderator: &Actor) -> StorageResult<Group> {
    let settings = groups::get(c, group.id)?.ok_or(StorageError::NotFound)?;
    if !groups::is_moderator(c, group.id, moderator.id)? {
        return Err(StorageError::Forbidden("only the group's moderators may do this".into()));
    }
    Ok(settings)
}

/// Runs one moderation step in a transaction, then wakes the delivery worker.
async fn act<T: Send + 'static>(
    data: &FedData,
    f: impl FnOnce(&mut DbConnection) -> StorageResult<T> + Send + 'static,
) -> Result<T, FedError> {
    let result = data.db.run(move |c| guildhall_storage::transaction(c, f)).await?;
    data.delivery_wakeup.notify_one();
    Ok(result)
}

/// Whether `moderator` moderates the local `group` (for reads such as the member list).
pub async fn check_moderator(data: &FedData, group: &Actor, moderator: &Actor) -> Result<Group, FedError> {
    let (group, moderator) = (group.clone(), moderator.clone());
    Ok(data.db.run(move |c| moderated(c, &group, &moderator)).await?)
}

/// Approves (`accept`) or rejects a pending join request; the applicant's server gets the
/// `Accept` or `Reject`.
pub async fn answer_request(
    data: &FedData,
    moderator: &Actor,
    group: &Actor,
    applicant: &Actor,
    accept: bool,
) -> Result<(), FedError> {
    let (moderator, group, applicant, urls) =
        (moderator.clone(), group.clone(), applicant.clone(), data.urls.clone());
    act(data, move |c| {
        moderated(c, &group, &moderator)?;
        let request = follows::find(c, applicant.id, group.id)?.ok_or(StorageError::NotFound)?;
        let follow_doc =
            json!({ "id": request.ap_id, "type": "Follow", "actor": applicant.ap_id, "object": group.ap_id });
        if accept {
            follows::accept(c, applicant.id, group.id)?;
        } else {
            follows::remove(c, applicant.id, group.id)?;
        }
        let kind = if accept { "Accept" } else { "Reject" };
        crate::activities::respond(c, &urls, &group, &applicant, kind, follow_doc)?;
        let action = if accept { "approve" } else { "reject" };
        groups::log(c, group.id, moderator.id, action, Some(applicant.id), None, "")?;
        Ok(())
    })
    .await
}

/// Removes a member without banning them (they may ask to join again): the follow ends, and
/// their server gets a `Reject` of it, so it stops treating them as a member.
pub async fn remove_member(
    data: &FedData,
    moderator: &Actor,
    group: &Actor,
    member: &Actor,
    reason: &str,
) -> Result<(), FedError> {
    let (moderator, group, member, urls, reason) =
        (moderator.clone(), group.clone(), member.clone(), data.urls.clone(), reason.to_owned());
    act(data, move |c| {
        moderated(c, &group, &moderator)?;
        if groups::is_moderator(c, group.id, member.id)? {
            return Err(StorageError::Conflict("a moderator is dismissed before being removed".into()));
        }
        let follow = follows::find(c, member.id, group.id)?
            .filter(|f| f.is(guildhall_core::model::FollowState::Accepted))
            .ok_or(StorageError::NotFound)?;
        let follow_doc =
            json!({ "id": follow.ap_id, "type": "Follow", "actor": member.ap_id, "object": group.ap_id });
        follows::remove(c, member.id, group.id)?;
        // An invitation would let them straight back in.
        groups::revoke_invitation(c, group.id, member.id)?;
        crate::activities::respond(c, &urls, &group, &member, "Reject", follow_doc)?;
        groups::log(c, group.id, moderator.id, "remove_member", Some(member.id), None, &reason)?;
        Ok(())
    })
    .await
}

/// Invites an account; a pending request of theirs is approved at once.
pub async fn invite(
    data: &FedData,
    moderator: &Actor,
    group: &Actor,
    invitee: &Actor,
) -> Result<(), FedError> {
    let (moderator, group, invitee, urls) =
        (moderator.clone(), group.clone(), invitee.clone(), data.urls.clone());
    act(data, move |c| {
        moderated(c, &group, &moderator)?;
        if groups::is_banned(c, group.id, invitee.id)? {
            return Err(StorageError::Conflict("the account is banned from this group".into()));
        }
        groups::invite(c, group.id, invitee.id, moderator.id)?;
        if let Some(request) = follows::find(c, invitee.id, group.id)?.filter(|f| f.is(FollowState::Pending)) {
            follows::accept(c, invitee.id, group.id)?;
            let follow_doc = json!({ "id": request.ap_id, "type": "Follow", "actor": invitee.ap_id, "object": group.ap_id });
            crate::activities::respond(c, &urls, &group, &invitee, "Accept", follow_doc)?;
        }
        groups::log(c, group.id, moderator.id, "invite", Some(invitee.id), None, "")?;
        Ok(())
    })
    .await
}

/// Withdraws an invitation (membership already granted stays).
pub async fn revoke_invitation(
    data: &FedData,
    moderator: &Actor,
    group: &Actor,
    invitee: &Actor,
) -> Result<(), FedError> {
    let (moderator, group, invitee) = (moderator.clone(), group.clone(), invitee.clone());
    act(data, move |c| {
        moderated(c, &group, &moderator)?;
        if !groups::revoke_invitation(c, group.id, invitee.id)? {
            return Err(StorageError::NotFound);
        }
        groups::log(c, group.id, moderator.id, "revoke_invitation", Some(invitee.id), None, "")?;
        Ok(())
    })
    .await
}

/// The inboxes every member's server reads, plus `extra` (when remote).
fn members_and(c: &mut DbConnection, group: &Actor, extra: Option<&Actor>) -> StorageResult<Vec<String>> {
    let mut inboxes = follows::follower_inboxes(c, group.id)?;
    if let Some(actor) = extra.filter(|a| !a.is_local()) {
        inboxes.push(actor.delivery_inbox().to_owned());
    }
    inboxes.sort();
    inboxes.dedup();
    Ok(inboxes)
}

/// Bans an account: its membership ends, it cannot join again, and its posts are no longer
/// relayed. The group's `Block` goes to every member's server and the banned account's.
pub async fn ban(
    data: &FedData,
    moderator: &Actor,
    group: &Actor,
    target: &Actor,
    reason: &str,
) -> Result<(), FedError> {
    let (moderator, group, target, reason, urls) =
        (moderator.clone(), group.clone(), target.clone(), reason.to_owned(), data.urls.clone());
    act(data, move |c| {
        moderated(c, &group, &moderator)?;
        if target.id == group.id || groups::get(c, group.id)?.is_some_and(|g| g.owner_id == target.id) {
            return Err(StorageError::Conflict("the group's owner cannot be banned".into()));
        }
        let inboxes = members_and(c, &group, Some(&target))?;
        groups::ban(c, group.id, target.id, &reason)?;
        let id = new_activity_id(&urls);
        let mut doc =
            envelope(&id, "Block", &group, json!(target.ap_id), std::slice::from_ref(&target.ap_id), &[]);
        doc["target"] = json!(group.ap_id);
        if !reason.is_empty() {
            doc["summary"] = json!(reason);
        }
        publish(c, &group, &doc, &inboxes)?;
        groups::log(c, group.id, moderator.id, "ban", Some(target.id), None, &reason)?;
        Ok(())
    })
    .await
}

/// Lifts a ban (the account may ask to join again); `Undo{Block}` goes where the ban went.
pub async fn unban(data: &FedData, moderator: &Actor, group: &Actor, target: &Actor) -> Result<(), FedError> {
    let (moderator, group, target, urls) =
        (moderator.clone(), group.clone(), target.clone(), data.urls.clone());
    act(data, move |c| {
        moderated(c, &group, &moderator)?;
        if !groups::unban(c, group.id, target.id)? {
            return Err(StorageError::NotFound);
        }
        let inboxes = members_and(c, &group, Some(&target))?;
        // The original Block, id and all, so every receiver finds what is undone.
        let block = guildhall_storage::outbox::latest_about(c, group.id, "Block", &target.ap_id)?.unwrap_or_else(
            || json!({ "type": "Block", "actor": group.ap_id, "object": target.ap_id, "target": group.ap_id }),
        );
        let block = crate::groups::without_context(&block);
        let doc = envelope(
            &new_activity_id(&urls),
            "Undo",
            &group,
            block,
            std::slice::from_ref(&target.ap_id),
            &[],
        );
        publish(c, &group, &doc, &inboxes)?;
        groups::log(c, group.id, moderator.id, "unban", Some(target.id), None, "")?;
        Ok(())
    })
    .await
}

/// Removes a post from the group: it is gone here, and the group's `Delete` reaches every
/// member's server and the author's; Mastodon-family servers also get the group's plain
/// boost undone.
pub async fn remove_status(
    data: &FedData,
    moderator: &Actor,
    group: &Actor,
    status_id: i64,
    reason: &str,
) -> Result<(), FedError> {
    let (moderator, group, reason, urls) =
        (moderator.clone(), group.clone(), reason.to_owned(), data.urls.clone());
    act(data, move |c| {
        let settings = moderated(c, &group, &moderator)?;
        let status = statuses::get(c, status_id)?;
        if status.group_id != Some(group.id) || status.deleted_at.is_some() {
            return Err(StorageError::NotFound);
        }
        let author = actors::get(c, status.actor_id)?;
        let targets = follows::follower_inboxes_with_software(c, group.id)?;
        let inboxes = members_and(c, &group, Some(&author))?;
        statuses::mark_deleted(c, status.id)?;
        let (to, cc) = crate::groups::addressing(&group, &settings, &status)?;
        let mut doc = envelope(&new_activity_id(&urls), "Delete", &group, json!(status.ap_id), &to, &cc);
        if !reason.is_empty() {
            doc["summary"] = json!(reason);
        }
        publish(c, &group, &doc, &inboxes)?;
        let mastodon = mastodon_inboxes(&targets);
        if !mastodon.is_empty() && status.in_reply_to_ap_id.is_none() {
            let announce = json!({ "id": plain_announce_id(&group, status.id), "type": "Announce",
                                   "actor": group.ap_id, "object": status.ap_id });
            let undo = envelope(&new_activity_id(&urls), "Undo", &group, announce, &to, &cc);
            publish(c, &group, &undo, &mastodon)?;
        }
        groups::log(c, group.id, moderator.id, "remove_status", Some(author.id), Some(status.id), &reason)?;
        Ok(())
    })
    .await
}

/// Appoints a moderator (any local or remote account that is a member, or local person).
pub async fn appoint(
    data: &FedData,
    moderator: &Actor,
    group: &Actor,
    target: &Actor,
) -> Result<(), FedError> {
    let (moderator, group, target) = (moderator.clone(), group.clone(), target.clone());
    act(data, move |c| {
        moderated(c, &group, &moderator)?;
        if !target.is(ActorKind::Person) {
            return Err(StorageError::Conflict("only people moderate groups".into()));
        }
        if groups::is_banned(c, group.id, target.id)? {
            return Err(StorageError::Conflict("the account is banned from this group".into()));
        }
        if groups::add_moderator(c, group.id, target.id)? {
            groups::log(c, group.id, moderator.id, "appoint", Some(target.id), None, "")?;
        }
        Ok(())
    })
    .await
}

/// Dismisses a moderator (never the owner).
pub async fn dismiss(
    data: &FedData,
    moderator: &Actor,
    group: &Actor,
    target: &Actor,
) -> Result<(), FedError> {
    let (moderator, group, target) = (moderator.clone(), group.clone(), target.clone());
    act(data, move |c| {
        moderated(c, &group, &moderator)?;
        if !groups::remove_moderator(c, group.id, target.id)? {
            return Err(StorageError::NotFound);
        }
        groups::log(c, group.id, moderator.id, "dismiss", Some(target.id), None, "")?;
        Ok(())
    })
    .await
}

/// Changes to a group; `None` leaves a field as it is.
#[derive(Debug, Clone, Default)]
pub struct GroupUpdate {
    /// Display name.
    pub display_name: Option<String>,
    /// Description, as typed (rendered to HTML).
    pub description: Option<String>,
    /// Rules, one per entry.
    pub rules: Option<Vec<String>>,
    /// How accounts join.
    pub membership: Option<Membership>,
    /// Who may post.
    pub posting: Option<PostingPolicy>,
    /// Who can read.
    pub visibility: Option<GroupVisibility>,
    /// Avatar URL.
    pub avatar_url: Option<String>,
    /// Header URL.
    pub header_url: Option<String>,
}

/// Edits a group; members' servers get `Update{Group}`.
pub async fn update_group(
    data: &FedData,
    moderator: &Actor,
    group: &Actor,
    update: GroupUpdate,
) -> Result<(Actor, Group), FedError> {
    let mut row = group.clone();
    if let Some(name) = update.display_name {
        row.display_name = text::strip_html(&name);
    }
    if let Some(description) = update.description {
        let base = data.urls.base().to_owned();
        row.summary =
            text::render_plain(&description, |_| None, |t| format!("{base}/tags/{}", t.to_lowercase())).html;
    }
    row.avatar_url = update.avatar_url.or(row.avatar_url);
    row.header_url = update.header_url.or(row.header_url);
    let (moderator, urls) = (moderator.clone(), data.urls.clone());
    let rules = update.rules.map(|r| r.iter().map(|rule| text::strip_html(rule)).collect::<Vec<_>>());
    act(data, move |c| {
        let mut settings = moderated(c, &row, &moderator)?;
        if let Some(m) = update.membership {
            settings.membership = m.as_str().to_owned();
        }
        if let Some(p) = update.posting {
            settings.posting = p.as_str().to_owned();
        }
        if let Some(v) = update.visibility {
            settings.visibility = v.as_str().to_owned();
        }
        if let Some(rules) = rules {
            settings.rules_json =
                serde_json::to_string(&rules).map_err(|e| StorageError::Corrupt(e.to_string()))?;
        }
        row.manually_approves_followers = settings.membership != Membership::Open.as_str();
        row.members_only = settings.visibility == GroupVisibility::Members.as_str();
        row.updated_at = guildhall_storage::now();
        actors::update_local(c, &row)?;
        groups::update(c, &settings)?;
        let settings = groups::get(c, row.id)?.ok_or(StorageError::NotFound)?;
        let object = DbActor::new(row.clone())
            .and_then(|a| a.to_json())
            .and_then(|j| Ok(serde_json::to_value(j)?))
            .map_err(|e| StorageError::Corrupt(e.to_string()))?;
        let inboxes = members_and(c, &row, None)?;
        let doc = envelope(&new_activity_id(&urls), "Update", &row, object, &[PUBLIC.into()], &[]);
        publish(c, &row, &doc, &inboxes)?;
        groups::log(c, row.id, moderator.id, "update", None, None, "")?;
        Ok((row, settings))
    })
    .await
}
