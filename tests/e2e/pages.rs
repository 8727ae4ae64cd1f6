//! The pages behind the URLs we hand out: a profile, a post with its thread across instances,
//! a hashtag. What a stranger may see only, inert whatever other servers send, with the strict
//! CSP, and ActivityPub JSON at the same URLs for clients that ask for it.

use guildhall_core::model::Visibility;
use guildhall_federation::actions::{self, NewPost};
use reqwest::Method as M;
use serde_json::{Value, json};

use crate::client_api::{call, token};
use crate::support::{Cluster, http};

async fn page(url: &str) -> (u16, String) {
    let res = http().get(url).header("accept", "text/html").send().await.unwrap();
    let status = res.status().as_u16();
    if status == 200 {
        let csp = res.headers()["content-security-policy"].to_str().unwrap().to_owned();
        assert!(csp.contains("default-src 'none'") && !csp.contains("script-src"), "{url}: {csp}");
        assert!(res.headers()["content-type"].to_str().unwrap().starts_with("text/html"));
        assert_eq!(res.headers()["vary"], "Accept, Cookie", "{url}");
    }
    (status, res.text().await.unwrap())
}

#[tokio::test]
async fn the_urls_the_api_hands_out_are_pages_with_their_threads() {
    let cluster = Cluster::start(2).await;
    let [a, b] = &cluster.nodes[..] else { unreachable!() };
    a.user("ada").await;
    let bob = b.user("bob").await;
    let ada_token = token(a, "ada", "read write").await;
    let (_, root) = call(
        M::POST,
        a,
        "/api/v1/statuses",
        Some(&ada_token),
        Some(json!({"status": "Who has the 1851 ledgers? #MuseumHour"})),
    )
    .await;
    let (_, reply) = call(
        M::POST,
        a,
        "/api/v1/statuses",
        Some(&ada_token),
        Some(json!({"status": "Asking for the archive", "in_reply_to_id": root["id"]})),
    )
    .await;
    let (_, private) = call(
        M::POST,
        a,
        "/api/v1/statuses",
        Some(&ada_token),
        Some(json!({"status": "only followers", "visibility": "private"})),
    )
    .await;
    // bob answers from the other instance.
    let reply_at_b = actions::resolve_status(&b.fed(), reply["uri"].as_str().unwrap()).await.unwrap();
    let answer = NewPost {
        in_reply_to: Some(reply_at_b.id),
        ..NewPost::public(&format!("@{} we have them", a.handle("ada")))
    };
    actions::post(&b.fed(), &bob, answer).await.unwrap();
    cluster.flush().await;

    // The status url of the API is a page: the post, what it answers, and its replies.
    let url = reply["url"].as_str().unwrap();
    let (s, html) = page(url).await;
    assert_eq!(s, 200, "{html}");
    assert!(html.contains("Asking for the archive") && html.contains("Who has the 1851 ledgers?"), "{html}");
    assert!(html.contains("we have them"), "the reply from the other instance: {html}");
    assert!(html.contains(&format!("@bob@{}", b.instance.config().domain)));
    assert!(html.contains("property=\"og:title\""));
    // The account url and the tag url too.
    let (s, profile) = page(root["account"]["url"].as_str().unwrap()).await;
    assert_eq!(s, 200);
    assert!(
        profile.contains("Who has the 1851 ledgers?") && !profile.contains("only followers"),
        "{profile}"
    );
    let (s, tagged) = page(root["tags"][0]["url"].as_str().unwrap()).await;
    assert_eq!(s, 200);
    assert!(tagged.contains("Who has the 1851 ledgers?"));
    // What a stranger may not see is not there.
    assert_eq!(page(private["url"].as_str().unwrap()).await.0, 404);
    assert_eq!(page(&a.url("/@ada/12345")).await.0, 404);
    assert_eq!(page(&a.url("/@nobody")).await.0, 404);
    // The object id sends browsers to the page, and ActivityPub clients get JSON at both.
    let res = http().get(root["uri"].as_str().unwrap()).header("accept", "text/html").send().await.unwrap();
    assert_eq!(res.url().as_str(), root["url"].as_str().unwrap(), "redirected to the page");
    let note: Value = http()
        .get(root["url"].as_str().unwrap())
        .header("accept", "application/activity+json")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(note["id"], root["uri"]);
    let actor: Value = http()
        .get(a.url("/@ada"))
        .header("accept", "application/activity+json")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(actor["type"], "Person");
    let css = http().get(a.url("/static/web.css")).send().await.unwrap();
    assert_eq!(css.headers()["content-type"], "text/css; charset=utf-8");
    cluster.stop().await;
}

#[tokio::test]
async fn members_only_posts_never_appear_and_hostile_remote_text_stays_inert() {
    let cluster = Cluster::start(2).await;
    let [a, b] = &cluster.nodes[..] else { unreachable!() };
    a.user("ada").await;
    let bob = b.user("bob").await;
    let ada_token = token(a, "ada", "read write follow").await;
    // A members-only group's post is addressed to the group alone.
    let circle = json!({"name": "Circle", "visibility": "members"});
    let (_, circle) = call(M::POST, a, "/api/guildhall/v1/groups", Some(&ada_token), Some(circle)).await;
    let (_, inner) = call(
        M::POST,
        a,
        "/api/v1/statuses",
        Some(&ada_token),
        Some(json!({"status": "for the circle only @Circle #secret"})),
    )
    .await;
    assert!(circle["id"].is_string(), "{circle}");
    assert_eq!(page(inner["url"].as_str().unwrap()).await.0, 404);
    let (_, profile) = page(&a.url("/@ada")).await;
    assert!(!profile.contains("for the circle only"));
    let (_, tagged) = page(&a.url("/tags/secret")).await;
    assert!(!tagged.contains("for the circle only"));

    // A remote account with a hostile name and post replies to ada's public post.
    let (_, root) =
        call(M::POST, a, "/api/v1/statuses", Some(&ada_token), Some(json!({"status": "open thread"}))).await;
    let update = guildhall_federation::actions::ProfileUpdate {
        display_name: Some("<img src=x onerror=alert(1)>Bob".into()),
        ..Default::default()
    };
    let bob = actions::update_profile(&b.fed(), &bob, update).await.unwrap();
    let root_at_b = actions::resolve_status(&b.fed(), root["uri"].as_str().unwrap()).await.unwrap();
    let hostile = NewPost {
        in_reply_to: Some(root_at_b.id),
        visibility: Visibility::Public,
        ..NewPost::public(&format!("@{} <script>alert(2)</script> hello", a.handle("ada")))
    };
    actions::post(&b.fed(), &bob, hostile).await.unwrap();
    cluster.flush().await;
    let (s, html) = page(root["url"].as_str().unwrap()).await;
    assert_eq!(s, 200);
    assert!(html.contains("hello"), "{html}");
    assert!(
        !html.contains("<script") && !html.contains("<img src=x") && !html.contains("onerror=alert"),
        "inert: {html}"
    );
    cluster.stop().await;
}

#[tokio::test]
async fn the_home_page_the_group_directory_group_pages_and_feeds() {
    let t = crate::support::TestInstance::start_with(
        &crate::support::Backend::Sqlite,
        &[("GUILDHALL_REGISTRATIONS", "approval")],
    )
    .await;
    t.user("ada").await;
    let ada = token(&t, "ada", "read write follow").await;
    let guild = json!({"name": "mcg", "display_name": "Museum Computer Group", "membership": "approval",
                       "description": "Digital work in <museums> & archives", "rules": ["Be kind", "No <spam>"]});
    let (s, guild) = call(M::POST, &t, "/api/guildhall/v1/groups", Some(&ada), Some(guild)).await;
    assert_eq!(s, 200, "{guild}");
    let circle = json!({"name": "circle", "display_name": "Quiet Circle", "visibility": "members"});
    call(M::POST, &t, "/api/guildhall/v1/groups", Some(&ada), Some(circle)).await;
    call(M::POST, &t, "/api/v1/statuses", Some(&ada), Some(json!({"status": "Welcome to the group @mcg"})))
        .await;
    call(M::POST, &t, "/api/v1/statuses", Some(&ada), Some(json!({"status": "Only for the circle @circle"})))
        .await;

    let (s, home) = page(&t.url("/")).await;
    assert_eq!(s, 200);
    assert!(home.contains("Museum Computer Group") && home.contains("Quiet Circle"), "{home}");
    assert!(home.contains("/auth/sign_up") && home.contains("an admin approves"), "{home}");
    let (_, found) = page(&t.url("/groups?q=museum")).await;
    assert!(found.contains("Museum Computer Group") && !found.contains("Quiet Circle"), "{found}");
    // A discipline in the description finds a group; so does how one joins.
    let (_, found) = page(&t.url("/groups?q=ARCHIVES")).await;
    assert!(found.contains("Museum Computer Group") && !found.contains("Quiet Circle"), "{found}");
    let (_, found) = page(&t.url("/groups?q=&membership=approval")).await;
    assert!(found.contains("Museum Computer Group") && !found.contains("Quiet Circle"), "{found}");
    let (s, _) = page(&t.url("/groups?membership=bogus")).await;
    assert_eq!(s, 422);
    let (_, none) = page(&t.url("/groups?q=%3Cscript%3E")).await;
    assert!(!none.contains("<script>") && none.contains("No groups"), "{none}");

    let (s, group) = page(guild["url"].as_str().unwrap()).await;
    assert_eq!(s, 200);
    assert!(group.contains("Joining needs a moderator"), "{group}");
    assert!(group.contains("Be kind") && group.contains("Welcome to the group"), "{group}");
    assert!(!group.contains("<spam>") && !group.contains("<museums>"), "escaped: {group}");
    assert!(group.contains("1 member") || group.contains("0 members"), "{group}");
    let (_, quiet) = page(&t.url("/@circle")).await;
    assert!(
        quiet.contains("keeps its posts to its members") && !quiet.contains("Only for the circle"),
        "{quiet}"
    );
    assert!(!quiet.contains(" members<") && !quiet.contains("1 member"), "no member count: {quiet}");

    // Feeds: the group's threads, an account's posts, a tag; none of a members-only group's.
    let feed = |path: &str| {
        let url = t.url(path);
        async move {
            let res = http().get(url).send().await.unwrap();
            assert_eq!(res.headers()["content-type"], "application/rss+xml; charset=utf-8");
            res.text().await.unwrap()
        }
    };
    let rss = feed("/@mcg.rss").await;
    assert!(
        rss.starts_with("<?xml") && rss.contains("<item>") && rss.contains("Welcome to the group"),
        "{rss}"
    );
    assert!(!rss.contains("<p>"), "content is escaped in the feed: {rss}");
    assert!(feed("/@ada.rss").await.contains("Welcome to the group"));
    assert!(!feed("/@circle.rss").await.contains("<item>"));
    assert!(!feed("/@ada.rss").await.contains("Only for the circle"));
    call(M::POST, &t, "/api/v1/statuses", Some(&ada), Some(json!({"status": "Tonight's #MuseumHour"}))).await;
    assert!(feed("/tags/museumhour.rss").await.contains("MuseumHour"));
    assert_eq!(http().get(t.url("/@nobody.rss")).send().await.unwrap().status(), 404);
    // Atom too; and a control character a post carries cannot break either feed's XML.
    call(M::POST, &t, "/api/v1/statuses", Some(&ada), Some(json!({"status": "bell\u{7} and \u{1b}escape"})))
        .await;
    for path in ["/@ada.rss", "/@ada.atom", "/tags/museumhour.atom"] {
        let res = http().get(t.url(path)).send().await.unwrap();
        let kind = res.headers()["content-type"].to_str().unwrap().to_owned();
        let body = res.text().await.unwrap();
        assert!(
            !body.chars().any(|c| c.is_control() && !matches!(c, '\n' | '\r' | '\t')),
            "{path}: {body:?}"
        );
        if path.ends_with(".atom") {
            assert_eq!(kind, "application/atom+xml; charset=utf-8");
            assert!(
                body.contains("<feed xmlns=\"http://www.w3.org/2005/Atom\">") && body.contains("<entry>"),
                "{body}"
            );
        }
    }
    assert!(feed("/@ada.rss").await.contains("bell and escape"));
    assert!(!feed("/@circle.rss").await.contains("<item>"));
    let circle_atom = http().get(t.url("/@circle.atom")).send().await.unwrap().text().await.unwrap();
    assert!(!circle_atom.contains("<entry>"), "members-only: {circle_atom}");
    // A wrong query string gets a page naming the field, not JSON.
    let res = http().get(t.url("/home?max_id=abc")).header("accept", "text/html").send().await.unwrap();
    assert!(matches!(res.status().as_u16(), 303 | 422));
    let res = http().get(t.url("/tags/museumhour?max_id=abc")).send().await.unwrap();
    assert_eq!(res.headers()["content-type"], "text/html; charset=utf-8");
    t.instance.stop().await.unwrap();
}

#[tokio::test]
async fn a_reply_chain_that_loops_through_hidden_posts_still_answers() {
    let t = crate::support::TestInstance::start(&crate::support::Backend::Sqlite).await;
    t.user("ada").await;
    let ada = token(&t, "ada", "read write").await;
    let post = |body: Value| call(M::POST, &t, "/api/v1/statuses", Some(&ada), Some(body));
    let (_, p) = post(json!({"status": "first", "visibility": "private"})).await;
    let (_, q) = post(json!({"status": "second", "visibility": "private", "in_reply_to_id": p["id"]})).await;
    // Another server could link them both ways; here the database is told so directly.
    let (p_id, q_id) = (
        p["id"].as_str().unwrap().parse::<i64>().unwrap(),
        q["id"].as_str().unwrap().parse::<i64>().unwrap(),
    );
    t.instance
        .db()
        .run(move |c| {
            let mut first = guildhall_storage::statuses::get(c, p_id)?;
            first.in_reply_to_id = Some(q_id);
            guildhall_storage::statuses::update(c, &first)
        })
        .await
        .unwrap();
    let (_, c) = post(json!({"status": "public answer", "in_reply_to_id": q["id"]})).await;
    let answered =
        tokio::time::timeout(std::time::Duration::from_secs(20), page(c["url"].as_str().unwrap())).await;
    let (s, html) = answered.expect("the page answers despite the loop");
    assert_eq!(s, 200);
    assert!(html.contains("public answer") && !html.contains("second"), "{html}");
    let context = format!("/api/v1/statuses/{}/context", c["id"].as_str().unwrap());
    let answered =
        tokio::time::timeout(std::time::Duration::from_secs(20), call(M::GET, &t, &context, None, None))
            .await;
    assert_eq!(answered.expect("the API answers despite the loop").0, 200);
    t.instance.stop().await.unwrap();
}

#[tokio::test]
async fn private_posts_are_not_told_apart_from_missing_ones() {
    let t = crate::support::TestInstance::start(&crate::support::Backend::Sqlite).await;
    t.user("ada").await;
    let ada = token(&t, "ada", "read write").await;
    let (_, private) = call(
        M::POST,
        &t,
        "/api/v1/statuses",
        Some(&ada),
        Some(json!({"status": "psst", "visibility": "private"})),
    )
    .await;
    let no_redirects =
        reqwest::Client::builder().no_proxy().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    let missing = t.url("/users/ada/statuses/12345");
    for url in [private["uri"].as_str().unwrap(), missing.as_str()] {
        let res = no_redirects.get(url).header("accept", "text/html").send().await.unwrap();
        assert_eq!(res.status(), 404, "{url}");
    }
    for url in [private["url"].as_str().unwrap().to_owned(), t.url("/@ada/12345")] {
        let res = http().get(&url).header("accept", "application/activity+json").send().await.unwrap();
        assert_eq!(res.status(), 404, "an unsigned fetch: {url}");
    }
    t.instance.stop().await.unwrap();
}
