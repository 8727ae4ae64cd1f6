//! Contract tests of lists, filters, followed hashtags, markers, mutes, pins and edit history,
//! over HTTP on both backends, failure cases included.

use guildhall_federation::actions::{self, NewPost};
use reqwest::Method as M;
use serde_json::{Value, json};

use crate::client_api::{call, token};
use crate::support::{Cluster, TestInstance, backends};

fn ids(list: &Value) -> Vec<String> {
    list.as_array().unwrap().iter().map(|s| s["id"].as_str().unwrap().to_owned()).collect()
}

async fn post(t: &TestInstance, token: &str, text: &str) -> String {
    let (s, body) = call(M::POST, t, "/api/v1/statuses", Some(token), Some(json!({"status": text}))).await;
    assert_eq!(s, 200, "{body}");
    body["id"].as_str().unwrap().to_owned()
}

async fn home(t: &TestInstance, token: &str) -> Value {
    call(M::GET, t, "/api/v1/timelines/home", Some(token), None).await.1
}

#[tokio::test]
async fn lists_hold_followed_accounts_and_have_timelines() {
    for backend in backends() {
        let t = TestInstance::start(&backend).await;
        t.user("ada").await;
        let bob = t.user("bob").await;
        let cy = t.user("cy").await;
        let ada = token(&t, "ada", "read write follow").await;
        let bob_token = token(&t, "bob", "read write").await;
        let cy_token = token(&t, "cy", "read write").await;
        let reader = token(&t, "ada", "read").await;
        call(M::POST, &t, &format!("/api/v1/accounts/{}/follow", bob.id), Some(&ada), None).await;

        assert_eq!(call(M::GET, &t, "/api/v1/lists", None, None).await.0, 401);
        let (s, _) = call(M::POST, &t, "/api/v1/lists", Some(&reader), Some(json!({"title": "x"}))).await;
        assert_eq!(s, 403, "a read token cannot make lists");
        let (s, body) = call(M::POST, &t, "/api/v1/lists", Some(&ada), Some(json!({"title": " "}))).await;
        assert_eq!(s, 422, "{body}");
        let bad = json!({"title": "x", "replies_policy": "everyone"});
        assert_eq!(call(M::POST, &t, "/api/v1/lists", Some(&ada), Some(bad)).await.0, 422);

        let (s, list) =
            call(M::POST, &t, "/api/v1/lists", Some(&ada), Some(json!({"title": "Curators"}))).await;
        assert_eq!(s, 200, "{list}");
        assert_eq!(
            (list["title"].as_str(), list["replies_policy"].as_str()),
            (Some("Curators"), Some("list"))
        );
        let id = list["id"].as_str().unwrap().to_owned();
        let members = format!("/api/v1/lists/{id}/accounts");
        // Only followed accounts may be added.
        let (s, body) =
            call(M::POST, &t, &members, Some(&ada), Some(json!({"account_ids": [cy.id.to_string()]}))).await;
        assert_eq!(s, 422, "{body}");
        let (s, _) =
            call(M::POST, &t, &members, Some(&ada), Some(json!({"account_ids": [bob.id.to_string()]}))).await;
        assert_eq!(s, 200);
        let (_, listed) = call(M::GET, &t, &members, Some(&ada), None).await;
        assert_eq!(ids(&listed), vec![bob.id.to_string()]);
        let (_, of_bob) =
            call(M::GET, &t, &format!("/api/v1/accounts/{}/lists", bob.id), Some(&ada), None).await;
        assert_eq!(ids(&of_bob), vec![id.clone()]);

        let from_bob = post(&t, &bob_token, "from bob").await;
        post(&t, &cy_token, "from cy").await;
        let (s, timeline) = call(M::GET, &t, &format!("/api/v1/timelines/list/{id}"), Some(&ada), None).await;
        assert_eq!(s, 200);
        assert_eq!(ids(&timeline), vec![from_bob.clone()], "only the list's members");

        // Exclusive: bob's posts leave home.
        assert!(ids(&home(&t, &ada).await).contains(&from_bob));
        let put = json!({"exclusive": true, "title": "Curators only"});
        let (_, updated) = call(M::PUT, &t, &format!("/api/v1/lists/{id}"), Some(&ada), Some(put)).await;
        assert_eq!(
            (updated["exclusive"].as_bool(), updated["title"].as_str()),
            (Some(true), Some("Curators only"))
        );
        assert!(!ids(&home(&t, &ada).await).contains(&from_bob), "exclusive lists keep members out of home");

        // Someone else's list is not there.
        let (s, _) = call(M::GET, &t, &format!("/api/v1/lists/{id}"), Some(&bob_token), None).await;
        assert_eq!(s, 404);
        let (s, _) =
            call(M::DELETE, &t, &members, Some(&ada), Some(json!({"account_ids": [bob.id.to_string()]})))
                .await;
        assert_eq!(s, 200);
        assert_eq!(call(M::DELETE, &t, &format!("/api/v1/lists/{id}"), Some(&ada), None).await.0, 200);
        assert_eq!(call(M::GET, &t, &format!("/api/v1/lists/{id}"), Some(&ada), None).await.0, 404);
        t.instance.stop().await.unwrap();
    }
}

#[tokio::test]
async fn filters_warn_or_hide_in_their_contexts() {
    for backend in backends() {
        let t = TestInstance::start(&backend).await;
        t.user("ada").await;
        let bob = t.user("bob").await;
        let ada = token(&t, "ada", "read write follow").await;
        let bob_token = token(&t, "bob", "read write").await;
        call(M::POST, &t, &format!("/api/v1/accounts/{}/follow", bob.id), Some(&ada), None).await;
        let spoiler = post(&t, &bob_token, "Spoilers for the finale!").await;
        let cats = post(&t, &bob_token, "My cat sleeps").await;
        let plain = post(&t, &bob_token, "Concatenate the catalogue").await;

        assert_eq!(call(M::GET, &t, "/api/v2/filters", None, None).await.0, 401);
        for bad in [
            json!({"title": "", "context": ["home"]}),
            json!({"title": "t"}),
            json!({"title": "t", "context": ["everywhere"]}),
            json!({"title": "t", "context": ["home"], "filter_action": "explode"}),
        ] {
            assert_eq!(call(M::POST, &t, "/api/v2/filters", Some(&ada), Some(bad)).await.0, 422);
        }
        let warn = json!({"title": "Cats", "context": ["home", "notifications"], "filter_action": "warn",
                          "keywords_attributes": [{"keyword": "cat", "whole_word": true}]});
        let (s, cat_filter) = call(M::POST, &t, "/api/v2/filters", Some(&ada), Some(warn)).await;
        assert_eq!(s, 200, "{cat_filter}");
        assert_eq!(cat_filter["keywords"][0]["keyword"], "cat");
        // Form-encoded, as many apps send it.
        let form = [
            ("title", "Spoilers"),
            ("context[]", "home"),
            ("filter_action", "hide"),
            ("keywords_attributes[][keyword]", "spoiler"),
            ("keywords_attributes[][whole_word]", "false"),
        ];
        let res = crate::support::http()
            .post(t.url("/api/v2/filters"))
            .bearer_auth(&ada)
            .form(&form)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200);
        let hide: Value = res.json().await.unwrap();
        assert_eq!(
            (hide["filter_action"].as_str(), hide["keywords"][0]["whole_word"].as_bool()),
            (Some("hide"), Some(false))
        );

        let timeline = home(&t, &ada).await;
        let shown = ids(&timeline);
        assert!(!shown.contains(&spoiler), "hide drops the status");
        assert!(shown.contains(&plain));
        let cat = timeline.as_array().unwrap().iter().find(|s| s["id"] == cats.as_str()).unwrap();
        assert_eq!(cat["filtered"][0]["keyword_matches"], json!(["cat"]), "warn marks it: {cat}");
        let concat = timeline.as_array().unwrap().iter().find(|s| s["id"] == plain.as_str()).unwrap();
        assert_eq!(concat["filtered"], json!([]), "whole words only");
        // Not in the public context.
        let (_, public) = call(M::GET, &t, "/api/v1/timelines/public", Some(&ada), None).await;
        assert!(ids(&public).contains(&spoiler));

        // v1 view, keywords and statuses sub-resources, update and delete.
        let (_, v1) = call(M::GET, &t, "/api/v1/filters", Some(&ada), None).await;
        assert_eq!(v1.as_array().unwrap().len(), 2);
        let id = cat_filter["id"].as_str().unwrap();
        let (s, kw) = call(
            M::POST,
            &t,
            &format!("/api/v2/filters/{id}/keywords"),
            Some(&ada),
            Some(json!({"keyword": "kitten"})),
        )
        .await;
        assert_eq!(s, 200, "{kw}");
        let (s, entry) = call(
            M::POST,
            &t,
            &format!("/api/v2/filters/{id}/statuses"),
            Some(&ada),
            Some(json!({"status_id": plain})),
        )
        .await;
        assert_eq!(s, 200, "{entry}");
        let timeline = home(&t, &ada).await;
        let concat = timeline.as_array().unwrap().iter().find(|s| s["id"] == plain.as_str()).unwrap();
        assert_eq!(concat["filtered"][0]["status_matches"], json!([plain]));
        let (_, full) = call(M::GET, &t, &format!("/api/v2/filters/{id}"), Some(&ada), None).await;
        assert_eq!(
            (full["keywords"].as_array().unwrap().len(), full["statuses"].as_array().unwrap().len()),
            (2, 1)
        );
        let (s, _) = call(M::GET, &t, &format!("/api/v2/filters/{id}"), Some(&bob_token), None).await;
        assert_eq!(s, 404, "someone else's filter");
        let (_, renamed) =
            call(M::PUT, &t, &format!("/api/v2/filters/{id}"), Some(&ada), Some(json!({"title": "Pets"})))
                .await;
        assert_eq!(renamed["title"], "Pets");
        assert_eq!(call(M::DELETE, &t, &format!("/api/v2/filters/{id}"), Some(&ada), None).await.0, 200);
        let kid = kw["id"].as_str().unwrap();
        assert_eq!(
            call(M::GET, &t, &format!("/api/v2/filters/keywords/{kid}"), Some(&ada), None).await.0,
            404
        );
        t.instance.stop().await.unwrap();
    }
}

#[tokio::test]
async fn markers_mutes_pins_and_edit_history() {
    for backend in backends() {
        let t = TestInstance::start(&backend).await;
        t.user("ada").await;
        let bob = t.user("bob").await;
        let ada = token(&t, "ada", "read write follow").await;
        let bob_token = token(&t, "bob", "read write").await;

        // Markers.
        let (_, empty) = call(M::GET, &t, "/api/v1/markers?timeline[]=home", Some(&ada), None).await;
        assert_eq!(empty, json!({}));
        let (s, set) =
            call(M::POST, &t, "/api/v1/markers", Some(&ada), Some(json!({"home": {"last_read_id": "103"}})))
                .await;
        assert_eq!(
            (s.as_u16(), set["home"]["last_read_id"].as_str(), set["home"]["version"].as_i64()),
            (200, Some("103"), Some(1))
        );
        let form = [("home[last_read_id]", "110"), ("notifications[last_read_id]", "7")];
        let res = crate::support::http()
            .post(t.url("/api/v1/markers"))
            .bearer_auth(&ada)
            .form(&form)
            .send()
            .await
            .unwrap();
        let set: Value = res.json().await.unwrap();
        assert_eq!(
            (set["home"]["version"].as_i64(), set["notifications"]["last_read_id"].as_str()),
            (Some(2), Some("7"))
        );
        let (_, both) = call(M::GET, &t, "/api/v1/markers", Some(&ada), None).await;
        assert_eq!(both["home"]["last_read_id"], "110");
        assert_eq!(call(M::POST, &t, "/api/v1/markers", Some(&ada), Some(json!({}))).await.0, 422);

        // Mutes: bob's posts leave ada's home; notifications from bob too.
        call(M::POST, &t, &format!("/api/v1/accounts/{}/follow", bob.id), Some(&ada), None).await;
        let before = post(&t, &bob_token, "before the mute").await;
        assert!(ids(&home(&t, &ada).await).contains(&before));
        let (s, rel) =
            call(M::POST, &t, &format!("/api/v1/accounts/{}/mute", bob.id), Some(&ada), None).await;
        assert_eq!(
            (s.as_u16(), rel["muting"].as_bool(), rel["muting_notifications"].as_bool()),
            (200, Some(true), Some(true))
        );
        assert!(!ids(&home(&t, &ada).await).contains(&before));
        post(&t, &bob_token, "hey @ada").await;
        let (_, notes) = call(M::GET, &t, "/api/v1/notifications", Some(&ada), None).await;
        assert!(
            notes.as_array().unwrap().iter().all(|n| n["account"]["id"] != bob.id.to_string().as_str()),
            "{notes}"
        );
        let (_, muted) = call(M::GET, &t, "/api/v1/mutes", Some(&ada), None).await;
        assert_eq!(ids(&muted), vec![bob.id.to_string()]);
        let (_, rel) =
            call(M::POST, &t, &format!("/api/v1/accounts/{}/unmute", bob.id), Some(&ada), None).await;
        assert_eq!(rel["muting"], false);
        assert!(ids(&home(&t, &ada).await).contains(&before));
        assert_eq!(call(M::POST, &t, "/api/v1/accounts/999/mute", Some(&ada), None).await.0, 404);

        // Blocks are listed too (and a read-only token without the blocks scope may not).
        assert_eq!(call(M::GET, &t, "/api/v1/blocks", Some(&ada), None).await.1, json!([]));
        call(M::POST, &t, &format!("/api/v1/accounts/{}/block", bob.id), Some(&ada), None).await;
        let (_, blocked) = call(M::GET, &t, "/api/v1/blocks", Some(&ada), None).await;
        assert_eq!(ids(&blocked), vec![bob.id.to_string()]);
        let statuses_only = token(&t, "ada", "read:statuses").await;
        assert_eq!(call(M::GET, &t, "/api/v1/blocks", Some(&statuses_only), None).await.0, 403);
        call(M::POST, &t, &format!("/api/v1/accounts/{}/unblock", bob.id), Some(&ada), None).await;
        call(M::POST, &t, &format!("/api/v1/accounts/{}/follow", bob.id), Some(&ada), None).await;

        // Familiar followers: those ada follows who also follow bob.
        let cy = t.user("cy").await;
        let dee = t.user("dee").await;
        for (who, whom) in [("cy", bob.id), ("dee", bob.id), ("ada", cy.id)] {
            let follower = token(&t, who, "read write follow").await;
            call(M::POST, &t, &format!("/api/v1/accounts/{whom}/follow"), Some(&follower), None).await;
        }
        let path = format!("/api/v1/accounts/familiar_followers?id[]={}", bob.id);
        let (s, familiar) = call(M::GET, &t, &path, Some(&ada), None).await;
        assert_eq!((s.as_u16(), familiar[0]["id"].as_str()), (200, Some(bob.id.to_string().as_str())));
        assert_eq!(ids(&familiar[0]["accounts"]), vec![cy.id.to_string()], "cy, not dee: {familiar}");
        let _ = dee;

        // Pins: own posts only, shown with pinned=true.
        let mine = post(&t, &ada, "pin me").await;
        let (s, pinned) = call(M::POST, &t, &format!("/api/v1/statuses/{mine}/pin"), Some(&ada), None).await;
        assert_eq!((s.as_u16(), pinned["pinned"].as_bool()), (200, Some(true)));
        assert_eq!(
            call(M::POST, &t, &format!("/api/v1/statuses/{before}/pin"), Some(&ada), None).await.0,
            404
        );
        let me = call(M::GET, &t, "/api/v1/accounts/verify_credentials", Some(&ada), None).await.1;
        let path = format!("/api/v1/accounts/{}/statuses?pinned=true", me["id"].as_str().unwrap());
        assert_eq!(ids(&call(M::GET, &t, &path, None, None).await.1), vec![mine.clone()]);
        call(M::POST, &t, &format!("/api/v1/statuses/{mine}/unpin"), Some(&ada), None).await;
        assert_eq!(call(M::GET, &t, &path, None, None).await.1, json!([]));

        // Edit history: every version, oldest first.
        let edit = json!({"status": "pin me, edited"});
        assert_eq!(
            call(M::PUT, &t, &format!("/api/v1/statuses/{mine}"), Some(&ada), Some(edit)).await.0,
            200
        );
        let edit = json!({"status": "pin me, edited twice", "spoiler_text": "cw"});
        assert_eq!(
            call(M::PUT, &t, &format!("/api/v1/statuses/{mine}"), Some(&ada), Some(edit)).await.0,
            200
        );
        let (_, history) =
            call(M::GET, &t, &format!("/api/v1/statuses/{mine}/history"), Some(&ada), None).await;
        let texts: Vec<&str> =
            history.as_array().unwrap().iter().map(|v| v["content"].as_str().unwrap()).collect();
        assert_eq!(texts, vec!["<p>pin me</p>", "<p>pin me, edited</p>", "<p>pin me, edited twice</p>"]);
        assert_eq!(history[2]["spoiler_text"], "cw");
        t.instance.stop().await.unwrap();
    }
}

#[tokio::test]
async fn followed_hashtags_bring_posts_that_reach_the_server_into_home() {
    let cluster = Cluster::start(2).await;
    let [a, b] = &cluster.nodes[..] else { unreachable!() };
    a.user("ada").await;
    let cy = a.user("cy").await;
    let bob = b.user("bob").await;
    let ada = token(a, "ada", "read write follow").await;
    // cy follows bob, so bob's public posts reach A; ada follows nobody, only the hashtag.
    let bob_at_a = actions::resolve_actor(&a.fed(), &b.handle("bob")).await.unwrap();
    actions::follow(&a.fed(), &cy, &bob_at_a).await.unwrap();
    cluster.flush().await;

    assert_eq!(call(M::POST, a, "/api/v1/tags/GLAM/follow", None, None).await.0, 401);
    let (s, tag) = call(M::POST, a, "/api/v1/tags/GLAM/follow", Some(&ada), None).await;
    assert_eq!(
        (s.as_u16(), tag["name"].as_str(), tag["following"].as_bool()),
        (200, Some("glam"), Some(true))
    );
    assert_eq!(call(M::GET, a, "/api/v1/tags/not-a-tag!", Some(&ada), None).await.0, 404);
    let (_, followed) = call(M::GET, a, "/api/v1/followed_tags", Some(&ada), None).await;
    assert_eq!(followed[0]["name"], "glam");

    let tagged = actions::post(&b.fed(), &bob, NewPost::public("New #GLAM dataset out")).await.unwrap();
    let untagged = actions::post(&b.fed(), &bob, NewPost::public("Lunch")).await.unwrap();
    cluster.flush().await;
    let timeline = home(a, &ada).await;
    let uris: Vec<&str> = timeline.as_array().unwrap().iter().map(|s| s["uri"].as_str().unwrap()).collect();
    assert_eq!(uris, vec![tagged.ap_id.as_str()], "the tagged post only: {timeline}");
    assert!(!uris.contains(&untagged.ap_id.as_str()));

    let (_, tag) = call(M::POST, a, "/api/v1/tags/glam/unfollow", Some(&ada), None).await;
    assert_eq!(tag["following"], false);
    assert_eq!(home(a, &ada).await, json!([]));
    cluster.stop().await;
}

#[tokio::test]
async fn reports_reach_admins_and_are_forwarded_anonymously_and_direct_messages_form_conversations() {
    let cluster = Cluster::start(2).await;
    let [a, b] = &cluster.nodes[..] else { unreachable!() };
    a.user("ada").await;
    let cy = a.user("cy").await;
    let bob = b.user("bob").await;
    let urls = guildhall_federation::Urls::new(a.instance.config());
    let root = guildhall_federation::local_actors::NewUser {
        username: "root",
        email: "root@museum.example",
        password: "correct horse",
        role: guildhall_core::model::Role::Admin,
    };
    guildhall_federation::local_actors::create_user(a.instance.db(), &urls, root).await.unwrap();
    let ada = token(a, "ada", "read write follow").await;
    let admin = token(a, "root", "read write admin:read").await;
    let bob_at_a = actions::resolve_actor(&a.fed(), &b.handle("bob")).await.unwrap();
    let spam = actions::post(&b.fed(), &bob, NewPost::public("Buy followers now")).await.unwrap();
    let spam_at_a = actions::resolve_status(&a.fed(), &spam.ap_id).await.unwrap();

    let report = json!({"account_id": bob_at_a.id.to_string(), "status_ids": [spam_at_a.id.to_string()],
                        "comment": "spam", "forward": true, "category": "spam"});
    assert_eq!(call(M::POST, a, "/api/v1/reports", None, Some(report.clone())).await.0, 401);
    let read_only = token(a, "ada", "read").await;
    assert_eq!(call(M::POST, a, "/api/v1/reports", Some(&read_only), Some(report.clone())).await.0, 403);
    let long = json!({"account_id": bob_at_a.id.to_string(), "comment": "x".repeat(1001)});
    assert_eq!(call(M::POST, a, "/api/v1/reports", Some(&ada), Some(long)).await.0, 422);
    let wrong = json!({"account_id": cy.id.to_string(), "status_ids": [spam_at_a.id.to_string()]});
    assert_eq!(call(M::POST, a, "/api/v1/reports", Some(&ada), Some(wrong)).await.0, 422, "not cy's post");
    let (s, filed) = call(M::POST, a, "/api/v1/reports", Some(&ada), Some(report)).await;
    assert_eq!(s, 200, "{filed}");
    assert_eq!((filed["forwarded"].as_bool(), filed["category"].as_str()), (Some(true), Some("spam")));
    assert_eq!(filed["status_ids"], json!([spam_at_a.id.to_string()]));

    // The admins here see it; only admins.
    assert_eq!(call(M::GET, a, "/api/v1/admin/reports", Some(&ada), None).await.0, 403);
    let (_, open) = call(M::GET, a, "/api/v1/admin/reports", Some(&admin), None).await;
    assert_eq!(open[0]["comment"], "spam");
    assert_eq!(open[0]["account"]["username"], "ada");

    // B's moderators get it from A's instance actor, not from ada.
    cluster.flush().await;
    let reports = b.instance.db().run(guildhall_storage::reports::open).await.unwrap();
    assert_eq!(reports.len(), 1);
    assert_eq!((reports[0].target_id, reports[0].comment.as_str()), (bob.id, "spam"));
    let reporter = b.instance.db().run(move |c| guildhall_storage::actors::get(c, reports[0].reporter_id));
    assert_eq!(reporter.await.unwrap().kind, "application", "the reporter stays anonymous");

    // Conversations: a direct message and its direct reply are one conversation.
    let cy_token = token(a, "cy", "read write").await;
    let dm = json!({"status": "@cy are you coming?", "visibility": "direct"});
    let (_, first) = call(M::POST, a, "/api/v1/statuses", Some(&ada), Some(dm)).await;
    let reply = json!({"status": "@ada yes", "visibility": "direct", "in_reply_to_id": first["id"]});
    let (_, answer) = call(M::POST, a, "/api/v1/statuses", Some(&cy_token), Some(reply)).await;
    let (s, conversations) = call(M::GET, a, "/api/v1/conversations", Some(&ada), None).await;
    assert_eq!(s, 200);
    assert_eq!(conversations.as_array().unwrap().len(), 1, "{conversations}");
    assert_eq!(conversations[0]["id"], first["id"]);
    assert_eq!(conversations[0]["last_status"]["id"], answer["id"]);
    assert_eq!(conversations[0]["accounts"][0]["username"], "cy");
    let path = format!("/api/v1/conversations/{}/read", first["id"].as_str().unwrap());
    assert_eq!(call(M::POST, a, &path, Some(&ada), None).await.1["unread"], false);
    assert_eq!(call(M::GET, a, "/api/v1/conversations", Some(&admin), None).await.1, json!([]));
    cluster.stop().await;
}

/// Timelines render a page from parts loaded at once; a single status renders alone. Both must
/// say the same.
#[tokio::test]
async fn timeline_entities_match_single_status_entities() {
    for backend in backends() {
        let t = TestInstance::start(&backend).await;
        t.user("ada").await;
        let bob = t.user("bob").await;
        let ada = token(&t, "ada", "read write follow").await;
        let bob_token = token(&t, "bob", "read write follow").await;
        call(M::POST, &t, &format!("/api/v1/accounts/{}/follow", bob.id), Some(&ada), None).await;
        let first = post(&t, &bob_token, "Hello @ada, #GLAM data").await;
        let second = post(&t, &ada, "my own, pinned").await;
        call(M::POST, &t, &format!("/api/v1/statuses/{second}/pin"), Some(&ada), None).await;
        for action in ["favourite", "bookmark", "reblog"] {
            call(M::POST, &t, &format!("/api/v1/statuses/{first}/{action}"), Some(&ada), None).await;
        }
        let reply = json!({"status": "@bob indeed", "in_reply_to_id": first});
        call(M::POST, &t, "/api/v1/statuses", Some(&ada), Some(reply)).await;
        call(M::POST, &t, &format!("/api/v1/statuses/{second}/reblog"), Some(&bob_token), None).await;

        let timeline = home(&t, &ada).await;
        let items = timeline.as_array().unwrap();
        assert!(items.len() >= 5, "{timeline}");
        let mut checked = 0;
        for item in items {
            let id = item["id"].as_str().unwrap();
            let (_, alone) = call(M::GET, &t, &format!("/api/v1/statuses/{id}"), Some(&ada), None).await;
            assert_eq!(item, &alone, "status {id} renders the same in a timeline and alone");
            checked += 1;
        }
        let boost = items.iter().find(|s| s["reblog"]["id"] == first.as_str()).expect("ada's boost");
        let original = &boost["reblog"];
        assert_eq!(
            (
                original["favourited"].as_bool(),
                original["bookmarked"].as_bool(),
                original["reblogged"].as_bool()
            ),
            (Some(true), Some(true), Some(true))
        );
        assert_eq!(
            (
                original["favourites_count"].as_i64(),
                original["replies_count"].as_i64(),
                original["reblogs_count"].as_i64()
            ),
            (Some(1), Some(1), Some(1))
        );
        assert_eq!(original["mentions"][0]["username"], "ada");
        assert_eq!(original["tags"][0]["name"], "glam");
        // The authors' counts, loaded for the whole page, are the real ones (a boost is no post).
        let by =
            |who: &str| items.iter().find(|s| s["account"]["username"] == who).unwrap()["account"].clone();
        let (bob_account, ada_account) = (by("bob"), by("ada"));
        assert_eq!((&bob_account["followers_count"], &bob_account["statuses_count"]), (&json!(1), &json!(1)));
        assert_eq!(&ada_account["following_count"], &json!(1));
        assert!(checked >= 5);
        t.instance.stop().await.unwrap();
    }
}
