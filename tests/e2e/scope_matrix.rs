//! Finding 1 of the security review: every client API route × a token holding every scope
//! but the one the route needs. Routes that need a token answer 403 to it (and 401 to a
//! stranger); routes where signing in is optional treat it as anonymous, so it reads exactly
//! what an anonymous caller reads, never its owner's private posts.

use reqwest::Method as M;
use serde_json::{Value, json};

use crate::client_api::{call, token};
use crate::support::{Backend, TestInstance};

/// Every leaf scope we grant: a token made of all of them but one lacks exactly that one.
const LEAF_SCOPES: [&str; 33] = [
    "read:accounts",
    "read:blocks",
    "read:bookmarks",
    "read:favourites",
    "read:filters",
    "read:follows",
    "read:lists",
    "read:mutes",
    "read:notifications",
    "read:search",
    "read:statuses",
    "read:groups",
    "write:accounts",
    "write:blocks",
    "write:bookmarks",
    "write:conversations",
    "write:favourites",
    "write:filters",
    "write:follows",
    "write:lists",
    "write:media",
    "write:mutes",
    "write:notifications",
    "write:reports",
    "write:statuses",
    "write:groups",
    "push",
    "profile",
    "admin:read:accounts",
    "admin:write:accounts",
    "admin:read:reports",
    "admin:write:reports",
    "admin:read",
];

/// Routes that need a token, with the scope each needs. `{s}` is a status, `{a}` an
/// account, `{g}` a group; other ids are placeholders (the scope is checked before the id).
const REQUIRED: &[(&str, &str, &str)] = &[
    ("GET", "/api/v1/accounts/verify_credentials", "read:accounts profile"),
    ("PATCH", "/api/v1/accounts/update_credentials", "write:accounts"),
    ("GET", "/api/v1/accounts/relationships?id[]={a}", "read:follows"),
    ("GET", "/api/v1/accounts/familiar_followers?id[]={a}", "read:follows"),
    ("GET", "/api/v1/follow_requests", "read:follows"),
    ("POST", "/api/v1/follow_requests/1/authorize", "write:follows"),
    ("POST", "/api/v1/follow_requests/1/reject", "write:follows"),
    ("POST", "/api/v1/accounts/{a}/follow", "write:follows"),
    ("POST", "/api/v1/accounts/{a}/unfollow", "write:follows"),
    ("POST", "/api/v1/accounts/{a}/block", "write:blocks"),
    ("POST", "/api/v1/accounts/{a}/unblock", "write:blocks"),
    ("POST", "/api/v1/accounts/{a}/mute", "write:mutes"),
    ("POST", "/api/v1/accounts/{a}/unmute", "write:mutes"),
    ("GET", "/api/v1/accounts/{a}/lists", "read:lists"),
    ("GET", "/api/v1/mutes", "read:mutes"),
    ("GET", "/api/v1/blocks", "read:blocks"),
    ("GET", "/api/v1/preferences", "read:accounts"),
    ("GET", "/api/v1/admin/accounts", "admin:read:accounts admin:read"),
    ("GET", "/api/v1/admin/accounts/1", "admin:read:accounts admin:read"),
    ("POST", "/api/v1/admin/accounts/1/approve", "admin:write:accounts"),
    ("POST", "/api/v1/admin/accounts/1/reject", "admin:write:accounts"),
    ("GET", "/api/v1/admin/reports", "admin:read:reports admin:read"),
    ("POST", "/api/v1/reports", "write:reports"),
    ("POST", "/api/v1/statuses", "write:statuses"),
    ("DELETE", "/api/v1/statuses/{s}", "write:statuses"),
    ("PUT", "/api/v1/statuses/{s}", "write:statuses"),
    ("GET", "/api/v1/statuses/{s}/source", "read:statuses"),
    ("POST", "/api/v1/statuses/{s}/favourite", "write:favourites"),
    ("POST", "/api/v1/statuses/{s}/unfavourite", "write:favourites"),
    ("POST", "/api/v1/statuses/{s}/reblog", "write:statuses"),
    ("POST", "/api/v1/statuses/{s}/unreblog", "write:statuses"),
    ("POST", "/api/v1/statuses/{s}/bookmark", "write:bookmarks"),
    ("POST", "/api/v1/statuses/{s}/unbookmark", "write:bookmarks"),
    ("POST", "/api/v1/statuses/{s}/pin", "write:accounts"),
    ("POST", "/api/v1/statuses/{s}/unpin", "write:accounts"),
    ("GET", "/api/v1/bookmarks", "read:bookmarks"),
    ("GET", "/api/v1/favourites", "read:favourites"),
    ("GET", "/api/v1/timelines/home", "read:statuses"),
    ("GET", "/api/v1/timelines/list/1", "read:lists"),
    ("GET", "/api/v1/conversations", "read:statuses"),
    ("POST", "/api/v1/conversations/1/read", "write:conversations"),
    ("GET", "/api/v1/markers?timeline[]=home", "read:statuses"),
    ("POST", "/api/v1/markers", "write:statuses"),
    ("GET", "/api/v1/notifications", "read:notifications"),
    ("GET", "/api/v1/notifications/1", "read:notifications"),
    ("POST", "/api/v1/notifications/clear", "write:notifications"),
    ("POST", "/api/v1/notifications/1/dismiss", "write:notifications"),
    ("GET", "/api/v1/lists", "read:lists"),
    ("POST", "/api/v1/lists", "write:lists"),
    ("GET", "/api/v1/lists/1", "read:lists"),
    ("PUT", "/api/v1/lists/1", "write:lists"),
    ("DELETE", "/api/v1/lists/1", "write:lists"),
    ("GET", "/api/v1/lists/1/accounts", "read:lists"),
    ("POST", "/api/v1/lists/1/accounts", "write:lists"),
    ("DELETE", "/api/v1/lists/1/accounts", "write:lists"),
    ("GET", "/api/v1/filters", "read:filters"),
    ("GET", "/api/v2/filters", "read:filters"),
    ("POST", "/api/v2/filters", "write:filters"),
    ("GET", "/api/v2/filters/1", "read:filters"),
    ("PUT", "/api/v2/filters/1", "write:filters"),
    ("DELETE", "/api/v2/filters/1", "write:filters"),
    ("GET", "/api/v2/filters/1/keywords", "read:filters"),
    ("POST", "/api/v2/filters/1/keywords", "write:filters"),
    ("GET", "/api/v2/filters/keywords/1", "read:filters"),
    ("PUT", "/api/v2/filters/keywords/1", "write:filters"),
    ("DELETE", "/api/v2/filters/keywords/1", "write:filters"),
    ("GET", "/api/v2/filters/1/statuses", "read:filters"),
    ("POST", "/api/v2/filters/1/statuses", "write:filters"),
    ("GET", "/api/v2/filters/statuses/1", "read:filters"),
    ("DELETE", "/api/v2/filters/statuses/1", "write:filters"),
    ("GET", "/api/v1/followed_tags", "read:follows"),
    ("POST", "/api/v1/tags/museumhour/follow", "write:follows"),
    ("POST", "/api/v1/tags/museumhour/unfollow", "write:follows"),
    ("POST", "/api/v2/media", "write:media"),
    ("POST", "/api/v1/media", "write:media"),
    ("GET", "/api/v1/media/1", "write:media"),
    ("PUT", "/api/v1/media/1", "write:media"),
    ("DELETE", "/api/v1/media/1", "write:media"),
    ("POST", "/api/guildhall/v1/groups", "write:groups"),
    ("PATCH", "/api/guildhall/v1/groups/{g}", "write:groups"),
    ("GET", "/api/guildhall/v1/groups/{g}/members", "read:groups"),
    ("GET", "/api/guildhall/v1/groups/{g}/requests", "read:groups"),
    ("POST", "/api/guildhall/v1/groups/{g}/requests/{a}/approve", "write:groups"),
    ("POST", "/api/guildhall/v1/groups/{g}/requests/{a}/reject", "write:groups"),
    ("GET", "/api/guildhall/v1/groups/{g}/invitations", "read:groups"),
    ("POST", "/api/guildhall/v1/groups/{g}/invitations", "write:groups"),
    ("DELETE", "/api/guildhall/v1/groups/{g}/invitations/{a}", "write:groups"),
    ("GET", "/api/guildhall/v1/groups/{g}/bans", "read:groups"),
    ("POST", "/api/guildhall/v1/groups/{g}/bans", "write:groups"),
    ("DELETE", "/api/guildhall/v1/groups/{g}/bans/{a}", "write:groups"),
    ("POST", "/api/guildhall/v1/groups/{g}/moderators", "write:groups"),
    ("DELETE", "/api/guildhall/v1/groups/{g}/moderators/{a}", "write:groups"),
    ("POST", "/api/guildhall/v1/groups/{g}/statuses/{s}/remove", "write:groups"),
    ("GET", "/api/guildhall/v1/groups/{g}/log", "read:groups"),
    ("POST", "/api/v1/accounts/{a}/note", "write:accounts"),
    ("DELETE", "/api/v1/profile/avatar", "write:accounts"),
    ("DELETE", "/api/v1/profile/header", "write:accounts"),
    ("POST", "/api/v1/statuses/{s}/mute", "write:mutes"),
    ("POST", "/api/v1/statuses/{s}/unmute", "write:mutes"),
    ("POST", "/api/v1/polls/{s}/votes", "write:statuses"),
    ("GET", "/api/v1/scheduled_statuses", "read:statuses"),
    ("GET", "/api/v1/scheduled_statuses/1", "read:statuses"),
    ("PUT", "/api/v1/scheduled_statuses/1", "write:statuses"),
    ("DELETE", "/api/v1/scheduled_statuses/1", "write:statuses"),
    ("GET", "/api/v1/domain_blocks", "read:blocks"),
    ("POST", "/api/v1/domain_blocks", "write:blocks"),
    ("DELETE", "/api/v1/domain_blocks", "write:blocks"),
    ("GET", "/api/v2/notifications", "read:notifications"),
    ("GET", "/api/v2/notifications/unread_count", "read:notifications"),
    ("GET", "/api/v1/notifications/unread_count", "read:notifications"),
    ("GET", "/api/v2/notifications/favourite-1-1", "read:notifications"),
    ("GET", "/api/v2/notifications/favourite-1-1/accounts", "read:notifications"),
    ("POST", "/api/v2/notifications/favourite-1-1/dismiss", "write:notifications"),
    ("GET", "/api/v2/notifications/policy", "read:notifications"),
    ("PATCH", "/api/v2/notifications/policy", "write:notifications"),
    ("PUT", "/api/v2/notifications/policy", "write:notifications"),
    ("GET", "/api/v1/notifications/policy", "read:notifications"),
    ("PUT", "/api/v1/notifications/policy", "write:notifications"),
    ("GET", "/api/v1/notifications/requests", "read:notifications"),
    ("GET", "/api/v1/notifications/requests/merged", "read:notifications"),
    ("GET", "/api/v1/notifications/requests/1", "read:notifications"),
    ("POST", "/api/v1/notifications/requests/1/accept", "write:notifications"),
    ("POST", "/api/v1/notifications/requests/1/dismiss", "write:notifications"),
    ("POST", "/api/v1/notifications/requests/accept", "write:notifications"),
    ("POST", "/api/v1/notifications/requests/dismiss", "write:notifications"),
    ("DELETE", "/api/guildhall/v1/accounts/me", "write:accounts"),
    ("POST", "/api/guildhall/v1/events", "write:statuses"),
    ("PATCH", "/api/guildhall/v1/events/1", "write:statuses"),
    ("POST", "/api/guildhall/v1/events/1/cancel", "write:statuses"),
    ("POST", "/api/guildhall/v1/events/1/join", "write:statuses"),
    ("POST", "/api/guildhall/v1/events/1/leave", "write:statuses"),
    ("GET", "/api/guildhall/v1/events/1/attendees", "read:statuses"),
    ("POST", "/api/guildhall/v1/events/1/participants/1/accept", "write:statuses"),
    ("POST", "/api/guildhall/v1/events/1/participants/1/reject", "write:statuses"),
    ("POST", "/api/guildhall/v1/groups/{g}/hours", "write:groups"),
    ("DELETE", "/api/guildhall/v1/hours/1", "write:groups"),
    ("PUT", "/api/guildhall/v1/hours/1/editions/1/host", "write:groups"),
    ("DELETE", "/api/guildhall/v1/hours/1/editions/1/host", "write:groups"),
    ("GET", "/api/guildhall/v1/preferences/reminders", "read:accounts"),
    ("PATCH", "/api/guildhall/v1/preferences/reminders", "write:accounts"),
    ("GET", "/api/guildhall/v1/preferences/email", "read:accounts"),
    ("PATCH", "/api/guildhall/v1/preferences/email", "write:accounts"),
];

/// Routes where signing in is optional, with the scope that makes the caller count.
const OPTIONAL: &[(&str, &str)] = &[
    ("/api/v1/statuses/{private}", "read:statuses"),
    ("/api/v1/statuses/{private}/context", "read:statuses"),
    ("/api/v1/statuses/{private}/history", "read:statuses"),
    ("/api/v1/statuses/{private}/favourited_by", "read:accounts"),
    ("/api/v1/statuses/{private}/reblogged_by", "read:accounts"),
    ("/api/v1/accounts/{ada}/statuses", "read:statuses"),
    ("/api/v1/accounts/{guild}/followers", "read:accounts"),
    ("/api/v1/accounts/{ada}/following", "read:accounts"),
    ("/api/v2/search?q={private_url}", "read:search"),
    ("/api/v1/accounts/search?q=bob", "read:accounts"),
    ("/api/v1/timelines/public", "read:statuses"),
    ("/api/v1/timelines/tag/matrix", "read:statuses"),
    ("/api/v1/tags/matrix", "read:follows"),
    ("/api/guildhall/v1/groups/{circle}", "read:groups"),
    ("/api/guildhall/v1/groups", "read:groups"),
    ("/api/guildhall/v1/events", "read:statuses"),
    ("/api/guildhall/v1/groups/{circle}/hours", "read:groups"),
];

/// A token of `user` holding every leaf scope except those in `missing` (space-separated).
async fn all_but(t: &TestInstance, user: &str, missing: &str) -> String {
    let missing: Vec<&str> = missing.split_whitespace().collect();
    let scopes: Vec<&str> = LEAF_SCOPES.iter().copied().filter(|s| !missing.contains(s)).collect();
    token(t, user, &scopes.join(" ")).await
}

fn method(name: &str) -> M {
    M::from_bytes(name.as_bytes()).unwrap()
}

fn id(v: &Value) -> String {
    v["id"].as_str().unwrap_or_else(|| panic!("no id in {v}")).to_owned()
}

const SCOPE_ERROR: &str = "This action is outside the authorized scopes";

#[tokio::test]
async fn scope_matrix_every_route_refuses_a_token_without_its_scope() {
    let t = TestInstance::start(&Backend::Sqlite).await;
    let admin = guildhall_federation::local_actors::NewUser {
        username: "ada",
        email: "ada@museum.example",
        password: "correct horse",
        role: guildhall_core::model::Role::Admin,
    };
    let urls = guildhall_federation::Urls::new(t.instance.config());
    guildhall_federation::local_actors::create_user(t.instance.db(), &urls, admin).await.unwrap();
    t.user("bob").await;
    let full = token(&t, "ada", "read write follow push admin:read admin:write").await;
    let bob_full = token(&t, "bob", "read write follow").await;
    let (_, ada) = call(M::GET, &t, "/api/v1/accounts/verify_credentials", Some(&full), None).await;
    let (_, bob) = call(M::GET, &t, "/api/v1/accounts/verify_credentials", Some(&bob_full), None).await;
    let guild = {
        let body = json!({"name": "Guild"});
        call(M::POST, &t, "/api/guildhall/v1/groups", Some(&full), Some(body)).await.1
    };
    let circle = {
        let body = json!({"name": "Circle", "visibility": "members"});
        call(M::POST, &t, "/api/guildhall/v1/groups", Some(&bob_full), Some(body)).await.1
    };
    for group in [&guild, &circle] {
        let path = format!("/api/v1/accounts/{}/follow", id(group));
        let (s, body) = call(M::POST, &t, &path, Some(&full), None).await;
        assert_eq!(s, 200, "{body}");
    }
    let path = format!("/api/v1/accounts/{}/follow", id(&guild));
    assert_eq!(call(M::POST, &t, &path, Some(&bob_full), None).await.0, 200);
    // An event in the members-only circle: listed for ada (a member) only with read:statuses.
    let starts = (chrono::Utc::now() + chrono::Duration::days(2)).to_rfc3339();
    let event = json!({"name": "Circle meet-up", "start_time": starts, "group_id": id(&circle)});
    let (s, event) = call(M::POST, &t, "/api/guildhall/v1/events", Some(&bob_full), Some(event)).await;
    assert_eq!(s, 200, "{event}");
    let post = |text: &str, visibility: &str| json!({"status": text, "visibility": visibility});
    let (s, private) =
        call(M::POST, &t, "/api/v1/statuses", Some(&full), Some(post("only friends", "private"))).await;
    assert_eq!(s, 200, "{private}");
    // The required routes act on this one (one of them deletes it).
    let (_, target) =
        call(M::POST, &t, "/api/v1/statuses", Some(&full), Some(post("target", "public"))).await;
    // Bob posts under the tag; ada blocks him (below), which only a counted viewer's
    // timelines honour.
    let (s, _) =
        call(M::POST, &t, "/api/v1/statuses", Some(&bob_full), Some(post("#matrix", "public"))).await;
    assert_eq!(s, 200);

    let fill = |path: &str| {
        path.replace("{s}", &id(&target))
            .replace("{a}", &id(&bob))
            .replace("{g}", &id(&guild))
            .replace("{private}", &id(&private))
            .replace("{private_url}", private["uri"].as_str().unwrap())
            .replace("{ada}", &id(&ada))
            .replace("{guild}", &id(&guild))
            .replace("{circle}", &id(&circle))
    };

    for (verb, path, needed) in REQUIRED {
        let path = fill(path);
        let body = Some(json!({}));
        let (s, anon) = call(method(verb), &t, &path, None, body.clone()).await;
        assert_eq!(s, 401, "{verb} {path} without a token: {anon}");
        let lacking = all_but(&t, "ada", needed).await;
        let (s, refused) = call(method(verb), &t, &path, Some(&lacking), body.clone()).await;
        assert_eq!((s.as_u16(), refused["error"].as_str()), (403, Some(SCOPE_ERROR)), "{verb} {path}");
        // The right scope gets past the scope check (whatever the route then says).
        let holding = token(&t, "ada", needed.split_whitespace().next().unwrap()).await;
        let (_, passed) = call(method(verb), &t, &path, Some(&holding), body).await;
        assert_ne!(passed["error"].as_str(), Some(SCOPE_ERROR), "{verb} {path} with {needed}");
    }

    // After the required routes, one of which unblocks.
    let block = format!("/api/v1/accounts/{}/block", id(&bob));
    assert_eq!(call(M::POST, &t, &block, Some(&full), None).await.0, 200);
    for (path, needed) in OPTIONAL {
        let path = fill(path);
        let (_, anonymous) = call(M::GET, &t, &path, None, None).await;
        let lacking = all_but(&t, "ada", needed).await;
        let (_, with_lacking) = call(M::GET, &t, &path, Some(&lacking), None).await;
        assert_eq!(with_lacking, anonymous, "GET {path} without {needed} reads as a stranger");
        let holding = token(&t, "ada", needed).await;
        let (_, with_scope) = call(M::GET, &t, &path, Some(&holding), None).await;
        if !path.contains("/accounts/search") {
            assert_ne!(with_scope, anonymous, "GET {path}: the scope must make a difference here");
        }
    }
    t.instance.stop().await.unwrap();
}
