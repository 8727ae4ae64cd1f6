//! Blocks between actors.

use diesel::prelude::*;
use guildhall_core::Id;

use crate::schema::blocks;
use crate::{DbConnection, StorageResult, now};

/// Records that `actor_id` blocks `target_id` (idempotent).
pub fn add(conn: &mut DbConnection, actor_id: i64, target_id: i64, ap_id: Option<&str>) -> StorageResult<()> {
    crate::transaction(conn, |conn| {
        if exists(conn, actor_id, target_id)? {
            return Ok(());
        }
        diesel::insert_into(blocks::table)
            .values((
                blocks::id.eq(Id::generate().0),
                blocks::actor_id.eq(actor_id),
                blocks::target_id.eq(target_id),
                blocks::ap_id.eq(ap_id),
                blocks::created_at.eq(now()),
            ))
            .execute(conn)?;
        Ok(())
    })
}

/// True when `actor_id` blocks `target_id`.
pub fn exists(conn: &mut DbConnection, actor_id: i64, target_id: i64) -> StorageResult<bool> {
    let found = blocks::table
        .filter(blocks::actor_id.eq(actor_id))
        .filter(blocks::target_id.eq(target_id))
        .select(blocks::id)
        .first::<i64>(conn)
        .optional()?;
    Ok(found.is_some())
}

/// True when either actor blocks the other.
pub fn between(conn: &mut DbConnection, a: i64, b: i64) -> StorageResult<bool> {
    Ok(exists(conn, a, b)? || exists(conn, b, a)?)
}

/// The ActivityPub id of the `Block` behind `actor_id`'s block of `target_id` (for a block we
/// sent); `None` when there is no block or it had none.
pub fn ap_id_of(conn: &mut DbConnection, actor_id: i64, target_id: i64) -> StorageResult<Option<String>> {
    Ok(blocks::table
        .filter(blocks::actor_id.eq(actor_id))
        .filter(blocks::target_id.eq(target_id))
        .select(blocks::ap_id)
        .first::<Option<String>>(conn)
        .optional()?
        .flatten())
}

/// Removes a block; returns whether there was one.
pub fn remove(conn: &mut DbConnection, actor_id: i64, target_id: i64) -> StorageResult<bool> {
    crate::atomic(conn, |conn| {
        let n = diesel::delete(
            blocks::table.filter(blocks::actor_id.eq(actor_id)).filter(blocks::target_id.eq(target_id)),
        )
        .execute(conn)?;
        Ok(n > 0)
    })
}

/// The accounts `actor_id` blocks, most recently blocked first.
pub fn blocked_by(conn: &mut DbConnection, actor_id: i64) -> StorageResult<Vec<i64>> {
    Ok(blocks::table
        .filter(blocks::actor_id.eq(actor_id))
        .order(blocks::created_at.desc())
        .select(blocks::target_id)
        .load(conn)?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::actors;
    use crate::testing::{each_backend, rows};

    #[tokio::test]
    async fn block_and_unblock() {
        each_backend(|db| async move {
            db.run(|c| {
                let ada = rows::local("ada");
                actors::insert_local(c, &ada, "K")?;
                let eve = actors::upsert_remote(c, &rows::remote("eve", "r.example"))?;
                add(c, eve.id, ada.id, Some("https://r.example/blocks/1"))?;
                add(c, eve.id, ada.id, None)?;
                assert!(exists(c, eve.id, ada.id)? && !exists(c, ada.id, eve.id)?);
                assert!(between(c, ada.id, eve.id)?);
                assert!(remove(c, eve.id, ada.id)?);
                assert!(!between(c, ada.id, eve.id)?);
                Ok(())
            })
            .await
            .unwrap();
        })
        .await;
    }
}
