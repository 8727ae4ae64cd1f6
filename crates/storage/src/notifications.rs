//! Notifications for local users: mentions, follows, follow requests, likes, boosts, edits.

use diesel::prelude::*;
use guildhall_core::Id;

use crate::schema::notifications;
use crate::{DbConnection, StorageResult, Timestamp, actors, now};

/// Notification types, as the Mastodon API spells them.
pub const KINDS: [&str; 7] =
    ["mention", "status", "reblog", "follow", "follow_request", "favourite", "update"];

/// One notification.
#[derive(Debug, Clone, PartialEq, Queryable, Selectable, Insertable)]
#[diesel(table_name = notifications)]
pub struct Notification {
    /// Our id (time-sortable).
    pub id: i64,
    /// The local actor notified.
    pub recipient_id: i64,
    /// One of [`KINDS`].
    pub kind: String,
    /// Who caused it.
    pub from_actor_id: i64,
    /// The status concerned.
    pub status_id: Option<i64>,
    /// When.
    pub created_at: Timestamp,
}

/// Notifies `recipient` when it is a live local actor other than `from`; otherwise nothing.
pub fn notify(
    conn: &mut DbConnection,
    recipient: i64,
    kind: &str,
    from: i64,
    status_id: Option<i64>,
) -> StorageResult<()> {
    if recipient == from {
        return Ok(());
    }
    let target = actors::get(conn, recipient)?;
    if !target.is_local() || target.deleted_at.is_some() || crate::blocks::exists(conn, recipient, from)? {
        return Ok(());
    }
    let row = Notification {
        id: Id::generate().0,
        recipient_id: recipient,
        kind: kind.to_owned(),
        from_actor_id: from,
        status_id,
        created_at: now(),
    };
    diesel::insert_into(notifications::table).values(&row).execute(conn)?;
    Ok(())
}

/// Notifies every local actor a new status mentions (its author excepted).
pub fn mentioned(conn: &mut DbConnection, status: &crate::statuses::Status) -> StorageResult<()> {
    for actor in crate::status_parts::mentions(conn, status.id)? {
        notify(conn, actor, "mention", status.actor_id, Some(status.id))?;
    }
    Ok(())
}

/// A page of notifications, newest first.
pub fn list(
    conn: &mut DbConnection,
    recipient: i64,
    kinds: Option<&[String]>,
    page: &crate::timelines::Page,
) -> StorageResult<Vec<Notification>> {
    let mut query = notifications::table.filter(notifications::recipient_id.eq(recipient)).into_boxed();
    if let Some(kinds) = kinds {
        query = query.filter(notifications::kind.eq_any(kinds.to_vec()));
    }
    if let Some(max) = page.max_id {
        query = query.filter(notifications::id.lt(max));
    }
    if let Some(since) = page.since_id {
        query = query.filter(notifications::id.gt(since));
    }
    let rows: Vec<Notification> = match page.min_id {
        Some(min) => {
            let mut up: Vec<Notification> = query
                .filter(notifications::id.gt(min))
                .order(notifications::id.asc())
                .limit(page.limit)
                .select(Notification::as_select())
                .load(conn)?;
            up.reverse();
            up
        }
        None => query
            .order(notifications::id.desc())
            .limit(page.limit)
            .select(Notification::as_select())
            .load(conn)?,
    };
    Ok(rows)
}

/// One notification of `recipient`.
pub fn get(conn: &mut DbConnection, recipient: i64, id: i64) -> StorageResult<Notification> {
    Ok(notifications::table
        .filter(notifications::id.eq(id))
        .filter(notifications::recipient_id.eq(recipient))
        .select(Notification::as_select())
        .first(conn)?)
}

/// Dismisses one notification; returns whether it existed.
pub fn dismiss(conn: &mut DbConnection, recipient: i64, id: i64) -> StorageResult<bool> {
    let n = diesel::delete(
        notifications::table
            .filter(notifications::id.eq(id))
            .filter(notifications::recipient_id.eq(recipient)),
    )
    .execute(conn)?;
    Ok(n > 0)
}

/// Dismisses all of a recipient's notifications.
pub fn clear(conn: &mut DbConnection, recipient: i64) -> StorageResult<usize> {
    Ok(diesel::delete(notifications::table.filter(notifications::recipient_id.eq(recipient)))
        .execute(conn)?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{each_backend, rows};
    use crate::timelines::Page;

    #[tokio::test]
    async fn notify_list_filter_page_and_dismiss() {
        each_backend(|db| async move {
            db.run(|c| {
                let ada = rows::local("ada");
                actors::insert_local(c, &ada, "K")?;
                let eve = actors::upsert_remote(c, &rows::remote("eve", "r.example"))?;
                notify(c, ada.id, "follow", eve.id, None)?;
                notify(c, ada.id, "favourite", eve.id, None)?;
                notify(c, ada.id, "mention", ada.id, None)?;
                notify(c, eve.id, "mention", ada.id, None)?;
                let all = list(c, ada.id, None, &Page::default())?;
                assert_eq!(
                    all.iter().map(|n| n.kind.as_str()).collect::<Vec<_>>(),
                    vec!["favourite", "follow"]
                );
                let follows = list(c, ada.id, Some(&["follow".to_string()]), &Page::default())?;
                assert_eq!(follows.len(), 1);
                let older = list(c, ada.id, None, &Page { max_id: Some(all[0].id), ..Page::default() })?;
                assert_eq!(older.iter().map(|n| n.id).collect::<Vec<_>>(), vec![all[1].id]);
                let newer = list(c, ada.id, None, &Page { min_id: Some(all[1].id), ..Page::default() })?;
                assert_eq!(newer.iter().map(|n| n.id).collect::<Vec<_>>(), vec![all[0].id]);
                assert_eq!(get(c, ada.id, all[0].id)?.kind, "favourite");
                assert!(dismiss(c, ada.id, all[0].id)?);
                assert_eq!(clear(c, ada.id)?, 1);
                Ok(())
            })
            .await
            .unwrap();
        })
        .await;
    }
}
