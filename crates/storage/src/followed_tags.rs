//! Followed hashtags: public posts carrying them that reach this server show in the
//! follower's home timeline.

use diesel::prelude::*;

use crate::schema::followed_tags;
use crate::{DbConnection, StorageResult, Timestamp, now};

/// Normalizes a hashtag name as stored: no `#`, lower case.
pub fn normalize(tag: &str) -> String {
    tag.trim().trim_start_matches('#').to_lowercase()
}

/// Follows a hashtag (no-op when followed).
pub fn follow(conn: &mut DbConnection, actor_id: i64, tag: &str) -> StorageResult<()> {
    let tag = normalize(tag);
    crate::transaction(conn, |conn| {
        if is_following(conn, actor_id, &tag)? {
            return Ok(());
        }
        diesel::insert_into(followed_tags::table)
            .values((
                followed_tags::actor_id.eq(actor_id),
                followed_tags::tag.eq(&tag),
                followed_tags::created_at.eq(now()),
            ))
            .execute(conn)?;
        let source = crate::feeds::Source::Tag(&tag);
        crate::feeds::lock_source(conn, source)?;
        crate::feeds::backfill(conn, actor_id, source)
    })
}

/// Unfollows a hashtag.
pub fn unfollow(conn: &mut DbConnection, actor_id: i64, tag: &str) -> StorageResult<bool> {
    let tag = normalize(tag);
    crate::transaction(conn, |conn| {
        let removed = diesel::delete(followed_tags::table.find((actor_id, &tag))).execute(conn)? > 0;
        let source = crate::feeds::Source::Tag(&tag);
        crate::feeds::lock_source(conn, source)?;
        crate::feeds::prune(conn, actor_id, source)?;
        Ok(removed)
    })
}

/// Whether `actor_id` follows the hashtag.
pub fn is_following(conn: &mut DbConnection, actor_id: i64, tag: &str) -> StorageResult<bool> {
    Ok(diesel::select(diesel::dsl::exists(followed_tags::table.find((actor_id, normalize(tag)))))
        .get_result(conn)?)
}

/// The hashtags `actor_id` follows, newest first.
pub fn followed(conn: &mut DbConnection, actor_id: i64) -> StorageResult<Vec<(String, Timestamp)>> {
    Ok(followed_tags::table
        .filter(followed_tags::actor_id.eq(actor_id))
        .order(followed_tags::created_at.desc())
        .select((followed_tags::tag, followed_tags::created_at))
        .load(conn)?)
}
