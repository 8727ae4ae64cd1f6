//! Pinned statuses: up to five of a user's own posts shown first on their profile.

use diesel::prelude::*;

use crate::schema::pins;
use crate::{DbConnection, StorageError, StorageResult, now};

/// How many statuses one account may pin.
pub const MAX_PINS: i64 = 5;

/// Pins `status_id` for `actor_id`; a sixth pin is a conflict.
pub fn pin(conn: &mut DbConnection, actor_id: i64, status_id: i64) -> StorageResult<()> {
    crate::transaction(conn, |conn| {
        if is_pinned(conn, actor_id, status_id)? {
            return Ok(());
        }
        let count: i64 = pins::table.filter(pins::actor_id.eq(actor_id)).count().get_result(conn)?;
        if count >= MAX_PINS {
            return Err(StorageError::Conflict(format!("You can pin at most {MAX_PINS} posts")));
        }
        diesel::insert_into(pins::table)
            .values((pins::actor_id.eq(actor_id), pins::status_id.eq(status_id), pins::created_at.eq(now())))
            .execute(conn)?;
        Ok(())
    })
}

/// Unpins.
pub fn unpin(conn: &mut DbConnection, actor_id: i64, status_id: i64) -> StorageResult<bool> {
    Ok(diesel::delete(pins::table.find((actor_id, status_id))).execute(conn)? > 0)
}

/// Whether the status is pinned by `actor_id`.
pub fn is_pinned(conn: &mut DbConnection, actor_id: i64, status_id: i64) -> StorageResult<bool> {
    Ok(diesel::select(diesel::dsl::exists(pins::table.find((actor_id, status_id)))).get_result(conn)?)
}

/// The statuses `actor_id` pinned, most recently pinned first.
pub fn pinned(conn: &mut DbConnection, actor_id: i64) -> StorageResult<Vec<i64>> {
    Ok(pins::table
        .filter(pins::actor_id.eq(actor_id))
        .order(pins::created_at.desc())
        .select(pins::status_id)
        .load(conn)?)
}
