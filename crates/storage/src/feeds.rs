//! Home feeds, written when a status is stored (fan-out on write, as Mastodon keeps its home
//! feeds), so reading a home timeline costs one page however many statuses the server holds.
//!
//! `home_feed` holds candidates: each status that may belong in a local account's home
//! timeline. The rule itself stays in [`crate::timelines::home`], which walks its owner's rows
//! newest first and applies the whole rule to each row it reads. The table only has to be a
//! superset of the timeline, so a row is added for every reason a status may come to belong:
//!
//! - a status stored or changed ([`fan_out`]): its local author, the local accepted followers
//!   of its author (unless direct), the local members and moderators of its group, the local
//!   accounts it mentions, and the local followers of its hashtags (when public);
//! - a follow accepted, a moderator appointed, a hashtag followed ([`backfill`]): what that
//!   brings in, however old.
//!
//! Rows that no longer qualify are dropped when a follow, a moderator seat or a followed
//! hashtag ends ([`prune`]), so a feed stays dense; mutes, blocks and exclusive lists are left to
//! the read, which skips their rows.

use diesel::prelude::*;
use guildhall_core::model::{FollowState, Visibility};

use crate::schema::{home_feed, status_tags, statuses};
use crate::{DbConnection, StorageResult};

/// What brought a status into a feed after it was posted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source<'a> {
    /// An account (or group) now followed: its statuses, and those posted in it.
    Followed(i64),
    /// A group the owner now moderates: what was posted in it.
    Moderated(i64),
    /// A hashtag now followed (lower-case): its public statuses.
    Tag(&'a str),
}

/// Who a status reaches when it is stored or changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reach {
    /// Everyone: its author, its author's followers, its group's members and moderators, the
    /// accounts it mentions and the followers of its hashtags.
    All,
    /// The accounts it mentions (its mentions changed).
    Mentioned,
    /// The followers of its hashtags (its hashtags changed).
    TagFollowers,
}

/// Adds status `status_id` to the feed of every local account in `reach` it may belong to.
/// Idempotent: called again when the status, its group, its mentions or its hashtags change.
pub fn fan_out(conn: &mut DbConnection, status_id: i64, reach: Reach) -> StorageResult<()> {
    lock_status_sources(conn, status_id)?;
    let [all, mentioned, tag_followers] = &*FAN_OUT_SQL;
    let template = match reach {
        Reach::All => all,
        Reach::Mentioned => mentioned,
        Reach::TagFollowers => tag_followers,
    };
    WithStatusId { template, id: status_id }.execute(conn)?;
    Ok(())
}

/// The fan-out statement of each [`Reach`] (all, mentioned, tag followers), with `{id}` where the status id is
/// bound: one text per reach, so the connection prepares each once and reuses it (a statement
/// with the id written in is parsed and planned again for every status).
static FAN_OUT_SQL: std::sync::LazyLock<[String; 3]> = std::sync::LazyLock::new(|| {
    let accepted = FollowState::Accepted.as_str();
    let public = Visibility::Public.as_str();
    let direct = Visibility::Direct.as_str();
    let mentioned = "SELECT actor_id AS owner_id FROM status_mentions WHERE status_id = {id}".to_owned();
    let tag_followers = format!(
        "SELECT ft.actor_id AS owner_id FROM followed_tags ft JOIN status_tags st ON st.tag = ft.tag \
         JOIN statuses s ON s.id = st.status_id WHERE st.status_id = {{id}} AND s.visibility = '{public}'"
    );
    let all = format!(
        "SELECT actor_id AS owner_id FROM statuses WHERE id = {{id}} \
         UNION ALL SELECT f.follower_id FROM follows f JOIN statuses s ON f.target_id = s.actor_id \
             WHERE s.id = {{id}} AND f.state = '{accepted}' AND s.visibility <> '{direct}' \
         UNION ALL SELECT f.follower_id FROM follows f JOIN statuses s ON f.target_id = s.group_id \
             WHERE s.id = {{id}} AND f.state = '{accepted}' \
         UNION ALL SELECT m.actor_id FROM group_moderators m JOIN statuses s ON m.group_id = s.group_id \
             WHERE s.id = {{id}} \
         UNION ALL {mentioned} UNION ALL {tag_followers}"
    );
    let insert = |owners: &str| {
        format!(
            "INSERT INTO home_feed (owner_id, status_id) \
             SELECT DISTINCT owner_id, {{id}} FROM ({owners}) AS owners \
             WHERE EXISTS (SELECT 1 FROM actors WHERE actors.id = owners.owner_id AND actors.domain IS NULL) \
             ON CONFLICT DO NOTHING"
        )
    };
    [insert(&all), insert(&mentioned), insert(&tag_followers)]
});

/// A statement of ours with a status id bound wherever its text says `{id}`. Unlike
/// `sql_query`, which diesel never caches, it is prepared once per connection and text.
struct WithStatusId {
    template: &'static str,
    id: i64,
}

// No static query id: diesel then caches the prepared statement by its SQL text, which is what
// tells one reach from another. A static id would make every reach share one cache entry.
impl diesel::query_builder::QueryId for WithStatusId {
    type QueryId = ();
    const HAS_STATIC_QUERY_ID: bool = false;
}

impl<DB> diesel::query_builder::QueryFragment<DB> for WithStatusId
where
    DB: diesel::backend::Backend + diesel::sql_types::HasSqlType<diesel::sql_types::BigInt>,
    i64: diesel::serialize::ToSql<diesel::sql_types::BigInt, DB>,
{
    fn walk_ast<'b>(&'b self, mut out: diesel::query_builder::AstPass<'_, 'b, DB>) -> QueryResult<()> {
        for (i, part) in self.template.split("{id}").enumerate() {
            if i > 0 {
                out.push_bind_param::<diesel::sql_types::BigInt, _>(&self.id)?;
            }
            out.push_sql(part);
        }
        Ok(())
    }
}

impl<Conn> RunQueryDsl<Conn> for WithStatusId {}

/// On PostgreSQL, where a status and a follow may commit at the same moment and each miss the
/// other (read committed), makes the two wait for each other: a status being fanned out holds
/// its author, its group and its hashtags shared; a change of what a feed follows holds its
/// source ([`lock_source`]) exclusively. Whichever comes second then sees the first. SQLite
/// has one writer at a time and needs none of it.
fn lock_status_sources(conn: &mut DbConnection, status_id: i64) -> StorageResult<()> {
    if !conn.is_postgres() {
        return Ok(());
    }
    let id = status_id;
    diesel::sql_query(format!(
        "SELECT 1 FROM actors WHERE id IN (SELECT actor_id FROM statuses WHERE id = {id} \
             UNION SELECT group_id FROM statuses WHERE id = {id} AND group_id IS NOT NULL) \
         ORDER BY id FOR SHARE"
    ))
    .execute(conn)?;
    diesel::sql_query(format!(
        "SELECT pg_advisory_xact_lock_shared(hashtext('guildhall-tag:' || tag)) \
         FROM status_tags WHERE status_id = {id} ORDER BY tag"
    ))
    .execute(conn)?;
    Ok(())
}

/// Holds `source` exclusively until the transaction ends (PostgreSQL; see
/// [`lock_status_sources`]). Call it in the transaction that changes the follow, seat or
/// hashtag, before [`backfill`] or [`prune`].
pub fn lock_source(conn: &mut DbConnection, source: Source<'_>) -> StorageResult<()> {
    use diesel::sql_types::Text;
    if !conn.is_postgres() {
        return Ok(());
    }
    match source {
        Source::Followed(actor) | Source::Moderated(actor) => {
            diesel::sql_query(format!("SELECT 1 FROM actors WHERE id = {actor} FOR UPDATE")).execute(conn)?;
        }
        Source::Tag(tag) => {
            diesel::sql_query("SELECT pg_advisory_xact_lock(hashtext('guildhall-tag:' || $1))")
                .bind::<Text, _>(tag)
                .execute(conn)?;
        }
    }
    Ok(())
}

/// Adds to `owner`'s feed what `source` brings in, however old.
pub fn backfill(conn: &mut DbConnection, owner: i64, source: Source<'_>) -> StorageResult<()> {
    if !is_local(conn, owner)? {
        return Ok(());
    }
    let live = statuses::table.filter(statuses::deleted_at.is_null());
    let ids: Vec<i64> = match source {
        Source::Followed(target) => live
            .filter(
                statuses::actor_id
                    .eq(target)
                    .and(statuses::visibility.ne(Visibility::Direct.as_str()))
                    .or(statuses::group_id.eq(target)),
            )
            .select(statuses::id)
            .load(conn)?,
        Source::Moderated(group) => {
            live.filter(statuses::group_id.eq(group)).select(statuses::id).load(conn)?
        }
        Source::Tag(tag) => {
            live.filter(statuses::visibility.eq(Visibility::Public.as_str()))
                .filter(statuses::id.eq_any(
                    status_tags::table.filter(status_tags::tag.eq(tag)).select(status_tags::status_id),
                ))
                .select(statuses::id)
                .load(conn)?
        }
    };
    if ids.is_empty() {
        return Ok(());
    }
    for chunk in ids.chunks(500) {
        let values: Vec<String> = chunk.iter().map(|id| format!("({owner}, {id})")).collect();
        diesel::sql_query(format!(
            "INSERT INTO home_feed (owner_id, status_id) VALUES {} ON CONFLICT DO NOTHING",
            values.join(", ")
        ))
        .execute(conn)?;
    }
    Ok(())
}

/// Drops from `owner`'s feed the rows `source` brought in that no longer belong by any reason
/// (the follow, seat or hashtag having ended).
pub fn prune(conn: &mut DbConnection, owner: i64, source: Source<'_>) -> StorageResult<usize> {
    if !is_local(conn, owner)? {
        return Ok(0);
    }
    let in_scope: Box<
        dyn BoxableExpression<statuses::table, crate::MultiBackend, SqlType = diesel::sql_types::Bool>,
    > = match source {
        Source::Followed(target) => {
            Box::new(statuses::actor_id.eq(target).or(statuses::group_id.eq(target)).assume_not_null())
        }
        Source::Moderated(group) => Box::new(statuses::group_id.eq(group).assume_not_null()),
        Source::Tag(tag) => Box::new(statuses::id.eq_any(
            status_tags::table.filter(status_tags::tag.eq(tag.to_owned())).select(status_tags::status_id),
        )),
    };
    let gone = statuses::table
        .filter(in_scope)
        .filter(diesel::dsl::sql::<diesel::sql_types::Bool>(&format!(
            "NOT {}",
            crate::timelines::home_reasons_any(owner)
        )))
        .select(statuses::id)
        .load::<i64>(conn)?;
    let mut dropped = 0;
    for chunk in gone.chunks(500) {
        dropped += diesel::delete(
            home_feed::table.filter(home_feed::owner_id.eq(owner)).filter(home_feed::status_id.eq_any(chunk)),
        )
        .execute(conn)?;
    }
    Ok(dropped)
}

/// Up to `limit` candidate ids of `owner`'s feed within the bounds, newest first (oldest first
/// when `ascending`).
pub(crate) fn candidates(
    conn: &mut DbConnection,
    owner: i64,
    below: Option<i64>,
    above: Option<i64>,
    ascending: bool,
    limit: i64,
) -> StorageResult<Vec<i64>> {
    let mut query =
        home_feed::table.filter(home_feed::owner_id.eq(owner)).select(home_feed::status_id).into_boxed();
    if let Some(below) = below {
        query = query.filter(home_feed::status_id.lt(below));
    }
    if let Some(above) = above {
        query = query.filter(home_feed::status_id.gt(above));
    }
    query = if ascending {
        query.order(home_feed::status_id.asc())
    } else {
        query.order(home_feed::status_id.desc())
    };
    Ok(query.limit(limit).load(conn)?)
}

fn is_local(conn: &mut DbConnection, actor: i64) -> StorageResult<bool> {
    use crate::schema::actors;
    Ok(diesel::select(diesel::dsl::exists(actors::table.find(actor).filter(actors::domain.is_null())))
        .get_result(conn)?)
}

#[cfg(test)]
mod tests;
