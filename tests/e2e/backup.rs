//! `guildhall admin backup` and `admin restore`, the real binary run as an operator runs it: a
//! live instance keeps taking posts while it is backed up, and the backup comes back in a new
//! data directory and serves what was there.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::Output;
use std::sync::Arc;

use guildhall::Instance;
use guildhall_api::HttpOptions;
use guildhall_core::config::DatabaseUrl;
use guildhall_storage::{Db, statuses};
use reqwest::Method as M;
use serde_json::{Value, json};
use tokio::process::Command;
use tokio::sync::watch;

use crate::client_api::{call, token};
use crate::media::{png, upload};
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

/// The settings that reach `t`'s data: its data directory, domain and database.
fn settings_of(t: &TestInstance) -> Vec<(&'static str, String)> {
    let config = t.instance.config();
    let mut settings = vec![
        ("GUILDHALL_DATA_DIR", config.data_dir.display().to_string()),
        ("GUILDHALL_DOMAIN", config.domain.to_string()),
    ];
    if let DatabaseUrl::Postgres(url) = &config.database_url {
        settings.push(("GUILDHALL_DATABASE_URL", url.clone()));
    }
    settings
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn arg(path: &Path) -> &str {
    path.to_str().unwrap()
}

fn names(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

async fn post(t: &TestInstance, token: &str, body: Value) -> Value {
    let (status, posted) = call(M::POST, t, "/api/v1/statuses", Some(token), Some(body)).await;
    assert_eq!(status, 200, "{posted}");
    posted
}

/// The ids of the statuses whose POST was answered, in the order the answers came.
type Answered = Arc<watch::Sender<Vec<String>>>;

/// Posts statuses one after another until `stop`, adding each id to `answered` once its POST
/// is answered.
async fn keep_posting(base: String, token: String, answered: Answered, stop: watch::Receiver<bool>) {
    let client = http();
    let mut n = 0;
    while !*stop.borrow() {
        let body = json!({"status": format!("written while the backup runs, number {n}")});
        let res = client
            .post(format!("{base}/api/v1/statuses"))
            .bearer_auth(&token)
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200);
        let status: Value = res.json().await.unwrap();
        answered.send_modify(|ids| ids.push(status["id"].as_str().unwrap().to_owned()));
        n += 1;
    }
}

/// Starts an instance on the data in `dir`, under `domain` (the one its data was made under),
/// on a new port.
async fn start_as(dir: &Path, domain: &str) -> Instance {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let config = config_with(dir, port, &Backend::Sqlite, &[("GUILDHALL_DOMAIN", domain)]);
    let options = HttpOptions { workers: Some(1), disable_signals: true, run_delivery: false, pages: None };
    Instance::start_on(config, listener, options).await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_live_backup_brings_back_every_status_answered_before_it_began() {
    let t = TestInstance::start(&Backend::Sqlite).await;
    t.user("ada").await;
    let tok = token(&t, "ada", "read write").await;
    let picture = upload(&t, &tok, "vase.png", &png(64, 48)).await;
    let pictured = post(&t, &tok, json!({"status": "the vase", "media_ids": [picture["id"]]})).await;
    let image_url = pictured["media_attachments"][0]["url"].as_str().unwrap().to_owned();
    let image = http().get(&image_url).send().await.unwrap().bytes().await.unwrap();
    let mut answered = vec![pictured["id"].as_str().unwrap().to_owned()];
    for n in 0..5 {
        let posted = post(&t, &tok, json!({"status": format!("before the backup, number {n}")})).await;
        answered.push(posted["id"].as_str().unwrap().to_owned());
    }
    let answered: Answered = Arc::new(watch::channel(answered).0);

    // Writers keep posting through the API while the backup process runs; it starts once they
    // have had a few answers.
    let (stop, stopped) = watch::channel(false);
    let writers: Vec<_> = (0..3)
        .map(|_| tokio::spawn(keep_posting(t.url(""), tok.clone(), answered.clone(), stopped.clone())))
        .collect();
    let started = answered.borrow().len();
    answered.subscribe().wait_for(|ids| ids.len() >= started + 6).await.unwrap();
    let before = answered.borrow().clone();
    let backups = tempfile::tempdir().unwrap();
    let path = backups.path().join("nightly");
    let out = guildhall(&settings_of(&t), &["admin", "backup", arg(&path)]).await;
    let during = answered.borrow().len() - before.len();
    stop.send(true).unwrap();
    for writer in writers {
        writer.await.unwrap();
    }
    let all = answered.borrow().len();
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        text(&out.stdout).contains(&format!("backed up into {}", path.display())),
        "{}",
        text(&out.stdout)
    );
    eprintln!("{} statuses answered before the backup began, {during} while it ran", before.len());
    // The writers were answering when the backup began (above); how many answers land while
    // it runs depends on the machine, so it is reported, not asserted.
    assert_eq!(names(backups.path()), ["nightly"], "nothing but the backup is left");
    assert_eq!(names(&path), ["backup.json", "guildhall.db", "media"]);
    let manifest: Value = serde_json::from_slice(&std::fs::read(path.join("backup.json")).unwrap()).unwrap();
    assert_eq!(manifest["format"], "guildhall-backup");
    assert!(manifest["database"]["rows"]["statuses"].as_i64().unwrap() >= before.len() as i64, "{manifest}");
    let domain = t.instance.config().domain.to_string();
    t.instance.stop().await.unwrap();

    // Back in a fresh data directory, served by a new instance under the same domain.
    let fresh = tempfile::tempdir().unwrap();
    let settings =
        [("GUILDHALL_DATA_DIR", fresh.path().display().to_string()), ("GUILDHALL_DOMAIN", domain.clone())];
    let out = guildhall(&settings, &["admin", "restore", arg(&path)]).await;
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains("applied 0 migration(s)"), "{}", text(&out.stdout));
    let restored = start_as(fresh.path(), &domain).await;
    let base = format!("http://localhost:{}", restored.port());
    for id in &before {
        let res = http().get(format!("{base}/api/v1/statuses/{id}")).bearer_auth(&tok).send().await.unwrap();
        assert_eq!(res.status(), 200, "status {id}, answered before the backup began, is back");
    }
    let file = image_url.rsplit('/').next().unwrap();
    let res = http().get(format!("{base}/media/{file}")).send().await.unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(res.bytes().await.unwrap(), image, "the picture is served as it was");
    let res = http().get(format!("{base}/api/v1/accounts/verify_credentials")).bearer_auth(&tok).send();
    let me: Value = res.await.unwrap().json().await.unwrap();
    let count = me["statuses_count"].as_u64().unwrap() as usize;
    assert!((before.len()..=all).contains(&count), "{count} statuses");
    restored.stop().await.unwrap();
}

/// A backup of a fresh instance holding one status by ada; returns the backup's path and the
/// status's ActivityPub id.
async fn backed_up(dir: &Path) -> (PathBuf, String) {
    let t = TestInstance::start(&Backend::Sqlite).await;
    t.user("ada").await;
    let tok = token(&t, "ada", "read write").await;
    let kept = post(&t, &tok, json!({"status": "kept in the backup"})).await;
    let path = dir.join("backup");
    let out = guildhall(&settings_of(&t), &["admin", "backup", arg(&path)]).await;
    assert!(out.status.success(), "{}", text(&out.stderr));
    t.instance.stop().await.unwrap();
    (path, kept["uri"].as_str().unwrap().to_owned())
}

async fn has_status(database: &Path, ap_id: &str) -> bool {
    let (db, _) = Db::connect_and_migrate(&DatabaseUrl::Sqlite(database.to_path_buf())).await.unwrap();
    let ap_id = ap_id.to_owned();
    let found = db.run(move |c| statuses::find_by_ap_id(c, &ap_id)).await.unwrap();
    db.close();
    found.is_some()
}

#[tokio::test]
async fn restore_and_backup_refuse_what_would_lose_data() {
    let tmp = tempfile::tempdir().unwrap();
    let (backup, kept) = backed_up(tmp.path()).await;

    // Another instance, with a status of its own, still running.
    let t = TestInstance::start(&Backend::Sqlite).await;
    t.user("bea").await;
    let tok = token(&t, "bea", "read write").await;
    let own = post(&t, &tok, json!({"status": "bea's own"})).await["uri"].as_str().unwrap().to_owned();
    let settings = settings_of(&t);
    let data_dir = t.instance.config().data_dir.clone();
    let database = data_dir.join("guildhall.db");

    // Backing up into a directory that holds something: refused, nothing touched.
    let taken = tmp.path().join("taken");
    std::fs::create_dir(&taken).unwrap();
    std::fs::write(taken.join("notes.txt"), "mine").unwrap();
    let out = guildhall(&settings, &["admin", "backup", arg(&taken)]).await;
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("already exists and is not an empty directory"),
        "{}",
        text(&out.stderr)
    );
    assert_eq!(names(&taken), ["notes.txt"]);
    assert_eq!(names(tmp.path()), ["backup", "taken"], "no partial backup is left beside it");

    // Restoring over a database: refused without --force, and while the server runs.
    let out = guildhall(&settings, &["admin", "restore", arg(&backup)]).await;
    assert_eq!(out.status.code(), Some(2));
    let refusal = text(&out.stderr);
    assert!(refusal.contains("already exists") && refusal.contains("--force"), "{refusal}");
    let out = guildhall(&settings, &["admin", "restore", "--force", arg(&backup)]).await;
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("stop the server"), "{}", text(&out.stderr));
    t.instance.stop().await.unwrap();
    assert!(has_status(&database, &own).await && !has_status(&database, &kept).await, "nothing changed");

    // Forced with the server stopped: the backup is in place, the old database kept aside.
    let out = guildhall(&settings, &["admin", "restore", "--force", arg(&backup)]).await;
    assert!(out.status.success(), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    let aside = stdout
        .lines()
        .find_map(|l| l.strip_prefix("kept what was there before as ").filter(|p| p.contains("guildhall.db")))
        .unwrap_or_else(|| panic!("{stdout}"));
    assert!(aside.starts_with(&format!("{}.before-restore-", database.display())), "{aside}");
    assert!(has_status(&database, &kept).await && !has_status(&database, &own).await);
    assert!(has_status(Path::new(aside), &own).await, "the old database is whole under its new name");

    // What is not a backup is refused.
    let out = guildhall(&settings, &["admin", "restore", "--force", arg(&taken)]).await;
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("is not a Guildhall backup"), "{}", text(&out.stderr));
}

#[tokio::test]
async fn on_postgres_backup_points_to_pg_dump_and_leaves_nothing() {
    let Some(url) = guildhall_storage::testing::postgres_url() else {
        guildhall_storage::testing::cannot_run("GUILDHALL_TEST_POSTGRES_URL not set: backup on PostgreSQL");
        return;
    };
    let t = TestInstance::start(&Backend::Postgres(url)).await;
    let media_dir = t.instance.config().media_dir.display().to_string();
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join("backup");
    let out = guildhall(&settings_of(&t), &["admin", "backup", arg(&path)]).await;
    assert_eq!(out.status.code(), Some(2));
    let message = text(&out.stderr);
    assert!(message.contains("pg_dump -Fc") && message.contains("pg_restore"), "{message}");
    assert!(message.contains(&format!("copy the media directory {media_dir}")), "{message}");
    assert!(names(tmp.path()).is_empty(), "no partial output");

    // A password in the URL is never printed.
    let mut settings = settings_of(&t);
    settings.push(("GUILDHALL_DATABASE_URL", "postgres://guildhall:s3cret-pw@127.0.0.1:1/gh".into()));
    let out = guildhall(&settings, &["admin", "backup", arg(&path)]).await;
    assert_eq!(out.status.code(), Some(2));
    assert!(!text(&out.stderr).contains("s3cret-pw") && !text(&out.stdout).contains("s3cret-pw"));
    let out = guildhall(&settings_of(&t), &["admin", "restore", arg(&path)]).await;
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("pg_restore"), "{}", text(&out.stderr));
    t.instance.stop().await.unwrap();
}

#[tokio::test]
async fn help_says_backup_runs_live_and_restore_needs_the_server_stopped() {
    let backup = guildhall(&[], &["admin", "backup", "--help"]).await;
    assert!(text(&backup.stdout).contains("while the server keeps running"), "{}", text(&backup.stdout));
    let restore = guildhall(&[], &["admin", "restore", "--help"]).await;
    assert!(text(&restore.stdout).contains("Stop the server first"), "{}", text(&restore.stdout));
    assert!(text(&restore.stdout).contains("--force"));
}
