//! Domains a user has blocked for themselves: nothing from there in their timelines or
//! notifications, and no follows with accounts there (as Mastodon).

use diesel::prelude::*;

use crate::schema::user_domain_blocks;
use crate::{DbConnection, StorageResult, now};

/// Most domains one user may block (a bound on what a client can make us store).
pub const MAX_PER_USER: i64 = 10_000;

/// Blocks `domain` (lower-case host) for `actor_id`; returns false when it was blocked already.
pub fn add(conn: &mut DbConnection, actor_id: i64, domain: &str) -> StorageResult<bool> {
    if is_blocked(conn, actor_id, domain)? {
        return Ok(false);
    }
    diesel::insert_into(user_domain_blocks::table)
        .values((
            user_domain_blocks::actor_id.eq(actor_id),
            user_domain_blocks::domain.eq(domain),
            user_domain_blocks::created_at.eq(now()),
        ))
        .execute(conn)?;
    Ok(true)
}

/// Unblocks `domain` for `actor_id`.
pub fn remove(conn: &mut DbConnection, actor_id: i64, domain: &str) -> StorageResult<bool> {
    crate::atomic(conn, |conn| {
        Ok(diesel::delete(user_domain_blocks::table.find((actor_id, domain))).execute(conn)? > 0)
    })
}

/// Whether `actor_id` blocked `domain`.
pub fn is_blocked(conn: &mut DbConnection, actor_id: i64, domain: &str) -> StorageResult<bool> {
    Ok(diesel::select(diesel::dsl::exists(user_domain_blocks::table.find((actor_id, domain))))
        .get_result(conn)?)
}

/// How many domains `actor_id` blocks.
pub fn count(conn: &mut DbConnection, actor_id: i64) -> StorageResult<i64> {
    Ok(user_domain_blocks::table
        .filter(user_domain_blocks::actor_id.eq(actor_id))
        .count()
        .get_result(conn)?)
}

/// A page of `actor_id`'s blocked domains, alphabetically after `after`.
pub fn list(
    conn: &mut DbConnection,
    actor_id: i64,
    after: Option<&str>,
    limit: i64,
) -> StorageResult<Vec<String>> {
    let mut query = user_domain_blocks::table
        .filter(user_domain_blocks::actor_id.eq(actor_id))
        .select(user_domain_blocks::domain)
        .order(user_domain_blocks::domain)
        .limit(limit)
        .into_boxed();
    if let Some(after) = after {
        query = query.filter(user_domain_blocks::domain.gt(after.to_owned()));
    }
    Ok(query.load(conn)?)
}

/// Every domain `actor_id` blocks (for filtering a page).
pub fn all(conn: &mut DbConnection, actor_id: i64) -> StorageResult<Vec<String>> {
    Ok(user_domain_blocks::table
        .filter(user_domain_blocks::actor_id.eq(actor_id))
        .select(user_domain_blocks::domain)
        .load(conn)?)
}

/// The accounts on `domain` that `actor_id` follows (or asked to), and those that follow it
/// (or asked to): the relationships a domain block severs.
pub fn relationships_with(
    conn: &mut DbConnection,
    actor_id: i64,
    domain: &str,
) -> StorageResult<(Vec<i64>, Vec<i64>)> {
    use crate::schema::{actors, follows};
    let on_domain = actors::table.filter(actors::domain.eq(domain)).select(actors::id);
    let followed = follows::table
        .filter(follows::follower_id.eq(actor_id))
        .filter(follows::target_id.eq_any(on_domain))
        .select(follows::target_id)
        .load(conn)?;
    let on_domain = actors::table.filter(actors::domain.eq(domain)).select(actors::id);
    let followers = follows::table
        .filter(follows::target_id.eq(actor_id))
        .filter(follows::follower_id.eq_any(on_domain))
        .select(follows::follower_id)
        .load(conn)?;
    Ok((followed, followers))
}
