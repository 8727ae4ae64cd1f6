use guildhall_core::model::{FollowState, Visibility};

use super::*;
use crate::testing::{each_backend, rows, rows::status};
use crate::{actors, blocks, follows, status_parts, statuses};

fn post(
    c: &mut DbConnection,
    author: &crate::actors::Actor,
    visibility: Visibility,
) -> StorageResult<Status> {
    let mut s = status(author, "x");
    s.visibility = visibility.as_str().into();
    statuses::insert(c, &s)?;
    Ok(s)
}

#[tokio::test]
async fn home_shows_exactly_what_the_viewer_may_see() {
    each_backend(|db| async move {
        db.run(|c| {
            let ada = rows::local("ada");
            actors::insert_local(c, &ada, "K")?;
            let eve = actors::upsert_remote(c, &rows::remote("eve", "r.example"))?;
            let zed = actors::upsert_remote(c, &rows::remote("zed", "r.example"))?;
            follows::upsert(c, ada.id, eve.id, FollowState::Accepted, None)?;
            follows::upsert(c, ada.id, zed.id, FollowState::Pending, None)?;
            let own = post(c, &ada, Visibility::Direct)?;
            let eve_public = post(c, &eve, Visibility::Public)?;
            let eve_private = post(c, &eve, Visibility::Private)?;
            let eve_direct_other = post(c, &eve, Visibility::Direct)?;
            let eve_direct_me = post(c, &eve, Visibility::Direct)?;
            status_parts::replace_mentions(c, eve_direct_me.id, &[ada.id])?;
            let zed_private = post(c, &zed, Visibility::Private)?;
            let zed_mention = post(c, &zed, Visibility::Public)?;
            status_parts::replace_mentions(c, zed_mention.id, &[ada.id])?;
            let home: Vec<i64> = home(c, ada.id, &Page::default())?.iter().map(|s| s.id).collect();
            assert_eq!(home, vec![zed_mention.id, eve_direct_me.id, eve_private.id, eve_public.id, own.id]);
            assert!(!home.contains(&eve_direct_other.id) && !home.contains(&zed_private.id));
            // Paging.
            let page = Page { limit: 2, ..Page::default() };
            let first: Vec<i64> = home_ids(c, ada.id, &page)?;
            let next = home_ids(c, ada.id, &Page { max_id: first.last().copied(), ..page })?;
            assert_eq!([first.clone(), next].concat(), home[..4].to_vec());
            let newer = home_ids(c, ada.id, &Page { min_id: Some(home[2]), ..page })?;
            assert_eq!(newer, home[..2].to_vec());
            // Blocking eve hides her.
            blocks::add(c, ada.id, eve.id, None)?;
            let blocked: Vec<i64> = home_ids(c, ada.id, &Page::default())?;
            assert_eq!(blocked, vec![zed_mention.id, own.id]);
            Ok(())
        })
        .await
        .unwrap();
    })
    .await;
}

fn home_ids(c: &mut DbConnection, viewer: i64, page: &Page) -> StorageResult<Vec<i64>> {
    Ok(home(c, viewer, page)?.iter().map(|s| s.id).collect())
}

#[tokio::test]
async fn public_account_and_single_status_visibility() {
    each_backend(|db| async move {
        db.run(|c| {
            let ada = rows::local("ada");
            actors::insert_local(c, &ada, "K")?;
            let eve = actors::upsert_remote(c, &rows::remote("eve", "r.example"))?;
            let local_public = post(c, &ada, Visibility::Public)?;
            let local_unlisted = post(c, &ada, Visibility::Unlisted)?;
            let local_private = post(c, &ada, Visibility::Private)?;
            let remote_public = post(c, &eve, Visibility::Public)?;
            let ids = |v: Vec<Status>| v.iter().map(|s| s.id).collect::<Vec<_>>();
            assert_eq!(
                ids(public(c, Scope::All, None, &Page::default())?),
                vec![remote_public.id, local_public.id]
            );
            assert_eq!(ids(public(c, Scope::Local, None, &Page::default())?), vec![local_public.id]);
            assert_eq!(ids(public(c, Scope::Remote, None, &Page::default())?), vec![remote_public.id]);
            let anonymous = ids(account(c, ada.id, None, false, false, &Page::default())?);
            assert_eq!(anonymous, vec![local_unlisted.id, local_public.id]);
            let stranger = ids(account(c, ada.id, Some(eve.id), false, false, &Page::default())?);
            assert_eq!(stranger, anonymous);
            follows::upsert(c, eve.id, ada.id, FollowState::Accepted, None)?;
            let follower = ids(account(c, ada.id, Some(eve.id), false, false, &Page::default())?);
            assert_eq!(follower, vec![local_private.id, local_unlisted.id, local_public.id]);
            assert!(may_see(c, &local_private, Some(eve.id))?);
            assert!(!may_see(c, &local_private, None)?);
            assert!(may_see(c, &local_public, None)?);
            Ok(())
        })
        .await
        .unwrap();
    })
    .await;
}

#[tokio::test]
async fn visible_agrees_with_may_see_status_by_status() {
    each_backend(|db| async move {
        db.run(|c| {
            let ada = rows::local("ada");
            actors::insert_local(c, &ada, "K")?;
            let eve = actors::upsert_remote(c, &rows::remote("eve", "r.example"))?;
            let zed = actors::upsert_remote(c, &rows::remote("zed", "r.example"))?;
            let bob = actors::upsert_remote(c, &rows::remote("bob", "s.example"))?;
            blocks::add(c, ada.id, zed.id, None)?;
            blocks::add(c, bob.id, ada.id, None)?;
            follows::upsert(c, ada.id, eve.id, FollowState::Accepted, None)?;
            let mut list = Vec::new();
            for author in [&ada, &eve, &zed, &bob] {
                for v in [Visibility::Public, Visibility::Unlisted, Visibility::Private, Visibility::Direct] {
                    list.push(post(c, author, v)?);
                }
            }
            let mut gone = post(c, &eve, Visibility::Public)?;
            statuses::mark_deleted(c, gone.id)?;
            gone.deleted_at = Some(crate::now());
            list.push(gone);
            for viewer in [None, Some(ada.id), Some(eve.id)] {
                let mut expected = Vec::new();
                for s in &list {
                    if may_see(c, s, viewer)? {
                        expected.push(s.id);
                    }
                }
                let got: Vec<i64> = visible(c, list.clone(), viewer)?.iter().map(|s| s.id).collect();
                assert_eq!(got, expected, "viewer {viewer:?}");
            }
            Ok(())
        })
        .await
        .unwrap();
    })
    .await;
}

#[tokio::test]
async fn a_hashtag_pages_through_its_own_index_without_gaps() {
    each_backend(|db| async move {
        db.run(|c| {
            let ada = rows::local("ada");
            actors::insert_local(c, &ada, "K")?;
            let eve = actors::upsert_remote(c, &rows::remote("eve", "r.example"))?;
            let zed = actors::upsert_remote(c, &rows::remote("zed", "r.example"))?;
            blocks::add(c, ada.id, zed.id, None)?;
            let mut expected = Vec::new();
            // More than a batch of candidates, most of them not shown.
            for n in 0..150 {
                let author = if n % 5 == 0 { &zed } else { &eve };
                let visibility = if n % 3 == 0 { Visibility::Public } else { Visibility::Private };
                let s = post(c, author, visibility)?;
                status_parts::replace_tags(c, s.id, &["Museums".to_owned()])?;
                if n % 7 == 0 {
                    statuses::mark_deleted(c, s.id)?;
                } else if n % 3 == 0 && n % 5 != 0 {
                    expected.push(s.id);
                }
                post(c, &eve, Visibility::Public)?;
            }
            expected.reverse();
            let mut got = Vec::new();
            let mut page = Page { limit: 4, ..Page::default() };
            loop {
                let ids: Vec<i64> = tagged(c, "museums", Some(ada.id), &page)?.iter().map(|s| s.id).collect();
                let Some(&last) = ids.last() else { break };
                got.extend(ids);
                page.max_id = Some(last);
            }
            assert_eq!(got, expected);
            // Just after an id, upper case as typed.
            let after = Page { min_id: Some(expected[10]), limit: 3, ..Page::default() };
            let newer: Vec<i64> = tagged(c, "MUSEUMS", Some(ada.id), &after)?.iter().map(|s| s.id).collect();
            assert_eq!(newer, expected[7..10].to_vec());
            Ok(())
        })
        .await
        .unwrap();
    })
    .await;
}

#[test]
fn the_home_check_binds_its_viewer_and_ids_and_writes_nothing_else_in() {
    for text in HOME_CHECK.iter() {
        assert_eq!(text.matches("{ids}").count(), 1, "{text}");
        assert!(text.matches("{viewer}").count() >= 10, "{text}");
        let rest = text.replace("{ids}", "").replace("{viewer}", "");
        assert!(!rest.contains(['{', '}']), "a marker left unbound: {rest}");
    }
}
