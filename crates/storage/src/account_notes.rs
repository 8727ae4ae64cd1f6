//! Private notes a user keeps on an account (shown only to them, in the relationship).

use diesel::prelude::*;

use crate::schema::account_notes;
use crate::{DbConnection, StorageResult, now};

/// Longest note kept, in characters (as Mastodon).
pub const MAX_CHARS: usize = 2_000;

/// Sets `actor_id`'s note on `target_id`; an empty note removes it.
pub fn set(conn: &mut DbConnection, actor_id: i64, target_id: i64, comment: &str) -> StorageResult<()> {
    crate::transaction(conn, |conn| {
        diesel::delete(account_notes::table.find((actor_id, target_id))).execute(conn)?;
        if !comment.is_empty() {
            diesel::insert_into(account_notes::table)
                .values((
                    account_notes::actor_id.eq(actor_id),
                    account_notes::target_id.eq(target_id),
                    account_notes::comment.eq(comment),
                    account_notes::updated_at.eq(now()),
                ))
                .execute(conn)?;
        }
        Ok(())
    })
}

/// `actor_id`'s note on `target_id` (empty when none).
pub fn get(conn: &mut DbConnection, actor_id: i64, target_id: i64) -> StorageResult<String> {
    Ok(account_notes::table
        .find((actor_id, target_id))
        .select(account_notes::comment)
        .first::<String>(conn)
        .optional()?
        .unwrap_or_default())
}
