//! Mail against a real SMTP server on loopback (Python's aiosmtpd, `smtp_sink.py`): what
//! members and e-mail followers receive, the headers lists need, one-click unsubscribe,
//! digests, replies by mail from real clients' MIME shapes, and a restart with mail queued.

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use guildhall_mail::receive::Outcome;
use mail_parser::MessageParser;
use reqwest::Method as M;
use serde_json::{Value, json};

use crate::client_api::{call, token};
use crate::support::{Backend, TestInstance, config_with, http};

/// aiosmtpd writing each accepted message to a directory.
pub(crate) struct Sink {
    child: Child,
    pub(crate) port: u16,
    dir: tempfile::TempDir,
}

impl Sink {
    /// Starts the server; `refuse` first messages are answered 451.
    pub(crate) fn start(refuse: usize) -> Sink {
        let dir = tempfile::tempdir().unwrap();
        let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/e2e/smtp_sink.py");
        let mut child = Command::new("python3")
            .arg(script)
            .arg(dir.path())
            .arg(refuse.to_string())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("python3 with aiosmtpd (pip install aiosmtpd) runs the SMTP server of the mail tests");
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
        let port = line
            .strip_prefix("ready ")
            .and_then(|p| p.trim().parse().ok())
            .unwrap_or_else(|| panic!("the SMTP sink did not start (is aiosmtpd installed?): {line:?}"));
        Sink { child, port, dir }
    }

    pub(crate) fn url(&self) -> String {
        format!("smtp://127.0.0.1:{}", self.port)
    }

    /// Every message received so far, oldest first.
    pub(crate) fn messages(&self) -> Vec<Mail> {
        read_dir(self.dir.path())
    }

    /// Messages to `to`.
    pub(crate) fn to(&self, to: &str) -> Vec<Mail> {
        self.messages().into_iter().filter(|m| m.envelope_to == to).collect()
    }
}

impl Drop for Sink {
    fn drop(&mut self) {
        if let Some(mut stdin) = self.child.stdin.take() {
            let _ = stdin.flush();
        }
        let _ = self.child.wait();
    }
}

/// One received message, parsed.
#[derive(Debug, Clone)]
pub(crate) struct Mail {
    pub(crate) raw: String,
    pub(crate) envelope_to: String,
}

impl Mail {
    pub(crate) fn header(&self, name: &str) -> Option<String> {
        let message = MessageParser::default().parse(self.raw.as_bytes()).unwrap();
        message.header_raw(name).map(|v| v.trim().to_owned())
    }

    pub(crate) fn subject(&self) -> String {
        MessageParser::default().parse(self.raw.as_bytes()).unwrap().subject().unwrap_or_default().to_owned()
    }

    pub(crate) fn text(&self) -> String {
        let message = MessageParser::default().parse(self.raw.as_bytes()).unwrap();
        message.body_text(0).unwrap_or_default().replace("\r\n", "\n")
    }

    pub(crate) fn html(&self) -> String {
        let message = MessageParser::default().parse(self.raw.as_bytes()).unwrap();
        message.body_html(0).unwrap_or_default().into_owned()
    }

    /// The address in `Reply-To`.
    pub(crate) fn reply_to(&self) -> String {
        let message = MessageParser::default().parse(self.raw.as_bytes()).unwrap();
        let reply = message.reply_to().and_then(|a| a.first()).and_then(|a| a.address()).unwrap_or_default();
        reply.to_owned()
    }

    /// The first link in the text part that starts with `prefix`.
    pub(crate) fn link(&self, prefix: &str) -> String {
        let text = self.text();
        let start = text.find(prefix).unwrap_or_else(|| panic!("no {prefix} link in:\n{text}"));
        text[start..].split_whitespace().next().unwrap().to_owned()
    }
}

pub(crate) fn read_dir(dir: &Path) -> Vec<Mail> {
    let mut names: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|d| d.filter_map(|e| e.ok().map(|e| e.path())).collect())
        .unwrap_or_default();
    names.retain(|p| p.extension().is_some_and(|e| e == "eml"));
    names.sort();
    names
        .into_iter()
        .map(|p| {
            let raw = std::fs::read_to_string(&p).unwrap();
            let envelope_to = raw
                .lines()
                .find_map(|l| l.strip_prefix("X-Envelope-To: "))
                .or_else(|| raw.lines().find_map(|l| l.strip_prefix("To: ")))
                .unwrap_or_default()
                .trim()
                .to_owned();
            Mail { raw, envelope_to }
        })
        .collect()
}

/// An instance mailing through `sink`.
pub(crate) async fn instance_with(sink: &Sink, extra: &[(&str, &str)]) -> TestInstance {
    let mut settings = vec![
        ("GUILDHALL_SMTP_URL", sink.url()),
        ("GUILDHALL_MAIL_FROM", "\"Museum Guild\" <notifications@localhost>".into()),
    ];
    settings.extend(extra.iter().map(|(k, v)| (*k, v.to_string())));
    let pairs: Vec<(&str, &str)> = settings.iter().map(|(k, v)| (*k, v.as_str())).collect();
    TestInstance::start_with(&Backend::Sqlite, &pairs).await
}

async fn flush(t: &TestInstance) {
    t.instance.mail().flush().await.unwrap();
}

async fn post(t: &TestInstance, token: &str, body: Value) -> Value {
    let (s, status) = call(M::POST, t, "/api/v1/statuses", Some(token), Some(body)).await;
    assert_eq!(s, 200, "{status}");
    status
}

async fn group(t: &TestInstance, owner: &str, name: &str) -> Value {
    let (s, group) =
        call(M::POST, t, "/api/guildhall/v1/groups", Some(owner), Some(json!({"name": name}))).await;
    assert_eq!(s, 200, "{group}");
    group
}

async fn join(t: &TestInstance, token: &str, group: &Value) {
    let path = format!("/api/v1/accounts/{}/follow", group["id"].as_str().unwrap());
    let (s, rel) = call(M::POST, t, &path, Some(token), None).await;
    assert_eq!(s, 200, "{rel}");
}

/// Fills in a captured reply shape from `tests/fixtures/mail/`.
fn fixture(name: &str, reply_to: &str, from: &str, message_id: &str) -> Vec<u8> {
    let path = format!("{}/tests/fixtures/mail/{name}", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).unwrap();
    text.replace("{{REPLY_TO}}", reply_to)
        .replace("{{FROM}}", from)
        .replace("{{MESSAGE_ID}}", message_id)
        .into_bytes()
}

async fn status_text(t: &TestInstance, id: i64) -> (String, Option<i64>, i64) {
    let s = t.instance.db().run(move |c| guildhall_storage::statuses::get(c, id)).await.unwrap();
    (s.content, s.in_reply_to_id, s.actor_id)
}

#[tokio::test]
async fn a_mention_arrives_with_list_headers_and_replies_by_mail_become_replies() {
    let sink = Sink::start(0);
    let t = instance_with(&sink, &[]).await;
    t.user("ada").await;
    let bob = t.user("bob").await;
    let ada_token = token(&t, "ada", "read write").await;
    let mention = post(&t, &ada_token, json!({"status": "@bob are you coming to the study day?"})).await;
    flush(&t).await;

    let mails = sink.to("bob@museum.example");
    assert_eq!(mails.len(), 1, "{:?}", sink.messages());
    let mail = &mails[0];
    let id = mention["id"].as_str().unwrap();
    assert_eq!(mail.header("Message-ID").unwrap(), format!("<status-{id}@localhost>"));
    assert!(mail.header("From").unwrap().contains("<notifications@localhost>"), "{:?}", mail.header("From"));
    assert!(mail.header("List-Id").unwrap().contains("<notifications.localhost>"));
    let unsubscribe = mail.header("List-Unsubscribe").unwrap();
    assert!(unsubscribe.starts_with(&format!("<{}/mail/unsubscribe/", t.url(""))), "{unsubscribe}");
    assert_eq!(mail.header("List-Unsubscribe-Post").unwrap(), "List-Unsubscribe=One-Click");
    assert_eq!(mail.header("Auto-Submitted").unwrap(), "auto-generated");
    assert!(
        mail.reply_to().starts_with("reply+") && mail.reply_to().ends_with("@localhost"),
        "{}",
        mail.reply_to()
    );
    assert!(mail.text().contains("@bob are you coming to the study day?"), "{}", mail.text());
    assert!(mail.html().contains("are you coming to the study day?"));
    assert_eq!(mail.subject(), "@bob are you coming to the study day?");

    // Each client's reply: only the new text is posted, as bob, in reply to the mention.
    let receiver = t.instance.mail_receiver();
    let shapes = [
        ("gmail.eml", "Count me in for the study day. I can bring the scanner."),
        ("outlook.eml", ""),
        ("apple-mail.eml", ""),
    ];
    for (n, (shape, expected)) in shapes.iter().enumerate() {
        let raw = fixture(shape, &mail.reply_to(), "bob@museum.example", &format!("status-{id}@localhost"));
        let raw = String::from_utf8(raw).unwrap().replace("Message-ID: <", &format!("Message-ID: <{n}."));
        let parsed = guildhall_mail::inbound::parse(raw.as_bytes(), &Default::default()).unwrap();
        let outcome = receiver.receive(raw.as_bytes(), &[]).await.unwrap();
        let Outcome::Posted { status_id } = outcome else { panic!("{shape}: {outcome:?}") };
        let (content, parent, author) = status_text(&t, status_id).await;
        assert_eq!(parent, Some(id.parse().unwrap()), "{shape}");
        assert_eq!(author, bob.id, "{shape}");
        let new_text = if expected.is_empty() { parsed.text.clone() } else { expected.to_string() };
        assert!(!new_text.is_empty());
        let plain = guildhall_core::text::strip_html(&content);
        assert!(plain.contains(new_text.lines().next().unwrap()), "{shape}: {plain}");
        assert!(
            !plain.contains("wrote:") && !plain.contains("are you coming"),
            "{shape} kept the quote: {plain}"
        );
    }
    // The same message delivered twice posts once.
    let raw = fixture("gmail.eml", &mail.reply_to(), "bob@museum.example", &format!("status-{id}@localhost"));
    let Outcome::Posted { status_id: first } = receiver.receive(&raw, &[]).await.unwrap() else { panic!() };
    let Outcome::Posted { status_id: again } = receiver.receive(&raw, &[]).await.unwrap() else { panic!() };
    assert_eq!(first, again);
}

#[tokio::test]
async fn replies_from_another_sender_are_refused_and_automatic_mail_is_dropped() {
    let sink = Sink::start(0);
    let t = instance_with(&sink, &[]).await;
    t.user("ada").await;
    t.user("bob").await;
    let ada_token = token(&t, "ada", "read write").await;
    let mention = post(&t, &ada_token, json!({"status": "@bob hello"})).await;
    flush(&t).await;
    let mail = sink.to("bob@museum.example").pop().unwrap();
    let id = mention["id"].as_str().unwrap();
    let receiver = t.instance.mail_receiver();
    let count = || async {
        let (_, ctx) =
            call(M::GET, &t, &format!("/api/v1/statuses/{id}/context"), Some(&ada_token), None).await;
        ctx["descendants"].as_array().unwrap().len()
    };

    let forged = fixture("gmail.eml", &mail.reply_to(), "mallory@elsewhere.example", "x@y");
    assert!(matches!(receiver.receive(&forged, &[]).await.unwrap(), Outcome::Refused(_)));
    // A key for bob's address altered to name another status is not ours.
    let reply_to = mail.reply_to();
    let at = reply_to.find('-').unwrap() - 1;
    let flipped = if &reply_to[at..=at] == "1" { "2" } else { "1" };
    let tampered = format!("{}{flipped}{}", &reply_to[..at], &reply_to[at + 1..]);
    let raw = fixture("gmail.eml", &tampered, "bob@museum.example", "x@y");
    assert!(matches!(receiver.receive(&raw, &[]).await.unwrap(), Outcome::Refused(_)));
    for shape in ["out-of-office.eml", "bounce.eml"] {
        let raw = fixture(shape, &mail.reply_to(), "bob@museum.example", "x@y");
        let outcome = receiver.receive(&raw, &[]).await.unwrap();
        assert!(matches!(outcome, Outcome::Dropped(_)), "{shape}: {outcome:?}");
    }
    assert_eq!(count().await, 0, "nothing was posted");
}

#[tokio::test]
async fn replies_arrive_by_the_mta_pipe_and_by_the_smtp_listener_with_photos() {
    let sink = Sink::start(0);
    let t = instance_with(&sink, &[("GUILDHALL_MAIL_LISTEN", "127.0.0.1:0")]).await;
    t.user("ada").await;
    t.user("bob").await;
    let ada_token = token(&t, "ada", "read write").await;
    let mention = post(&t, &ada_token, json!({"status": "@bob send a photo of the object?"})).await;
    flush(&t).await;
    let mail = sink.to("bob@museum.example").pop().unwrap();
    let id = mention["id"].as_str().unwrap();

    // `guildhall mail receive`, as an MTA's pipe runs it, on the same database.
    let config = t.instance.config();
    let raw = fixture("gmail.eml", &mail.reply_to(), "bob@museum.example", "a@b");
    let mut child = Command::new(env!("CARGO_BIN_EXE_guildhall"))
        .args(["mail", "receive", "--recipient", &mail.reply_to()])
        .env("GUILDHALL_DOMAIN", config.domain.to_string())
        .env("GUILDHALL_DATA_DIR", &config.data_dir)
        .env("GUILDHALL_MAIL_FROM", "notifications@localhost")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(&raw).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stdout).starts_with("posted as status"));
    // A forged sender is refused with sysexits' EX_NOUSER (the MTA bounces it).
    let forged = fixture("gmail.eml", &mail.reply_to(), "mallory@elsewhere.example", "c@d");
    let mut child = Command::new(env!("CARGO_BIN_EXE_guildhall"))
        .args(["mail", "receive"])
        .env("GUILDHALL_DOMAIN", config.domain.to_string())
        .env("GUILDHALL_DATA_DIR", &config.data_dir)
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(&forged).unwrap();
    assert_eq!(child.wait_with_output().unwrap().status.code(), Some(67));

    // The SMTP listener, sent to by a real SMTP client; the photo becomes an attachment with
    // its file name as alt text.
    use lettre::{AsyncSmtpTransport, AsyncTransport, Tokio1Executor, address::Envelope};
    let port = t.instance.mail_port().unwrap();
    let smtp = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous("127.0.0.1").port(port).build();
    let raw = fixture("apple-mail-photo.eml", &mail.reply_to(), "bob@museum.example", "e@f");
    let envelope =
        Envelope::new(Some("bob@museum.example".parse().unwrap()), vec![mail.reply_to().parse().unwrap()])
            .unwrap();
    smtp.send_raw(&envelope, &raw).await.unwrap();
    // Not our reply address: refused while the sender waits.
    let stranger =
        Envelope::new(Some("bob@museum.example".parse().unwrap()), vec!["bob@localhost".parse().unwrap()])
            .unwrap();
    assert!(smtp.send_raw(&stranger, &raw).await.is_err());

    let (_, ctx) = call(M::GET, &t, &format!("/api/v1/statuses/{id}/context"), Some(&ada_token), None).await;
    let replies = ctx["descendants"].as_array().unwrap();
    assert_eq!(replies.len(), 2, "{ctx}");
    let with_photo = replies.iter().find(|r| !r["media_attachments"].as_array().unwrap().is_empty()).unwrap();
    let media = &with_photo["media_attachments"][0];
    assert_eq!(media["type"], "image");
    assert!(!media["description"].as_str().unwrap().is_empty(), "{media}");
}

#[tokio::test]
async fn one_click_unsubscribe_by_post_stops_the_next_mail() {
    let sink = Sink::start(0);
    let t = instance_with(&sink, &[]).await;
    t.user("ada").await;
    t.user("bob").await;
    let ada_token = token(&t, "ada", "read write").await;
    post(&t, &ada_token, json!({"status": "@bob first"})).await;
    flush(&t).await;
    let mail = sink.to("bob@museum.example").pop().unwrap();
    let url = mail.header("List-Unsubscribe").unwrap().trim_matches(['<', '>']).to_owned();
    // RFC 8058: a POST with no cookie, no session, no CSRF token.
    let res = http()
        .post(&url)
        .header("Content-Type", "application/x-www-form-urlencoded")
        .body("List-Unsubscribe=One-Click")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    // A forged key changes nothing.
    let res = http().post(format!("{}0", url)).body("List-Unsubscribe=One-Click").send().await.unwrap();
    assert_eq!(res.status(), 404);
    post(&t, &ada_token, json!({"status": "@bob second"})).await;
    flush(&t).await;
    assert_eq!(sink.to("bob@museum.example").len(), 1, "no mail after unsubscribing");
    let bob_token = token(&t, "bob", "read").await;
    let (_, prefs) = call(M::GET, &t, "/api/guildhall/v1/preferences/email", Some(&bob_token), None).await;
    assert_eq!(prefs["mentions"], false, "{prefs}");
    assert_eq!(prefs["follow_requests"], true, "{prefs}");
}

#[tokio::test]
async fn an_email_follower_gets_posts_after_confirming_and_none_before() {
    let sink = Sink::start(0);
    let t = instance_with(&sink, &[]).await;
    t.user("mod").await;
    t.user("ada").await;
    let mod_token = token(&t, "mod", "read write").await;
    let ada_token = token(&t, "ada", "read write").await;
    let mcg = group(&t, &mod_token, "mcg").await;
    join(&t, &ada_token, &mcg).await;

    let group_id: i64 = mcg["id"].as_str().unwrap().parse().unwrap();
    let delivery = guildhall_storage::mail::Delivery {
        mode: guildhall_core::mail::GroupMailMode::EveryPost,
        timezone: "UTC".into(),
        hour: 8,
    };
    t.instance
        .db()
        .run(move |c| {
            guildhall_storage::mail::subscribe_address(c, group_id, "reader@library.example", delivery)
        })
        .await
        .unwrap();
    post(&t, &ada_token, json!({"status": "@mcg Before confirming: nothing for the reader."})).await;
    flush(&t).await;
    let mails = sink.to("reader@library.example");
    assert_eq!(mails.len(), 1, "only the confirmation");
    let confirm = mails[0].link(&t.url("/mail/confirm/"));
    let res = http().post(&confirm).send().await.unwrap();
    assert_eq!(res.status(), 200);

    let thread = post(&t, &ada_token, json!({"status": "@mcg Who is going to the conference?"})).await;
    flush(&t).await;
    let mails = sink.to("reader@library.example");
    assert_eq!(mails.len(), 2, "{mails:?}");
    let post_mail = &mails[1];
    assert!(post_mail.text().contains("Who is going to the conference?"));
    assert!(!post_mail.text().contains("Before confirming"));
    assert!(post_mail.header("List-Id").unwrap().contains("<mcg.localhost>"));
    assert_eq!(post_mail.header("List-Unsubscribe-Post").unwrap(), "List-Unsubscribe=One-Click");
    assert_eq!(post_mail.reply_to(), "", "no reply address for a reader without an account");

    // A reply threads under it.
    let id = thread["id"].as_str().unwrap();
    post(&t, &mod_token, json!({"status": "Me!", "in_reply_to_id": id})).await;
    flush(&t).await;
    let reply = sink.to("reader@library.example").pop().unwrap();
    assert_eq!(reply.header("In-Reply-To").unwrap(), format!("<status-{id}@localhost>"));
    assert!(reply.header("References").unwrap().contains(&format!("<status-{id}@localhost>")));
    assert!(reply.subject().starts_with("Re: "), "{}", reply.subject());
    // Posts mention the group; its moderators are not mailed each one as a mention.
    assert!(sink.to("mod@museum.example").is_empty(), "{:?}", sink.to("mod@museum.example"));
}

#[tokio::test]
async fn a_daily_digest_holds_exactly_the_days_threads() {
    let sink = Sink::start(0);
    let t = instance_with(&sink, &[]).await;
    t.user("mod").await;
    t.user("ada").await;
    t.user("cy").await;
    let mod_token = token(&t, "mod", "read write").await;
    let ada_token = token(&t, "ada", "read write").await;
    let cy_token = token(&t, "cy", "read write").await;
    let mcg = group(&t, &mod_token, "mcg").await;
    join(&t, &ada_token, &mcg).await;
    join(&t, &cy_token, &mcg).await;
    let body = json!({"group_id": mcg["id"], "mode": "daily", "hour": 7, "timezone": "Europe/London"});
    let (s, prefs) =
        call(M::PATCH, &t, "/api/guildhall/v1/preferences/email", Some(&cy_token), Some(body)).await;
    assert_eq!(s, 200, "{prefs}");
    assert_eq!(prefs["groups"][0]["mode"], "daily");

    let first = post(&t, &ada_token, json!({"status": "@mcg Day one: the collections audit"})).await;
    post(&t, &mod_token, json!({"status": "@mcg Anyone using IIIF viewers?"})).await;
    post(&t, &mod_token, json!({"status": "Good luck", "in_reply_to_id": first["id"]})).await;
    flush(&t).await;
    assert!(sink.to("cy@museum.example").is_empty(), "nothing before the hour");

    let due = |after: chrono::NaiveDateTime| {
        guildhall_core::mail::next_digest(
            guildhall_core::mail::GroupMailMode::Daily,
            "Europe/London",
            7,
            after,
        )
        .unwrap()
    };
    let first_due = due(guildhall_storage::now());
    t.instance.mail().flush_as_of(first_due).await.unwrap();
    let digests = sink.to("cy@museum.example");
    assert_eq!(digests.len(), 1);
    let text = digests[0].text();
    assert!(text.contains("== New threads =="), "{text}");
    assert!(text.contains("Day one: the collections audit") && text.contains("1 reply"), "{text}");
    assert!(text.contains("Anyone using IIIF viewers?"), "{text}");
    assert!(text.contains("== Unanswered questions =="), "{text}");
    assert_eq!(text.matches("\n* ").count(), 3, "two threads and one unanswered question: {text}");
    assert!(digests[0].subject().contains("2 new threads"), "{}", digests[0].subject());
    assert!(digests[0].header("List-Unsubscribe").is_some());

    // The next day's digest: only what came after.
    post(&t, &ada_token, json!({"status": "@mcg Day two: a new thread"})).await;
    t.instance.mail().flush_as_of(due(first_due)).await.unwrap();
    let digests = sink.to("cy@museum.example");
    assert_eq!(digests.len(), 2);
    let text = digests[1].text();
    assert!(text.contains("Day two: a new thread"), "{text}");
    assert!(!text.contains("Day one") && !text.contains("IIIF"), "{text}");
}

#[tokio::test]
async fn a_restart_with_mail_queued_loses_none() {
    // The SMTP server refuses the first three messages; the instance restarts in between.
    let sink = Sink::start(3);
    let dir = tempfile::tempdir().unwrap();
    let settings = [("GUILDHALL_SMTP_URL", sink.url())];
    let pairs: Vec<(&str, &str)> = settings.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let start = |dir: PathBuf, pairs: Vec<(String, String)>| async move {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let pairs: Vec<(&str, &str)> = pairs.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        let config = config_with(&dir, port, &Backend::Sqlite, &pairs);
        let options = guildhall_api::HttpOptions {
            workers: Some(1),
            disable_signals: true,
            run_delivery: false,
            pages: None,
        };
        guildhall::Instance::start_on(config, listener, options).await.unwrap()
    };
    let owned: Vec<(String, String)> = pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
    let first = start(dir.path().to_owned(), owned.clone()).await;
    for name in ["ada", "bob", "cy", "dee"] {
        let new = guildhall_federation::local_actors::NewUser {
            username: name,
            email: &format!("{name}@museum.example"),
            password: "correct horse",
            role: guildhall_core::model::Role::User,
        };
        guildhall_federation::local_actors::create_user(
            first.db(),
            &guildhall_federation::Urls::new(first.config()),
            new,
        )
        .await
        .unwrap();
    }
    let base = format!("http://localhost:{}", first.port());
    let ada_token = crate::client_api::token_at(&base, "ada", "read write").await;
    for name in ["bob", "cy", "dee"] {
        let res = http()
            .post(format!("{base}/api/v1/statuses"))
            .bearer_auth(&ada_token)
            .json(&json!({"status": format!("@{name} the minutes are up")}))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200);
    }
    first.mail().flush().await.unwrap();
    assert!(sink.messages().is_empty(), "the server refused them all");
    first.stop().await.unwrap();

    let second = start(dir.path().to_owned(), owned).await;
    second.mail().flush_as_of(guildhall_storage::now() + chrono::Duration::hours(1)).await.unwrap();
    let mut to: Vec<String> = sink.messages().into_iter().map(|m| m.envelope_to).collect();
    to.sort();
    assert_eq!(to, ["bob@museum.example", "cy@museum.example", "dee@museum.example"], "each once");
    second.stop().await.unwrap();
}

#[tokio::test]
async fn a_reply_by_mail_in_a_members_only_group_stays_in_the_group() {
    let sink = Sink::start(0);
    let t = instance_with(&sink, &[]).await;
    for name in ["mod", "ada", "bob"] {
        t.user(name).await;
    }
    let mod_token = token(&t, "mod", "read write").await;
    let ada_token = token(&t, "ada", "read write").await;
    let bob_token = token(&t, "bob", "read write").await;
    let body = json!({"name": "circle", "visibility": "members"});
    let (s, circle) = call(M::POST, &t, "/api/guildhall/v1/groups", Some(&mod_token), Some(body)).await;
    assert_eq!(s, 200, "{circle}");
    join(&t, &ada_token, &circle).await;
    join(&t, &bob_token, &circle).await;
    let body = json!({"group_id": circle["id"], "mode": "every_post"});
    let (s, prefs) =
        call(M::PATCH, &t, "/api/guildhall/v1/preferences/email", Some(&bob_token), Some(body)).await;
    assert_eq!(s, 200, "{prefs}");
    let post = post(&t, &ada_token, json!({"status": "@circle Members only: the budget draft"})).await;
    flush(&t).await;
    let mail = sink.to("bob@museum.example").pop().expect("bob reads the circle by mail");
    assert!(mail.text().contains("the budget draft"));

    let raw = fixture("gmail.eml", &mail.reply_to(), "bob@museum.example", "m@n");
    let Outcome::Posted { status_id } = t.instance.mail_receiver().receive(&raw, &[]).await.unwrap() else {
        panic!("the reply was not posted")
    };
    let reply = t.instance.db().run(move |c| guildhall_storage::statuses::get(c, status_id)).await.unwrap();
    assert_eq!(
        reply.group_id,
        Some(circle["id"].as_str().unwrap().parse().unwrap()),
        "it stays in the group"
    );
    let id = post["id"].as_str().unwrap();
    let (_, ctx) = call(M::GET, &t, &format!("/api/v1/statuses/{id}/context"), Some(&ada_token), None).await;
    assert_eq!(ctx["descendants"].as_array().unwrap().len(), 1, "the other member sees it: {ctx}");
    let (s, _) = call(M::GET, &t, &format!("/api/v1/statuses/{status_id}"), None, None).await;
    assert_eq!(s, 404, "a stranger does not");
}
