//! Replays of what four Mastodon apps send, in their own body shapes, checking the fields each
//! reads in the answers: Elk and Phanpy (masto.js: JSON, multipart for uploads and profiles,
//! PKCE for Phanpy), Tusky (forms, `x[]=` arrays, string booleans, a custom-scheme redirect) and
//! Ice Cubes (JSON everywhere, write parameters in the query). Sign-in, home, notifications,
//! compose with media, polls, scheduling, profile edits and the actions every app offers.

use std::io::Write;

use chrono::{DateTime, Duration, Utc};
use image::{DynamicImage, ImageBuffer, ImageFormat, Rgb};
use reqwest::header::CONTENT_TYPE;
use reqwest::{Method as M, StatusCode};
use serde_json::{Value, json};

use crate::client_api::token;
use crate::support::{Backend, Cluster, TestInstance};

const SCOPES: &str = "read write follow push";
/// A PKCE pair: the challenge is base64url(SHA-256(verifier)), worked out outside Guildhall.
const VERIFIER: &str = "phanpy-verifier-4f8a1c2e9b7d3a6f0e5c8b2a1d9f7e3c";
const CHALLENGE: &str = "BLLmoM6IUPbsihnN-HRFKHxTN8TBU_flHzwppi1aHno";

/// A loopback client that shows redirects instead of following them (to custom schemes).
fn client() -> reqwest::Client {
    reqwest::Client::builder().no_proxy().redirect(reqwest::redirect::Policy::none()).build().unwrap()
}

fn image(format: ImageFormat) -> Vec<u8> {
    let pixels = ImageBuffer::from_fn(24, 16, |x, y| Rgb([(x * 10) as u8, (y * 15) as u8, 90]));
    let mut out = std::io::Cursor::new(Vec::new());
    DynamicImage::ImageRgb8(pixels).write_to(&mut out, format).unwrap();
    out.into_inner()
}

fn id(v: &Value) -> String {
    v["id"].as_str().unwrap_or_else(|| panic!("no string id in {v}")).to_owned()
}

/// `minutes` from now, as `Date.toISOString()` writes it.
fn ahead(minutes: i64) -> String {
    (Utc::now() + Duration::minutes(minutes)).format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string()
}

/// One part of a multipart body: text, or a file with its name and type. Tusky labels its
/// text parts `multipart/form-data; charset=utf-8`.
struct Part<'a> {
    name: &'a str,
    file: Option<(&'a str, &'a str)>,
    text_type: Option<&'a str>,
    data: &'a [u8],
}

fn text<'a>(name: &'a str, value: &'a str) -> Part<'a> {
    Part { name, file: None, text_type: None, data: value.as_bytes() }
}

fn tusky_text<'a>(name: &'a str, value: &'a str) -> Part<'a> {
    Part { text_type: Some("multipart/form-data; charset=utf-8"), ..text(name, value) }
}

fn file<'a>(name: &'a str, filename: &'a str, mime: &'a str, data: &'a [u8]) -> Part<'a> {
    Part { name, file: Some((filename, mime)), text_type: None, data }
}

fn multipart(parts: &[Part]) -> (String, Vec<u8>) {
    let boundary = "replay-5f0c2e9d71";
    let mut body = Vec::new();
    for p in parts {
        write!(body, "--{boundary}\r\nContent-Disposition: form-data; name=\"{}\"", p.name).unwrap();
        match (p.file, p.text_type) {
            (Some((filename, mime)), _) => write!(body, "; filename=\"{filename}\"\r\nContent-Type: {mime}"),
            (None, Some(kind)) => write!(body, "\r\nContent-Type: {kind}"),
            (None, None) => Ok(()),
        }
        .unwrap();
        body.extend_from_slice(b"\r\n\r\n");
        body.extend_from_slice(p.data);
        body.extend_from_slice(b"\r\n");
    }
    write!(body, "--{boundary}--\r\n").unwrap();
    (format!("multipart/form-data; boundary={boundary}"), body)
}

/// A request body as an app encodes it.
enum Body<'a> {
    /// No body and no Content-Type (masto.js, Ice Cubes).
    Empty,
    Json(Value),
    /// JSON with an `Idempotency-Key` header (Phanpy, Tusky posting).
    Keyed(&'a str, Value),
    Form(&'a [(&'a str, &'a str)]),
    Multipart(&'a [Part<'a>]),
}

/// A signed-in app: where it talks and its token.
struct App {
    base: String,
    token: String,
}

impl App {
    /// Another local user, with its own token (password grant).
    async fn password(t: &TestInstance, user: &str) -> App {
        App { base: t.url(""), token: token(t, user, SCOPES).await }
    }

    async fn send(&self, method: M, path: &str, body: Body<'_>) -> reqwest::Response {
        let url = if path.starts_with("http") { path.to_owned() } else { format!("{}{path}", self.base) };
        let req = client().request(method, url).bearer_auth(&self.token);
        let req = match body {
            Body::Empty => req,
            Body::Json(v) => req.json(&v),
            Body::Keyed(key, v) => req.header("Idempotency-Key", key).json(&v),
            Body::Form(pairs) => req.form(pairs),
            Body::Multipart(parts) => {
                let (content_type, bytes) = multipart(parts);
                req.header(CONTENT_TYPE, content_type).body(bytes)
            }
        };
        req.send().await.unwrap()
    }

    /// Sends and expects 200 with a JSON body (masto.js refuses any other content type).
    async fn ok(&self, method: M, path: &str, body: Body<'_>) -> Value {
        let what = format!("{method} {path}");
        let res = self.send(method, path, body).await;
        let status = res.status();
        let kind = res.headers().get(CONTENT_TYPE).map(|v| v.to_str().unwrap().to_owned());
        let text = res.text().await.unwrap();
        assert_eq!(status, StatusCode::OK, "{what}: {text}");
        assert!(kind.is_some_and(|k| k.starts_with("application/json")), "{what}: not JSON");
        serde_json::from_str(&text).unwrap()
    }

    async fn get(&self, path: &str) -> Value {
        self.ok(M::GET, path, Body::Empty).await
    }

    async fn post(&self, path: &str) -> Value {
        self.ok(M::POST, path, Body::Empty).await
    }

    async fn json(&self, method: M, path: &str, body: Value) -> Value {
        self.ok(method, path, Body::Json(body)).await
    }

    async fn form(&self, method: M, path: &str, pairs: &[(&str, &str)]) -> Value {
        self.ok(method, path, Body::Form(pairs)).await
    }

    async fn multipart(&self, method: M, path: &str, parts: &[Part<'_>]) -> Value {
        self.ok(method, path, Body::Multipart(parts)).await
    }

    async fn own_id(&self) -> String {
        id(&self.get("/api/v1/accounts/verify_credentials").await)
    }
}

/// Checks that `v` has each field of `expected` (objects compared field by field).
#[track_caller]
fn has(v: &Value, expected: Value) {
    let Value::Object(fields) = expected else { panic!("expected an object") };
    for (key, want) in fields {
        match want {
            Value::Object(_) => has(&v[&key], want),
            want => assert_eq!(v[&key], want, "{key} in {v}"),
        }
    }
}

/// Checks that each JSON pointer of `v` passes `test` (`Value::is_string`...): the types
/// strict decoders (Moshi, Swift) need.
#[track_caller]
fn are(v: &Value, test: fn(&Value) -> bool, pointers: &[&str]) {
    for pointer in pointers {
        assert!(v.pointer(pointer).is_some_and(test), "{pointer} in {v}");
    }
}

/// An unauthenticated GET.
async fn public(t: &TestInstance, path: &str) -> Value {
    client().get(t.url(path)).send().await.unwrap().json().await.unwrap()
}

fn object(pairs: &[(&str, &str)]) -> Value {
    Value::Object(pairs.iter().map(|(k, v)| ((*k).to_owned(), json!(v))).collect())
}

/// Signs `user` in as the app `name` does: registers (JSON for Elk and Ice Cubes, which also
/// send `scope` to the token endpoint; a form for Phanpy and Tusky), signs in on the
/// authorization page (with PKCE for Phanpy, which sends the secret too), is sent to
/// `redirect` with a code and trades it for a token. Returns the app, the registration and
/// the token answers.
async fn sign_in(t: &TestInstance, user: &str, name: &str, redirect: &str) -> (App, Value, Value) {
    let (json, pkce) = (matches!(name, "Elk" | "IceCubesApp"), name == "Phanpy");
    let http = client();
    let send = |path: &str, pairs: &[(&str, &str)]| {
        let req = http.post(t.url(path));
        let req = if json { req.json(&object(pairs)) } else { req.form(pairs) };
        async move { req.send().await.unwrap().json::<Value>().await.unwrap() }
    };
    let mut register = vec![("client_name", name), ("redirect_uris", redirect), ("scopes", SCOPES)];
    register.push(("website", "https://app.example"));
    let app = send("/api/v1/apps", &register).await;
    let (client_id, secret) = (app["client_id"].as_str().unwrap(), app["client_secret"].as_str().unwrap());
    let mut query = vec![("client_id", client_id), ("redirect_uri", redirect), ("response_type", "code")];
    query.push(("scope", SCOPES));
    if pkce {
        query.extend([("code_challenge_method", "S256"), ("code_challenge", CHALLENGE)]);
    }
    let qs = url::form_urlencoded::Serializer::new(String::new()).extend_pairs(&query).finish();
    let page = http.get(t.url(&format!("/oauth/authorize?{qs}"))).send().await.unwrap();
    assert_eq!(page.status(), 200);
    let cookie = page.headers()["set-cookie"].to_str().unwrap().split(';').next().unwrap().to_owned();
    let csrf = cookie.trim_start_matches("guildhall_csrf=").to_owned();
    let mut form = query.clone();
    form.extend([("csrf_token", csrf.as_str()), ("login", user), ("password", "correct horse")]);
    let res =
        http.post(t.url("/oauth/authorize")).header("Cookie", &cookie).form(&form).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::FOUND, "{name}");
    let location = res.headers()["location"].to_str().unwrap();
    assert!(location.starts_with(redirect), "{location}");
    let back = url::Url::parse(location).unwrap();
    let code = back.query_pairs().find(|(k, _)| k == "code").unwrap().1.into_owned();
    let mut grant = vec![("grant_type", "authorization_code"), ("code", &code), ("redirect_uri", redirect)];
    grant.extend([("client_id", client_id), ("client_secret", secret)]);
    grant.extend(json.then_some(("scope", SCOPES)));
    grant.extend(pkce.then_some(("code_verifier", VERIFIER)));
    let issued = send("/oauth/token", &grant).await;
    let token = issued["access_token"].as_str().unwrap_or_else(|| panic!("{issued}")).to_owned();
    (App { base: t.url(""), token }, app, issued)
}

/// What every app reads right after signing in: the account and the v2 instance, whose
/// thumbnail must be a PNG.
async fn signed_in(app: &App, user: &str) -> (Value, Value) {
    let me = app.get("/api/v1/accounts/verify_credentials").await;
    assert_eq!(me["username"], user);
    are(&me, Value::is_string, &["/id", "/acct", "/avatar", "/source/privacy"]);
    let instance = app.get("/api/v2/instance").await;
    assert!(instance["version"].as_str().unwrap().starts_with("4.3"), "{instance}");
    assert!(instance["api_versions"]["mastodon"].as_u64().unwrap() >= 2);
    let polls = ["/max_options", "/max_characters_per_option", "/min_expiration", "/max_expiration"];
    are(&instance["configuration"]["polls"], Value::is_u64, &polls);
    let thumbnail = client().get(instance["thumbnail"]["url"].as_str().unwrap()).send().await.unwrap();
    let kind = thumbnail.headers()[CONTENT_TYPE].to_str().unwrap().to_owned();
    assert_eq!((thumbnail.status(), kind.as_str()), (StatusCode::OK, "image/png"));
    assert!(image::load_from_memory(&thumbnail.bytes().await.unwrap()).is_ok());
    (me, instance)
}

/// Two other local users and what they did to the app user.
struct Others {
    bob: App,
    bob_id: String,
    cy_id: String,
    /// Bob's post mentioning the app user.
    mention: String,
}

/// Bob and Cy (with their own tokens) like `status`; Bob also boosts it, follows its author
/// and mentions them: real notifications.
async fn others_interact(t: &TestInstance, author: &str, status: &str) -> Others {
    t.user("bob").await;
    t.user("cy").await;
    let (bob, cy) = (App::password(t, "bob").await, App::password(t, "cy").await);
    let author_id = id(&bob.get(&format!("/api/v1/accounts/lookup?acct={author}")).await);
    bob.post(&format!("/api/v1/statuses/{status}/favourite")).await;
    cy.post(&format!("/api/v1/statuses/{status}/favourite")).await;
    bob.post(&format!("/api/v1/statuses/{status}/reblog")).await;
    bob.post(&format!("/api/v1/accounts/{author_id}/follow")).await;
    let mention =
        bob.json(M::POST, "/api/v1/statuses", json!({"status": format!("@{author} seen this?")})).await;
    let (bob_id, cy_id) = (bob.own_id().await, cy.own_id().await);
    Others { bob, bob_id, cy_id, mention: id(&mention) }
}

/// An account's profile fields (values are rendered inline, without a paragraph, as Mastodon
/// renders them).
fn fields(account: &Value) -> Vec<(&str, &str)> {
    fn text<'a>(f: &'a Value, key: &str) -> &'a str {
        f[key].as_str().unwrap()
    }
    account["fields"].as_array().unwrap().iter().map(|f| (text(f, "name"), text(f, "value"))).collect()
}

/// The ids in `values` (strings), sorted.
fn ids<'a>(values: impl IntoIterator<Item = &'a Value>) -> Vec<&'a str> {
    let mut ids: Vec<&str> = values.into_iter().map(|v| v.as_str().unwrap()).collect();
    ids.sort_unstable();
    ids
}

impl Others {
    fn likers(&self) -> Vec<&str> {
        let mut both = vec![self.bob_id.as_str(), self.cy_id.as_str()];
        both.sort_unstable();
        both
    }
}

/// The v1 list as Elk and Tusky read it: every kind, with its account and status.
fn check_v1(list: &Value, status: &str, o: &Others) {
    let items = list.as_array().unwrap();
    assert!(items.iter().all(|n| n["id"].is_string() && n["created_at"].is_string()), "{list}");
    let of = |kind: &str| items.iter().filter(|n| n["type"] == kind).collect::<Vec<_>>();
    assert_eq!(ids(of("favourite").iter().map(|n| &n["account"]["id"])), o.likers());
    assert!(of("favourite").iter().chain(&of("reblog")).all(|n| n["status"]["id"] == status));
    has(of("reblog")[0], json!({"account": {"id": o.bob_id}}));
    assert_eq!((of("follow").len(), &of("follow")[0]["status"]), (1, &Value::Null));
    has(of("mention")[0], json!({"status": {"id": o.mention}}));
}

/// A grouped page as Phanpy and Ice Cubes read it: every group typed, keyed by its type,
/// with a numeric `most_recent_notification_id` and its sample accounts listed; the two likes
/// one group. Returns the likes' group.
fn check_groups(page: &Value, status: &str, o: &Others) -> Value {
    let groups = page["notification_groups"].as_array().unwrap();
    let accounts = ids(page["accounts"].as_array().unwrap().iter().map(|a| &a["id"]));
    for g in groups {
        let (kind, key) = (g["type"].as_str().unwrap(), g["group_key"].as_str().unwrap());
        assert!(key.starts_with(kind) || key.starts_with("ungrouped-"), "{g}");
        assert!(g["most_recent_notification_id"].is_u64(), "a JSON number: {g}");
        are(g, Value::is_string, &["/latest_page_notification_at", "/page_min_id", "/page_max_id"]);
        assert!(ids(g["sample_account_ids"].as_array().unwrap()).iter().all(|a| accounts.contains(a)));
    }
    let likes: Vec<&Value> = groups.iter().filter(|g| g["type"] == "favourite").collect();
    assert_eq!(likes.len(), 1, "{page}");
    has(likes[0], json!({"notifications_count": 2, "status_id": status}));
    assert_eq!(ids(likes[0]["sample_account_ids"].as_array().unwrap()), o.likers());
    assert!(groups.iter().any(|g| g["type"] == "follow" && g["sample_account_ids"] == json!([o.bob_id])));
    assert!(page["statuses"].as_array().unwrap().iter().any(|s| s["id"] == status));
    likes[0].clone()
}

/// The poll after `voter` chose `choices`, as the voter and as its author see it.
async fn check_vote(voter: &App, author: &App, poll: &str, choices: &[u64], options: usize) {
    let seen = voter.get(&format!("/api/v1/polls/{poll}")).await;
    let votes = choices.len();
    has(&seen, json!({"id": poll, "voted": true, "own_votes": choices}));
    has(&seen, json!({"votes_count": votes, "expired": false}));
    let tallies = seen["options"].as_array().unwrap();
    assert_eq!(tallies.len(), options);
    for (i, option) in (0..).zip(tallies) {
        assert!(option["title"].is_string());
        assert_eq!(option["votes_count"], u64::from(choices.contains(&i)), "{seen}");
    }
    let own = author.get(&format!("/api/v1/polls/{poll}")).await;
    has(&own, json!({"voted": false, "own_votes": [], "votes_count": votes}));
}

/// A `ScheduledStatus` (Tusky needs `params.text` and `params.visibility`); returns its id.
fn check_scheduled(s: &Value, text: &str, visibility: &str) -> String {
    assert!(s["scheduled_at"].is_string() && s["media_attachments"].is_array(), "{s}");
    has(s, json!({"params": {"text": text, "visibility": visibility}}));
    id(s)
}

/// How many statuses of the home timeline say `text`.
async fn in_home(app: &App, text: &str) -> usize {
    let home = app.get("/api/v1/timelines/home?limit=40").await;
    home.as_array().unwrap().iter().filter(|s| s["content"].as_str().unwrap().contains(text)).count()
}

/// Runs the jobs due in eleven minutes (a status scheduled ten minutes ahead).
async fn publish_due(t: &TestInstance) {
    let later = guildhall_storage::now() + Duration::minutes(11);
    t.instance.scheduler().flush_as_of(later).await.unwrap();
}

async fn mentions(app: &App) -> usize {
    let list = app.get("/api/v1/notifications?limit=30").await;
    list.as_array().unwrap().iter().filter(|n| n["type"] == "mention").count()
}

/// Mute conversation (Elk, Tusky): while the app user's thread is muted a reply mentioning
/// them notifies nothing; after unmuting, one does.
async fn check_conversation_mute(app: &App, other: &App, user: &str, status: &str) {
    let before = mentions(app).await;
    assert_eq!(app.post(&format!("/api/v1/statuses/{status}/mute")).await["muted"], true);
    let reply = json!({"status": format!("@{user} the light!"), "in_reply_to_id": status});
    other.json(M::POST, "/api/v1/statuses", reply.clone()).await;
    assert_eq!(mentions(app).await, before, "a muted conversation notifies nothing");
    assert_eq!(app.post(&format!("/api/v1/statuses/{status}/unmute")).await["muted"], false);
    other.json(M::POST, "/api/v1/statuses", reply).await;
    assert_eq!(mentions(app).await, before + 1);
}

/// Favourite, boost (the answer wraps the original: Elk reads `reblog`) and bookmark.
async fn act_on(app: &App, status: &str, reblog: Body<'_>) {
    assert_eq!(app.post(&format!("/api/v1/statuses/{status}/favourite")).await["favourited"], true);
    let boost = app.ok(M::POST, &format!("/api/v1/statuses/{status}/reblog"), reblog).await;
    has(&boost, json!({"reblog": {"id": status, "reblogged": true}}));
    assert_eq!(app.post(&format!("/api/v1/statuses/{status}/bookmark")).await["bookmarked"], true);
}

const CREDENTIALS: &str = "/api/v1/accounts/update_credentials";

#[tokio::test]
async fn elk_replay() {
    let cluster = Cluster::start(2).await;
    let [t, far] = &cluster.nodes[..] else { unreachable!() };
    t.user("ada").await;
    far.user("dan").await;
    let domain = t.instance.config().domain.to_string();
    let redirect = format!("https://elk.zone/api/{domain}/oauth/https%3A%2F%2Felk.zone");
    let (ada, _, _) = sign_in(t, "ada", "Elk", &redirect).await;
    let (_, instance) = signed_in(&ada, "ada").await;
    are(&instance, Value::is_string, &["/configuration/urls/streaming", "/domain"]);
    are(&instance, Value::is_array, &["/configuration/media_attachments/supported_mime_types"]);
    assert!(ada.get("/api/v1/preferences").await["reading:expand:spoilers"].is_boolean());

    // Compose: a v1 upload (multipart), alt text by a JSON PUT, a JSON post.
    let png = image(ImageFormat::Png);
    let media = ada.multipart(M::POST, "/api/v1/media", &[file("file", "hall.png", "image/png", &png)]).await;
    has(&media, json!({"type": "image", "description": null}));
    are(&media, Value::is_string, &["/id", "/url", "/preview_url"]);
    let media_id = id(&media);
    let alt =
        ada.json(M::PUT, &format!("/api/v1/media/{media_id}"), json!({"description": "East gallery"})).await;
    assert_eq!(alt["description"], "East gallery");
    let post = json!({"status": "New gallery", "visibility": "public", "sensitive": false, "spoiler_text": "",
        "language": "en", "media_ids": [media_id], "quote_approval_policy": "public"});
    let post = ada.json(M::POST, "/api/v1/statuses", post).await;
    assert_eq!(post["media_attachments"][0]["description"], "East gallery");
    let post_id = id(&post);
    assert_eq!(ada.get("/api/v1/timelines/home?limit=30").await[0]["id"], post_id.as_str());

    // Notifications: v1 only; the unread marker is a notification id.
    let o = others_interact(t, "ada", &post_id).await;
    let list = ada.get("/api/v1/notifications?limit=30").await;
    check_v1(&list, &post_id, &o);
    let newest = id(&list[0]);
    ada.json(M::POST, "/api/v1/markers", json!({"notifications": {"last_read_id": newest}})).await;
    let markers = ada.get("/api/v1/markers?timeline[]=notifications").await;
    has(&markers, json!({"notifications": {"last_read_id": newest}}));

    // A poll (JSON, `multiple` absent), voted with JSON integers.
    let poll = json!({"status": "Which wing?", "visibility": "public", "sensitive": false, "spoiler_text": "",
        "media_ids": [], "poll": {"options": ["East", "West"], "expires_in": 86400}});
    let poll = id(&ada.json(M::POST, "/api/v1/statuses", poll).await["poll"]);
    o.bob.json(M::POST, &format!("/api/v1/polls/{poll}/votes"), json!({"choices": [1]})).await;
    check_vote(&o.bob, &ada, &poll, &[1], 2).await;

    // Scheduled: the answer has `scheduled_at`; not on home until published, then once.
    let later = json!({"status": "Opening soon", "visibility": "unlisted", "sensitive": false,
        "spoiler_text": "", "media_ids": [], "scheduled_at": ahead(10)});
    check_scheduled(&ada.json(M::POST, "/api/v1/statuses", later).await, "Opening soon", "unlisted");
    assert_eq!(in_home(&ada, "Opening soon").await, 0);
    publish_due(t).await;
    assert_eq!(in_home(&ada, "Opening soon").await, 1);
    assert_eq!(ada.get("/api/v1/scheduled_statuses").await, json!([]));

    // Profile: multipart, only dirty fields, every field slot (blank ones too), a new avatar.
    let parts = [
        text("display_name", "Ada of the Hall"),
        text("bot", "false"),
        text("fields_attributes[0][name]", "Wing"),
        text("fields_attributes[0][value]", "East"),
        text("fields_attributes[1][name]", ""),
        text("fields_attributes[1][value]", ""),
        file("avatar", "me.png", "image/png", &png),
    ];
    let profile = ada.multipart(M::PATCH, CREDENTIALS, &parts).await;
    assert_eq!(
        (&profile["display_name"], fields(&profile)),
        (&json!("Ada of the Hall"), vec![("Wing", "East")])
    );
    assert!(!profile["avatar"].as_str().unwrap().contains("missing.png"), "{profile}");

    // Actions: note, mute conversation, favourite/boost/bookmark, relationships.
    let note = json!({"comment": "Met at the fair"});
    assert_eq!(
        ada.json(M::POST, &format!("/api/v1/accounts/{}/note", o.bob_id), note).await["note"],
        "Met at the fair"
    );
    check_conversation_mute(&ada, &o.bob, "ada", &post_id).await;
    act_on(&ada, &o.mention, Body::Empty).await;
    let rels = ada.get(&format!("/api/v1/accounts/relationships?id[]={}&id[]={}", o.bob_id, o.cy_id)).await;
    has(&rels[0], json!({"id": o.bob_id, "followed_by": true, "note": "Met at the fair"}));
    has(&rels[1], json!({"id": o.cy_id, "followed_by": false, "note": ""}));

    // Domain blocks: JSON POST, and DELETE with a JSON body; the block ends a remote follow.
    let far_domain = far.instance.config().domain.to_string();
    let found = ada.get(&format!("/api/v2/search?q=dan@{far_domain}&resolve=true&type=accounts")).await;
    let dan = id(&found["accounts"][0]);
    assert_eq!(ada.post(&format!("/api/v1/accounts/{dan}/follow")).await["id"], dan.as_str());
    cluster.flush().await;
    let rel = format!("/api/v1/accounts/relationships?id[]={dan}");
    has(&ada.get(&rel).await[0], json!({"following": true, "domain_blocking": false}));
    assert_eq!(ada.json(M::POST, "/api/v1/domain_blocks", json!({"domain": far_domain})).await, json!({}));
    assert_eq!(ada.get("/api/v1/domain_blocks").await, json!([far_domain]));
    has(&ada.get(&rel).await[0], json!({"following": false, "domain_blocking": true}));
    assert_eq!(ada.json(M::DELETE, "/api/v1/domain_blocks", json!({"domain": far_domain})).await, json!({}));
    assert_eq!(ada.get("/api/v1/domain_blocks").await, json!([]));
    assert_eq!(ada.get(&rel).await[0]["domain_blocking"], false);
    cluster.stop().await;
}

#[tokio::test]
async fn phanpy_replay() {
    let t = TestInstance::start(&Backend::Sqlite).await;
    t.user("ada").await;
    let meta = public(&t, "/.well-known/oauth-authorization-server").await;
    assert!(meta["code_challenge_methods_supported"].as_array().unwrap().contains(&json!("S256")));
    let (ada, app, _) = sign_in(&t, "ada", "Phanpy", "https://phanpy.social/").await;
    assert!(app["vapid_key"].is_string());
    ada.get("/api/v1/preferences").await;
    let (me, instance) = signed_in(&ada, "ada").await;
    are(&instance, Value::is_string, &["/domain", "/configuration/urls/streaming"]);

    // Compose: v2 upload with its alt text, masto.js polls the media until it has a url, then
    // a JSON post with an Idempotency-Key.
    let png = image(ImageFormat::Png);
    let upload = [file("file", "wing.png", "image/png", &png), text("description", "West wing")];
    let media_id = id(&ada.multipart(M::POST, "/api/v2/media", &upload).await);
    assert!(ada.get(&format!("/api/v1/media/{media_id}")).await["url"].is_string());
    let body =
        json!({"status": "West wing", "visibility": "public", "sensitive": false, "media_ids": [media_id]});
    let post = ada.ok(M::POST, "/api/v1/statuses", Body::Keyed("phanpy-1", body)).await;
    assert_eq!(post["media_attachments"][0]["description"], "West wing");
    let post_id = id(&post);

    // Home: a page, then the poll for newer posts.
    assert_eq!(ada.get("/api/v1/timelines/home?limit=20").await[0]["id"], post_id.as_str());
    assert_eq!(ada.get(&format!("/api/v1/timelines/home?limit=5&since_id={post_id}")).await, json!([]));

    // Notifications: v2 with the server's default grouping; the group's accounts; the marker
    // set from a group, read back with a scalar `timeline`; the policy echoed back whole.
    let o = others_interact(&t, "ada", &post_id).await;
    let page = ada.get("/api/v2/notifications?limit=20&exclude_types[]=follow_request").await;
    let likes = check_groups(&page, &post_id, &o);
    let key = likes["group_key"].as_str().unwrap();
    let likers = ada.get(&format!("/api/v2/notifications/{key}/accounts")).await;
    assert_eq!(ids(likers.as_array().unwrap().iter().map(|a| &a["id"])), o.likers());
    let newest = page["notification_groups"][0]["most_recent_notification_id"].to_string();
    ada.json(M::POST, "/api/v1/markers", json!({"notifications": {"last_read_id": newest}})).await;
    assert_eq!(ada.get(&format!("/api/v1/notifications?limit=1&since_id={newest}")).await, json!([]));
    let markers = ada.get("/api/v1/markers?timeline=notifications").await;
    has(&markers, json!({"notifications": {"last_read_id": newest}}));
    let mut policy = ada.get("/api/v2/notifications/policy").await;
    are(&policy, Value::is_u64, &["/summary/pending_requests_count", "/summary/pending_notifications_count"]);
    policy["for_limited_accounts"] = json!("drop");
    assert_eq!(ada.json(M::PUT, "/api/v2/notifications/policy", policy.clone()).await, policy);

    // A poll; Bob votes with JSON integers.
    let poll = json!({"status": "Lunch?", "visibility": "public",
        "poll": {"options": ["Soup", "Bread"], "expires_in": 86400, "multiple": false}});
    let poll = id(&ada.ok(M::POST, "/api/v1/statuses", Body::Keyed("phanpy-2", poll)).await["poll"]);
    o.bob.json(M::POST, &format!("/api/v1/polls/{poll}/votes"), json!({"choices": [0]})).await;
    check_vote(&o.bob, &ada, &poll, &[0], 2).await;

    // Scheduled: posted, listed (following Link next to an empty page), moved later.
    let later = json!({"status": "Night tour", "visibility": "public", "scheduled_at": ahead(10)});
    let scheduled = ada.ok(M::POST, "/api/v1/statuses", Body::Keyed("phanpy-3", later)).await;
    let scheduled_id = check_scheduled(&scheduled, "Night tour", "public");
    let res = ada.send(M::GET, "/api/v1/scheduled_statuses?limit=20", Body::Empty).await;
    let link = res.headers()["link"].to_str().unwrap().to_owned();
    let listed: Value = res.json().await.unwrap();
    assert_eq!(
        listed.as_array().unwrap().iter().map(id).collect::<Vec<_>>(),
        std::slice::from_ref(&scheduled_id)
    );
    let next = link.split(">; rel=\"next\"").next().unwrap().trim_start_matches('<');
    assert_eq!(ada.get(next).await, json!([]), "the next page ends the list: {link}");
    let moved_to = ahead(20);
    let path = format!("/api/v1/scheduled_statuses/{scheduled_id}");
    let moved = ada.json(M::PUT, &path, json!({"scheduled_at": moved_to})).await;
    let at = |v: &Value| DateTime::parse_from_rfc3339(v.as_str().unwrap()).unwrap().timestamp();
    assert!((at(&moved["scheduled_at"]) - at(&json!(moved_to))).abs() <= 1, "{moved}");
    publish_due(&t).await;
    assert_eq!(in_home(&ada, "Night tour").await, 0, "moved past the first time");
    assert_eq!(ada.get(&path).await["id"], scheduled_id.as_str());

    // Profile: the whole form, with the avatar and header inputs left empty; then the
    // default visibility from settings.
    let parts = [
        file("header", "", "application/octet-stream", b""),
        file("avatar", "", "application/octet-stream", b""),
        text("display_name", "Ada L."),
        text("fields_attributes[0][name]", "Hall"),
        text("fields_attributes[0][value]", "East"),
    ];
    let profile = ada.multipart(M::PATCH, CREDENTIALS, &parts).await;
    has(&profile, json!({"display_name": "Ada L.", "avatar": me["avatar"], "header": me["header"]}));
    assert_eq!(fields(&profile), [("Hall", "East")]);
    let settings = ada.multipart(M::PATCH, CREDENTIALS, &[text("source[privacy]", "unlisted")]).await;
    assert_eq!(settings["source"]["privacy"], "unlisted");

    // Actions: relationships, note, favourite/boost/bookmark, follow and its bell.
    let rel = format!("/api/v1/accounts/relationships?id[]={}", o.bob_id);
    has(&ada.get(&rel).await[0], json!({"followed_by": true, "following": false, "domain_blocking": false}));
    let note =
        ada.json(M::POST, &format!("/api/v1/accounts/{}/note", o.bob_id), json!({"comment": "Guide"})).await;
    assert_eq!(note["note"], "Guide");
    act_on(&ada, &o.mention, Body::Empty).await;
    let follow = format!("/api/v1/accounts/{}/follow", o.bob_id);
    assert_eq!(ada.post(&follow).await["following"], true);
    let bell = ada.json(M::POST, &follow, json!({"notify": true})).await;
    has(&bell, json!({"following": true, "notifying": true}));
    t.instance.stop().await.unwrap();
}

#[tokio::test]
async fn tusky_replay() {
    let t = TestInstance::start(&Backend::Sqlite).await;
    t.user("ada").await;
    let (ada, _, _) = sign_in(&t, "ada", "Tusky", "oauth2redirect://com.keylesspalace.tusky/").await;
    let (me, instance) = signed_in(&ada, "ada").await;
    let config = &instance["configuration"];
    let limits = ["/statuses/characters_reserved_per_url", "/media_attachments/image_size_limit"];
    are(config, Value::is_u64, &[limits[0], limits[1], "/accounts/max_profile_fields"]);
    are(config, Value::is_boolean, &["/translation/enabled"]);

    // Compose: v2 upload with alt text and focus (text parts typed as Tusky types them), the
    // media fetched until 200, PUT as a form, a JSON post carrying media_attributes, an edit.
    let png = image(ImageFormat::Png);
    let upload = [
        file("file", "IMG_0001.png", "image/png", &png),
        tusky_text("description", "Stairs"),
        tusky_text("focus", "0.0,-0.5"),
    ];
    let media = ada.multipart(M::POST, "/api/v2/media", &upload).await;
    let media_id = id(&media);
    has(&media, json!({"description": "Stairs", "meta": {"focus": {"x": 0.0, "y": -0.5}}}));
    assert_eq!(ada.send(M::GET, &format!("/api/v1/media/{media_id}"), Body::Empty).await.status(), 200);
    let alt = [("description", "The stairs"), ("focus", "0.5,0.5")];
    let described = ada.form(M::PUT, &format!("/api/v1/media/{media_id}"), &alt).await;
    has(&described, json!({"description": "The stairs", "meta": {"focus": {"x": 0.5, "y": 0.5}}}));
    let attributes = json!([{"id": media_id, "description": "The stairs", "focus": "0.5,0.5"}]);
    let new = json!({"status": "Up we go", "spoiler_text": "", "visibility": "public", "sensitive": false,
        "media_ids": [media_id], "media_attributes": attributes, "language": "en"});
    let post_id = id(&ada.ok(M::POST, "/api/v1/statuses", Body::Keyed("5d1e-01", new.clone())).await);
    let mut edit = new;
    edit["media_attributes"][0]["description"] = json!("The spiral stairs");
    let edited = ada.ok(M::PUT, &format!("/api/v1/statuses/{post_id}"), Body::Keyed("5d1e-02", edit)).await;
    assert_eq!(edited["media_attachments"][0]["description"], "The spiral stairs");
    assert_eq!(ada.get("/api/v1/timelines/home?limit=30").await[0]["id"], post_id.as_str());

    // Notifications: v1, with Tusky's filter chips; Link URLs carry max_id and min_id; the
    // marker set with a form, then nothing newer than it.
    let o = others_interact(&t, "ada", &post_id).await;
    let res = ada.send(M::GET, "/api/v1/notifications?limit=30", Body::Empty).await;
    let link = res.headers()["link"].to_str().unwrap().to_owned();
    let list: Value = res.json().await.unwrap();
    check_v1(&list, &post_id, &o);
    assert!(link.contains("max_id=") && link.contains("rel=\"prev\"") && link.contains("min_id="), "{link}");
    let chips =
        ada.get("/api/v1/notifications?limit=30&exclude_types[]=favourite&exclude_types[]=reblog").await;
    assert!(
        chips.as_array().unwrap().iter().all(|n| n["type"] == "follow" || n["type"] == "mention"),
        "{chips}"
    );
    let newest = id(&list[0]);
    ada.form(M::POST, "/api/v1/markers", &[("notifications[last_read_id]", &newest)]).await;
    let markers = ada.get("/api/v1/markers?timeline[]=notifications").await;
    has(&markers, json!({"notifications": {"last_read_id": newest}}));
    assert_eq!(ada.get(&format!("/api/v1/notifications?min_id={newest}")).await, json!([]));

    // A poll (JSON, `multiple` always sent); Bob votes with a form `choices[]`.
    let poll = json!({"status": "Which rooms?", "spoiler_text": "", "visibility": "public",
        "sensitive": false, "media_ids": [], "media_attributes": [],
        "poll": {"options": ["Maps", "Coins", "Clocks"], "expires_in": 86400, "multiple": true}});
    let poll = id(&ada.ok(M::POST, "/api/v1/statuses", Body::Keyed("5d1e-03", poll)).await["poll"]);
    let choices = [("choices[]", "0"), ("choices[]", "2")];
    o.bob.form(M::POST, &format!("/api/v1/polls/{poll}/votes"), &choices).await;
    check_vote(&o.bob, &ada, &poll, &[0, 2], 3).await;
    assert_eq!(o.bob.get(&format!("/api/v1/polls/{poll}")).await["voters_count"], 1);

    // Scheduled: posted (only `id` read), listed, deleted; never published.
    let later = json!({"status": "Closed Monday", "spoiler_text": "", "visibility": "public",
        "sensitive": false, "media_ids": [], "media_attributes": [], "scheduled_at": ahead(10)});
    let scheduled = id(&ada.ok(M::POST, "/api/v1/statuses", Body::Keyed("5d1e-04", later)).await);
    let listed = ada.get("/api/v1/scheduled_statuses?limit=20").await;
    assert_eq!(check_scheduled(&listed[0], "Closed Monday", "public"), scheduled);
    assert_eq!(in_home(&ada, "Closed Monday").await, 0);
    let gone = ada.ok(M::DELETE, &format!("/api/v1/scheduled_statuses/{scheduled}"), Body::Empty).await;
    assert_eq!((gone, ada.get("/api/v1/scheduled_statuses").await), (json!({}), json!([])));
    publish_due(&t).await;
    assert_eq!(in_home(&ada, "Closed Monday").await, 0);

    // Profile: multipart with typed text parts and an avatar named without extension; then the
    // posting defaults as a form, which a post without visibility follows.
    let parts = [
        tusky_text("display_name", "Ada (Tusky)"),
        tusky_text("locked", "true"),
        tusky_text("fields_attributes[0][name]", "Room"),
        tusky_text("fields_attributes[0][value]", "12"),
        file("avatar", "q8ZtK2mP0xWa", "image/png", &png),
    ];
    let profile = ada.multipart(M::PATCH, CREDENTIALS, &parts).await;
    has(&profile, json!({"display_name": "Ada (Tusky)", "locked": true}));
    assert_eq!(fields(&profile), [("Room", "12")]);
    assert_ne!(profile["avatar"], me["avatar"]);
    ada.form(M::PATCH, CREDENTIALS, &[("source[privacy]", "private"), ("source[sensitive]", "true")]).await;
    let me = ada.get("/api/v1/accounts/verify_credentials").await;
    has(&me, json!({"source": {"privacy": "private", "sensitive": true}}));
    assert_eq!(ada.get("/api/v1/preferences").await["posting:default:visibility"], "private");
    let quiet = json!({"status": "Default", "spoiler_text": "", "sensitive": false, "media_ids": [],
        "media_attributes": []});
    assert_eq!(
        ada.ok(M::POST, "/api/v1/statuses", Body::Keyed("5d1e-05", quiet)).await["visibility"],
        "private"
    );

    // Actions: boost as a form, mute conversation, note and follow as forms, domain blocks.
    act_on(&ada, &o.mention, Body::Form(&[("visibility", "public")])).await;
    check_conversation_mute(&ada, &o.bob, "ada", &post_id).await;
    let note =
        ada.form(M::POST, &format!("/api/v1/accounts/{}/note", o.bob_id), &[("comment", "Guide")]).await;
    assert_eq!(note["note"], "Guide");
    let follow =
        ada.form(M::POST, &format!("/api/v1/accounts/{}/follow", o.bob_id), &[("reblogs", "true")]).await;
    has(&follow, json!({"following": true, "showing_reblogs": true}));
    let rels = ada.get(&format!("/api/v1/accounts/relationships?id[]={}&id[]={}", o.bob_id, o.cy_id)).await;
    assert_eq!((&rels[0]["following"], &rels[1]["following"]), (&json!(true), &json!(false)));
    let spam = [("domain", "spam.example")];
    assert_eq!(ada.form(M::POST, "/api/v1/domain_blocks", &spam).await, json!({}));
    assert_eq!(ada.get("/api/v1/domain_blocks?limit=40").await, json!(["spam.example"]));
    assert_eq!(ada.form(M::DELETE, "/api/v1/domain_blocks", &spam).await, json!({}));
    assert_eq!(ada.get("/api/v1/domain_blocks").await, json!([]));
    t.instance.stop().await.unwrap();
}

#[tokio::test]
async fn ice_cubes_replay() {
    let t = TestInstance::start(&Backend::Sqlite).await;
    t.user("ada").await;
    are(&public(&t, "/api/v1/instance").await, Value::is_string, &["/uri", "/version"]);
    let (ada, app, issued) = sign_in(&t, "ada", "IceCubesApp", "icecubesapp://").await;
    has(&app, json!({"name": "IceCubesApp", "redirect_uri": "icecubesapp://"}));
    are(&app, Value::is_string, &["/id", "/client_id", "/client_secret"]);
    are(&issued, Value::is_string, &["/token_type", "/scope"]);
    assert!(issued["created_at"].is_i64(), "{issued}");
    let (me, instance) = signed_in(&ada, "ada").await;
    are(&me, Value::is_array, &["/source/fields"]);
    are(&me, Value::is_boolean, &["/source/sensitive", "/discoverable", "/bot", "/locked"]);
    are(&instance, Value::is_string, &["/title", "/domain", "/contact/email"]);
    are(&instance, Value::is_boolean, &["/registrations/enabled"]);
    let statuses =
        ["/configuration/statuses/max_characters", "/configuration/statuses/max_media_attachments"];
    are(&instance, Value::is_u64, &statuses);

    // Compose: a v2 upload of one part named like its field, alt text by a JSON PUT, a JSON
    // post (sorted keys, media_attributes always there); the edit moves the alt text.
    let png = image(ImageFormat::Png);
    let media = ada.multipart(M::POST, "/api/v2/media", &[file("file", "file", "image/png", &png)]).await;
    let media_id = id(&media);
    let alt = ada.json(M::PUT, &format!("/api/v1/media/{media_id}"), json!({"description": "Dome"})).await;
    assert_eq!(alt["description"], "Dome");
    let new =
        json!({"media_attributes": [], "media_ids": [media_id], "status": "Dome", "visibility": "public"});
    let post_id = id(&ada.json(M::POST, "/api/v1/statuses", new).await);
    let edit = json!({"media_attributes": [{"description": "Glass dome", "id": media_id}],
        "media_ids": [media_id], "status": "Dome", "visibility": "public"});
    let edited = ada.json(M::PUT, &format!("/api/v1/statuses/{post_id}"), edit).await;
    assert_eq!(edited["media_attachments"][0]["description"], "Glass dome");

    // Home and its marker.
    assert_eq!(ada.get("/api/v1/timelines/home?limit=50").await[0]["id"], post_id.as_str());
    let marked = ada.json(M::POST, "/api/v1/markers", json!({"home": {"last_read_id": post_id}})).await;
    has(&marked, json!({"home": {"last_read_id": post_id}}));
    are(&marked, Value::is_u64, &["/home/version"]);
    are(&marked, Value::is_string, &["/home/updated_at"]);
    let markers = ada.get("/api/v1/markers?timeline[]=home&timeline[]=notifications").await;
    has(&markers, json!({"home": {"last_read_id": post_id}}));

    // Notifications: v2, grouped as Ice Cubes asks, with full accounts; a refresh finds nothing
    // newer; marked read with the id as a string; the policy sent back whole.
    let o = others_interact(&t, "ada", &post_id).await;
    let grouped = "/api/v2/notifications?grouped_types[]=favourite&grouped_types[]=follow\
                   &grouped_types[]=reblog&expand_accounts=full";
    let page = ada.get(grouped).await;
    check_groups(&page, &post_id, &o);
    for account in page["accounts"].as_array().unwrap() {
        are(account, Value::is_string, &["/acct", "/avatar", "/display_name"]);
    }
    let newest = page["notification_groups"][0]["most_recent_notification_id"].as_u64().unwrap();
    assert_eq!(ada.get(&format!("{grouped}&since_id={newest}")).await["notification_groups"], json!([]));
    let read = json!({"notifications": {"last_read_id": newest.to_string()}});
    has(&ada.json(M::POST, "/api/v1/markers", read.clone()).await, read);
    let mut policy = ada.get("/api/v2/notifications/policy").await;
    policy["for_not_following"] = json!("accept");
    assert_eq!(ada.json(M::PUT, "/api/v2/notifications/policy", policy.clone()).await, policy);

    // A poll (JSON); Bob votes with `choices[]` in the query and no body.
    let poll = json!({"media_attributes": [], "media_ids": [], "status": "Open late?", "visibility": "public",
        "poll": {"expires_in": 86400, "multiple": false, "options": ["Yes", "No"]}});
    let poll = id(&ada.json(M::POST, "/api/v1/statuses", poll).await["poll"]);
    o.bob.post(&format!("/api/v1/polls/{poll}/votes?choices[]=0")).await;
    check_vote(&o.bob, &ada, &poll, &[0], 2).await;

    // Profile: JSON with fields_attributes keyed "0" and a source object; then the avatar alone.
    let profile = json!({"bot": false, "discoverable": true, "display_name": "Ada on ice",
        "fields_attributes": {"0": {"name": "Site", "value": "Hall 3"}}, "locked": false, "note": "Curator",
        "source": {"privacy": "unlisted", "sensitive": true}});
    let profile = ada.json(M::PATCH, CREDENTIALS, profile).await;
    has(&profile, json!({"display_name": "Ada on ice", "discoverable": true, "locked": false}));
    has(&profile, json!({"source": {"privacy": "unlisted", "sensitive": true}}));
    assert_eq!(fields(&profile), [("Site", "Hall 3")]);
    let jpeg = image(ImageFormat::Jpeg);
    let avatar = ada.multipart(M::PATCH, CREDENTIALS, &[file("avatar", "avatar", "image/jpeg", &jpeg)]).await;
    assert_ne!(avatar["avatar"], me["avatar"]);
    assert_eq!(fields(&avatar), [("Site", "Hall 3")], "the avatar alone changes nothing else");

    // Actions: follow with its options in the query, note, favourite/boost/bookmark, relationships.
    let follow = ada.post(&format!("/api/v1/accounts/{}/follow?notify=false&reblogs=true", o.bob_id)).await;
    has(&follow, json!({"following": true, "showing_reblogs": true}));
    let note =
        ada.json(M::POST, &format!("/api/v1/accounts/{}/note", o.cy_id), json!({"comment": "Donor"})).await;
    assert_eq!(note["note"], "Donor");
    act_on(&ada, &o.mention, Body::Empty).await;
    let rels = ada.get(&format!("/api/v1/accounts/relationships?id[]={}&id[]={}", o.bob_id, o.cy_id)).await;
    has(&rels[0], json!({"following": true, "followed_by": true}));
    has(&rels[1], json!({"following": false, "note": "Donor", "domain_blocking": false}));
    t.instance.stop().await.unwrap();
}
