//! The admins' and moderators' pages over HTTP: approving sign-ups, suspending an account,
//! blocking a domain and its posts disappearing (and nothing exchanged with it afterwards), a
//! blocklist import, the audit log; a moderator removing a post and banning a member. Nobody
//! else reaches any of it.

use guildhall_federation::actions::{self, NewPost};
use reqwest::Method as M;
use serde_json::json;

use crate::client_api::{call, token};
use crate::support::{Backend, Cluster, TestInstance};
use crate::web_members::Browser;

pub(crate) async fn admin_user(t: &TestInstance, name: &str) {
    let urls = guildhall_federation::Urls::new(t.instance.config());
    let email = format!("{name}@museum.example");
    let new = guildhall_federation::local_actors::NewUser {
        username: name,
        email: &email,
        password: "correct horse",
        role: guildhall_core::model::Role::Admin,
    };
    guildhall_federation::local_actors::create_user(t.instance.db(), &urls, new).await.unwrap();
}

#[tokio::test]
async fn an_admin_blocks_a_domain_and_its_posts_disappear_and_nothing_is_exchanged() {
    let cluster = Cluster::start(2).await;
    let [a, b] = &cluster.nodes[..] else { unreachable!() };
    admin_user(a, "root").await;
    let ada = a.user("ada").await;
    let bob = b.user("bob").await;
    // ada follows bob; bob posts; it reaches a's public timeline.
    let bob_at_a = actions::resolve_actor(&a.fed(), &b.handle("bob")).await.unwrap();
    actions::follow(&a.fed(), &ada, &bob_at_a).await.unwrap();
    cluster.flush().await;
    actions::post(&b.fed(), &bob, NewPost::public("Buy followers now")).await.unwrap();
    cluster.flush().await;
    let public = |t| async move { call(M::GET, t, "/api/v1/timelines/public", None, None).await.1 };
    assert!(public(a).await.to_string().contains("Buy followers now"));

    // Only an admin sees the page; a member gets 404, a stranger the sign-in page.
    let mut member = Browser::new(a);
    member.sign_in("ada", false).await;
    assert_eq!(member.get("/admin").await.status, 404);
    assert_eq!(Browser::new(a).get("/admin").await.status, 303);
    let csrf = member.get("/home").await.csrf();
    let refused = member
        .post("/admin/domain_blocks", &[("csrf", &csrf), ("domain", "x.example"), ("severity", "suspend")])
        .await;
    assert_eq!(refused.status, 404, "a member cannot block");

    let mut root = Browser::new(a);
    root.sign_in("root", false).await;
    let page = root.get("/admin").await;
    assert_eq!(page.status, 200, "{}", page.body);
    let csrf = page.csrf();
    let domain = b.instance.config().domain.to_string();
    // The health page knows b, with its last delivery; a member cannot see it.
    let health = root.get("/admin/federation").await;
    assert_eq!(health.status, 200);
    assert!(
        health.body.contains(&format!("<td>{domain}</td>")) && health.body.contains("Known servers (1)"),
        "{}",
        health.body
    );
    assert_eq!(member.get("/admin/federation").await.status, 404);
    let bad = root
        .post(
            "/admin/domain_blocks",
            &[("csrf", &csrf), ("domain", "not a domain!"), ("severity", "suspend")],
        )
        .await;
    assert_eq!(bad.status, 422);
    assert!(bad.body.contains("domain"), "{}", bad.body);
    let done = root
        .post(
            "/admin/domain_blocks",
            &[
                ("csrf", &csrf),
                ("domain", &domain),
                ("severity", "suspend"),
                ("reject_media", "1"),
                ("public_comment", "Spam <b>wave</b>"),
                ("private_comment", "ticket 42"),
            ],
        )
        .await;
    assert_eq!(done.status, 303, "{}", done.body);

    // Its posts are gone, the follow ended, and the block is listed with the public comment only.
    assert!(!public(a).await.to_string().contains("Buy followers now"));
    let ada_token = token(a, "ada", "read").await;
    let (_, following) =
        call(M::GET, a, &format!("/api/v1/accounts/{}/following", ada.id), Some(&ada_token), None).await;
    assert_eq!(following.as_array().map(Vec::len), Some(0), "{following}");
    let (_, listed) = call(M::GET, a, "/api/v1/instance/domain_blocks", None, None).await;
    assert_eq!(listed[0]["domain"], domain.as_str());
    assert_eq!(listed[0]["severity"], "suspend");
    assert_eq!(listed[0]["comment"], "Spam <b>wave</b>");
    assert!(!listed.to_string().contains("ticket 42"), "the private comment stays private");
    let page = root.get("/admin").await;
    assert!(
        page.body.contains("Spam &#60;b&#62;wave&#60;/b&#62;") && page.body.contains("block_domain"),
        "{}",
        page.body
    );

    // Nothing more is accepted from it, and nothing is sent to it.
    actions::post(&b.fed(), &bob, NewPost::public("Still here?")).await.unwrap();
    cluster.flush().await;
    assert!(!public(a).await.to_string().contains("Still here?"));
    let ada_token_w = token(a, "ada", "read write").await;
    let (_, mine) = call(
        M::POST,
        a,
        "/api/v1/statuses",
        Some(&ada_token_w),
        Some(json!({"status": format!("@{} hello?", b.handle("bob"))})),
    )
    .await;
    cluster.flush().await;
    let bob_token = token(b, "bob", "read").await;
    let (_, notes) = call(M::GET, b, "/api/v1/notifications", Some(&bob_token), None).await;
    assert!(!notes.to_string().contains("hello?"), "nothing delivered to a suspended domain: {notes} {mine}");

    // Lifting the block is logged; a pasted blocklist is imported, a bad line names itself.
    let lifted = root.post("/admin/domain_blocks/remove", &[("csrf", &csrf), ("domain", &domain)]).await;
    assert_eq!(lifted.status, 303);
    let csv = "#domain,#severity,#reject_media,#reject_reports,#public_comment,#obfuscate\nspam.example,suspend,true,false,\"Spam, lots\",false\nquiet.example,silence,false,false,,false";
    let imported = root.post("/admin/domain_blocks/import", &[("csrf", &csrf), ("csv", csv)]).await;
    assert_eq!(imported.status, 303, "{}", imported.body);
    let (_, listed) = call(M::GET, a, "/api/v1/instance/domain_blocks", None, None).await;
    assert_eq!(listed.as_array().map(Vec::len), Some(2), "{listed}");
    let bad = root
        .post(
            "/admin/domain_blocks/import",
            &[("csrf", &csrf), ("csv", "ok.example,suspend\nnot a domain!,suspend")],
        )
        .await;
    assert_eq!(bad.status, 422);
    assert!(bad.body.contains("line 2"), "{}", bad.body);
    let (_, listed) = call(M::GET, a, "/api/v1/instance/domain_blocks", None, None).await;
    assert_eq!(listed.as_array().map(Vec::len), Some(2), "nothing of a bad import lands");
    let page = root.get("/admin").await;
    assert!(page.body.contains("unblock_domain"));

    // Silencing b: its posts are still fetched
    // and shown to who asks, but stay out of the public and hashtag timelines.
    let done = root
        .post("/admin/domain_blocks", &[("csrf", &csrf), ("domain", &domain), ("severity", "silence")])
        .await;
    assert_eq!(done.status, 303);
    let loud = actions::post(&b.fed(), &bob, NewPost::public("Loud #MuseumHour advert")).await.unwrap();
    let at_a = actions::resolve_status(&a.fed(), &loud.ap_id).await.unwrap();
    assert!(at_a.deleted_at.is_none());
    assert!(!public(a).await.to_string().contains("Loud"), "silenced: not in the public timeline");
    let (_, tagged) = call(M::GET, a, "/api/v1/timelines/tag/museumhour", None, None).await;
    assert!(!tagged.to_string().contains("Loud"), "nor the hashtag's: {tagged}");
    assert!(!Browser::new(a).get("/tags/museumhour").await.body.contains("Loud"));
}

#[tokio::test]
async fn an_admin_approves_and_rejects_sign_ups_and_suspends_an_account() {
    let t = TestInstance::start_with(&Backend::Sqlite, &[("GUILDHALL_REGISTRATIONS", "approval")]).await;
    admin_user(&t, "root").await;
    t.user("ada").await;
    for (name, reason) in [("cy", "I run the <collections> database"), ("dee", "spam")] {
        let app =
            json!({"client_name": "t", "redirect_uris": "urn:ietf:wg:oauth:2.0:oob", "scopes": "read write"});
        let (_, app) = call(M::POST, &t, "/api/v1/apps", None, Some(app)).await;
        let grant = json!({"grant_type": "client_credentials", "client_id": app["client_id"], "client_secret": app["client_secret"], "scope": "read write"});
        let (_, tok) = call(M::POST, &t, "/oauth/token", None, Some(grant)).await;
        let body = json!({"username": name, "email": format!("{name}@museum.example"), "password": "correct horse", "agreement": true, "locale": "en", "reason": reason});
        let (s, made) = call(M::POST, &t, "/api/v1/accounts", tok["access_token"].as_str(), Some(body)).await;
        assert_eq!(s, 200, "{made}");
        crate::support::confirm_by_mail(&t, &format!("{name}@museum.example")).await;
    }
    // Once an address is confirmed, the admins are mailed the sign-up to review.
    t.instance.mail().flush().await.unwrap();
    let mailed = || crate::mail::read_dir(&t.instance.config().data_dir.join("mail"));
    let to_root: Vec<String> = mailed()
        .into_iter()
        .filter(|m| m.envelope_to == "root@museum.example")
        .map(|m| m.subject())
        .collect();
    assert_eq!(to_root, ["New sign-up to review: @cy", "New sign-up to review: @dee"]);
    let mut root = Browser::new(&t);
    root.sign_in("root", false).await;
    let page = root.get("/admin").await;
    assert!(
        page.body.contains("I run the &#60;collections&#62; database"),
        "the reason, escaped: {}",
        page.body
    );
    let csrf = page.csrf();
    let id_of = |body: &str, name: &str| -> String {
        let at = body.find(&format!("<strong>@{name}</strong>")).unwrap();
        let rest = &body[at..];
        let from = rest.find("/admin/accounts/").unwrap() + "/admin/accounts/".len();
        rest[from..from + rest[from..].find('/').unwrap()].to_owned()
    };
    let (cy, dee) = (id_of(&page.body, "cy"), id_of(&page.body, "dee"));
    assert_eq!(root.post(&format!("/admin/accounts/{cy}/approve"), &[("csrf", &csrf)]).await.status, 303);
    assert_eq!(root.post(&format!("/admin/accounts/{dee}/reject"), &[("csrf", &csrf)]).await.status, 303);
    t.instance.mail().flush().await.unwrap();
    let subjects = |to: &str| -> Vec<String> {
        mailed().into_iter().filter(|m| m.envelope_to == to).map(|m| m.subject()).collect()
    };
    assert!(
        subjects("cy@museum.example").iter().any(|s| s.contains("is ready")),
        "approved: {:?}",
        subjects("cy@museum.example")
    );
    assert!(subjects("dee@museum.example").iter().any(|s| s.starts_with("Your sign-up at")), "rejected");
    let mut cy_browser = Browser::new(&t);
    cy_browser.sign_in("cy", false).await;
    let (_, gone) = call(M::GET, &t, "/api/v1/accounts/lookup?acct=dee", None, None).await;
    assert!(gone.get("error").is_some(), "rejected: {gone}");

    // Suspending cy signs every browser of theirs out, and is logged.
    assert_eq!(cy_browser.get("/home").await.status, 200);
    assert_eq!(root.post(&format!("/admin/accounts/{cy}/suspend"), &[("csrf", &csrf)]).await.status, 303);
    assert_eq!(cy_browser.get("/home").await.status, 303, "signed out");
    let page = root.get("/admin").await;
    assert_eq!(page.body.matches("<strong>Suspended</strong>").count(), 1, "{}", page.body);
    for action in ["approve", "reject", "suspend"] {
        assert!(page.body.contains(&format!("<td>{action}</td>")), "{action} is in the audit log");
    }
    // An admin cannot suspend themselves from here; a member cannot suspend anyone.
    let mut ada = Browser::new(&t);
    ada.sign_in("ada", false).await;
    let ada_csrf = ada.get("/home").await.csrf();
    assert_eq!(ada.post(&format!("/admin/accounts/{cy}/approve"), &[("csrf", &ada_csrf)]).await.status, 404);
}

#[tokio::test]
async fn a_moderator_removes_a_post_with_a_reason_and_bans_a_member() {
    let t = TestInstance::start(&Backend::Sqlite).await;
    t.user("mod").await;
    let ada = t.user("ada").await;
    let moderator = token(&t, "mod", "read write follow").await;
    let guild = json!({"name": "mcg", "display_name": "Museum Computer Group", "membership": "open"});
    call(M::POST, &t, "/api/guildhall/v1/groups", Some(&moderator), Some(guild)).await;
    let mut ada_b = Browser::new(&t);
    ada_b.sign_in("ada", false).await;
    let group = ada_b.get("/@mcg").await;
    assert!(group.body.contains("Join the group"));
    assert_eq!(ada_b.post("/@mcg/follow", &[("csrf", &group.csrf())]).await.status, 303);
    let csrf = ada_b.get("/home").await.csrf();
    ada_b
        .post("/statuses", &[("csrf", &csrf), ("status", "@mcg Off-topic advert"), ("visibility", "public")])
        .await;
    let ada_token = token(&t, "ada", "read").await;
    let (_, list) =
        call(M::GET, &t, &format!("/api/v1/accounts/{}/statuses", ada.id), Some(&ada_token), None).await;
    let post_id = list[0]["id"].as_str().unwrap().to_owned();

    // A member sees no removal control and cannot reach the moderation page or its actions.
    let thread = ada_b.get(&format!("/@ada/{post_id}")).await;
    assert!(!thread.body.contains("Remove from the group"));
    assert_eq!(ada_b.get("/@mcg/moderation").await.status, 404);
    let refused = ada_b
        .post(&format!("/@mcg/moderation/statuses/{post_id}/remove"), &[("csrf", &csrf), ("reason", "x")])
        .await;
    assert_eq!(refused.status, 404);

    let mut mod_b = Browser::new(&t);
    mod_b.sign_in("mod", false).await;
    let thread = mod_b.get(&format!("/@ada/{post_id}")).await;
    assert!(thread.body.contains("Remove from the group"), "{}", thread.body);
    let removed = mod_b
        .post(
            &format!("/@mcg/moderation/statuses/{post_id}/remove"),
            &[("csrf", &thread.csrf()), ("reason", "Adverts are off-topic")],
        )
        .await;
    assert_eq!(removed.status, 303, "{}", removed.body);
    let page = mod_b.get("/@mcg/moderation").await;
    assert!(page.body.contains("@ada@"), "{}", page.body);
    let banned = mod_b
        .post(
            &format!("/@mcg/moderation/members/{}/ban", ada.id),
            &[("csrf", &page.csrf()), ("reason", "Repeated adverts")],
        )
        .await;
    assert_eq!(banned.status, 303);
    let page = mod_b.get("/@mcg/moderation").await;
    assert!(
        page.body.contains("Adverts are off-topic") && page.body.contains("Repeated adverts"),
        "the log: {}",
        page.body
    );
    assert!(page.body.contains("remove status") && page.body.contains("ban"), "{}", page.body);
    // ada is out, and cannot rejoin.
    let group = ada_b.get("/@mcg").await;
    assert!(!group.body.contains("You are a member"), "{}", group.body);
    ada_b.post("/@mcg/follow", &[("csrf", &group.csrf())]).await;
    assert!(!ada_b.get("/@mcg").await.body.contains("You are a member"));
}

#[tokio::test]
async fn instance_settings_change_without_a_restart() {
    let t = TestInstance::start(&Backend::Sqlite).await;
    admin_user(&t, "root").await;
    let (_, before) = call(M::GET, &t, "/api/v2/instance", None, None).await;
    assert_eq!(before["registrations"]["enabled"], false, "closed by default: {before}");
    assert!(Browser::new(&t).get("/auth/sign_up").await.body.contains("closed"));

    let mut root = Browser::new(&t);
    root.sign_in("root", false).await;
    let csrf = root.get("/admin").await.csrf();
    let bad = root
        .post(
            "/admin/settings",
            &[
                ("csrf", &csrf),
                ("title", "T"),
                ("description", ""),
                ("contact_email", "not-mail"),
                ("registrations", "open"),
            ],
        )
        .await;
    assert_eq!(bad.status, 422);
    assert!(bad.body.contains("contact_email"), "{}", bad.body);
    let saved = root
        .post(
            "/admin/settings",
            &[
                ("csrf", &csrf),
                ("title", "Museum <Computer> Group"),
                ("description", "For museum technologists.\r\n\r\nSecond paragraph."),
                ("rules", "Be kind\r\nNo <script>adverts</script>\r\n"),
                ("contact_email", "admin@museum.example"),
                ("registrations", "approval"),
            ],
        )
        .await;
    assert_eq!(saved.status, 303, "{}", saved.body);

    // In force at once: the API, the home page and the sign-up form.
    let (_, v2) = call(M::GET, &t, "/api/v2/instance", None, None).await;
    assert_eq!(v2["title"], "Museum <Computer> Group");
    assert_eq!(
        (v2["registrations"]["enabled"].as_bool(), v2["registrations"]["approval_required"].as_bool()),
        (Some(true), Some(true))
    );
    assert_eq!(v2["contact"]["email"], "admin@museum.example");
    assert_eq!(v2["rules"][1]["text"], "No <script>adverts</script>");
    let (_, rules) = call(M::GET, &t, "/api/v1/instance/rules", None, None).await;
    assert_eq!(rules.as_array().map(Vec::len), Some(2));
    let home = Browser::new(&t).get("/").await.body;
    assert!(home.contains("Museum &#60;Computer&#62; Group") && !home.contains("<script>adverts"), "{home}");
    assert!(
        home.contains("<p>Second paragraph.</p>") && home.contains("mailto:admin@museum.example"),
        "{home}"
    );
    let form = Browser::new(&t).get("/auth/sign_up").await;
    assert_eq!(form.status, 200);
    assert!(form.body.contains("reason"), "approval mode asks why: {}", form.body);
    assert!(root.get("/admin").await.body.contains("update_settings"));
}

#[tokio::test]
async fn a_member_reports_a_post_and_the_groups_moderator_and_the_admin_see_it() {
    let t = TestInstance::start(&Backend::Sqlite).await;
    admin_user(&t, "root").await;
    t.user("mod").await;
    t.user("ada").await;
    let mallory = t.user("mallory").await;
    let moderator = token(&t, "mod", "read write follow").await;
    let guild = json!({"name": "mcg", "display_name": "Museum Computer Group", "membership": "open"});
    call(M::POST, &t, "/api/guildhall/v1/groups", Some(&moderator), Some(guild)).await;
    let mut mal = Browser::new(&t);
    mal.sign_in("mallory", false).await;
    let page = mal.get("/@mcg").await;
    mal.post("/@mcg/follow", &[("csrf", &page.csrf())]).await;
    let csrf = mal.get("/home").await.csrf();
    mal.post("/statuses", &[("csrf", &csrf), ("status", "@mcg Cheap watches"), ("visibility", "public")])
        .await;
    let mal_token = token(&t, "mallory", "read").await;
    let (_, list) =
        call(M::GET, &t, &format!("/api/v1/accounts/{}/statuses", mallory.id), Some(&mal_token), None).await;
    let post_id = list[0]["id"].as_str().unwrap().to_owned();
    // One's own post has no report link, and cannot be reported.
    assert_eq!(mal.get(&format!("/statuses/{post_id}/report")).await.status, 404);

    let mut ada = Browser::new(&t);
    ada.sign_in("ada", false).await;
    let thread = ada.get(&format!("/@mallory/{post_id}")).await;
    assert!(thread.body.contains(&format!("href=\"/statuses/{post_id}/report\"")), "{}", thread.body);
    let form = ada.get(&format!("/statuses/{post_id}/report")).await;
    assert_eq!(form.status, 200);
    let sent = ada
        .post(
            &format!("/statuses/{post_id}/report"),
            &[("csrf", &form.csrf()), ("comment", "Spam <b>again</b>")],
        )
        .await;
    assert_eq!(sent.status, 303, "{}", sent.body);

    // The group's moderator sees it in the group's queue, removes the post and resolves it.
    let mut moder = Browser::new(&t);
    moder.sign_in("mod", false).await;
    let queue = moder.get("/@mcg/moderation").await;
    assert!(
        queue.body.contains("Reports on the group&#39;s posts (1)") || queue.body.contains("posts (1)"),
        "{}",
        queue.body
    );
    assert!(
        queue.body.contains("Spam &#60;b&#62;again&#60;/b&#62;") && queue.body.contains("Cheap watches"),
        "{}",
        queue.body
    );
    assert!(queue.body.contains("Remove from the group"));
    let report_id = {
        let at = queue.body.find("/moderation/reports/").unwrap() + "/moderation/reports/".len();
        queue.body[at..at + queue.body[at..].find('/').unwrap()].to_owned()
    };
    // The admin sees it too; a member cannot resolve it.
    let mut root = Browser::new(&t);
    root.sign_in("root", false).await;
    assert!(root.get("/admin").await.body.contains("Reports (1)"));
    let ada_csrf = ada.get("/home").await.csrf();
    assert_eq!(
        ada.post(&format!("/@mcg/moderation/reports/{report_id}/resolve"), &[("csrf", &ada_csrf)])
            .await
            .status,
        404
    );
    assert_eq!(
        ada.post(&format!("/admin/reports/{report_id}/resolve"), &[("csrf", &ada_csrf)]).await.status,
        404
    );
    let csrf = queue.csrf();
    // Closing it in the group's queue leaves it with the admins, who see who reported.
    let closed =
        moder.post(&format!("/@mcg/moderation/reports/{report_id}/resolve"), &[("csrf", &csrf)]).await;
    assert_eq!(closed.status, 303);
    let queue = moder.get("/@mcg/moderation").await.body;
    assert!(queue.contains("No open reports") && queue.contains("<td>close report</td>"), "{queue}");
    let admin_page = root.get("/admin").await.body;
    assert!(admin_page.contains("Reports (1)"), "the admins still judge it");
    assert!(admin_page.contains(&format!("@ada@{}", t.instance.config().domain)), "admins see who reported");
    let removed = moder
        .post(&format!("/@mcg/moderation/statuses/{post_id}/remove"), &[("csrf", &csrf), ("reason", "spam")])
        .await;
    assert_eq!(removed.status, 303);
    let admin_csrf = root.get("/admin").await.csrf();
    assert_eq!(
        root.post(&format!("/admin/reports/{report_id}/resolve"), &[("csrf", &admin_csrf)]).await.status,
        303
    );
    assert!(root.get("/admin").await.body.contains("Reports (0)"));
}

#[tokio::test]
async fn an_admin_resets_a_password_lifts_a_suspension_deletes_an_account_and_forwards_a_report() {
    let cluster = Cluster::start(2).await;
    let [a, b] = &cluster.nodes[..] else { unreachable!() };
    admin_user(a, "root").await;
    a.user("cy").await;
    a.user("dee").await;
    let bob = b.user("bob").await;
    let mut root = Browser::new(a);
    root.sign_in("root", false).await;
    let page = root.get("/admin").await;
    let csrf = page.csrf();
    let uid = |name: &str| {
        let at = page.body.find(&format!("href=\"/@{name}\">@{name}</a>")).unwrap();
        let rest = &page.body[at..];
        let from = rest.find("/admin/accounts/").unwrap() + "/admin/accounts/".len();
        rest[from..from + rest[from..].find('/').unwrap()].to_owned()
    };
    let (cy_id, dee_id) = (uid("cy"), uid("dee"));

    // A new password, shown once, works; the old one no longer does.
    let mut cy_b = Browser::new(a);
    cy_b.sign_in("cy", false).await;
    let shown = root.post(&format!("/admin/accounts/{cy_id}/reset_password"), &[("csrf", &csrf)]).await;
    assert_eq!(shown.status, 200, "{}", shown.body);
    let at = shown.body.find("<code class=\"secret\">").unwrap() + "<code class=\"secret\">".len();
    let password = shown.body[at..at + shown.body[at..].find('<').unwrap()].to_owned();
    assert_eq!(password.len(), 24);
    assert_eq!(cy_b.get("/home").await.status, 303, "signed out everywhere");
    let form = cy_b.get("/auth/sign_in").await;
    let ok =
        cy_b.post("/auth/sign_in", &[("csrf", &form.csrf()), ("login", "cy"), ("password", &password)]).await;
    assert_eq!(ok.status, 303, "{}", ok.body);

    // Suspension and its lifting.
    root.post(&format!("/admin/accounts/{cy_id}/suspend"), &[("csrf", &csrf)]).await;
    assert_eq!(cy_b.get("/home").await.status, 303);
    assert_eq!(
        root.post(&format!("/admin/accounts/{cy_id}/unsuspend"), &[("csrf", &csrf)]).await.status,
        303
    );
    let form = cy_b.get("/auth/sign_in").await;
    let ok =
        cy_b.post("/auth/sign_in", &[("csrf", &form.csrf()), ("login", "cy"), ("password", &password)]).await;
    assert_eq!(ok.status, 303, "{}", ok.body);

    // Deleting an account.
    assert_eq!(root.post(&format!("/admin/accounts/{dee_id}/delete"), &[("csrf", &csrf)]).await.status, 303);
    assert_eq!(Browser::new(a).get("/@dee").await.status, 404);

    // cy reports bob's post on the other server without forwarding; the admin forwards it.
    let spam = actions::post(&b.fed(), &bob, NewPost::public("Cheap followers")).await.unwrap();
    let spam_at_a = actions::resolve_status(&a.fed(), &spam.ap_id).await.unwrap();
    let form = cy_b.get(&format!("/statuses/{}/report", spam_at_a.id)).await;
    assert!(form.body.contains("name=\"forward\""), "a remote post may be forwarded");
    cy_b.post(&format!("/statuses/{}/report", spam_at_a.id), &[("csrf", &form.csrf()), ("comment", "spam")])
        .await;
    let page = root.get("/admin").await;
    let at = page.body.find("/forward\"").unwrap();
    let start = page.body[..at].rfind("/admin/reports/").unwrap() + "/admin/reports/".len();
    let report = page.body[start..at].to_owned();
    cluster.flush().await;
    let at_b = b.instance.db().run(guildhall_storage::reports::open).await.unwrap();
    assert!(at_b.is_empty(), "nothing reached b before the forward");
    assert_eq!(root.post(&format!("/admin/reports/{report}/forward"), &[("csrf", &csrf)]).await.status, 303);
    cluster.flush().await;
    let at_b = b.instance.db().run(guildhall_storage::reports::open).await.unwrap();
    assert_eq!(at_b.len(), 1, "b got the Flag");
    assert_eq!(at_b[0].target_id, bob.id);
    assert!(root.get("/admin").await.body.contains("forward_report"));
}

#[tokio::test]
async fn a_moderator_appoints_and_dismisses_another() {
    let t = TestInstance::start(&Backend::Sqlite).await;
    t.user("mod").await;
    let ada = t.user("ada").await;
    let moderator = token(&t, "mod", "read write follow").await;
    let guild = json!({"name": "mcg", "display_name": "Museum Computer Group", "membership": "open"});
    call(M::POST, &t, "/api/guildhall/v1/groups", Some(&moderator), Some(guild)).await;
    let mut ada_b = Browser::new(&t);
    ada_b.sign_in("ada", false).await;
    let page = ada_b.get("/@mcg").await;
    ada_b.post("/@mcg/follow", &[("csrf", &page.csrf())]).await;
    let mut mod_b = Browser::new(&t);
    mod_b.sign_in("mod", false).await;
    let page = mod_b.get("/@mcg/moderation").await;
    let done =
        mod_b.post(&format!("/@mcg/moderation/members/{}/appoint", ada.id), &[("csrf", &page.csrf())]).await;
    assert_eq!(done.status, 303);
    assert_eq!(ada_b.get("/@mcg/moderation").await.status, 200, "ada moderates now");
    let done =
        mod_b.post(&format!("/@mcg/moderation/members/{}/dismiss", ada.id), &[("csrf", &page.csrf())]).await;
    assert_eq!(done.status, 303);
    assert_eq!(ada_b.get("/@mcg/moderation").await.status, 404);
    // Removed (not banned): out of the group, free to join again.
    let removed = mod_b
        .post(
            &format!("/@mcg/moderation/members/{}/remove", ada.id),
            &[("csrf", &page.csrf()), ("reason", "inactive")],
        )
        .await;
    assert_eq!(removed.status, 303, "{}", removed.body);
    let group = ada_b.get("/@mcg").await;
    assert!(group.body.contains("Join the group"), "{}", group.body);
    ada_b.post("/@mcg/follow", &[("csrf", &group.csrf())]).await;
    assert!(ada_b.get("/@mcg").await.body.contains("You are a member"));
    let log = mod_b.get("/@mcg/moderation").await.body;
    assert!(log.contains("<td>appoint</td>") && log.contains("<td>dismiss</td>"), "{log}");
    assert!(log.contains("<td>remove member</td>") && log.contains("inactive"), "{log}");
}

#[tokio::test]
async fn a_report_cannot_show_a_groups_moderators_posts_from_elsewhere() {
    let t = TestInstance::start(&Backend::Sqlite).await;
    t.user("mod").await;
    let victim = t.user("vic").await;
    let mallory = t.user("mallory").await;
    let moderator = token(&t, "mod", "read write follow").await;
    let guild = json!({"name": "mcg", "display_name": "Museum Computer Group", "membership": "open"});
    call(M::POST, &t, "/api/guildhall/v1/groups", Some(&moderator), Some(guild)).await;
    let mut mal = Browser::new(&t);
    mal.sign_in("mallory", false).await;
    let page = mal.get("/@mcg").await;
    mal.post("/@mcg/follow", &[("csrf", &page.csrf())]).await;
    let csrf = mal.get("/home").await.csrf();
    mal.post("/statuses", &[("csrf", &csrf), ("status", "@mcg a group post"), ("visibility", "public")])
        .await;
    let vic = token(&t, "vic", "read write").await;
    let dm = json!({"status": "my secret diary", "visibility": "direct"});
    let (_, secret) = call(M::POST, &t, "/api/v1/statuses", Some(&vic), Some(dm)).await;
    let read = token(&t, "mallory", "read").await;
    let (_, list) =
        call(M::GET, &t, &format!("/api/v1/accounts/{}/statuses", mallory.id), Some(&read), None).await;
    let group_post: i64 = list[0]["id"].as_str().unwrap().parse().unwrap();
    let secret_id: i64 = secret["id"].as_str().unwrap().parse().unwrap();
    // A report (as a crafted Flag once could make) naming a group post and someone's DM.
    let (m, v) = (mallory.id, victim.id);
    t.instance
        .db()
        .run(move |c| guildhall_storage::reports::add(c, None, v, m, &[group_post, secret_id], "look"))
        .await
        .unwrap();
    let mut moder = Browser::new(&t);
    moder.sign_in("mod", false).await;
    let queue = moder.get("/@mcg/moderation").await.body;
    assert!(queue.contains("a group post"), "{queue}");
    assert!(!queue.contains("my secret diary"), "only the group's posts the moderator may see: {queue}");
    assert!(!queue.contains("@vic@"), "nor who reported");
}

#[tokio::test]
async fn admins_cannot_change_another_admin_and_private_posts_tell_nothing_at_statuses() {
    let t = TestInstance::start(&Backend::Sqlite).await;
    admin_user(&t, "root").await;
    admin_user(&t, "other").await;
    t.user("ada").await;
    let mut root = Browser::new(&t);
    root.sign_in("root", false).await;
    let page = root.get("/admin").await;
    let csrf = page.csrf();
    let other_uid = t
        .instance
        .db()
        .run(|c| guildhall_storage::accounts::find_by_username(c, "other"))
        .await
        .unwrap()
        .unwrap()
        .user
        .id;
    for action in ["suspend", "reset_password", "delete"] {
        let refused = root.post(&format!("/admin/accounts/{other_uid}/{action}"), &[("csrf", &csrf)]).await;
        assert_eq!(refused.status, 403, "{action}");
    }
    assert!(!page.body.contains(&format!("/admin/accounts/{other_uid}/")), "no buttons on an admin's row");

    // A direct message's id tells a stranger nothing: not even its author.
    let ada = token(&t, "ada", "read write").await;
    let (_, dm) = call(
        M::POST,
        &t,
        "/api/v1/statuses",
        Some(&ada),
        Some(json!({"status": "secret", "visibility": "direct"})),
    )
    .await;
    let seen = Browser::new(&t).get(&format!("/statuses/{}", dm["id"].as_str().unwrap())).await;
    assert_eq!(seen.status, 404);
    assert!(seen.location.is_none() && !seen.body.contains("ada"));
}

#[tokio::test]
async fn allowlist_mode_exchanges_only_with_allowed_servers() {
    let cluster = Cluster::start(2).await;
    let [a, b] = &cluster.nodes[..] else { unreachable!() };
    admin_user(a, "root").await;
    let bob = b.user("bob").await;
    let post = actions::post(&b.fed(), &bob, NewPost::public("From b")).await.unwrap();
    let mut root = Browser::new(a);
    root.sign_in("root", false).await;
    let csrf = root.get("/admin").await.csrf();
    assert_eq!(root.post("/admin/allowlist", &[("csrf", &csrf), ("action", "on")]).await.status, 303);
    assert!(root.get("/admin").await.body.contains("Turn allowlist mode off"));
    assert!(actions::resolve_status(&a.fed(), &post.ap_id).await.is_err(), "nothing fetched from b");
    let domain = b.instance.config().domain.to_string();
    let bad = root
        .post("/admin/allowlist", &[("csrf", &csrf), ("action", "allow"), ("domain", "no such thing!")])
        .await;
    assert_eq!(bad.status, 422);
    assert_eq!(
        root.post("/admin/allowlist", &[("csrf", &csrf), ("action", "allow"), ("domain", &domain)])
            .await
            .status,
        303
    );
    assert!(actions::resolve_status(&a.fed(), &post.ap_id).await.is_ok(), "b is allowed");
    let page = root.get("/admin").await.body;
    assert!(page.contains("allowlist_on") && page.contains("allow_domain"), "audited");
}

#[tokio::test]
async fn a_limited_account_stays_out_of_public_timelines_and_strangers_notifications() {
    let t = TestInstance::start(&Backend::Sqlite).await;
    admin_user(&t, "root").await;
    let spam = t.user("spam").await;
    t.user("ada").await;
    // ada holds back notifications from limited accounts.
    let ada_token = token(&t, "ada", "read write").await;
    let policy = json!({"for_limited_accounts": "filter"});
    let (s, _) = call(M::PATCH, &t, "/api/v2/notifications/policy", Some(&ada_token), Some(policy)).await;
    assert_eq!(s, 200);
    let mut root = Browser::new(&t);
    root.sign_in("root", false).await;
    let csrf = root.get("/admin").await.csrf();
    let limited = root.post(&format!("/admin/actors/{}/limit", spam.id), &[("csrf", &csrf)]).await;
    assert_eq!(limited.status, 303, "{}", limited.body);
    assert!(root.get("/admin").await.body.contains("<strong>Limited</strong>"));
    let spam_token = token(&t, "spam", "read write").await;
    call(M::POST, &t, "/api/v1/statuses", Some(&spam_token), Some(json!({"status": "@ada Buy now #deals"})))
        .await;
    let (_, public) = call(M::GET, &t, "/api/v1/timelines/public", None, None).await;
    assert!(!public.to_string().contains("Buy now"), "{public}");
    let (_, local) = call(M::GET, &t, "/api/v1/timelines/public?local=true", None, None).await;
    assert!(!local.to_string().contains("Buy now"), "the local timeline too: {local}");
    let (_, tagged) = call(M::GET, &t, "/api/v1/timelines/tag/deals", None, None).await;
    assert!(!tagged.to_string().contains("Buy now"));
    let (_, notes) = call(M::GET, &t, "/api/v1/notifications", Some(&ada_token), None).await;
    assert!(!notes.to_string().contains("Buy now"), "held back: {notes}");
    // An admin cannot limit themselves; lifting is audited.
    let root_actor =
        t.instance.db().run(|c| guildhall_storage::actors::find_local(c, "root")).await.unwrap().unwrap();
    assert_eq!(
        root.post(&format!("/admin/actors/{}/limit", root_actor.id), &[("csrf", &csrf)]).await.status,
        422
    );
    assert_eq!(
        root.post(&format!("/admin/actors/{}/unlimit", spam.id), &[("csrf", &csrf)]).await.status,
        303
    );
    let page = root.get("/admin").await.body;
    assert!(page.contains("<td>limit</td>") && page.contains("<td>unlimit</td>"));
}

/// Every state-changing page route, for the route matrix: (path, who may use it).
const WEB_POSTS: [(&str, Who); 29] = [
    ("/auth/sign_out", Who::Member),
    ("/settings/mail", Who::Member),
    ("/@mcg/mail", Who::Member),
    ("/settings/profile", Who::Member),
    ("/settings/password", Who::Member),
    ("/settings/sessions/1/revoke", Who::Member),
    ("/settings/apps/1/revoke", Who::Member),
    ("/authorize_interaction", Who::Member),
    ("/notifications/policy", Who::Member),
    ("/notifications/requests/1/accept", Who::Member),
    ("/statuses", Who::Member),
    ("/statuses/1/edit", Who::Member),
    ("/statuses/1/report", Who::Member),
    ("/statuses/1/favourite", Who::Member),
    ("/@mcg/follow", Who::Member),
    ("/@mcg/moderation/requests/1/approve", Who::Moderator),
    ("/@mcg/moderation/members/1/ban", Who::Moderator),
    ("/@mcg/moderation/invitations", Who::Moderator),
    ("/@mcg/moderation/statuses/1/remove", Who::Moderator),
    ("/@mcg/moderation/settings", Who::Moderator),
    ("/@mcg/moderation/reports/1/resolve", Who::Moderator),
    ("/admin/settings", Who::Admin),
    ("/admin/allowlist", Who::Admin),
    ("/admin/actors/1/limit", Who::Admin),
    ("/admin/reports/1/resolve", Who::Admin),
    ("/admin/accounts/1/suspend", Who::Admin),
    ("/admin/domain_blocks", Who::Admin),
    ("/admin/domain_blocks/remove", Who::Admin),
    ("/admin/domain_blocks/import", Who::Admin),
];

#[derive(Debug, Clone, Copy, PartialEq)]
enum Who {
    Member,
    Moderator,
    Admin,
}

/// The web's counterpart of the API's scope matrix: a stranger is sent to sign in by every
/// state-changing route (nothing done), a form without this session's CSRF token is refused on
/// every one, and a plain member gets 404 from every moderator's and admin's route. An API
/// access token is no web session.
#[tokio::test]
async fn web_route_matrix_strangers_forged_forms_and_members() {
    let t = TestInstance::start(&Backend::Sqlite).await;
    t.user("mod").await;
    t.user("ada").await;
    let moderator = token(&t, "mod", "read write follow").await;
    let guild = json!({"name": "mcg", "display_name": "Museum Computer Group"});
    call(M::POST, &t, "/api/guildhall/v1/groups", Some(&moderator), Some(guild)).await;
    let ada_token = token(&t, "ada", "read write follow").await;
    let mut stranger = Browser::new(&t);
    let mut member = Browser::new(&t);
    member.sign_in("ada", false).await;
    let csrf = member.get("/home").await.csrf();
    for (path, who) in WEB_POSTS {
        let out = stranger.post(path, &[("csrf", "x")]).await;
        assert_eq!(out.status, 303, "a stranger at {path}");
        assert!(out.location.as_deref().is_some_and(|l| l.starts_with("/auth/sign_in")), "{path}");
        let bearer = reqwest::Client::builder()
            .no_proxy()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap()
            .post(t.url(path))
            .bearer_auth(&ada_token)
            .form(&[("csrf", "x")])
            .send()
            .await
            .unwrap();
        assert_eq!(bearer.status().as_u16(), 303, "an API token is no session at {path}");
        let forged = member.post(path, &[("csrf", "forged")]).await;
        let refused = match who {
            Who::Member => matches!(forged.status, 403 | 422),
            Who::Moderator | Who::Admin => matches!(forged.status, 403 | 404 | 422),
        };
        assert!(refused, "a forged form at {path}: {}", forged.status);
        if who != Who::Member {
            let real = member.post(path, &[("csrf", &csrf)]).await;
            assert!(matches!(real.status, 404 | 422), "a member at {path}: {} {}", real.status, real.body);
            assert_ne!(real.status, 303, "{path}");
        }
    }
    for path in ["/admin", "/admin/federation", "/@mcg/moderation"] {
        assert_eq!(member.get(path).await.status, 404, "{path}");
        assert_eq!(stranger.get(path).await.status, 303, "{path}");
    }
    for path in ["/home", "/notifications", "/settings", "/settings/sessions", "/settings/export/outbox.json"]
    {
        assert_eq!(stranger.get(path).await.status, 303, "{path}");
    }
}
