//! FEP-1b12 groups: which group a status is posted into, and how a local group relays the
//! activities of its threads to its members' instances.
//!
//! A local group Announces each accepted activity (the post, replies, edits, deletions, likes)
//! wrapped, `Announce{Create{Note}}`, to every member's instance; Mastodon-family servers, which
//! do not understand the wrapped form, also get a plain `Announce{Note}` of top-level posts.
//! Posts from non-members, banned accounts, or members of an announcement channel are not
//! relayed and their authors get a `Reject`.

use guildhall_core::model::{ActorKind, GroupVisibility, Visibility};
use guildhall_storage::actors::{self, Actor};
use guildhall_storage::groups::{self, Group, Refusal};
use guildhall_storage::statuses::{self, Status};
use guildhall_storage::{DbConnection, StorageResult, follows};
use serde_json::{Value, json};

use crate::Urls;
use crate::outgoing::{envelope, new_activity_id, publish};
use crate::protocol::PUBLIC;
use crate::protocol::note::ApNote;

/// Software that shows a plain `Announce` of a note but ignores an announced activity.
pub const MASTODON_FAMILY: [&str; 7] =
    ["mastodon", "hometown", "glitchsoc", "gotosocial", "akkoma", "pleroma", "iceshrimp"];

/// Whether NodeInfo's software name belongs to the Mastodon family.
pub fn is_mastodon_family(software: Option<&str>) -> bool {
    software.is_some_and(|s| {
        let s = s.to_lowercase().replace(['-', '_', ' '], "");
        MASTODON_FAMILY.contains(&s.as_str())
    })
}

/// Whether `note` names the group `group_ap_id`: as its `audience`, in `to` or `cc`, or as a
/// mention.
///
/// A note naming a group is not yet in it: a remote post is placed into a remote group only
/// when that group relays it ([`claim_for_group`]), so nobody can put a post past a group's
/// moderation by addressing it there. Our own groups decide in [`on_new_status`].
pub fn names_group(note: &ApNote, group_ap_id: &str) -> bool {
    let mut mentions = note.tag.iter().filter(|t| t.is_mention()).filter_map(|t| t.href.as_deref());
    note.audience.iter().any(|a| a.as_str() == group_ap_id)
        || note.to.iter().chain(&note.cc).any(|a| a == group_ap_id)
        || mentions.any(|m| m == group_ap_id)
}

/// Puts `status`, just relayed by the remote group `group`, into that group: when it names the
/// group (`named`, from [`names_group`]; a members-only group's posts are addressed to it
/// alone) or, unless it is a direct message, replies in one of the group's threads; and only
/// when it is in no group yet.
pub fn claim_for_group(
    c: &mut DbConnection,
    status: &Status,
    group: &Actor,
    named: bool,
) -> StorageResult<()> {
    if group.is_local() || !group.is(ActorKind::Group) || status.group_id.is_some() {
        return Ok(());
    }
    let in_thread = match status.in_reply_to_id {
        Some(parent) if status.visibility()? != Visibility::Direct => {
            statuses::get(c, parent)?.group_id == Some(group.id)
        }
        _ => false,
    };
    if named || in_thread {
        statuses::set_group(c, status.id, Some(group.id))?;
    }
    Ok(())
}

/// The local group a new status asks to be posted into: the one it names (for local authors,
/// already on the row), else its parent's — unless it is a direct message, which stays
/// between the people it names.
fn local_candidate(c: &mut DbConnection, status: &Status) -> StorageResult<Option<(Actor, Group)>> {
    if let Some(group) = status.group_id {
        // Already in a group (ours, chosen by a local author, or another server's).
        return match groups::get(c, group)? {
            Some(settings) => Ok(Some((actors::get(c, group)?, settings))),
            None => Ok(None),
        };
    }
    let mut candidates = Vec::new();
    candidates.extend(guildhall_storage::status_parts::mentions(c, status.id)?);
    if !status.is(Visibility::Direct)
        && let Some(parent) = status.in_reply_to_id
    {
        candidates.extend(statuses::get(c, parent)?.group_id);
    }
    for id in candidates {
        if let Some(settings) = groups::get(c, id)? {
            return Ok(Some((actors::get(c, id)?, settings)));
        }
    }
    Ok(None)
}

/// The id of a group's plain `Announce` of a status: fixed, so a removal can undo it.
pub fn plain_announce_id(group: &Actor, status_id: i64) -> String {
    format!("{}/announces/{status_id}", group.ap_id)
}

/// The `to` and `cc` of what a group sends about `status`: public groups address the public
/// too, but only for a public or unlisted status; a followers-only post relayed by a public
/// group goes to its members alone, never wider than its author chose.
pub(crate) fn addressing(
    group: &Actor,
    settings: &Group,
    status: &Status,
) -> StorageResult<(Vec<String>, Vec<String>)> {
    let followers = group.followers_url.clone().unwrap_or_default();
    let public_status = matches!(status.visibility()?, Visibility::Public | Visibility::Unlisted);
    Ok(match settings.visibility()? {
        GroupVisibility::Public if public_status => (vec![PUBLIC.to_owned()], vec![followers]),
        _ => (vec![followers], vec![]),
    })
}

/// The inboxes among `targets` (inbox, software) of Mastodon-family servers.
pub(crate) fn mastodon_inboxes(targets: &[(String, Option<String>)]) -> Vec<String> {
    targets
        .iter()
        .filter(|(_, software)| is_mastodon_family(software.as_deref()))
        .map(|(inbox, _)| inbox.clone())
        .collect()
}

/// An activity to embed in another: without its own `@context`.
pub(crate) fn without_context(activity: &Value) -> Value {
    let mut inner = activity.clone();
    if let Some(object) = inner.as_object_mut() {
        object.remove("@context");
    }
    inner
}

/// The local group `status` is in, with its settings, when it is in one.
pub fn local_group_of(c: &mut DbConnection, status: &Status) -> StorageResult<Option<(Actor, Group)>> {
    let Some(group_id) = status.group_id else { return Ok(None) };
    let Some(settings) = groups::get(c, group_id)? else { return Ok(None) };
    Ok(Some((actors::get(c, group_id)?, settings)))
}

/// Sends `activity` (about content of the group) from the group to all its members'
/// instances, wrapped in an `Announce`. With `plain`, the top-level status it creates is also
/// announced plainly to Mastodon-family servers.
pub fn relay(
    c: &mut DbConnection,
    urls: &Urls,
    group: &Actor,
    settings: &Group,
    activity: &Value,
    about: &Status,
    plain: bool,
) -> StorageResult<()> {
    let (to, cc) = addressing(group, settings, about)?;
    let targets = follows::follower_inboxes_with_software(c, group.id)?;
    if targets.is_empty() {
        return Ok(());
    }
    let inboxes: Vec<String> = targets.iter().map(|(inbox, _)| inbox.clone()).collect();
    let doc = envelope(&new_activity_id(urls), "Announce", group, without_context(activity), &to, &cc);
    publish(c, group, &doc, &inboxes)?;
    // The plain form is a boost: only for public top-level posts.
    let boostable =
        |s: &&Status| s.visibility().is_ok_and(|v| matches!(v, Visibility::Public | Visibility::Unlisted));
    if let Some(status) =
        Some(about).filter(|_| plain).filter(|s| s.in_reply_to_ap_id.is_none()).filter(boostable)
    {
        let mastodon = mastodon_inboxes(&targets);
        if !mastodon.is_empty() {
            let doc = envelope(
                &plain_announce_id(group, status.id),
                "Announce",
                group,
                json!(status.ap_id),
                &to,
                &cc,
            );
            publish(c, group, &doc, &mastodon)?;
        }
    }
    Ok(())
}

/// What became of a post addressed to a local group.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PostOutcome {
    /// Not addressed to a local group.
    NotInLocalGroup,
    /// Relayed to the members.
    Relayed,
    /// Refused: the status stays its author's but is not in the group.
    Refused(Refusal),
}

/// A new status addressed to one of our groups (or replying in one's thread), with the
/// `Create` that brought it: put into the group and relayed when its author may post there,
/// else kept out of it and (for a remote author) answered with `Reject`.
pub fn on_new_status(
    c: &mut DbConnection,
    urls: &Urls,
    status: &Status,
    create: &Value,
) -> StorageResult<PostOutcome> {
    let Some((group, settings)) = local_candidate(c, status)? else {
        return Ok(PostOutcome::NotInLocalGroup);
    };
    if status.actor_id == group.id {
        // The group's own post (an hour's prompt, a group event) went to its members as a
        // Create already: it needs no relay.
        statuses::set_group(c, status.id, Some(group.id))?;
        guildhall_storage::mail::on_group_post(c, group.id, status.id)?;
        return Ok(PostOutcome::Relayed);
    }
    let mut verdict = groups::may_post(c, &settings, status.actor_id)?;
    // A members-only group takes posts addressed to it and (from Mastodon) followers-only ones,
    // never public ones: those would be readable by anyone where their author lives.
    if verdict.is_ok()
        && settings.visibility()? == GroupVisibility::Members
        && matches!(status.visibility()?, Visibility::Public | Visibility::Unlisted)
    {
        verdict = Err(Refusal::PublicInMembersOnly);
    }
    match verdict {
        Ok(()) => {
            statuses::set_group(c, status.id, Some(group.id))?;
            let status = Status { group_id: Some(group.id), ..status.clone() };
            relay(c, urls, &group, &settings, create, &status, true)?;
            // Mailed once, even when a Create is received again under a new activity id.
            guildhall_storage::mail::on_group_post(c, group.id, status.id)?;
            Ok(PostOutcome::Relayed)
        }
        Err(refusal) => {
            statuses::set_group(c, status.id, None)?;
            let author = actors::get(c, status.actor_id)?;
            if !author.is_local() {
                let mut doc = envelope(
                    &new_activity_id(urls),
                    "Reject",
                    &group,
                    without_context(create),
                    std::slice::from_ref(&author.ap_id),
                    &[],
                );
                doc["summary"] = json!(refusal.to_string());
                publish(c, &group, &doc, &[author.delivery_inbox().to_owned()])?;
            }
            Ok(PostOutcome::Refused(refusal))
        }
    }
}

/// Relays an edit, deletion or like of a status in a local group's thread.
pub fn on_thread_activity(
    c: &mut DbConnection,
    urls: &Urls,
    status: &Status,
    activity: &Value,
) -> StorageResult<()> {
    if let Some((group, settings)) = local_group_of(c, status)? {
        relay(c, urls, &group, &settings, activity, status, false)?;
    }
    Ok(())
}
