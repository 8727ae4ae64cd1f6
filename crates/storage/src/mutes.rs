//! Mutes: an account's posts (and, optionally, notifications from it) hidden from a user,
//! without the muted account knowing. Nothing federates.

use diesel::prelude::*;

use crate::schema::mutes;
use crate::{DbConnection, StorageResult, Timestamp, now};

/// One mute.
#[derive(Debug, Clone, PartialEq, Queryable, Selectable, Insertable)]
#[diesel(table_name = mutes)]
pub struct Mute {
    /// Who mutes.
    pub actor_id: i64,
    /// Who is muted.
    pub target_id: i64,
    /// Notifications from the muted account are hidden too.
    pub notifications: bool,
    /// When the mute ends by itself.
    pub expires_at: Option<Timestamp>,
    /// When it began.
    pub created_at: Timestamp,
}

/// Mutes `target_id` for `actor_id` (replacing an earlier mute's settings).
pub fn add(
    conn: &mut DbConnection,
    actor_id: i64,
    target_id: i64,
    notifications: bool,
    expires_at: Option<Timestamp>,
) -> StorageResult<Mute> {
    crate::transaction(conn, |conn| {
        remove(conn, actor_id, target_id)?;
        let mute = Mute { actor_id, target_id, notifications, expires_at, created_at: now() };
        diesel::insert_into(mutes::table).values(&mute).execute(conn)?;
        Ok(mute)
    })
}

/// Unmutes.
pub fn remove(conn: &mut DbConnection, actor_id: i64, target_id: i64) -> StorageResult<bool> {
    crate::atomic(
        conn,
        |conn| Ok(diesel::delete(mutes::table.find((actor_id, target_id))).execute(conn)? > 0),
    )
}

/// The live mute of `target_id` by `actor_id`, if any.
pub fn find(conn: &mut DbConnection, actor_id: i64, target_id: i64) -> StorageResult<Option<Mute>> {
    let found: Option<Mute> =
        mutes::table.find((actor_id, target_id)).select(Mute::as_select()).first(conn).optional()?;
    Ok(found.filter(|m| m.expires_at.is_none_or(|at| at > now())))
}

/// Everyone `actor_id` mutes (live mutes), newest first.
pub fn list(conn: &mut DbConnection, actor_id: i64) -> StorageResult<Vec<Mute>> {
    let all: Vec<Mute> = mutes::table
        .filter(mutes::actor_id.eq(actor_id))
        .order(mutes::created_at.desc())
        .select(Mute::as_select())
        .load(conn)?;
    let stamp = now();
    Ok(all.into_iter().filter(|m| m.expires_at.is_none_or(|at| at > stamp)).collect())
}

/// Drops `actor_id`'s mutes that have run out. Called on every home timeline read, so it
/// looks first: a delete would take SQLite's write lock even when nothing has expired.
pub fn prune_expired(conn: &mut DbConnection, actor_id: i64) -> StorageResult<usize> {
    let expired = mutes::table
        .filter(mutes::actor_id.eq(actor_id))
        .filter(mutes::expires_at.is_not_null())
        .filter(mutes::expires_at.le(now()));
    if !diesel::select(diesel::dsl::exists(expired)).get_result::<bool>(conn)? {
        return Ok(0);
    }
    crate::write(conn, |conn| Ok(diesel::delete(expired).execute(conn)?))
}

/// The accounts whose notifications `actor_id` muted.
pub fn notification_muted(conn: &mut DbConnection, actor_id: i64) -> StorageResult<Vec<i64>> {
    Ok(list(conn, actor_id)?.into_iter().filter(|m| m.notifications).map(|m| m.target_id).collect())
}
