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

/// A point in the deletions or the edits: the time of the change, then the status id (many
/// statuses can share one time: a suspended domain's posts are all removed at once).
pub type Mark = (Timestamp, i64);

/// Which change of a status [`changed_after`] and [`changed_before`] read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StatusChange {
    /// Deleted, at `deleted_at`.
    Deleted,
    /// Edited and still live, at `edited_at`.
    Edited,
}

/// At most `limit` statuses whose `change` is past `after`, in the order of their marks.
pub fn changed_after(
    conn: &mut DbConnection,
    change: StatusChange,
    after: Mark,
    limit: i64,
) -> StorageResult<Vec<Status>> {
    let (stamp, id) = after;
    let query = match change {
        StatusChange::Deleted => statuses::table
            .filter(
                statuses::deleted_at.gt(stamp).or(statuses::deleted_at.eq(stamp).and(statuses::id.gt(id))),
            )
            .order((statuses::deleted_at.asc(), statuses::id.asc()))
            .into_boxed(),
        StatusChange::Edited => statuses::table
            .filter(statuses::deleted_at.is_null())
            .filter(statuses::edited_at.gt(stamp).or(statuses::edited_at.eq(stamp).and(statuses::id.gt(id))))
            .order((statuses::edited_at.asc(), statuses::id.asc()))
            .into_boxed(),
    };
    Ok(query.limit(limit).select(Status::as_select()).load(conn)?)
}

/// At most `limit` statuses whose `change` is at or before `upto` and after `since`, nearest
/// `upto` first (the look-back for changes whose transactions committed late).
pub fn changed_before(
    conn: &mut DbConnection,
    change: StatusChange,
    since: Timestamp,
    upto: Mark,
    limit: i64,
) -> StorageResult<Vec<Status>> {
    let (stamp, id) = upto;
    let query = match change {
        StatusChange::Deleted => statuses::table
            .filter(statuses::deleted_at.gt(since))
            .filter(
                statuses::deleted_at.lt(stamp).or(statuses::deleted_at.eq(stamp).and(statuses::id.le(id))),
            )
            .order((statuses::deleted_at.desc(), statuses::id.desc()))
            .into_boxed(),
        StatusChange::Edited => statuses::table
            .filter(statuses::deleted_at.is_null())
            .filter(statuses::edited_at.gt(since))
            .filter(statuses::edited_at.lt(stamp).or(statuses::edited_at.eq(stamp).and(statuses::id.le(id))))
            .order((statuses::edited_at.desc(), statuses::id.desc()))
            .into_boxed(),
    };
    Ok(query.limit(limit).select(Status::as_select()).load(conn)?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{each_backend, rows};
    use crate::{actors, now, statuses};

    #[tokio::test]
    async fn deletions_sharing_one_time_are_paged_through_without_repeats() {
        each_backend(|db| async move {
            db.run(|c| {
                let ada = rows::local("ada");
                actors::insert_local(c, &ada, "K")?;
                let at = now();
                let mut ids = Vec::new();
                for n in 0..7 {
                    let mut post = rows::status(&ada, &format!("post {n}"));
                    post.deleted_at = Some(at);
                    statuses::insert(c, &post)?;
                    ids.push(post.id);
                }
                ids.sort_unstable();
                // Pages of 3 past a cursor that moves to the last mark read.
                let mut cursor = (at - chrono::Duration::seconds(1), 0);
                let mut read = Vec::new();
                loop {
                    let page = changed_after(c, StatusChange::Deleted, cursor, 3)?;
                    let Some(last) = page.last() else { break };
                    cursor = (last.deleted_at.unwrap_or(at), last.id);
                    read.extend(page.iter().map(|s| s.id));
                }
                assert_eq!(read, ids, "each once, in order");
                // The look-back from the cursor: nearest first, bounded, up to the cursor.
                let back = changed_before(
                    c,
                    StatusChange::Deleted,
                    at - chrono::Duration::seconds(1),
                    (at, ids[4]),
                    3,
                )?;
                assert_eq!(back.iter().map(|s| s.id).collect::<Vec<_>>(), vec![ids[4], ids[3], ids[2]]);
                // Edits read live statuses only.
                assert!(
                    changed_after(c, StatusChange::Edited, (at - chrono::Duration::seconds(1), 0), 10)?
                        .is_empty()
                );
                Ok(())
            })
            .await
            .unwrap();
        })
        .await;
    }
}
