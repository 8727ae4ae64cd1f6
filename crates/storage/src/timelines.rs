//! Timelines: which statuses a viewer sees, newest first, paged by id.
//!
//! Visibility rules live here, in one place: public and unlisted statuses of followed actors,
//! followers-only ones only while the follow is accepted, direct ones only to the mentioned,
//! group posts to the group's members, nothing from an actor the viewer blocks or is blocked by.

use diesel::dsl::exists;
use diesel::prelude::*;
use guildhall_core::model::{FollowState, Visibility};

use crate::id_list::{StaticSql, in_ids};
use crate::schema::{actors, blocks, status_mentions, statuses};
use crate::statuses::Status;
use crate::{DbConnection, StorageResult};

/// Paging as the Mastodon API does it: `max_id` (older than), `since_id` (newer than, newest
/// first), `min_id` (newer than, oldest first — the page just after `min_id`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Page {
    /// Only ids below this.
    pub max_id: Option<i64>,
    /// Only ids above this (newest first).
    pub since_id: Option<i64>,
    /// Only ids above this (the oldest ones first, returned newest first).
    pub min_id: Option<i64>,
    /// Page size.
    pub limit: i64,
}

impl Default for Page {
    fn default() -> Self {
        Page { max_id: None, since_id: None, min_id: None, limit: 20 }
    }
}

type StatusQuery<'a> = statuses::BoxedQuery<'a, crate::MultiBackend>;

fn paged(conn: &mut DbConnection, mut query: StatusQuery<'_>, page: &Page) -> StorageResult<Vec<Status>> {
    if let Some(max) = page.max_id {
        query = query.filter(statuses::id.lt(max));
    }
    if let Some(since) = page.since_id {
        query = query.filter(statuses::id.gt(since));
    }
    match page.min_id {
        Some(min) => {
            let mut rows: Vec<Status> = query
                .filter(statuses::id.gt(min))
                .order(statuses::id.asc())
                .limit(page.limit)
                .select(Status::as_select())
                .load(conn)?;
            rows.reverse();
            Ok(rows)
        }
        None => {
            Ok(query.order(statuses::id.desc()).limit(page.limit).select(Status::as_select()).load(conn)?)
        }
    }
}

/// The home timeline of local actor `viewer`: its own statuses and boosts, those of actors it
/// follows (followers-only ones while accepted), statuses that mention it, and statuses posted
/// in the groups it is a member or moderator of, and public statuses with hashtags it follows.
/// Muted accounts (their posts and boosts of them) and members of its exclusive lists stay out
/// (expired mutes count until [`crate::mutes::prune_expired`] drops them).
///
/// Read from the viewer's feed ([`crate::feeds`]): its candidates are taken newest first a
/// batch at a time and each is checked against the whole rule, so the cost is a page and what
/// the rule skips, not the size of the statuses table.
pub fn home(conn: &mut DbConnection, viewer: i64, page: &Page) -> StorageResult<Vec<Status>> {
    walk(
        conn,
        page,
        |c, below, above, ascending, n| crate::feeds::candidates(c, viewer, below, above, ascending, n),
        |c, ids, ascending| {
            let text = HOME_CHECK[usize::from(ascending)].as_str();
            Ok(crate::id_list::ViewerQuery::new(text, viewer, ids).load(c)?)
        },
    )
}

/// What the SQL builders below may write in for the viewer: an id, or the `{viewer}` marker
/// of a template ([`crate::id_list::ViewerQuery`]). Nothing else implements it, so no text
/// from a request can reach them.
pub(crate) trait ViewerSql: std::fmt::Display + Copy {}

impl ViewerSql for i64 {}

/// The `{viewer}` marker, bound when the statement runs.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ViewerMarker;

impl std::fmt::Display for ViewerMarker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("{viewer}")
    }
}

impl ViewerSql for ViewerMarker {}

/// The statement that keeps the home timeline's candidates that belong, newest first and
/// oldest first: the viewer and the candidates are bound, so it is prepared once per
/// connection (it is long: planning it for every page cost more than running it).
static HOME_CHECK: std::sync::LazyLock<[String; 2]> = std::sync::LazyLock::new(|| {
    let rule = format!("{} AND {}", home_includes(ViewerMarker), home_excludes(ViewerMarker));
    ["DESC", "ASC"].map(|order| {
        format!(
            "SELECT * FROM statuses WHERE id {{ids}} AND deleted_at IS NULL AND {rule} ORDER BY id {order}"
        )
    })
});

/// A page read along an index of candidate ids: candidates are taken a batch at a time in
/// order and `check` keeps those that belong (in the same order), until the page is full or
/// the candidates run out. The cost is a page plus what `check` skips, not the table's size.
fn walk(
    conn: &mut DbConnection,
    page: &Page,
    mut candidates: impl FnMut(&mut DbConnection, Option<i64>, Option<i64>, bool, i64) -> StorageResult<Vec<i64>>,
    mut check: impl FnMut(&mut DbConnection, &[i64], bool) -> StorageResult<Vec<Status>>,
) -> StorageResult<Vec<Status>> {
    let limit = page.limit.max(0);
    let ascending = page.min_id.is_some();
    let mut batch = (limit * 2).clamp(40, 400);
    let mut below = page.max_id;
    let mut above = match (page.since_id, page.min_id) {
        (Some(a), Some(b)) => Some(a.max(b)),
        (a, b) => a.or(b),
    };
    let mut out: Vec<Status> = Vec::new();
    while (out.len() as i64) < limit {
        let ids = candidates(conn, below, above, ascending, batch)?;
        let Some(&last) = ids.last() else { break };
        let rows = check(conn, &ids, ascending)?;
        out.extend(rows.into_iter().take(usize::try_from(limit).unwrap_or(0).saturating_sub(out.len())));
        if (ids.len() as i64) < batch {
            break;
        }
        if ascending {
            above = Some(last);
        } else {
            below = Some(last);
        }
        // Mostly skipped rows (a muted account's, say): take bigger steps.
        batch = (batch * 2).min(2_000);
    }
    if ascending {
        out.reverse();
    }
    Ok(out)
}

/// SQL over a `statuses` row: why it may be in `viewer`'s home timeline (see [`home`]). Only
/// our own integer is formatted in.
pub(crate) fn home_includes(viewer: impl ViewerSql) -> String {
    home_reasons(viewer, true)
}

/// SQL over a `statuses` row: whether any reason of [`home_includes`] holds, with an accepted
/// follow counting even when the author is on one of `viewer`'s exclusive lists (that can
/// change without touching the feed). Never NULL. [`crate::feeds::prune`] keeps what matches.
pub(crate) fn home_reasons_any(viewer: impl ViewerSql) -> String {
    format!("COALESCE({}, FALSE)", home_reasons(viewer, false))
}

fn home_reasons(viewer: impl ViewerSql, lists: bool) -> String {
    let listed = if lists {
        format!(
            "AND (actor_id + 0) NOT IN (SELECT list_members.actor_id FROM list_members \
               JOIN lists ON lists.id = list_members.list_id WHERE lists.owner_id = {viewer} AND lists.exclusive)"
        )
    } else {
        String::new()
    };
    format!(
        "((actor_id + 0) = {viewer} \
           OR ((actor_id + 0) IN (SELECT target_id FROM follows WHERE follower_id = {viewer} AND state = 'accepted') \
               AND visibility IN ('public', 'unlisted', 'private') {listed}) \
           OR (id + 0) IN (SELECT status_id FROM status_mentions WHERE actor_id = {viewer}) \
           OR (group_id IS NOT NULL AND (group_id + 0) IN (SELECT target_id FROM follows \
               WHERE follower_id = {viewer} AND state = 'accepted')) \
           OR (group_id IS NOT NULL AND (group_id + 0) IN (SELECT group_id FROM group_moderators \
               WHERE actor_id = {viewer})) \
           OR (visibility = 'public' AND (id + 0) IN (SELECT status_id FROM status_tags \
               WHERE tag IN (SELECT tag FROM followed_tags WHERE actor_id = {viewer}))))"
    )
}

/// SQL over a `statuses` row: what keeps it out of `viewer`'s home timeline even so (mutes,
/// hidden boosts, blocks, blocked domains).
pub(crate) fn home_excludes(viewer: impl ViewerSql) -> String {
    format!(
        "(actor_id + 0) NOT IN (SELECT target_id FROM mutes WHERE actor_id = {viewer}) \
         AND (reblog_of_id IS NULL OR (actor_id + 0) NOT IN (SELECT target_id FROM follows \
              WHERE follower_id = {viewer} AND show_reblogs = FALSE)) \
         AND (reblog_of_id IS NULL OR reblog_of_id NOT IN (SELECT id FROM statuses AS muted \
              WHERE muted.actor_id IN (SELECT target_id FROM mutes WHERE actor_id = {viewer}))) \
         AND NOT EXISTS (SELECT 1 FROM blocks WHERE (blocks.actor_id = {viewer} AND blocks.target_id = statuses.actor_id) \
                                             OR (blocks.target_id = {viewer} AND blocks.actor_id = statuses.actor_id)) \
         AND {domains}",
        domains = not_from_blocked_domain(viewer),
    )
}

/// A list's timeline for its owner: statuses of the list's members that the owner may see
/// (followers-only ones of accounts it follows), replies as the list's policy says.
///
/// Read member by member along the author index, a page each, and merged: the cost is the
/// list's size times a page, not the size of the statuses table.
pub fn list(conn: &mut DbConnection, list: &crate::lists::List, page: &Page) -> StorageResult<Vec<Status>> {
    let mut rows = Vec::new();
    for member in crate::lists::members(conn, list.id)? {
        rows.extend(list_member(conn, list, member, page)?);
    }
    let limit = usize::try_from(page.limit.max(0)).unwrap_or(0);
    if page.min_id.is_some() {
        // Each member gave the oldest page above `min_id`; the list's is the oldest of them.
        rows.sort_by_key(|s| s.id);
        rows.truncate(limit);
        rows.reverse();
    } else {
        rows.sort_by_key(|s| std::cmp::Reverse(s.id));
        rows.truncate(limit);
    }
    Ok(rows)
}

/// Whether `status` is on `list`'s timeline ([`list`]'s rule), reading only its author's part:
/// the streaming API asks this for every new status on every open list stream.
pub fn in_list(conn: &mut DbConnection, list: &crate::lists::List, status: &Status) -> StorageResult<bool> {
    use crate::schema::list_members;
    let member = diesel::select(exists(
        list_members::table
            .filter(list_members::list_id.eq(list.id))
            .filter(list_members::actor_id.eq(status.actor_id)),
    ))
    .get_result::<bool>(conn)?;
    if !member {
        return Ok(false);
    }
    let around = Page { max_id: Some(status.id + 1), since_id: Some(status.id - 1), min_id: None, limit: 1 };
    Ok(list_member(conn, list, status.actor_id, &around)?.iter().any(|s| s.id == status.id))
}

/// One member's part of [`list`].
fn list_member(
    conn: &mut DbConnection,
    list: &crate::lists::List,
    member: i64,
    page: &Page,
) -> StorageResult<Vec<Status>> {
    use crate::schema::{follows, list_members};
    let owner = list.owner_id;
    let followed = follows::table
        .filter(follows::follower_id.eq(owner))
        .filter(follows::state.eq(FollowState::Accepted.as_str()))
        .select(follows::target_id);
    let mut query = statuses::table
        .filter(statuses::deleted_at.is_null())
        .filter(statuses::actor_id.eq(member))
        .filter(open_visibility().or(
            statuses::visibility.eq(Visibility::Private.as_str()).and(statuses::actor_id.eq_any(followed)),
        ))
        .filter(not_blocked(owner))
        .into_boxed();
    let not_reply = statuses::in_reply_to_ap_id.is_null();
    query = match list.replies_policy.as_str() {
        "none" => query.filter(not_reply),
        "list" => {
            let members = list_members::table
                .filter(list_members::list_id.eq(list.id))
                .select(list_members::actor_id.nullable());
            query.filter(
                not_reply
                    .or(statuses::in_reply_to_actor_id.eq(owner))
                    .or(statuses::in_reply_to_actor_id.eq_any(members)),
            )
        }
        _ => {
            let followed = follows::table
                .filter(follows::follower_id.eq(owner))
                .filter(follows::state.eq(FollowState::Accepted.as_str()))
                .select(follows::target_id.nullable());
            query.filter(
                not_reply
                    .or(statuses::in_reply_to_actor_id.eq(owner))
                    .or(statuses::in_reply_to_actor_id.eq_any(followed)),
            )
        }
    };
    paged(conn, query, page)
}

/// Direct statuses `viewer` wrote or was addressed in, newest first (the conversations view).
pub fn direct(conn: &mut DbConnection, viewer: i64, page: &Page) -> StorageResult<Vec<Status>> {
    let mentioning = status_mentions::table
        .filter(status_mentions::actor_id.eq(viewer))
        .select(status_mentions::status_id);
    let query = statuses::table
        .filter(statuses::deleted_at.is_null())
        .filter(statuses::visibility.eq(Visibility::Direct.as_str()))
        .filter(statuses::group_id.is_null())
        .filter(statuses::actor_id.eq(viewer).or(statuses::id.eq_any(mentioning)))
        .filter(not_blocked(viewer))
        .into_boxed();
    paged(conn, query, page)
}

/// Public or unlisted, written out (`eq_any` of a list is never a cached statement).
#[allow(clippy::type_complexity)]
fn open_visibility() -> diesel::dsl::Or<
    diesel::dsl::Eq<statuses::visibility, &'static str>,
    diesel::dsl::Eq<statuses::visibility, &'static str>,
> {
    statuses::visibility
        .eq(Visibility::Public.as_str())
        .or(statuses::visibility.eq(Visibility::Unlisted.as_str()))
}

/// Statuses whose author neither blocks nor is blocked by `viewer`.
fn not_blocked(
    viewer: i64,
) -> Box<dyn BoxableExpression<statuses::table, crate::MultiBackend, SqlType = diesel::sql_types::Bool>> {
    Box::new(
        diesel::dsl::not(exists(
            blocks::table.filter(
                blocks::actor_id
                    .eq(viewer)
                    .and(blocks::target_id.eq(statuses::actor_id))
                    .or(blocks::target_id.eq(viewer).and(blocks::actor_id.eq(statuses::actor_id))),
            ),
        ))
        .and(diesel::dsl::sql::<diesel::sql_types::Bool>(&not_from_blocked_domain(viewer))),
    )
}

/// SQL: the status (and what it boosts) is not by an account on a domain `viewer` blocked.
/// Only our own integer is formatted in.
fn not_from_blocked_domain(viewer: impl ViewerSql) -> String {
    let by = |author: &str| {
        format!(
            "NOT EXISTS (SELECT 1 FROM actors ua JOIN user_domain_blocks ud \
               ON ud.actor_id = {viewer} AND ud.domain = ua.domain WHERE ua.id = {author})"
        )
    };
    format!(
        "{} AND (statuses.reblog_of_id IS NULL OR {})",
        by("statuses.actor_id"),
        by("(SELECT ur.actor_id FROM statuses AS ur WHERE ur.id = statuses.reblog_of_id)")
    )
}

/// Which public statuses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// From everywhere.
    All,
    /// Local only.
    Local,
    /// Remote only.
    Remote,
}

/// The public timeline: public, original (not boosts) statuses; `viewer`'s blocks honoured.
pub fn public(
    conn: &mut DbConnection,
    scope: Scope,
    viewer: Option<i64>,
    page: &Page,
) -> StorageResult<Vec<Status>> {
    let mut query = statuses::table
        .filter(statuses::deleted_at.is_null())
        .filter(statuses::reblog_of_id.is_null())
        .filter(statuses::visibility.eq(Visibility::Public.as_str()))
        .into_boxed();
    query = match scope {
        Scope::All => query,
        Scope::Local => query.filter(statuses::local.eq(true)),
        Scope::Remote => query.filter(statuses::local.eq(false)),
    };
    if let Some(viewer) = viewer {
        query = query.filter(not_blocked(viewer));
    }
    query = query.filter(StaticSql(crate::instance_blocks::NOT_LIMITED));
    if !matches!(scope, Scope::Local) {
        query = query.filter(StaticSql(crate::instance_blocks::NOT_ON_HIDDEN_DOMAIN));
    }
    paged(conn, query, page)
}

/// Public statuses carrying hashtag `tag`, newest first; read along the hashtag's own index,
/// so the cost does not grow with the rest of the server.
pub fn tagged(
    conn: &mut DbConnection,
    tag: &str,
    viewer: Option<i64>,
    page: &Page,
) -> StorageResult<Vec<Status>> {
    use crate::schema::status_tags;
    let tag = tag.to_lowercase();
    walk(
        conn,
        page,
        |c, below, above, ascending, n| {
            let mut q = status_tags::table
                .filter(status_tags::tag.eq(&tag))
                .select(status_tags::status_id)
                .into_boxed();
            if let Some(below) = below {
                q = q.filter(status_tags::status_id.lt(below));
            }
            if let Some(above) = above {
                q = q.filter(status_tags::status_id.gt(above));
            }
            q = if ascending {
                q.order(status_tags::status_id.asc())
            } else {
                q.order(status_tags::status_id.desc())
            };
            Ok(q.limit(n).load(c)?)
        },
        |c, ids, ascending| {
            let mut query = statuses::table
                .filter(in_ids(statuses::id, ids))
                .filter(statuses::deleted_at.is_null())
                .filter(statuses::visibility.eq(Visibility::Public.as_str()))
                .filter(StaticSql(crate::instance_blocks::NOT_LIMITED))
                .filter(StaticSql(crate::instance_blocks::NOT_ON_HIDDEN_DOMAIN))
                .into_boxed();
            if let Some(viewer) = viewer {
                query = query.filter(not_blocked(viewer));
            }
            query =
                if ascending { query.order(statuses::id.asc()) } else { query.order(statuses::id.desc()) };
            Ok(query.select(Status::as_select()).load(c)?)
        },
    )
}

/// The threads started in a group (its top-level posts, no boosts), newest first, as
/// [`account`] shows a group's statuses to `viewer`; read along the group's own index, so the
/// cost does not grow with the rest of the server. (The `+ 0` and `|| ''` keep the reply
/// indexes, which would walk every top-level post of the server, out of the plan.)
pub fn group_threads(
    conn: &mut DbConnection,
    group: i64,
    viewer: Option<i64>,
    page: &Page,
) -> StorageResult<Vec<Status>> {
    let member = match viewer {
        Some(v) => crate::groups::is_member(conn, group, v)? || crate::groups::is_moderator(conn, group, v)?,
        None => false,
    };
    if !member && crate::actors::get(conn, group)?.members_only {
        return Ok(Vec::new());
    }
    let mut query = statuses::table
        .filter(statuses::group_id.eq(group))
        .filter(statuses::deleted_at.is_null())
        .filter(statuses::reblog_of_id.is_null())
        .filter(StaticSql(
            "(statuses.in_reply_to_id + 0) IS NULL AND (statuses.in_reply_to_ap_id || '') IS NULL",
        ))
        .into_boxed();
    if !member {
        query = query.filter(open_visibility());
    }
    if let Some(viewer) = viewer {
        query = query.filter(not_blocked(viewer));
    }
    paged(conn, query, page)
}

/// What a group shows as its statuses: what was posted in it and what it posted or boosted
/// itself. Members (and moderators of a local group) see everything; others only public and
/// unlisted posts.
fn group_statuses(
    conn: &mut DbConnection,
    group: i64,
    viewer: Option<i64>,
    exclude_replies: bool,
    page: &Page,
) -> StorageResult<Vec<Status>> {
    let member = match viewer {
        Some(v) => crate::groups::is_member(conn, group, v)? || crate::groups::is_moderator(conn, group, v)?,
        None => false,
    };
    if !member && crate::actors::get(conn, group)?.members_only {
        return Ok(Vec::new());
    }
    let mut query = statuses::table
        .filter(statuses::group_id.eq(group).or(statuses::actor_id.eq(group)))
        .filter(statuses::deleted_at.is_null())
        .into_boxed();
    if !member {
        query = query.filter(open_visibility());
    }
    if exclude_replies {
        query = query.filter(statuses::in_reply_to_id.is_null().and(statuses::in_reply_to_ap_id.is_null()));
    }
    if let Some(viewer) = viewer {
        query = query.filter(not_blocked(viewer));
    }
    paged(conn, query, page)
}

/// An account's statuses as `viewer` may see them: public and unlisted always, followers-only
/// when `viewer` follows (or is the author), direct when mentioned. A group's are what was
/// posted in it.
pub fn account(
    conn: &mut DbConnection,
    author: i64,
    viewer: Option<i64>,
    exclude_replies: bool,
    exclude_reblogs: bool,
    page: &Page,
) -> StorageResult<Vec<Status>> {
    if crate::actors::get(conn, author)?.is(guildhall_core::model::ActorKind::Group) {
        return group_statuses(conn, author, viewer, exclude_replies, page);
    }
    let mut query = statuses::table
        .filter(statuses::actor_id.eq(author))
        .filter(statuses::deleted_at.is_null())
        .into_boxed();
    query = match viewer {
        Some(v) if v == author => query,
        Some(v) => {
            let follows_author = crate::follows::find(conn, v, author)?
                .is_some_and(|f| f.state == FollowState::Accepted.as_str());
            let mentioning = status_mentions::table
                .filter(status_mentions::actor_id.eq(v))
                .select(status_mentions::status_id);
            let base = open_visibility().or(statuses::id.eq_any(mentioning));
            if follows_author {
                query.filter(base.or(statuses::visibility.eq(Visibility::Private.as_str())))
            } else {
                query.filter(base)
            }
        }
        None => query.filter(open_visibility()),
    };
    if exclude_replies {
        query = query.filter(statuses::in_reply_to_id.is_null().and(statuses::in_reply_to_ap_id.is_null()));
    }
    if exclude_reblogs {
        query = query.filter(statuses::reblog_of_id.is_null());
    }
    paged(conn, query, page)
}

/// Whether `viewer` (none: anonymous) may see `status`.
pub fn may_see(conn: &mut DbConnection, status: &Status, viewer: Option<i64>) -> StorageResult<bool> {
    if status.deleted_at.is_some() {
        return Ok(false);
    }
    let visibility = status.visibility()?;
    if matches!(visibility, Visibility::Public | Visibility::Unlisted) {
        return Ok(viewer.is_none_or(|v| !crate::blocks::between(conn, v, status.actor_id).unwrap_or(false)));
    }
    let Some(viewer) = viewer else { return Ok(false) };
    if viewer == status.actor_id || crate::status_parts::mentions(conn, status.id)?.contains(&viewer) {
        return Ok(true);
    }
    if let Some(group) = status.group_id
        && (crate::groups::is_member(conn, group, viewer)?
            || crate::groups::is_moderator(conn, group, viewer)?)
    {
        return Ok(true);
    }
    Ok(visibility == Visibility::Private
        && crate::follows::find(conn, viewer, status.actor_id)?
            .is_some_and(|f| f.state == FollowState::Accepted.as_str()))
}

/// The statuses of `list` that `viewer` may see, in order: [`may_see`] for each, with the
/// blocks between the viewer and the authors read in one query instead of two per status.
pub fn visible(
    conn: &mut DbConnection,
    list: Vec<Status>,
    viewer: Option<i64>,
) -> StorageResult<Vec<Status>> {
    let authors: Vec<i64> = list.iter().map(|s| s.actor_id).collect();
    let blocked: std::collections::HashSet<i64> = match viewer {
        Some(v) => blocks::table
            .filter(
                blocks::actor_id
                    .eq(v)
                    .and(in_ids(blocks::target_id, &authors))
                    .or(blocks::target_id.eq(v).and(in_ids(blocks::actor_id, &authors))),
            )
            .select((blocks::actor_id, blocks::target_id))
            .load::<(i64, i64)>(conn)?
            .into_iter()
            .map(|(a, t)| if a == v { t } else { a })
            .collect(),
        None => Default::default(),
    };
    let mut out = Vec::with_capacity(list.len());
    for s in list {
        let open = s.is(Visibility::Public) || s.is(Visibility::Unlisted);
        let seen = match (open, s.deleted_at.is_some()) {
            (_, true) => false,
            // The rule of `may_see` for public and unlisted posts, on the blocks read above.
            (true, false) => !blocked.contains(&s.actor_id),
            (false, false) => may_see(conn, &s, viewer)?,
        };
        if seen {
            out.push(s);
        }
    }
    Ok(out)
}

/// Actors by id, for rendering a page of statuses.
pub fn actors_by_id(conn: &mut DbConnection, ids: &[i64]) -> StorageResult<Vec<crate::actors::Actor>> {
    Ok(actors::table.filter(in_ids(actors::id, ids)).select(crate::actors::Actor::as_select()).load(conn)?)
}

#[cfg(test)]
mod tests;
