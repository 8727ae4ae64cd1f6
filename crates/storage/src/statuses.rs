//! Statuses: local and remote posts, replies and boosts.

use diesel::prelude::*;
use guildhall_core::model::Visibility;

use crate::schema::statuses;
use crate::{DbConnection, StorageError, StorageResult, Timestamp, now, parse_text};

/// One status row. A boost is a status whose `reblog_of_id` points at the boosted one.
#[derive(Debug, Clone, PartialEq, Queryable, QueryableByName, Selectable, Insertable, AsChangeset)]
#[diesel(table_name = statuses, treat_none_as_null = true)]
pub struct Status {
    /// Our id (time-sortable).
    pub id: i64,
    /// The ActivityPub id of the object (or of the Announce, for a boost).
    pub ap_id: String,
    /// The HTML page of the status.
    pub url: Option<String>,
    /// The author.
    pub actor_id: i64,
    /// Written on this instance.
    pub local: bool,
    /// ActivityPub type: `Note`, `Article`, `Page`, `Question`.
    pub kind: String,
    /// The parent, when known locally.
    pub in_reply_to_id: Option<i64>,
    /// The parent's ActivityPub id, kept even before the parent is fetched.
    pub in_reply_to_ap_id: Option<String>,
    /// The parent's author.
    pub in_reply_to_actor_id: Option<i64>,
    /// The boosted status, for boosts.
    pub reblog_of_id: Option<i64>,
    /// The group the status was posted into (`audience`).
    pub group_id: Option<i64>,
    /// [`Visibility`] spelling.
    pub visibility: String,
    /// Title (`name`), for Lemmy pages and articles.
    pub title: Option<String>,
    /// Sanitized HTML.
    pub content: String,
    /// The text as typed, for local statuses (for editing).
    pub source: Option<String>,
    /// Content warning (`summary`).
    pub spoiler_text: String,
    /// Media marked sensitive.
    pub sensitive: bool,
    /// BCP 47 language tag.
    pub language: Option<String>,
    /// When it was published.
    pub published_at: Timestamp,
    /// When it was last edited.
    pub edited_at: Option<Timestamp>,
    /// When it was deleted (the row stays so the id answers 410).
    pub deleted_at: Option<Timestamp>,
    /// Row creation.
    pub created_at: Timestamp,
    /// Last row change.
    pub updated_at: Timestamp,
}

impl Status {
    /// Who may see it.
    pub fn visibility(&self) -> StorageResult<Visibility> {
        parse_text(&self.visibility, Visibility::parse)
    }

    /// Whether the status has `visibility` (a stored value we cannot read is none).
    pub fn is(&self, visibility: Visibility) -> bool {
        self.visibility().is_ok_and(|v| v == visibility)
    }
}

/// Stores a new status.
pub fn insert(conn: &mut DbConnection, status: &Status) -> StorageResult<()> {
    crate::transaction(conn, |conn| {
        diesel::insert_into(statuses::table).values(status).execute(conn)?;
        crate::wakeups::mark(crate::wakeups::Change::Streams);
        crate::feeds::fan_out(conn, status.id, crate::feeds::Reach::All)
    })
}

/// Replaces the editable fields of a status. When what readers see changed (text, content
/// warning, sensitivity), the earlier version goes into the edit history and `edited_at` is
/// stamped.
pub fn update(conn: &mut DbConnection, status: &Status) -> StorageResult<()> {
    crate::transaction(conn, |conn| {
        let before = get(conn, status.id)?;
        let changed = before.content != status.content
            || before.spoiler_text != status.spoiler_text
            || before.sensitive != status.sensitive;
        if changed {
            crate::edits::record(conn, &before)?;
        }
        let edited_at = if changed { Some(now()) } else { status.edited_at.or(before.edited_at) };
        let edited = Status { edited_at, updated_at: now(), ..status.clone() };
        let changed = diesel::update(statuses::table.find(status.id)).set(&edited).execute(conn)?;
        crate::wakeups::mark(crate::wakeups::Change::Streams);
        if changed == 0 {
            return Err(StorageError::NotFound);
        }
        crate::feeds::fan_out(conn, status.id, crate::feeds::Reach::All)
    })
}

/// The status with this id, if it exists.
pub fn find(conn: &mut DbConnection, id: i64) -> StorageResult<Option<Status>> {
    Ok(statuses::table.find(id).select(Status::as_select()).first(conn).optional()?)
}

/// The status with this id (deleted ones included; check `deleted_at`).
pub fn get(conn: &mut DbConnection, id: i64) -> StorageResult<Status> {
    // `get_result`, not `first`: a unique key needs no `LIMIT ?`, whose bound value makes
    // SQLite prepare the statement again on every run (a hot lookup: 46 µs against 10).
    Ok(statuses::table.find(id).select(Status::as_select()).get_result(conn)?)
}

/// The status with this ActivityPub id, if known.
pub fn find_by_ap_id(conn: &mut DbConnection, ap_id: &str) -> StorageResult<Option<Status>> {
    // A unique key: `get_result` (see `get`).
    Ok(statuses::table
        .filter(statuses::ap_id.eq(ap_id))
        .select(Status::as_select())
        .get_result(conn)
        .optional()?)
}

/// Puts a status into a group, or takes it out of one.
pub fn set_group(conn: &mut DbConnection, id: i64, group_id: Option<i64>) -> StorageResult<()> {
    crate::transaction(conn, |conn| {
        diesel::update(statuses::table.find(id)).set(statuses::group_id.eq(group_id)).execute(conn)?;
        crate::feeds::fan_out(conn, id, crate::feeds::Reach::All)
    })
}

/// Whether `actor_id` has a live post in group `group_id`.
pub fn has_post_in_group(conn: &mut DbConnection, actor_id: i64, group_id: i64) -> StorageResult<bool> {
    let found: Option<i64> = statuses::table
        .filter(statuses::actor_id.eq(actor_id))
        .filter(statuses::group_id.eq(group_id))
        .filter(statuses::deleted_at.is_null())
        .select(statuses::id)
        .first(conn)
        .optional()?;
    Ok(found.is_some())
}

/// Marks a status deleted and blanks its content; its boosts and edit history go with it.
pub fn mark_deleted(conn: &mut DbConnection, id: i64) -> StorageResult<()> {
    crate::transaction(conn, |conn| {
        let stamp = now();
        let changed = diesel::update(statuses::table.find(id))
            .set((
                statuses::deleted_at.eq(Some(stamp)),
                statuses::content.eq(""),
                statuses::source.eq(None::<String>),
                statuses::updated_at.eq(stamp),
            ))
            .execute(conn)?;
        if changed == 0 {
            return Err(StorageError::NotFound);
        }
        crate::wakeups::mark(crate::wakeups::Change::Streams);
        // Earlier versions go with it: deleted text is not kept.
        diesel::delete(
            crate::schema::status_edits::table.filter(crate::schema::status_edits::status_id.eq(id)),
        )
        .execute(conn)?;
        diesel::update(statuses::table.filter(statuses::reblog_of_id.eq(id)))
            .set(statuses::deleted_at.eq(Some(stamp)))
            .execute(conn)?;
        Ok(())
    })
}

/// Live statuses of one actor, newest first, older than `max_id` when given.
pub fn by_actor(
    conn: &mut DbConnection,
    actor_id: i64,
    max_id: Option<i64>,
    limit: i64,
) -> StorageResult<Vec<Status>> {
    let mut query = statuses::table
        .filter(statuses::actor_id.eq(actor_id))
        .filter(statuses::deleted_at.is_null())
        .into_boxed();
    if let Some(max) = max_id {
        query = query.filter(statuses::id.lt(max));
    }
    Ok(query.order(statuses::id.desc()).limit(limit).select(Status::as_select()).load(conn)?)
}

/// Live public statuses of one actor (no boosts), newest first, older than `max_id` if given.
pub fn public_by_actor(
    conn: &mut DbConnection,
    actor_id: i64,
    max_id: Option<i64>,
    limit: i64,
) -> StorageResult<Vec<Status>> {
    let mut query = statuses::table
        .filter(statuses::actor_id.eq(actor_id))
        .filter(statuses::deleted_at.is_null())
        .filter(statuses::reblog_of_id.is_null())
        // A literal, as in `count_public_by_actor`: a partial index is matched against the
        // query's text, and neither SQLite (built with QPSG) nor PostgreSQL's generic plans
        // see a bound value.
        .filter(diesel::dsl::sql::<diesel::sql_types::Bool>("statuses.visibility = 'public'"))
        .into_boxed();
    if let Some(max) = max_id {
        query = query.filter(statuses::id.lt(max));
    }
    Ok(query.order(statuses::id.desc()).limit(limit).select(Status::as_select()).load(conn)?)
}

/// How many live public statuses (no boosts) an actor has.
pub fn count_public_by_actor(conn: &mut DbConnection, actor_id: i64) -> StorageResult<i64> {
    Ok(statuses::table
        .filter(statuses::actor_id.eq(actor_id))
        .filter(statuses::deleted_at.is_null())
        .filter(statuses::reblog_of_id.is_null())
        // A literal, not a bound value: PostgreSQL's generic plans use the partial index
        // `statuses_actor_public` only when they can see the value.
        .filter(diesel::dsl::sql::<diesel::sql_types::Bool>("statuses.visibility = 'public'"))
        .count()
        .get_result(conn)?)
}

/// How many live replies each of `ids` has: `(id, count)` for those with any.
pub fn reply_counts(conn: &mut DbConnection, ids: &[i64]) -> StorageResult<Vec<(i64, i64)>> {
    let mut counts = Vec::new();
    for chunk in ids.chunks(1_000) {
        let rows: Vec<(Option<i64>, i64)> = statuses::table
            .filter(statuses::in_reply_to_id.eq_any(chunk))
            .filter(statuses::deleted_at.is_null())
            .group_by(statuses::in_reply_to_id)
            .select((statuses::in_reply_to_id, diesel::dsl::count_star()))
            .load(conn)?;
        counts.extend(rows.into_iter().filter_map(|(id, n)| id.map(|id| (id, n))));
    }
    Ok(counts)
}

/// How many live replies and live boosts a status has.
pub fn reply_and_boost_counts(conn: &mut DbConnection, id: i64) -> StorageResult<(i64, i64)> {
    let replies = statuses::table
        .filter(statuses::in_reply_to_id.eq(id))
        .filter(statuses::deleted_at.is_null())
        .count()
        .get_result(conn)?;
    let boosts = statuses::table
        .filter(statuses::reblog_of_id.eq(id))
        .filter(statuses::deleted_at.is_null())
        .count()
        .get_result(conn)?;
    Ok((replies, boosts))
}

/// True when `actor_id` has a live boost of the status.
pub fn boosted_by(conn: &mut DbConnection, id: i64, actor_id: i64) -> StorageResult<bool> {
    let found = statuses::table
        .filter(statuses::reblog_of_id.eq(id))
        .filter(statuses::actor_id.eq(actor_id))
        .filter(statuses::deleted_at.is_null())
        .select(statuses::id)
        .first::<i64>(conn)
        .optional()?;
    Ok(found.is_some())
}

/// Boosts of a status (deleted ones included).
pub fn boosts_of(conn: &mut DbConnection, id: i64) -> StorageResult<Vec<Status>> {
    Ok(statuses::table
        .filter(statuses::reblog_of_id.eq(id))
        .order(statuses::id)
        .select(Status::as_select())
        .load(conn)?)
}

/// Live direct replies to a status, oldest first.
pub fn replies(conn: &mut DbConnection, id: i64) -> StorageResult<Vec<Status>> {
    Ok(statuses::table
        .filter(statuses::in_reply_to_id.eq(id))
        .filter(statuses::deleted_at.is_null())
        .order(statuses::id.asc())
        .select(Status::as_select())
        .load(conn)?)
}

/// The first `limit` live replies to `id`, oldest first (pages for strangers read no more).
pub fn first_replies(conn: &mut DbConnection, id: i64, limit: i64) -> StorageResult<Vec<Status>> {
    Ok(statuses::table
        .filter(statuses::in_reply_to_id.eq(id))
        .filter(statuses::deleted_at.is_null())
        .order(statuses::id.asc())
        .limit(limit)
        .select(Status::as_select())
        .load(conn)?)
}

/// The first `limit` live replies to any of `ids`, oldest first (one level of a thread).
pub fn first_replies_of(conn: &mut DbConnection, ids: &[i64], limit: i64) -> StorageResult<Vec<Status>> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    Ok(statuses::table
        .filter(statuses::in_reply_to_id.eq_any(ids))
        .filter(statuses::deleted_at.is_null())
        .order(statuses::id.asc())
        .limit(limit)
        .select(Status::as_select())
        .load(conn)?)
}

/// Links statuses that arrived before their parent to it, once the parent is stored.
/// Returns how many were linked.
pub fn adopt_orphans(conn: &mut DbConnection, parent: &Status) -> StorageResult<usize> {
    Ok(diesel::update(
        statuses::table
            .filter(statuses::in_reply_to_ap_id.eq(&parent.ap_id))
            .filter(statuses::in_reply_to_id.is_null()),
    )
    .set((
        statuses::in_reply_to_id.eq(Some(parent.id)),
        statuses::in_reply_to_actor_id.eq(Some(parent.actor_id)),
    ))
    .execute(conn)?)
}

/// Number of live local top-level statuses and replies (boosts excluded), for NodeInfo.
pub fn count_local(conn: &mut DbConnection) -> StorageResult<i64> {
    Ok(statuses::table
        .filter(statuses::local.eq(true))
        .filter(statuses::deleted_at.is_null())
        .filter(statuses::reblog_of_id.is_null())
        .count()
        .get_result(conn)?)
}

#[cfg(test)]
mod tests;
