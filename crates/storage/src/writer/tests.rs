use std::sync::Arc;
use std::sync::mpsc;
use std::time::Duration;

use guildhall_core::config::DatabaseUrl;

use super::{WriterQueue, enter, in_turn};
use crate::{Db, StorageError, received, transaction};

/// Waits until `ready` holds, checking as the condition changes hands; the bound only turns a
/// hang into a failure.
async fn until(what: &str, ready: impl Fn() -> bool) {
    tokio::time::timeout(Duration::from_secs(20), async {
        while !ready() {
            tokio::task::yield_now().await;
        }
    })
    .await
    .unwrap_or_else(|_| panic!("never: {what}"));
}

async fn sqlite() -> (tempfile::TempDir, Db) {
    let dir = tempfile::tempdir().unwrap();
    let (db, _) = Db::connect_and_migrate(&DatabaseUrl::Sqlite(dir.path().join("w.db"))).await.unwrap();
    (dir, db)
}

/// Opens a transaction on `db` that records `id` (when given) and holds the writer's turn
/// until the returned sender says go; returns once the turn is held.
async fn hold_turn(
    db: &Db,
    id: Option<&'static str>,
) -> (tokio::task::JoinHandle<crate::StorageResult<()>>, mpsc::Sender<()>) {
    let (holding_tx, holding) = mpsc::channel();
    let (release, release_rx) = mpsc::channel::<()>();
    let holder = tokio::spawn({
        let db = db.clone();
        async move {
            db.run(move |c| {
                transaction(c, |c| {
                    if let Some(id) = id {
                        received::record(c, id)?;
                    }
                    holding_tx.send(()).unwrap();
                    release_rx.recv().unwrap();
                    Ok(())
                })
            })
            .await
        }
    });
    tokio::task::spawn_blocking(move || holding.recv().unwrap()).await.unwrap();
    (holder, release)
}

#[tokio::test]
async fn a_second_writer_queues_in_the_process_then_commits() {
    let (_dir, db) = sqlite().await;
    let (first, release) = hold_turn(&db, Some("https://a.example/1")).await;
    let second = tokio::spawn({
        let db = db.clone();
        async move { db.run(|c| received::record(c, "https://a.example/2")).await }
    });
    // The second writer waits on the queue, not in SQLite's sleeping busy handler.
    until("the second writer queues", || db.stats().writers_waiting == 1).await;
    release.send(()).unwrap();
    first.await.unwrap().unwrap();
    assert!(second.await.unwrap().unwrap(), "the second write committed");
    let stats = db.stats();
    assert_eq!((stats.writers_waiting, stats.writer_waits), (0, 1));
    assert!(!db.run(|c| received::record(c, "https://a.example/1")).await.unwrap(), "the first committed");
}

#[tokio::test]
async fn a_transaction_inside_another_does_not_wait_for_its_own_turn() {
    let (_dir, db) = sqlite().await;
    let first_time = db
        .run(|c| transaction(c, |c| transaction(c, |c| received::record(c, "https://a.example/n"))))
        .await
        .unwrap();
    assert!(first_time);
    assert_eq!(db.stats().writer_waits, 0);
}

#[test]
fn a_turn_held_too_long_fails_the_waiter_and_the_queue_leaves_with_the_call() {
    let queue = Arc::new(WriterQueue::with_timeout(Duration::from_millis(50)));
    let (holding_tx, holding) = mpsc::channel();
    let (release, release_rx) = mpsc::channel::<()>();
    let holder = std::thread::spawn({
        let queue = queue.clone();
        move || {
            let _entered = enter(Some(queue));
            in_turn(|| {
                holding_tx.send(()).unwrap();
                release_rx.recv().unwrap();
                Ok(())
            })
        }
    });
    holding.recv().unwrap();
    let entered = enter(Some(queue.clone()));
    let waited = in_turn(|| Ok(()));
    assert!(matches!(&waited, Err(StorageError::Pool(m)) if m.contains("writer")), "{waited:?}");
    drop(entered);
    // Outside a pool's call the thread has no queue: it runs at once though the turn is held.
    assert!(in_turn(|| Ok(())).is_ok());
    release.send(()).unwrap();
    holder.join().unwrap().unwrap();
    assert_eq!(queue.waited.load(std::sync::atomic::Ordering::Relaxed), 1);
}

#[tokio::test]
async fn a_write_outside_a_transaction_queues_too() {
    let (_dir, db) = sqlite().await;
    let (first, release) = hold_turn(&db, None).await;
    // A statement that commits on its own (a delivery's outcome) waits its turn like a
    // transaction, rather than in the busy handler behind a queue that never lets it in.
    let second = tokio::spawn({
        let db = db.clone();
        async move { db.run(|c| crate::jobs::complete(c, 1, "worker")).await }
    });
    until("the single statement queues", || db.stats().writers_waiting == 1).await;
    release.send(()).unwrap();
    first.await.unwrap().unwrap();
    assert!(!second.await.unwrap().unwrap(), "no such job, but the statement ran");
    assert_eq!(db.stats().writer_waits, 1);
}

#[tokio::test]
async fn a_call_that_panics_in_a_transaction_does_not_leave_it_open() {
    use diesel::RunQueryDsl;
    let (dir, db) = sqlite().await;
    let panicked: Result<(), _> = db
        .run(|c| {
            transaction(c, |c| {
                received::record(c, "https://a.example/lost")?;
                panic!("a bug in the middle of a transaction");
            })
        })
        .await;
    assert!(panicked.is_err());
    // The next call must not reuse the connection with its transaction still open: its
    // write would land in that transaction and never commit.
    assert!(db.run(|c| received::record(c, "https://a.example/kept")).await.unwrap());
    let mut other = crate::DbConnection::open(&DatabaseUrl::Sqlite(dir.path().join("w.db"))).unwrap();
    #[derive(diesel::QueryableByName)]
    struct Found {
        #[diesel(sql_type = diesel::sql_types::Text)]
        ap_id: String,
    }
    let found: Vec<Found> =
        diesel::sql_query("SELECT ap_id FROM received_activities").load(&mut other).unwrap();
    let ids: Vec<String> = found.into_iter().map(|f| f.ap_id).collect();
    assert_eq!(ids, ["https://a.example/kept"]);
}
