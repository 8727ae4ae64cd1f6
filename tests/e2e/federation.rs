//! Three instances federating over real HTTP: follows, posts with every visibility, a reply
//! thread, likes, boosts, edits, deletions, profile updates and account deletion.

use guildhall_core::model::{FollowState, Visibility};
use guildhall_federation::actions::{self, NewPost, ProfileUpdate};
use guildhall_storage::{favourites, follows, statuses};

use crate::support::Cluster;

async fn notification_kinds(node: &crate::support::TestInstance, recipient: i64) -> Vec<String> {
    let page = guildhall_storage::timelines::Page::default();
    let list = node
        .instance
        .db()
        .run(move |c| guildhall_storage::notifications::list(c, recipient, None, &page))
        .await
        .unwrap();
    list.into_iter().map(|n| n.kind).collect()
}

async fn follow_state(node: &crate::support::TestInstance, follower: i64, target: i64) -> Option<String> {
    node.instance.db().run(move |c| follows::find(c, follower, target)).await.unwrap().map(|f| f.state)
}

#[tokio::test]
async fn follow_post_and_visibility_reach_exactly_the_right_instances() {
    let cluster = Cluster::start(3).await;
    let [a, b, c] = &cluster.nodes[..] else { unreachable!() };
    let ada = a.user("ada").await;
    let bob = b.user("bob").await;
    let cy = c.user("cy").await;

    // bob@B follows ada@A (open account): accepted after one round trip.
    let ada_at_b = actions::resolve_actor(&b.fed(), &a.handle("ada")).await.unwrap();
    actions::follow(&b.fed(), &bob, &ada_at_b).await.unwrap();
    assert_eq!(follow_state(b, bob.id, ada_at_b.id).await.as_deref(), Some("pending"));
    cluster.flush().await;
    assert_eq!(follow_state(b, bob.id, ada_at_b.id).await.as_deref(), Some("accepted"));
    let bob_at_a = a.actor(&bob.ap_id).await.unwrap();
    assert_eq!(follow_state(a, bob_at_a.id, ada.id).await.as_deref(), Some("accepted"));
    assert_eq!(notification_kinds(a, ada.id).await, vec!["follow"]);

    // Public: reaches B (a follower's instance), not C (nobody there follows or is mentioned).
    let public = actions::post(&a.fed(), &ada, NewPost::public("Hello #GLAM people")).await.unwrap();
    cluster.flush().await;
    let at_b = b.status(&public.ap_id).await.expect("public post reached the follower");
    assert_eq!(at_b.visibility, "public");
    assert!(at_b.content.contains("Hello"));
    assert!(c.status(&public.ap_id).await.is_none());

    // Followers-only: B only.
    let private = NewPost { visibility: Visibility::Private, ..NewPost::public("for followers") };
    let private = actions::post(&a.fed(), &ada, private).await.unwrap();
    // Direct to cy@C: C only, although bob follows ada.
    let direct_text = format!("psst @{}", c.handle("cy"));
    let direct = NewPost { visibility: Visibility::Direct, ..NewPost::public(&direct_text) };
    let direct = actions::post(&a.fed(), &ada, direct).await.unwrap();
    cluster.flush().await;
    assert_eq!(b.status(&private.ap_id).await.map(|s| s.visibility).as_deref(), Some("private"));
    assert!(c.status(&private.ap_id).await.is_none(), "followers-only never reaches a non-follower");
    let dm = c.status(&direct.ap_id).await.expect("the mentioned user got the direct message");
    assert_eq!(dm.visibility, "direct");
    assert!(b.status(&direct.ap_id).await.is_none(), "a direct message never reaches a follower");
    let dm_mentions =
        c.instance.db().run(move |x| guildhall_storage::status_parts::mentions(x, dm.id)).await.unwrap();
    assert_eq!(dm_mentions, vec![cy.id]);

    // Unfollow: the next followers-only post no longer reaches B.
    actions::unfollow(&b.fed(), &bob, &ada_at_b).await.unwrap();
    cluster.flush().await;
    assert_eq!(follow_state(a, bob_at_a.id, ada.id).await, None);
    let later = NewPost { visibility: Visibility::Private, ..NewPost::public("after unfollow") };
    let later = actions::post(&a.fed(), &ada, later).await.unwrap();
    cluster.flush().await;
    assert!(b.status(&later.ap_id).await.is_none());
    cluster.stop().await;
}

#[tokio::test]
async fn locked_accounts_approve_followers() {
    let cluster = Cluster::start(2).await;
    let [a, b] = &cluster.nodes[..] else { unreachable!() };
    let ada = a.user("ada").await;
    let bob = b.user("bob").await;
    let ada =
        actions::update_profile(&a.fed(), &ada, ProfileUpdate { locked: Some(true), ..Default::default() })
            .await
            .unwrap();
    let ada_at_b = actions::resolve_actor(&b.fed(), &a.handle("ada")).await.unwrap();
    assert!(ada_at_b.manually_approves_followers);
    actions::follow(&b.fed(), &bob, &ada_at_b).await.unwrap();
    cluster.flush().await;
    let bob_at_a = a.actor(&bob.ap_id).await.unwrap();
    assert_eq!(follow_state(a, bob_at_a.id, ada.id).await.as_deref(), Some("pending"));
    assert_eq!(follow_state(b, bob.id, ada_at_b.id).await.as_deref(), Some("pending"));

    actions::approve_follower(&a.fed(), &ada, &bob_at_a).await.unwrap();
    cluster.flush().await;
    assert_eq!(follow_state(b, bob.id, ada_at_b.id).await.as_deref(), Some(FollowState::Accepted.as_str()));
    cluster.stop().await;
}

#[tokio::test]
async fn a_reply_thread_across_three_instances_is_assembled_everywhere() {
    let cluster = Cluster::start(3).await;
    let [a, b, c] = &cluster.nodes[..] else { unreachable!() };
    let ada = a.user("ada").await;
    let bob = b.user("bob").await;
    let cy = c.user("cy").await;
    // bob follows ada; cy follows bob.
    let ada_at_b = actions::resolve_actor(&b.fed(), &a.handle("ada")).await.unwrap();
    actions::follow(&b.fed(), &bob, &ada_at_b).await.unwrap();
    let bob_at_c = actions::resolve_actor(&c.fed(), &b.handle("bob")).await.unwrap();
    actions::follow(&c.fed(), &cy, &bob_at_c).await.unwrap();
    cluster.flush().await;

    let root = actions::post(&a.fed(), &ada, NewPost::public("What is your favourite catalogue schema?"))
        .await
        .unwrap();
    cluster.flush().await;
    let root_at_b = b.status(&root.ap_id).await.unwrap();
    let reply = NewPost { in_reply_to: Some(root_at_b.id), ..NewPost::public("Spectrum, obviously") };
    let reply = actions::post(&b.fed(), &bob, reply).await.unwrap();
    cluster.flush().await;
    // C got bob's reply (cy follows bob) and fetched the missing root from A.
    let reply_at_c = c.status(&reply.ap_id).await.expect("reply reached bob's follower");
    let root_at_c = c.status(&root.ap_id).await.expect("the parent was fetched from its origin");
    assert_eq!(reply_at_c.in_reply_to_id, Some(root_at_c.id));
    let answer = NewPost {
        in_reply_to: Some(reply_at_c.id),
        ..NewPost::public(&format!("@{} CIDOC-CRM!", b.handle("bob")))
    };
    let answer = actions::post(&c.fed(), &cy, answer).await.unwrap();
    cluster.flush().await;
    // A got bob's reply (to the parent's author) but not cy's answer to bob (A is not in it).
    let reply_at_a = a.status(&reply.ap_id).await.expect("the parent's author got the reply");
    assert_eq!(reply_at_a.in_reply_to_id, Some(root.id));
    let answer_at_b = b.status(&answer.ap_id).await.expect("mentioned bob got the answer");
    assert_eq!(answer_at_b.in_reply_to_id, Some(reply.id));
    // The same shape everywhere it is known.
    for (node, root_id) in [(a, root.id), (b, root_at_b.id), (c, root_at_c.id)] {
        let replies = node.instance.db().run(move |x| statuses::replies(x, root_id)).await.unwrap();
        assert_eq!(replies.iter().map(|s| s.ap_id.clone()).collect::<Vec<_>>(), vec![reply.ap_id.clone()]);
    }
    cluster.stop().await;
}

#[tokio::test]
async fn like_boost_edit_delete_profile_and_account_deletion() {
    let cluster = Cluster::start(2).await;
    let [a, b] = &cluster.nodes[..] else { unreachable!() };
    let ada = a.user("ada").await;
    let bob = b.user("bob").await;
    let ada_at_b = actions::resolve_actor(&b.fed(), &a.handle("ada")).await.unwrap();
    actions::follow(&b.fed(), &bob, &ada_at_b).await.unwrap();
    let bob_at_a = actions::resolve_actor(&a.fed(), &b.handle("bob")).await.unwrap();
    actions::follow(&a.fed(), &ada, &bob_at_a).await.unwrap();
    cluster.flush().await;
    let post = actions::post(&a.fed(), &ada, NewPost::public("first draft")).await.unwrap();
    cluster.flush().await;
    let at_b = b.status(&post.ap_id).await.unwrap();

    // Like and unlike.
    actions::like(&b.fed(), &bob, at_b.id).await.unwrap();
    cluster.flush().await;
    let count = |node: &crate::support::TestInstance, id: i64| {
        let db = node.instance.db().clone();
        async move { db.run(move |x| favourites::count(x, id)).await.unwrap() }
    };
    assert_eq!(count(a, post.id).await, 1);
    assert!(notification_kinds(a, ada.id).await.contains(&"favourite".to_string()));
    actions::unlike(&b.fed(), &bob, at_b.id).await.unwrap();
    cluster.flush().await;
    assert_eq!(count(a, post.id).await, 0);

    // Boost reaches the author's instance as a boost.
    let boost = actions::boost(&b.fed(), &bob, at_b.id).await.unwrap();
    cluster.flush().await;
    let boost_at_a = a.status(&boost.ap_id).await.expect("the boost reached the author");
    assert_eq!(boost_at_a.reblog_of_id, Some(post.id));
    actions::unboost(&b.fed(), &bob, at_b.id).await.unwrap();
    cluster.flush().await;
    assert!(a.status(&boost.ap_id).await.unwrap().deleted_at.is_some());

    // Edit.
    actions::edit(&a.fed(), &ada, post.id, "final text", "cw", None).await.unwrap();
    cluster.flush().await;
    let edited = b.status(&post.ap_id).await.unwrap();
    assert!(edited.content.contains("final text") && edited.edited_at.is_some());
    assert_eq!(edited.spoiler_text, "cw");

    // Profile update.
    let update = ProfileUpdate {
        display_name: Some("Ada L.".into()),
        note: Some("Registrar".into()),
        ..Default::default()
    };
    actions::update_profile(&a.fed(), &ada, update).await.unwrap();
    cluster.flush().await;
    let ada_now = b.actor(&ada.ap_id).await.unwrap();
    assert_eq!(ada_now.display_name, "Ada L.");
    assert!(ada_now.summary.contains("Registrar"));

    // Delete the post, then the account.
    actions::delete_status(&a.fed(), &ada, post.id).await.unwrap();
    cluster.flush().await;
    assert!(b.status(&post.ap_id).await.unwrap().deleted_at.is_some());
    let another = actions::post(&a.fed(), &ada, NewPost::public("goodbye")).await.unwrap();
    cluster.flush().await;
    assert!(b.status(&another.ap_id).await.is_some());
    actions::delete_account(&a.fed(), &ada).await.unwrap();
    cluster.flush().await;
    let gone = b.actor(&ada.ap_id).await.unwrap();
    assert!(gone.deleted_at.is_some(), "the account is gone on B");
    assert!(b.status(&another.ap_id).await.unwrap().deleted_at.is_some(), "and its posts with it");
    assert_eq!(follow_state(b, bob.id, gone.id).await, None);
    cluster.stop().await;
}
