//! A member in a browser, over plain HTTP as a browser without script speaks it: signing in and
//! out with a cookie, the CSRF token every form carries, posting, replying across instances,
//! liking, boosting, deleting, joining a group and the moderator's answer, notifications.
//! And the other side: a stranger, a stale form, another site's form, another member's token.

use std::collections::HashMap;

use reqwest::Method as M;
use reqwest::header::{COOKIE, LOCATION, ORIGIN, SET_COOKIE};
use serde_json::json;

use crate::client_api::{call, token};
use crate::support::{Cluster, TestInstance};

/// A browser without script: keeps its cookies, follows nothing by itself, sends forms.
pub struct Browser {
    base: String,
    client: reqwest::Client,
    cookies: HashMap<String, String>,
    /// The `Set-Cookie` headers of the last response.
    pub set_cookies: Vec<String>,
}

/// A response as the test reads it.
pub struct Page {
    pub status: u16,
    pub location: Option<String>,
    pub body: String,
}

impl Page {
    /// The value of the first hidden `csrf` field.
    pub fn csrf(&self) -> String {
        hidden(&self.body, "csrf").unwrap_or_else(|| panic!("no csrf field in {}", self.body))
    }
}

/// The value of the first `<input type="hidden" name="NAME" value="...">`.
pub fn hidden(html: &str, name: &str) -> Option<String> {
    let at = html.find(&format!("name=\"{name}\" value=\""))?;
    let rest = &html[at + name.len() + 15..];
    Some(rest[..rest.find('"')?].to_owned())
}

impl Browser {
    pub fn new(t: &TestInstance) -> Browser {
        let client = reqwest::Client::builder()
            .no_proxy()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap();
        Browser { base: t.url(""), client, cookies: HashMap::new(), set_cookies: Vec::new() }
    }

    async fn send(&mut self, req: reqwest::RequestBuilder) -> Page {
        let jar: Vec<String> = self.cookies.iter().map(|(k, v)| format!("{k}={v}")).collect();
        let req = if jar.is_empty() { req } else { req.header(COOKIE, jar.join("; ")) };
        let res = req.header("accept", "text/html").send().await.unwrap();
        self.set_cookies =
            res.headers().get_all(SET_COOKIE).iter().map(|v| v.to_str().unwrap().to_owned()).collect();
        for c in &self.set_cookies {
            let pair = c.split(';').next().unwrap();
            let (k, v) = pair.split_once('=').unwrap();
            let gone = v.is_empty() || c.contains("Max-Age=0") || c.contains("max-age=0");
            if gone {
                self.cookies.remove(k);
            } else {
                self.cookies.insert(k.to_owned(), v.to_owned());
            }
        }
        let status = res.status().as_u16();
        let location = res.headers().get(LOCATION).map(|v| v.to_str().unwrap().to_owned());
        Page { status, location, body: res.text().await.unwrap() }
    }

    pub async fn get(&mut self, path: &str) -> Page {
        let req = self.client.get(format!("{}{path}", self.base));
        self.send(req).await
    }

    /// Posts a form from one of our own pages.
    pub async fn post(&mut self, path: &str, fields: &[(&str, &str)]) -> Page {
        let origin = self.base.trim_end_matches('/').to_owned();
        self.post_from(&origin, path, fields).await
    }

    /// Posts a form as a page on `origin` would.
    pub async fn post_from(&mut self, origin: &str, path: &str, fields: &[(&str, &str)]) -> Page {
        let req = self.client.post(format!("{}{path}", self.base)).header(ORIGIN, origin).form(fields);
        self.send(req).await
    }

    /// Signs in through the form; panics unless it succeeds.
    pub async fn sign_in(&mut self, login: &str, remember: bool) {
        let form = self.get("/auth/sign_in?next=/home").await;
        assert_eq!(form.status, 200, "{}", form.body);
        let csrf = form.csrf();
        let mut fields =
            vec![("csrf", csrf.as_str()), ("login", login), ("password", "correct horse"), ("next", "/home")];
        if remember {
            fields.push(("remember", "1"));
        }
        let done = self.post("/auth/sign_in", &fields).await;
        assert_eq!((done.status, done.location.as_deref()), (303, Some("/home")), "{}", done.body);
    }

    pub fn has_cookie(&self, name: &str) -> bool {
        self.cookies.contains_key(name)
    }
}

#[tokio::test]
async fn signing_in_posting_and_signing_out_with_a_cookie_session() {
    let t = TestInstance::start(&crate::support::Backend::Sqlite).await;
    t.user("ada").await;
    let mut b = Browser::new(&t);

    // A page that needs a session sends a stranger to sign in, and back afterwards.
    let home = b.get("/home").await;
    assert_eq!((home.status, home.location.as_deref()), (303, Some("/auth/sign_in?next=%2Fhome")));

    // A wrong password: 422, the form again with the login kept, no session.
    let form = b.get("/auth/sign_in").await;
    let csrf = form.csrf();
    let wrong =
        b.post("/auth/sign_in", &[("csrf", &csrf), ("login", "ada"), ("password", "nope nope")]).await;
    assert_eq!(wrong.status, 422, "{}", wrong.body);
    assert!(
        wrong.body.contains("Wrong e-mail address, username or password")
            && wrong.body.contains("value=\"ada\"")
    );
    assert!(!b.has_cookie("guildhall_session"));
    // A sign-in form without its own cookie's token (a cross-site post): refused.
    let forged =
        b.post("/auth/sign_in", &[("csrf", "forged"), ("login", "ada"), ("password", "correct horse")]).await;
    assert_eq!(forged.status, 403);
    assert!(!b.has_cookie("guildhall_session"));

    b.sign_in("ada@museum.example", false).await;
    let session = b.set_cookies.iter().find(|c| c.starts_with("guildhall_session=")).unwrap().clone();
    assert!(
        session.contains("HttpOnly") && session.contains("SameSite=Lax") && session.contains("Path=/"),
        "{session}"
    );
    assert!(!session.contains("Max-Age"), "without remember-me the cookie ends with the browser: {session}");

    // Posting from the home page's form.
    let home = b.get("/home").await;
    assert_eq!(home.status, 200, "{}", home.body);
    assert!(home.body.contains("What do you want to say?") && home.body.contains("@ada"));
    let csrf = home.csrf();
    let posted = b
        .post(
            "/statuses",
            &[
                ("csrf", &csrf),
                ("status", "Hello from the <web>"),
                ("visibility", "public"),
                ("spoiler_text", ""),
            ],
        )
        .await;
    assert_eq!((posted.status, posted.location.as_deref()), (303, Some("/home")), "{}", posted.body);
    let home = b.get("/home").await;
    assert!(home.body.contains("Hello from the &lt;web&gt;"), "{}", home.body);
    let ada = token(&t, "ada", "read").await;
    let (_, statuses) = call(M::GET, &t, "/api/v1/timelines/home", Some(&ada), None).await;
    assert_eq!(statuses[0]["content"], "<p>Hello from the &lt;web&gt;</p>", "the same post the API shows");

    // A form without the token, with a wrong one, or from another site: refused, nothing made.
    for fields in [
        vec![("status", "no token"), ("visibility", "public")],
        vec![("csrf", "wrong"), ("status", "bad token"), ("visibility", "public")],
    ] {
        let refused = b.post("/statuses", &fields).await;
        assert!(matches!(refused.status, 403 | 422), "{} {}", refused.status, refused.body);
    }
    let cross = b
        .post_from(
            "http://evil.localhost",
            "/statuses",
            &[("csrf", &csrf), ("status", "cross"), ("visibility", "public")],
        )
        .await;
    assert_eq!(cross.status, 403);
    // A field that is wrong is named.
    let bad = b.post("/statuses", &[("csrf", &csrf), ("status", "x"), ("visibility", "everyone")]).await;
    assert_eq!(bad.status, 422);
    assert!(bad.body.contains("visibility"), "{}", bad.body);
    let empty = b.post("/statuses", &[("csrf", &csrf), ("status", "  "), ("visibility", "public")]).await;
    assert_eq!(empty.status, 422);
    let (_, statuses) = call(M::GET, &t, "/api/v1/accounts/lookup?acct=ada", None, None).await;
    assert_eq!(statuses["statuses_count"], 1, "only the one good post was made");

    // Signing out ends the session on the server, not just in this browser.
    let cookie_value = session.split(';').next().unwrap().to_owned();
    let out = b.post("/auth/sign_out", &[("csrf", &csrf)]).await;
    assert_eq!((out.status, out.location.as_deref()), (303, Some("/")));
    assert!(!b.has_cookie("guildhall_session"));
    let replay = reqwest::Client::builder()
        .no_proxy()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
        .get(t.url("/home"))
        .header(COOKIE, cookie_value)
        .send()
        .await
        .unwrap();
    assert_eq!(replay.status().as_u16(), 303, "the old cookie signs no one in");
}

#[tokio::test]
async fn remember_me_the_session_list_and_revoking_a_session() {
    let t = TestInstance::start(&crate::support::Backend::Sqlite).await;
    t.user("ada").await;
    let mut laptop = Browser::new(&t);
    laptop.sign_in("ada", true).await;
    let session = laptop.set_cookies.iter().find(|c| c.starts_with("guildhall_session=")).unwrap().clone();
    assert!(session.contains("Max-Age=2592000"), "remembered for 30 days: {session}");
    let mut phone = Browser::new(&t);
    phone.sign_in("ada", false).await;

    let list = laptop.get("/settings/sessions").await;
    assert_eq!(list.status, 200, "{}", list.body);
    assert_eq!(list.body.matches("class=\"session\"").count(), 2, "{}", list.body);
    assert!(list.body.contains("This browser"));
    // The laptop ends the phone's session.
    let csrf = list.csrf();
    let other = list
        .body
        .split("<li class=\"session\">")
        .skip(1)
        .find(|row| !row.contains("This browser"))
        .and_then(|row| row.split("action=\"/settings/sessions/").nth(1))
        .map(|r| r[..r.find('/').unwrap()].to_owned())
        .unwrap();
    assert_eq!(phone.get("/home").await.status, 200);
    // Nobody else's session can be ended from here.
    let mut stranger = Browser::new(&t);
    t.user("eve").await;
    stranger.sign_in("eve", false).await;
    let eve_csrf = stranger.get("/settings/sessions").await.csrf();
    let refused = stranger.post(&format!("/settings/sessions/{other}/revoke"), &[("csrf", &eve_csrf)]).await;
    assert_eq!(refused.status, 404);
    assert_eq!(phone.get("/home").await.status, 200);
    let done = laptop.post(&format!("/settings/sessions/{other}/revoke"), &[("csrf", &csrf)]).await;
    assert_eq!(done.status, 303);
    assert_eq!(phone.get("/home").await.status, 303, "the phone is signed out");
    assert_eq!(laptop.get("/home").await.status, 200, "this browser's own session stays");
}

#[tokio::test]
async fn a_member_joins_a_group_on_approval_replies_across_instances_likes_boosts_and_deletes() {
    let cluster = Cluster::start(2).await;
    let [a, b] = &cluster.nodes[..] else { unreachable!() };
    let ada_actor = a.user("ada").await;
    a.user("mod").await;
    b.user("bob").await;
    let moderator = token(a, "mod", "read write follow").await;
    let guild = json!({"name": "mcg", "display_name": "Museum Computer Group", "membership": "approval"});
    let (s, _) = call(M::POST, a, "/api/guildhall/v1/groups", Some(&moderator), Some(guild)).await;
    assert_eq!(s, 200);

    // ada asks to join from the group's page; the moderator approves in the browser.
    let mut ada = Browser::new(a);
    ada.sign_in("ada", false).await;
    let group = ada.get("/@mcg").await;
    assert!(group.body.contains("Ask to join"), "{}", group.body);
    let asked = ada.post("/@mcg/follow", &[("csrf", &group.csrf())]).await;
    assert_eq!(asked.status, 303, "{}", asked.body);
    assert!(ada.get("/@mcg").await.body.contains("You asked to join"));

    let mut moder = Browser::new(a);
    moder.sign_in("mod", false).await;
    let queue = moder.get("/@mcg/moderation").await;
    assert_eq!(queue.status, 200, "{}", queue.body);
    assert!(queue.body.contains("@ada@"), "the request is listed: {}", queue.body);
    let ada_id = ada_actor.id;
    let approved =
        moder.post(&format!("/@mcg/moderation/requests/{ada_id}/approve"), &[("csrf", &queue.csrf())]).await;
    assert_eq!(approved.status, 303, "{}", approved.body);
    assert!(ada.get("/@mcg").await.body.contains("You are a member"));

    // ada posts in the group (a mention of it), bob replies from the other instance.
    let home = ada.get("/home").await;
    let csrf = home.csrf();
    let posted = ada
        .post(
            "/statuses",
            &[("csrf", &csrf), ("status", "@mcg Who has the 1851 ledgers?"), ("visibility", "public")],
        )
        .await;
    assert_eq!(posted.status, 303);
    cluster.flush().await;
    let (_, mine) = call(M::GET, a, "/api/v1/accounts/lookup?acct=ada", None, None).await;
    let ada_token = token(a, "ada", "read").await;
    let (_, list) = call(
        M::GET,
        a,
        &format!("/api/v1/accounts/{}/statuses", mine["id"].as_str().unwrap()),
        Some(&ada_token),
        None,
    )
    .await;
    let post_url = list[0]["uri"].as_str().unwrap().to_owned();
    let post_id = list[0]["id"].as_str().unwrap().to_owned();
    let mut bob_browser = Browser::new(b);
    bob_browser.sign_in("bob", false).await;
    let found = guildhall_federation::actions::resolve_status(&b.fed(), &post_url).await.unwrap();
    let thread = bob_browser.get(&format!("/statuses/{}", found.id)).await;
    assert_eq!(thread.status, 200, "{}", thread.body);
    assert!(thread.body.contains("Who has the 1851 ledgers?") && thread.body.contains("id=\"reply\""));
    let reply_text = hidden_textarea(&thread.body);
    assert!(reply_text.starts_with("@ada@"), "the reply starts with the author's handle: {reply_text}");
    let replied = bob_browser
        .post(
            "/statuses",
            &[
                ("csrf", &thread.csrf()),
                ("status", &format!("{reply_text}We have them")),
                ("visibility", "public"),
                ("in_reply_to_id", &found.id.to_string()),
            ],
        )
        .await;
    assert_eq!(replied.status, 303, "{}", replied.body);
    cluster.flush().await;
    let page = ada.get(&format!("/statuses/{post_id}")).await;
    let page = ada.get(page.location.as_deref().unwrap_or("/")).await;
    assert!(page.body.contains("We have them"), "bob's reply reached ada's thread: {}", page.body);

    // Like and boost from the thread page; the API agrees; then undo.
    let csrf = page.csrf();
    for action in ["favourite", "reblog"] {
        let done = ada.post(&format!("/statuses/{post_id}/{action}"), &[("csrf", &csrf)]).await;
        assert_eq!(done.status, 303, "{action}: {}", done.body);
    }
    let (_, seen) = call(M::GET, a, &format!("/api/v1/statuses/{post_id}"), Some(&ada_token), None).await;
    assert_eq!(
        (seen["favourited"].as_bool(), seen["reblogged"].as_bool()),
        (Some(true), Some(true)),
        "{seen}"
    );
    let page = ada.get(&format!("/statuses/{post_id}")).await;
    let page = ada.get(page.location.as_deref().unwrap_or("/")).await;
    assert!(
        page.body.contains("aria-pressed=\"true\">Liked")
            && page.body.contains("aria-pressed=\"true\">Boosted")
    );
    ada.post(&format!("/statuses/{post_id}/unfavourite"), &[("csrf", &csrf)]).await;
    let (_, seen) = call(M::GET, a, &format!("/api/v1/statuses/{post_id}"), Some(&ada_token), None).await;
    assert_eq!(seen["favourited"].as_bool(), Some(false));

    // ada's notifications name bob's reply.
    let notes = ada.get("/notifications").await;
    assert_eq!(notes.status, 200);
    assert!(notes.body.contains("mentioned you") && notes.body.contains("We have them"), "{}", notes.body);

    // Nobody deletes someone else's post; the author does.
    let mut mallory = Browser::new(a);
    a.user("mallory").await;
    mallory.sign_in("mallory", false).await;
    let home = mallory.get("/home").await;
    let refused = mallory.post(&format!("/statuses/{post_id}/delete"), &[("csrf", &home.csrf())]).await;
    assert_eq!(refused.status, 403);
    // Another member's CSRF token is no use in this session.
    let refused = mallory.post(&format!("/statuses/{post_id}/favourite"), &[("csrf", &csrf)]).await;
    assert_eq!(refused.status, 403);
    let deleted = ada.post(&format!("/statuses/{post_id}/delete"), &[("csrf", &csrf)]).await;
    assert_eq!(deleted.status, 303);
    let (s, _) = call(M::GET, a, &format!("/api/v1/statuses/{post_id}"), Some(&ada_token), None).await;
    assert_eq!(s, 404);
}

/// The text a reply form starts with.
fn hidden_textarea(html: &str) -> String {
    let at = html.find("name=\"status\"").unwrap();
    let rest = &html[at..];
    let start = rest.find('>').unwrap() + 1;
    let end = rest.find("</textarea>").unwrap();
    rest[start..end].replace("&#64;", "@")
}

#[tokio::test]
async fn following_from_another_server_through_its_own_page() {
    let cluster = Cluster::start(2).await;
    let [a, b] = &cluster.nodes[..] else { unreachable!() };
    let ada = a.user("ada").await;
    b.user("bob").await;
    // A stranger on ada's page gives a handle on b: off to b's confirmation page.
    let mut visitor = Browser::new(a);
    let profile = visitor.get("/@ada").await;
    assert!(profile.body.contains("action=\"/remote_follow\""), "{}", profile.body);
    let handle = b.handle("bob");
    let sent =
        visitor.post("/remote_follow", &[("uri", &ada.ap_id), ("handle", &format!("@{handle}"))]).await;
    assert_eq!(sent.status, 303);
    let to = sent.location.unwrap();
    let path = to.strip_prefix(&b.url("")).unwrap_or_else(|| panic!("to b: {to}")).to_owned();
    assert!(path.starts_with("/authorize_interaction?uri="), "{path}");
    // Only our own accounts, and a handle that names a server.
    let other =
        visitor.post("/remote_follow", &[("uri", "https://evil.example/u"), ("handle", &handle)]).await;
    assert_eq!(other.status, 422);
    let cross = visitor
        .post_from("http://evil.localhost", "/remote_follow", &[("uri", &ada.ap_id), ("handle", &handle)])
        .await;
    assert_eq!(cross.status, 403, "not a redirector for other sites");
    let bad = visitor.post("/remote_follow", &[("uri", &ada.ap_id), ("handle", "bob")]).await;
    assert_eq!(bad.status, 422);
    assert!(bad.body.contains("handle"), "{}", bad.body);

    // bob, signed in at b, confirms with the button (a link alone follows no one).
    let mut bob = Browser::new(b);
    let page = bob.get(&path).await;
    assert_eq!(page.status, 303, "signed out: to sign in first");
    bob.sign_in("bob", false).await;
    let page = bob.get(&path).await;
    assert_eq!(page.status, 200, "{}", page.body);
    // b does not know ada yet: the page fetches nothing and names what the button will follow.
    assert!(page.body.contains("look up and follow") && page.body.contains(&ada.ap_id), "{}", page.body);
    assert!(
        b.instance
            .db()
            .run({
                let id = ada.ap_id.clone();
                move |c| guildhall_storage::actors::find_by_ap_id(c, &id)
            })
            .await
            .unwrap()
            .is_none()
    );
    let done = bob.post("/authorize_interaction", &[("csrf", &page.csrf()), ("uri", &ada.ap_id)]).await;
    assert_eq!((done.status, done.location.as_deref()), (303, Some("/home")), "{}", done.body);
    cluster.flush().await;
    let (_, followers) = call(M::GET, a, &format!("/api/v1/accounts/{}/followers", ada.id), None, None).await;
    assert_eq!(followers.as_array().map(Vec::len), Some(1), "{followers}");
    // A forged confirmation (no CSRF token) follows no one.
    let forged = bob.post("/authorize_interaction", &[("uri", &ada.ap_id)]).await;
    assert_eq!(forged.status, 403);
}

#[tokio::test]
async fn a_members_only_groups_threads_show_to_its_members_alone() {
    let t = TestInstance::start(&crate::support::Backend::Sqlite).await;
    t.user("mod").await;
    t.user("ada").await;
    t.user("eve").await;
    let moderator = token(&t, "mod", "read write follow").await;
    let circle = json!({"name": "circle", "display_name": "Quiet Circle", "visibility": "members", "membership": "open"});
    call(M::POST, &t, "/api/guildhall/v1/groups", Some(&moderator), Some(circle)).await;
    let mut ada = Browser::new(&t);
    ada.sign_in("ada", false).await;
    let page = ada.get("/@circle").await;
    assert!(page.body.contains("Join the group"));
    ada.post("/@circle/follow", &[("csrf", &page.csrf())]).await;
    let csrf = ada.get("/home").await.csrf();
    let posted = ada
        .post(
            "/statuses",
            &[("csrf", &csrf), ("status", "@circle Only for the circle"), ("visibility", "private")],
        )
        .await;
    assert_eq!(posted.status, 303);

    // The moderator is not offered to join their own group, and sees the thread.
    let mut moder = Browser::new(&t);
    moder.sign_in("mod", false).await;
    let page = moder.get("/@circle").await;
    assert!(
        page.body.contains("You moderate this group") && !page.body.contains("Ask to join"),
        "{}",
        page.body
    );
    assert!(page.body.contains("Only for the circle"), "{}", page.body);
    assert!(page.body.contains("Remove from the group"), "moderation controls on the group page");
    // A member sees it with buttons; a signed-in non-member and a stranger do not see it.
    let page = ada.get("/@circle").await;
    assert!(
        page.body.contains("Only for the circle") && page.body.contains(">Like</button>"),
        "{}",
        page.body
    );
    let mut eve = Browser::new(&t);
    eve.sign_in("eve", false).await;
    for body in [eve.get("/@circle").await.body, Browser::new(&t).get("/@circle").await.body] {
        assert!(
            !body.contains("Only for the circle") && body.contains("keeps its posts to its members"),
            "{body}"
        );
    }
}

impl Browser {
    /// Posts a `multipart/form-data` form with one file field `file_field`.
    pub async fn post_multipart(
        &mut self,
        path: &str,
        fields: &[(&str, &str)],
        file_field: &str,
        file: &[u8],
    ) -> Page {
        let boundary = "----guildhallboundary7MA4YWxkTrZu0gW";
        let mut body = Vec::new();
        for (k, v) in fields {
            body.extend_from_slice(
                format!("--{boundary}\r\nContent-Disposition: form-data; name=\"{k}\"\r\n\r\n{v}\r\n")
                    .as_bytes(),
            );
        }
        body.extend_from_slice(
            format!("--{boundary}\r\nContent-Disposition: form-data; name=\"{file_field}\"; filename=\"ledger.png\"\r\nContent-Type: image/png\r\n\r\n").as_bytes(),
        );
        body.extend_from_slice(file);
        body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
        let origin = self.base.trim_end_matches('/').to_owned();
        let req = self
            .client
            .post(format!("{}{path}", self.base))
            .header(ORIGIN, origin)
            .header("content-type", format!("multipart/form-data; boundary={boundary}"))
            .body(body);
        self.send(req).await
    }
}

#[tokio::test]
async fn posting_an_image_with_alt_text_from_the_web() {
    let t = TestInstance::start(&crate::support::Backend::Sqlite).await;
    t.user("ada").await;
    let mut b = Browser::new(&t);
    b.sign_in("ada", false).await;
    let home = b.get("/home").await;
    assert!(
        home.body.contains("enctype=\"multipart/form-data\"") && home.body.contains("name=\"image_alt\"")
    );
    let csrf = home.csrf();
    let image = crate::media::png(64, 48);
    let fields = [
        ("csrf", csrf.as_str()),
        ("status", "The 1851 ledger"),
        ("visibility", "public"),
        ("image_alt", "A ledger page with <ink> entries"),
        ("in_reply_to_id", ""),
    ];
    let posted = b.post_multipart("/statuses", &fields, "image", &image).await;
    assert_eq!(posted.status, 303, "{}", posted.body);
    let ada = token(&t, "ada", "read").await;
    let (_, statuses) = call(M::GET, &t, "/api/v1/timelines/home", Some(&ada), None).await;
    let media = &statuses[0]["media_attachments"][0];
    assert_eq!(media["description"], "A ledger page with <ink> entries", "{statuses}");
    assert_eq!(media["meta"]["original"]["width"], 64);
    let page = b.get("/home").await;
    assert!(page.body.contains("alt=\"A ledger page with &#60;ink&#62; entries\""), "{}", page.body);
    // Not an image: 422 naming the field, and no post.
    let bad = b.post_multipart("/statuses", &fields, "image", b"not an image at all").await;
    assert_eq!(bad.status, 422);
    assert!(bad.body.contains("image"), "{}", bad.body);
    // Without a session, nothing is stored.
    let mut stranger = Browser::new(&t);
    let refused = stranger.post_multipart("/statuses", &fields, "image", &image).await;
    assert_eq!(refused.status, 303);
    let (_, statuses) = call(M::GET, &t, "/api/v1/timelines/home", Some(&ada), None).await;
    assert_eq!(statuses.as_array().map(Vec::len), Some(1));
}

#[tokio::test]
async fn editing_ones_own_post_and_nobody_elses() {
    let t = TestInstance::start(&crate::support::Backend::Sqlite).await;
    let ada = t.user("ada").await;
    t.user("eve").await;
    let mut b = Browser::new(&t);
    b.sign_in("ada", false).await;
    let csrf = b.get("/home").await.csrf();
    b.post("/statuses", &[("csrf", &csrf), ("status", "The ledgr is in #archive"), ("visibility", "public")])
        .await;
    let read = token(&t, "ada", "read").await;
    let (_, list) =
        call(M::GET, &t, &format!("/api/v1/accounts/{}/statuses", ada.id), Some(&read), None).await;
    let id = list[0]["id"].as_str().unwrap().to_owned();
    let form = b.get(&format!("/statuses/{id}/edit")).await;
    assert_eq!(form.status, 200);
    assert!(form.body.contains(">The ledgr is in #archive</textarea>"), "the text as typed: {}", form.body);
    let saved = b
        .post(
            &format!("/statuses/{id}/edit"),
            &[("csrf", &csrf), ("status", "The ledger is in #archive"), ("spoiler_text", "")],
        )
        .await;
    assert_eq!(saved.status, 303, "{}", saved.body);
    let (_, seen) = call(M::GET, &t, &format!("/api/v1/statuses/{id}"), Some(&read), None).await;
    assert!(seen["content"].as_str().unwrap().contains("The ledger is in"), "{seen}");
    assert!(seen["edited_at"].is_string());
    let page = b.get(&format!("/@ada/{id}")).await;
    assert!(page.body.contains("(edited)"));
    let empty = b.post(&format!("/statuses/{id}/edit"), &[("csrf", &csrf), ("status", " ")]).await;
    assert_eq!(empty.status, 422);

    let mut eve = Browser::new(&t);
    eve.sign_in("eve", false).await;
    let eve_csrf = eve.get("/home").await.csrf();
    assert_eq!(eve.get(&format!("/statuses/{id}/edit")).await.status, 404);
    let refused =
        eve.post(&format!("/statuses/{id}/edit"), &[("csrf", &eve_csrf), ("status", "hijacked")]).await;
    assert_eq!(refused.status, 404);
    let (_, seen) = call(M::GET, &t, &format!("/api/v1/statuses/{id}"), Some(&read), None).await;
    assert!(!seen["content"].as_str().unwrap().contains("hijacked"));
}

#[tokio::test]
async fn a_member_exports_who_they_follow_and_their_posts() {
    let cluster = Cluster::start(2).await;
    let [a, b] = &cluster.nodes[..] else { unreachable!() };
    let ada = a.user("ada").await;
    a.user("cy").await;
    b.user("bob").await;
    let bob_at_a = guildhall_federation::actions::resolve_actor(&a.fed(), &b.handle("bob")).await.unwrap();
    guildhall_federation::actions::follow(&a.fed(), &ada, &bob_at_a).await.unwrap();
    cluster.flush().await;
    let mut br = Browser::new(a);
    br.sign_in("ada", false).await;
    let csrf = br.get("/home").await.csrf();
    br.post("/statuses", &[("csrf", &csrf), ("status", "Mine, public"), ("visibility", "public")]).await;
    br.post("/statuses", &[("csrf", &csrf), ("status", "Mine, followers only"), ("visibility", "private")])
        .await;
    let csv = br.get("/settings/export/following.csv").await;
    assert_eq!(csv.status, 200);
    assert_eq!(
        csv.body,
        format!(
            "Account address,Show boosts,Notify on new posts,Languages\n{},true,false,\n",
            b.handle("bob")
        )
    );
    let outbox = br.get("/settings/export/outbox.json").await;
    let doc: serde_json::Value = serde_json::from_str(&outbox.body).unwrap();
    assert_eq!(doc["type"], "OrderedCollection");
    assert_eq!(doc["totalItems"], 2, "both posts, the private one too: {doc}");
    assert!(doc.to_string().contains("Mine, followers only"));
    // Only one's own: a stranger is sent to sign in, another member gets their own.
    assert_eq!(Browser::new(a).get("/settings/export/outbox.json").await.status, 303);
    let mut cy = Browser::new(a);
    cy.sign_in("cy", false).await;
    let theirs: serde_json::Value =
        serde_json::from_str(&cy.get("/settings/export/outbox.json").await.body).unwrap();
    assert_eq!(theirs["totalItems"], 0);
}

#[tokio::test]
async fn a_member_holds_back_strangers_notifications_and_lets_one_through() {
    let t = TestInstance::start(&crate::support::Backend::Sqlite).await;
    t.user("ada").await;
    t.user("eve").await;
    let mut b = Browser::new(&t);
    b.sign_in("ada", false).await;
    let page = b.get("/notifications/requests").await;
    assert_eq!(page.status, 200);
    let csrf = page.csrf();
    let bad = b
        .post(
            "/notifications/policy",
            &[
                ("csrf", &csrf),
                ("for_not_following", "maybe"),
                ("for_not_followers", "accept"),
                ("for_new_accounts", "accept"),
                ("for_private_mentions", "accept"),
            ],
        )
        .await;
    assert_eq!(bad.status, 422);
    assert!(bad.body.contains("for_not_following"), "{}", bad.body);
    let saved = b
        .post(
            "/notifications/policy",
            &[
                ("csrf", &csrf),
                ("for_not_following", "filter"),
                ("for_not_followers", "accept"),
                ("for_new_accounts", "accept"),
                ("for_private_mentions", "accept"),
            ],
        )
        .await;
    assert_eq!(saved.status, 303);
    // eve, whom ada does not follow, mentions her: held back, not shown.
    let eve = token(&t, "eve", "read write").await;
    call(M::POST, &t, "/api/v1/statuses", Some(&eve), Some(json!({"status": "@ada buy my course"}))).await;
    assert!(!b.get("/notifications").await.body.contains("buy my course"));
    let page = b.get("/notifications/requests").await;
    assert!(page.body.contains("buy my course") && page.body.contains("1 notification"), "{}", page.body);
    let eve_id = {
        let at = page.body.find("/notifications/requests/").unwrap() + "/notifications/requests/".len();
        page.body[at..at + page.body[at..].find('/').unwrap()].to_owned()
    };
    assert_eq!(
        b.post(&format!("/notifications/requests/{eve_id}/accept"), &[("csrf", &csrf)]).await.status,
        303
    );
    assert!(b.get("/notifications").await.body.contains("buy my course"), "accepted: shown");
    assert_eq!(
        b.post(&format!("/notifications/requests/{eve_id}/accept"), &[("csrf", &csrf)]).await.status,
        404
    );
}

#[tokio::test]
async fn an_invitation_is_accepted_on_the_groups_page() {
    let t = TestInstance::start(&crate::support::Backend::Sqlite).await;
    t.user("mod").await;
    t.user("ada").await;
    t.user("eve").await;
    let moderator = token(&t, "mod", "read write follow").await;
    let guild = json!({"name": "board", "display_name": "Trustees", "membership": "invite"});
    call(M::POST, &t, "/api/guildhall/v1/groups", Some(&moderator), Some(guild)).await;
    let mut moder = Browser::new(&t);
    moder.sign_in("mod", false).await;
    let page = moder.get("/@board/moderation").await;
    let invited =
        moder.post("/@board/moderation/invitations", &[("csrf", &page.csrf()), ("handle", "ada")]).await;
    assert_eq!(invited.status, 303, "{}", invited.body);
    let mut eve = Browser::new(&t);
    eve.sign_in("eve", false).await;
    let page = eve.get("/@board").await;
    assert!(
        page.body.contains("Only those a moderator invites") && !page.body.contains("Ask to join"),
        "{}",
        page.body
    );
    let mut ada = Browser::new(&t);
    ada.sign_in("ada", false).await;
    let page = ada.get("/@board").await;
    assert!(page.body.contains("You are invited"), "{}", page.body);
    assert_eq!(ada.post("/@board/follow", &[("csrf", &page.csrf())]).await.status, 303);
    assert!(ada.get("/@board").await.body.contains("You are a member"));
    // Removed, the invitation is used up: ada cannot walk back in.
    let queue = moder.get("/@board/moderation").await;
    let ada_id = {
        let at = queue.body.find("/moderation/members/").unwrap() + "/moderation/members/".len();
        queue.body[at..at + queue.body[at..].find('/').unwrap()].to_owned()
    };
    let removed =
        moder.post(&format!("/@board/moderation/members/{ada_id}/remove"), &[("csrf", &queue.csrf())]).await;
    assert_eq!(removed.status, 303, "{}", removed.body);
    let page = ada.get("/@board").await;
    assert!(
        !page.body.contains("You are invited") && page.body.contains("Only those a moderator invites"),
        "{}",
        page.body
    );
    ada.post("/@board/follow", &[("csrf", &page.csrf())]).await;
    assert!(!ada.get("/@board").await.body.contains("You are a member"));
}

#[tokio::test]
async fn parallel_password_guesses_are_counted_before_they_are_checked() {
    let t = TestInstance::start(&crate::support::Backend::Sqlite).await;
    t.user("ada").await;
    let mut b = Browser::new(&t);
    let form = b.get("/auth/sign_in").await;
    let csrf = form.csrf();
    let cookie = b
        .set_cookies
        .iter()
        .find(|c| c.starts_with("guildhall_sign_in="))
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_owned();
    let client =
        reqwest::Client::builder().no_proxy().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    let guesses: Vec<_> = (0..20)
        .map(|i| {
            let (client, url, cookie, csrf) =
                (client.clone(), t.url("/auth/sign_in"), cookie.clone(), csrf.clone());
            tokio::spawn(async move {
                let guess = format!("guess number {i}");
                let fields = [("csrf", csrf.as_str()), ("login", "ada"), ("password", guess.as_str())];
                client.post(url).header(COOKIE, cookie).form(&fields).send().await.unwrap().status().as_u16()
            })
        })
        .collect();
    let mut answers = Vec::new();
    for g in guesses {
        answers.push(g.await.unwrap());
    }
    let checked = answers.iter().filter(|s| **s == 422).count();
    assert!(checked <= 5, "at most five guesses reach the password check: {answers:?}");
    assert_eq!(answers.iter().filter(|s| **s == 429).count(), 20 - checked, "{answers:?}");
}

#[tokio::test]
async fn a_new_avatar_and_header_from_the_settings_page() {
    let t = TestInstance::start(&crate::support::Backend::Sqlite).await;
    t.user("ada").await;
    let mut b = Browser::new(&t);
    b.sign_in("ada", false).await;
    let page = b.get("/settings").await;
    assert!(page.body.contains("name=\"avatar\"") && page.body.contains("enctype=\"multipart/form-data\""));
    let fields = [
        ("csrf", page.csrf()),
        ("display_name", "Ada L.".to_owned()),
        ("bio", "Registrar".to_owned()),
        ("visibility", "public".to_owned()),
    ];
    let fields: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let saved = b.post_multipart("/settings/profile", &fields, "avatar", &crate::media::png(600, 600)).await;
    assert_eq!(saved.status, 303, "{}", saved.body);
    let (_, me) = call(M::GET, &t, "/api/v1/accounts/lookup?acct=ada", None, None).await;
    assert_eq!(me["display_name"], "Ada L.");
    let avatar = me["avatar"].as_str().unwrap().to_owned();
    assert!(avatar.contains("/media/"), "{me}");
    let res = crate::support::http().get(&avatar).send().await.unwrap();
    assert_eq!(res.status(), 200, "the avatar is served");
    let bad = b.post_multipart("/settings/profile", &fields, "header", b"not an image").await;
    assert_eq!(bad.status, 422);
    assert!(bad.body.contains("header"), "{}", bad.body);
}
