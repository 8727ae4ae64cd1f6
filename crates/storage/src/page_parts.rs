//! Everything needed to render a page of statuses, loaded with one query per kind instead of
//! a dozen per status: authors and mentioned accounts, hashtags, attachments, counts, and the
//! viewer's own favourites, boosts, bookmarks and pins.

use std::collections::{HashMap, HashSet};

use diesel::prelude::*;

use crate::id_list::in_ids;

use crate::actors::Actor;
use crate::schema::{
    actors, bookmarks, favourites, follows, media_attachments, pins, status_mentions, status_tags, statuses,
};
use crate::status_parts::Attachment;
use crate::statuses::Status;
use crate::{DbConnection, StorageResult};

/// The parts of a page of statuses (and of the statuses they boost).
#[derive(Debug, Clone, Default)]
pub struct PageParts {
    /// The statuses covered.
    pub covered: HashSet<i64>,
    /// Whose view the viewer-specific parts are.
    pub viewer: Option<i64>,
    /// The statuses boosted by the page's boosts.
    pub originals: HashMap<i64, Status>,
    /// Authors and mentioned accounts.
    pub actors: HashMap<i64, Actor>,
    /// Mentioned account ids per status, in id order.
    pub mentions: HashMap<i64, Vec<i64>>,
    /// Hashtags per status, in name order.
    pub tags: HashMap<i64, Vec<String>>,
    /// Attachments per status, in position order.
    pub attachments: HashMap<i64, Vec<Attachment>>,
    /// Live replies per status.
    pub replies: HashMap<i64, i64>,
    /// Live boosts per status.
    pub boosts: HashMap<i64, i64>,
    /// Favourites per status.
    pub favourites: HashMap<i64, i64>,
    /// Statuses the viewer favourited.
    pub favourited: HashSet<i64>,
    /// Statuses the viewer boosted.
    pub boosted: HashSet<i64>,
    /// Statuses the viewer bookmarked.
    pub bookmarked: HashSet<i64>,
    /// Statuses the viewer pinned.
    pub pinned: HashSet<i64>,
    /// Statuses with a poll.
    pub polled: HashSet<i64>,
    /// Whether the viewer muted any conversation (if not, no status needs the check).
    pub mutes_conversations: bool,
    /// The counts shown on each author's account (authors of the page and of what it boosts).
    pub counts: HashMap<i64, AccountCounts>,
}

/// The counts an account entity shows, as [`crate::follows::count_followers`],
/// [`crate::follows::count_following`] and [`crate::statuses::count_public_by_actor`] give them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct AccountCounts {
    /// Accepted followers.
    pub followers: i64,
    /// Accepted follows.
    pub following: i64,
    /// Live public posts (boosts excluded).
    pub statuses: i64,
}

/// The counts of each of `authors`, three grouped queries for the whole page.
fn account_counts(conn: &mut DbConnection, authors: &[i64]) -> StorageResult<HashMap<i64, AccountCounts>> {
    use diesel::dsl::count_star;
    let accepted = guildhall_core::model::FollowState::Accepted.as_str();
    let followers: Vec<(i64, i64)> = follows::table
        .filter(in_ids(follows::target_id, authors))
        .filter(follows::state.eq(accepted))
        .group_by(follows::target_id)
        .select((follows::target_id, count_star()))
        .load(conn)?;
    let following: Vec<(i64, i64)> = follows::table
        .filter(in_ids(follows::follower_id, authors))
        .filter(follows::state.eq(accepted))
        .group_by(follows::follower_id)
        .select((follows::follower_id, count_star()))
        .load(conn)?;
    let posts: Vec<(i64, i64)> = statuses::table
        .filter(in_ids(statuses::actor_id, authors))
        .filter(statuses::deleted_at.is_null())
        .filter(statuses::reblog_of_id.is_null())
        // A literal, as in `count_public_by_actor`: PostgreSQL's partial index needs to see it.
        .filter(crate::id_list::StaticSql("statuses.visibility = 'public'"))
        .group_by(statuses::actor_id)
        .select((statuses::actor_id, count_star()))
        .load(conn)?;
    let mut counts: HashMap<i64, AccountCounts> =
        authors.iter().map(|a| (*a, AccountCounts::default())).collect();
    for (actor, n) in followers {
        counts.entry(actor).or_default().followers = n;
    }
    for (actor, n) in following {
        counts.entry(actor).or_default().following = n;
    }
    for (actor, n) in posts {
        counts.entry(actor).or_default().statuses = n;
    }
    Ok(counts)
}

fn tally(ids: Vec<i64>) -> HashMap<i64, i64> {
    let mut counts = HashMap::new();
    for id in ids {
        *counts.entry(id).or_insert(0) += 1;
    }
    counts
}

/// Loads the parts of `page` (and of what its boosts boost) for `viewer`.
pub fn load(conn: &mut DbConnection, page: &[Status], viewer: Option<i64>) -> StorageResult<PageParts> {
    let boosted_ids: Vec<i64> = page.iter().filter_map(|s| s.reblog_of_id).collect();
    let originals: Vec<Status> =
        statuses::table.filter(in_ids(statuses::id, &boosted_ids)).select(Status::as_select()).load(conn)?;
    let ids: Vec<i64> = page.iter().map(|s| s.id).chain(originals.iter().map(|s| s.id)).collect();

    let mention_rows: Vec<(i64, i64)> = status_mentions::table
        .filter(in_ids(status_mentions::status_id, &ids))
        .order((status_mentions::status_id, status_mentions::actor_id))
        .select((status_mentions::status_id, status_mentions::actor_id))
        .load(conn)?;
    let mut mentions: HashMap<i64, Vec<i64>> = HashMap::new();
    for (status, actor) in &mention_rows {
        mentions.entry(*status).or_default().push(*actor);
    }
    let actor_ids: Vec<i64> = page
        .iter()
        .chain(&originals)
        .map(|s| s.actor_id)
        .chain(mention_rows.iter().map(|(_, a)| *a))
        .collect();
    let actors: HashMap<i64, Actor> = actors::table
        .filter(in_ids(actors::id, &actor_ids))
        .select(Actor::as_select())
        .load::<Actor>(conn)?
        .into_iter()
        .map(|a| (a.id, a))
        .collect();

    let mut tags: HashMap<i64, Vec<String>> = HashMap::new();
    let tag_rows: Vec<(i64, String)> = status_tags::table
        .filter(in_ids(status_tags::status_id, &ids))
        .order((status_tags::status_id, status_tags::tag))
        .select((status_tags::status_id, status_tags::tag))
        .load(conn)?;
    for (status, tag) in tag_rows {
        tags.entry(status).or_default().push(tag);
    }
    let mut attachments: HashMap<i64, Vec<Attachment>> = HashMap::new();
    let media: Vec<Attachment> = media_attachments::table
        .filter(in_ids(media_attachments::status_id, &ids))
        .order((media_attachments::status_id, media_attachments::position))
        .select(Attachment::as_select())
        .load(conn)?;
    for m in media {
        if let Some(status) = m.status_id {
            attachments.entry(status).or_default().push(m);
        }
    }

    let replies: Vec<Option<i64>> = statuses::table
        .filter(in_ids(statuses::in_reply_to_id, &ids))
        .filter(statuses::deleted_at.is_null())
        .select(statuses::in_reply_to_id)
        .load(conn)?;
    let boosts: Vec<(Option<i64>, i64)> = statuses::table
        .filter(in_ids(statuses::reblog_of_id, &ids))
        .filter(statuses::deleted_at.is_null())
        .select((statuses::reblog_of_id, statuses::actor_id))
        .load(conn)?;
    let likes: Vec<(i64, i64)> = favourites::table
        .filter(in_ids(favourites::status_id, &ids))
        .select((favourites::status_id, favourites::actor_id))
        .load(conn)?;

    let polled: HashSet<i64> = crate::schema::polls::table
        .filter(in_ids(crate::schema::polls::status_id, &ids))
        .select(crate::schema::polls::status_id)
        .load::<i64>(conn)?
        .into_iter()
        .collect();
    let mut authors: Vec<i64> = page.iter().chain(&originals).map(|s| s.actor_id).collect();
    authors.sort_unstable();
    authors.dedup();
    let mut parts = PageParts {
        counts: account_counts(conn, &authors)?,
        polled,
        covered: ids.iter().copied().collect(),
        viewer,
        originals: originals.into_iter().map(|s| (s.id, s)).collect(),
        actors,
        mentions,
        tags,
        attachments,
        replies: tally(replies.into_iter().flatten().collect()),
        boosts: tally(boosts.iter().filter_map(|(s, _)| *s).collect()),
        favourites: tally(likes.iter().map(|(s, _)| *s).collect()),
        ..PageParts::default()
    };
    if let Some(v) = viewer {
        parts.mutes_conversations = diesel::select(diesel::dsl::exists(
            crate::schema::conversation_mutes::table
                .filter(crate::schema::conversation_mutes::actor_id.eq(v)),
        ))
        .get_result(conn)?;
        parts.favourited = likes.iter().filter(|(_, a)| *a == v).map(|(s, _)| *s).collect();
        parts.boosted = boosts.iter().filter(|(_, a)| *a == v).filter_map(|(s, _)| *s).collect();
        parts.bookmarked = bookmarks::table
            .filter(bookmarks::actor_id.eq(v))
            .filter(in_ids(bookmarks::status_id, &ids))
            .select(bookmarks::status_id)
            .load::<i64>(conn)?
            .into_iter()
            .collect();
        parts.pinned = pins::table
            .filter(pins::actor_id.eq(v))
            .filter(in_ids(pins::status_id, &ids))
            .select(pins::status_id)
            .load::<i64>(conn)?
            .into_iter()
            .collect();
    }
    Ok(parts)
}
