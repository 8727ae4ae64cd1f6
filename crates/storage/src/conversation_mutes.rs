//! Muted conversations: a user stops hearing about a thread (named by its root status).

use diesel::prelude::*;

use crate::schema::{conversation_mutes, statuses};
use crate::statuses::Status;
use crate::{DbConnection, StorageResult, now};

/// How far up a thread we walk to find its root (threads deeper than this are named by the
/// status this far up, which is enough to mute them).
const MAX_DEPTH: usize = 256;

/// The root of `status`'s thread: its earliest known ancestor.
pub fn root_of(conn: &mut DbConnection, status: &Status) -> StorageResult<i64> {
    let mut current = status.id;
    let mut parent = status.in_reply_to_id;
    for _ in 0..MAX_DEPTH {
        let Some(up) = parent else { break };
        current = up;
        parent = statuses::table
            .find(up)
            .select(statuses::in_reply_to_id)
            .first::<Option<i64>>(conn)
            .optional()?
            .flatten();
    }
    Ok(current)
}

/// Mutes the conversation of `status` for `actor_id`.
pub fn mute(conn: &mut DbConnection, actor_id: i64, status: &Status) -> StorageResult<()> {
    crate::atomic(conn, |conn| {
        let root = root_of(conn, status)?;
        if !is_muted_root(conn, actor_id, root)? {
            diesel::insert_into(conversation_mutes::table)
                .values((
                    conversation_mutes::actor_id.eq(actor_id),
                    conversation_mutes::root_id.eq(root),
                    conversation_mutes::created_at.eq(now()),
                ))
                .execute(conn)?;
        }
        Ok(())
    })
}

/// Unmutes the conversation of `status` for `actor_id`.
pub fn unmute(conn: &mut DbConnection, actor_id: i64, status: &Status) -> StorageResult<()> {
    crate::atomic(conn, |conn| {
        let root = root_of(conn, status)?;
        diesel::delete(conversation_mutes::table.find((actor_id, root))).execute(conn)?;
        Ok(())
    })
}

fn is_muted_root(conn: &mut DbConnection, actor_id: i64, root: i64) -> StorageResult<bool> {
    Ok(diesel::select(diesel::dsl::exists(conversation_mutes::table.find((actor_id, root))))
        .get_result(conn)?)
}

/// Whether `actor_id` muted the conversation `status` belongs to: whether the root named when
/// it was muted is among the status's ancestors (or is the status). A parent fetched later
/// does not undo a mute, since the named root stays in the chain.
pub fn is_muted(conn: &mut DbConnection, actor_id: i64, status: &Status) -> StorageResult<bool> {
    let roots: Vec<i64> = conversation_mutes::table
        .filter(conversation_mutes::actor_id.eq(actor_id))
        .select(conversation_mutes::root_id)
        .load(conn)?;
    if roots.is_empty() {
        return Ok(false);
    }
    let mut current = Some(status.id);
    let mut parent = status.in_reply_to_id;
    for _ in 0..=MAX_DEPTH {
        let Some(id) = current else { return Ok(false) };
        if roots.contains(&id) {
            return Ok(true);
        }
        current = parent;
        parent = match parent {
            Some(up) => statuses::table
                .find(up)
                .select(statuses::in_reply_to_id)
                .first::<Option<i64>>(conn)
                .optional()?
                .flatten(),
            None => None,
        };
    }
    Ok(false)
}
