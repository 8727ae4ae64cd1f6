use std::sync::Arc;
use std::time::Duration;

use diesel::RunQueryDsl;
use guildhall_core::config::DatabaseUrl;
use tokio::sync::Notify;

use super::{Targets, listen};
use crate::jobs::{self, NewJob};
use crate::testing::{cannot_run, postgres_url, rows};
use crate::{Db, actors, now, statuses};

/// Waits for a wake-up; a missing one fails the test (the bound is only there so a broken
/// listener fails instead of hanging).
async fn woken(notify: &Notify, what: &str) {
    tokio::time::timeout(Duration::from_secs(20), notify.notified())
        .await
        .unwrap_or_else(|_| panic!("no wake-up for {what}"));
}

fn job() -> NewJob {
    NewJob { queue: "test".into(), payload: "{}".into(), partition_key: None, run_at: now(), max_attempts: 1 }
}

/// Queues a job, then stores a status (each in a call of its own), and waits for the wake-up
/// each should bring.
async fn queue_then_post(db: &Db, changes: &Notify, work: &Notify) {
    db.run(|c| jobs::enqueue(c, job())).await.unwrap();
    woken(work, "a queued job").await;
    let author = rows::local("ada");
    let status = rows::status(&author, "hello");
    db.run(move |c| {
        actors::insert_local(c, &author, "KEY")?;
        statuses::insert(c, &status)
    })
    .await
    .unwrap();
    woken(changes, "a new status").await;
}

#[derive(diesel::QueryableByName)]
struct Count {
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    n: i64,
}

/// Ends the listening connection of this schema from the server side, as a restart or a
/// network cut would; returns how many connections were ended.
async fn cut_listener(db: &Db) -> i64 {
    db.run(|c| {
        let count: Count = diesel::sql_query(
            "SELECT count(pg_terminate_backend(pid)) AS n FROM pg_stat_activity \
             WHERE application_name = 'guildhall listener ' || left(md5(current_schema()), 16)",
        )
        .get_result(c)?;
        Ok(count.n)
    })
    .await
    .unwrap()
}

/// On SQLite the relay wakes the process's own listeners once a call has committed.
#[tokio::test]
async fn on_sqlite_committed_changes_wake_this_process() {
    let dir = tempfile::tempdir().unwrap();
    let (db, _) = Db::connect_and_migrate(&DatabaseUrl::Sqlite(dir.path().join("t.db"))).await.unwrap();
    let (changes, work) = (Arc::new(Notify::new()), Arc::new(Notify::new()));
    let targets = Targets { changes: vec![changes.clone()], jobs: vec![work.clone()] };
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let relaying = tokio::spawn(super::relay(db.clone(), targets, stopped));
    queue_then_post(&db, &changes, &work).await;
    stop.send_replace(true);
    relaying.await.unwrap();
}

#[tokio::test]
async fn commits_wake_listeners_and_a_cut_connection_comes_back() {
    let Some(url) = postgres_url() else {
        cannot_run("GUILDHALL_TEST_POSTGRES_URL not set: LISTEN/NOTIFY");
        return;
    };
    let DatabaseUrl::Postgres(raw) = url.clone() else { unreachable!("postgres_url gives PostgreSQL") };
    let (db, _) = Db::connect_and_migrate(&url).await.unwrap();
    let (changes, work) = (Arc::new(Notify::new()), Arc::new(Notify::new()));
    let targets = Targets { changes: vec![changes.clone()], jobs: vec![work.clone()] };
    let listening = listen(raw, targets).unwrap();
    // What this pool commits is announced to every listener (ours included).
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let announcing = tokio::spawn(super::announce(db.clone(), stopped));
    // Everyone is woken once the listener is connected.
    woken(&changes, "changes, on connecting").await;
    woken(&work, "jobs, on connecting").await;
    assert_eq!(db.run(super::servers_listening).await.unwrap(), 1, "the listener is seen");

    queue_then_post(&db, &changes, &work).await;

    assert_eq!(cut_listener(&db).await, 1, "one listening connection for this schema");
    woken(&changes, "changes, on reconnecting").await;
    woken(&work, "jobs, on reconnecting").await;
    db.run(|c| jobs::enqueue(c, job())).await.unwrap();
    woken(&work, "a job queued after reconnecting").await;
    listening.stop();
    stop.send_replace(true);
    announcing.await.unwrap();
    // The server side of a closed connection leaves pg_stat_activity when its process ends.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    while db.run(super::servers_listening).await.unwrap() > 0 {
        assert!(tokio::time::Instant::now() < deadline, "the listener is still seen after it stopped");
        tokio::task::yield_now().await;
    }
}
