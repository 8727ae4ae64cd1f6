//! The entities of Guildhall's own API: `Group`, `GroupRelationship`, `Membership`, `Ban` and
//! `LogEntry` (shapes documented in `openapi.json`).

use guildhall_core::model::{FollowState, GroupVisibility};
use guildhall_storage::actors::{self, Actor};
use guildhall_storage::groups::{self, Group, LogEntry};
use guildhall_storage::{DbConnection, StorageResult, Timestamp, follows};
use serde::Serialize;
use serde_json::{Value, json};

use crate::mastodon::entities::{Ctx, account, time};

/// How one account stands with a group.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct Relation {
    /// An accepted member.
    pub member: bool,
    /// Asked to join, not answered yet.
    pub pending: bool,
    /// Moderates the group (the owner included).
    pub moderator: bool,
    /// Banned.
    pub banned: bool,
    /// Holds an invitation.
    pub invited: bool,
}

/// How `actor_id` stands with the group.
pub fn relation(c: &mut DbConnection, group_id: i64, actor_id: i64) -> StorageResult<Relation> {
    let follow = follows::find(c, actor_id, group_id)?;
    let state = |s: FollowState| follow.as_ref().is_some_and(|f| f.state == s.as_str());
    Ok(Relation {
        member: state(FollowState::Accepted),
        pending: state(FollowState::Pending),
        moderator: groups::is_moderator(c, group_id, actor_id)?,
        banned: groups::is_banned(c, group_id, actor_id)?,
        invited: groups::is_invited(c, group_id, actor_id)?,
    })
}

/// A `Membership`: the relation plus whose it is, as moderation actions answer.
pub fn membership(c: &mut DbConnection, group_id: i64, actor_id: i64) -> StorageResult<Value> {
    let rel = relation(c, group_id, actor_id)?;
    Ok(json!({
        "group_id": group_id.to_string(),
        "account_id": actor_id.to_string(),
        "member": rel.member,
        "pending": rel.pending,
        "moderator": rel.moderator,
        "banned": rel.banned,
        "invited": rel.invited,
    }))
}

/// The group's rules (a JSON array of strings in storage; unreadable rules read as none).
pub fn rules(settings: &Group) -> Vec<String> {
    serde_json::from_str(&settings.rules_json).unwrap_or_default()
}

/// A `Group` as `viewer` (signed in, or anonymous) sees it.
pub fn group(
    c: &mut DbConnection,
    ctx: &Ctx,
    actor: &Actor,
    settings: &Group,
    viewer: Option<i64>,
) -> StorageResult<Value> {
    let rel = viewer.map(|v| relation(c, actor.id, v)).transpose()?;
    let public = settings.visibility()? == GroupVisibility::Public;
    let insider = rel.is_some_and(|r| r.member || r.moderator);
    let members_count = match public || insider {
        true => Some(follows::count_followers(c, actor.id)?),
        false => None,
    };
    let avatar =
        actor.avatar_url.clone().unwrap_or_else(|| format!("{}/avatars/original/missing.png", ctx.base));
    let header =
        actor.header_url.clone().unwrap_or_else(|| format!("{}/headers/original/missing.png", ctx.base));
    Ok(json!({
        "id": actor.id.to_string(),
        "username": actor.username,
        "acct": actor.username,
        "display_name": actor.display_name,
        "description": actor.summary,
        "url": actor.url.clone().unwrap_or_else(|| actor.ap_id.clone()),
        "avatar": avatar,
        "header": header,
        "membership": settings.membership,
        "posting": settings.posting,
        "visibility": settings.visibility,
        "rules": rules(settings),
        "members_count": members_count,
        "created_at": time(settings.created_at),
        "account": account(c, ctx, actor, false)?,
        "relationship": rel,
    }))
}

pub use crate::mastodon::entities::{accounts, accounts_by_id};

/// A `Ban`: who, why, since when.
pub fn ban(
    c: &mut DbConnection,
    ctx: &Ctx,
    actor: &Actor,
    reason: &str,
    at: Timestamp,
) -> StorageResult<Value> {
    Ok(json!({ "account": account(c, ctx, actor, false)?, "reason": reason, "created_at": time(at) }))
}

/// A `LogEntry` of the moderation log.
pub fn log_entry(c: &mut DbConnection, ctx: &Ctx, entry: &LogEntry) -> StorageResult<Value> {
    let moderator = actors::get(c, entry.moderator_id)?;
    let target = match entry.target_actor_id {
        Some(id) => {
            let target = actors::get(c, id)?;
            Some(account(c, ctx, &target, false)?)
        }
        None => None,
    };
    Ok(json!({
        "id": entry.id.to_string(),
        "action": entry.action,
        "moderator": account(c, ctx, &moderator, false)?,
        "target_account": target,
        "target_status_id": entry.target_status_id.map(|id| id.to_string()),
        "reason": entry.reason,
        "created_at": time(entry.created_at),
    }))
}
