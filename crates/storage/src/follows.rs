//! Follows, pending and accepted. Following a group is membership.

use diesel::prelude::*;
use guildhall_core::Id;
use guildhall_core::model::FollowState;

use crate::schema::{actors, follows};
use crate::{DbConnection, StorageResult, Timestamp, now, parse_text};

/// One follow (or follow request).
#[derive(Debug, Clone, PartialEq, Queryable, Selectable, Insertable)]
#[diesel(table_name = follows)]
pub struct Follow {
    /// Our id.
    pub id: i64,
    /// Who follows.
    pub follower_id: i64,
    /// Who is followed.
    pub target_id: i64,
    /// [`FollowState`] spelling.
    pub state: String,
    /// The id of the `Follow` activity (ours or the remote one).
    pub ap_id: Option<String>,
    /// Row creation.
    pub created_at: Timestamp,
    /// Last row change.
    pub updated_at: Timestamp,
}

impl Follow {
    /// Pending or accepted.
    pub fn state(&self) -> StorageResult<FollowState> {
        parse_text(&self.state, FollowState::parse)
    }

    /// Whether the follow is in `state` (a stored state we cannot read is none).
    pub fn is(&self, state: FollowState) -> bool {
        self.state().is_ok_and(|s| s == state)
    }
}

/// Records that `follower` follows (or asks to follow) `target`. Following again updates the
/// existing row's state and activity id instead of adding a second row.
pub fn upsert(
    conn: &mut DbConnection,
    follower_id: i64,
    target_id: i64,
    state: FollowState,
    ap_id: Option<&str>,
) -> StorageResult<Follow> {
    crate::transaction(conn, |conn| {
        let stamp = now();
        if let Some(existing) = find(conn, follower_id, target_id)? {
            diesel::update(follows::table.find(existing.id))
                .set((
                    follows::state.eq(state.as_str()),
                    follows::ap_id.eq(ap_id),
                    follows::updated_at.eq(stamp),
                ))
                .execute(conn)?;
            // Only a change into or out of accepted changes the feed.
            if (state == FollowState::Accepted) != existing.is(FollowState::Accepted) {
                refeed(conn, follower_id, target_id, state == FollowState::Accepted)?;
            }
            return find(conn, follower_id, target_id)?.ok_or(crate::StorageError::NotFound);
        }
        let row = Follow {
            id: Id::generate().0,
            follower_id,
            target_id,
            state: state.as_str().to_owned(),
            ap_id: ap_id.map(str::to_owned),
            created_at: stamp,
            updated_at: stamp,
        };
        diesel::insert_into(follows::table).values(&row).execute(conn)?;
        if state == FollowState::Accepted {
            refeed(conn, follower_id, target_id, true)?;
        }
        Ok(row)
    })
}

/// A follower's choices about a followed account.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FollowOptions {
    /// A `status` notification for each new post.
    pub notify: bool,
    /// Its boosts in the home timeline.
    pub show_reblogs: bool,
}

impl Default for FollowOptions {
    fn default() -> FollowOptions {
        FollowOptions { notify: false, show_reblogs: true }
    }
}

/// The choices of `follower` about `target` (the defaults when there is no follow).
pub fn options(conn: &mut DbConnection, follower_id: i64, target_id: i64) -> StorageResult<FollowOptions> {
    let found: Option<(bool, bool)> = follows::table
        .filter(follows::follower_id.eq(follower_id))
        .filter(follows::target_id.eq(target_id))
        .select((follows::notify, follows::show_reblogs))
        .first(conn)
        .optional()?;
    Ok(found
        .map_or_else(FollowOptions::default, |(notify, show_reblogs)| FollowOptions { notify, show_reblogs }))
}

/// Changes the choices of `follower` about `target` (`None` keeps one); false when there is
/// no follow.
pub fn set_options(
    conn: &mut DbConnection,
    follower_id: i64,
    target_id: i64,
    notify: Option<bool>,
    show_reblogs: Option<bool>,
) -> StorageResult<bool> {
    crate::atomic(conn, |conn| {
        let current = options(conn, follower_id, target_id)?;
        let changed = diesel::update(
            follows::table
                .filter(follows::follower_id.eq(follower_id))
                .filter(follows::target_id.eq(target_id)),
        )
        .set((
            follows::notify.eq(notify.unwrap_or(current.notify)),
            follows::show_reblogs.eq(show_reblogs.unwrap_or(current.show_reblogs)),
        ))
        .execute(conn)?;
        Ok(changed > 0)
    })
}

/// How many follow requests wait for `target_id`'s answer.
pub fn count_pending(conn: &mut DbConnection, target_id: i64) -> StorageResult<i64> {
    Ok(follows::table
        .filter(follows::target_id.eq(target_id))
        .filter(follows::state.eq(FollowState::Pending.as_str()))
        .count()
        .get_result(conn)?)
}

/// Local followers (accepted) who asked to be notified of `target_id`'s new posts.
pub fn subscribers(conn: &mut DbConnection, target_id: i64) -> StorageResult<Vec<i64>> {
    Ok(follows::table
        .filter(follows::target_id.eq(target_id))
        .filter(follows::notify.eq(true))
        .filter(follows::state.eq(FollowState::Accepted.as_str()))
        .select(follows::follower_id)
        .load(conn)?)
}

/// The follow from `follower` to `target`, if any.
pub fn find(conn: &mut DbConnection, follower_id: i64, target_id: i64) -> StorageResult<Option<Follow>> {
    Ok(follows::table
        .filter(follows::follower_id.eq(follower_id))
        .filter(follows::target_id.eq(target_id))
        .select(Follow::as_select())
        .first(conn)
        .optional()?)
}

/// The follow whose `Follow` activity has this id (to handle `Accept`/`Reject`/`Undo`).
pub fn find_by_ap_id(conn: &mut DbConnection, ap_id: &str) -> StorageResult<Option<Follow>> {
    Ok(follows::table.filter(follows::ap_id.eq(ap_id)).select(Follow::as_select()).first(conn).optional()?)
}

/// Accepts a pending follow. Returns false when there was none.
pub fn accept(conn: &mut DbConnection, follower_id: i64, target_id: i64) -> StorageResult<bool> {
    crate::transaction(conn, |conn| {
        let Some(existing) = find(conn, follower_id, target_id)? else { return Ok(false) };
        diesel::update(follows::table.find(existing.id))
            .set((follows::state.eq(FollowState::Accepted.as_str()), follows::updated_at.eq(now())))
            .execute(conn)?;
        // A repeated Accept brings nothing new in.
        if !existing.is(FollowState::Accepted) {
            refeed(conn, follower_id, target_id, true)?;
        }
        Ok(true)
    })
}

/// Removes a follow or request (unfollow, reject, leave). Returns false when there was none.
pub fn remove(conn: &mut DbConnection, follower_id: i64, target_id: i64) -> StorageResult<bool> {
    crate::transaction(conn, |conn| remove_in(conn, follower_id, target_id))
}

fn remove_in(conn: &mut DbConnection, follower_id: i64, target_id: i64) -> StorageResult<bool> {
    let was_member = find(conn, follower_id, target_id)?.is_some_and(|f| f.is(FollowState::Accepted));
    let deleted = diesel::delete(
        follows::table.filter(follows::follower_id.eq(follower_id)).filter(follows::target_id.eq(target_id)),
    )
    .execute(conn)?;
    // Leaving a group ends its mail to the member (a refused or withdrawn request does not:
    // anyone may read a public group by mail).
    if was_member {
        crate::mail::remove_member(conn, target_id, follower_id)?;
        refeed(conn, follower_id, target_id, false)?;
    }
    Ok(deleted > 0)
}

/// Brings the follower's home feed in line with the follow: what it brings in now that it is
/// `accepted`, or what it no longer does now that it is not (pending, or gone).
fn refeed(conn: &mut DbConnection, follower_id: i64, target_id: i64, accepted: bool) -> StorageResult<()> {
    let source = crate::feeds::Source::Followed(target_id);
    crate::feeds::lock_source(conn, source)?;
    if accepted {
        crate::feeds::backfill(conn, follower_id, source)
    } else {
        crate::feeds::prune(conn, follower_id, source).map(drop)
    }
}

/// Removes every follow from and to an actor (account gone, or a block between two).
pub fn remove_all_of(conn: &mut DbConnection, actor_id: i64) -> StorageResult<usize> {
    crate::atomic(conn, |conn| {
        crate::mail::remove_all_of(conn, actor_id)?;
        Ok(diesel::delete(
            follows::table.filter(follows::follower_id.eq(actor_id).or(follows::target_id.eq(actor_id))),
        )
        .execute(conn)?)
    })
}

/// Removes follows in both directions between two actors (on a block).
pub fn remove_between(conn: &mut DbConnection, a: i64, b: i64) -> StorageResult<()> {
    remove(conn, a, b)?;
    remove(conn, b, a)?;
    Ok(())
}

/// Actor ids following `target` in the given state, oldest first.
pub fn followers(conn: &mut DbConnection, target_id: i64, state: FollowState) -> StorageResult<Vec<i64>> {
    Ok(follows::table
        .filter(follows::target_id.eq(target_id))
        .filter(follows::state.eq(state.as_str()))
        .order(follows::id)
        .select(follows::follower_id)
        .load(conn)?)
}

/// How many accepted followers `target` has.
pub fn count_followers(conn: &mut DbConnection, target_id: i64) -> StorageResult<i64> {
    Ok(follows::table
        .filter(follows::target_id.eq(target_id))
        .filter(follows::state.eq(FollowState::Accepted.as_str()))
        .count()
        .get_result(conn)?)
}

/// How many actors `follower` follows (accepted).
pub fn count_following(conn: &mut DbConnection, follower_id: i64) -> StorageResult<i64> {
    Ok(follows::table
        .filter(follows::follower_id.eq(follower_id))
        .filter(follows::state.eq(FollowState::Accepted.as_str()))
        .count()
        .get_result(conn)?)
}

/// Actor ids `follower` follows (accepted only), oldest first.
pub fn following(conn: &mut DbConnection, follower_id: i64) -> StorageResult<Vec<i64>> {
    Ok(follows::table
        .filter(follows::follower_id.eq(follower_id))
        .filter(follows::state.eq(FollowState::Accepted.as_str()))
        .order(follows::id)
        .select(follows::target_id)
        .load(conn)?)
}

/// The distinct inboxes (shared where available) of the live remote accepted followers of
/// `target`: where a followers-only activity must be delivered, once per inbox.
pub fn follower_inboxes(conn: &mut DbConnection, target_id: i64) -> StorageResult<Vec<String>> {
    let rows: Vec<(String, Option<String>)> = follows::table
        .inner_join(actors::table.on(actors::id.eq(follows::follower_id)))
        .filter(follows::target_id.eq(target_id))
        .filter(follows::state.eq(FollowState::Accepted.as_str()))
        .filter(actors::domain.is_not_null())
        .filter(actors::deleted_at.is_null())
        .select((actors::inbox_url, actors::shared_inbox_url))
        .load(conn)?;
    let mut inboxes: Vec<String> = rows.into_iter().map(|(inbox, shared)| shared.unwrap_or(inbox)).collect();
    inboxes.sort();
    inboxes.dedup();
    Ok(inboxes)
}

/// Like [`follower_inboxes`], with the software each inbox's server runs (from NodeInfo, when
/// known): groups send Mastodon-family servers a plain form of what they relay.
pub fn follower_inboxes_with_software(
    conn: &mut DbConnection,
    target_id: i64,
) -> StorageResult<Vec<(String, Option<String>)>> {
    use crate::schema::instances;
    let rows: Vec<(String, Option<String>, Option<String>)> = follows::table
        .inner_join(actors::table.on(actors::id.eq(follows::follower_id)))
        .left_join(instances::table.on(instances::id.nullable().eq(actors::instance_id)))
        .filter(follows::target_id.eq(target_id))
        .filter(follows::state.eq(FollowState::Accepted.as_str()))
        .filter(actors::domain.is_not_null())
        .filter(actors::deleted_at.is_null())
        .select((actors::inbox_url, actors::shared_inbox_url, instances::software.nullable()))
        .load(conn)?;
    let mut inboxes: Vec<(String, Option<String>)> =
        rows.into_iter().map(|(inbox, shared, software)| (shared.unwrap_or(inbox), software)).collect();
    inboxes.sort();
    inboxes.dedup_by(|a, b| a.0 == b.0);
    Ok(inboxes)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::actors;
    use crate::testing::{each_backend, rows};

    #[tokio::test]
    async fn request_accept_and_unfollow() {
        each_backend(|db| async move {
            db.run(|c| {
                let ada = rows::local("ada");
                actors::insert_local(c, &ada, "K")?;
                let eve = actors::upsert_remote(c, &rows::remote("eve", "remote.example"))?;
                let f = upsert(c, eve.id, ada.id, FollowState::Pending, Some("https://remote.example/f/1"))?;
                assert_eq!(f.state()?, FollowState::Pending);
                assert!(followers(c, ada.id, FollowState::Accepted)?.is_empty());
                assert_eq!(find_by_ap_id(c, "https://remote.example/f/1")?.map(|f| f.id), Some(f.id));
                assert!(accept(c, eve.id, ada.id)?);
                assert_eq!(followers(c, ada.id, FollowState::Accepted)?, vec![eve.id]);
                assert_eq!(following(c, eve.id)?, vec![ada.id]);
                assert_eq!((count_followers(c, ada.id)?, count_following(c, eve.id)?), (1, 1));
                let again =
                    upsert(c, eve.id, ada.id, FollowState::Accepted, Some("https://remote.example/f/2"))?;
                assert_eq!(again.id, f.id, "following twice keeps one row");
                assert!(remove(c, eve.id, ada.id)?);
                assert!(!remove(c, eve.id, ada.id)?);
                assert!(!accept(c, eve.id, ada.id)?);
                assert!(find(c, eve.id, ada.id)?.is_none());
                upsert(c, eve.id, ada.id, FollowState::Accepted, None)?;
                upsert(c, ada.id, eve.id, FollowState::Accepted, None)?;
                assert_eq!(remove_all_of(c, eve.id)?, 2);
                upsert(c, ada.id, eve.id, FollowState::Accepted, None)?;
                remove_between(c, eve.id, ada.id)?;
                assert!(find(c, ada.id, eve.id)?.is_none());
                Ok(())
            })
            .await
            .unwrap();
        })
        .await;
    }

    #[tokio::test]
    async fn follower_inboxes_are_distinct_shared_inboxes_of_accepted_remote_followers() {
        each_backend(|db| async move {
            db.run(|c| {
                let ada = rows::local("ada");
                actors::insert_local(c, &ada, "K")?;
                let bob = rows::local("bob");
                actors::insert_local(c, &bob, "K")?;
                let mut no_shared = rows::remote("solo", "b.example");
                no_shared.shared_inbox_url = None;
                let remotes = [
                    actors::upsert_remote(c, &rows::remote("eve", "a.example"))?,
                    actors::upsert_remote(c, &rows::remote("fay", "a.example"))?,
                    actors::upsert_remote(c, &no_shared)?,
                ];
                for r in &remotes {
                    upsert(c, r.id, ada.id, FollowState::Accepted, None)?;
                }
                let pending = actors::upsert_remote(c, &rows::remote("pat", "c.example"))?;
                upsert(c, pending.id, ada.id, FollowState::Pending, None)?;
                upsert(c, bob.id, ada.id, FollowState::Accepted, None)?;
                let gone = actors::upsert_remote(c, &rows::remote("gone", "d.example"))?;
                upsert(c, gone.id, ada.id, FollowState::Accepted, None)?;
                actors::mark_deleted(c, gone.id)?;
                assert_eq!(
                    follower_inboxes(c, ada.id)?,
                    vec!["https://a.example/inbox", "https://b.example/users/solo/inbox"]
                );
                Ok(())
            })
            .await
            .unwrap();
        })
        .await;
    }
}
