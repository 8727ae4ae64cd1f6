//! Lists: a user's own selections of accounts they follow, each with its timeline.

use diesel::prelude::*;
use guildhall_core::Id;

use crate::schema::{list_members, lists};
use crate::{DbConnection, StorageError, StorageResult, Timestamp, now};

/// One list.
#[derive(Debug, Clone, PartialEq, Queryable, Selectable, Insertable)]
#[diesel(table_name = lists)]
pub struct List {
    /// Its id.
    pub id: i64,
    /// The local actor owning it.
    pub owner_id: i64,
    /// Its title.
    pub title: String,
    /// Which replies show: `followed`, `list` or `none`.
    pub replies_policy: String,
    /// Members' posts show only here, not in home.
    pub exclusive: bool,
    /// When it was made.
    pub created_at: Timestamp,
}

/// The replies policies Mastodon knows.
pub const REPLIES_POLICIES: [&str; 3] = ["followed", "list", "none"];

/// Creates a list.
pub fn create(
    conn: &mut DbConnection,
    owner_id: i64,
    title: &str,
    replies_policy: &str,
    exclusive: bool,
) -> StorageResult<List> {
    crate::atomic(conn, |conn| {
        let list = List {
            id: Id::generate().0,
            owner_id,
            title: title.to_owned(),
            replies_policy: replies_policy.to_owned(),
            exclusive,
            created_at: now(),
        };
        diesel::insert_into(lists::table).values(&list).execute(conn)?;
        Ok(list)
    })
}

/// The list with this id when `owner_id` owns it.
pub fn get(conn: &mut DbConnection, owner_id: i64, id: i64) -> StorageResult<List> {
    let list: List = lists::table.find(id).select(List::as_select()).first(conn)?;
    if list.owner_id != owner_id {
        return Err(StorageError::NotFound);
    }
    Ok(list)
}

/// A user's lists, in title order.
pub fn of_owner(conn: &mut DbConnection, owner_id: i64) -> StorageResult<Vec<List>> {
    Ok(lists::table
        .filter(lists::owner_id.eq(owner_id))
        .order((lists::title.asc(), lists::id.asc()))
        .select(List::as_select())
        .load(conn)?)
}

/// Changes title, replies policy and exclusivity.
pub fn update(conn: &mut DbConnection, list: &List) -> StorageResult<()> {
    crate::atomic(conn, |conn| {
        diesel::update(lists::table.find(list.id))
            .set((
                lists::title.eq(&list.title),
                lists::replies_policy.eq(&list.replies_policy),
                lists::exclusive.eq(list.exclusive),
            ))
            .execute(conn)?;
        Ok(())
    })
}

/// Deletes a list owned by `owner_id`.
pub fn delete(conn: &mut DbConnection, owner_id: i64, id: i64) -> StorageResult<()> {
    crate::atomic(conn, |conn| {
        get(conn, owner_id, id)?;
        diesel::delete(lists::table.find(id)).execute(conn)?;
        Ok(())
    })
}

/// Adds accounts to a list (already there: no-op).
pub fn add_members(conn: &mut DbConnection, list_id: i64, actor_ids: &[i64]) -> StorageResult<()> {
    crate::transaction(conn, |conn| {
        for &actor_id in actor_ids {
            let present: bool =
                diesel::select(diesel::dsl::exists(list_members::table.find((list_id, actor_id))))
                    .get_result(conn)?;
            if !present {
                diesel::insert_into(list_members::table)
                    .values((list_members::list_id.eq(list_id), list_members::actor_id.eq(actor_id)))
                    .execute(conn)?;
            }
        }
        Ok(())
    })
}

/// Removes accounts from a list.
pub fn remove_members(conn: &mut DbConnection, list_id: i64, actor_ids: &[i64]) -> StorageResult<()> {
    crate::atomic(conn, |conn| {
        diesel::delete(
            list_members::table
                .filter(list_members::list_id.eq(list_id))
                .filter(list_members::actor_id.eq_any(actor_ids)),
        )
        .execute(conn)?;
        Ok(())
    })
}

/// The accounts on a list.
pub fn members(conn: &mut DbConnection, list_id: i64) -> StorageResult<Vec<i64>> {
    Ok(list_members::table
        .filter(list_members::list_id.eq(list_id))
        .order(list_members::actor_id.asc())
        .select(list_members::actor_id)
        .load(conn)?)
}

/// The lists of `owner_id` that hold `actor_id`.
pub fn containing(conn: &mut DbConnection, owner_id: i64, actor_id: i64) -> StorageResult<Vec<List>> {
    Ok(lists::table
        .inner_join(list_members::table.on(list_members::list_id.eq(lists::id)))
        .filter(lists::owner_id.eq(owner_id))
        .filter(list_members::actor_id.eq(actor_id))
        .select(List::as_select())
        .load(conn)?)
}
