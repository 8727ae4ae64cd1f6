use diesel::connection::SimpleConnection;
use guildhall_core::config::DatabaseUrl;
use guildhall_storage::DbConnection;
use serde_json::Value;

use crate::support::{Backend, TestInstance, http};

#[tokio::test]
async fn health_answers_on_every_backend() {
    for backend in crate::support::backends() {
        let t = TestInstance::start(&backend).await;
        let res = http().get(t.url("/health")).send().await.unwrap();
        assert_eq!(res.status(), 200, "{backend:?}");
        assert_eq!(res.json::<Value>().await.unwrap()["status"], "ok");
        t.instance.stop().await.unwrap();
    }
}

#[tokio::test]
async fn every_error_body_is_json() {
    let t = TestInstance::start(&Backend::Sqlite).await;
    let res = http().get(t.url("/no/such/page")).send().await.unwrap();
    assert_eq!(res.status(), 404);
    assert_eq!(res.headers()["content-type"], "application/json");
    assert_eq!(res.json::<Value>().await.unwrap(), serde_json::json!({"error": "Not found"}));
    let res = http().post(t.url("/health")).send().await.unwrap();
    assert!(res.status().is_client_error());
    let body: Value = res.json().await.unwrap();
    assert!(body["error"].is_string(), "{body}");
    t.instance.stop().await.unwrap();
}

/// With its database gone, the instance says so with a 503 instead of hanging or crashing.
#[tokio::test]
async fn health_is_503_when_the_database_is_gone() {
    let Some(base) = std::env::var("GUILDHALL_TEST_POSTGRES_URL").ok() else {
        guildhall_storage::testing::cannot_run("GUILDHALL_TEST_POSTGRES_URL not set: the database-gone test");
        return;
    };
    let name = format!("gh_health_{}", guildhall_core::Id::generate().0);
    let mut admin = DbConnection::open(&DatabaseUrl::Postgres(base.clone())).unwrap();
    admin.batch_execute(&format!("CREATE DATABASE {name}")).unwrap();
    let mut url = url::Url::parse(&base).unwrap();
    url.set_path(&name);
    let t = TestInstance::start(&Backend::Postgres(DatabaseUrl::Postgres(url.to_string()))).await;
    assert_eq!(http().get(t.url("/health")).send().await.unwrap().status(), 200);

    admin.batch_execute(&format!("DROP DATABASE {name} WITH (FORCE)")).unwrap();
    let res = http().get(t.url("/health")).send().await.unwrap();
    assert_eq!(res.status(), 503);
    assert_eq!(res.json::<Value>().await.unwrap()["error"], "database unavailable");
    t.instance.stop().await.unwrap();
}
