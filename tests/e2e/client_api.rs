//! Contract tests of the client API over HTTP, failure cases included.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::support::{Backend, TestInstance, http};

/// Registers an app and signs `user` in with the password grant; returns the token.
pub(crate) async fn token(t: &TestInstance, user: &str, scopes: &str) -> String {
    token_at(&t.url(""), user, scopes).await
}

/// [`token`] for the instance at `base` (`http://localhost:PORT`).
pub(crate) async fn token_at(base: &str, user: &str, scopes: &str) -> String {
    let app: Value = http()
        .post(format!("{base}/api/v1/apps"))
        .json(&json!({"client_name": "tests", "redirect_uris": ["urn:ietf:wg:oauth:2.0:oob"], "scopes": scopes}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let form = [
        ("grant_type", "password"),
        ("client_id", app["client_id"].as_str().unwrap()),
        ("client_secret", app["client_secret"].as_str().unwrap()),
        ("username", user),
        ("password", "correct horse"),
        ("scope", scopes),
    ];
    let res: Value =
        http().post(format!("{base}/oauth/token")).form(&form).send().await.unwrap().json().await.unwrap();
    res["access_token"].as_str().unwrap_or_else(|| panic!("{res}")).to_owned()
}

pub(crate) async fn call(
    method: reqwest::Method,
    t: &TestInstance,
    path: &str,
    token: Option<&str>,
    body: Option<Value>,
) -> (StatusCode, Value) {
    let mut req = http().request(method, t.url(path));
    if let Some(token) = token {
        req = req.bearer_auth(token);
    }
    if let Some(body) = body {
        req = req.json(&body);
    }
    let res = req.send().await.unwrap();
    let status = res.status();
    (status, res.json().await.unwrap_or(Value::Null))
}

#[tokio::test]
async fn auth_scopes_and_errors() {
    let t = TestInstance::start(&Backend::Sqlite).await;
    t.user("ada").await;
    use reqwest::Method as M;
    // 401: no token, bad token.
    let (s, body) = call(M::GET, &t, "/api/v1/accounts/verify_credentials", None, None).await;
    assert_eq!((s, body["error"].as_str()), (StatusCode::UNAUTHORIZED, Some("The access token is invalid")));
    assert_eq!(call(M::GET, &t, "/api/v1/timelines/home", Some("nope"), None).await.0, 401);
    // 403: a read-only token cannot post.
    let read = token(&t, "ada", "read").await;
    assert_eq!(call(M::GET, &t, "/api/v1/accounts/verify_credentials", Some(&read), None).await.0, 200);
    let (s, body) = call(M::POST, &t, "/api/v1/statuses", Some(&read), Some(json!({"status": "hi"}))).await;
    assert_eq!(
        (s, body["error"].as_str()),
        (StatusCode::FORBIDDEN, Some("This action is outside the authorized scopes"))
    );
    // 422: validation.
    let write = token(&t, "ada", "read write follow").await;
    for bad in [
        json!({"status": ""}),
        json!({"status": "x", "visibility": "everyone"}),
        json!({"status": "x".repeat(5001)}),
    ] {
        let (s, body) = call(M::POST, &t, "/api/v1/statuses", Some(&write), Some(bad)).await;
        assert_eq!(s, 422, "{body}");
        assert!(body["error"].as_str().unwrap().starts_with("Validation failed"));
    }
    // 404.
    assert_eq!(call(M::GET, &t, "/api/v1/statuses/12345", Some(&write), None).await.0, 404);
    assert_eq!(call(M::GET, &t, "/api/v1/accounts/not-a-number", None, None).await.0, 404);
    // Revoked tokens stop working.
    let app: Value = http()
        .post(t.url("/api/v1/apps"))
        .form(&[
            ("client_name", "revoker"),
            ("redirect_uris", "urn:ietf:wg:oauth:2.0:oob"),
            ("scopes", "read"),
        ])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let (id, secret) = (app["client_id"].as_str().unwrap(), app["client_secret"].as_str().unwrap());
    let grant = [
        ("grant_type", "password"),
        ("client_id", id),
        ("client_secret", secret),
        ("username", "ada@museum.example"),
        ("password", "correct horse"),
    ];
    let issued: Value =
        http().post(t.url("/oauth/token")).form(&grant).send().await.unwrap().json().await.unwrap();
    let access = issued["access_token"].as_str().unwrap();
    assert_eq!(issued["token_type"], "Bearer");
    assert_eq!(call(M::GET, &t, "/api/v1/apps/verify_credentials", Some(access), None).await.0, 200);
    let revoke = [("client_id", id), ("client_secret", secret), ("token", access)];
    assert_eq!(http().post(t.url("/oauth/revoke")).form(&revoke).send().await.unwrap().status(), 200);
    assert_eq!(call(M::GET, &t, "/api/v1/apps/verify_credentials", Some(access), None).await.0, 401);
    // Client credentials: an app token, no user.
    let cc = [("grant_type", "client_credentials"), ("client_id", id), ("client_secret", secret)];
    let app_token: Value =
        http().post(t.url("/oauth/token")).form(&cc).send().await.unwrap().json().await.unwrap();
    let app_token = app_token["access_token"].as_str().unwrap();
    assert_eq!(call(M::GET, &t, "/api/v1/apps/verify_credentials", Some(app_token), None).await.0, 200);
    assert_eq!(call(M::GET, &t, "/api/v1/accounts/verify_credentials", Some(app_token), None).await.0, 422);
    // Token endpoint errors.
    let wrong = [
        ("grant_type", "password"),
        ("client_id", id),
        ("client_secret", secret),
        ("username", "ada"),
        ("password", "nope nope"),
    ];
    let res = http().post(t.url("/oauth/token")).form(&wrong).send().await.unwrap();
    assert_eq!(res.status(), 400);
    assert_eq!(res.json::<Value>().await.unwrap()["error"], "invalid_grant");
    let bad_client = [
        ("grant_type", "password"),
        ("client_id", id),
        ("client_secret", "guess"),
        ("username", "ada"),
        ("password", "x"),
    ];
    assert_eq!(http().post(t.url("/oauth/token")).form(&bad_client).send().await.unwrap().status(), 401);
    // Repeated failures are rate limited (5 per account; one failure happened above).
    for _ in 0..4 {
        http().post(t.url("/oauth/token")).form(&wrong).send().await.unwrap();
    }
    assert_eq!(http().post(t.url("/oauth/token")).form(&wrong).send().await.unwrap().status(), 429);
    // Unknown scopes are refused at registration.
    let (s, _) = call(M::POST, &t, "/api/v1/apps", None, Some(json!({"client_name": "x", "redirect_uris": "urn:ietf:wg:oauth:2.0:oob", "scopes": "read everything"}))).await;
    assert_eq!(s, 422);
    t.instance.stop().await.unwrap();
}

#[tokio::test]
async fn instance_statuses_timelines_and_paging() {
    let t = TestInstance::start(&Backend::Sqlite).await;
    t.user("ada").await;
    use reqwest::Method as M;
    for path in ["/api/v1/instance", "/api/v1/instance/", "/api/v2/instance", "/api/v2/instance/"] {
        let (s, body) = call(M::GET, &t, path, None, None).await;
        assert_eq!(s, 200, "{path}");
        assert!(body["version"].as_str().unwrap().starts_with("4.3.0 (compatible; Guildhall "), "{body}");
    }
    let (_, v2) = call(M::GET, &t, "/api/v2/instance", None, None).await;
    assert_eq!(v2["api_versions"]["mastodon"], 2);
    assert!(v2["configuration"]["statuses"]["max_characters"].is_u64());
    let (_, meta) = call(M::GET, &t, "/.well-known/oauth-authorization-server", None, None).await;
    assert_eq!(meta["code_challenge_methods_supported"], json!(["S256"]));

    let tok = token(&t, "ada", "read write").await;
    // Idempotency-Key: the same request twice creates one status.
    let post = |text: &str, key: Option<&str>| {
        let mut req = http().post(t.url("/api/v1/statuses")).bearer_auth(&tok).json(&json!({"status": text}));
        if let Some(key) = key {
            req = req.header("Idempotency-Key", key);
        }
        req
    };
    let first: Value = post("once", Some("k1")).send().await.unwrap().json().await.unwrap();
    let again: Value = post("once", Some("k1")).send().await.unwrap().json().await.unwrap();
    assert_eq!(first["id"], again["id"]);
    for n in 0..4 {
        post(&format!("post {n}"), None).send().await.unwrap();
    }
    let private: Value = http()
        .post(t.url("/api/v1/statuses"))
        .bearer_auth(&tok)
        .json(&json!({"status": "secret", "visibility": "private"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    // Home pages with Link headers.
    let res = http().get(t.url("/api/v1/timelines/home?limit=2")).bearer_auth(&tok).send().await.unwrap();
    let link = res.headers()["link"].to_str().unwrap().to_owned();
    let page: Vec<Value> = res.json().await.unwrap();
    assert_eq!(page.len(), 2);
    assert_eq!(page[0]["id"], private["id"]);
    assert!(
        link.contains("rel=\"next\"")
            && link.contains(&format!("max_id={}", page[1]["id"].as_str().unwrap())),
        "{link}"
    );
    let next: Vec<Value> = http()
        .get(t.url(&format!("/api/v1/timelines/home?limit=2&max_id={}", page[1]["id"].as_str().unwrap())))
        .bearer_auth(&tok)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(next.len(), 2);
    assert!(next[0]["id"].as_str().unwrap() < page[1]["id"].as_str().unwrap());
    // Anonymous readers see public posts, never the private one.
    let public: Vec<Value> =
        http().get(t.url("/api/v1/timelines/public?local=true")).send().await.unwrap().json().await.unwrap();
    assert_eq!(public.len(), 5);
    assert!(public.iter().all(|s| s["visibility"] == "public"));
    let private_id = private["id"].as_str().unwrap();
    assert_eq!(call(M::GET, &t, &format!("/api/v1/statuses/{private_id}"), None, None).await.0, 404);
    assert_eq!(call(M::GET, &t, &format!("/api/v1/statuses/{private_id}"), Some(&tok), None).await.0, 200);
    // Delete returns the source text.
    let (s, deleted) = call(M::DELETE, &t, &format!("/api/v1/statuses/{private_id}"), Some(&tok), None).await;
    assert_eq!((s, deleted["text"].as_str()), (StatusCode::OK, Some("secret")));
    assert_eq!(call(M::GET, &t, &format!("/api/v1/statuses/{private_id}"), Some(&tok), None).await.0, 404);
    // CORS preflight for browser apps.
    let pre = http().request(reqwest::Method::OPTIONS, t.url("/api/v1/timelines/home")).send().await.unwrap();
    assert_eq!(pre.status(), 204);
    assert!(pre.headers()["access-control-allow-headers"].to_str().unwrap().contains("Idempotency-Key"));
    t.instance.stop().await.unwrap();
}

#[tokio::test]
async fn entity_shapes() {
    let t = TestInstance::start(&Backend::Sqlite).await;
    t.user("ada").await;
    let tok = token(&t, "ada", "read write").await;
    let status: Value = http()
        .post(t.url("/api/v1/statuses"))
        .bearer_auth(&tok)
        .json(&json!({"status": "Hello #GLAM https://museum.example/", "spoiler_text": "intro", "language": "en"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let port = t.instance.port().to_string();
    let status = serde_json::from_str::<Value>(&status.to_string().replace(&port, "PORT")).unwrap();
    insta::assert_json_snapshot!("status_entity", status, {
        ".id" => "[id]", ".uri" => "[uri]", ".url" => "[url]", ".created_at" => "[time]",
        ".account.id" => "[id]", ".account.created_at" => "[time]",
    });
    t.instance.stop().await.unwrap();
}
