//! Likes (`Like`), local and remote.

use diesel::prelude::*;
use guildhall_core::Id;

use crate::schema::favourites;
use crate::{DbConnection, StorageResult, Timestamp, now};

/// One like.
#[derive(Debug, Clone, PartialEq, Queryable, Selectable, Insertable)]
#[diesel(table_name = favourites)]
pub struct Favourite {
    /// Our id.
    pub id: i64,
    /// Who likes.
    pub actor_id: i64,
    /// What is liked.
    pub status_id: i64,
    /// The `Like` activity's id.
    pub ap_id: Option<String>,
    /// When.
    pub created_at: Timestamp,
}

/// Records a like; liking twice keeps the first. Returns the stored like and whether it is new.
pub fn add(
    conn: &mut DbConnection,
    actor_id: i64,
    status_id: i64,
    ap_id: Option<&str>,
) -> StorageResult<(Favourite, bool)> {
    crate::transaction(conn, |conn| {
        if let Some(existing) = find(conn, actor_id, status_id)? {
            return Ok((existing, false));
        }
        let row = Favourite {
            id: Id::generate().0,
            actor_id,
            status_id,
            ap_id: ap_id.map(str::to_owned),
            created_at: now(),
        };
        diesel::insert_into(favourites::table).values(&row).execute(conn)?;
        Ok((row, true))
    })
}

/// The like of `status_id` by `actor_id`, if any.
pub fn find(conn: &mut DbConnection, actor_id: i64, status_id: i64) -> StorageResult<Option<Favourite>> {
    Ok(favourites::table
        .filter(favourites::actor_id.eq(actor_id))
        .filter(favourites::status_id.eq(status_id))
        .select(Favourite::as_select())
        .first(conn)
        .optional()?)
}

/// The like whose `Like` activity has this id.
pub fn find_by_ap_id(conn: &mut DbConnection, ap_id: &str) -> StorageResult<Option<Favourite>> {
    Ok(favourites::table
        .filter(favourites::ap_id.eq(ap_id))
        .select(Favourite::as_select())
        .first(conn)
        .optional()?)
}

/// Removes a like; returns whether there was one.
pub fn remove(conn: &mut DbConnection, actor_id: i64, status_id: i64) -> StorageResult<bool> {
    crate::atomic(conn, |conn| {
        let n = diesel::delete(
            favourites::table
                .filter(favourites::actor_id.eq(actor_id))
                .filter(favourites::status_id.eq(status_id)),
        )
        .execute(conn)?;
        Ok(n > 0)
    })
}

/// How many likes a status has.
pub fn count(conn: &mut DbConnection, status_id: i64) -> StorageResult<i64> {
    Ok(favourites::table.filter(favourites::status_id.eq(status_id)).count().get_result(conn)?)
}

/// Status ids `actor_id` liked, most recent first.
pub fn liked_by(conn: &mut DbConnection, actor_id: i64, limit: i64) -> StorageResult<Vec<i64>> {
    Ok(favourites::table
        .filter(favourites::actor_id.eq(actor_id))
        .order(favourites::id.desc())
        .limit(limit)
        .select(favourites::status_id)
        .load(conn)?)
}

/// Actor ids that liked a status, oldest first.
pub fn likers(conn: &mut DbConnection, status_id: i64) -> StorageResult<Vec<i64>> {
    Ok(favourites::table
        .filter(favourites::status_id.eq(status_id))
        .order(favourites::id)
        .select(favourites::actor_id)
        .load(conn)?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{each_backend, rows, rows::status};
    use crate::{actors, statuses};

    #[tokio::test]
    async fn like_once_and_unlike() {
        each_backend(|db| async move {
            db.run(|c| {
                let ada = rows::local("ada");
                actors::insert_local(c, &ada, "K")?;
                let eve = actors::upsert_remote(c, &rows::remote("eve", "r.example"))?;
                let post = status(&ada, "hi");
                statuses::insert(c, &post)?;
                let (first, new) = add(c, eve.id, post.id, Some("https://r.example/likes/1"))?;
                assert!(new);
                let (again, new) = add(c, eve.id, post.id, Some("https://r.example/likes/2"))?;
                assert_eq!((again.id, new), (first.id, false));
                assert_eq!(count(c, post.id)?, 1);
                assert_eq!(likers(c, post.id)?, vec![eve.id]);
                assert_eq!(find_by_ap_id(c, "https://r.example/likes/1")?.map(|f| f.id), Some(first.id));
                assert!(remove(c, eve.id, post.id)?);
                assert!(!remove(c, eve.id, post.id)?);
                assert_eq!(count(c, post.id)?, 0);
                Ok(())
            })
            .await
            .unwrap();
        })
        .await;
    }
}
