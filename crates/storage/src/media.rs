//! Local media uploads. An upload is stored unattached (`status_id` empty); its uploader may
//! describe it, focus it or delete it until it is attached, in order, to one of their statuses.
//! The files themselves live in the media directory; rows name them relative to it.

use diesel::prelude::*;

use crate::schema::media_attachments;
use crate::status_parts::Attachment;
use crate::{DbConnection, StorageError, StorageResult};

/// Most attachments one status may carry.
pub const MAX_PER_STATUS: usize = 4;

/// Stores a new upload.
pub fn insert(conn: &mut DbConnection, upload: &Attachment) -> StorageResult<()> {
    crate::atomic(conn, |conn| {
        diesel::insert_into(media_attachments::table).values(upload).execute(conn)?;
        Ok(())
    })
}

/// An upload of `actor_id`, attached or not.
pub fn find_own(conn: &mut DbConnection, actor_id: i64, id: i64) -> StorageResult<Option<Attachment>> {
    Ok(media_attachments::table
        .filter(media_attachments::id.eq(id))
        .filter(media_attachments::actor_id.eq(actor_id))
        .filter(media_attachments::file_path.is_not_null())
        .select(Attachment::as_select())
        .first(conn)
        .optional()?)
}

/// An unattached upload of `actor_id`, or [`StorageError::NotFound`].
pub fn find_unattached(conn: &mut DbConnection, actor_id: i64, id: i64) -> StorageResult<Attachment> {
    find_own(conn, actor_id, id)?.filter(|m| m.status_id.is_none()).ok_or(StorageError::NotFound)
}

/// Sets the alt text and focal point of `id`, one of `actor_id`'s uploads that is unattached
/// or attached to `status_id` (an edit's `media_attributes[]`); `None` leaves a value as it is,
/// an empty description clears it.
pub fn describe_for_status(
    conn: &mut DbConnection,
    actor_id: i64,
    status_id: i64,
    id: i64,
    description: Option<&str>,
    focus: Option<&str>,
) -> StorageResult<()> {
    let found: Option<Attachment> = media_attachments::table
        .find(id)
        .filter(media_attachments::actor_id.eq(actor_id))
        .filter(media_attachments::status_id.is_null().or(media_attachments::status_id.eq(status_id)))
        .select(Attachment::as_select())
        .first(conn)
        .optional()?;
    let mut media = found.ok_or(StorageError::NotFound)?;
    if let Some(text) = description {
        media.description = Some(text.to_owned()).filter(|t| !t.is_empty());
    }
    if let Some(focus) = focus {
        media.focus = Some(focus.to_owned());
    }
    diesel::update(media_attachments::table.find(id))
        .set((
            media_attachments::description.eq(&media.description),
            media_attachments::focus.eq(&media.focus),
        ))
        .execute(conn)?;
    Ok(())
}

/// Sets the alt text and focal point of an unattached upload (`None` leaves a value as it is).
pub fn describe(
    conn: &mut DbConnection,
    actor_id: i64,
    id: i64,
    description: Option<&str>,
    focus: Option<&str>,
) -> StorageResult<Attachment> {
    crate::atomic(conn, |conn| {
        let mut upload = find_unattached(conn, actor_id, id)?;
        if let Some(text) = description {
            upload.description = Some(text.to_owned()).filter(|t| !t.is_empty());
        }
        if let Some(focus) = focus {
            upload.focus = Some(focus.to_owned());
        }
        diesel::update(media_attachments::table.find(id))
            .set((
                media_attachments::description.eq(&upload.description),
                media_attachments::focus.eq(&upload.focus),
            ))
            .execute(conn)?;
        Ok(upload)
    })
}

/// Deletes an unattached upload and returns it (its files are the caller's to remove); an
/// attached one is a [`StorageError::Conflict`].
pub fn delete(conn: &mut DbConnection, actor_id: i64, id: i64) -> StorageResult<Attachment> {
    crate::atomic(conn, |conn| {
        let upload = find_own(conn, actor_id, id)?.ok_or(StorageError::NotFound)?;
        if upload.status_id.is_some() {
            return Err(StorageError::Conflict("Media attachment is currently used by a status".into()));
        }
        diesel::delete(media_attachments::table.find(id)).execute(conn)?;
        Ok(upload)
    })
}

/// The ids among `ids` that `actor_id` may not attach to `status_id` (a new status when
/// `None`): unknown, someone else's, remote, or attached to another status.
pub fn unusable(
    conn: &mut DbConnection,
    actor_id: i64,
    ids: &[i64],
    status_id: Option<i64>,
) -> StorageResult<Vec<i64>> {
    let rows: Vec<Attachment> = media_attachments::table
        .filter(media_attachments::id.eq_any(ids))
        .select(Attachment::as_select())
        .load(conn)?;
    let usable = |id: &i64| {
        rows.iter().any(|m| {
            m.id == *id
                && m.actor_id == actor_id
                && m.file_path.is_some()
                && (m.status_id.is_none() || m.status_id == status_id)
        })
    };
    // Uploads held for a scheduled status are its own until it is published or cancelled.
    let held: Vec<i64> = media_attachments::table
        .filter(media_attachments::id.eq_any(ids))
        .filter(media_attachments::scheduled_status_id.is_not_null())
        .select(media_attachments::id)
        .load(conn)?;
    Ok(ids.iter().copied().filter(|id| !usable(id) || held.contains(id)).collect())
}

/// Makes `ids` (uploads of `actor_id`) the attachments of `status_id`, in this order; uploads
/// attached before and not listed are detached. Check them with [`unusable`] first: one that
/// cannot be attached here is a [`StorageError::Conflict`].
pub fn attach(conn: &mut DbConnection, status_id: i64, actor_id: i64, ids: &[i64]) -> StorageResult<()> {
    diesel::update(
        media_attachments::table
            .filter(media_attachments::status_id.eq(status_id))
            .filter(media_attachments::actor_id.eq(actor_id))
            .filter(media_attachments::id.ne_all(ids)),
    )
    .set(media_attachments::status_id.eq(None::<i64>))
    .execute(conn)?;
    for (position, id) in ids.iter().enumerate() {
        let updated = diesel::update(
            media_attachments::table
                .filter(media_attachments::id.eq(id))
                .filter(media_attachments::actor_id.eq(actor_id))
                .filter(media_attachments::file_path.is_not_null())
                .filter(
                    media_attachments::status_id.is_null().or(media_attachments::status_id.eq(status_id)),
                ),
        )
        .set((
            media_attachments::status_id.eq(status_id),
            media_attachments::position.eq(i32::try_from(position).unwrap_or(i32::MAX)),
        ))
        .execute(conn)?;
        if updated != 1 {
            return Err(StorageError::Conflict(format!("media {id} cannot be attached")));
        }
    }
    Ok(())
}

/// Local uploads nobody needs any more — never attached and older than `before`, or attached
/// to a deleted status — at most `limit` of them: their rows are deleted and their file names
/// (originals and previews) returned, for the caller to remove from the media directory.
pub fn sweep(conn: &mut DbConnection, before: crate::Timestamp, limit: i64) -> StorageResult<Vec<String>> {
    use crate::schema::statuses;
    crate::transaction(conn, |conn| {
        let unneeded = || {
            let deleted =
                statuses::table.filter(statuses::deleted_at.is_not_null()).select(statuses::id.nullable());
            media_attachments::status_id
                .is_null()
                .and(media_attachments::scheduled_status_id.is_null())
                .and(media_attachments::created_at.lt(before))
                .or(media_attachments::status_id.eq_any(deleted))
        };
        let found: Vec<Attachment> = media_attachments::table
            .filter(media_attachments::file_path.is_not_null())
            .filter(unneeded())
            .limit(limit)
            .select(Attachment::as_select())
            .load(conn)?;
        let ids: Vec<i64> = found.iter().map(|m| m.id).collect();
        // The same test again as the rows go: one attached meanwhile (by a post committed
        // between the read and now) stays, and so do its files.
        diesel::delete(
            media_attachments::table.filter(media_attachments::id.eq_any(&ids)).filter(unneeded()),
        )
        .execute(conn)?;
        let still_there: Vec<i64> = media_attachments::table
            .filter(media_attachments::id.eq_any(&ids))
            .select(media_attachments::id)
            .load(conn)?;
        Ok(found
            .into_iter()
            .filter(|m| !still_there.contains(&m.id))
            .flat_map(|m| m.file_path.into_iter().chain(m.preview_path))
            .collect())
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{each_backend, rows, rows::status};
    use crate::{actors, now, status_parts, statuses};

    fn upload(id: i64, actor_id: i64) -> Attachment {
        Attachment {
            id,
            status_id: None,
            actor_id,
            remote_url: None,
            file_path: Some(format!("f{id}.png")),
            media_type: Some("image/png".into()),
            description: None,
            blurhash: Some("LEHV6nWB2yk8pyo0adR*.7kCMdnj".into()),
            width: Some(640),
            height: Some(480),
            position: 0,
            created_at: now(),
            preview_path: Some(format!("p{id}.png")),
            preview_width: Some(400),
            preview_height: Some(300),
            file_size: Some(1234),
            focus: None,
        }
    }

    #[tokio::test]
    async fn uploads_are_described_then_attached_in_order() {
        each_backend(|db| async move {
            db.run(|c| {
                let ada = rows::local("ada");
                actors::insert_local(c, &ada, "K")?;
                let bob = rows::local("bob");
                actors::insert_local(c, &bob, "K")?;
                for (id, owner) in [(1, ada.id), (2, ada.id), (3, bob.id)] {
                    insert(c, &upload(id, owner))?;
                }
                let described = describe(c, ada.id, 1, Some("a vase"), Some("0.5,-0.25"))?;
                assert_eq!(described.description.as_deref(), Some("a vase"));
                assert_eq!(find_own(c, ada.id, 1)?.and_then(|m| m.focus).as_deref(), Some("0.5,-0.25"));
                assert!(matches!(describe(c, bob.id, 1, Some("mine"), None), Err(StorageError::NotFound)));
                assert_eq!(unusable(c, ada.id, &[2, 1, 3, 99], None)?, vec![3, 99]);

                let post = status(&ada, "two pictures");
                statuses::insert(c, &post)?;
                attach(c, post.id, ada.id, &[2, 1])?;
                let attached = status_parts::attachments(c, post.id)?;
                assert_eq!(attached.iter().map(|m| m.id).collect::<Vec<_>>(), vec![2, 1]);
                assert_eq!(unusable(c, ada.id, &[1], None)?, vec![1], "attached elsewhere");
                assert!(unusable(c, ada.id, &[1], Some(post.id))?.is_empty());
                assert!(matches!(describe(c, ada.id, 1, Some("late"), None), Err(StorageError::NotFound)));
                assert!(matches!(delete(c, ada.id, 1), Err(StorageError::Conflict(_))));
                let refused = crate::transaction(c, |c| attach(c, post.id, ada.id, &[3]));
                assert!(matches!(refused, Err(StorageError::Conflict(_))));
                assert_eq!(status_parts::attachments(c, post.id)?.len(), 2, "rolled back");

                // An edit keeps one and drops the other, which becomes an upload again.
                attach(c, post.id, ada.id, &[1])?;
                assert_eq!(status_parts::attachments(c, post.id)?.len(), 1);
                assert_eq!(delete(c, ada.id, 2)?.id, 2);
                assert!(find_own(c, ada.id, 2)?.is_none());
                Ok(())
            })
            .await
            .unwrap();
        })
        .await;
    }

    #[tokio::test]
    async fn sweeping_takes_old_uploads_and_media_of_deleted_statuses() {
        each_backend(|db| async move {
            db.run(|c| {
                let ada = rows::local("ada");
                actors::insert_local(c, &ada, "K")?;
                for id in 1..=4 {
                    insert(c, &upload(id, ada.id))?;
                }
                let kept = status(&ada, "kept");
                statuses::insert(c, &kept)?;
                attach(c, kept.id, ada.id, &[1])?;
                let gone = status(&ada, "gone");
                statuses::insert(c, &gone)?;
                attach(c, gone.id, ada.id, &[2])?;
                statuses::mark_deleted(c, gone.id)?;
                // 3 and 4 are unattached: fresh ones survive a sweep of older uploads.
                let mut names = sweep(c, now() - chrono::Duration::hours(1), 100)?;
                names.sort();
                assert_eq!(names, vec!["f2.png", "p2.png"], "only the deleted status's media");
                let mut names = sweep(c, now() + chrono::Duration::seconds(1), 100)?;
                names.sort();
                assert_eq!(names, vec!["f3.png", "f4.png", "p3.png", "p4.png"]);
                assert!(find_own(c, ada.id, 1)?.is_some(), "attached to a live status: kept");
                assert!(sweep(c, now() + chrono::Duration::seconds(1), 100)?.is_empty());
                Ok(())
            })
            .await
            .unwrap();
        })
        .await;
    }
}
