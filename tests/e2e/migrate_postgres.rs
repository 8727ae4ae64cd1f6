//! `guildhall migrate-to-postgres` and `migrate-to-sqlite`, the real binary run as an operator
//! runs it: an SQLite instance seeded through the API moves to PostgreSQL, serves what it had
//! under the same domain and data directory, takes new posts, and moves back.

use std::net::TcpListener;
use std::path::Path;
use std::process::Output;

use guildhall::Instance;
use guildhall_api::HttpOptions;
use guildhall_core::config::DatabaseUrl;
use reqwest::Method as M;
use serde_json::{Value, json};
use tokio::process::Command;

use crate::client_api::{call, token};
use crate::support::{Backend, TestInstance, config_with, http};

/// The real binary with only these settings (and `RUST_LOG=warn`), as an operator runs it.
async fn guildhall(settings: &[(&str, String)], args: &[&str]) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_guildhall"));
    command.args(args).env_clear().env("RUST_LOG", "warn");
    for (key, value) in settings {
        command.env(key, value);
    }
    command.output().await.unwrap()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// `url` with a password, and the password: the test server trusts local connections (as
/// CI's does), so one it does not need is ignored, and the output must never show it.
fn with_password(url: &str) -> (String, String) {
    let mut parsed = reqwest::Url::parse(url).unwrap();
    if let Some(password) = parsed.password() {
        return (url.to_owned(), password.to_owned());
    }
    parsed.set_password(Some("Never-Print-Me-42")).unwrap();
    (parsed.to_string(), "Never-Print-Me-42".to_owned())
}

/// Starts an instance under `domain` with its data in `dir`, on `database_url`, on a new port.
async fn start_on(dir: &Path, domain: &str, database_url: &str) -> Instance {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let settings = [("GUILDHALL_DOMAIN", domain), ("GUILDHALL_DATABASE_URL", database_url)];
    let config = config_with(dir, port, &Backend::Sqlite, &settings);
    let options = HttpOptions { workers: Some(1), disable_signals: true, run_delivery: false, pages: None };
    Instance::start_on(config, listener, options).await.unwrap()
}

async fn get(base: &str, path: &str, token: &str) -> (u16, Value) {
    let res = http().get(format!("{base}{path}")).bearer_auth(token).send().await.unwrap();
    (res.status().as_u16(), res.json().await.unwrap_or(Value::Null))
}

/// The rows the printed count table gives `table`: (source, target).
fn counted(stdout: &str, table: &str) -> (i64, i64) {
    let line = stdout.lines().find(|l| l.split_whitespace().next() == Some(table)).unwrap();
    let n: Vec<i64> = line.split_whitespace().skip(1).map(|n| n.parse().unwrap()).collect();
    (n[0], n[1])
}

/// Ada with three posts and a follower, bob; returns the instance, ada's token and the posts.
async fn seeded() -> (TestInstance, String, Vec<Value>) {
    let t = TestInstance::start(&Backend::Sqlite).await;
    t.user("ada").await;
    t.user("bob").await;
    let ada = token(&t, "ada", "read write follow").await;
    let bob = token(&t, "bob", "read write follow").await;
    let mut posted = Vec::new();
    for text in ["the first 🏛️", "it's \"quoted\" — zoë", "a third, #museums"] {
        let (status, body) =
            call(M::POST, &t, "/api/v1/statuses", Some(&ada), Some(json!({"status": text}))).await;
        assert_eq!(status, 200, "{body}");
        posted.push(body);
    }
    let ada_id = posted[0]["account"]["id"].as_str().unwrap().to_owned();
    let (status, rel) =
        call(M::POST, &t, &format!("/api/v1/accounts/{ada_id}/follow"), Some(&bob), None).await;
    assert_eq!((status.as_u16(), &rel["following"]), (200, &json!(true)), "{rel}");
    (t, ada, posted)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_sqlite_instance_moves_to_postgres_and_back() {
    let Some(DatabaseUrl::Postgres(url)) = guildhall_storage::testing::postgres_url() else {
        guildhall_storage::testing::cannot_run("GUILDHALL_TEST_POSTGRES_URL not set: migrate-to-postgres");
        return;
    };
    let (pg, password) = with_password(&url);
    let (t, ada, posted) = seeded().await;
    let config = t.instance.config().clone();
    let (dir, domain) = (config.data_dir.clone(), config.domain.to_string());
    let settings =
        vec![("GUILDHALL_DATA_DIR", dir.display().to_string()), ("GUILDHALL_DOMAIN", domain.clone())];

    // While the server runs: refused, and the target is left alone.
    let out = guildhall(&settings, &["migrate-to-postgres", "--to", &pg]).await;
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stdout));
    assert!(text(&out.stderr).contains("open in another process"), "{}", text(&out.stderr));
    t.instance.stop().await.unwrap();

    let out = guildhall(&settings, &["migrate-to-postgres", "--to", &pg]).await;
    let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
    assert!(out.status.success(), "{stderr}");
    assert!(!stdout.contains(&password) && !stderr.contains(&password), "{stdout}{stderr}");
    assert!(stdout.contains("database_url = \"postgres://") && stdout.contains(":***@"), "{stdout}");
    let copied = stdout.clone();
    assert_eq!(counted(&stdout, "statuses"), (3, 3), "{stdout}");
    assert_eq!(counted(&stdout, "follows"), (1, 1), "{stdout}");
    assert_eq!(counted(&stdout, "events"), (0, 0), "empty tables are listed too");

    // The same domain and data directory, now on PostgreSQL: everything is there.
    let on_pg = start_on(&dir, &domain, &pg).await;
    assert!(on_pg.config().database_url.is_postgres());
    let base = format!("http://localhost:{}", on_pg.port());
    for status in &posted {
        let (code, found) =
            get(&base, &format!("/api/v1/statuses/{}", status["id"].as_str().unwrap()), &ada).await;
        assert_eq!(code, 200, "{found}");
        assert_eq!(found["content"], status["content"]);
        assert_eq!(found["created_at"], status["created_at"], "timestamps kept to the millisecond");
    }
    let (code, me) = get(&base, "/api/v1/accounts/verify_credentials", &ada).await;
    assert_eq!(code, 200, "{me}");
    assert_eq!(
        (&me["username"], &me["statuses_count"], &me["followers_count"]),
        (&json!("ada"), &json!(3), &json!(1))
    );
    let res = http()
        .post(format!("{base}/api/v1/statuses"))
        .bearer_auth(&ada)
        .json(&json!({"status": "on PostgreSQL now"}));
    let new: Value = res.send().await.unwrap().json().await.unwrap();
    let new_id = new["id"].as_str().unwrap_or_else(|| panic!("{new}")).to_owned();
    assert_eq!(get(&base, &format!("/api/v1/statuses/{new_id}"), &ada).await.0, 200);
    // The way back is refused while a server runs on PostgreSQL (it holds a listener there).
    let mut pg_settings = settings.clone();
    pg_settings.push(("GUILDHALL_DATABASE_URL", pg.clone()));
    let early = tempfile::tempdir().unwrap();
    let early = early.path().join("early.db");
    let out = guildhall(&pg_settings, &["migrate-to-sqlite", "--to", early.to_str().unwrap()]).await;
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    assert!(text(&out.stderr).contains("stop the server"), "{}", text(&out.stderr));
    assert!(!early.exists(), "nothing is made");
    on_pg.stop().await.unwrap();

    // Again into the same database: refused, naming a table that has rows.
    let out = guildhall(&settings, &["migrate-to-postgres", "--to", &pg]).await;
    let refusal = text(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{refusal}");
    let table = refusal.split("the table ").nth(1).and_then(|r| r.split(' ').next()).unwrap();
    assert!(refusal.contains(&format!("{table} of the target database already has rows")), "{refusal}");
    assert!(counted(&copied, table).1 > 0, "{table} is one of the tables copied with rows");
    assert!(!refusal.contains(&password) && !text(&out.stdout).contains(&password));

    // The way back, into a new SQLite file, which then serves the post made on PostgreSQL.
    let elsewhere = tempfile::tempdir().unwrap();
    let back = elsewhere.path().join("back.db");
    let out = guildhall(&pg_settings, &["migrate-to-sqlite", "--to", back.to_str().unwrap()]).await;
    let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
    assert!(out.status.success(), "{stderr}");
    assert!(stdout.contains(&format!("database_url = \"sqlite://{}\"", back.display())), "{stdout}");
    assert_eq!(counted(&stdout, "statuses"), (4, 4), "{stdout}");
    assert!(!stdout.contains(&password) && !stderr.contains(&password));
    let out = guildhall(&pg_settings, &["migrate-to-sqlite", "--to", back.to_str().unwrap()]).await;
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("already exists"), "{}", text(&out.stderr));
    let on_sqlite = start_on(&dir, &domain, &format!("sqlite://{}", back.display())).await;
    let base = format!("http://localhost:{}", on_sqlite.port());
    assert_eq!(get(&base, &format!("/api/v1/statuses/{new_id}"), &ada).await.0, 200);
    on_sqlite.stop().await.unwrap();
}

#[tokio::test]
async fn migrate_to_postgres_refuses_the_wrong_backends() {
    let t = TestInstance::start(&Backend::Sqlite).await;
    let config = t.instance.config().clone();
    let settings = vec![("GUILDHALL_DATA_DIR", config.data_dir.display().to_string())];
    t.instance.stop().await.unwrap();

    let out = guildhall(&settings, &["migrate-to-postgres", "--to", "sqlite:///tmp/elsewhere.db"]).await;
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("must be a PostgreSQL URL"), "{}", text(&out.stderr));
    let out = guildhall(&settings, &["migrate-to-postgres", "--to", "mysql://root:hunter2@db/x"]).await;
    assert_eq!(out.status.code(), Some(2));
    assert!(!text(&out.stderr).contains("hunter2"), "{}", text(&out.stderr));
    let conninfo = "host=db user=g password=hunter2 dbname=g";
    let out = guildhall(&settings, &["migrate-to-postgres", "--to", conninfo]).await;
    assert_eq!(out.status.code(), Some(2));
    assert!(
        !text(&out.stderr).contains("hunter2"),
        "a key=value string is not echoed: {}",
        text(&out.stderr)
    );
    let out = guildhall(&settings, &["migrate-to-sqlite", "--to", "/tmp/never-made.db"]).await;
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("copies from PostgreSQL"), "{}", text(&out.stderr));
    assert!(!Path::new("/tmp/never-made.db").exists());
}
