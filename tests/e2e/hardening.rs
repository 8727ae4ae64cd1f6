//! The findings of the outside security review, each pinned over real HTTP (finding 1, the
//! scope matrix, is in `scope_matrix.rs`; 9, image bombs, in `media.rs`; the parts that are
//! pure logic, such as the limiter's bounds, in the unit tests next to the code).

use std::net::TcpListener;

use actix_web::{App, HttpResponse, HttpServer, web};
use guildhall_core::keys::SigningKey;
use guildhall_core::model::{GroupVisibility, Membership, PostingPolicy, Visibility};
use guildhall_federation::actions::{self, NewPost};
use guildhall_federation::local_actors::{NewGroup, create_group};
use guildhall_federation::signing;
use guildhall_storage::actors::Actor;
use reqwest::Method as M;
use serde_json::{Value, json};

use crate::client_api::{call, token};
use crate::inbox::{key_of, post_signed};
use crate::support::{Backend, Cluster, TestInstance, http};

const AP: &str = "application/activity+json";
const PUBLIC: &str = "https://www.w3.org/ns/activitystreams#Public";

async fn group(node: &TestInstance, name: &str, owner: &str, members_only: bool) -> Actor {
    let urls = guildhall_federation::Urls::new(node.instance.config());
    let new = NewGroup {
        name,
        owner,
        display_name: None,
        membership: Membership::Open,
        posting: PostingPolicy::Members,
        visibility: if members_only { GroupVisibility::Members } else { GroupVisibility::Public },
    };
    create_group(node.instance.db(), &urls, new).await.unwrap().0
}

/// `who` on `node` joins the group with this handle; returns the group as `node` knows it.
async fn join(cluster: &Cluster, node: &TestInstance, who: &Actor, handle: &str) -> Actor {
    let remote = actions::resolve_actor(&node.fed(), handle).await.unwrap();
    actions::follow(&node.fed(), who, &remote).await.unwrap();
    cluster.flush().await;
    remote
}

/// A GET of `url` signed by `key_id`, with the headers signed for `signed_for` (another URL,
/// to replay a request meant for someone else).
async fn signed_get(url: &str, signed_for: &str, key_id: &str, key: &SigningKey) -> reqwest::StatusCode {
    let target = url::Url::parse(signed_for).unwrap();
    let mut request = http().get(url).header("accept", AP);
    for (name, value) in signing::sign("GET", &target, None, key_id, key).unwrap() {
        request = request.header(name, value);
    }
    request.send().await.unwrap().status()
}

#[tokio::test]
async fn finding_3_a_get_signed_for_another_server_is_not_replayable_here() {
    let cluster = Cluster::start(2).await;
    let [a, b] = &cluster.nodes[..] else { unreachable!() };
    let ada = a.user("ada").await;
    let bob = b.user("bob").await;
    let ada_at_b = actions::resolve_actor(&b.fed(), &a.handle("ada")).await.unwrap();
    actions::follow(&b.fed(), &bob, &ada_at_b).await.unwrap();
    cluster.flush().await;
    let private = NewPost { visibility: Visibility::Private, ..NewPost::public("for followers") };
    let private = actions::post(&a.fed(), &ada, private).await.unwrap();
    let (key_id, key) = (format!("{}#main-key", bob.ap_id), key_of(b, bob.id).await);

    // bob's server signed a GET of the same path on another server: replayed here, refused.
    let elsewhere = private.ap_id.replace(&a.instance.config().domain.to_string(), "elsewhere.example");
    assert_eq!(signed_get(&private.ap_id, &elsewhere, &key_id, &key).await, 401);
    // Signed for us, by a follower: served.
    assert_eq!(signed_get(&private.ap_id, &private.ap_id, &key_id, &key).await, 200);
    cluster.stop().await;
}

#[tokio::test]
async fn finding_4_a_followers_only_post_relayed_by_a_public_group_stays_private() {
    let cluster = Cluster::start(2).await;
    let [a, b] = &cluster.nodes[..] else { unreachable!() };
    a.user("ada").await;
    let bob = b.user("bob").await;
    let guild = group(a, "guild", "ada", false).await;
    join(&cluster, b, &bob, &a.handle("guild")).await;
    let text = format!("members, only my followers may read this @{}", a.handle("guild"));
    let post = NewPost { visibility: Visibility::Private, ..NewPost::public(&text) };
    let post = actions::post(&b.fed(), &bob, post).await.unwrap();
    let public = actions::post(&b.fed(), &bob, NewPost::public(&format!("open @{}", a.handle("guild"))))
        .await
        .unwrap();
    cluster.flush().await;

    let relays: Vec<Value> = {
        use diesel::prelude::*;
        use guildhall_storage::schema::outbox_activities as o;
        let group_id = guild.id;
        let rows: Vec<String> = a
            .instance
            .db()
            .run(move |c| {
                Ok(o::table
                    .filter(o::actor_id.eq(group_id))
                    .filter(o::kind.eq("Announce"))
                    .select(o::json)
                    .load(c)?)
            })
            .await
            .unwrap();
        rows.iter().map(|j| serde_json::from_str(j).unwrap()).collect()
    };
    let about = |ap_id: &str| {
        relays
            .iter()
            .find(|r| r["object"]["object"]["id"] == ap_id)
            .unwrap_or_else(|| panic!("no relay of {ap_id}"))
    };
    let private_relay = about(&post.ap_id);
    let addressed: Vec<&Value> = [&private_relay["to"], &private_relay["cc"]]
        .into_iter()
        .filter_map(Value::as_array)
        .flatten()
        .collect();
    assert!(!addressed.contains(&&json!(PUBLIC)), "the relay is addressed as the post: {private_relay}");
    let anonymous =
        http().get(private_relay["id"].as_str().unwrap()).header("accept", AP).send().await.unwrap();
    assert_eq!(anonymous.status(), 401, "an anonymous GET of the relay needs a signature");
    assert!(!anonymous.text().await.unwrap().contains("only my followers"));
    // The public post's relay stays public and readable.
    let open = http().get(about(&public.ap_id)["id"].as_str().unwrap()).header("accept", AP).send().await;
    assert_eq!(open.unwrap().status(), 200);
    cluster.stop().await;
}

#[tokio::test]
async fn finding_5_a_group_cannot_forge_a_post_whose_origin_does_not_confirm_it() {
    let cluster = Cluster::start(2).await;
    let [a, b] = &cluster.nodes[..] else { unreachable!() };
    let ann = a.user("ann").await;
    let victim = b.user("victim").await;
    b.user("owner").await;
    for members_only in [false, true] {
        let name = if members_only { "closed" } else { "open" };
        let evil = group(b, name, "owner", members_only).await;
        join(&cluster, a, &ann, &b.handle(name)).await;
        // The group relays a post the victim never wrote: its origin answers 404.
        let forged = format!("{}/statuses/4242{}", victim.ap_id, u8::from(members_only));
        let announce = json!({
            "id": format!("{}/activities/forged-{name}", evil.ap_id), "type": "Announce", "actor": evil.ap_id,
            "to": [evil.followers_url.clone().unwrap()],
            "object": {
                "id": format!("{forged}/activity"), "type": "Create", "actor": victim.ap_id,
                "to": [evil.ap_id],
                "object": {"id": forged, "type": "Note", "attributedTo": victim.ap_id, "audience": evil.ap_id,
                           "to": [evil.ap_id], "content": "<p>words never said</p>"},
            },
        });
        let body = serde_json::to_vec(&announce).unwrap();
        let key_id = format!("{}#main-key", evil.ap_id);
        post_signed(&a.url("/inbox"), &body, &body, &key_id, &key_of(b, evil.id).await).await;
        assert!(a.status(&forged).await.is_none(), "{name} group: the forged post was not stored");
    }
    cluster.stop().await;
}

/// A remote server of one actor whose profile `url` is a script.
struct EvilServer {
    port: u16,
    handle: actix_web::dev::ServerHandle,
}

impl EvilServer {
    fn start() -> EvilServer {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let keys = guildhall_core::keys::generate().unwrap();
        let base = format!("http://localhost:{port}");
        let actor = json!({
            "@context": ["https://www.w3.org/ns/activitystreams", "https://w3id.org/security/v1"],
            "id": format!("{base}/users/mallory"), "type": "Person", "preferredUsername": "mallory",
            "url": "javascript:alert(document.cookie)", "inbox": format!("{base}/inbox"),
            "icon": {"type": "Image", "url": "javascript:alert(2)"},
            "publicKey": {"id": format!("{base}/users/mallory#main-key"),
                          "owner": format!("{base}/users/mallory"), "publicKeyPem": keys.public_pem},
        });
        let finger = json!({
            "subject": format!("acct:mallory@localhost:{port}"),
            "links": [{"rel": "self", "type": AP, "href": format!("{base}/users/mallory")}],
        });
        let server = HttpServer::new(move || {
            let (actor, finger) = (actor.clone(), finger.clone());
            App::new()
                .route(
                    "/users/mallory",
                    web::get().to(move || {
                        let actor = actor.clone();
                        async move { HttpResponse::Ok().content_type(AP).json(actor) }
                    }),
                )
                .route(
                    "/.well-known/webfinger",
                    web::get().to(move || {
                        let finger = finger.clone();
                        async move { HttpResponse::Ok().json(finger) }
                    }),
                )
        })
        .listen(listener)
        .unwrap()
        .workers(1)
        .disable_signals()
        .run();
        let handle = server.handle();
        tokio::spawn(server);
        EvilServer { port, handle }
    }
}

#[tokio::test]
async fn finding_6_remote_script_urls_stay_inert_and_html_pages_carry_a_strict_csp() {
    let t = TestInstance::start(&Backend::Sqlite).await;
    let ada = t.user("ada").await;
    let evil = EvilServer::start();
    let handle = format!("mallory@localhost:{}", evil.port);
    let mallory = actions::resolve_actor(&t.fed(), &handle).await.unwrap();
    assert_eq!(
        (mallory.url.as_deref(), mallory.avatar_url.as_deref()),
        (None, None),
        "script URLs are not kept"
    );
    let post = actions::post(&t.fed(), &ada, NewPost::public(&format!("hello @{handle}"))).await.unwrap();
    assert!(post.content.contains(&format!("href=\"{}\"", mallory.ap_id)), "{}", post.content);

    let reader = token(&t, "ada", "read").await;
    let (_, account) =
        call(M::GET, &t, &format!("/api/v1/accounts/{}", mallory.id), Some(&reader), None).await;
    let (_, status) = call(M::GET, &t, &format!("/api/v1/statuses/{}", post.id), Some(&reader), None).await;
    for text in [account.to_string(), status.to_string()] {
        assert!(!text.contains("javascript:"), "{text}");
    }
    for page in [post.ap_id.clone(), t.url("/@ada")] {
        let res = http().get(&page).header("accept", "text/html").send().await.unwrap();
        let csp = res.headers().get("content-security-policy").map(|v| v.to_str().unwrap().to_owned());
        let csp = csp.unwrap_or_else(|| panic!("{page} has no Content-Security-Policy"));
        assert!(csp.contains("default-src 'none'") && !csp.contains("script-src"), "{csp}");
        assert!(!res.text().await.unwrap().contains("javascript:"));
    }
    evil.handle.stop(false).await;
    t.instance.stop().await.unwrap();
}

#[tokio::test]
async fn finding_7_a_remote_post_enters_a_remote_group_only_through_its_relay() {
    let cluster = Cluster::start(3).await;
    let [a, b, c] = &cluster.nodes[..] else { unreachable!() };
    let ann = a.user("ann").await;
    b.user("owner").await;
    let guild = group(b, "guild", "owner", false).await;
    let mallory = c.user("mallory").await;
    let guild_at_a = join(&cluster, a, &ann, &b.handle("guild")).await;
    // ann follows mallory, so A gets mallory's posts straight from C.
    let mallory_at_a = actions::resolve_actor(&a.fed(), &c.handle("mallory")).await.unwrap();
    actions::follow(&a.fed(), &ann, &mallory_at_a).await.unwrap();
    cluster.flush().await;
    // mallory is no member: the guild refuses to relay her post, whatever it names.
    let text = format!("buy now @{}", b.handle("guild"));
    let spam = actions::post(&c.fed(), &mallory, NewPost::public(&text)).await.unwrap();
    cluster.flush().await;
    let at_a = a.status(&spam.ap_id).await.expect("A has it, from mallory's server");
    assert_eq!(at_a.group_id, None, "not placed in the guild on its own word");

    // Nor can a remote "group" delete a post by naming itself in it: a Delete signed by the
    // guild of mallory's post (which names it) changes nothing.
    let delete = json!({"id": format!("{}/deletes/1", guild.ap_id), "type": "Delete",
                        "actor": guild.ap_id, "object": spam.ap_id});
    let body = serde_json::to_vec(&delete).unwrap();
    let key_id = format!("{}#main-key", guild.ap_id);
    post_signed(&a.url("/inbox"), &body, &body, &key_id, &key_of(b, guild.id).await).await;
    assert!(a.status(&spam.ap_id).await.unwrap().deleted_at.is_none());
    let _ = guild_at_a;
    cluster.stop().await;
}

/// `POST /api/v1/accounts` from `forwarded_for`, through the loopback peer.
async fn sign_up_from(t: &TestInstance, app: &str, name: &str, forwarded_for: &str) -> u16 {
    let body = json!({"username": name, "email": format!("{name}@museum.example"),
                      "password": "correct horse", "agreement": true});
    let res = http()
        .post(t.url("/api/v1/accounts"))
        .bearer_auth(app)
        .header("X-Forwarded-For", forwarded_for)
        .json(&body)
        .send()
        .await
        .unwrap();
    res.status().as_u16()
}

/// Registers an app that may ask for `scopes`; returns it (with its client id and secret).
async fn register_app(t: &TestInstance, scopes: &str) -> Value {
    let body = json!({"client_name": "t", "redirect_uris": "urn:ietf:wg:oauth:2.0:oob", "scopes": scopes});
    let (s, app) = call(M::POST, t, "/api/v1/apps", None, Some(body)).await;
    assert_eq!(s, 200, "{app}");
    app
}

#[tokio::test]
async fn finding_8_forwarded_addresses_count_only_from_trusted_proxies() {
    // Loopback is not trusted here: every X-Forwarded-For is the client's own claim.
    let settings = [("GUILDHALL_REGISTRATIONS", "open"), ("GUILDHALL_TRUSTED_PROXIES", "10.0.0.0/8")];
    let t = TestInstance::start_with(&Backend::Sqlite, &settings).await;
    let app = crate::signup::app_token(&t).await;
    for n in 0..10 {
        assert_eq!(sign_up_from(&t, &app, &format!("member{n}"), &format!("198.51.100.{n}")).await, 200);
    }
    assert_eq!(
        sign_up_from(&t, &app, "member10", "198.51.100.99").await,
        429,
        "a forged hop is not a new client"
    );
    t.instance.stop().await.unwrap();

    // Behind a trusted proxy (loopback, the default) the hop it adds counts: the rightmost.
    let t = TestInstance::start_with(&Backend::Sqlite, &settings[..1]).await;
    let app = crate::signup::app_token(&t).await;
    for n in 0..10 {
        let chain = format!("203.0.113.{n}, 198.51.100.1");
        assert_eq!(sign_up_from(&t, &app, &format!("member{n}"), &chain).await, 200);
    }
    assert_eq!(sign_up_from(&t, &app, "member10", "203.0.113.77, 198.51.100.1").await, 429);
    assert_eq!(sign_up_from(&t, &app, "member11", "198.51.100.2").await, 200, "another client");
    t.instance.stop().await.unwrap();
}

/// The password grant for `login` with `password`, from `address` (through the loopback proxy).
async fn sign_in_from(t: &TestInstance, app: &Value, login: &str, password: &str, address: &str) -> u16 {
    let form = [
        ("grant_type", "password"),
        ("client_id", app["client_id"].as_str().unwrap()),
        ("client_secret", app["client_secret"].as_str().unwrap()),
        ("username", login),
        ("password", password),
        ("scope", "read"),
    ];
    let res = http().post(t.url("/oauth/token")).header("X-Forwarded-For", address).form(&form).send().await;
    res.unwrap().status().as_u16()
}

#[tokio::test]
async fn finding_11_a_strangers_guesses_do_not_lock_the_owner_out() {
    let t = TestInstance::start(&Backend::Sqlite).await;
    t.user("ada").await;
    let app = register_app(&t, "read").await;
    for _ in 0..5 {
        assert_eq!(sign_in_from(&t, &app, "ada", "guess", "198.51.100.66").await, 400);
    }
    assert_eq!(
        sign_in_from(&t, &app, "ada", "correct horse", "198.51.100.66").await,
        429,
        "the guesser waits"
    );
    assert_eq!(sign_in_from(&t, &app, "ada", "correct horse", "203.0.113.10").await, 200, "ada does not");
    // Unknown logins are answered as wrong passwords are.
    assert_eq!(sign_in_from(&t, &app, "nobody@museum.example", "guess", "203.0.113.11").await, 400);
    t.instance.stop().await.unwrap();
}

#[tokio::test]
async fn finding_10_streams_are_bounded_per_client() {
    let t = TestInstance::start(&Backend::Sqlite).await;
    let mut open = Vec::new();
    let stream = |address: &str| {
        http().get(t.url("/api/v1/streaming/public")).header("X-Forwarded-For", address.to_owned()).send()
    };
    for _ in 0..100 {
        let res = stream("198.51.100.5").await.unwrap();
        assert_eq!(res.status(), 200);
        open.push(res);
    }
    assert_eq!(stream("198.51.100.5").await.unwrap().status(), 429, "the 101st from one address");
    assert_eq!(stream("198.51.100.6").await.unwrap().status(), 200, "another address is not held up");
    t.instance.stop().await.unwrap();
}

#[tokio::test]
async fn finding_14_relationships_refuses_long_id_lists() {
    let t = TestInstance::start(&Backend::Sqlite).await;
    t.user("ada").await;
    let reader = token(&t, "ada", "read").await;
    let ids: String = (0..81).map(|i| format!("id[]={i}&")).collect();
    let (s, body) =
        call(M::GET, &t, &format!("/api/v1/accounts/relationships?{ids}"), Some(&reader), None).await;
    assert_eq!(s, 422, "{body}");
    assert!(body["error"].as_str().unwrap().contains("at most 80"), "{body}");
    t.instance.stop().await.unwrap();
}

#[tokio::test]
async fn finding_15_a_new_password_signs_every_app_out() {
    let t = TestInstance::start(&Backend::Sqlite).await;
    t.user("ada").await;
    let old = token(&t, "ada", "read").await;
    assert_eq!(call(M::GET, &t, "/api/v1/accounts/verify_credentials", Some(&old), None).await.0, 200);
    guildhall_federation::local_actors::set_password(t.instance.db(), "ada", "a new horse battery")
        .await
        .unwrap();
    assert_eq!(call(M::GET, &t, "/api/v1/accounts/verify_credentials", Some(&old), None).await.0, 401);
    t.instance.stop().await.unwrap();
}

#[tokio::test]
async fn finding_16_client_secrets_are_kept_as_hashes() {
    let t = TestInstance::start(&Backend::Sqlite).await;
    let app = register_app(&t, "read").await;
    let (id, secret) =
        (app["client_id"].as_str().unwrap().to_owned(), app["client_secret"].as_str().unwrap());
    let stored =
        t.instance.db().run(move |c| guildhall_storage::oauth::find_app(c, &id)).await.unwrap().unwrap();
    assert_ne!(stored.client_secret, secret);
    assert!(!stored.client_secret.contains(secret));
    let form = |secret: &str| {
        [
            ("grant_type", "client_credentials".to_owned()),
            ("client_id", app["client_id"].as_str().unwrap().to_owned()),
            ("client_secret", secret.to_owned()),
        ]
    };
    let right = http().post(t.url("/oauth/token")).form(&form(secret)).send().await.unwrap();
    assert_eq!(right.status(), 200, "the secret still works");
    let hash = http().post(t.url("/oauth/token")).form(&form(&stored.client_secret)).send().await.unwrap();
    assert_eq!(hash.status(), 401, "the stored hash is no secret");
    t.instance.stop().await.unwrap();
}

#[tokio::test]
async fn finding_17_an_actor_update_cannot_move_its_inbox_to_another_host() {
    let cluster = Cluster::start(2).await;
    let [a, b] = &cluster.nodes[..] else { unreachable!() };
    a.user("ada").await;
    let bob = b.user("bob").await;
    let bob_at_a = actions::resolve_actor(&a.fed(), &b.handle("bob")).await.unwrap();
    let mut person: Value =
        http().get(&bob.ap_id).header("accept", AP).send().await.unwrap().json().await.unwrap();
    person["inbox"] = json!("http://victim.example/inbox");
    person["endpoints"] = json!({"sharedInbox": "http://victim.example/inbox"});
    let update = json!({"id": format!("{}#updates/1", bob.ap_id), "type": "Update", "actor": bob.ap_id,
                        "to": [PUBLIC], "object": person});
    let body = serde_json::to_vec(&update).unwrap();
    post_signed(&a.url("/inbox"), &body, &body, &format!("{}#main-key", bob.ap_id), &key_of(b, bob.id).await)
        .await;
    let after = a.actor(&bob.ap_id).await.unwrap();
    assert_eq!((after.inbox_url, after.shared_inbox_url), (bob_at_a.inbox_url, bob_at_a.shared_inbox_url));
    cluster.stop().await;
}

/// Every server-sent event up to and including the first `event` whose data is `data`.
async fn events_until(response: &mut reqwest::Response, event: &str, data: &str) -> Vec<(String, String)> {
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(10);
    let (mut buffer, mut seen) = (String::new(), Vec::new());
    loop {
        while let Some(end) = buffer.find("\n\n") {
            let block: String = buffer.drain(..end + 2).collect();
            let name = block.lines().find_map(|l| l.strip_prefix("event: ")).unwrap_or("").to_owned();
            let body: Vec<&str> = block.lines().filter_map(|l| l.strip_prefix("data: ")).collect();
            seen.push((name, body.join("\n")));
            if seen.last().is_some_and(|(n, d)| n == event && d == data) {
                return seen;
            }
        }
        let chunk = tokio::time::timeout_at(deadline, response.chunk())
            .await
            .unwrap_or_else(|_| panic!("no {event} {data} in time; saw {seen:?}"))
            .unwrap()
            .expect("the stream ended");
        buffer.push_str(&String::from_utf8_lossy(&chunk));
    }
}

#[tokio::test]
async fn finding_18_a_deletion_reaches_only_streams_that_could_see_the_post() {
    let t = TestInstance::start(&Backend::Sqlite).await;
    t.user("ada").await;
    let ada = token(&t, "ada", "read write").await;
    let mut anonymous = http().get(t.url("/api/v1/streaming/public")).send().await.unwrap();
    let mut own = http().get(t.url("/api/v1/streaming/user")).bearer_auth(&ada).send().await.unwrap();
    let post = |text: &str, visibility: &str| json!({"status": text, "visibility": visibility});
    let (_, dm) = call(M::POST, &t, "/api/v1/statuses", Some(&ada), Some(post("secret", "direct"))).await;
    let (_, open) = call(M::POST, &t, "/api/v1/statuses", Some(&ada), Some(post("open", "public"))).await;
    for s in [&dm, &open] {
        let id = s["id"].as_str().unwrap();
        assert_eq!(call(M::DELETE, &t, &format!("/api/v1/statuses/{id}"), Some(&ada), None).await.0, 200);
    }
    let (dm_id, open_id) = (dm["id"].as_str().unwrap(), open["id"].as_str().unwrap());
    // The author's own stream hears of both; a stranger's of the public one only. Deletions
    // arrive in order, so the public one (deleted last) is the signal the other was held back.
    let seen = events_until(&mut own, "delete", open_id).await;
    assert!(seen.contains(&("delete".to_owned(), dm_id.to_owned())), "{seen:?}");
    let seen = events_until(&mut anonymous, "delete", open_id).await;
    assert!(!seen.iter().any(|(_, data)| data.contains(dm_id)), "a stranger heard of the DM: {seen:?}");
    t.instance.stop().await.unwrap();
}

/// Outbox documents of `actor_id` on `node` of `kind`, oldest first.
async fn published(node: &TestInstance, actor_id: i64, kind: &'static str) -> Vec<Value> {
    use diesel::prelude::*;
    use guildhall_storage::schema::outbox_activities as o;
    let rows: Vec<String> = node
        .instance
        .db()
        .run(move |c| {
            Ok(o::table
                .filter(o::actor_id.eq(actor_id))
                .filter(o::kind.eq(kind))
                .order(o::id.asc())
                .select(o::json)
                .load(c)?)
        })
        .await
        .unwrap();
    rows.iter().map(|j| serde_json::from_str(j).unwrap()).collect()
}

#[tokio::test]
async fn one_door_unblocking_sends_undo_block_embedding_the_original() {
    let cluster = Cluster::start(2).await;
    let [a, b] = &cluster.nodes[..] else { unreachable!() };
    let ada = a.user("ada").await;
    let bob = b.user("bob").await;
    let bob_at_a = actions::resolve_actor(&a.fed(), &b.handle("bob")).await.unwrap();
    let ada_token = token(a, "ada", "read write follow").await;
    let path = |verb: &str| format!("/api/v1/accounts/{}/{verb}", bob_at_a.id);
    assert_eq!(call(M::POST, a, &path("block"), Some(&ada_token), None).await.0, 200);
    cluster.flush().await;
    let ada_at_b = b.actor(&ada.ap_id).await.unwrap();
    let blocked = |node: &TestInstance, by: i64, of: i64| {
        let db = node.instance.db().clone();
        async move { db.run(move |c| guildhall_storage::blocks::exists(c, by, of)).await.unwrap() }
    };
    assert!(blocked(b, ada_at_b.id, bob.id).await, "B learned of the block");
    assert_eq!(call(M::POST, a, &path("unblock"), Some(&ada_token), None).await.0, 200);
    cluster.flush().await;
    assert!(!blocked(b, ada_at_b.id, bob.id).await, "the Undo reached B");
    let block = &published(a, ada.id, "Block").await[0];
    let undo = &published(a, ada.id, "Undo").await[0];
    assert_eq!(undo["object"]["id"], block["id"], "the Undo embeds the original Block: {undo}");

    // A group's unban embeds its ban too.
    let owner = a.user("owner").await;
    let guild = group(a, "guild", "owner", false).await;
    join(&cluster, b, &bob, &a.handle("guild")).await;
    let bob_at_a = a.actor(&bob.ap_id).await.unwrap();
    guildhall_federation::moderation::ban(&a.fed(), &owner, &guild, &bob_at_a, "spam").await.unwrap();
    guildhall_federation::moderation::unban(&a.fed(), &owner, &guild, &bob_at_a).await.unwrap();
    let ban = &published(a, guild.id, "Block").await[0];
    let unban = &published(a, guild.id, "Undo").await[0];
    assert_eq!((&unban["object"]["id"], unban["object"].get("@context")), (&ban["id"], None), "{unban}");
    cluster.stop().await;
}

#[tokio::test]
async fn one_door_an_emoji_reaction_counts_as_a_like_and_its_undo_takes_it_back() {
    let cluster = Cluster::start(2).await;
    let [a, b] = &cluster.nodes[..] else { unreachable!() };
    let ada = a.user("ada").await;
    let bob = b.user("bob").await;
    let post = actions::post(&a.fed(), &ada, NewPost::public("react to this")).await.unwrap();
    let (key_id, key) = (format!("{}#main-key", bob.ap_id), key_of(b, bob.id).await);
    let react = json!({"id": format!("{}/reactions/1", bob.ap_id), "type": "EmojiReact", "actor": bob.ap_id,
                       "object": post.ap_id, "content": "🏛️"});
    let body = serde_json::to_vec(&react).unwrap();
    assert_eq!(post_signed(&a.url("/inbox"), &body, &body, &key_id, &key).await, 202);
    let likes = |id: i64| {
        let db = a.instance.db().clone();
        async move { db.run(move |c| guildhall_storage::favourites::count(c, id)).await.unwrap() }
    };
    assert_eq!(likes(post.id).await, 1);
    let undo = json!({"id": format!("{}/reactions/1/undo", bob.ap_id), "type": "Undo", "actor": bob.ap_id,
                      "object": react});
    let body = serde_json::to_vec(&undo).unwrap();
    assert_eq!(post_signed(&a.url("/inbox"), &body, &body, &key_id, &key).await, 202);
    assert_eq!(likes(post.id).await, 0);
    cluster.stop().await;
}

#[tokio::test]
async fn one_door_concurrent_retries_with_one_idempotency_key_post_once() {
    for backend in crate::support::backends() {
        let t = TestInstance::start(&backend).await;
        let ada = t.user("ada").await;
        let writer = token(&t, "ada", "read write").await;
        let mut attempts = tokio::task::JoinSet::new();
        for _ in 0..6 {
            let request = http()
                .post(t.url("/api/v1/statuses"))
                .bearer_auth(&writer)
                .header("Idempotency-Key", "5f1e-retry")
                .json(&json!({"status": "posted once"}));
            attempts.spawn(async move {
                let answer = request.send().await.unwrap();
                assert_eq!(answer.status(), 200);
                answer.json::<Value>().await.unwrap()["id"].as_str().unwrap().to_owned()
            });
        }
        let mut ids = attempts.join_all().await;
        ids.sort();
        ids.dedup();
        assert_eq!(ids.len(), 1, "every retry answers the one status: {ids:?}");
        assert_eq!(published(&t, ada.id, "Create").await.len(), 1, "and it went out once");
        t.instance.stop().await.unwrap();
    }
}

#[tokio::test]
async fn groups_moderators_see_and_answer_join_requests_as_follow_requests() {
    let cluster = Cluster::start(2).await;
    let [a, b] = &cluster.nodes[..] else { unreachable!() };
    a.user("ada").await;
    a.user("eve").await;
    let bob = b.user("bob").await;
    let urls = guildhall_federation::Urls::new(a.instance.config());
    let new = NewGroup {
        name: "circle",
        owner: "ada",
        display_name: None,
        membership: Membership::Approval,
        posting: PostingPolicy::Members,
        visibility: GroupVisibility::Public,
    };
    let circle = create_group(a.instance.db(), &urls, new).await.unwrap().0;
    let circle_at_b = join(&cluster, b, &bob, &a.handle("circle")).await;
    let bob_at_a = a.actor(&bob.ap_id).await.unwrap();
    let (ada, eve) = (token(a, "ada", "read write follow").await, token(a, "eve", "read write follow").await);

    let (_, listed) = call(M::GET, a, "/api/v1/follow_requests", Some(&ada), None).await;
    assert_eq!(listed[0]["id"], bob_at_a.id.to_string(), "{listed}");
    let (_, none) = call(M::GET, a, "/api/v1/follow_requests", Some(&eve), None).await;
    assert_eq!(none, json!([]), "not eve's group");
    let authorize = format!("/api/v1/follow_requests/{}/authorize", bob_at_a.id);
    assert_ne!(call(M::POST, a, &authorize, Some(&eve), None).await.0, 200, "eve cannot let bob in");
    assert_eq!(call(M::POST, a, &authorize, Some(&ada), None).await.0, 200);
    cluster.flush().await;
    let state = |node: &TestInstance, follower: i64, target: i64| {
        let db = node.instance.db().clone();
        async move {
            db.run(move |c| guildhall_storage::follows::find(c, follower, target))
                .await
                .unwrap()
                .map(|f| f.state)
        }
    };
    assert_eq!(state(a, bob_at_a.id, circle.id).await.as_deref(), Some("accepted"));
    assert_eq!(state(b, bob.id, circle_at_b.id).await.as_deref(), Some("accepted"), "bob's server heard");
    cluster.stop().await;
}

#[tokio::test]
async fn correctness_what_another_server_said_stays_in_our_logs() {
    let t = TestInstance::start(&Backend::Sqlite).await;
    t.user("ada").await;
    let ada = token(&t, "ada", "read write").await;
    let (s, guild) =
        call(M::POST, &t, "/api/guildhall/v1/groups", Some(&ada), Some(json!({"name": "Guild"}))).await;
    assert_eq!(s, 200);
    // Inviting someone on a server that does not answer: a plain 404, no connection details.
    let path = format!("/api/guildhall/v1/groups/{}/invitations", guild["id"].as_str().unwrap());
    let (s, body) = call(M::POST, &t, &path, Some(&ada), Some(json!({"acct": "nobody@localhost:1"}))).await;
    assert_eq!((s.as_u16(), body["error"].as_str()), (404, Some("Record not found")), "{body}");
    t.instance.stop().await.unwrap();
}

#[tokio::test]
async fn correctness_profile_text_is_stored_as_typed_and_escaped_once_where_shown() {
    let t = TestInstance::start(&Backend::Sqlite).await;
    t.user("ada").await;
    let ada = token(&t, "ada", "read write").await;
    // As Ice Cubes sends it: JSON, with fields_attributes as an object of objects.
    let body = json!({"display_name": "\"><b>Ada</b> & co",
                      "fields_attributes": {"0": {"name": "Role & rank", "value": "Curator"}}});
    let (s, me) = call(M::PATCH, &t, "/api/v1/accounts/update_credentials", Some(&ada), Some(body)).await;
    assert_eq!(s, 200, "{me}");
    assert_eq!(me["display_name"], "\">Ada & co");
    assert_eq!(me["fields"][0]["name"], "Role & rank", "{me}");
    assert!(me["fields"][0]["value"].as_str().unwrap().contains("Curator"));
    // The same as an array of objects.
    let body = json!({"fields_attributes": [{"name": "Museum", "value": "Hunterian"}]});
    let (_, me) = call(M::PATCH, &t, "/api/v1/accounts/update_credentials", Some(&ada), Some(body)).await;
    assert_eq!(me["fields"][0]["name"], "Museum", "{me}");
    let page = http().get(t.url("/@ada")).header("accept", "text/html").send().await.unwrap();
    let html = page.text().await.unwrap();
    // Escaped once, with named or numeric entities.
    assert!(
        html.contains("&quot;&gt;Ada &amp; co") || html.contains("&#34;&#62;Ada &#38; co"),
        "escaped once: {html}"
    );
    assert!(!html.contains("&amp;quot;") && !html.contains("&amp;#") && !html.contains("<b>"), "{html}");
    t.instance.stop().await.unwrap();
}

#[tokio::test]
async fn one_door_pins_federate_through_the_featured_collection() {
    let cluster = Cluster::start(2).await;
    let [a, b] = &cluster.nodes[..] else { unreachable!() };
    let ada = a.user("ada").await;
    let bob = b.user("bob").await;
    let ada_at_b = actions::resolve_actor(&b.fed(), &a.handle("ada")).await.unwrap();
    actions::follow(&b.fed(), &bob, &ada_at_b).await.unwrap();
    cluster.flush().await;
    let token = token(a, "ada", "read write").await;
    let post = actions::post(&a.fed(), &ada, NewPost::public("our collections policy")).await.unwrap();
    let (s, _) = call(M::POST, a, &format!("/api/v1/statuses/{}/pin", post.id), Some(&token), None).await;
    assert_eq!(s, 200);

    let person: Value =
        http().get(&ada.ap_id).header("accept", AP).send().await.unwrap().json().await.unwrap();
    let featured = person["featured"].as_str().expect("the actor names its featured collection").to_owned();
    let collection: Value =
        http().get(&featured).header("accept", AP).send().await.unwrap().json().await.unwrap();
    assert_eq!(collection["orderedItems"][0]["id"], post.ap_id.as_str(), "{collection}");
    let add = &published(a, ada.id, "Add").await[0];
    assert_eq!((&add["object"], &add["target"]), (&json!(post.ap_id), &json!(featured)));

    let (s, _) = call(M::POST, a, &format!("/api/v1/statuses/{}/unpin", post.id), Some(&token), None).await;
    assert_eq!(s, 200);
    let collection: Value =
        http().get(&featured).header("accept", AP).send().await.unwrap().json().await.unwrap();
    assert_eq!(collection["totalItems"], 0);
    assert_eq!(published(a, ada.id, "Remove").await.len(), 1);
    cluster.stop().await;
}

#[tokio::test]
async fn one_door_a_member_closes_their_account_with_their_password() {
    let cluster = Cluster::start(2).await;
    let [a, b] = &cluster.nodes[..] else { unreachable!() };
    let ada = a.user("ada").await;
    let bob = b.user("bob").await;
    let ada_at_b = actions::resolve_actor(&b.fed(), &a.handle("ada")).await.unwrap();
    actions::follow(&b.fed(), &bob, &ada_at_b).await.unwrap();
    cluster.flush().await;
    let post = actions::post(&a.fed(), &ada, NewPost::public("goodbye")).await.unwrap();
    let token = token(a, "ada", "read write").await;
    let path = "/api/guildhall/v1/accounts/me";
    let (s, body) = call(M::DELETE, a, path, Some(&token), Some(json!({"password": "wrong horse"}))).await;
    assert_eq!(s, 403, "{body}");
    let (s, _) = call(M::DELETE, a, path, Some(&token), Some(json!({"password": "correct horse"}))).await;
    assert_eq!(s, 204);
    cluster.flush().await;
    assert_eq!(call(M::GET, a, "/api/v1/accounts/verify_credentials", Some(&token), None).await.0, 401);
    let gone = http().get(&ada.ap_id).header("accept", AP).send().await.unwrap();
    assert_eq!(gone.status(), 410);
    assert!(a.status(&post.ap_id).await.unwrap().deleted_at.is_some());
    assert!(b.actor(&ada.ap_id).await.unwrap().deleted_at.is_some(), "B was told");
    cluster.stop().await;
}

#[tokio::test]
async fn finding_2_a_megabyte_login_is_refused_at_the_door() {
    let t = TestInstance::start(&Backend::Sqlite).await;
    let app = register_app(&t, "read").await;
    let login = "x".repeat(1_000_000);
    assert_eq!(sign_in_from(&t, &app, &login, "guess", "198.51.100.70").await, 413);
    // A long login that fits the form is a failed sign-in, counted like any other.
    let long = "y".repeat(60_000);
    for _ in 0..5 {
        assert_eq!(sign_in_from(&t, &app, &long, "guess", "198.51.100.71").await, 400);
    }
    assert_eq!(sign_in_from(&t, &app, &long, "guess", "198.51.100.71").await, 429);
    t.instance.stop().await.unwrap();
}
