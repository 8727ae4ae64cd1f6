//! Mail's pages in a browser without script: a forgotten password reset from the mailed link
//! (once), an address confirmed only by the button its link shows, one-click unsubscribing
//! as a mail client does it (no cookie, no token), following a group by mail with its double
//! opt-in, and a member's mail choices. And the other side: answers that do not tell whether
//! an address is known, forged keys, strangers, and forms without their token.

use reqwest::Method as M;
use serde_json::json;

use guildhall_core::mail::{MailCategory, Purpose, Signer, Unsubscribe};
use guildhall_storage::mail::{self as store, Delivery};

use crate::client_api::{call, token};
use crate::support::{Backend, TestInstance};
use crate::web_members::{Browser, hidden};

/// Runs the mail worker until nothing is left, so every mail queued is a file.
async fn flush_mail(t: &TestInstance) {
    while t.instance.mail().flush().await.unwrap() > 0 {}
}

/// Decodes quoted-printable soft breaks and escapes, so links read whole.
fn quoted_printable(raw: &str) -> String {
    let joined = raw.replace("=\n", "");
    let bytes = joined.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = bytes.get(i + 1..i + 3).and_then(|h| std::str::from_utf8(h).ok());
        match (bytes[i], hex.and_then(|h| u8::from_str_radix(h, 16).ok())) {
            (b'=', Some(b)) => {
                out.push(b);
                i += 3;
            }
            (b, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Decodes standard base64, skipping line breaks.
fn base64(text: &str) -> String {
    let alphabet = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let (mut bits, mut count, mut out) = (0u32, 0, Vec::new());
    for c in text.bytes() {
        let Some(v) = alphabet.iter().position(|a| *a == c) else { continue };
        bits = (bits << 6) | v as u32;
        count += 6;
        if count >= 8 {
            count -= 8;
            out.push((bits >> count) as u8);
            bits &= (1 << count) - 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// A message as a reader sees its text: quoted-printable undone, base64 parts decoded.
fn readable(raw: &str) -> String {
    let raw = raw.replace("\r\n", "\n");
    let mut text = quoted_printable(&raw);
    let mut rest = raw.as_str();
    while let Some(at) = rest.to_ascii_lowercase().find("content-transfer-encoding: base64") {
        let after = &rest[at..];
        let Some(start) = after.find("\n\n") else { break };
        let body = &after[start + 2..];
        let end = body.find("\n--").unwrap_or(body.len());
        text.push_str(&base64(&body[..end]));
        rest = &body[end..];
    }
    text
}

/// Every mail sent so far (the `.eml` files, oldest first), readable.
fn mails(t: &TestInstance) -> Vec<String> {
    let dir = t.instance.config().data_dir.join("mail");
    let Ok(entries) = std::fs::read_dir(&dir) else { return Vec::new() };
    let mut names: Vec<_> =
        entries.map(|e| e.unwrap().path()).filter(|p| p.extension().is_some_and(|x| x == "eml")).collect();
    names.sort();
    names.iter().map(|p| readable(&std::fs::read_to_string(p).unwrap())).collect()
}

/// Mails to `address`.
fn mails_to(t: &TestInstance, address: &str) -> Vec<String> {
    mails(t).into_iter().filter(|m| m.contains(&format!("To: {address}"))).collect()
}

/// The path and query of the link in `mail` that starts with `prefix` (a path of ours).
fn link_in(t: &TestInstance, mail: &str, prefix: &str) -> String {
    let start = t.url(prefix);
    let at = mail.find(&start).unwrap_or_else(|| panic!("no {start} in {mail}"));
    let key: String = mail[at + start.len()..]
        .chars()
        .take_while(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == '-')
        .collect();
    assert!(!key.is_empty(), "an empty key after {start}");
    format!("{prefix}{key}")
}

/// The key at the end of a link.
fn key_of(link: &str) -> String {
    link.rsplit(['=', '/']).next().unwrap().to_owned()
}

/// The instance's signer, as the mail worker signs with it.
async fn signer(t: &TestInstance) -> Signer {
    let secret = t.instance.db().run(store::secret).await.unwrap();
    Signer::new(&secret)
}

/// Creates the public group `mcg` moderated by `moderator` (or a members-only one); returns
/// its actor id.
async fn group(t: &TestInstance, moderator: &str, name: &str, visibility: &str) -> i64 {
    let tok = token(t, moderator, "read write follow").await;
    let body = json!({"name": name, "display_name": format!("Group {name}"), "membership": "open",
                      "visibility": visibility});
    let (s, g) = call(M::POST, t, "/api/guildhall/v1/groups", Some(&tok), Some(body)).await;
    assert_eq!(s, 200, "{g}");
    g["id"].as_str().unwrap().parse().unwrap()
}

/// Posts `fields` as a form with no cookie and no origin, as a mail client does.
async fn post_bare(t: &TestInstance, path: &str, fields: &[(&str, &str)]) -> (u16, String) {
    let res = crate::support::http().post(t.url(path)).form(fields).send().await.unwrap();
    let status = res.status().as_u16();
    (status, res.text().await.unwrap())
}

/// Signs in with `password`; the status of the answer (303 when it worked).
async fn sign_in_with(b: &mut Browser, login: &str, password: &str) -> u16 {
    let form = b.get("/auth/sign_in").await;
    let csrf = form.csrf();
    b.post("/auth/sign_in", &[("csrf", &csrf), ("login", login), ("password", password)]).await.status
}

#[tokio::test]
async fn a_forgotten_password_is_reset_once_from_the_mailed_link() {
    let t = TestInstance::start(&Backend::Sqlite).await;
    t.user("ada").await;
    let old_token = token(&t, "ada", "read").await;
    let mut signed_in = Browser::new(&t);
    signed_in.sign_in("ada", false).await;

    let mut b = Browser::new(&t);
    let sign_in = b.get("/auth/sign_in").await;
    assert!(sign_in.body.contains("href=\"/auth/password/new\""), "{}", sign_in.body);
    let form = b.get("/auth/password/new").await;
    assert_eq!(form.status, 200, "{}", form.body);
    assert!(form.body.contains("<label for=\"email\">"), "{}", form.body);
    let csrf = form.csrf();

    // Without the cookie's token, or from another site: refused, nothing queued.
    let forged = b.post("/auth/password", &[("csrf", "forged"), ("email", "ada@museum.example")]).await;
    assert_eq!(forged.status, 403, "{}", forged.body);
    let cross = b
        .post_from(
            "http://evil.localhost",
            "/auth/password",
            &[("csrf", &csrf), ("email", "ada@museum.example")],
        )
        .await;
    assert_eq!(cross.status, 403);

    // The answer is the same for a known and an unknown address.
    let known = b.post("/auth/password", &[("csrf", &csrf), ("email", "ada@museum.example")]).await;
    let unknown = b.post("/auth/password", &[("csrf", &csrf), ("email", "nobody@museum.example")]).await;
    assert_eq!(known.status, 200, "{}", known.body);
    assert!(known.body.contains("If an account has that address, a link is on its way"), "{}", known.body);
    assert_eq!((unknown.status, &unknown.body), (known.status, &known.body), "no probing");
    flush_mail(&t).await;
    assert!(mails_to(&t, "nobody@museum.example").is_empty());
    let sent = mails_to(&t, "ada@museum.example");
    assert_eq!(sent.len(), 1, "{sent:?}");
    let link = link_in(&t, &sent[0], "/auth/password/edit?reset_password_token=");

    // A forged or altered key is refused.
    let bad = b.get("/auth/password/edit?reset_password_token=1-99999999999-000000000000000000000000").await;
    assert_eq!(bad.status, 400, "{}", bad.body);

    let form = b.get(&link).await;
    assert_eq!(form.status, 200, "{}", form.body);
    assert!(form.body.contains("@ada"), "{}", form.body);
    let key = hidden(&form.body, "reset_password_token").unwrap();
    let short = b
        .post(
            "/auth/password/edit",
            &[("reset_password_token", &key), ("password", "short"), ("password_confirmation", "short")],
        )
        .await;
    assert_eq!(short.status, 422, "{}", short.body);
    assert!(short.body.contains("password: at least 8 characters"), "{}", short.body);
    let mismatch = b
        .post(
            "/auth/password/edit",
            &[
                ("reset_password_token", &key),
                ("password", "battery staple"),
                ("password_confirmation", "battery stapler"),
            ],
        )
        .await;
    assert_eq!(mismatch.status, 422);
    assert!(mismatch.body.contains("password_confirmation"), "{}", mismatch.body);
    let fields = [
        ("reset_password_token", key.as_str()),
        ("password", "battery staple"),
        ("password_confirmation", "battery staple"),
    ];
    let set = b.post("/auth/password/edit", &fields).await;
    assert_eq!(set.status, 200, "{}", set.body);
    assert!(set.body.contains("Password changed"), "{}", set.body);

    // The old password is refused, the new one accepted; every session and token ended.
    assert_eq!(sign_in_with(&mut b, "ada", "correct horse").await, 422);
    assert_eq!(sign_in_with(&mut b, "ada", "battery staple").await, 303);
    let home = signed_in.get("/home").await;
    assert_eq!(home.status, 303, "the browser signed in before is signed out");
    let (s, _) = call(M::GET, &t, "/api/v1/accounts/verify_credentials", Some(&old_token), None).await;
    assert_eq!(s, 401, "the app token is revoked");

    // The link works once.
    let again = b.get(&link).await;
    assert_eq!(again.status, 400, "{}", again.body);
    let replay = b.post("/auth/password/edit", &fields).await;
    assert_eq!(replay.status, 400, "{}", replay.body);
    assert_eq!(sign_in_with(&mut Browser::new(&t), "ada", "battery staple").await, 303);

    // Mastodon's form name for the address works too (another account: one account is sent
    // at most one link a quarter hour, whoever asks).
    let mut b = Browser::new(&t);
    let form = b.get("/auth/password/new").await;
    let csrf = form.csrf();
    let mastodon = b.post("/auth/password", &[("csrf", &csrf), ("user[email]", "ada@museum.example")]).await;
    assert_eq!((mastodon.status, &mastodon.body), (known.status, &known.body));
    flush_mail(&t).await;
    assert_eq!(mails_to(&t, "ada@museum.example").len(), 1, "no second link within a quarter hour");
    t.user("bea").await;
    let form = b.get("/auth/password/new").await;
    let csrf = form.csrf();
    let mastodon = b.post("/auth/password", &[("csrf", &csrf), ("user[email]", "bea@museum.example")]).await;
    assert_eq!((mastodon.status, &mastodon.body), (known.status, &known.body));
    flush_mail(&t).await;
    assert_eq!(mails_to(&t, "bea@museum.example").len(), 1);
    t.instance.stop().await.unwrap();
}

/// Signs up `name` as a sign-up does: the address unconfirmed (and perhaps waiting for
/// approval). Returns the login's id.
async fn sign_up(t: &TestInstance, name: &str, pending: bool) -> i64 {
    use guildhall_federation::local_actors::{NewUser, register_user};
    let urls = guildhall_federation::Urls::new(t.instance.config());
    let email = format!("{name}@museum.example");
    let role = guildhall_core::model::Role::User;
    let new = NewUser { username: name, email: &email, password: "correct horse", role };
    let registration =
        guildhall_storage::accounts::Registration { pending, unconfirmed: true, ..Default::default() };
    register_user(t.instance.db(), &urls, new, registration).await.unwrap().user.id
}

async fn confirmed(t: &TestInstance, user_id: i64) -> bool {
    let account =
        t.instance.db().run(move |c| guildhall_storage::accounts::find_by_user_id(c, user_id)).await.unwrap();
    account.unwrap().user.email_confirmed_at.is_some()
}

#[tokio::test]
async fn an_address_is_confirmed_by_the_button_not_by_following_the_link() {
    let t = TestInstance::start(&Backend::Sqlite).await;
    let grace = sign_up(&t, "grace", false).await;
    let mut b = Browser::new(&t);
    assert_eq!(sign_in_with(&mut b, "grace", "correct horse").await, 403, "unconfirmed: refused");
    flush_mail(&t).await;
    let sent = mails_to(&t, "grace@museum.example");
    assert_eq!(sent.len(), 1, "{sent:?}");
    let link = link_in(&t, &sent[0], "/auth/confirmation?confirmation_token=");

    // Following the link (as a mail scanner does) shows a button and confirms nothing.
    let page = b.get(&link).await;
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(
        page.body.contains("Confirm my address") && page.body.contains("method=\"post\""),
        "{}",
        page.body
    );
    assert!(!confirmed(&t, grace).await);
    assert_eq!(sign_in_with(&mut b, "grace", "correct horse").await, 403);

    // A forged key is refused; the button's post, with no cookie, confirms.
    let (s, _) = post_bare(&t, "/auth/confirmation", &[("confirmation_token", "1-99999999999-00ff")]).await;
    assert_eq!(s, 400);
    let key = key_of(&link);
    let (s, body) = post_bare(&t, "/auth/confirmation", &[("confirmation_token", &key)]).await;
    assert_eq!(s, 200, "{body}");
    assert!(body.contains("Address confirmed") && body.contains("href=\"/auth/sign_in\""), "{body}");
    assert!(confirmed(&t, grace).await);
    assert_eq!(sign_in_with(&mut b, "grace", "correct horse").await, 303);
    let (s, _) = post_bare(&t, "/auth/confirmation", &[("confirmation_token", &key)]).await;
    assert_eq!(s, 200, "a second post answers the same");

    // A sign-up waiting for approval is told so.
    let hedy = sign_up(&t, "hedy", true).await;
    flush_mail(&t).await;
    let link = link_in(&t, &mails_to(&t, "hedy@museum.example")[0], "/auth/confirmation?confirmation_token=");
    let (s, body) = post_bare(&t, "/auth/confirmation", &[("confirmation_token", &key_of(&link))]).await;
    assert_eq!(s, 200, "{body}");
    assert!(body.contains("waits for an admin"), "{body}");
    assert!(confirmed(&t, hedy).await);
    t.instance.stop().await.unwrap();
}

#[tokio::test]
async fn one_click_unsubscribe_works_without_a_cookie_and_refuses_forged_keys() {
    let t = TestInstance::start(&Backend::Sqlite).await;
    let ada = t.user("ada").await;
    t.user("mod").await;
    let group_id = group(&t, "mod", "mcg", "public").await;
    let signer = signer(&t).await;
    let (ada_id, db) = (ada.id, t.instance.db().clone());
    let prefs = |db: guildhall_storage::Db| async move {
        db.run(move |c| store::prefs(c, ada_id)).await.unwrap().unwrap().1
    };
    assert!(prefs(db.clone()).await.mentions);

    // Notification mail: a GET shows a button and changes nothing; a bare POST stops it.
    let key = signer
        .unsubscribe_key(Unsubscribe::Notifications { actor_id: ada.id, category: MailCategory::Mentions });
    let path = format!("/mail/unsubscribe/{key}");
    let mut b = Browser::new(&t);
    let page = b.get(&path).await;
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(page.body.contains("mentions and replies") && page.body.contains(&format!("action=\"{path}\"")));
    assert!(prefs(db.clone()).await.mentions);
    for _ in 0..2 {
        let (s, body) = post_bare(&t, &path, &[("List-Unsubscribe", "One-Click")]).await;
        assert_eq!(s, 200, "{body}");
        assert!(body.contains("You are unsubscribed"), "{body}");
    }
    let now = prefs(db.clone()).await;
    assert!(!now.mentions && now.follow_requests, "only that category stops: {now:?}");

    // A group's mail.
    let delivery =
        Delivery { mode: guildhall_core::mail::GroupMailMode::Daily, timezone: "UTC".into(), hour: 8 };
    let sub = db.run(move |c| store::set_member(c, group_id, ada_id, Some(delivery))).await.unwrap().unwrap();
    let path = format!("/mail/unsubscribe/{}", signer.unsubscribe_key(Unsubscribe::Group(sub.id)));
    let page = b.get(&path).await;
    assert!(page.body.contains("mail from Group mcg"), "{}", page.body);
    let (s, _) = post_bare(&t, &path, &[("List-Unsubscribe", "One-Click")]).await;
    assert_eq!(s, 200);
    let gone = db.run(move |c| store::member_subscription(c, group_id, ada_id)).await.unwrap();
    assert!(gone.is_none());
    let (s, _) = post_bare(&t, &path, &[("List-Unsubscribe", "One-Click")]).await;
    assert_eq!(s, 200, "a second click answers the same");

    // Forged or altered keys are not found, by GET or POST.
    let other = Signer::new(b"another instance's secret, 32 bytes long");
    let forged = other.unsubscribe_key(Unsubscribe::Group(sub.id));
    for key in [forged.as_str(), "g1-000000000000000000000000", "n1-mentions-0", "nonsense"] {
        let path = format!("/mail/unsubscribe/{key}");
        let (s, _) = post_bare(&t, &path, &[("List-Unsubscribe", "One-Click")]).await;
        assert_eq!(s, 404, "{key}");
        assert_eq!(b.get(&path).await.status, 404, "{key}");
    }
    t.instance.stop().await.unwrap();
}

/// The follow-by-mail form's fields (a daily digest).
fn follow_form<'a>(csrf: &'a str, email: &'a str, hour: &'a str, zone: &'a str) -> Vec<(&'a str, &'a str)> {
    vec![("csrf", csrf), ("email", email), ("mode", "daily"), ("hour", hour), ("timezone", zone)]
}

#[tokio::test]
async fn following_a_group_by_mail_waits_for_the_confirmation_link() {
    let t = TestInstance::start(&Backend::Sqlite).await;
    t.user("mod").await;
    group(&t, "mod", "mcg", "public").await;
    group(&t, "mod", "circle", "members").await;

    let mut b = Browser::new(&t);
    let page = b.get("/@mcg").await;
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(page.body.contains("Follow by e-mail") && page.body.contains("action=\"/@mcg/mail/subscribe\""));
    assert!(page.body.contains("<label for=\"mail-email\">"), "{}", page.body);
    let csrf = page.csrf();
    let circle = b.get("/@circle").await;
    assert!(!circle.body.contains("Follow by e-mail"), "not for a members-only group");

    // Without the cookie's token: refused.
    let no_token =
        b.post("/@mcg/mail/subscribe", &follow_form("", "reader@example.org", "7", "Europe/London")).await;
    assert_eq!(no_token.status, 403);
    let form = follow_form(&csrf, "reader@example.org", "7", "Europe/London");
    let circle_post = b.post("/@circle/mail/subscribe", &form).await;
    assert_eq!(circle_post.status, 404, "a members-only group takes no addresses");

    let asked = b.post("/@mcg/mail/subscribe", &form).await;
    assert_eq!(asked.status, 200, "{}", asked.body);
    assert!(asked.body.contains("Check your inbox to confirm"), "{}", asked.body);
    let again = b.post("/@mcg/mail/subscribe", &form).await;
    assert_eq!((again.status, &again.body), (asked.status, &asked.body), "the same answer the second time");

    // Wrong fields are named.
    for (bad, field) in [
        (follow_form(&csrf, "reader@example.org", "7", "Mars/Olympus"), "timezone"),
        (follow_form(&csrf, "reader@example.org", "24", "UTC"), "hour"),
        (follow_form(&csrf, "not an address", "7", "UTC"), "email"),
    ] {
        let refused = b.post("/@mcg/mail/subscribe", &bad).await;
        assert_eq!(refused.status, 422, "{field}");
        assert!(refused.body.contains(field), "{field}: {}", refused.body);
    }

    flush_mail(&t).await;
    let sent = mails_to(&t, "reader@example.org");
    assert_eq!(sent.len(), 1, "one confirmation mail: {sent:?}");
    let link = link_in(&t, &sent[0], "/mail/confirm/");
    let id = Signer::expiring_key_id(&key_of(&link)).unwrap();
    let subscription = |t: &TestInstance| {
        let db = t.instance.db().clone();
        async move { db.run(move |c| store::subscription(c, id)).await.unwrap().unwrap() }
    };
    let sub = subscription(&t).await;
    assert_eq!((sub.email.as_deref(), sub.mode.as_str(), sub.hour), (Some("reader@example.org"), "daily", 7));
    assert_eq!(sub.timezone, "Europe/London");
    assert!(sub.confirmed_at.is_none(), "unconfirmed until the link is used");

    // The link shows a button; the post, with no cookie, confirms.
    let page = b.get(&link).await;
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(page.body.contains("a daily digest at 07:00 (Europe/London)"), "{}", page.body);
    assert!(subscription(&t).await.confirmed_at.is_none());
    let (s, body) = post_bare(&t, &link, &[]).await;
    assert_eq!(s, 200, "{body}");
    assert!(body.contains("You will receive a daily digest at 07:00 (Europe/London) of Group mcg"), "{body}");
    assert!(subscription(&t).await.confirmed_at.is_some());

    // A key signed elsewhere, or for another purpose, is refused.
    let other = Signer::new(b"another instance's secret, 32 bytes long");
    let forged = other.expiring_key(Purpose::ConfirmFollow, id, "reader@example.org", i64::MAX / 2);
    let (s, _) = post_bare(&t, &format!("/mail/confirm/{forged}"), &[]).await;
    assert_eq!(s, 404);
    let mine = signer(&t).await;
    let wrong = mine.expiring_key(Purpose::ResetPassword, id, "reader@example.org", i64::MAX / 2);
    let (s, _) = post_bare(&t, &format!("/mail/confirm/{wrong}"), &[]).await;
    assert_eq!(s, 404);
    t.instance.stop().await.unwrap();
}

#[tokio::test]
async fn a_members_mail_choices_need_a_session_and_its_token() {
    let t = TestInstance::start(&Backend::Sqlite).await;
    let ada = t.user("ada").await;
    t.user("mod").await;
    let group_id = group(&t, "mod", "mcg", "public").await;
    group(&t, "mod", "circle", "members").await;

    // A stranger is sent to sign in; nothing changes.
    let mut stranger = Browser::new(&t);
    for path in ["/@mcg/mail", "/settings/mail"] {
        let refused = stranger.post(path, &[("csrf", "x"), ("mode", "daily"), ("mentions", "1")]).await;
        assert_eq!(refused.status, 303, "{path}");
        assert!(refused.location.unwrap().starts_with("/auth/sign_in"), "{path}");
    }

    let mut b = Browser::new(&t);
    b.sign_in("ada", false).await;
    let page = b.get("/@mcg").await;
    assert!(page.body.contains("Mail from this group") && !page.body.contains("Follow by e-mail"));
    let csrf = page.csrf();
    let choice = [("mode", "daily"), ("hour", "9"), ("timezone", "Europe/Paris")];
    // Without the token, with a wrong one, or from another site: refused.
    let refused = b.post("/@mcg/mail", &choice).await;
    assert_eq!(refused.status, 403);
    let refused = b.post("/@mcg/mail", &[("csrf", "wrong"), ("mode", "daily")]).await;
    assert_eq!(refused.status, 403);
    let mut fields = vec![("csrf", csrf.as_str())];
    fields.extend(choice);
    let cross = b.post_from("http://evil.localhost", "/@mcg/mail", &fields).await;
    assert_eq!(cross.status, 403);
    let ada_id = ada.id;
    let db = t.instance.db().clone();
    let current = || {
        let db = db.clone();
        async move { db.run(move |c| store::member_subscription(c, group_id, ada_id)).await.unwrap() }
    };
    assert!(current().await.is_none());

    let saved = b.post("/@mcg/mail", &fields).await;
    assert_eq!((saved.status, saved.location.as_deref()), (303, Some("/@mcg#mail")), "{}", saved.body);
    let sub = current().await.unwrap();
    assert_eq!((sub.mode.as_str(), sub.hour, sub.timezone.as_str()), ("daily", 9, "Europe/Paris"));
    let page = b.get("/@mcg").await;
    assert!(page.body.contains("<option value=\"daily\" selected>"), "{}", page.body);
    let bad = b.post("/@mcg/mail", &[("csrf", &csrf), ("mode", "hourly")]).await;
    assert_eq!(bad.status, 422);
    assert!(bad.body.contains("mode"), "{}", bad.body);
    // A members-only group's mail is for its members.
    let refused = b.post("/@circle/mail", &[("csrf", &csrf), ("mode", "every_post")]).await;
    assert_eq!(refused.status, 403);

    // The settings list the group and set which notifications come by mail.
    let settings = b.get("/settings").await;
    assert!(settings.body.contains("id=\"mail\""), "{}", settings.body);
    assert!(settings.body.contains("Group mcg: a daily digest at 09:00 (Europe/Paris)"), "{}", settings.body);
    assert!(settings.body.contains("href=\"/@mcg#mail\""));
    let refused = b.post("/settings/mail", &[("mentions", "1")]).await;
    assert_eq!(refused.status, 403);
    let saved = b.post("/settings/mail", &[("csrf", &csrf), ("event_reminders", "1")]).await;
    assert_eq!((saved.status, saved.location.as_deref()), (303, Some("/settings#mail")));
    let prefs = db.run(move |c| store::prefs(c, ada_id)).await.unwrap().unwrap().1;
    assert_eq!(
        (prefs.mentions, prefs.follow_requests, prefs.reports, prefs.event_reminders),
        (false, false, false, true)
    );
    let settings = b.get("/settings").await;
    assert!(settings.body.contains("name=\"event_reminders\" value=\"1\" checked"), "{}", settings.body);

    // "No mail" ends it.
    let off = b.post("/@mcg/mail", &[("csrf", &csrf), ("mode", "off")]).await;
    assert_eq!(off.status, 303);
    assert!(current().await.is_none());
    t.instance.stop().await.unwrap();
}

/// A link to set `username`'s password and one to stop their mention mail, signed as the
/// mail worker signs them (for the accessibility checks of the pages they open).
pub(crate) async fn signed_links(t: &TestInstance, username: &str) -> (String, String) {
    let name = username.to_owned();
    let account = t
        .instance
        .db()
        .run(move |c| guildhall_storage::accounts::find_by_username(c, &name))
        .await
        .unwrap()
        .unwrap();
    let signer = signer(t).await;
    let expires = chrono::Utc::now().timestamp() + 3600;
    let reset =
        signer.expiring_key(Purpose::ResetPassword, account.user.id, &account.user.password_hash, expires);
    let what = Unsubscribe::Notifications { actor_id: account.actor.id, category: MailCategory::Mentions };
    (
        format!("/auth/password/edit?reset_password_token={reset}"),
        format!("/mail/unsubscribe/{}", signer.unsubscribe_key(what)),
    )
}
