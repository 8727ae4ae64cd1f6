//! What the popular apps offer besides posting: grouped notifications and their policies,
//! muted conversations, account notes, per-user domain blocks across instances, alt text edits
//! that federate, and the instance picture.

use guildhall_federation::actions;
use reqwest::Method as M;
use serde_json::{Value, json};

use crate::client_api::{call, token};
use crate::support::{Backend, Cluster, TestInstance, http};

fn id(v: &Value) -> String {
    v["id"].as_str().unwrap_or_else(|| panic!("no id in {v}")).to_owned()
}

async fn post(t: &TestInstance, token: &str, body: Value) -> Value {
    let (s, posted) = call(M::POST, t, "/api/v1/statuses", Some(token), Some(body)).await;
    assert_eq!(s, 200, "{posted}");
    posted
}

async fn account_id(t: &TestInstance, token: &str) -> String {
    id(&call(M::GET, t, "/api/v1/accounts/verify_credentials", Some(token), None).await.1)
}

#[tokio::test]
async fn likes_and_follows_group_and_policies_hold_back_or_drop_strangers() {
    let t = TestInstance::start(&Backend::Sqlite).await;
    for name in ["ada", "bob", "cy", "dee"] {
        t.user(name).await;
    }
    let ada = token(&t, "ada", "read write follow").await;
    let [bob, cy, dee] = [
        token(&t, "bob", "read write follow").await,
        token(&t, "cy", "read write follow").await,
        token(&t, "dee", "read write follow").await,
    ];
    let ada_id = account_id(&t, &ada).await;
    let status = post(&t, &ada, json!({"status": "Our new gallery opens"})).await;
    for liker in [&bob, &cy] {
        let path = format!("/api/v1/statuses/{}/favourite", id(&status));
        assert_eq!(call(M::POST, &t, &path, Some(liker), None).await.0, 200);
        assert_eq!(
            call(M::POST, &t, &format!("/api/v1/accounts/{ada_id}/follow"), Some(liker), None).await.0,
            200
        );
    }
    post(&t, &dee, json!({"status": "@ada see you there"})).await;

    let (s, page) = call(M::GET, &t, "/api/v2/notifications", Some(&ada), None).await;
    assert_eq!(s, 200, "{page}");
    let groups = page["notification_groups"].as_array().unwrap();
    let kinds: Vec<&str> = groups.iter().map(|g| g["type"].as_str().unwrap()).collect();
    assert_eq!(kinds, vec!["mention", "follow", "favourite"], "newest group first: {page}");
    let likes = &groups[2];
    assert_eq!(likes["notifications_count"], 2);
    assert!(likes["most_recent_notification_id"].is_u64(), "a number, as Ice Cubes reads it");
    assert!(likes["group_key"].as_str().unwrap().starts_with(&format!("favourite-{}-", id(&status))));
    assert_eq!(likes["status_id"], status["id"]);
    let samples = likes["sample_account_ids"].as_array().unwrap();
    let listed: Vec<&Value> = page["accounts"].as_array().unwrap().iter().map(|a| &a["id"]).collect();
    assert_eq!(samples.len(), 2);
    assert!(samples.iter().all(|s| listed.contains(&s)), "every sample account is in accounts");
    assert_eq!(page["statuses"].as_array().unwrap().len(), 2, "the liked status and the mention, once each");
    assert!(groups[0]["group_key"].as_str().unwrap().starts_with("ungrouped-"));
    // Not grouping follows: two follow groups.
    let (_, split) =
        call(M::GET, &t, "/api/v2/notifications?grouped_types[]=favourite", Some(&ada), None).await;
    assert_eq!(split["notification_groups"].as_array().unwrap().len(), 4);
    // One group, its accounts, its dismissal; paging by the Link header's max_id.
    let key = likes["group_key"].as_str().unwrap();
    let (s, one) = call(M::GET, &t, &format!("/api/v2/notifications/{key}"), Some(&ada), None).await;
    assert_eq!((s.as_u16(), one["notification_groups"][0]["notifications_count"].as_i64()), (200, Some(2)));
    let (_, who) = call(M::GET, &t, &format!("/api/v2/notifications/{key}/accounts"), Some(&ada), None).await;
    assert_eq!(who.as_array().unwrap().len(), 2);
    let (_, older) = call(
        M::GET,
        &t,
        &format!("/api/v2/notifications?limit=1&max_id={}", groups[0]["page_min_id"].as_str().unwrap()),
        Some(&ada),
        None,
    )
    .await;
    assert_eq!(older["notification_groups"][0]["type"], "follow");
    // Unread: everything until the marker moves.
    let (_, unread) = call(M::GET, &t, "/api/v2/notifications/unread_count", Some(&ada), None).await;
    assert_eq!(unread["count"], 3);
    let (_, unread_v1) = call(M::GET, &t, "/api/v1/notifications/unread_count", Some(&ada), None).await;
    assert_eq!(unread_v1["count"], 5);
    let newest = groups[0]["page_max_id"].as_str().unwrap();
    let marker = json!({"notifications": {"last_read_id": newest}});
    assert_eq!(call(M::POST, &t, "/api/v1/markers", Some(&ada), Some(marker)).await.0, 200);
    assert_eq!(call(M::GET, &t, "/api/v2/notifications/unread_count", Some(&ada), None).await.1["count"], 0);
    assert_eq!(
        call(M::POST, &t, &format!("/api/v2/notifications/{key}/dismiss"), Some(&ada), None).await.0,
        200
    );
    let (_, after) = call(M::GET, &t, "/api/v2/notifications", Some(&ada), None).await;
    assert_eq!(after["notification_groups"].as_array().unwrap().len(), 2);
    // Another user's group key is not ours to read.
    assert_eq!(call(M::GET, &t, &format!("/api/v2/notifications/{key}"), Some(&bob), None).await.0, 404);

    // Policy: hold back mentions and likes from accounts ada does not follow; drop new ones.
    let (s, policy) = call(
        M::PATCH,
        &t,
        "/api/v2/notifications/policy",
        Some(&ada),
        Some(json!({"for_not_following": "filter"})),
    )
    .await;
    assert_eq!((s.as_u16(), policy["for_not_following"].as_str()), (200, Some("filter")), "{policy}");
    let (s, bad) = call(
        M::PATCH,
        &t,
        "/api/v2/notifications/policy",
        Some(&ada),
        Some(json!({"for_new_accounts": "maybe"})),
    )
    .await;
    assert_eq!(s, 422);
    assert!(bad["error"].as_str().unwrap().contains("for_new_accounts"));
    let (_, v1) = call(M::GET, &t, "/api/v1/notifications/policy", Some(&ada), None).await;
    assert_eq!(
        (v1["filter_not_following"].as_bool(), v1["filter_new_accounts"].as_bool()),
        (Some(true), Some(false))
    );
    post(&t, &dee, json!({"status": "@ada one more thing"})).await;
    let (_, requests) = call(M::GET, &t, "/api/v1/notifications/requests", Some(&ada), None).await;
    assert_eq!(requests.as_array().unwrap().len(), 1, "{requests}");
    assert_eq!(requests[0]["notifications_count"], "1");
    assert_eq!(
        call(M::GET, &t, "/api/v2/notifications/policy", Some(&ada), None).await.1["summary"]["pending_requests_count"],
        1
    );
    let (_, listed) = call(M::GET, &t, "/api/v2/notifications", Some(&ada), None).await;
    assert_eq!(listed["notification_groups"].as_array().unwrap().len(), 2, "held back, not shown");
    let request = id(&requests[0]);
    assert_eq!(
        call(M::POST, &t, &format!("/api/v1/notifications/requests/{request}/accept"), Some(&ada), None)
            .await
            .0,
        200
    );
    let (_, listed) = call(M::GET, &t, "/api/v2/notifications", Some(&ada), None).await;
    assert_eq!(listed["notification_groups"].as_array().unwrap().len(), 3, "accepted: shown");
    post(&t, &dee, json!({"status": "@ada accepted now"})).await;
    assert_eq!(
        call(M::GET, &t, "/api/v1/notifications/requests", Some(&ada), None).await.1,
        json!([]),
        "dee is let through from now on"
    );
    let (s, _) = call(
        M::PUT,
        &t,
        "/api/v2/notifications/policy",
        Some(&ada),
        Some(json!({"for_not_following": "drop"})),
    )
    .await;
    assert_eq!(s, 200);
    let before =
        call(M::GET, &t, "/api/v1/notifications", Some(&ada), None).await.1.as_array().unwrap().len();
    let (_, cy_post) = call(M::GET, &t, "/api/v1/accounts/verify_credentials", Some(&cy), None).await;
    assert!(cy_post["id"].is_string());
    post(&t, &cy, json!({"status": "@ada dropped"})).await;
    let after = call(M::GET, &t, "/api/v1/notifications", Some(&ada), None).await.1.as_array().unwrap().len();
    assert_eq!(after, before, "dropped, not stored");
    t.instance.stop().await.unwrap();
}

#[tokio::test]
async fn a_muted_conversation_stays_quiet_and_notes_stay_private() {
    let t = TestInstance::start(&Backend::Sqlite).await;
    for name in ["ada", "bob"] {
        t.user(name).await;
    }
    let (ada, bob) =
        (token(&t, "ada", "read write follow").await, token(&t, "bob", "read write follow").await);
    let root = post(&t, &ada, json!({"status": "Who digitised the ledgers?"})).await;
    let reply = post(&t, &bob, json!({"status": "@ada we did", "in_reply_to_id": id(&root)})).await;
    let count = |list: Value| list.as_array().unwrap().len();
    let before = count(call(M::GET, &t, "/api/v1/notifications", Some(&ada), None).await.1);
    let (s, muted) =
        call(M::POST, &t, &format!("/api/v1/statuses/{}/mute", id(&reply)), Some(&ada), None).await;
    assert_eq!((s.as_u16(), muted["muted"].as_bool()), (200, Some(true)));
    assert_eq!(
        call(M::GET, &t, &format!("/api/v1/statuses/{}", id(&root)), Some(&ada), None).await.1["muted"],
        true,
        "the whole thread"
    );
    let deeper = post(&t, &bob, json!({"status": "@ada and the maps", "in_reply_to_id": id(&reply)})).await;
    let path = format!("/api/v1/statuses/{}/favourite", id(&root));
    call(M::POST, &t, &path, Some(&bob), None).await;
    assert_eq!(
        count(call(M::GET, &t, "/api/v1/notifications", Some(&ada), None).await.1),
        before,
        "no mention, no like"
    );
    assert_eq!(
        call(M::GET, &t, &format!("/api/v1/statuses/{}", id(&deeper)), Some(&bob), None).await.1["muted"],
        false,
        "bob's view is his own"
    );
    assert_eq!(
        call(M::POST, &t, &format!("/api/v1/statuses/{}/unmute", id(&root)), Some(&ada), None).await.0,
        200
    );
    post(&t, &bob, json!({"status": "@ada last one", "in_reply_to_id": id(&deeper)})).await;
    assert_eq!(count(call(M::GET, &t, "/api/v1/notifications", Some(&ada), None).await.1), before + 1);

    let bob_id = account_id(&t, &bob).await;
    let note = json!({"comment": "Runs the ledger project"});
    let (s, rel) =
        call(M::POST, &t, &format!("/api/v1/accounts/{bob_id}/note"), Some(&ada), Some(note)).await;
    assert_eq!((s.as_u16(), rel["note"].as_str()), (200, Some("Runs the ledger project")));
    let (_, rels) =
        call(M::GET, &t, &format!("/api/v1/accounts/relationships?id[]={bob_id}"), Some(&ada), None).await;
    assert_eq!(rels[0]["note"], "Runs the ledger project");
    let (_, own_view) =
        call(M::GET, &t, &format!("/api/v1/accounts/relationships?id[]={bob_id}"), Some(&bob), None).await;
    assert_eq!(own_view[0]["note"], "", "a note is its writer's alone");
    let long = json!({"comment": "x".repeat(2001)});
    assert_eq!(
        call(M::POST, &t, &format!("/api/v1/accounts/{bob_id}/note"), Some(&ada), Some(long)).await.0,
        422
    );
    t.instance.stop().await.unwrap();
}

#[tokio::test]
async fn a_domain_block_hides_the_domain_and_ends_follows_both_ways() {
    let cluster = Cluster::start(2).await;
    let [a, b] = &cluster.nodes[..] else { unreachable!() };
    let ada = a.user("ada").await;
    let bob = b.user("bob").await;
    let bob_at_a = actions::resolve_actor(&a.fed(), &b.handle("bob")).await.unwrap();
    let ada_at_b = actions::resolve_actor(&b.fed(), &a.handle("ada")).await.unwrap();
    actions::follow(&a.fed(), &ada, &bob_at_a).await.unwrap();
    actions::follow(&b.fed(), &bob, &ada_at_b).await.unwrap();
    cluster.flush().await;
    let seen = actions::post(&b.fed(), &bob, actions::NewPost::public("before the block")).await.unwrap();
    cluster.flush().await;
    let ada_token = token(a, "ada", "read write follow").await;
    let home = |t: String| async move { call(M::GET, a, "/api/v1/timelines/home", Some(&t), None).await.1 };
    assert!(home(ada_token.clone()).await.to_string().contains("before the block"));

    let domain = b.instance.config().domain.to_string();
    let (s, _) =
        call(M::POST, a, "/api/v1/domain_blocks", Some(&ada_token), Some(json!({"domain": domain}))).await;
    assert_eq!(s, 200);
    assert_eq!(call(M::GET, a, "/api/v1/domain_blocks", Some(&ada_token), None).await.1, json!([domain]));
    let rel = call(
        M::GET,
        a,
        &format!("/api/v1/accounts/relationships?id[]={}", bob_at_a.id),
        Some(&ada_token),
        None,
    )
    .await
    .1;
    assert_eq!(
        (rel[0]["domain_blocking"].as_bool(), rel[0]["following"].as_bool(), rel[0]["followed_by"].as_bool()),
        (Some(true), Some(false), Some(false)),
        "{rel}"
    );
    assert!(!home(ada_token.clone()).await.to_string().contains("before the block"), "hidden from home");
    cluster.flush().await;
    // B hears of both: bob no longer follows ada, nor is followed by her.
    let (bob_id, ada_b_id) = (bob.id, ada_at_b.id);
    let follows = b
        .instance
        .db()
        .run(move |c| {
            Ok((
                guildhall_storage::follows::find(c, bob_id, ada_b_id)?,
                guildhall_storage::follows::find(c, ada_b_id, bob_id)?,
            ))
        })
        .await
        .unwrap();
    assert_eq!((follows.0.is_none(), follows.1.is_none()), (true, true), "severed on B too");
    // A new follow from there is refused; a mention from there never notifies.
    actions::follow(&b.fed(), &bob, &ada_at_b).await.unwrap();
    let mention = format!("@{} hello?", a.handle("ada"));
    actions::post(&b.fed(), &bob, actions::NewPost::public(&mention)).await.unwrap();
    cluster.flush().await;
    let follow =
        b.instance.db().run(move |c| guildhall_storage::follows::find(c, bob_id, ada_b_id)).await.unwrap();
    assert!(follow.is_none(), "rejected");
    let notes = call(M::GET, a, "/api/v1/notifications", Some(&ada_token), None).await.1;
    assert!(!notes.to_string().contains("hello?"), "{notes}");
    // Unblocking shows the domain again (follows stay ended).
    let (s, _) =
        call(M::DELETE, a, "/api/v1/domain_blocks", Some(&ada_token), Some(json!({"domain": domain}))).await;
    assert_eq!(s, 200);
    assert_eq!(call(M::GET, a, "/api/v1/domain_blocks", Some(&ada_token), None).await.1, json!([]));
    let (s, bad) =
        call(M::POST, a, "/api/v1/domain_blocks", Some(&ada_token), Some(json!({"domain": "not a domain"})))
            .await;
    assert_eq!(s, 422, "{bad}");
    assert!(a.status(&seen.ap_id).await.is_some());
    cluster.stop().await;
}

#[tokio::test]
async fn alt_text_edited_on_a_posted_status_reaches_followers() {
    let cluster = Cluster::start(2).await;
    let [a, b] = &cluster.nodes[..] else { unreachable!() };
    a.user("ada").await;
    let bob = b.user("bob").await;
    let ada_at_b = actions::resolve_actor(&b.fed(), &a.handle("ada")).await.unwrap();
    actions::follow(&b.fed(), &bob, &ada_at_b).await.unwrap();
    cluster.flush().await;
    let ada = token(a, "ada", "read write").await;
    let media = crate::media::upload(a, &ada, "ledger.png", &crate::media::png(40, 30)).await;
    let status = post(a, &ada, json!({"status": "The ledger", "media_ids": [id(&media)]})).await;
    cluster.flush().await;
    let edit = json!({"status": "The ledger", "media_ids": [id(&media)],
                      "media_attributes": [{"id": id(&media), "description": "A ledger open at 1851", "focus": "0.5,-0.25"}]});
    let (s, edited) =
        call(M::PUT, a, &format!("/api/v1/statuses/{}", id(&status)), Some(&ada), Some(edit)).await;
    assert_eq!(s, 200, "{edited}");
    assert_eq!(edited["media_attachments"][0]["description"], "A ledger open at 1851");
    assert_eq!(edited["media_attachments"][0]["meta"]["focus"], json!({"x": 0.5, "y": -0.25}));
    cluster.flush().await;
    let ap_id = status["uri"].as_str().unwrap().to_owned();
    let at_b = b.status(&ap_id).await.unwrap().id;
    let described =
        b.instance.db().run(move |c| guildhall_storage::status_parts::attachments(c, at_b)).await.unwrap();
    assert_eq!(described[0].description.as_deref(), Some("A ledger open at 1851"));
    // Someone else's media cannot be described through an edit.
    a.user("eve").await;
    let eve = token(a, "eve", "read write").await;
    let eves = post(a, &eve, json!({"status": "mine"})).await;
    let grab = json!({"status": "mine", "media_attributes": [{"id": id(&media), "description": "stolen"}]});
    let (s, _) = call(M::PUT, a, &format!("/api/v1/statuses/{}", id(&eves)), Some(&eve), Some(grab)).await;
    assert_eq!(s, 404);
    cluster.stop().await;
}

#[tokio::test]
async fn the_advertised_thumbnail_is_served_and_can_be_configured() {
    let t = TestInstance::start(&Backend::Sqlite).await;
    let (_, v2) = call(M::GET, &t, "/api/v2/instance", None, None).await;
    let url = v2["thumbnail"]["url"].as_str().unwrap().to_owned();
    let res = http().get(&url).send().await.unwrap();
    assert_eq!(
        (res.status().as_u16(), res.headers()["content-type"].to_str().unwrap().to_owned()),
        (200, "image/png".into())
    );
    let image = image::load_from_memory(&res.bytes().await.unwrap()).unwrap();
    assert_eq!((image.width(), image.height()), (1200, 630));
    t.instance.stop().await.unwrap();

    let dir = tempfile::tempdir().unwrap();
    let picture = dir.path().join("museum.png");
    std::fs::write(&picture, crate::media::png(64, 32)).unwrap();
    let path = picture.display().to_string();
    let t = TestInstance::start_with(&Backend::Sqlite, &[("GUILDHALL_THUMBNAIL", path.as_str())]).await;
    let bytes = http().get(t.url("/thumbnail.png")).send().await.unwrap().bytes().await.unwrap();
    assert_eq!(image::load_from_memory(&bytes).unwrap().width(), 64);
    let (_, v1) = call(M::GET, &t, "/api/v1/instance", None, None).await;
    assert_eq!(v1["thumbnail"], t.url("/thumbnail.png"));
    // What apps open from the server's page answers, honestly empty where nothing is set.
    let (s, about) = call(M::GET, &t, "/api/v1/instance/extended_description", None, None).await;
    assert_eq!((s.as_u16(), about["content"].as_str()), (200, Some("")));
    let (s, languages) = call(M::GET, &t, "/api/v1/instance/translation_languages", None, None).await;
    assert_eq!((s.as_u16(), languages), (200, json!({})));
    t.instance.stop().await.unwrap();
}

#[tokio::test]
async fn a_browser_profile_form_and_removing_a_header_lose_nothing() {
    let t = TestInstance::start(&Backend::Sqlite).await;
    t.user("ada").await;
    let ada = token(&t, "ada", "read write").await;
    let picture = crate::media::png(90, 30);
    // An unused avatar input arrives as an empty part with an empty file name.
    let fields = [("display_name", "Ada L."), ("source[privacy]", "private"), ("source[language]", "cy")];
    let files = [("avatar", "", &b""[..]), ("header", "banner.png", &picture[..])];
    let (s, me) =
        crate::media::send(M::PATCH, &t, "/api/v1/accounts/update_credentials", Some(&ada), &fields, &files)
            .await;
    assert_eq!(s, 200, "{me}");
    assert_eq!(
        (me["display_name"].as_str(), me["source"]["privacy"].as_str()),
        (Some("Ada L."), Some("private"))
    );
    assert_eq!(me["source"]["language"], "cy");
    assert!(
        me["avatar"].as_str().unwrap().ends_with("/avatars/original/missing.png"),
        "no avatar was chosen"
    );
    let header = me["header"].as_str().unwrap().to_owned();
    assert!(header.contains("/media/"), "{me}");
    let (_, prefs) = call(M::GET, &t, "/api/v1/preferences", Some(&ada), None).await;
    assert_eq!(prefs["posting:default:visibility"], "private");
    let posted = post(&t, &ada, json!({"status": "default visibility"})).await;
    assert_eq!((posted["visibility"].as_str(), posted["language"].as_str()), (Some("private"), Some("cy")));
    let bad = json!({"source": {"privacy": "everyone"}});
    let (s, refused) = call(M::PATCH, &t, "/api/v1/accounts/update_credentials", Some(&ada), Some(bad)).await;
    assert_eq!(s, 422);
    assert!(refused["error"].as_str().unwrap().contains("source[privacy]"));

    let (s, me) = call(M::DELETE, &t, "/api/v1/profile/header", Some(&ada), None).await;
    assert_eq!(s, 200, "{me}");
    assert!(me["header"].as_str().unwrap().ends_with("/headers/original/missing.png"));
    assert_eq!(http().get(&header).send().await.unwrap().status(), 404, "the old file is gone");
    assert_eq!(me["display_name"], "Ada L.", "nothing else changed");
    t.instance.stop().await.unwrap();
}

/// Server-sent events of `response` until one whose data contains `wanted`; returns every
/// event's data seen.
async fn events_until_containing(response: &mut reqwest::Response, wanted: &str) -> Vec<String> {
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(10);
    let (mut buffer, mut seen) = (String::new(), Vec::new());
    loop {
        while let Some(end) = buffer.find("\n\n") {
            let block: String = buffer.drain(..end + 2).collect();
            let data: Vec<&str> = block.lines().filter_map(|l| l.strip_prefix("data: ")).collect();
            seen.push(data.join("\n"));
            if seen.last().is_some_and(|d| d.contains(wanted)) {
                return seen;
            }
        }
        let chunk = tokio::time::timeout_at(deadline, response.chunk())
            .await
            .unwrap_or_else(|_| panic!("nothing with {wanted} in time; saw {seen:?}"))
            .unwrap()
            .expect("the stream ended");
        buffer.push_str(&String::from_utf8_lossy(&chunk));
    }
}

#[tokio::test]
async fn a_notification_held_back_by_the_policy_is_not_streamed() {
    let t = TestInstance::start(&Backend::Sqlite).await;
    for name in ["ada", "bob", "eve"] {
        t.user(name).await;
    }
    let [ada, bob, eve] = [
        token(&t, "ada", "read write follow").await,
        token(&t, "bob", "read write").await,
        token(&t, "eve", "read write").await,
    ];
    let bob_id = account_id(&t, &bob).await;
    assert_eq!(
        call(M::POST, &t, &format!("/api/v1/accounts/{bob_id}/follow"), Some(&ada), None).await.0,
        200
    );
    let policy = json!({"for_not_following": "filter"});
    assert_eq!(call(M::PATCH, &t, "/api/v2/notifications/policy", Some(&ada), Some(policy)).await.0, 200);
    let mut stream =
        http().get(t.url("/api/v1/streaming/user/notification")).bearer_auth(&ada).send().await.unwrap();
    assert_eq!(stream.status(), 200);
    post(&t, &eve, json!({"status": "@ada held back"})).await;
    post(&t, &bob, json!({"status": "@ada shown"})).await;
    let seen = events_until_containing(&mut stream, "shown").await;
    assert!(!seen.iter().any(|d| d.contains("held back")), "{seen:?}");
    let shown = seen.last().unwrap();
    let event: Value = serde_json::from_str(shown).unwrap();
    assert!(event["group_key"].as_str().unwrap().starts_with("ungrouped-"), "{event}");
    t.instance.stop().await.unwrap();
}

#[tokio::test]
async fn the_bell_notifies_of_new_posts_and_hidden_boosts_stay_out_of_home() {
    let t = TestInstance::start(&Backend::Sqlite).await;
    for name in ["ada", "bob", "cy"] {
        t.user(name).await;
    }
    let [ada, bob, cy] = [
        token(&t, "ada", "read write follow").await,
        token(&t, "bob", "read write follow").await,
        token(&t, "cy", "read write").await,
    ];
    let bob_id = account_id(&t, &bob).await;
    let follow = format!("/api/v1/accounts/{bob_id}/follow");
    let (_, rel) =
        call(M::POST, &t, &follow, Some(&ada), Some(json!({"notify": true, "reblogs": false}))).await;
    assert_eq!(
        (rel["notifying"].as_bool(), rel["showing_reblogs"].as_bool()),
        (Some(true), Some(false)),
        "{rel}"
    );
    let cys = post(&t, &cy, json!({"status": "cy has news"})).await;
    post(&t, &bob, json!({"status": "bob has news"})).await;
    post(&t, &bob, json!({"status": "bob whispers", "visibility": "direct"})).await;
    let (s, _) = call(M::POST, &t, &format!("/api/v1/statuses/{}/reblog", id(&cys)), Some(&bob), None).await;
    assert_eq!(s, 200);
    let (_, told) = call(M::GET, &t, "/api/v1/notifications?types[]=status", Some(&ada), None).await;
    let told: Vec<&str> =
        told.as_array().unwrap().iter().map(|n| n["status"]["content"].as_str().unwrap()).collect();
    assert_eq!(told.len(), 1, "one new post, not the direct one or the boost: {told:?}");
    assert!(told[0].contains("bob has news"));
    let (_, home) = call(M::GET, &t, "/api/v1/timelines/home", Some(&ada), None).await;
    assert!(!home.as_array().unwrap().iter().any(|s| s["reblog"].is_object()), "no boosts of bob: {home}");
    // Following again only changes the choices.
    let (_, rel) = call(M::POST, &t, &follow, Some(&ada), Some(json!({"reblogs": true}))).await;
    assert_eq!((rel["notifying"].as_bool(), rel["showing_reblogs"].as_bool()), (Some(true), Some(true)));
    let (_, home) = call(M::GET, &t, "/api/v1/timelines/home", Some(&ada), None).await;
    assert!(home.as_array().unwrap().iter().any(|s| s["reblog"].is_object()), "boosts back: {home}");
    t.instance.stop().await.unwrap();
}
