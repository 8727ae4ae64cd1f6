//! Contract tests of Guildhall's own group API (`/api/guildhall/v1/groups`), its OpenAPI
//! document, and Mastodon's `/api/v1/directory` with groups in it — over HTTP, on every backend.

use reqwest::Method as M;
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::client_api::{call, token};
use crate::support::{Backend, TestInstance, backends, http};

const GROUPS: &str = "/api/guildhall/v1/groups";

/// `/api/guildhall/v1/groups/{id}{rest}`.
fn g(id: &str, rest: &str) -> String {
    format!("{GROUPS}/{id}{rest}")
}

fn id_of(v: &Value) -> String {
    v["id"].as_str().unwrap_or_else(|| panic!("no id in {v}")).to_owned()
}

fn ids(list: &Value) -> Vec<String> {
    list.as_array().unwrap_or_else(|| panic!("not a list: {list}")).iter().map(id_of).collect()
}

/// Creates a group as the holder of `tok`; panics unless it worked.
async fn create(t: &TestInstance, tok: &str, body: Value) -> Value {
    let (s, group) = call(M::POST, t, GROUPS, Some(tok), Some(body)).await;
    assert_eq!(s, 200, "{group}");
    group
}

/// Asks to join (follows the group actor through Mastodon's API).
async fn join(t: &TestInstance, tok: &str, group_id: &str) -> (StatusCode, Value) {
    call(M::POST, t, &format!("/api/v1/accounts/{group_id}/follow"), Some(tok), None).await
}

/// Asserts a 4xx with a JSON error body mentioning `needle`.
fn assert_error(got: (StatusCode, Value), status: u16, needle: &str) {
    let (s, body) = got;
    assert_eq!(s, status, "{body}");
    let message = body["error"].as_str().unwrap_or_else(|| panic!("no error message: {body}"));
    assert!(message.contains(needle), "'{message}' does not mention '{needle}'");
}

#[tokio::test]
async fn create_read_search_and_update_groups() {
    for backend in backends() {
        let t = TestInstance::start(&backend).await;
        create_read_search_and_update(&t).await;
        t.instance.stop().await.unwrap();
    }
}

async fn create_read_search_and_update(t: &TestInstance) {
    let ada = t.user("ada").await;
    t.user("bob").await;
    let owner = token(t, "ada", "read write follow").await;
    let read_only = token(t, "ada", "read").await;
    let bob = token(t, "bob", "read write follow").await;
    let new = json!({"name": "MuseumComputing", "display_name": "Museum Computing",
                     "description": "We talk #GLAM tech", "rules": ["Be kind", "Stay on topic"],
                     "membership": "approval"});

    // 401 without or with a bad token; 403 without the write scope.
    assert_error(call(M::POST, t, GROUPS, None, Some(new.clone())).await, 401, "access token");
    assert_error(call(M::POST, t, GROUPS, Some("nope"), Some(new.clone())).await, 401, "access token");
    assert_error(call(M::POST, t, GROUPS, Some(&read_only), Some(new.clone())).await, 403, "scopes");

    // 422 for each bad field, naming it.
    for (bad, needle) in [
        (json!({"display_name": "No name"}), "name is required"),
        (json!({"name": "museum computing"}), "name is not valid"),
        (json!({"name": "x".repeat(31)}), "name is not valid"),
        (json!({"name": "ada"}), "already taken"),
        (json!({"name": "Fine", "membership": "secret"}), "membership must be one of"),
        (json!({"name": "Fine", "posting": "everyone"}), "posting must be one of"),
        (json!({"name": "Fine", "visibility": "hidden"}), "visibility must be one of"),
        (json!({"name": "Fine", "display_name": "d".repeat(101)}), "display_name is longer"),
        (json!({"name": "Fine", "rules": vec!["r"; 21]}), "at most 20 rules"),
    ] {
        assert_error(call(M::POST, t, GROUPS, Some(&owner), Some(bad)).await, 422, needle);
    }
    assert_error(call(M::GET, t, &g("0", ""), None, None).await, 404, "Record not found");
    assert_eq!(call(M::GET, t, GROUPS, None, None).await.1, json!([]), "nothing was created");

    // Create (JSON): the caller owns and moderates it.
    let museum = create(t, &owner, new).await;
    let museum_id = id_of(&museum);
    assert_eq!(museum["username"], "MuseumComputing");
    assert_eq!(museum["acct"], "MuseumComputing");
    assert_eq!(museum["display_name"], "Museum Computing");
    assert!(museum["description"].as_str().unwrap().starts_with("<p>We talk "), "{museum}");
    assert!(museum["description"].as_str().unwrap().contains("/tags/glam"), "{museum}");
    assert_eq!(
        (&museum["membership"], &museum["posting"], &museum["visibility"]),
        (&json!("approval"), &json!("members"), &json!("public"))
    );
    assert_eq!(museum["rules"], json!(["Be kind", "Stay on topic"]));
    assert_eq!(museum["members_count"], 0);
    assert_eq!(museum["account"]["group"], true);
    assert_eq!(museum["account"]["id"], museum["id"]);
    assert_eq!(museum["account"]["locked"], true, "approval groups are locked accounts");
    assert!(museum["url"].as_str().unwrap().contains("MuseumComputing"), "{museum}");
    assert_eq!(
        museum["relationship"],
        json!({"member": false, "pending": false, "moderator": true, "banned": false, "invited": false})
    );

    // Create (form, `rules[]`): a members-only, invite-only announcement channel.
    let res = http()
        .post(t.url(GROUPS))
        .bearer_auth(&owner)
        .form(&[
            ("name", "Circle"),
            ("membership", "invite"),
            ("posting", "moderators"),
            ("visibility", "members"),
            ("rules[]", "Members only"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let circle: Value = res.json().await.unwrap();
    let circle_id = id_of(&circle);
    assert_eq!((&circle["display_name"], &circle["rules"]), (&json!("Circle"), &json!(["Members only"])));
    assert_error(call(M::POST, t, GROUPS, Some(&owner), Some(json!({"name": "circle"}))).await, 422, "taken");

    // Read: anonymous readers see no relationship; members-only groups hide their size.
    let (s, anon) = call(M::GET, t, &g(&museum_id, ""), None, None).await;
    assert_eq!((s, &anon["relationship"], &anon["members_count"]), (StatusCode::OK, &Value::Null, &json!(0)));
    let (_, hidden) = call(M::GET, t, &g(&circle_id, ""), None, None).await;
    assert_eq!(hidden["members_count"], Value::Null);
    let (_, as_bob) = call(M::GET, t, &g(&circle_id, ""), Some(&bob), None).await;
    assert_eq!((&as_bob["members_count"], &as_bob["relationship"]["member"]), (&Value::Null, &json!(false)));
    let (_, as_owner) = call(M::GET, t, &g(&circle_id, ""), Some(&owner), None).await;
    assert_eq!(as_owner["members_count"], 0, "moderators see the size");
    // Mastodon sees the group as an account.
    let (_, account) = call(M::GET, t, &format!("/api/v1/accounts/{museum_id}"), None, None).await;
    assert_eq!((&account["group"], &account["username"]), (&json!(true), &json!("MuseumComputing")));

    // 404: unknown ids, ids that are not numbers, ids of people.
    for path in [g("12345", ""), g("not-a-number", ""), g(&ada.id.to_string(), "")] {
        assert_error(call(M::GET, t, &path, None, None).await, 404, "Record not found");
    }

    // The directory: no auth needed, newest first, searchable, paged.
    let (s, all) = call(M::GET, t, GROUPS, None, None).await;
    assert_eq!((s, ids(&all)), (StatusCode::OK, vec![circle_id.clone(), museum_id.clone()]));
    assert_eq!(
        ids(&call(M::GET, t, &format!("{GROUPS}?q=museum"), None, None).await.1),
        vec![museum_id.clone()]
    );
    assert_eq!(
        ids(&call(M::GET, t, &format!("{GROUPS}?q=IRC"), None, None).await.1),
        vec![circle_id.clone()]
    );
    assert_eq!(
        ids(&call(M::GET, t, &format!("{GROUPS}?q=computing"), None, None).await.1),
        vec![museum_id.clone()]
    );
    assert!(ids(&call(M::GET, t, &format!("{GROUPS}?q=nothing"), None, None).await.1).is_empty());
    assert_eq!(
        ids(&call(M::GET, t, &format!("{GROUPS}?limit=1"), None, None).await.1),
        vec![circle_id.clone()]
    );
    let second = call(M::GET, t, &format!("{GROUPS}?limit=1&offset=1"), None, None).await.1;
    assert_eq!(ids(&second), vec![museum_id.clone()]);
    let (_, mine) = call(M::GET, t, GROUPS, Some(&owner), None).await;
    assert!(mine.as_array().unwrap().iter().all(|g| g["relationship"]["moderator"] == true), "{mine}");
    assert_eq!(call(M::GET, t, &format!("{GROUPS}?limit=lots"), None, None).await.0, 400);

    // Update: moderators only; fields not sent stay; `rules: []` clears the rules.
    let path = g(&museum_id, "");
    let change = json!({"display_name": "Museum Computing Group", "rules": [], "membership": "open"});
    assert_error(call(M::PATCH, t, &path, None, Some(change.clone())).await, 401, "access token");
    assert_error(call(M::PATCH, t, &path, Some(&read_only), Some(change.clone())).await, 403, "scopes");
    assert_error(call(M::PATCH, t, &path, Some(&bob), Some(change.clone())).await, 403, "moderators");
    assert_error(call(M::PATCH, t, &g("12345", ""), Some(&owner), Some(change.clone())).await, 404, "Record");
    for (bad, needle) in [
        (json!({"membership": "closed"}), "membership must be one of"),
        (json!({"avatar_url": "ftp://example.com/a.png"}), "avatar_url must be an http"),
        (json!({"description": "d".repeat(2001)}), "description is longer"),
    ] {
        assert_error(call(M::PATCH, t, &path, Some(&owner), Some(bad)).await, 422, needle);
    }
    let (s, updated) = call(M::PATCH, t, &path, Some(&owner), Some(change)).await;
    assert_eq!(s, 200, "{updated}");
    assert_eq!(updated["display_name"], "Museum Computing Group");
    assert_eq!(updated["rules"], json!([]));
    assert_eq!(updated["membership"], "open");
    assert_eq!(updated["account"]["locked"], false);
    assert_eq!(updated["description"], museum["description"], "what was not sent stays");
    let (_, again) = call(M::GET, t, &path, None, None).await;
    assert_eq!(
        (&again["display_name"], &again["membership"]),
        (&json!("Museum Computing Group"), &json!("open"))
    );
    let (s, same) = call(M::PATCH, t, &path, Some(&owner), Some(json!({}))).await;
    assert_eq!((s, &same["display_name"]), (StatusCode::OK, &json!("Museum Computing Group")));
}

#[tokio::test]
async fn requests_invitations_and_bans() {
    for backend in backends() {
        let t = TestInstance::start(&backend).await;
        requests_invitations_bans(&t).await;
        t.instance.stop().await.unwrap();
    }
}

async fn requests_invitations_bans(t: &TestInstance) {
    t.user("owner").await;
    let ada = t.user("ada").await.id.to_string();
    let bob = t.user("bob").await.id.to_string();
    let cy = t.user("cy").await.id.to_string();
    let owner = token(t, "owner", "read write follow").await;
    let ada_tok = token(t, "ada", "read write follow").await;
    let bob_tok = token(t, "bob", "read write follow").await;
    let cy_tok = token(t, "cy", "read write follow").await;
    let group = create(t, &owner, json!({"name": "Registrars", "membership": "approval"})).await;
    let id = id_of(&group);

    // Join requests wait for a moderator.
    let (s, rel) = join(t, &ada_tok, &id).await;
    assert_eq!((s, &rel["requested"], &rel["following"]), (StatusCode::OK, &json!(true), &json!(false)));
    join(t, &bob_tok, &id).await;
    let (_, mine) = call(M::GET, t, &g(&id, ""), Some(&ada_tok), None).await;
    assert_eq!(
        (&mine["relationship"]["pending"], &mine["relationship"]["member"]),
        (&json!(true), &json!(false))
    );
    assert_eq!(
        call(M::GET, t, &g(&id, "/requests"), Some(&owner), None).await.1.as_array().map(Vec::len),
        Some(2)
    );
    assert_eq!(
        ids(&call(M::GET, t, &g(&id, "/requests?limit=1"), Some(&owner), None).await.1),
        vec![ada.clone()]
    );
    // Only moderators read the lists: 401 anonymous, 403 for others, 404 for unknown groups.
    for list in ["/members", "/requests", "/invitations", "/bans", "/log"] {
        assert_error(call(M::GET, t, &g(&id, list), None, None).await, 401, "access token");
        assert_error(call(M::GET, t, &g(&id, list), Some(&ada_tok), None).await, 403, "moderators");
        assert_error(call(M::GET, t, &g("12345", list), Some(&owner), None).await, 404, "Record not found");
    }
    let read_only = token(t, "owner", "read").await;
    let approve = g(&id, &format!("/requests/{ada}/approve"));
    assert_error(call(M::POST, t, &approve, Some(&read_only), None).await, 403, "scopes");
    assert_error(call(M::POST, t, &approve, Some(&bob_tok), None).await, 403, "moderators");

    // Approve one, reject the other.
    let (s, membership) = call(M::POST, t, &approve, Some(&owner), None).await;
    assert_eq!(s, 200, "{membership}");
    assert_eq!(
        membership,
        json!({"group_id": id, "account_id": ada, "member": true, "pending": false,
               "moderator": false, "banned": false, "invited": false})
    );
    let (s, rejected) =
        call(M::POST, t, &g(&id, &format!("/requests/{bob}/reject")), Some(&owner), None).await;
    assert_eq!(
        (s, &rejected["member"], &rejected["pending"]),
        (StatusCode::OK, &json!(false), &json!(false))
    );
    assert_error(call(M::POST, t, &approve, Some(&owner), None).await, 404, "No pending request");
    assert_error(
        call(M::POST, t, &g(&id, "/requests/12345/approve"), Some(&owner), None).await,
        404,
        "Record not found",
    );
    assert!(ids(&call(M::GET, t, &g(&id, "/requests"), Some(&owner), None).await.1).is_empty());
    assert_eq!(ids(&call(M::GET, t, &g(&id, "/members"), Some(&owner), None).await.1), vec![ada.clone()]);
    let (_, seen) = call(M::GET, t, &g(&id, ""), Some(&ada_tok), None).await;
    assert_eq!((&seen["relationship"]["member"], &seen["members_count"]), (&json!(true), &json!(1)));

    // Invitations admit at once; by account id or by handle.
    assert_error(
        call(M::POST, t, &g(&id, "/invitations"), Some(&owner), Some(json!({}))).await,
        422,
        "account_id or acct",
    );
    let by_acct = json!({"acct": t.handle("bob")});
    assert_error(
        call(M::POST, t, &g(&id, "/invitations"), Some(&ada_tok), Some(by_acct.clone())).await,
        403,
        "moderators",
    );
    let (s, invited) = call(M::POST, t, &g(&id, "/invitations"), Some(&owner), Some(by_acct)).await;
    assert_eq!((s, &invited["invited"], &invited["account_id"]), (StatusCode::OK, &json!(true), &json!(bob)));
    let (s, _) =
        call(M::POST, t, &g(&id, "/invitations"), Some(&owner), Some(json!({"account_id": cy}))).await;
    assert_eq!(s, 200);
    assert_error(
        call(M::POST, t, &g(&id, "/invitations"), Some(&owner), Some(json!({"account_id": "12345"}))).await,
        404,
        "Record not found",
    );
    assert_error(
        call(M::POST, t, &g(&id, "/invitations"), Some(&owner), Some(json!({"acct": "nobody"}))).await,
        404,
        "Record not found",
    );
    assert_eq!(
        ids(&call(M::GET, t, &g(&id, "/invitations"), Some(&owner), None).await.1),
        vec![cy.clone(), bob.clone()]
    );
    let (s, rel) = join(t, &bob_tok, &id).await;
    assert_eq!((s, &rel["following"]), (StatusCode::OK, &json!(true)), "an invitation admits at once");
    let (s, revoked) = call(M::DELETE, t, &g(&id, &format!("/invitations/{cy}")), Some(&owner), None).await;
    assert_eq!((s, &revoked["invited"]), (StatusCode::OK, &json!(false)));
    assert_error(
        call(M::DELETE, t, &g(&id, &format!("/invitations/{cy}")), Some(&owner), None).await,
        404,
        "Record",
    );
    assert_eq!(ids(&call(M::GET, t, &g(&id, "/invitations"), Some(&owner), None).await.1), vec![bob.clone()]);
    let (_, rel) = join(t, &cy_tok, &id).await;
    assert_eq!(rel["requested"], true, "without the invitation, cy has to ask");

    // Bans end membership, and a banned account's join is rejected.
    let ban = json!({"account_id": bob, "reason": "spam"});
    assert_error(
        call(M::POST, t, &g(&id, "/bans"), Some(&ada_tok), Some(ban.clone())).await,
        403,
        "moderators",
    );
    let too_long = json!({"account_id": bob, "reason": "r".repeat(1001)});
    assert_error(call(M::POST, t, &g(&id, "/bans"), Some(&owner), Some(too_long)).await, 422, "reason");
    let (s, banned) = call(M::POST, t, &g(&id, "/bans"), Some(&owner), Some(ban)).await;
    assert_eq!(s, 200, "{banned}");
    assert_eq!(
        (&banned["banned"], &banned["member"], &banned["invited"]),
        (&json!(true), &json!(false), &json!(false))
    );
    let (s, list) = call(M::GET, t, &g(&id, "/bans"), Some(&owner), None).await;
    assert_eq!((s, list.as_array().map(Vec::len)), (StatusCode::OK, Some(1)));
    assert_eq!((&list[0]["account"]["id"], &list[0]["reason"]), (&json!(bob), &json!("spam")));
    assert!(list[0]["created_at"].as_str().unwrap().ends_with('Z'));
    assert_eq!(ids(&call(M::GET, t, &g(&id, "/members"), Some(&owner), None).await.1), vec![ada.clone()]);
    let (s, _) = join(t, &bob_tok, &id).await;
    assert_eq!(s, 403, "a banned account cannot join");
    let (_, seen) = call(M::GET, t, &g(&id, ""), Some(&bob_tok), None).await;
    assert_eq!(
        (&seen["relationship"]["banned"], &seen["relationship"]["member"]),
        (&json!(true), &json!(false))
    );
    assert_error(
        call(M::POST, t, &g(&id, "/invitations"), Some(&owner), Some(json!({"account_id": bob}))).await,
        422,
        "banned",
    );
    let owner_id = call(M::GET, t, "/api/v1/accounts/verify_credentials", Some(&owner), None).await.1;
    let ban_owner = json!({"account_id": id_of(&owner_id)});
    assert_error(call(M::POST, t, &g(&id, "/bans"), Some(&owner), Some(ban_owner)).await, 422, "owner");
    let (s, lifted) = call(M::DELETE, t, &g(&id, &format!("/bans/{bob}")), Some(&owner), None).await;
    assert_eq!((s, &lifted["banned"]), (StatusCode::OK, &json!(false)));
    assert_error(
        call(M::DELETE, t, &g(&id, &format!("/bans/{bob}")), Some(&owner), None).await,
        404,
        "Record",
    );
    let (_, rel) = join(t, &bob_tok, &id).await;
    assert_eq!(rel["requested"], true, "after the ban is lifted, bob may ask again");
}

#[tokio::test]
async fn moderators_removals_and_the_log() {
    for backend in backends() {
        let t = TestInstance::start(&backend).await;
        moderators_removals_log(&t).await;
        t.instance.stop().await.unwrap();
    }
}

async fn moderators_removals_log(t: &TestInstance) {
    let owner_id = t.user("owner").await.id.to_string();
    let ada = t.user("ada").await.id.to_string();
    let bob = t.user("bob").await.id.to_string();
    let owner = token(t, "owner", "read write follow").await;
    let ada_tok = token(t, "ada", "read write follow").await;
    let bob_tok = token(t, "bob", "read write follow").await;
    let group = create(t, &owner, json!({"name": "Conservators"})).await;
    let id = id_of(&group);
    join(t, &ada_tok, &id).await;
    join(t, &bob_tok, &id).await;

    // Appoint by full handle; the list of moderators is public.
    let appoint = json!({"acct": t.handle("ada")});
    assert_error(call(M::POST, t, &g(&id, "/moderators"), None, Some(appoint.clone())).await, 401, "token");
    assert_error(
        call(M::POST, t, &g(&id, "/moderators"), Some(&bob_tok), Some(appoint.clone())).await,
        403,
        "moderators",
    );
    let (s, appointed) = call(M::POST, t, &g(&id, "/moderators"), Some(&owner), Some(appoint)).await;
    assert_eq!(
        (s, &appointed["moderator"], &appointed["member"]),
        (StatusCode::OK, &json!(true), &json!(true))
    );
    let (s, mods) = call(M::GET, t, &g(&id, "/moderators"), None, None).await;
    assert_eq!((s, ids(&mods)), (StatusCode::OK, vec![owner_id.clone(), ada.clone()]));
    assert_error(call(M::GET, t, &g("12345", "/moderators"), None, None).await, 404, "Record");
    let group_as_account = json!({"account_id": id});
    assert_error(
        call(M::POST, t, &g(&id, "/moderators"), Some(&owner), Some(group_as_account)).await,
        422,
        "people",
    );
    // The new moderator moderates: reads the members, but cannot dismiss the owner.
    assert_eq!(
        ids(&call(M::GET, t, &g(&id, "/members"), Some(&ada_tok), None).await.1),
        vec![ada.clone(), bob.clone()]
    );
    let dismiss_owner = g(&id, &format!("/moderators/{owner_id}"));
    assert_error(call(M::DELETE, t, &dismiss_owner, Some(&ada_tok), None).await, 422, "owner");
    let dismiss_ada = g(&id, &format!("/moderators/{ada}"));
    let (s, dismissed) = call(M::DELETE, t, &dismiss_ada, Some(&owner), None).await;
    assert_eq!(
        (s, &dismissed["moderator"], &dismissed["member"]),
        (StatusCode::OK, &json!(false), &json!(true))
    );
    assert_error(call(M::DELETE, t, &dismiss_ada, Some(&owner), None).await, 404, "Record");
    assert_error(call(M::GET, t, &g(&id, "/members"), Some(&ada_tok), None).await, 403, "moderators");
    assert_eq!(ids(&call(M::GET, t, &g(&id, "/moderators"), None, None).await.1), vec![owner_id.clone()]);

    // Removal: a post in the group goes; others are not the group's to remove.
    let (s, post) = call(
        M::POST,
        t,
        "/api/v1/statuses",
        Some(&bob_tok),
        Some(json!({"status": "@Conservators hello all"})),
    )
    .await;
    assert_eq!(s, 200, "{post}");
    let post_id = id_of(&post);
    let (_, elsewhere) =
        call(M::POST, t, "/api/v1/statuses", Some(&ada_tok), Some(json!({"status": "just me"}))).await;
    let remove = |status: &str| g(&id, &format!("/statuses/{status}/remove"));
    let reason = json!({"reason": "off topic"});
    assert_error(
        call(M::POST, t, &remove(&post_id), Some(&bob_tok), Some(reason.clone())).await,
        403,
        "moderators",
    );
    assert_error(call(M::POST, t, &remove(&id_of(&elsewhere)), Some(&owner), None).await, 404, "Record");
    assert_error(call(M::POST, t, &remove("12345"), Some(&owner), None).await, 404, "Record");
    let (s, done) = call(M::POST, t, &remove(&post_id), Some(&owner), Some(reason)).await;
    assert_eq!((s, done), (StatusCode::OK, json!({})));
    assert_eq!(call(M::GET, t, &format!("/api/v1/statuses/{post_id}"), Some(&owner), None).await.0, 404);
    assert_error(call(M::POST, t, &remove(&post_id), Some(&owner), None).await, 404, "Record");

    // The log, newest first, paged by max_id.
    let (s, log) = call(M::GET, t, &g(&id, "/log"), Some(&owner), None).await;
    assert_eq!(s, 200, "{log}");
    let actions: Vec<&str> = log.as_array().unwrap().iter().map(|e| e["action"].as_str().unwrap()).collect();
    assert_eq!(actions, ["remove_status", "dismiss", "appoint"]);
    let removal = &log[0];
    assert_eq!(removal["moderator"]["id"], json!(owner_id));
    assert_eq!(removal["target_account"]["id"], json!(bob));
    assert_eq!(removal["target_status_id"], json!(post_id));
    assert_eq!(removal["reason"], "off topic");
    assert!(removal["created_at"].as_str().unwrap().ends_with('Z'));
    assert_eq!((&log[1]["target_account"]["id"], &log[1]["target_status_id"]), (&json!(ada), &Value::Null));
    let res = http().get(t.url(&g(&id, "/log?limit=2"))).bearer_auth(&owner).send().await.unwrap();
    let link = res.headers()["link"].to_str().unwrap().to_owned();
    let page: Value = res.json().await.unwrap();
    let oldest = id_of(&page[1]);
    assert!(link.contains(&format!("max_id={oldest}>; rel=\"next\"")), "{link}");
    let (_, rest) = call(M::GET, t, &g(&id, &format!("/log?max_id={oldest}")), Some(&owner), None).await;
    assert_eq!(
        rest.as_array().map(|r| r.iter().map(|e| e["action"].clone()).collect::<Vec<_>>()),
        Some(vec![json!("appoint")])
    );
    let res = http().get(t.url(&g(&id, "/log"))).bearer_auth(&owner).send().await.unwrap();
    assert!(res.headers().get("link").is_none(), "no next page after a short one");
}

#[tokio::test]
async fn openapi_documents_every_route() {
    let t = TestInstance::start(&Backend::Sqlite).await;
    let res = http().get(t.url("/api/guildhall/v1/openapi.json")).send().await.unwrap();
    assert_eq!(res.status(), 200);
    assert!(res.headers()["content-type"].to_str().unwrap().starts_with("application/json"));
    let doc: Value = res.json().await.unwrap();
    assert!(doc["openapi"].as_str().unwrap().starts_with("3.1."), "{}", doc["openapi"]);
    let routes = guildhall_api::guildhall_routes();
    let ours: Vec<_> = routes.iter().filter(|(_, p)| p.starts_with("/api/guildhall/v1")).collect();
    assert!(ours.len() >= 20, "{ours:?}");
    for (method, path) in ours {
        let operation = &doc["paths"][path.as_str()][method.to_lowercase()];
        assert!(operation.is_object(), "{method} {path} is registered but not in openapi.json");
    }
    // Every documented operation is routed: with ids filled in, the answer comes from a handler
    // (401, 404 "Record not found", 200…), never the router's catch-all "Not found".
    for (path, item) in doc["paths"].as_object().unwrap() {
        let concrete = path.replace("{id}", "0").replace("{account_id}", "0").replace("{status_id}", "0");
        for method in item.as_object().unwrap().keys().filter(|k| *k != "parameters") {
            let method = M::from_bytes(method.to_uppercase().as_bytes()).unwrap();
            let res = http().request(method.clone(), t.url(&concrete)).send().await.unwrap();
            let status = res.status();
            let body: Value = res.json().await.unwrap_or(Value::Null);
            assert!(
                !(status == 404 && body["error"] == "Not found"),
                "{method} {path} is documented but not routed"
            );
        }
    }
    t.instance.stop().await.unwrap();
}

#[tokio::test]
async fn the_directory_lists_local_people_and_groups() {
    for backend in backends() {
        let t = TestInstance::start(&backend).await;
        directory(&t).await;
        t.instance.stop().await.unwrap();
    }
}

async fn directory(t: &TestInstance) {
    let ada = t.user("ada").await.id.to_string();
    let bob = t.user("bob").await.id.to_string();
    let cy = t.user("cy").await.id.to_string();
    let ada_tok = token(t, "ada", "read write").await;
    let cy_tok = token(t, "cy", "read write").await;
    let group = create(t, &ada_tok, json!({"name": "Circle", "visibility": "members"})).await;
    let group_id = id_of(&group);
    // cy leaves the directory.
    let hide = json!({"discoverable": false});
    let (s, _) = call(M::PATCH, t, "/api/v1/accounts/update_credentials", Some(&cy_tok), Some(hide)).await;
    assert_eq!(s, 200);
    // bob has never posted; ada has.
    let (s, _) = call(M::POST, t, "/api/v1/statuses", Some(&ada_tok), Some(json!({"status": "hello"}))).await;
    assert_eq!(s, 200);

    let (s, newest) = call(M::GET, t, "/api/v1/directory?order=new", None, None).await;
    assert_eq!((s, ids(&newest)), (StatusCode::OK, vec![group_id.clone(), bob.clone(), ada.clone()]));
    assert_eq!(newest[0]["group"], true);
    assert_eq!(newest[0]["username"], "Circle");
    assert_eq!((&newest[1]["group"], &newest[2]["group"]), (&json!(false), &json!(false)));
    assert!(!ids(&newest).contains(&cy), "not discoverable, not listed");
    let (_, active) = call(M::GET, t, "/api/v1/directory", None, None).await;
    assert_eq!(ids(&active), vec![ada.clone(), group_id.clone(), bob.clone()], "posters first");
    let (_, local) = call(M::GET, t, "/api/v1/directory?local=true&order=active", None, None).await;
    assert_eq!(ids(&local), ids(&active));
    let (_, page) = call(M::GET, t, "/api/v1/directory?order=new&limit=1&offset=1", None, None).await;
    assert_eq!(ids(&page), vec![bob.clone()]);
    assert_error(call(M::GET, t, "/api/v1/directory?order=popular", None, None).await, 422, "order");
}
