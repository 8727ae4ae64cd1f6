//! What hangs off a status: mentioned actors, hashtags and media attachments. Written together
//! with the status, replaced together on edit.

use diesel::prelude::*;
use guildhall_core::Id;

use crate::schema::{media_attachments, status_mentions, status_tags};
use crate::{DbConnection, StorageResult, Timestamp, now};

/// A media attachment (a remote file's URL and metadata, or a local upload).
#[derive(Debug, Clone, PartialEq, Queryable, Selectable, Insertable)]
#[diesel(table_name = media_attachments)]
pub struct Attachment {
    /// Our id.
    pub id: i64,
    /// The status it belongs to (none while an upload is not yet attached).
    pub status_id: Option<i64>,
    /// Who uploaded or posted it.
    pub actor_id: i64,
    /// Where a remote file lives.
    pub remote_url: Option<String>,
    /// Where a local file lives, relative to the media directory.
    pub file_path: Option<String>,
    /// MIME type.
    pub media_type: Option<String>,
    /// Alt text.
    pub description: Option<String>,
    /// Blurhash placeholder.
    pub blurhash: Option<String>,
    /// Pixel width.
    pub width: Option<i32>,
    /// Pixel height.
    pub height: Option<i32>,
    /// Order within the status.
    pub position: i32,
    /// When stored.
    pub created_at: Timestamp,
    /// A local upload's thumbnail, relative to the media directory.
    pub preview_path: Option<String>,
    /// Thumbnail width.
    pub preview_width: Option<i32>,
    /// Thumbnail height.
    pub preview_height: Option<i32>,
    /// A local file's size in bytes.
    pub file_size: Option<i64>,
    /// Focal point `x,y` (each in -1..1), as Mastodon's `focus`.
    pub focus: Option<String>,
}

/// Metadata of a remote attachment, for [`replace_attachments`].
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct RemoteMedia {
    /// The file's URL.
    pub url: String,
    /// MIME type.
    pub media_type: Option<String>,
    /// Alt text.
    pub description: Option<String>,
    /// Blurhash.
    pub blurhash: Option<String>,
    /// Pixel width.
    pub width: Option<i32>,
    /// Pixel height.
    pub height: Option<i32>,
}

/// Sets the mentioned actors of a status (replacing earlier ones).
pub fn replace_mentions(conn: &mut DbConnection, status_id: i64, actor_ids: &[i64]) -> StorageResult<()> {
    crate::transaction(conn, |conn| {
        diesel::delete(status_mentions::table.filter(status_mentions::status_id.eq(status_id)))
            .execute(conn)?;
        let mut ids = actor_ids.to_vec();
        ids.sort_unstable();
        ids.dedup();
        for &actor_id in &ids {
            diesel::insert_into(status_mentions::table)
                .values((status_mentions::status_id.eq(status_id), status_mentions::actor_id.eq(actor_id)))
                .execute(conn)?;
        }
        // The fan-out only adds rows, one per mention: none reach no one.
        if ids.is_empty() {
            return Ok(());
        }
        crate::feeds::fan_out(conn, status_id, crate::feeds::Reach::Mentioned)
    })
}

/// The actors a status mentions.
pub fn mentions(conn: &mut DbConnection, status_id: i64) -> StorageResult<Vec<i64>> {
    Ok(status_mentions::table
        .filter(status_mentions::status_id.eq(status_id))
        .order(status_mentions::actor_id)
        .select(status_mentions::actor_id)
        .load(conn)?)
}

/// Sets the hashtags of a status (lower-cased, without `#`; replacing earlier ones).
pub fn replace_tags(conn: &mut DbConnection, status_id: i64, tags: &[String]) -> StorageResult<()> {
    crate::transaction(conn, |conn| {
        diesel::delete(status_tags::table.filter(status_tags::status_id.eq(status_id))).execute(conn)?;
        let mut names: Vec<String> = tags.iter().map(|t| t.trim_start_matches('#').to_lowercase()).collect();
        names.sort();
        names.dedup();
        names.retain(|t| !t.is_empty());
        for tag in &names {
            diesel::insert_into(status_tags::table)
                .values((status_tags::status_id.eq(status_id), status_tags::tag.eq(tag)))
                .execute(conn)?;
        }
        // As for mentions: no hashtag, no follower of one to reach.
        if names.is_empty() {
            return Ok(());
        }
        crate::feeds::fan_out(conn, status_id, crate::feeds::Reach::TagFollowers)
    })
}

/// The hashtags of a status.
pub fn tags(conn: &mut DbConnection, status_id: i64) -> StorageResult<Vec<String>> {
    Ok(status_tags::table
        .filter(status_tags::status_id.eq(status_id))
        .order(status_tags::tag)
        .select(status_tags::tag)
        .load(conn)?)
}

/// Sets the remote attachments of a status (replacing earlier ones).
pub fn replace_attachments(
    conn: &mut DbConnection,
    status_id: i64,
    actor_id: i64,
    media: &[RemoteMedia],
) -> StorageResult<()> {
    diesel::delete(media_attachments::table.filter(media_attachments::status_id.eq(status_id)))
        .execute(conn)?;
    for (position, m) in media.iter().enumerate() {
        let row = Attachment {
            id: Id::generate().0,
            status_id: Some(status_id),
            actor_id,
            remote_url: Some(m.url.clone()),
            file_path: None,
            media_type: m.media_type.clone(),
            description: m.description.clone(),
            blurhash: m.blurhash.clone(),
            width: m.width,
            height: m.height,
            position: i32::try_from(position).unwrap_or(i32::MAX),
            created_at: now(),
            preview_path: None,
            preview_width: None,
            preview_height: None,
            file_size: None,
            focus: None,
        };
        diesel::insert_into(media_attachments::table).values(&row).execute(conn)?;
    }
    Ok(())
}

/// The attachments of a status, in order.
pub fn attachments(conn: &mut DbConnection, status_id: i64) -> StorageResult<Vec<Attachment>> {
    Ok(media_attachments::table
        .filter(media_attachments::status_id.eq(status_id))
        .order(media_attachments::position)
        .select(Attachment::as_select())
        .load(conn)?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{each_backend, rows, rows::status};
    use crate::{actors, statuses};

    #[tokio::test]
    async fn parts_are_replaced_as_a_whole() {
        each_backend(|db| async move {
            db.run(|c| {
                let ada = rows::local("ada");
                actors::insert_local(c, &ada, "K")?;
                let eve = actors::upsert_remote(c, &rows::remote("eve", "r.example"))?;
                let post = status(&ada, "hi @eve #Museums");
                statuses::insert(c, &post)?;
                replace_mentions(c, post.id, &[eve.id, eve.id])?;
                replace_tags(c, post.id, &["#Museums".into(), "museums".into(), "GLAM".into()])?;
                let media = RemoteMedia {
                    url: "https://r.example/a.png".into(),
                    description: Some("a vase".into()),
                    ..Default::default()
                };
                replace_attachments(c, post.id, ada.id, &[media.clone(), media])?;
                assert_eq!(mentions(c, post.id)?, vec![eve.id]);
                assert_eq!(tags(c, post.id)?, vec!["glam", "museums"]);
                assert_eq!(
                    attachments(c, post.id)?.iter().map(|a| a.position).collect::<Vec<_>>(),
                    vec![0, 1]
                );
                replace_mentions(c, post.id, &[])?;
                replace_tags(c, post.id, &["archives".into()])?;
                replace_attachments(c, post.id, ada.id, &[])?;
                assert!(mentions(c, post.id)?.is_empty());
                assert_eq!(tags(c, post.id)?, vec!["archives"]);
                assert!(attachments(c, post.id)?.is_empty());
                Ok(())
            })
            .await
            .unwrap();
        })
        .await;
    }
}
