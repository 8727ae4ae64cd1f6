//! FEP-1b12 groups across three instances over real HTTP: a group on A, members on B and C.
//! Joining in each membership mode, posting, replying and liking relayed to every member's
//! instance once; non-members and banned accounts not relayed; removals and bans reaching every
//! instance; a members-only group's posts readable by members only.

use guildhall_core::model::{FollowState, GroupVisibility, Membership, PostingPolicy, Visibility};
use guildhall_federation::actions::{self, NewPost};
use guildhall_federation::local_actors::{NewGroup, create_group};
use guildhall_federation::moderation;
use guildhall_storage::actors::Actor;
use guildhall_storage::timelines::{self, Page};
use guildhall_storage::{favourites, follows, statuses};

use crate::support::{Cluster, TestInstance, http};

async fn group(
    node: &TestInstance,
    name: &str,
    owner: &str,
    membership: Membership,
    members_only: bool,
) -> Actor {
    let urls = guildhall_federation::Urls::new(node.instance.config());
    let new = NewGroup {
        name,
        owner,
        display_name: None,
        membership,
        posting: PostingPolicy::Members,
        visibility: if members_only { GroupVisibility::Members } else { GroupVisibility::Public },
    };
    create_group(node.instance.db(), &urls, new).await.unwrap().0
}

async fn state(node: &TestInstance, follower: i64, target: i64) -> Option<String> {
    node.instance.db().run(move |c| follows::find(c, follower, target)).await.unwrap().map(|f| f.state)
}

/// The ap_ids in `viewer`'s home timeline on `node`.
async fn home(node: &TestInstance, viewer: i64) -> Vec<String> {
    let page = Page { limit: 40, ..Page::default() };
    let rows = node.instance.db().run(move |c| timelines::home(c, viewer, &page)).await.unwrap();
    rows.into_iter().map(|s| s.ap_id).collect()
}

/// How many rows on `node` show this status (the status itself and any boost of it).
async fn copies(node: &TestInstance, ap_id: &str) -> usize {
    let Some(status) = node.status(ap_id).await else { return 0 };
    let boosts = node.instance.db().run(move |c| statuses::boosts_of(c, status.id)).await.unwrap();
    1 + boosts.iter().filter(|b| b.deleted_at.is_none()).count()
}

async fn join(cluster: &Cluster, node: &TestInstance, who: &Actor, handle: &str) -> Actor {
    let remote_group = actions::resolve_actor(&node.fed(), handle).await.unwrap();
    assert!(remote_group.kind == "group");
    actions::follow(&node.fed(), who, &remote_group).await.unwrap();
    cluster.flush().await;
    remote_group
}

#[tokio::test]
async fn a_group_relays_posts_replies_and_likes_to_every_member_once() {
    let cluster = Cluster::start(3).await;
    let [a, b, c] = &cluster.nodes[..] else { unreachable!() };
    let ada = a.user("ada").await;
    let bob = b.user("bob").await;
    let cy = c.user("cy").await;
    let dan = c.user("dan").await;
    let circle = group(a, "circle", "ada", Membership::Approval, false).await;
    let circle_handle = a.handle("circle");

    // Approval: bob's request waits until a moderator approves it.
    let circle_at_b = join(&cluster, b, &bob, &circle_handle).await;
    assert_eq!(state(b, bob.id, circle_at_b.id).await.as_deref(), Some("pending"));
    let bob_at_a = a.actor(&bob.ap_id).await.unwrap();
    assert_eq!(state(a, bob_at_a.id, circle.id).await.as_deref(), Some("pending"));
    moderation::answer_request(&a.fed(), &ada, &circle, &bob_at_a, true).await.unwrap();
    cluster.flush().await;
    assert_eq!(state(b, bob.id, circle_at_b.id).await.as_deref(), Some("accepted"));

    // Invitation: cy skips approval once invited.
    let cy_at_a = actions::resolve_actor(&a.fed(), &c.handle("cy")).await.unwrap();
    moderation::invite(&a.fed(), &ada, &circle, &cy_at_a).await.unwrap();
    let circle_at_c = join(&cluster, c, &cy, &circle_handle).await;
    assert_eq!(state(c, cy.id, circle_at_c.id).await.as_deref(), Some("accepted"));

    // A learned from NodeInfo that B and C run Guildhall; pretend C runs Mastodon, so that C
    // gets the plain Announce of top-level posts besides the wrapped one.
    let c_domain = c.instance.config().domain.to_string();
    let software = a
        .instance
        .db()
        .run(move |x| {
            let known = guildhall_storage::instances::find(x, &c_domain)?.expect("C is known on A");
            let learned = known.software.clone();
            guildhall_storage::instances::set_software(x, known.id, "mastodon", None)?;
            Ok(learned)
        })
        .await
        .unwrap();
    assert_eq!(software.as_deref(), Some("guildhall"), "learned from C's NodeInfo");

    // bob posts into the group by mentioning it: A relays it to C (wrapped and plain); cy sees
    // it in home, once.
    let text = format!("Collections data sprint on Friday @{circle_handle}");
    let post = actions::post(&b.fed(), &bob, NewPost::public(&text)).await.unwrap();
    cluster.flush().await;
    let at_a = a.status(&post.ap_id).await.expect("the group's instance has the post");
    assert_eq!(at_a.group_id, Some(circle.id));
    let at_c = c.status(&post.ap_id).await.expect("relayed to the other member's instance");
    assert_eq!(at_c.group_id, Some(circle_at_c.id));
    let plain_id = guildhall_federation::groups::plain_announce_id(&circle, at_a.id);
    let first_time = c.instance.db().run(move |x| guildhall_storage::received::record(x, &plain_id)).await;
    assert!(!first_time.unwrap(), "C received the plain Announce as well as the wrapped one");
    assert_eq!(copies(c, &post.ap_id).await, 1, "shown once");
    assert_eq!(home(c, cy.id).await.iter().filter(|id| **id == post.ap_id).count(), 1);
    assert!(home(a, ada.id).await.contains(&post.ap_id), "the owner is a member too");

    // cy replies without mentioning the group: the reply stays in the thread and reaches B.
    let reply = NewPost { in_reply_to: Some(at_c.id), ..NewPost::public("I'll bring the scanner") };
    let reply = actions::post(&c.fed(), &cy, reply).await.unwrap();
    cluster.flush().await;
    let reply_at_b = b.status(&reply.ap_id).await.expect("the reply was relayed to B");
    assert_eq!(reply_at_b.group_id, Some(circle_at_b.id));
    assert!(home(b, bob.id).await.contains(&reply.ap_id));

    // A direct reply in the thread stays between the people it names: not in the group.
    let whisper = format!("@{} just between us", b.handle("bob"));
    let whisper =
        NewPost { in_reply_to: Some(at_c.id), visibility: Visibility::Direct, ..NewPost::public(&whisper) };
    let whisper = actions::post(&c.fed(), &cy, whisper).await.unwrap();
    assert_eq!(whisper.group_id, None);
    cluster.flush().await;
    assert_eq!(b.status(&whisper.ap_id).await.expect("bob got it").group_id, None);
    assert!(a.status(&whisper.ap_id).await.is_none(), "the group never saw it");
    assert!(!home(a, ada.id).await.contains(&whisper.ap_id));

    // ada likes bob's post on A: the like is relayed and confirmed at its origin on C.
    actions::like(&a.fed(), &ada, at_a.id).await.unwrap();
    cluster.flush().await;
    let liked_at_c = at_c.id;
    let likes_at_c = c.instance.db().run(move |x| favourites::count(x, liked_at_c)).await.unwrap();
    assert_eq!(likes_at_c, 1, "the relayed like counts on C");
    // Taking it back is relayed too, and believed once A answers 410 for the like.
    actions::unlike(&a.fed(), &ada, at_a.id).await.unwrap();
    cluster.flush().await;
    let likes_at_c = c.instance.db().run(move |x| favourites::count(x, liked_at_c)).await.unwrap();
    assert_eq!(likes_at_c, 0, "the relayed unlike counts on C");

    // dan@C is no member: his post into the group is not relayed, and he gets a Reject.
    let spam = format!("Buy now @{circle_handle}");
    let spam = actions::post(&c.fed(), &dan, NewPost::public(&spam)).await.unwrap();
    cluster.flush().await;
    let spam_at_a = a.status(&spam.ap_id).await.expect("A received it");
    assert_eq!(spam_at_a.group_id, None, "but did not take it into the group");
    assert!(b.status(&spam.ap_id).await.is_none(), "and did not relay it");

    // A moderator removes bob's post: gone from the group everywhere; on B it stays bob's own.
    moderation::remove_status(&a.fed(), &ada, &circle, at_a.id, "off topic").await.unwrap();
    cluster.flush().await;
    for (node, name) in [(a, "A"), (c, "C")] {
        let s = node.status(&post.ap_id).await.unwrap();
        assert!(s.deleted_at.is_some(), "removed on {name}");
    }
    let at_home = b.status(&post.ap_id).await.unwrap();
    assert_eq!((at_home.deleted_at, at_home.group_id), (None, None), "out of the group on bob's own server");

    // cy is banned: membership ends on C too, and cy's next post is not relayed to B.
    moderation::ban(&a.fed(), &ada, &circle, &cy_at_a, "spam").await.unwrap();
    cluster.flush().await;
    assert_eq!(state(c, cy.id, circle_at_c.id).await, None, "the ban reached cy's instance");
    assert_eq!(state(a, cy_at_a.id, circle.id).await, None);
    let after_ban = format!("still here @{circle_handle}");
    let after_ban = actions::post(&c.fed(), &cy, NewPost::public(&after_ban)).await.unwrap();
    cluster.flush().await;
    assert_eq!(a.status(&after_ban.ap_id).await.unwrap().group_id, None);
    assert!(b.status(&after_ban.ap_id).await.is_none(), "a banned account's post is not relayed");
    // Following again is refused on C, which recorded the group's block...
    let again = actions::follow(&c.fed(), &cy, &circle_at_c).await;
    assert!(matches!(again, Err(guildhall_federation::FedError::Forbidden(_))), "{again:?}");
    // ...and by the group itself, for servers that ignore the block.
    let (group_at_c, cy_id) = (circle_at_c.id, cy.id);
    c.instance.db().run(move |x| guildhall_storage::blocks::remove(x, group_at_c, cy_id)).await.unwrap();
    actions::follow(&c.fed(), &cy, &circle_at_c).await.unwrap();
    cluster.flush().await;
    assert_eq!(state(c, cy.id, circle_at_c.id).await, None, "the ban keeps cy out");
    assert_eq!(state(a, cy_at_a.id, circle.id).await, None);

    let circle_id = circle.id;
    let log =
        a.instance.db().run(move |x| guildhall_storage::groups::log_entries(x, circle_id, None, 10)).await;
    let actions: Vec<String> = log.unwrap().into_iter().map(|e| e.action).collect();
    assert_eq!(actions, vec!["ban", "remove_status", "invite", "approve"]);
    cluster.stop().await;
}

#[tokio::test]
async fn open_and_invite_only_groups_decide_joins_and_local_members_post_in() {
    let cluster = Cluster::start(2).await;
    let [a, b] = &cluster.nodes[..] else { unreachable!() };
    let ada = a.user("ada").await;
    let eli = a.user("eli").await;
    let bob = b.user("bob").await;
    let open = group(a, "open", "ada", Membership::Open, false).await;
    let closed = group(a, "closed", "ada", Membership::Invite, false).await;

    let open_at_b = join(&cluster, b, &bob, &a.handle("open")).await;
    assert_eq!(state(b, bob.id, open_at_b.id).await.as_deref(), Some("accepted"), "open: at once");
    let closed_at_b = join(&cluster, b, &bob, &a.handle("closed")).await;
    assert_eq!(state(b, bob.id, closed_at_b.id).await, None, "invite-only: rejected without invitation");
    assert_eq!(state(a, a.actor(&bob.ap_id).await.unwrap().id, closed.id).await, None);

    // A local member posts in: relayed to bob on B. A local non-member is refused.
    actions::follow(&a.fed(), &eli, &open).await.unwrap();
    let post = actions::post(&a.fed(), &eli, NewPost::public("hello @open")).await.unwrap();
    assert_eq!(post.group_id, Some(open.id));
    cluster.flush().await;
    assert!(home(b, bob.id).await.contains(&post.ap_id), "relayed to the remote member");
    let refused = actions::post(&a.fed(), &eli, NewPost::public("hello @closed")).await;
    assert!(
        matches!(refused, Err(guildhall_federation::FedError::Forbidden(_))),
        "a non-member cannot post in: {refused:?}"
    );

    // The member list is for moderators; the count is public for a public group.
    let path = format!("/api/v1/accounts/{}/followers", open.id);
    let (_, anonymous) = crate::client_api::call(reqwest::Method::GET, a, &path, None, None).await;
    assert_eq!(anonymous, serde_json::json!([]));
    let owner = crate::client_api::token(a, "ada", "read").await;
    let (_, listed) = crate::client_api::call(reqwest::Method::GET, a, &path, Some(&owner), None).await;
    let mut names: Vec<&str> =
        listed.as_array().unwrap().iter().map(|m| m["username"].as_str().unwrap()).collect();
    names.sort_unstable();
    assert_eq!(names, vec!["bob", "eli"]);
    let (_, group) = crate::client_api::call(
        reqwest::Method::GET,
        a,
        &format!("/api/v1/accounts/{}", open.id),
        None,
        None,
    )
    .await;
    assert_eq!(group["followers_count"], 2);

    // Unfollowing leaves.
    actions::unfollow(&b.fed(), &bob, &open_at_b).await.unwrap();
    cluster.flush().await;
    let bob_at_a = a.actor(&bob.ap_id).await.unwrap();
    assert_eq!(state(a, bob_at_a.id, open.id).await, None);
    let _ = ada;
    cluster.stop().await;
}

#[tokio::test]
async fn members_only_posts_are_readable_by_members_only() {
    let cluster = Cluster::start(3).await;
    let [a, b, c] = &cluster.nodes[..] else { unreachable!() };
    let ada = a.user("ada").await;
    let eve = a.user("eve").await;
    let bob = b.user("bob").await;
    let fay = b.user("fay").await;
    let cy = c.user("cy").await;
    let safe = group(a, "safe", "ada", Membership::Open, true).await;
    let safe_at_b = join(&cluster, b, &bob, &a.handle("safe")).await;
    assert_eq!(state(b, bob.id, safe_at_b.id).await.as_deref(), Some("accepted"));
    // cy knows the group but is no member.
    actions::resolve_actor(&c.fed(), &a.handle("safe")).await.unwrap();

    // ada asks for a public post: a members-only group makes it the group's alone.
    let post = actions::post(&a.fed(), &ada, NewPost::public("our space @safe")).await.unwrap();
    assert_eq!(post.visibility, Visibility::Direct.as_str());
    cluster.flush().await;

    // The member's instance fetched it (signed, as a member's server) and bob sees it.
    let at_b = b.status(&post.ap_id).await.expect("relayed to the member's instance");
    assert!(home(b, bob.id).await.contains(&post.ap_id));
    // B learned from the group's actor that it is members-only: bob's public post into it is
    // addressed to the group alone, and reaches ada through the group.
    assert!(safe_at_b.members_only);
    let from_bob = format!("hello from B @{}", a.handle("safe"));
    let from_bob = actions::post(&b.fed(), &bob, NewPost::public(&from_bob)).await.unwrap();
    assert_eq!(from_bob.visibility, Visibility::Direct.as_str());
    cluster.flush().await;
    assert!(home(a, ada.id).await.contains(&from_bob.ap_id));
    assert!(!home(a, eve.id).await.contains(&from_bob.ap_id));
    assert!(c.status(&from_bob.ap_id).await.is_none());
    // A server that does not know (or ignores) the flag sends a public post: the group refuses
    // it rather than hold a post readable by anyone where its author lives.
    let mut unaware = safe_at_b.clone();
    unaware.members_only = false;
    b.instance.db().run(move |x| guildhall_storage::actors::upsert_remote(x, &unaware)).await.unwrap();
    let loud = format!("loud @{}", a.handle("safe"));
    let loud = actions::post(&b.fed(), &bob, NewPost::public(&loud)).await.unwrap();
    assert_eq!(loud.visibility, "public");
    cluster.flush().await;
    assert_eq!(a.status(&loud.ap_id).await.expect("A received it").group_id, None);
    assert!(!home(a, ada.id).await.contains(&loud.ap_id), "not taken into the group");
    assert!(c.status(&post.ap_id).await.is_none(), "never sent to a non-member's instance");

    // Non-members, local and remote, see nothing through storage visibility rules.
    let (at_a, post_at_b) = (a.status(&post.ap_id).await.unwrap(), at_b.clone());
    let db_a = a.instance.db().clone();
    let (eve_id, at_a2) = (eve.id, at_a.clone());
    assert!(!db_a.run(move |x| timelines::may_see(x, &at_a2, Some(eve_id))).await.unwrap());
    let at_a3 = at_a.clone();
    assert!(!db_a.run(move |x| timelines::may_see(x, &at_a3, None)).await.unwrap());
    let fay_id = fay.id;
    assert!(!b.instance.db().run(move |x| timelines::may_see(x, &post_at_b, Some(fay_id))).await.unwrap());
    assert!(!home(a, eve.id).await.contains(&post.ap_id));
    let public =
        db_a.run(|x| timelines::public(x, timelines::Scope::All, None, &Page::default())).await.unwrap();
    assert!(public.iter().all(|s| s.ap_id != post.ap_id), "never in public timelines");

    // Over HTTP: anonymous fetches of the object and of the members list are refused, and so is
    // a non-member's client API read.
    let client = http();
    let object = client.get(&post.ap_id).header("Accept", "application/activity+json").send().await.unwrap();
    assert_eq!(object.status(), 401, "an unsigned fetch is refused");
    let followers =
        client.get(format!("{}/followers", safe.ap_id)).header("Accept", "application/activity+json");
    assert_eq!(followers.send().await.unwrap().status(), 401);
    let api = client.get(a.url(&format!("/api/v1/statuses/{}", at_a.id))).send().await.unwrap();
    assert_eq!(api.status(), 404, "anonymous API read");
    let group_statuses =
        client.get(a.url(&format!("/api/v1/accounts/{}/statuses", safe.id))).send().await.unwrap();
    let listed: serde_json::Value = group_statuses.json().await.unwrap();
    assert_eq!(listed.as_array().map(Vec::len), Some(0), "the group's statuses are for members");
    let members = client.get(a.url(&format!("/api/v1/accounts/{}/followers", safe.id))).send().await.unwrap();
    assert_eq!(
        members.json::<serde_json::Value>().await.unwrap(),
        serde_json::json!([]),
        "membership is private"
    );

    // A signed fetch by a non-member's instance (C's instance actor) is refused too.
    let fetched = guildhall_federation::actions::resolve_status(&c.fed(), &post.ap_id).await;
    assert!(fetched.is_err(), "C may not fetch it: {fetched:?}");
    assert!(c.status(&post.ap_id).await.is_none());
    let _ = cy;
    let _ = FollowState::Accepted;
    cluster.stop().await;
}
