//! The feed-read home timeline against the rule read straight off the statuses table, through
//! a long random run of everything that changes a home timeline.

use guildhall_core::model::{ActorKind, FollowState, Visibility};

use crate::actors::Actor;
use crate::statuses::Status;
use crate::testing::{each_backend, rows};
use crate::timelines::{Page, home, home_excludes, home_includes};
use crate::{
    DbConnection, StorageResult, actors, blocks, followed_tags, follows, groups, lists, mutes, status_parts,
    statuses,
};

/// A small deterministic generator, so a failure replays.
struct Dice(u64);

impl Dice {
    fn roll(&mut self, n: usize) -> usize {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 % n as u64) as usize
    }

    fn pick<'a, T>(&mut self, from: &'a [T]) -> &'a T {
        &from[self.roll(from.len())]
    }
}

/// Every status of `viewer`'s home timeline, by the rule alone (the query before feeds).
fn by_rule(c: &mut DbConnection, viewer: i64) -> StorageResult<Vec<i64>> {
    use diesel::RunQueryDsl;
    let rows: Vec<Status> = diesel::sql_query(format!(
        "SELECT * FROM statuses WHERE deleted_at IS NULL AND {} AND {} ORDER BY id DESC",
        home_includes(viewer),
        home_excludes(viewer)
    ))
    .load(c)?;
    Ok(rows.into_iter().map(|s| s.id).collect())
}

/// Every status of `viewer`'s home timeline, read from the feed a page of `limit` at a time.
fn by_feed(c: &mut DbConnection, viewer: i64, limit: i64) -> StorageResult<Vec<i64>> {
    let mut all = Vec::new();
    let mut page = Page { limit, ..Page::default() };
    loop {
        let got: Vec<i64> = home(c, viewer, &page)?.iter().map(|s| s.id).collect();
        assert!(got.len() as i64 <= limit);
        let Some(&last) = got.last() else { return Ok(all) };
        all.extend(got);
        page.max_id = Some(last);
    }
}

#[tokio::test]
async fn the_feed_gives_exactly_what_the_rule_gives() {
    each_backend(|db| async move {
        db.run(|c| {
            let mut dice = Dice(0x9e37_79b9_7f4a_7c15);
            let locals: Vec<Actor> = ["ada", "bob", "cat"].iter().map(|n| rows::local(n)).collect();
            for a in &locals {
                actors::insert_local(c, a, "K")?;
            }
            let mut group = rows::local("guild");
            group.kind = ActorKind::Group.as_str().into();
            actors::insert_local(c, &group, "K")?;
            let mut remote_group = rows::remote("club", "g.example");
            remote_group.kind = ActorKind::Group.as_str().into();
            let remote_group = actors::upsert_remote(c, &remote_group)?;
            let remotes: Vec<Actor> = [("eve", "r.example"), ("zed", "r.example"), ("kim", "s.example")]
                .iter()
                .map(|(n, d)| actors::upsert_remote(c, &rows::remote(n, d)))
                .collect::<StorageResult<_>>()?;
            let people: Vec<Actor> = locals.iter().chain(&remotes).cloned().collect();
            let groups_ = [group.clone(), remote_group.clone()];
            let targets: Vec<Actor> = people.iter().chain(&groups_).cloned().collect();
            let visibilities =
                [Visibility::Public, Visibility::Unlisted, Visibility::Private, Visibility::Direct];
            let tags = ["museums".to_owned(), "archives".to_owned()];
            let mut posted: Vec<Status> = Vec::new();
            let mut exclusive = lists::create(c, locals[0].id, "quiet", "followed", true)?;
            for step in 0..600 {
                match dice.roll(20) {
                    0..=7 => {
                        let author = dice.pick(&people).clone();
                        let mut s = rows::status(&author, &format!("post {step}"));
                        s.visibility = dice.pick(&visibilities).as_str().into();
                        if dice.roll(4) == 0 {
                            s.group_id = Some(dice.pick(&groups_).id);
                        }
                        if dice.roll(6) == 0
                            && let Some(target) = posted.get(dice.roll(posted.len().max(1)))
                        {
                            // A boost.
                            s.reblog_of_id = Some(target.id);
                        }
                        statuses::insert(c, &s)?;
                        if dice.roll(3) == 0 {
                            status_parts::replace_mentions(c, s.id, &[dice.pick(&people).id])?;
                        }
                        if dice.roll(3) == 0 {
                            status_parts::replace_tags(c, s.id, &[dice.pick(&tags).clone()])?;
                        }
                        posted.push(s);
                    }
                    8..=9 => {
                        let state =
                            if dice.roll(3) == 0 { FollowState::Pending } else { FollowState::Accepted };
                        let (from, to) = (dice.pick(&people).id, dice.pick(&targets).id);
                        if from != to {
                            follows::upsert(c, from, to, state, None)?;
                        }
                    }
                    10 => {
                        follows::accept(c, dice.pick(&people).id, dice.pick(&targets).id)?;
                    }
                    11 => {
                        follows::remove(c, dice.pick(&locals).id, dice.pick(&targets).id)?;
                    }
                    12 => {
                        let (who, tag) = (dice.pick(&locals).id, dice.pick(&tags).clone());
                        if dice.roll(2) == 0 {
                            followed_tags::follow(c, who, &tag)?;
                        } else {
                            followed_tags::unfollow(c, who, &tag)?;
                        }
                    }
                    13 => {
                        let who = dice.pick(&locals).id;
                        if dice.roll(2) == 0 {
                            groups::add_moderator(c, group.id, who)?;
                        } else {
                            groups::remove_moderator(c, group.id, who)?;
                        }
                    }
                    14 => {
                        let (who, whom) = (dice.pick(&locals).id, dice.pick(&people).id);
                        if who != whom {
                            if dice.roll(2) == 0 {
                                mutes::add(c, who, whom, false, None)?;
                            } else {
                                mutes::remove(c, who, whom)?;
                            }
                        }
                    }
                    15 => {
                        let (who, whom) = (dice.pick(&people).id, dice.pick(&people).id);
                        if who != whom {
                            if dice.roll(3) == 0 {
                                blocks::add(c, who, whom, None)?;
                            } else {
                                blocks::remove(c, who, whom)?;
                            }
                        }
                    }
                    16 => {
                        if let Some(s) = posted.get(dice.roll(posted.len().max(1))) {
                            statuses::mark_deleted(c, s.id)?;
                        }
                    }
                    17 => {
                        if let Some(s) = posted.get(dice.roll(posted.len().max(1))) {
                            let into = if dice.roll(2) == 0 { Some(dice.pick(&groups_).id) } else { None };
                            statuses::set_group(c, s.id, into)?;
                        }
                    }
                    18 => {
                        let member = dice.pick(&people).id;
                        match dice.roll(5) {
                            0 => {
                                // The list stops (or starts) keeping its members out of home.
                                exclusive.exclusive = !exclusive.exclusive;
                                lists::update(c, &exclusive)?;
                            }
                            1 | 2 => lists::add_members(c, exclusive.id, &[member])?,
                            _ => lists::remove_members(c, exclusive.id, &[member])?,
                        }
                    }
                    _ => {
                        if let Some(s) = posted.get(dice.roll(posted.len().max(1))) {
                            status_parts::replace_mentions(c, s.id, &[dice.pick(&people).id])?;
                        }
                    }
                }
                if step % 50 == 49 {
                    for viewer in &locals {
                        let expected = by_rule(c, viewer.id)?;
                        for limit in [1, 7, 40] {
                            assert_eq!(
                                by_feed(c, viewer.id, limit)?,
                                expected,
                                "{} at step {step}",
                                viewer.username
                            );
                        }
                        // Newer than an id, oldest first.
                        if let Some(&pivot) = expected.get(expected.len() / 2) {
                            let page = Page { min_id: Some(pivot), limit: 5, ..Page::default() };
                            let newer: Vec<i64> = home(c, viewer.id, &page)?.iter().map(|s| s.id).collect();
                            let above: Vec<i64> = expected.iter().copied().filter(|id| *id > pivot).collect();
                            assert_eq!(newer, above[above.len().saturating_sub(5)..].to_vec());
                        }
                    }
                }
            }
            // The run reached timelines of some size.
            let longest = locals
                .iter()
                .map(|v| by_rule(c, v.id).map(|l| l.len()))
                .collect::<StorageResult<Vec<_>>>()?;
            assert!(longest.iter().any(|n| *n > 60), "timelines stayed short: {longest:?}");
            Ok(())
        })
        .await
        .unwrap();
    })
    .await;
}

#[tokio::test]
async fn an_unfollow_takes_its_rows_out_and_keeps_the_rest() {
    each_backend(|db| async move {
        db.run(|c| {
            let ada = rows::local("ada");
            actors::insert_local(c, &ada, "K")?;
            let eve = actors::upsert_remote(c, &rows::remote("eve", "r.example"))?;
            // Following someone else too: the rule's group branches are NULL for a post in no
            // group then, which must not keep a row that no longer belongs.
            let zed = actors::upsert_remote(c, &rows::remote("zed", "r.example"))?;
            follows::upsert(c, ada.id, zed.id, FollowState::Accepted, None)?;
            follows::upsert(c, ada.id, eve.id, FollowState::Accepted, None)?;
            let plain = rows::status(&eve, "plain");
            statuses::insert(c, &plain)?;
            let mentioning = rows::status(&eve, "hi @ada");
            statuses::insert(c, &mentioning)?;
            status_parts::replace_mentions(c, mentioning.id, &[ada.id])?;
            let rows_of = |c: &mut DbConnection| -> StorageResult<Vec<i64>> {
                use crate::schema::home_feed;
                use diesel::prelude::*;
                Ok(home_feed::table
                    .filter(home_feed::owner_id.eq(ada.id))
                    .order(home_feed::status_id)
                    .select(home_feed::status_id)
                    .load(c)?)
            };
            assert_eq!(rows_of(c)?, vec![plain.id, mentioning.id]);
            follows::remove(c, ada.id, eve.id)?;
            assert_eq!(rows_of(c)?, vec![mentioning.id], "the mention still belongs");
            // Following again brings the old post back.
            follows::upsert(c, ada.id, eve.id, FollowState::Accepted, None)?;
            assert_eq!(rows_of(c)?, vec![plain.id, mentioning.id]);
            // A remote account's follow writes no feed.
            let kim = actors::upsert_remote(c, &rows::remote("kim", "s.example"))?;
            follows::upsert(c, kim.id, eve.id, FollowState::Accepted, None)?;
            let kims: i64 = {
                use crate::schema::home_feed;
                use diesel::prelude::*;
                home_feed::table.filter(home_feed::owner_id.eq(kim.id)).count().get_result(c)?
            };
            assert_eq!(kims, 0);
            Ok(())
        })
        .await
        .unwrap();
    })
    .await;
}

#[tokio::test]
async fn leaving_a_group_keeps_a_post_an_exclusive_list_hides_for_now() {
    each_backend(|db| async move {
        db.run(|c| {
            let ada = rows::local("ada");
            actors::insert_local(c, &ada, "K")?;
            let eve = actors::upsert_remote(c, &rows::remote("eve", "r.example"))?;
            let mut club = rows::remote("club", "g.example");
            club.kind = ActorKind::Group.as_str().into();
            let club = actors::upsert_remote(c, &club)?;
            follows::upsert(c, ada.id, eve.id, FollowState::Accepted, None)?;
            follows::upsert(c, ada.id, club.id, FollowState::Accepted, None)?;
            let mut quiet = lists::create(c, ada.id, "quiet", "followed", true)?;
            lists::add_members(c, quiet.id, &[eve.id])?;
            let mut s = rows::status(&eve, "in the club");
            s.group_id = Some(club.id);
            statuses::insert(c, &s)?;
            assert_eq!(by_feed(c, ada.id, 20)?, vec![s.id], "the group brings it in");
            follows::remove(c, ada.id, club.id)?;
            assert_eq!(by_feed(c, ada.id, 20)?, Vec::<i64>::new(), "the list hides it");
            quiet.exclusive = false;
            lists::update(c, &quiet)?;
            assert_eq!(by_feed(c, ada.id, 20)?, vec![s.id], "followed, and no longer hidden");
            assert_eq!(by_rule(c, ada.id)?, vec![s.id]);
            Ok(())
        })
        .await
        .unwrap();
    })
    .await;
}
