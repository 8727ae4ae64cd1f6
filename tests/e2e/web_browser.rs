//! Members' journeys in a real browser: headless Chromium driven by `chromedriver` over the W3C
//! WebDriver protocol (a small client below, on `reqwest`). Every journey runs with JavaScript
//! switched off in the browser, as the pages have none; signing in runs with it on too. Each
//! step is a real click or real typing on the page, and each check reads what the page shows:
//! signing in and out, asking to join a group and a moderator's approval, posting into a group
//! and a reply from another instance, a moderator's removal and ban and the log of both, a
//! keyboard-only sign-in and post, and a moderator's keyboard-only removal; signing up in
//! approval mode and an admin's approval; an admin's domain block and its posts disappearing.
//! And axe-core's WCAG 2.2 AA checks over the main page types, the admin's pages among them.
//!
//! Needs Debian's `chromium` and `chromium-driver` (axe-core: `npm install --prefix target/axe
//! axe-core@4`); without them the tests are skipped with a notice, or fail under `CI=true`.

use std::path::PathBuf;
use std::process::Stdio;
use std::time::{Duration, Instant};

use reqwest::Method as M;
use serde_json::{Value, json};
use tempfile::TempDir;

use crate::client_api::{call, token};
use crate::support::{Backend, Cluster, TestInstance};

/// The key WebDriver names an element reference with.
const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";
/// WebDriver's Tab key.
const TAB: &str = "\u{E004}";
/// WebDriver's Enter key.
const ENTER: &str = "\u{E007}";
/// How long a page may take to show what a step waits for.
const PATIENCE: Duration = Duration::from_secs(15);

/// `name` on the `PATH`.
fn which(name: &str) -> Option<PathBuf> {
    std::env::var_os("PATH")
        .and_then(|paths| std::env::split_paths(&paths).map(|p| p.join(name)).find(|p| p.exists()))
}

/// A running `chromedriver`, in its own process group with the browsers it starts.
struct Driver {
    base: String,
    http: reqwest::Client,
    chromium: PathBuf,
    child: tokio::process::Child,
}

impl Drop for Driver {
    /// Browsers a failed test left open go with their driver: the whole process group ends.
    fn drop(&mut self) {
        if let Some(pid) = self.child.id() {
            let _ = std::process::Command::new("kill")
                .args(["-KILL", "--", &format!("-{pid}")])
                .stderr(Stdio::null())
                .status();
        }
    }
}

impl Driver {
    /// Starts `chromedriver` on a free loopback port and waits until it says it is ready; `None`
    /// (skipped, or a failure in CI) without Chromium or its driver.
    async fn start() -> Option<Driver> {
        let (Some(chromium), Some(chromedriver)) = (which("chromium"), which("chromedriver")) else {
            guildhall_storage::testing::cannot_run(
                "chromium or chromedriver not installed (apt-get install chromium chromium-driver)",
            );
            return None;
        };
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let mut child = tokio::process::Command::new(chromedriver)
            .arg(format!("--port={port}"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .process_group(0)
            .kill_on_drop(true)
            .spawn()
            .expect("chromedriver starts");
        let base = format!("http://127.0.0.1:{port}");
        let http = reqwest::Client::builder().no_proxy().timeout(Duration::from_secs(120)).build().unwrap();
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let status = http.get(format!("{base}/status")).send().await;
            if let Ok(res) = status
                && let Ok(v) = res.json::<Value>().await
                && v["value"]["ready"] == json!(true)
            {
                break;
            }
            if let Some(exit) = child.try_wait().unwrap() {
                panic!("chromedriver exited before it was ready: {exit}");
            }
            assert!(Instant::now() < deadline, "chromedriver was not ready within 20 s");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        Some(Driver { base, http, chromium, child })
    }

    /// A new browser (its own profile, so its own cookies), JavaScript on or off; checks that
    /// the setting took.
    async fn browser(&self, javascript: bool) -> Browser<'_> {
        self.browser_with(javascript, &[]).await
    }

    /// [`Driver::browser`] with `extra` arguments for Chromium.
    async fn browser_with(&self, javascript: bool, extra: &[&str]) -> Browser<'_> {
        let profile = tempfile::tempdir().unwrap();
        let mut args = vec![
            "--headless".to_owned(),
            "--no-sandbox".into(),
            "--disable-gpu".into(),
            "--disable-background-networking".into(),
            "--window-size=1280,900".into(),
            format!("--user-data-dir={}", profile.path().display()),
        ];
        args.extend(extra.iter().map(|a| a.to_string()));
        let mut options = json!({"binary": self.chromium, "args": args});
        if !javascript {
            options["prefs"] = json!({"profile.managed_default_content_settings.javascript": 2});
        }
        let caps = json!({"capabilities": {"alwaysMatch": {"goog:chromeOptions": options}}});
        let res = self.http.post(format!("{}/session", self.base)).json(&caps).send().await.unwrap();
        let body: Value = res.json().await.unwrap();
        let id = body["value"]["sessionId"].as_str().unwrap_or_else(|| panic!("no session: {body}"));
        let browser =
            Browser { driver: self, session: format!("{}/session/{id}", self.base), _profile: profile };
        browser.must(M::POST, "/timeouts", json!({"script": 90_000, "pageLoad": 30_000})).await;
        assert_eq!(
            browser.runs_script().await,
            javascript,
            "JavaScript is {}",
            if javascript { "on" } else { "off" }
        );
        browser
    }
}

/// One browser window with its own profile.
struct Browser<'d> {
    driver: &'d Driver,
    /// `http://127.0.0.1:PORT/session/ID`.
    session: String,
    _profile: TempDir,
}

/// What an element is, to WebDriver.
type Element = String;

impl Browser<'_> {
    /// A WebDriver command; `Err` with WebDriver's error when it fails.
    async fn cmd(&self, method: M, path: &str, body: Option<Value>) -> Result<Value, String> {
        let mut req = self.driver.http.request(method.clone(), format!("{}{path}", self.session));
        if let Some(body) = body {
            req = req.json(&body);
        } else if method == M::POST {
            req = req.json(&json!({}));
        }
        let res = req.send().await.map_err(|e| format!("{method} {path}: {e}"))?;
        let ok = res.status().is_success();
        let body: Value = res.json().await.map_err(|e| format!("{method} {path}: {e}"))?;
        match ok {
            true => Ok(body["value"].clone()),
            false => Err(format!("{method} {path}: {} {}", body["value"]["error"], body["value"]["message"])),
        }
    }

    /// A command that must succeed.
    async fn must(&self, method: M, path: &str, body: Value) -> Value {
        let body = if method == M::GET || method == M::DELETE { None } else { Some(body) };
        self.cmd(method, path, body).await.unwrap_or_else(|e| panic!("{e}"))
    }

    async fn get(&self, path: &str) -> Value {
        self.must(M::GET, path, Value::Null).await
    }

    /// Whether a page's own script runs: a `data:` page without a CSP retitles itself with
    /// script, and shows its `<noscript>` content as elements only when script is off.
    async fn runs_script(&self) -> bool {
        self.go("data:text/html,<title>before</title><script>document.title='after'</script>\
                 <noscript><p id=off>off</p></noscript>")
            .await;
        let title = self.get("/title").await;
        let noscript = self.try_find("#off").await.is_some();
        match title.as_str() {
            Some("after") if !noscript => true,
            Some("before") if noscript => false,
            _ => panic!("script neither clearly on nor off: title {title}, <noscript> shown: {noscript}"),
        }
    }

    async fn go(&self, url: &str) {
        self.must(M::POST, "/url", json!({ "url": url })).await;
    }

    async fn url(&self) -> String {
        self.get("/url").await.as_str().unwrap().to_owned()
    }

    async fn source(&self) -> String {
        self.get("/source").await.as_str().unwrap().to_owned()
    }

    /// The page's `<main>`, for failure messages.
    async fn main(&self) -> String {
        let source = self.source().await;
        let start = source.find("<main").unwrap_or(0);
        let end = source.find("</main>").map_or(source.len(), |e| e + 7);
        format!("{} {}", self.url().await, &source[start..end.max(start)])
    }

    async fn find_by(&self, using: &str, value: &str) -> Option<Element> {
        let found =
            self.cmd(M::POST, "/element", Some(json!({"using": using, "value": value}))).await.ok()?;
        Some(found[ELEMENT].as_str().unwrap().to_owned())
    }

    async fn try_find(&self, css: &str) -> Option<Element> {
        self.find_by("css selector", css).await
    }

    /// The element `css` selects, waiting for it to appear.
    async fn find(&self, css: &str) -> Element {
        self.wait_for_by("css selector", css).await
    }

    /// The element the XPath `xpath` selects, waiting for it to appear.
    async fn find_x(&self, xpath: &str) -> Element {
        self.wait_for_by("xpath", xpath).await
    }

    async fn wait_for_by(&self, using: &str, value: &str) -> Element {
        let deadline = Instant::now() + PATIENCE;
        loop {
            if let Some(e) = self.find_by(using, value).await {
                return e;
            }
            if Instant::now() > deadline {
                panic!("no {value} on the page: {}", self.main().await);
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// The button whose text starts with `label`.
    async fn button(&self, label: &str) -> Element {
        self.find_x(&format!("//button[starts-with(normalize-space(.), '{label}')]")).await
    }

    /// The link whose text is `label`.
    async fn link(&self, label: &str) -> Element {
        self.find_x(&format!("//a[normalize-space(.)='{label}']")).await
    }

    async fn click(&self, e: &Element) {
        self.must(M::POST, &format!("/element/{e}/click"), json!({})).await;
    }

    async fn type_into(&self, e: &Element, text: &str) {
        self.must(M::POST, &format!("/element/{e}/value"), json!({ "text": text })).await;
    }

    async fn clear(&self, e: &Element) {
        self.must(M::POST, &format!("/element/{e}/clear"), json!({})).await;
    }

    /// Clicks `e` and waits until the page it was on has gone: a form sent, a link followed.
    async fn click_to_load(&self, e: &Element) {
        let old = self.find("html").await;
        self.click(e).await;
        self.wait_for_load(&old).await;
    }

    /// Presses `key` and waits until the page it was on has gone.
    async fn press_to_load(&self, key: &str) {
        let old = self.find("html").await;
        self.keys(key).await;
        self.wait_for_load(&old).await;
    }

    /// Waits until `old_root`, the root element of the page before, is stale.
    async fn wait_for_load(&self, old_root: &Element) {
        let deadline = Instant::now() + PATIENCE;
        while self.cmd(M::GET, &format!("/element/{old_root}/name"), None).await.is_ok() {
            assert!(Instant::now() < deadline, "no new page came: {}", self.main().await);
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    async fn text(&self, e: &Element) -> String {
        self.get(&format!("/element/{e}/text")).await.as_str().unwrap_or_default().to_owned()
    }

    async fn property(&self, e: &Element, name: &str) -> Value {
        self.get(&format!("/element/{e}/property/{name}")).await
    }

    /// The text the element `css` shows.
    async fn text_of(&self, css: &str) -> String {
        let e = self.find(css).await;
        self.text(&e).await
    }

    /// The element that has the focus.
    async fn active(&self) -> Element {
        self.get("/element/active").await[ELEMENT].as_str().unwrap().to_owned()
    }

    /// Presses and releases each key of `keys` on the keyboard, wherever the focus is.
    async fn keys(&self, keys: &str) {
        let mut actions = Vec::new();
        for key in keys.chars() {
            actions.push(json!({"type": "keyDown", "value": key.to_string()}));
            actions.push(json!({"type": "keyUp", "value": key.to_string()}));
        }
        let body = json!({"actions": [{"type": "key", "id": "keyboard", "actions": actions}]});
        self.must(M::POST, "/actions", body).await;
    }

    /// Presses Tab until the focused element satisfies `is_it` (id, tag, text); panics after 40.
    async fn tab_to(&self, what: &str, is_it: impl Fn(&str, &str, &str) -> bool) {
        let mut path = Vec::new();
        for _ in 0..40 {
            self.keys(TAB).await;
            let e = self.active().await;
            let id = self.property(&e, "id").await.as_str().unwrap_or_default().to_owned();
            let tag = self.get(&format!("/element/{e}/name")).await.as_str().unwrap_or_default().to_owned();
            let text = self.text(&e).await;
            if is_it(&id, &tag, &text) {
                return;
            }
            path.push(format!("{tag}#{id} {text:?}"));
        }
        panic!("Tab never reached {what}; it went through {path:?}");
    }

    /// The value of this browser's cookie `name`, if it has one.
    async fn cookie(&self, name: &str) -> Option<String> {
        let v = self.cmd(M::GET, &format!("/cookie/{name}"), None).await.ok()?;
        v["value"].as_str().map(str::to_owned)
    }

    /// The HTTP status `url` answers with this browser's session cookie (WebDriver does not
    /// tell a page's status).
    async fn status_of(&self, url: &str) -> u16 {
        let client = reqwest::Client::builder()
            .no_proxy()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap();
        let mut req = client.get(url).header("accept", "text/html");
        if let Some(session) = self.cookie("guildhall_session").await {
            req = req.header("cookie", format!("guildhall_session={session}"));
        }
        req.send().await.unwrap().status().as_u16()
    }

    /// Ends the browser.
    async fn quit(self) {
        let _ = self.cmd(M::DELETE, "", None).await;
    }
}

/// Signs `login` in through the form with the mouse, from the page that asked for it.
async fn sign_in(b: &Browser<'_>, t: &TestInstance, login: &str) {
    b.go(&t.url("/auth/sign_in?next=/home")).await;
    let field = b.find("#login").await;
    b.type_into(&field, login).await;
    let field = b.find("#password").await;
    b.type_into(&field, "correct horse").await;
    let submit = b.button("Sign in").await;
    b.click_to_load(&submit).await;
    assert_eq!(b.url().await, t.url("/home"), "{}", b.main().await);
}

/// Creates the approval group `mcg` moderated by `moderator`; returns its id.
async fn group(t: &TestInstance, moderator: &str) -> String {
    let tok = token(t, moderator, "read write follow").await;
    let guild = json!({"name": "mcg", "display_name": "Museum Computer Group", "membership": "approval",
                       "description": "Digital work in museums, galleries and archives.",
                       "rules": ["Be kind and assume good faith"]});
    let (s, g) = call(M::POST, t, "/api/guildhall/v1/groups", Some(&tok), Some(guild)).await;
    assert_eq!(s, 200, "{g}");
    g["id"].as_str().unwrap().to_owned()
}

/// `member` joins the group through the API, and `moderator` approves.
async fn join_by_api(t: &TestInstance, group: &str, moderator: &str, member: &str, member_id: i64) {
    let tok = token(t, member, "read write follow").await;
    let (s, rel) = call(M::POST, t, &format!("/api/v1/accounts/{group}/follow"), Some(&tok), None).await;
    assert_eq!(s, 200, "{rel}");
    let tok = token(t, moderator, "read write follow").await;
    let approve = format!("/api/guildhall/v1/groups/{group}/requests/{member_id}/approve");
    let (s, m) = call(M::POST, t, &approve, Some(&tok), None).await;
    assert_eq!((s.as_u16(), &m["member"]), (200, &json!(true)), "{m}");
}

/// Delivers everything `t` has queued (its local group relays, too).
async fn deliver(t: &TestInstance) {
    while t.instance.delivery().flush().await.unwrap() > 0 {}
}

/// Wrong password, then the right one; then signing out.
async fn signing_in_and_out(javascript: bool) {
    let Some(driver) = Driver::start().await else { return };
    let t = TestInstance::start(&Backend::Sqlite).await;
    t.user("ada").await;
    let b = driver.browser(javascript).await;

    // A members' page sends a stranger to sign in.
    b.go(&t.url("/home")).await;
    assert_eq!(b.url().await, t.url("/auth/sign_in?next=%2Fhome"));
    let login = b.find("#login").await;
    b.type_into(&login, "ada").await;
    let password = b.find("#password").await;
    b.type_into(&password, "nope nope").await;
    b.click_to_load(&b.button("Sign in").await).await;
    let error = b.text_of(".error").await;
    assert_eq!(error, "Wrong e-mail address, username or password.");
    let login = b.find("#login").await;
    assert_eq!(b.property(&login, "value").await, json!("ada"), "the login is kept");
    assert_eq!(b.cookie("guildhall_session").await, None, "no session");

    // The right password, with the login the form kept, and "remember me".
    let password = b.find("#password").await;
    b.clear(&password).await;
    b.type_into(&password, "correct horse").await;
    b.click(&b.find("input[name=remember]").await).await;
    b.click_to_load(&b.button("Sign in").await).await;
    assert_eq!(b.url().await, t.url("/home"), "back to where the sign-in began");
    assert_eq!(b.text_of("main h1").await, "Home");
    assert_eq!(b.text_of("nav a[href$='/@ada']").await, "@ada");
    assert!(b.cookie("guildhall_session").await.is_some());

    b.click_to_load(&b.button("Sign out").await).await;
    assert_eq!(b.url().await, t.url("/"));
    b.link("Sign in").await;
    assert!(b.try_find("nav a[href$='/@ada']").await.is_none(), "{}", b.main().await);
    assert_eq!(b.cookie("guildhall_session").await, None);
    b.go(&t.url("/home")).await;
    assert!(b.url().await.starts_with(&t.url("/auth/sign_in")), "signed out for real");

    b.quit().await;
    t.instance.stop().await.unwrap();
}

#[tokio::test]
async fn browser_signs_in_and_out_without_javascript() {
    signing_in_and_out(false).await;
}

#[tokio::test]
async fn browser_signs_in_and_out_with_javascript() {
    signing_in_and_out(true).await;
}

#[tokio::test]
async fn browser_asks_to_join_a_group_and_a_moderator_approves() {
    let Some(driver) = Driver::start().await else { return };
    let t = TestInstance::start(&Backend::Sqlite).await;
    let ada_id = t.user("ada").await.id;
    t.user("mod").await;
    group(&t, "mod").await;

    let ada = driver.browser(false).await;
    sign_in(&ada, &t, "ada").await;
    ada.go(&t.url("/@mcg")).await;
    assert_eq!(ada.text_of("main h1").await, "Museum Computer Group");
    ada.click_to_load(&ada.button("Ask to join").await).await;
    assert_eq!(ada.url().await, t.url("/@mcg"));
    assert!(ada.text_of(".join").await.starts_with("You asked to join"), "{}", ada.main().await);

    let moderator = driver.browser(false).await;
    sign_in(&moderator, &t, "mod").await;
    moderator.go(&t.url("/@mcg")).await;
    moderator.click_to_load(&moderator.link("Moderate this group").await).await;
    assert_eq!(moderator.url().await, t.url("/@mcg/moderation"));
    let requests = moderator.text_of("section[aria-labelledby=requests-h]").await;
    assert!(requests.contains("Join requests (1)") && requests.contains(&t.handle("ada")), "{requests}");
    let approve = format!("form[action='/@mcg/moderation/requests/{ada_id}/approve'] button");
    moderator.click_to_load(&moderator.find(&approve).await).await;
    assert_eq!(moderator.url().await, t.url("/@mcg/moderation"));
    let requests = moderator.text_of("section[aria-labelledby=requests-h]").await;
    assert!(requests.contains("No one is waiting."), "{requests}");
    let members = moderator.text_of("section[aria-labelledby=members-h]").await;
    assert!(members.contains(&t.handle("ada")), "{members}");
    assert!(moderator.text_of("table.log").await.contains("approve"));

    ada.go(&t.url("/@mcg")).await;
    assert_eq!(ada.text_of(".join").await, "You are a member.");
    ada.button("Leave the group").await;
    assert!(ada.try_find("a[href='/@mcg/moderation']").await.is_none(), "a member is no moderator");

    ada.quit().await;
    moderator.quit().await;
    t.instance.stop().await.unwrap();
}

#[tokio::test]
async fn browser_posts_into_a_group_and_a_reply_comes_from_another_instance() {
    let Some(driver) = Driver::start().await else { return };
    let cluster = Cluster::start(2).await;
    let [a, b] = &cluster.nodes[..] else { unreachable!() };
    let ada_id = a.user("ada").await.id;
    a.user("mod").await;
    b.user("bob").await;
    let gid = group(a, "mod").await;
    join_by_api(a, &gid, "mod", "ada", ada_id).await;

    // ada writes into the group from her home page.
    let ada = driver.browser(false).await;
    sign_in(&ada, a, "ada").await;
    let text = ada.find("#compose-text").await;
    ada.type_into(&text, "@mcg Who has the 1851 ledgers?").await;
    ada.click_to_load(&ada.find("#compose button[type=submit]").await).await;
    assert_eq!(ada.url().await, a.url("/home"));
    let post = ada.find("article.post").await;
    assert!(ada.text(&post).await.contains("Who has the 1851 ledgers?"), "{}", ada.main().await);
    let id = ada.property(&post, "id").await.as_str().unwrap().trim_start_matches("post-").to_owned();
    cluster.flush().await;
    let (_, status) = call(M::GET, a, &format!("/api/v1/statuses/{id}"), None, None).await;
    assert!(status["mentions"].to_string().contains("mcg"), "{status}");

    // bob, on the other instance, opens it and replies with the form under it.
    let uri = status["uri"].as_str().unwrap();
    let found = guildhall_federation::actions::resolve_status(&b.fed(), uri).await.unwrap();
    let bob = driver.browser(false).await;
    sign_in(&bob, b, "bob").await;
    bob.go(&b.url(&format!("/statuses/{}", found.id))).await;
    assert!(bob.text_of("section.focus").await.contains("Who has the 1851 ledgers?"), "{}", bob.main().await);
    let reply = bob.find("#reply-form-text").await;
    let prefilled = bob.property(&reply, "value").await;
    assert_eq!(prefilled, json!(format!("@{} ", a.handle("ada"))), "the reply starts with ada's handle");
    bob.type_into(&reply, "We have them in the basement").await;
    bob.click_to_load(&bob.find("#reply-form button[type=submit]").await).await;
    assert!(bob.url().await.contains("#post-"), "back to the thread, at the reply: {}", bob.url().await);
    assert!(bob.text_of("section.replies").await.contains("We have them in the basement"));
    cluster.flush().await;

    // The reply is on ada's thread page, under her post.
    ada.go(&a.url(&format!("/statuses/{id}"))).await;
    assert_eq!(ada.url().await, a.url(&format!("/@ada/{id}")), "a local post's page is its author's");
    let replies = ada.text_of("section.replies").await;
    assert!(replies.contains("We have them in the basement"), "{}", ada.main().await);
    assert!(replies.contains(&b.handle("bob")), "{replies}");

    ada.quit().await;
    bob.quit().await;
    cluster.stop().await;
}

#[tokio::test]
async fn browser_moderator_removes_a_post_and_bans_its_author() {
    let Some(driver) = Driver::start().await else { return };
    let t = TestInstance::start(&Backend::Sqlite).await;
    let ada_id = t.user("ada").await.id;
    t.user("mod").await;
    let gid = group(&t, "mod").await;
    join_by_api(&t, &gid, "mod", "ada", ada_id).await;
    let tok = token(&t, "ada", "read write").await;
    let (_, post) =
        call(M::POST, &t, "/api/v1/statuses", Some(&tok), Some(json!({"status": "@mcg Cheap watches here"})))
            .await;
    let id = post["id"].as_str().unwrap().to_owned();
    deliver(&t).await;
    let ada = driver.browser(false).await;
    sign_in(&ada, &t, "ada").await;
    ada.go(&t.url(&format!("/@ada/{id}"))).await;
    assert!(ada.text_of("section.focus").await.contains("Cheap watches here"));
    assert!(ada.try_find("details.moderate").await.is_none(), "ada moderates nothing");

    // The moderator removes it from its page, with a reason.
    let moderator = driver.browser(false).await;
    sign_in(&moderator, &t, "mod").await;
    moderator.go(&t.url(&format!("/@ada/{id}"))).await;
    let summary = moderator.find(&format!("#post-{id} details.moderate summary")).await;
    assert_eq!(moderator.text(&summary).await, "Remove from the group");
    moderator.click(&summary).await;
    let reason = moderator.find(&format!("#reason-{id}")).await;
    moderator.type_into(&reason, "Off topic: advertising").await;
    moderator.click_to_load(&moderator.find(&format!("#post-{id} details.moderate button")).await).await;
    assert_eq!(moderator.url().await, t.url("/@mcg/moderation"));

    // And bans ada from the moderation page, with a reason.
    let summary = moderator.find_x(&format!("//input[@id='ban-{ada_id}']/ancestor::details/summary")).await;
    moderator.click(&summary).await;
    let reason = moderator.find(&format!("#ban-{ada_id}")).await;
    moderator.type_into(&reason, "Spam, again and again").await;
    let ban = moderator.button(&format!("Ban @{}", t.handle("ada"))).await;
    moderator.click_to_load(&ban).await;
    assert_eq!(moderator.url().await, t.url("/@mcg/moderation"));
    let bans = moderator.text_of("section[aria-labelledby=bans-h]").await;
    assert!(bans.contains(&t.handle("ada")) && bans.contains("Spam, again and again"), "{bans}");
    let members = moderator.text_of("section[aria-labelledby=members-h]").await;
    assert!(!members.contains(&t.handle("ada")), "{members}");
    let log = moderator.text_of("table.log").await;
    assert!(log.contains("remove status") && log.contains("Off topic: advertising"), "{log}");
    assert!(log.contains("ban") && log.contains("Spam, again and again"), "{log}");

    // For ada, the post is gone and she is no member.
    let page = t.url(&format!("/@ada/{id}"));
    ada.go(&page).await;
    assert_eq!(ada.text_of("main h1").await, "This page does not exist, or is not public");
    assert_eq!(ada.status_of(&page).await, 404);
    ada.go(&t.url("/@mcg")).await;
    assert!(!ada.text_of("section.group").await.contains("You are a member"), "{}", ada.main().await);

    ada.quit().await;
    moderator.quit().await;
    t.instance.stop().await.unwrap();
}

#[tokio::test]
async fn browser_signs_in_and_posts_with_the_keyboard_alone() {
    let Some(driver) = Driver::start().await else { return };
    let t = TestInstance::start(&Backend::Sqlite).await;
    t.user("ada").await;
    let b = driver.browser(false).await;
    b.go(&t.url("/auth/sign_in?next=/home")).await;

    // The first Tab offers to skip the navigation.
    b.keys(TAB).await;
    let first = b.active().await;
    assert_eq!(b.text(&first).await, "Skip to content");
    b.tab_to("the login field", |id, _, _| id == "login").await;
    b.keys("ada").await;
    b.keys(TAB).await;
    assert_eq!(b.property(&b.active().await, "id").await, json!("password"));
    b.keys("correct horse").await;
    b.press_to_load(ENTER).await;
    assert_eq!(b.url().await, t.url("/home"), "{}", b.main().await);

    b.tab_to("the compose field", |id, _, _| id == "compose-text").await;
    b.keys("Typed without a mouse").await;
    b.tab_to("the Post button", |_, tag, text| tag == "button" && text == "Post").await;
    b.press_to_load(ENTER).await;
    assert_eq!(b.url().await, t.url("/home"));
    assert!(b.text_of("article.post").await.contains("Typed without a mouse"), "{}", b.main().await);

    b.quit().await;
    t.instance.stop().await.unwrap();
}

#[tokio::test]
async fn browser_signs_up_in_approval_mode_and_an_admin_approves() {
    let Some(driver) = Driver::start().await else { return };
    let t = TestInstance::start_with(&Backend::Sqlite, &[("GUILDHALL_REGISTRATIONS", "approval")]).await;
    crate::web_admin::admin_user(&t, "root").await;

    // A visitor asks for an account through the sign-up form.
    let cy = driver.browser(false).await;
    cy.go(&t.url("/auth/sign_up")).await;
    assert_eq!(cy.text_of("main h1, h1").await, "Sign up");
    for (field, text) in [
        ("#username", "cy"),
        ("#email", "cy@museum.example"),
        ("#password", "correct horse"),
        ("#password_confirmation", "correct horse"),
        ("#reason", "I look after the ledgers at the county archive"),
    ] {
        let e = cy.find(field).await;
        cy.type_into(&e, text).await;
    }
    cy.click(&cy.find("#agreement").await).await;
    assert_eq!(cy.property(&cy.find("#agreement").await, "checked").await, json!(true));
    cy.click_to_load(&cy.button("Ask to join").await).await;
    assert_eq!(cy.text_of("h1").await, "Thank you, cy", "{}", cy.source().await);
    let page = cy.text_of("body").await;
    assert!(page.contains("An administrator will review it"), "{page}");

    // Signing in is refused until the address is confirmed, from the link in the mail.
    cy.go(&t.url("/auth/sign_in?next=/home")).await;
    cy.type_into(&cy.find("#login").await, "cy").await;
    cy.type_into(&cy.find("#password").await, "correct horse").await;
    cy.click_to_load(&cy.button("Sign in").await).await;
    assert_eq!(cy.text_of(".error").await, "Your login is missing a confirmed e-mail address.");
    t.instance.mail().flush().await.unwrap();
    let mails = crate::mail::read_dir(&t.instance.config().data_dir.join("mail"));
    let link = mails[0].link(&t.url("/auth/confirmation?"));
    cy.go(&link).await;
    cy.click_to_load(&cy.button("Confirm my address").await).await;
    let page = cy.text_of("body").await;
    assert!(page.contains("approval"), "{page}");

    // Signing in is refused while the account waits.
    cy.go(&t.url("/auth/sign_in?next=/home")).await;
    cy.type_into(&cy.find("#login").await, "cy").await;
    cy.type_into(&cy.find("#password").await, "correct horse").await;
    cy.click_to_load(&cy.button("Sign in").await).await;
    assert_eq!(cy.text_of(".error").await, "Your login is currently pending approval.");
    assert_eq!(cy.cookie("guildhall_session").await, None, "no session");

    // The admin reads the reason and approves.
    let root = driver.browser(false).await;
    sign_in(&root, &t, "root").await;
    root.go(&t.url("/admin")).await;
    let waiting = root.text_of("section[aria-labelledby=pending-h]").await;
    assert!(waiting.contains("Sign-ups waiting (1)"), "{waiting}");
    assert!(waiting.contains("@cy") && waiting.contains("I look after the ledgers at the county archive"));
    root.click_to_load(&root.button("Approve").await).await;
    assert!(root.url().await.starts_with(&t.url("/admin")), "{}", root.url().await);
    let waiting = root.text_of("section[aria-labelledby=pending-h]").await;
    assert!(waiting.contains("Sign-ups waiting (0)") && waiting.contains("No one is waiting."), "{waiting}");
    let accounts = root.text_of("section[aria-labelledby=accounts-h]").await;
    assert!(accounts.contains("@cy"), "{accounts}");
    assert!(root.text_of("section[aria-labelledby=audit-h]").await.contains("approve"));

    // Now the new member signs in and reaches home.
    sign_in(&cy, &t, "cy").await;
    assert_eq!(cy.text_of("main h1").await, "Home");
    assert_eq!(cy.text_of("nav a[href$='/@cy']").await, "@cy");

    cy.quit().await;
    root.quit().await;
    t.instance.stop().await.unwrap();
}

#[tokio::test]
async fn browser_admin_blocks_a_domain_and_its_posts_disappear() {
    use guildhall_federation::actions::{self, NewPost};
    let Some(driver) = Driver::start().await else { return };
    let cluster = Cluster::start(2).await;
    let [a, b] = &cluster.nodes[..] else { unreachable!() };
    crate::web_admin::admin_user(a, "root").await;
    let ada = a.user("ada").await;
    let bob = b.user("bob").await;
    let bob_at_a = actions::resolve_actor(&a.fed(), &b.handle("bob")).await.unwrap();
    actions::follow(&a.fed(), &ada, &bob_at_a).await.unwrap();
    cluster.flush().await;
    actions::post(&b.fed(), &bob, NewPost::public("Buy followers now, cheap")).await.unwrap();
    cluster.flush().await;

    // ada sees bob's post at home.
    let member = driver.browser(false).await;
    sign_in(&member, a, "ada").await;
    let home = member.text_of("main").await;
    assert!(home.contains("Buy followers now, cheap"), "{}", member.main().await);

    // The admin blocks bob's server from the admin page.
    let domain = b.instance.config().domain.to_string();
    let root = driver.browser(false).await;
    sign_in(&root, a, "root").await;
    root.go(&a.url("/admin")).await;
    root.type_into(&root.find("#block-domain").await, &domain).await;
    let severity = root.find("#block-severity").await;
    assert_eq!(root.property(&severity, "value").await, json!("suspend"), "suspend is the default");
    root.type_into(&root.find("#block-public").await, "Follower-selling spam").await;
    root.click_to_load(&root.button("Block the domain").await).await;
    assert!(root.url().await.starts_with(&a.url("/admin")), "{}", root.main().await);

    // Its posts are gone from ada's home.
    member.go(&a.url("/home")).await;
    assert_eq!(member.text_of("main h1").await, "Home");
    assert!(
        !member.text_of("main").await.contains("Buy followers now"),
        "the blocked server's post is gone: {}",
        member.main().await
    );

    // The block is listed, and logged.
    let blocks = root.text_of("section[aria-labelledby=blocks-h] table.log").await;
    assert!(
        blocks.contains(&domain) && blocks.contains("suspend") && blocks.contains("Follower-selling spam"),
        "{blocks}"
    );
    let log = root.text_of("section[aria-labelledby=audit-h] table.log").await;
    assert!(log.contains("block_domain") && log.contains(&domain) && log.contains("@root"), "{log}");

    member.quit().await;
    root.quit().await;
    cluster.stop().await;
}

#[tokio::test]
async fn browser_moderator_removes_a_post_with_the_keyboard_alone() {
    let Some(driver) = Driver::start().await else { return };
    let t = TestInstance::start(&Backend::Sqlite).await;
    let ada_id = t.user("ada").await.id;
    t.user("mod").await;
    let gid = group(&t, "mod").await;
    join_by_api(&t, &gid, "mod", "ada", ada_id).await;
    let made = post(&t, "ada", json!({"status": "@mcg Cheap watches, genuine replicas"})).await;
    let id = made["id"].as_str().unwrap().to_owned();
    deliver(&t).await;

    let moderator = driver.browser(false).await;
    sign_in(&moderator, &t, "mod").await;
    let page = t.url(&format!("/@ada/{id}"));
    moderator.go(&page).await;
    assert!(moderator.text_of("section.focus").await.contains("Cheap watches"));
    let details = moderator.find(&format!("#post-{id} details.moderate")).await;
    assert_eq!(moderator.property(&details, "open").await, json!(false));

    // Tab to the closed control, open it with Enter, Tab to the reason, type, Tab to the button.
    moderator
        .tab_to("the removal control", |_, tag, text| tag == "summary" && text == "Remove from the group")
        .await;
    moderator.keys(ENTER).await;
    assert_eq!(moderator.property(&details, "open").await, json!(true), "Enter opens it");
    let reason = format!("reason-{id}");
    moderator.tab_to("the reason field", |id, _, _| id == reason).await;
    moderator.keys("Off topic: advertising").await;
    moderator.tab_to("the Remove post button", |_, tag, text| tag == "button" && text == "Remove post").await;
    moderator.press_to_load(ENTER).await;
    assert_eq!(moderator.url().await, t.url("/@mcg/moderation"), "{}", moderator.main().await);
    let log = moderator.text_of("table.log").await;
    assert!(log.contains("remove status") && log.contains("Off topic: advertising"), "{log}");

    // The post is gone, for its author too.
    let ada = driver.browser(false).await;
    sign_in(&ada, &t, "ada").await;
    ada.go(&page).await;
    assert_eq!(ada.text_of("main h1").await, "This page does not exist, or is not public");
    assert_eq!(ada.status_of(&page).await, 404);

    ada.quit().await;
    moderator.quit().await;
    t.instance.stop().await.unwrap();
}

/// axe-core, installed by `npm install --prefix target/axe axe-core@4`.
fn axe_source() -> Option<String> {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/target/axe/node_modules/axe-core/axe.min.js");
    let source = std::fs::read_to_string(path).ok();
    if source.is_none() {
        guildhall_storage::testing::cannot_run(
            "axe-core missing (npm install --prefix target/axe axe-core@4)",
        );
    }
    source
}

/// axe-core's WCAG 2.0–2.2 A and AA violations on the page `b` shows, one line each.
async fn axe_violations(b: &Browser<'_>, axe: &str) -> Vec<String> {
    b.must(M::POST, "/execute/sync", json!({"script": format!("{axe}\nreturn typeof axe;"), "args": []}))
        .await;
    let run = "const done = arguments[arguments.length - 1];
        axe.run(document, {runOnly: {type: 'tag',
                values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'wcag22aa']}})
            .then(r => done(r.passes.length === 0 ? {error: 'no rule passed'} : r.violations.map(v => ({id: v.id, impact: v.impact, help: v.help,
                nodes: v.nodes.map(n => ({target: n.target, summary: n.failureSummary}))}))))
            .catch(e => done({error: String(e)}));";
    let found = b.must(M::POST, "/execute/async", json!({"script": run, "args": []})).await;
    let Some(list) = found.as_array() else { panic!("axe failed: {found}") };
    let url = b.url().await;
    list.iter()
        .map(|v| {
            let nodes: Vec<String> = v["nodes"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|n| {
                    format!("{} ({})", n["target"], n["summary"].as_str().unwrap_or("").replace('\n', " "))
                })
                .collect();
            format!("{url}: {} [{}] {}: {}", v["id"], v["impact"], v["help"], nodes.join("; "))
        })
        .collect()
}

/// The first edition's start of an hour, as the API gives it.
async fn hour_start(t: &TestInstance, hour: &str) -> String {
    let (_, shown) = call(M::GET, t, &format!("/api/guildhall/v1/hours/{hour}"), None, None).await;
    shown["editions"][0]["starts_at"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn browser_pages_pass_axe_wcag_checks() {
    let Some(axe) = axe_source() else { return };
    let Some(driver) = Driver::start().await else { return };
    let t = TestInstance::start(&Backend::Sqlite).await;
    let ada_id = t.user("ada").await.id;
    t.user("mod").await;
    t.user("bob").await;
    let gid = group(&t, "mod").await;
    join_by_api(&t, &gid, "mod", "ada", ada_id).await;
    let bob = token(&t, "bob", "read write follow").await;
    call(M::POST, &t, &format!("/api/v1/accounts/{gid}/follow"), Some(&bob), None).await;
    let tok = token(&t, "ada", "read write").await;
    let (_, post) = call(
        M::POST,
        &t,
        "/api/v1/statuses",
        Some(&tok),
        Some(json!({"status": "@mcg Q1 of tonight's #MuseumHour: what did digitisation change?"})),
    )
    .await;
    let modt = token(&t, "mod", "read write").await;
    let reply = json!({"status": "@ada Search, mostly", "in_reply_to_id": post["id"]});
    let (_, reply) = call(M::POST, &t, "/api/v1/statuses", Some(&modt), Some(reply)).await;
    deliver(&t).await;
    let thread = post["url"].as_str().unwrap().to_owned();
    let (own, others) = (post["id"].as_str().unwrap(), reply["id"].as_str().unwrap());
    crate::web_admin::admin_user(&t, "root").await;
    // An event and a discussion hour in the group, run to its first prompt.
    let starts = (chrono::Utc::now() + chrono::Duration::days(3)).to_rfc3339();
    let body = json!({"name": "Study day", "description": "Bring a laptop", "start_time": starts, "group_id": gid,
                      "capacity": 20, "join_mode": "restricted", "place": {"name": "Reading room", "locality": "Leeds"}});
    let (_, event) = call(M::POST, &t, "/api/guildhall/v1/events", Some(&modt), Some(body)).await;
    let event = event["id"].as_str().unwrap().to_owned();
    call(
        M::POST,
        &t,
        &format!("/api/guildhall/v1/events/{event}/join"),
        Some(&tok),
        Some(json!({"message": "Hi"})),
    )
    .await;
    let body = json!({"title": "Museum Hour", "hashtag": "MuseumHour", "rrule": "FREQ=WEEKLY;BYDAY=MO",
                      "dtstart": "2026-01-05T20:00", "timezone": "Europe/London", "duration_minutes": 60,
                      "intro": "Welcome", "prompts": [{"offset_seconds": 60, "text": "What changed?"}]});
    let (_, hour) =
        call(M::POST, &t, &format!("/api/guildhall/v1/groups/{gid}/hours"), Some(&modt), Some(body)).await;
    let (hour, edition) =
        (hour["id"].as_str().unwrap().to_owned(), hour["editions"][0]["id"].as_str().unwrap().to_owned());
    let first =
        chrono::DateTime::parse_from_rfc3339(hour_start(&t, &hour).await.as_str()).unwrap().naive_utc();
    t.instance.scheduler().flush_as_of(first + chrono::Duration::seconds(61)).await.unwrap();

    let stranger = driver.browser(true).await;
    // The check itself works: a page with faults has them found.
    stranger.go("data:text/html,<html><body><img src=x><input id=unlabelled></body></html>").await;
    let faults = axe_violations(&stranger, &axe).await.join("\n");
    assert!(faults.contains("image-alt") && faults.contains("html-has-lang"), "{faults}");

    let mut violations = Vec::new();
    let (reset, unsubscribe) = crate::web_mail::signed_links(&t, "ada").await;
    for page in [
        t.url("/auth/password/new"),
        t.url(&reset),
        t.url(&unsubscribe),
        t.url("/auth/confirmation?confirmation_token=1-2-3"),
        t.url("/"),
        t.url("/groups"),
        t.url("/@mcg"),
        thread.clone(),
        t.url("/@ada"),
        t.url("/auth/sign_in"),
        t.url("/auth/sign_up"),
        t.url("/events"),
        t.url(&format!("/events/{event}")),
        t.url(&format!("/hours/{hour}")),
        t.url(&format!("/hours/{hour}/editions/{edition}")),
    ] {
        stranger.go(&page).await;
        assert_eq!(stranger.url().await, page, "the page itself, not a redirect");
        violations.extend(axe_violations(&stranger, &axe).await);
    }
    let member = driver.browser(true).await;
    sign_in(&member, &t, "ada").await;
    for page in [
        t.url("/home"),
        t.url("/settings"),
        t.url("/settings/sessions"),
        t.url("/notifications"),
        t.url("/notifications/requests"),
        thread.clone(),
        t.url(&format!("/statuses/{own}/edit")),
        t.url(&format!("/events/{event}")),
        t.url("/events/new?group=mcg"),
        // Last: the report sent below is sent from this page.
        t.url(&format!("/statuses/{others}/report")),
    ] {
        member.go(&page).await;
        assert_eq!(member.url().await, page, "the page itself, not a redirect");
        violations.extend(axe_violations(&member, &axe).await);
    }
    // A report sent from that form, for the admin's page to list.
    member.type_into(&member.find("#report-comment").await, "Testing the report list").await;
    member.click_to_load(&member.button("Send the report").await).await;
    let moderator = driver.browser(true).await;
    sign_in(&moderator, &t, "mod").await;
    for page in [
        t.url("/@mcg/moderation"),
        thread.clone(),
        t.url("/@mcg"),
        t.url(&format!("/events/{event}")),
        t.url(&format!("/events/{event}/edit")),
        t.url("/@mcg/hours/new"),
    ] {
        moderator.go(&page).await;
        assert_eq!(moderator.url().await, page, "the page itself, not a redirect");
        violations.extend(axe_violations(&moderator, &axe).await);
    }
    let admin = driver.browser(true).await;
    sign_in(&admin, &t, "root").await;
    admin.go(&t.url("/admin")).await;
    admin.type_into(&admin.find("#block-domain").await, "spam.example").await;
    admin.type_into(&admin.find("#block-public").await, "Follower-selling spam").await;
    admin.click_to_load(&admin.button("Block the domain").await).await;
    let page = admin.text_of("main").await;
    assert!(page.contains("spam.example") && page.contains("Reports (1)"), "{page}");
    violations.extend(axe_violations(&admin, &axe).await);
    admin.go(&t.url("/admin/federation")).await;
    violations.extend(axe_violations(&admin, &axe).await);
    // A wrong password's page, with its error.
    stranger.go(&t.url("/auth/sign_in")).await;
    stranger.type_into(&stranger.find("#login").await, "ada").await;
    stranger.type_into(&stranger.find("#password").await, "nope nope").await;
    stranger.click_to_load(&stranger.button("Sign in").await).await;
    stranger.find(".error").await;
    violations.extend(axe_violations(&stranger, &axe).await);

    assert!(violations.is_empty(), "axe-core found:\n{}", violations.join("\n"));
    for b in [stranger, member, moderator, admin] {
        b.quit().await;
    }
    t.instance.stop().await.unwrap();
}

/// A PNG file's bytes from the base64 WebDriver sends them in (standard alphabet, padded).
fn base64_decode(text: &str) -> Vec<u8> {
    let value = |c: u8| match c {
        b'A'..=b'Z' => c - b'A',
        b'a'..=b'z' => c - b'a' + 26,
        b'0'..=b'9' => c - b'0' + 52,
        b'+' => 62,
        b'/' => 63,
        _ => panic!("not base64: {:?}", c as char),
    };
    let digits: Vec<u8> =
        text.bytes().filter(|c| !c.is_ascii_whitespace() && *c != b'=').map(value).collect();
    let mut out = Vec::with_capacity(digits.len() * 3 / 4);
    for chunk in digits.chunks(4) {
        let mut bits = 0u32;
        for (i, d) in chunk.iter().enumerate() {
            bits |= u32::from(*d) << (18 - 6 * i);
        }
        let bytes = bits.to_be_bytes();
        out.extend_from_slice(&bytes[1..chunk.len()]);
    }
    out
}

impl Browser<'_> {
    /// Saves the page as `dir/{name}-desktop.png` (1280 wide) and `dir/{name}-phone.png` (390
    /// wide), each as tall as the page (within reason). Needs script on, to measure the page;
    /// best in a browser started with [`SHOTS`].
    async fn capture(&self, dir: &std::path::Path, name: &str) {
        for (size, width, min_height) in [("desktop", 1280, 900), ("phone", 390, 844)] {
            let measure = "return [document.documentElement.scrollHeight, \
                           window.outerHeight - window.innerHeight, window.innerWidth, \
                           document.documentElement.scrollWidth]";
            // Until the window is as tall as the page: once it is, the scrollbar goes and the
            // text has more room.
            let mut height = min_height;
            let mut sizes = Value::Null;
            for _ in 0..4 {
                self.must(M::POST, "/window/rect", json!({"width": width, "height": height})).await;
                sizes = self.must(M::POST, "/execute/sync", json!({"script": measure, "args": []})).await;
                let number = |i: usize| sizes[i].as_i64().unwrap_or_else(|| panic!("{sizes}"));
                assert_eq!(number(2), width, "the window is {width} wide inside: {sizes}");
                let fits = number(0).clamp(min_height, 4000) + number(1);
                if fits == height {
                    break;
                }
                height = fits;
            }
            let png = self.get("/screenshot").await;
            let file = dir.join(format!("{name}-{size}.png"));
            std::fs::write(&file, base64_decode(png.as_str().unwrap())).unwrap();
            // A page wider than the window would scroll sideways: worth a look.
            println!("{}: [page height, window chrome, width, page width] {sizes}", file.display());
        }
        self.must(M::POST, "/window/rect", json!({"width": 1280, "height": 900})).await;
    }
}

/// Screenshots show no scrollbars.
const SHOTS: &[&str] = &["--hide-scrollbars"];

/// `who` on `t` posts `body` through the API; the status made.
async fn post(t: &TestInstance, who: &str, body: Value) -> Value {
    let tok = token(t, who, "read write").await;
    let (s, made) = call(M::POST, t, "/api/v1/statuses", Some(&tok), Some(body)).await;
    assert_eq!(s, 200, "{made}");
    made
}

/// Not a check but a capture: with `GUILDHALL_SCREENSHOTS=DIR` set, screenshots of the pages
/// only a signed-in member, a group's moderator or an admin sees, over realistic content, at
/// desktop and phone widths (`docs/screens/` holds the last capture; the public pages are
/// `browser.rs`'s). Without the variable it returns at once.
#[tokio::test]
async fn browser_screenshots_of_the_signed_in_pages() {
    let Some(dir) = std::env::var_os("GUILDHALL_SCREENSHOTS") else { return };
    let dir = PathBuf::from(dir);
    std::fs::create_dir_all(&dir).unwrap();
    let Some(driver) = Driver::start().await else { return };
    let cluster = Cluster::start(2).await;
    let [a, b] = &cluster.nodes[..] else { unreachable!() };
    crate::web_admin::admin_user(a, "root").await;
    let ada_actor = a.user("ada").await;
    a.user("mod").await;
    let mallory_id = a.user("mallory").await.id;
    a.user("cy").await;
    let bob_actor = b.user("bob").await;
    for (t, name, display, note) in [
        (a, "ada", "Ada Okafor", "Digital collections at a city museum. Ledgers, catalogues, APIs."),
        (a, "mod", "Margaret Hale", "Keeps the Museum Computer Group ticking over."),
        (a, "mallory", "Watch Deals", ""),
        (a, "cy", "Cy Marsh", "Archivist, new to all this."),
        (b, "bob", "Bob Finch", "Collections manager in the basement."),
    ] {
        let tok = token(t, name, "read write follow").await;
        let me = json!({"display_name": display, "note": note});
        let (s, body) = call(M::PATCH, t, "/api/v1/accounts/update_credentials", Some(&tok), Some(me)).await;
        assert_eq!(s, 200, "{body}");
    }

    // The admin names the server and writes its rules on the admin page, and blocks a domain.
    let root = driver.browser_with(true, SHOTS).await;
    sign_in(&root, a, "root").await;
    root.go(&a.url("/admin")).await;
    let settings: [(&str, &str); 4] = [
        ("#site-title", "Museum Computer Group"),
        (
            "#site-description",
            "A home on the fediverse for people who work with technology in museums, galleries, \
             libraries and archives.",
        ),
        ("#site-rules", "Be kind and assume good faith\nCredit the work of others"),
        ("#site-contact", "admin@museum.example"),
    ];
    for (field, text) in settings {
        let e = root.find(field).await;
        root.clear(&e).await;
        root.type_into(&e, text).await;
    }
    root.click(&root.find("#site-registrations option[value=approval]").await).await;
    root.click_to_load(&root.button("Save").await).await;
    let title = root.find("#site-title").await;
    assert_eq!(root.property(&title, "value").await, json!("Museum Computer Group"), "{}", root.main().await);
    root.type_into(&root.find("#block-domain").await, "spam.example").await;
    root.type_into(&root.find("#block-public").await, "Follower-selling spam").await;
    root.type_into(&root.find("#block-private").await, "Ticket 42: three waves in March").await;
    root.click_to_load(&root.button("Block the domain").await).await;
    assert!(root.text_of("main").await.contains("spam.example"), "{}", root.main().await);

    // The group, its members, and one still waiting.
    let tok = token(a, "mod", "read write follow").await;
    let guild = json!({"name": "mcg", "display_name": "Museum Computer Group", "membership": "approval",
                       "description": "Digital work in museums, galleries and archives. \
                                       #MuseumHour every Tuesday at 8pm.",
                       "rules": ["Be kind and assume good faith", "Credit the work of others",
                                 "No selling"]});
    let (s, g) = call(M::POST, a, "/api/guildhall/v1/groups", Some(&tok), Some(guild)).await;
    assert_eq!(s, 200, "{g}");
    let gid = g["id"].as_str().unwrap().to_owned();
    join_by_api(a, &gid, "mod", "ada", ada_actor.id).await;
    join_by_api(a, &gid, "mod", "mallory", mallory_id).await;
    let cy = token(a, "cy", "read write follow").await;
    call(M::POST, a, &format!("/api/v1/accounts/{gid}/follow"), Some(&cy), None).await;

    // bob, on the other server, and ada follow each other.
    use guildhall_federation::actions;
    let ada_at_b = actions::resolve_actor(&b.fed(), &a.handle("ada")).await.unwrap();
    actions::follow(&b.fed(), &bob_actor, &ada_at_b).await.unwrap();
    let bob_at_a = actions::resolve_actor(&a.fed(), &b.handle("bob")).await.unwrap();
    actions::follow(&a.fed(), &ada_actor, &bob_at_a).await.unwrap();
    cluster.flush().await;

    // Posts: the moderator opens tonight's #MuseumHour, ada answers, others reply.
    post(
        a,
        "mod",
        json!({"status": "@mcg Welcome to tonight's #MuseumHour! Q1: what did digitising your \
                          collection change for your visitors?"}),
    )
    .await;
    let ada_post = post(
        a,
        "ada",
        json!({"status": "@mcg Q1: our collections search went from 200 visits a month to 9,000, \
                          and most of them are family historians, not scholars. #MuseumHour"}),
    )
    .await;
    let spam = post(a, "mallory", json!({"status": "@mcg Cheap watches, genuine replicas!!"})).await;
    post(
        b,
        "bob",
        json!({"status": "Cataloguing the 1851 ledgers this week. Half the ink has faded to brown. \
                          #MuseumHour"}),
    )
    .await;
    let ada_post_id = ada_post["id"].as_str().unwrap().to_owned();
    post(
        a,
        "mod",
        json!({"status": format!("@{} Same for us: the family historians found us before the \
                                  scholars did.", a.handle("ada")),
               "in_reply_to_id": ada_post_id}),
    )
    .await;
    cluster.flush().await;
    let at_b = actions::resolve_status(&b.fed(), ada_post["uri"].as_str().unwrap()).await.unwrap();
    post(
        b,
        "bob",
        json!({"status": format!("@{} We see the same. Did you change the search page for them?",
                                 a.handle("ada")),
               "in_reply_to_id": at_b.id.to_string()}),
    )
    .await;
    let bob_tok = token(b, "bob", "read write").await;
    call(M::POST, b, &format!("/api/v1/statuses/{}/favourite", at_b.id), Some(&bob_tok), None).await;
    call(M::POST, b, &format!("/api/v1/statuses/{}/reblog", at_b.id), Some(&bob_tok), None).await;
    let mod_tok = token(a, "mod", "read write").await;
    call(M::POST, a, &format!("/api/v1/statuses/{ada_post_id}/favourite"), Some(&mod_tok), None).await;
    cluster.flush().await;

    // ada reports the spam in the group through its form.
    let ada = driver.browser_with(true, SHOTS).await;
    sign_in(&ada, a, "ada").await;
    ada.go(&a.url(&format!("/statuses/{}/report", spam["id"].as_str().unwrap()))).await;
    ada.type_into(&ada.find("#report-comment").await, "Selling watches again; not what the group is for.")
        .await;
    ada.click_to_load(&ada.button("Send the report").await).await;
    // A second session of ada's, on another browser, for the sessions page.
    crate::web_members::Browser::new(a).sign_in("ada", true).await;
    cluster.flush().await;

    // The member's pages.
    ada.go(&a.url("/home")).await;
    assert!(ada.text_of("main").await.contains("family historians"), "{}", ada.main().await);
    ada.capture(&dir, "member-home").await;
    ada.go(&a.url(&format!("/@ada/{ada_post_id}"))).await;
    let replies = ada.text_of("section.replies").await;
    assert!(replies.contains("search page for them"), "bob's reply came: {replies}");
    ada.find("#reply-form-text").await;
    ada.capture(&dir, "member-thread").await;
    for (page, name) in [
        ("/notifications", "member-notifications"),
        ("/settings", "member-settings"),
        ("/settings/sessions", "member-sessions"),
    ] {
        ada.go(&a.url(page)).await;
        ada.capture(&dir, name).await;
    }

    // The moderator's page: a join request, a report, members, the log.
    let moderator = driver.browser_with(true, SHOTS).await;
    sign_in(&moderator, a, "mod").await;
    moderator.go(&a.url("/@mcg/moderation")).await;
    let page = moderator.text_of("main").await;
    assert!(page.contains("Join requests (1)") && page.contains("Cheap watches"), "{page}");
    moderator.capture(&dir, "moderator-moderation").await;

    // The admin's pages.
    root.go(&a.url("/admin")).await;
    assert!(root.text_of("main").await.contains("Reports (1)"), "{}", root.main().await);
    root.capture(&dir, "admin").await;
    root.go(&a.url("/admin/federation")).await;
    root.capture(&dir, "admin-federation").await;

    // And the sign-in page, for a stranger.
    let stranger = driver.browser_with(true, SHOTS).await;
    stranger.go(&a.url("/auth/sign_in")).await;
    stranger.find("#login").await;
    stranger.capture(&dir, "sign-in").await;

    for browser in [ada, moderator, root, stranger] {
        browser.quit().await;
    }
    cluster.stop().await;
}
