//! The connection pool: deadpool over [`DbConnection`], with blocking work moved off the async
//! threads (`interact`).

use std::time::Duration;

use deadpool::managed::{self, Metrics, Pool, RecycleError, RecycleResult, Timeouts};
use diesel::connection::SimpleConnection;
use guildhall_core::config::DatabaseUrl;

use crate::{DbConnection, StorageError, StorageResult};

/// How long a request waits for a free connection, or for a new one to open.
const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(5);

/// Opens connections for the pool.
#[derive(Debug)]
pub struct ConnectionManager {
    url: DatabaseUrl,
}

impl managed::Manager for ConnectionManager {
    type Type = DbConnection;
    type Error = StorageError;

    async fn create(&self) -> Result<DbConnection, StorageError> {
        let url = self.url.clone();
        tokio::task::spawn_blocking(move || DbConnection::open(&url))
            .await
            .map_err(|e| StorageError::Connection(e.to_string()))?
    }

    async fn recycle(&self, conn: &mut DbConnection, _: &Metrics) -> RecycleResult<StorageError> {
        // A call that panicked inside a transaction gave its connection back with the
        // transaction open (and, on SQLite, the write lock held): drop it, never reuse it.
        if !matches!(conn.transaction_depth(), Ok(None)) {
            return Err(RecycleError::Backend(StorageError::Connection(
                "a transaction was left open on this connection".into(),
            )));
        }
        // A cheap liveness check for a server connection; runs inline because it is a round
        // trip of microseconds on a healthy connection and the object cannot be moved into a
        // blocking task from here. An open SQLite file has no connection to lose.
        match conn {
            DbConnection::Pg(_) => {
                conn.batch_execute("SELECT 1").map_err(|e| RecycleError::Backend(e.into()))
            }
            DbConnection::Sqlite(_) => Ok(()),
        }
    }
}

/// A cloneable handle to the database: every storage call goes through [`Db::run`].
#[derive(Clone, Debug)]
pub struct Db {
    pool: Pool<ConnectionManager>,
    postgres: bool,
    waits: std::sync::Arc<WaitCounters>,
    /// Changes committed through this pool that listeners have not been told of.
    outbound: std::sync::Arc<crate::wakeups::Outbound>,
    /// SQLite's writers of this pool, queued ([`crate::writer`]); `None` on PostgreSQL.
    writers: Option<std::sync::Arc<crate::writer::WriterQueue>>,
}

/// How long callers waited for a connection, for `/metrics`.
#[derive(Debug, Default)]
struct WaitCounters {
    /// Connections handed out.
    acquired: std::sync::atomic::AtomicU64,
    /// Of those, how many found none free and waited.
    waited: std::sync::atomic::AtomicU64,
    /// Total time spent getting a connection, in microseconds.
    wait_micros: std::sync::atomic::AtomicU64,
    /// Callers that gave up waiting.
    timeouts: std::sync::atomic::AtomicU64,
}

/// The pool's state and history, for `/metrics`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PoolStats {
    /// Most connections the pool opens.
    pub max_size: usize,
    /// Connections open now.
    pub open: usize,
    /// Open connections not in use.
    pub idle: usize,
    /// Callers waiting for a connection now.
    pub waiting: usize,
    /// Connections handed out since start.
    pub acquired: u64,
    /// Of those, how many had to wait for one.
    pub waited: u64,
    /// Total time callers spent getting a connection (waiting or opening one), in seconds.
    pub wait_seconds: f64,
    /// Callers that gave up waiting for a connection.
    pub timeouts: u64,
    /// SQLite: transactions waiting now for another of this process's writers to commit.
    pub writers_waiting: u64,
    /// SQLite: transactions that waited for another of this process's writers to commit.
    pub writer_waits: u64,
    /// SQLite: their total wait, in seconds.
    pub writer_wait_seconds: f64,
}

impl Db {
    /// Creates the pool (opening no connection yet). SQLite gets a small pool: it has one writer.
    pub fn new(url: &DatabaseUrl) -> StorageResult<Db> {
        let size = if url.is_postgres() { 16 } else { 8 };
        let timeouts = Timeouts {
            wait: Some(ACQUIRE_TIMEOUT),
            create: Some(ACQUIRE_TIMEOUT),
            recycle: Some(ACQUIRE_TIMEOUT),
        };
        let pool = Pool::builder(ConnectionManager { url: url.clone() })
            .max_size(size)
            .timeouts(timeouts)
            .runtime(deadpool::Runtime::Tokio1)
            .build()
            .map_err(|e| StorageError::Pool(e.to_string()))?;
        let (waits, outbound) = Default::default();
        let writers = (!url.is_postgres()).then(Default::default);
        Ok(Db { pool, postgres: url.is_postgres(), waits, outbound, writers })
    }

    /// Opens the pool and applies pending migrations; returns the pool and how many ran.
    pub async fn connect_and_migrate(url: &DatabaseUrl) -> StorageResult<(Db, usize)> {
        if let DatabaseUrl::Sqlite(path) = url {
            create_parent_dir(path)?;
        }
        let db = Db::new(url)?;
        let applied = db.run(|conn| conn.migrate()).await?;
        Ok((db, applied))
    }

    /// Runs `f` with a pooled connection on a blocking thread.
    pub async fn run<F, R>(&self, f: F) -> StorageResult<R>
    where
        F: FnOnce(&mut DbConnection) -> StorageResult<R> + Send + 'static,
        R: Send + 'static,
    {
        use std::sync::atomic::Ordering::Relaxed;
        let before = self.pool.status();
        let busy = before.available == 0 && before.size >= before.max_size;
        let asked = std::time::Instant::now();
        let got = self.pool.get().await;
        let micros = u64::try_from(asked.elapsed().as_micros()).unwrap_or(u64::MAX);
        self.waits.wait_micros.fetch_add(micros, Relaxed);
        let mut conn = match got {
            Ok(conn) => conn,
            Err(e) => {
                self.waits.timeouts.fetch_add(1, Relaxed);
                return Err(pool_error(e));
            }
        };
        self.waits.acquired.fetch_add(1, Relaxed);
        if busy {
            self.waits.waited.fetch_add(1, Relaxed);
        }
        // Marks made by the call (its transactions have committed when it returns) go to the
        // pool's outbound changes; a call that failed may have marked what rolled back, which
        // only costs listeners an extra look.
        let writers = self.writers.clone();
        let (result, marks) = tokio::task::spawn_blocking(move || {
            let _queue = crate::writer::enter(writers);
            crate::wakeups::take_marks();
            let result = f(&mut conn);
            (result, crate::wakeups::take_marks())
        })
        .await
        .map_err(|e| StorageError::Pool(format!("database task failed: {e}")))?;
        self.outbound.add(marks);
        result
    }

    /// Changes committed through this pool, for [`crate::wakeups::announce`] or
    /// [`crate::wakeups::relay`] to pass on.
    pub fn outbound(&self) -> std::sync::Arc<crate::wakeups::Outbound> {
        self.outbound.clone()
    }

    /// True when the database answers a trivial query (for `/health`).
    pub async fn ping(&self) -> bool {
        self.run(|conn| conn.batch_execute("SELECT 1").map_err(StorageError::from)).await.is_ok()
    }

    /// True on PostgreSQL.
    pub fn is_postgres(&self) -> bool {
        self.postgres
    }

    /// The pool's state now and the waits since start.
    pub fn stats(&self) -> PoolStats {
        use std::sync::atomic::Ordering::Relaxed;
        let status = self.pool.status();
        PoolStats {
            max_size: status.max_size,
            open: status.size,
            idle: status.available,
            waiting: status.waiting,
            acquired: self.waits.acquired.load(Relaxed),
            waited: self.waits.waited.load(Relaxed),
            wait_seconds: self.waits.wait_micros.load(Relaxed) as f64 / 1e6,
            timeouts: self.waits.timeouts.load(Relaxed),
            writers_waiting: self.writers.as_ref().map_or(0, |w| w.waiting.load(Relaxed)),
            writer_waits: self.writers.as_ref().map_or(0, |w| w.waited.load(Relaxed)),
            writer_wait_seconds: self
                .writers
                .as_ref()
                .map_or(0.0, |w| w.wait_micros.load(Relaxed) as f64 / 1e6),
        }
    }

    /// Closes the pool: waiting and future calls fail, open connections are dropped.
    pub fn close(&self) {
        self.pool.close();
    }
}

fn pool_error(e: managed::PoolError<StorageError>) -> StorageError {
    match e {
        managed::PoolError::Backend(inner) => inner,
        other => StorageError::Pool(other.to_string()),
    }
}

fn create_parent_dir(path: &std::path::Path) -> StorageResult<()> {
    match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => std::fs::create_dir_all(dir)
            .map_err(|e| StorageError::Connection(format!("cannot create {}: {e}", dir.display()))),
        _ => Ok(()),
    }
}
