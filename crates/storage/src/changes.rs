//! What changed since a point: the feed the streaming API reads (new statuses and
//! notifications by id, deletions and edits by time). Reading the database, rather than an
//! in-process channel, lets several processes sharing one PostgreSQL database stream what any
//! of them stored.

use diesel::prelude::*;

use crate::notifications::Notification;
use crate::schema::{notifications, statuses};
use crate::statuses::Status;
use crate::{DbConnection, StorageResult, Timestamp};

/// The newest status and notification ids (0 when there are none).
pub fn high_water(conn: &mut DbConnection) -> StorageResult<(i64, i64)> {
    let status: Option<i64> = statuses::table.select(diesel::dsl::max(statuses::id)).first(conn)?;
    let notification: Option<i64> =
        notifications::table.select(diesel::dsl::max(notifications::id)).first(conn)?;
    Ok((status.unwrap_or(0), notification.unwrap_or(0)))
}

/// Live statuses with ids above `after`, oldest first.
pub fn statuses_after(conn: &mut DbConnection, after: i64, limit: i64) -> StorageResult<Vec<Status>> {
    Ok(statuses::table
        .filter(statuses::id.gt(after))
        .filter(statuses::deleted_at.is_null())
        .order(statuses::id.asc())
        .limit(limit)
        .select(Status::as_select())
        .load(conn)?)
}

/// Live statuses with ids in `(from, to]`, newest first (a second look at a window).
pub fn statuses_between(
    conn: &mut DbConnection,
    from: i64,
    to: i64,
    limit: i64,
) -> StorageResult<Vec<Status>> {
    Ok(statuses::table
        .filter(statuses::id.gt(from))
        .filter(statuses::id.le(to))
        .filter(statuses::deleted_at.is_null())
        .order(statuses::id.desc())
        .limit(limit)
        .select(Status::as_select())
        .load(conn)?)
}

/// Notifications with ids in `(from, to]`, newest first (a second look at a window).
pub fn notifications_between(
    conn: &mut DbConnection,
    from: i64,
    to: i64,
    limit: i64,
) -> StorageResult<Vec<Notification>> {
    Ok(notifications::table
        .filter(notifications::id.gt(from))
        .filter(notifications::id.le(to))
        .order(notifications::id.desc())
        .limit(limit)
        .select(Notification::as_select())
        .load(conn)?)
}

/// Notifications with ids above `after`, oldest first.
pub fn notifications_after(
    conn: &mut DbConnection,
    after: i64,
    limit: i64,
) -> StorageResult<Vec<Notification>> {
    Ok(notifications::table
        .filter(notifications::id.gt(after))
        .order(notifications::id.asc())
        .limit(limit)
        .select(Notification::as_select())
        .load(conn)?)
}

/// At most `limit` statuses deleted in `(from, until]` (`until` none: no upper bound), oldest
/// deletion first.
pub fn deleted_statuses_between(
    conn: &mut DbConnection,
    from: Timestamp,
    until: Option<Timestamp>,
    limit: i64,
) -> StorageResult<Vec<Status>> {
    let mut query = statuses::table.filter(statuses::deleted_at.gt(from)).into_boxed();
    if let Some(until) = until {
        query = query.filter(statuses::deleted_at.le(until));
    }
    Ok(query.order(statuses::deleted_at.asc()).limit(limit).select(Status::as_select()).load(conn)?)
}

/// At most `limit` live statuses edited in `(from, until]` (`until` none: no upper bound),
/// oldest edit first.
pub fn edited_between(
    conn: &mut DbConnection,
    from: Timestamp,
    until: Option<Timestamp>,
    limit: i64,
) -> StorageResult<Vec<Status>> {
    let mut query = statuses::table
        .filter(statuses::edited_at.gt(from))
        .filter(statuses::deleted_at.is_null())
        .into_boxed();
    if let Some(until) = until {
        query = query.filter(statuses::edited_at.le(until));
    }
    Ok(query.order(statuses::edited_at.asc()).limit(limit).select(Status::as_select()).load(conn)?)
}
