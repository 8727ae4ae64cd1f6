//! Bookmarks and idempotency keys of local users.

use diesel::prelude::*;

use crate::schema::{bookmarks, idempotency_keys};
use crate::{DbConnection, StorageResult, now};

/// Bookmarks a status (idempotent).
pub fn add(conn: &mut DbConnection, actor_id: i64, status_id: i64) -> StorageResult<()> {
    crate::atomic(conn, |conn| {
        if !exists(conn, actor_id, status_id)? {
            diesel::insert_into(bookmarks::table)
                .values((
                    bookmarks::actor_id.eq(actor_id),
                    bookmarks::status_id.eq(status_id),
                    bookmarks::created_at.eq(now()),
                ))
                .execute(conn)?;
        }
        Ok(())
    })
}

/// Removes a bookmark.
pub fn remove(conn: &mut DbConnection, actor_id: i64, status_id: i64) -> StorageResult<()> {
    crate::atomic(conn, |conn| {
        diesel::delete(
            bookmarks::table
                .filter(bookmarks::actor_id.eq(actor_id))
                .filter(bookmarks::status_id.eq(status_id)),
        )
        .execute(conn)?;
        Ok(())
    })
}

/// True when bookmarked.
pub fn exists(conn: &mut DbConnection, actor_id: i64, status_id: i64) -> StorageResult<bool> {
    let found = bookmarks::table
        .filter(bookmarks::actor_id.eq(actor_id))
        .filter(bookmarks::status_id.eq(status_id))
        .select(bookmarks::status_id)
        .first::<i64>(conn)
        .optional()?;
    Ok(found.is_some())
}

/// Bookmarked status ids, most recently bookmarked first.
pub fn list(conn: &mut DbConnection, actor_id: i64, limit: i64) -> StorageResult<Vec<i64>> {
    Ok(bookmarks::table
        .filter(bookmarks::actor_id.eq(actor_id))
        .order(bookmarks::created_at.desc())
        .limit(limit)
        .select(bookmarks::status_id)
        .load(conn)?)
}

/// The status an earlier request with this `Idempotency-Key` created.
pub fn idempotent_status(conn: &mut DbConnection, user_id: i64, key: &str) -> StorageResult<Option<i64>> {
    Ok(idempotency_keys::table
        .filter(idempotency_keys::user_id.eq(user_id))
        .filter(idempotency_keys::key.eq(key))
        .select(idempotency_keys::status_id)
        .first(conn)
        .optional()?)
}

/// Remembers the status created for an `Idempotency-Key`.
pub fn remember_idempotent(
    conn: &mut DbConnection,
    user_id: i64,
    key: &str,
    status_id: i64,
) -> StorageResult<()> {
    diesel::insert_into(idempotency_keys::table)
        .values((
            idempotency_keys::user_id.eq(user_id),
            idempotency_keys::key.eq(key),
            idempotency_keys::status_id.eq(status_id),
            idempotency_keys::created_at.eq(now()),
        ))
        .execute(conn)?;
    Ok(())
}
