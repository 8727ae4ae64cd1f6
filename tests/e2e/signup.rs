//! Sign-up in each registration mode, over real HTTP: `POST /api/v1/accounts`, the sign-up
//! page, sign-in rules for pending accounts, and approval by the CLI and the admin API.

use std::process::{Command, Output};

use guildhall_core::config::DatabaseUrl;
use reqwest::Method as M;
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::client_api::{call, token};
use crate::support::{Backend, TestInstance, backends, confirm_by_mail, http};

const PENDING: &str = "Your login is currently pending approval";
const UNCONFIRMED: &str = "Your login is missing a confirmed e-mail address";

async fn start(backend: &Backend, mode: &str, extra: &[(&str, &str)]) -> TestInstance {
    let mut settings = vec![("GUILDHALL_REGISTRATIONS", mode)];
    settings.extend_from_slice(extra);
    TestInstance::start_with(backend, &settings).await
}

/// Registers an app that may read and write; returns its client id and secret.
async fn register_app(t: &TestInstance) -> (String, String) {
    let app: Value = http()
        .post(t.url("/api/v1/apps"))
        .json(&json!({"client_name": "sign-up tests", "redirect_uris": "urn:ietf:wg:oauth:2.0:oob", "scopes": "read write"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    (app["client_id"].as_str().unwrap().to_owned(), app["client_secret"].as_str().unwrap().to_owned())
}

/// An app's own token (client credentials grant) with `write:accounts`, as apps get one to sign
/// people up.
pub(crate) async fn app_token(t: &TestInstance) -> String {
    let (id, secret) = register_app(t).await;
    let form = [
        ("grant_type", "client_credentials"),
        ("client_id", &id),
        ("client_secret", &secret),
        ("scope", "write:accounts"),
    ];
    let res: Value =
        http().post(t.url("/oauth/token")).form(&form).send().await.unwrap().json().await.unwrap();
    res["access_token"].as_str().unwrap_or_else(|| panic!("{res}")).to_owned()
}

fn person(name: &str) -> Value {
    json!({
        "username": name, "email": format!("{name}@museum.example"), "password": "correct horse",
        "agreement": true, "locale": "en",
    })
}

async fn sign_up(t: &TestInstance, token: Option<&str>, body: Value) -> (StatusCode, Value) {
    call(M::POST, t, "/api/v1/accounts", token, Some(body)).await
}

/// The password grant for `login`: status and body.
async fn password_grant(t: &TestInstance, login: &str) -> (StatusCode, Value) {
    let (id, secret) = register_app(t).await;
    let form = [
        ("grant_type", "password"),
        ("client_id", id.as_str()),
        ("client_secret", secret.as_str()),
        ("username", login),
        ("password", "correct horse"),
        ("scope", "read"),
    ];
    let res = http().post(t.url("/oauth/token")).form(&form).send().await.unwrap();
    (res.status(), res.json().await.unwrap())
}

async fn username_of(t: &TestInstance, token: &str) -> (StatusCode, Value) {
    call(M::GET, t, "/api/v1/accounts/verify_credentials", Some(token), None).await
}

/// `/api/v1/instance`'s `registrations` and `approval_required`, and v2's `registrations`.
async fn advertised(t: &TestInstance) -> (Value, Value) {
    let (_, v1) = call(M::GET, t, "/api/v1/instance", None, None).await;
    let (_, v2) = call(M::GET, t, "/api/v2/instance", None, None).await;
    (json!([v1["registrations"], v1["approval_required"]]), v2["registrations"].clone())
}

/// The real binary, run on the instance's database as an operator would.
fn guildhall(t: &TestInstance, args: &[&str]) -> Output {
    let config = t.instance.config();
    let mut command = Command::new(env!("CARGO_BIN_EXE_guildhall"));
    command.args(args).env_clear().env("GUILDHALL_DATA_DIR", &config.data_dir).env("RUST_LOG", "warn");
    if let DatabaseUrl::Postgres(url) = &config.database_url {
        command.env("GUILDHALL_DATABASE_URL", url);
    }
    command.output().unwrap()
}

/// The sign-up page: its CSRF cookie (as a `Cookie` header value) and hidden token.
async fn sign_up_page(t: &TestInstance) -> (String, String, String) {
    let res = http().get(t.url("/auth/sign_up")).send().await.unwrap();
    assert_eq!(res.status(), 200);
    assert!(res.headers()["content-type"].to_str().unwrap().starts_with("text/html"));
    let cookie = res.headers()["set-cookie"].to_str().unwrap().split(';').next().unwrap().to_owned();
    let html = res.text().await.unwrap();
    let token = html
        .split("name=\"csrf_token\" value=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .unwrap_or_else(|| panic!("no CSRF token in {html}"))
        .to_owned();
    assert_eq!(cookie, format!("guildhall_csrf={token}"));
    (cookie, token, html)
}

async fn post_page(t: &TestInstance, cookie: Option<&str>, form: &[(&str, &str)]) -> (StatusCode, String) {
    let mut req = http().post(t.url("/auth/sign_up")).form(form);
    if let Some(cookie) = cookie {
        req = req.header("Cookie", cookie);
    }
    let res = req.send().await.unwrap();
    let status = res.status();
    assert!(res.headers()["content-type"].to_str().unwrap().starts_with("text/html"), "{status}");
    (status, res.text().await.unwrap())
}

fn page_form<'a>(csrf: &'a str, name: &'a str, email: &'a str) -> Vec<(&'a str, &'a str)> {
    vec![
        ("csrf_token", csrf),
        ("username", name),
        ("email", email),
        ("password", "correct horse"),
        ("password_confirmation", "correct horse"),
        ("agreement", "true"),
    ]
}

#[tokio::test]
async fn closed_instances_refuse_sign_ups() {
    for backend in backends() {
        let t = TestInstance::start(&backend).await;
        let (v1, v2) = advertised(&t).await;
        assert_eq!(v1, json!([false, false]));
        assert_eq!((&v2["enabled"], &v2["approval_required"]), (&json!(false), &json!(false)));
        assert_eq!(v2["message"], "Sign-ups are closed on this instance");

        assert_eq!(sign_up(&t, None, person("ada")).await.0, 401, "an app token is needed first");
        let app = app_token(&t).await;
        let (status, body) = sign_up(&t, Some(&app), person("ada")).await;
        assert_eq!(
            (status, body["error"].as_str()),
            (StatusCode::FORBIDDEN, Some("Sign-ups are closed on this instance"))
        );

        let page = http().get(t.url("/auth/sign_up")).send().await.unwrap().text().await.unwrap();
        assert!(page.contains("Sign-ups are closed") && !page.contains("<form"), "{page}");
        let (status, _) = post_page(&t, None, &page_form("x", "ada", "ada@museum.example")).await;
        assert_eq!(status, 403);
        assert_eq!(password_grant(&t, "ada").await.0, 400, "nobody was created");
        t.instance.stop().await.unwrap();
    }
}

#[tokio::test]
async fn open_sign_up_answers_a_working_token() {
    for backend in backends() {
        let t = start(&backend, "open", &[]).await;
        let (v1, v2) = advertised(&t).await;
        assert_eq!(v1, json!([true, false]));
        assert_eq!(
            v2,
            json!({"enabled": true, "approval_required": false, "message": null, "url": null, "reason_required": false})
        );

        assert_eq!(sign_up(&t, None, person("ada")).await.0, 401);
        assert_eq!(sign_up(&t, Some("not-a-token"), person("ada")).await.0, 401);
        let app = app_token(&t).await;
        let (status, issued) = sign_up(&t, Some(&app), person("Ada")).await;
        assert_eq!(status, 200, "{issued}");
        assert_eq!(
            (issued["token_type"].as_str(), issued["scope"].as_str()),
            (Some("Bearer"), Some("read write"))
        );
        assert!(issued["created_at"].is_i64(), "{issued}");
        // The account waits for its address, as on Mastodon.
        let (status, body) = username_of(&t, issued["access_token"].as_str().unwrap()).await;
        assert_eq!((status, body["error"].as_str()), (StatusCode::FORBIDDEN, Some(UNCONFIRMED)));
        assert_eq!(password_grant(&t, "ada@museum.example").await.0, 400);
        confirm_by_mail(&t, "ada@museum.example").await;
        let (status, me) = username_of(&t, issued["access_token"].as_str().unwrap()).await;
        assert_eq!((status, me["username"].as_str()), (StatusCode::OK, Some("Ada")));
        // The new user signs in with the password too, and can post.
        assert_eq!(password_grant(&t, "ada@museum.example").await.0, 200);
        let (status, _) = call(
            M::POST,
            &t,
            "/api/v1/statuses",
            issued["access_token"].as_str(),
            Some(json!({"status": "Hello from a new account"})),
        )
        .await;
        assert_eq!(status, 200);
        t.instance.stop().await.unwrap();
    }
}

#[tokio::test]
async fn each_bad_field_is_reported_in_mastodon_shape() {
    for backend in backends() {
        let t = start(&backend, "open", &[("GUILDHALL_PASSWORD_MIN_LENGTH", "10")]).await;
        let app = app_token(&t).await;
        assert_eq!(sign_up(&t, Some(&app), person("ada")).await.0, 200);
        confirm_by_mail(&t, "ada@museum.example").await;

        let bad = json!({"username": "ADA", "email": "ada@", "password": "too short", "locale": "en"});
        let (status, body) = sign_up(&t, Some(&app), bad).await;
        assert_eq!(status, 422, "{body}");
        let details = &body["details"];
        assert_eq!(details["username"], json!([{"error": "ERR_TAKEN", "description": "is already taken"}]));
        assert_eq!(details["email"][0]["error"], "ERR_INVALID");
        assert_eq!(
            details["password"],
            json!([{"error": "ERR_TOO_SHORT", "description": "is too short (minimum is 10 characters)"}])
        );
        assert_eq!(details["agreement"][0]["error"], "ERR_ACCEPTED");
        assert_eq!(details.as_object().unwrap().len(), 4, "{details}");
        let error = body["error"].as_str().unwrap();
        assert!(error.starts_with("Validation failed: Username is already taken, "), "{error}");
        assert!(error.contains("Password is too short (minimum is 10 characters)"), "{error}");

        let cases = [
            (json!({"email": "ADA@museum.example", "username": "grace"}), "email", "ERR_TAKEN"),
            (json!({"username": "admin"}), "username", "ERR_RESERVED"),
            (json!({"username": "grace hopper"}), "username", "ERR_INVALID"),
            (json!({"username": ""}), "username", "ERR_BLANK"),
            (json!({"password": ""}), "password", "ERR_BLANK"),
            (json!({"agreement": false}), "agreement", "ERR_ACCEPTED"),
        ];
        for (change, field, code) in cases {
            let mut body = person("grace");
            body["password"] = json!("correct horse battery");
            body.as_object_mut().unwrap().extend(change.as_object().unwrap().clone());
            let (status, answer) = sign_up(&t, Some(&app), body).await;
            assert_eq!(status, 422, "{answer}");
            assert_eq!(answer["details"][field][0]["error"], code, "{answer}");
            assert_eq!(answer["details"].as_object().unwrap().len(), 1, "{answer}");
        }
        // A form-encoded sign-up works as well as JSON; nothing was written by the failures.
        let form = [
            ("username", "grace"),
            ("email", "grace@museum.example"),
            ("password", "correct horse battery"),
            ("agreement", "true"),
        ];
        let res = http().post(t.url("/api/v1/accounts")).bearer_auth(&app).form(&form).send().await.unwrap();
        assert_eq!(res.status(), 200);
        // A token without write:accounts may not sign people up.
        let read_only = token(&t, "ada", "read").await;
        assert_eq!(sign_up(&t, Some(&read_only), person("cy")).await.0, 403);
        t.instance.stop().await.unwrap();
    }
}

#[tokio::test]
async fn approval_mode_waits_for_an_admin() {
    for backend in backends() {
        let t = start(&backend, "approval", &[("GUILDHALL_REGISTRATIONS_REASON_REQUIRED", "true")]).await;
        let (v1, v2) = advertised(&t).await;
        assert_eq!(v1, json!([true, true]));
        assert_eq!(
            (&v2["enabled"], &v2["approval_required"], &v2["reason_required"]),
            (&json!(true), &json!(true), &json!(true))
        );

        let app = app_token(&t).await;
        let (status, body) = sign_up(&t, Some(&app), person("ada")).await;
        assert_eq!(
            (status, &body["details"]["reason"][0]["error"]),
            (StatusCode::UNPROCESSABLE_ENTITY, &json!("ERR_BLANK"))
        );
        let mut ada = person("ada");
        ada["reason"] = json!("I run the collections database at a county museum");
        let (status, issued) = sign_up(&t, Some(&app), ada).await;
        assert_eq!(status, 200, "{issued}");
        let access = issued["access_token"].as_str().unwrap();
        let (status, body) = username_of(&t, access).await;
        assert_eq!((status, body["error"].as_str()), (StatusCode::FORBIDDEN, Some(UNCONFIRMED)));
        confirm_by_mail(&t, "ada@museum.example").await;

        // Pending: the token and the password are both refused, saying why.
        let (status, body) = username_of(&t, access).await;
        assert_eq!((status, body["error"].as_str()), (StatusCode::FORBIDDEN, Some(PENDING)));
        let (status, body) = password_grant(&t, "ada").await;
        assert_eq!((status, body["error"].as_str()), (StatusCode::BAD_REQUEST, Some("invalid_grant")));
        assert_eq!(body["error_description"], PENDING);
        let (status, body) = authorize_page_sign_in(&t, "ada").await;
        assert_eq!(status, 200);
        assert!(body.contains("Your login is currently pending approval."), "{body}");
        // A wrong password says nothing about the account.
        let (id, secret) = register_app(&t).await;
        let wrong = [
            ("grant_type", "password"),
            ("client_id", id.as_str()),
            ("client_secret", secret.as_str()),
            ("username", "ada"),
            ("password", "not the password"),
        ];
        let res: Value =
            http().post(t.url("/oauth/token")).form(&wrong).send().await.unwrap().json().await.unwrap();
        assert_eq!(res["error_description"], "Invalid username or password");

        // The CLI lists and approves; the same token works from then on.
        let listed = guildhall(&t, &["admin", "pending-users"]);
        let listed_text = String::from_utf8_lossy(&listed.stdout);
        assert!(listed.status.success() && listed_text.contains("ada\tada@museum.example"), "{listed_text}");
        assert!(listed_text.contains("county museum"), "{listed_text}");
        let approved = guildhall(&t, &["admin", "approve-user", "ada"]);
        assert!(approved.status.success(), "{}", String::from_utf8_lossy(&approved.stderr));
        let (status, me) = username_of(&t, access).await;
        assert_eq!((status, me["username"].as_str()), (StatusCode::OK, Some("ada")));
        assert_eq!(password_grant(&t, "ada").await.0, 200);
        t.instance.stop().await.unwrap();
    }
}

/// Signs in on `/oauth/authorize` with the right password; the status and page.
async fn authorize_page_sign_in(t: &TestInstance, login: &str) -> (StatusCode, String) {
    let (id, _) = register_app(t).await;
    let page = http()
        .get(t.url(&format!(
            "/oauth/authorize?client_id={id}&redirect_uri=urn:ietf:wg:oauth:2.0:oob&scope=read"
        )))
        .send()
        .await
        .unwrap();
    let cookie = page.headers()["set-cookie"].to_str().unwrap().split(';').next().unwrap().to_owned();
    let csrf = cookie.trim_start_matches("guildhall_csrf=").to_owned();
    let form = [
        ("client_id", id.as_str()),
        ("redirect_uri", "urn:ietf:wg:oauth:2.0:oob"),
        ("scope", "read"),
        ("csrf_token", csrf.as_str()),
        ("login", login),
        ("password", "correct horse"),
    ];
    let res =
        http().post(t.url("/oauth/authorize")).header("Cookie", cookie).form(&form).send().await.unwrap();
    (res.status(), res.text().await.unwrap())
}

#[tokio::test]
async fn admins_approve_and_reject_through_the_admin_api() {
    for backend in backends() {
        let t = start(&backend, "approval", &[]).await;
        let urls = guildhall_federation::Urls::new(t.instance.config());
        let boss = guildhall_federation::local_actors::NewUser {
            username: "boss",
            email: "boss@museum.example",
            password: "correct horse",
            role: guildhall_core::model::Role::Admin,
        };
        guildhall_federation::local_actors::create_user(t.instance.db(), &urls, boss).await.unwrap();
        t.user("member").await;
        let admin = token(&t, "boss", "read write admin:read admin:write").await;
        let member = token(&t, "member", "read write admin:read admin:write").await;

        let app = app_token(&t).await;
        for name in ["grace", "cy"] {
            let mut body = person(name);
            body["reason"] = json!(format!("{name} wants in"));
            assert_eq!(sign_up(&t, Some(&app), body).await.0, 200);
            confirm_by_mail(&t, &format!("{name}@museum.example")).await;
        }
        let (status, body) =
            call(M::GET, &t, "/api/v1/admin/accounts?status=pending", Some(&member), None).await;
        assert_eq!(
            (status, body["error"].as_str()),
            (StatusCode::FORBIDDEN, Some("This action is not allowed"))
        );
        let (status, pending) =
            call(M::GET, &t, "/api/v1/admin/accounts?status=pending", Some(&admin), None).await;
        assert_eq!(status, 200, "{pending}");
        let names: Vec<&str> =
            pending.as_array().unwrap().iter().map(|a| a["username"].as_str().unwrap()).collect();
        assert_eq!(names, ["cy", "grace"]);
        let grace = &pending[1];
        assert_eq!(
            (grace["approved"].as_bool(), grace["invite_request"].as_str()),
            (Some(false), Some("grace wants in"))
        );
        assert_eq!(grace["email"], "grace@museum.example");
        assert_eq!(grace["account"]["id"], grace["id"]);
        let (grace_id, cy_id) =
            (grace["id"].as_str().unwrap().to_owned(), pending[0]["id"].as_str().unwrap().to_owned());

        let approve = format!("/api/v1/admin/accounts/{grace_id}/approve");
        assert_eq!(call(M::POST, &t, &approve, Some(&member), None).await.0, 403);
        let (status, approved) = call(M::POST, &t, &approve, Some(&admin), None).await;
        assert_eq!((status, approved["approved"].as_bool()), (StatusCode::OK, Some(true)));
        assert_eq!(call(M::POST, &t, &approve, Some(&admin), None).await.0, 403, "only pending accounts");
        assert_eq!(password_grant(&t, "grace").await.0, 200);

        let reject = format!("/api/v1/admin/accounts/{cy_id}/reject");
        let (status, rejected) = call(M::POST, &t, &reject, Some(&admin), None).await;
        assert_eq!((status, rejected["username"].as_str()), (StatusCode::OK, Some("cy")));
        assert_eq!(
            call(M::GET, &t, &format!("/api/v1/admin/accounts/{cy_id}"), Some(&admin), None).await.0,
            404
        );
        assert_eq!(password_grant(&t, "cy").await.0, 400);
        let (_, left) = call(M::GET, &t, "/api/v1/admin/accounts?pending=true", Some(&admin), None).await;
        assert_eq!(left, json!([]));
        // A rejected sign-up frees its name and address.
        assert_eq!(sign_up(&t, Some(&app), person("cy")).await.0, 200);
        let reject_approved = format!("/api/v1/admin/accounts/{grace_id}/reject");
        assert_eq!(call(M::POST, &t, &reject_approved, Some(&admin), None).await.0, 403);
        t.instance.stop().await.unwrap();
    }
}

#[tokio::test]
async fn sign_up_page_needs_its_csrf_token() {
    for backend in backends() {
        let t = start(&backend, "open", &[]).await;
        let (cookie, csrf, html) = sign_up_page(&t).await;
        for label in [
            "<label for=\"username\">",
            "<label for=\"email\">",
            "<label for=\"password\">",
            "<label for=\"agreement\"",
        ] {
            assert!(html.contains(label), "{label} in {html}");
        }
        assert!(!html.contains("name=\"reason\""), "open mode asks no reason");

        // Without the cookie, or with a token that does not match it: 403, nothing created.
        let (status, page) = post_page(&t, None, &page_form(&csrf, "ada", "ada@museum.example")).await;
        assert_eq!(status, 403);
        assert!(page.contains("This form has expired") && page.contains("value=\"ada\""), "{page}");
        let (status, _) =
            post_page(&t, Some(&cookie), &page_form("forged", "ada", "ada@museum.example")).await;
        assert_eq!(status, 403);
        assert_eq!(password_grant(&t, "ada").await.0, 400, "nothing was created");

        // Errors come back next to their fields, the form filled in again (passwords aside).
        let mut bad = page_form(&csrf, "ada", "not-an-address");
        bad[4] = ("password_confirmation", "correct horsE");
        bad.pop();
        let (status, page) = post_page(&t, Some(&cookie), &bad).await;
        assert_eq!(status, 422);
        assert!(
            page.contains("<p class=\"error\" id=\"email-error\">E-mail address is invalid</p>"),
            "{page}"
        );
        assert!(page.contains("id=\"password_confirmation-error\""), "{page}");
        assert!(page.contains("id=\"agreement-error\""), "{page}");
        assert!(page.contains("aria-describedby=\"email-error\" aria-invalid=\"true\""), "{page}");
        assert!(page.contains("<a href=\"#email\">"), "the summary links to the field: {page}");
        assert!(
            page.contains("value=\"not-an-address\"") && !page.contains("value=\"correct horse\""),
            "{page}"
        );
        assert_eq!(password_grant(&t, "ada").await.0, 400, "nothing was created");

        let (status, page) =
            post_page(&t, Some(&cookie), &page_form(&csrf, "ada", "ada@museum.example")).await;
        assert_eq!(status, 200, "{page}");
        assert!(page.contains("is ready") && page.contains("We have mailed a link"), "{page}");
        assert_eq!(password_grant(&t, "ada").await.0, 400, "waits for the address");
        confirm_by_mail(&t, "ada@museum.example").await;
        assert_eq!(password_grant(&t, "ada").await.0, 200);
        t.instance.stop().await.unwrap();
    }
}

#[tokio::test]
async fn sign_up_page_in_approval_mode_asks_why_and_says_what_happens_next() {
    for backend in backends() {
        let t = start(&backend, "approval", &[("GUILDHALL_REGISTRATIONS_REASON_REQUIRED", "true")]).await;
        let (cookie, csrf, html) = sign_up_page(&t).await;
        assert!(html.contains("<label for=\"reason\">Why do you want to join?</label>"), "{html}");
        let (status, page) =
            post_page(&t, Some(&cookie), &page_form(&csrf, "ada", "ada@museum.example")).await;
        assert_eq!(status, 422);
        assert!(page.contains("id=\"reason-error\""), "{page}");
        let mut form = page_form(&csrf, "ada", "ada@museum.example");
        form.push(("reason", "I catalogue <strong>ceramics</strong>"));
        let (status, page) = post_page(&t, Some(&cookie), &form).await;
        assert_eq!(status, 200, "{page}");
        assert!(page.contains("An administrator will review it"), "{page}");
        confirm_by_mail(&t, "ada@museum.example").await;
        let (status, body) = password_grant(&t, "ada").await;
        assert_eq!((status, body["error_description"].as_str()), (StatusCode::BAD_REQUEST, Some(PENDING)));
        let out = guildhall(&t, &["admin", "approve-user", "ADA"]);
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        assert_eq!(password_grant(&t, "ada").await.0, 200);
        t.instance.stop().await.unwrap();
    }
}

#[tokio::test]
async fn one_address_creates_at_most_ten_accounts_an_hour_behind_a_proxy_too() {
    let t = start(&Backend::Sqlite, "open", &[]).await;
    let app = app_token(&t).await;
    for n in 0..10 {
        let (s, body) = sign_up(&t, Some(&app), person(&format!("member{n}"))).await;
        assert_eq!(s, 200, "{body}");
    }
    let (s, body) = sign_up(&t, Some(&app), person("member10")).await;
    assert_eq!(s, 429, "{body}");
    assert!(body["error"].as_str().unwrap().contains("Too many sign-ups"));
    // Behind the reverse proxy (a loopback peer), the client it names counts, not the proxy.
    let res = http()
        .post(t.url("/api/v1/accounts"))
        .bearer_auth(&app)
        .header("X-Real-IP", "203.0.113.5")
        .json(&person("member10"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200, "another client behind the proxy");
    t.instance.stop().await.unwrap();
}
