//! Wake-ups between processes sharing a PostgreSQL database (`LISTEN`/`NOTIFY`), and within
//! one process on SQLite.
//!
//! Storage functions that store, edit or delete a status or create a notification
//! ([`Change::Streams`]), or queue a job ([`Change::Jobs`]), [`mark`] it for the database call
//! they run in; [`crate::Db::run`] collects the marks when the call has returned (its
//! transactions committed) into the pool's [`Outbound`]. On PostgreSQL, [`announce`] sends
//! one `NOTIFY` per channel for whatever gathered, in a statement of its own, at most once per
//! [`ANNOUNCE_SPACING`]: a `NOTIFY` inside the writing transaction would take PostgreSQL's
//! notification lock through the commit and serialize every writer of the cluster. On SQLite,
//! [`relay`] wakes the process's own listeners directly.
//!
//! Notifications carry nothing: listeners read what changed from the tables, as they do
//! without them, so a lost one only delays a change until the listener's own timer. Channels
//! are named after a hash of the schema (`guildhall_changes_HASH`, `guildhall_jobs_HASH`), so
//! instances in separate schemas of one database stay apart and the name stays short.
//!
//! One thread per process holds a dedicated connection that listens on both channels. diesel
//! exposes no socket to wait on, so the thread looks at the connection's receive buffer every
//! [`CHECK_EVERY`]: that reads the socket without a query, and costs the database nothing.
//! A broken connection is reopened (backing off up to [`RETRY_AT_MOST`]), and every listener
//! is woken after each (re)connection, for what happened while nobody listened.

use std::cell::Cell;
use std::sync::Arc;
use std::sync::atomic::AtomicU8;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use diesel::pg::PgConnection;
use diesel::{Connection, RunQueryDsl};
use tokio::sync::Notify;

/// The channel for changes the streaming API reports (followed by `_` and the schema's hash).
pub const CHANGES: &str = "guildhall_changes";
/// The channel for newly queued jobs (followed by `_` and the schema's hash).
pub const JOBS: &str = "guildhall_jobs";
/// The least time between two announcements of one process.
pub const ANNOUNCE_SPACING: std::time::Duration = std::time::Duration::from_millis(10);
/// SQL for the schema's part of channel and connection names.
const SCHEMA_HASH: &str = "left(md5(current_schema()), 16)";

/// What a database call changed, for whoever waits on it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Change {
    /// A status stored, edited or deleted, or a notification created (streams).
    Streams = 1,
    /// A job queued (workers).
    Jobs = 2,
}

thread_local! {
    /// Marks of the database call running on this thread.
    static PENDING: Cell<u8> = const { Cell::new(0) };
}

/// Marks that the database call running on this thread made `change`.
pub(crate) fn mark(change: Change) {
    PENDING.with(|p| p.set(p.get() | change as u8));
}

/// Takes (and clears) this thread's marks.
pub(crate) fn take_marks() -> u8 {
    PENDING.with(|p| p.replace(0))
}

/// Changes this process committed that nobody has been told of yet.
#[derive(Debug, Default)]
pub struct Outbound {
    pending: AtomicU8,
    ready: Notify,
}

impl Outbound {
    /// Adds the marks of a finished database call.
    pub(crate) fn add(&self, marks: u8) {
        if marks != 0 {
            self.pending.fetch_or(marks, Ordering::AcqRel);
            self.ready.notify_one();
        }
    }

    /// Waits for changes and takes them.
    async fn next(&self) -> u8 {
        loop {
            let marks = self.pending.swap(0, Ordering::AcqRel);
            if marks != 0 {
                return marks;
            }
            self.ready.notified().await;
        }
    }
}

/// On PostgreSQL: tells every listening process of this process's committed changes, one
/// `NOTIFY` statement for what gathered, until `stop` turns true.
pub async fn announce(db: crate::Db, mut stop: tokio::sync::watch::Receiver<bool>) {
    let outbound = db.outbound();
    loop {
        let marks = tokio::select! {
            marks = outbound.next() => marks,
            _ = stop.wait_for(|s| *s) => return,
        };
        let sql = announcement(marks);
        if let Err(e) = db.run(move |c| Ok(diesel::sql_query(sql).execute(c)?)).await {
            tracing::warn!(error = %e, "could not notify other processes of changes");
        }
        tokio::time::sleep(ANNOUNCE_SPACING).await;
    }
}

fn announcement(marks: u8) -> String {
    let mut calls = Vec::new();
    if marks & Change::Streams as u8 != 0 {
        calls.push(format!("pg_notify('{CHANGES}_' || {SCHEMA_HASH}, '')"));
    }
    if marks & Change::Jobs as u8 != 0 {
        calls.push(format!("pg_notify('{JOBS}_' || {SCHEMA_HASH}, '')"));
    }
    format!("SELECT {}", calls.join(", "))
}

/// On SQLite (one process): wakes this process's own listeners of its committed changes,
/// until `stop` turns true.
pub async fn relay(db: crate::Db, targets: Targets, mut stop: tokio::sync::watch::Receiver<bool>) {
    let outbound = db.outbound();
    loop {
        let marks = tokio::select! {
            marks = outbound.next() => marks,
            _ = stop.wait_for(|s| *s) => return,
        };
        if marks & Change::Streams as u8 != 0 {
            Targets::wake(&targets.changes);
        }
        if marks & Change::Jobs as u8 != 0 {
            Targets::wake(&targets.jobs);
        }
    }
}
/// How often the listening thread looks for notifications that arrived.
pub const CHECK_EVERY: Duration = Duration::from_millis(5);
/// The longest wait before reconnecting after the connection failed.
pub const RETRY_AT_MOST: Duration = Duration::from_secs(30);
/// How long the connection may sit quiet before a `SELECT 1` checks it is still alive (a
/// half-open TCP connection gives no error by itself).
const PROBE_AFTER: Duration = Duration::from_secs(30);

/// Who to wake for each channel.
#[derive(Debug, Clone, Default)]
pub struct Targets {
    /// Woken on [`CHANGES`] (the streaming feed).
    pub changes: Vec<Arc<Notify>>,
    /// Woken on [`JOBS`] (the workers).
    pub jobs: Vec<Arc<Notify>>,
}

impl Targets {
    fn wake(list: &[Arc<Notify>]) {
        // `notify_one` keeps a permit when nobody is waiting yet, so a wake-up that arrives
        // while a worker is busy is not lost.
        list.iter().for_each(|n| n.notify_one());
    }

    fn wake_all(&self) {
        Targets::wake(&self.changes);
        Targets::wake(&self.jobs);
    }
}

/// The listening thread; it stops when this is dropped or [`Listening::stop`] is called.
#[derive(Debug)]
pub struct Listening {
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Listening {
    /// Stops the thread and waits for it (at most one [`CHECK_EVERY`], or one connection
    /// attempt).
    pub fn stop(mut self) {
        self.halt();
    }

    fn halt(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

impl Drop for Listening {
    fn drop(&mut self) {
        self.halt();
    }
}

/// Starts listening on `url` (a PostgreSQL URL) for both channels; returns once the first
/// connection is made or has failed (then it keeps trying in the background).
pub fn listen(url: String, targets: Targets) -> std::io::Result<Listening> {
    let stop = Arc::new(AtomicBool::new(false));
    let flag = stop.clone();
    let (first, tried) = std::sync::mpsc::channel();
    let thread = std::thread::Builder::new()
        .name("guildhall-listen".into())
        .spawn(move || run(&with_timeouts(&url), &targets, &flag, first))?;
    let _ = tried.recv_timeout(Duration::from_secs(15));
    Ok(Listening { stop, thread: Some(thread) })
}

/// `url` with a connect timeout and a TCP user timeout, unless it sets them: a dead server or
/// a half-open connection then fails in seconds rather than minutes.
fn with_timeouts(url: &str) -> String {
    let mut url = url.to_owned();
    for (key, value) in [("connect_timeout", "10"), ("tcp_user_timeout", "30000")] {
        if !url.contains(&format!("{key}=")) {
            url.push(if url.contains('?') { '&' } else { '?' });
            url.push_str(&format!("{key}={value}"));
        }
    }
    url
}

fn run(url: &str, targets: &Targets, stop: &AtomicBool, first: std::sync::mpsc::Sender<()>) {
    let mut retry = Duration::from_millis(250);
    while !stop.load(Ordering::Relaxed) {
        let connected = connect(url);
        let _ = first.send(());
        match connected {
            Ok((mut conn, channels)) => {
                retry = Duration::from_millis(250);
                tracing::debug!("listening for changes from other processes");
                targets.wake_all();
                let error = pump(&mut conn, &channels, targets, stop);
                if let Some(e) = error {
                    tracing::warn!(error = %e, "lost the database connection that listens for changes");
                }
            }
            Err(e) => {
                tracing::warn!(error = %e, retry_in = ?retry, "cannot listen for changes from other processes");
                pause(retry, stop);
                retry = (retry * 2).min(RETRY_AT_MOST);
            }
        }
    }
}

/// The two channels of one schema.
struct Channels {
    changes: String,
    jobs: String,
}

fn connect(url: &str) -> diesel::ConnectionResult<(PgConnection, Channels)> {
    let mut conn = PgConnection::establish(url)?;
    let listened = listen_in_schema(&mut conn);
    listened
        .map(|channels| (conn, channels))
        .map_err(|e| diesel::ConnectionError::BadConnection(e.to_string()))
}

#[derive(diesel::QueryableByName)]
struct Schema {
    #[diesel(sql_type = diesel::sql_types::Text)]
    name: String,
}

/// The `application_name` a listening connection takes (the schema's hash follows), so commands
/// that must not run beside a server can see one ([`servers_listening`]).
const LISTENER_NAME: &str = "guildhall listener ";

fn listen_in_schema(conn: &mut PgConnection) -> diesel::QueryResult<Channels> {
    diesel::sql_query(format!(
        "SELECT set_config('application_name', '{LISTENER_NAME}' || {SCHEMA_HASH}, false) AS name"
    ))
    .get_result::<Schema>(conn)?;
    let hash: Schema = diesel::sql_query(format!("SELECT {SCHEMA_HASH} AS name")).get_result(conn)?;
    let channels =
        Channels { changes: format!("{CHANGES}_{}", hash.name), jobs: format!("{JOBS}_{}", hash.name) };
    for channel in [&channels.changes, &channels.jobs] {
        diesel::sql_query(format!("LISTEN \"{channel}\"")).execute(conn)?;
    }
    Ok(channels)
}

#[derive(diesel::QueryableByName)]
struct Count {
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    n: i64,
}

/// How many servers are listening on this database and schema (each running `guildhall serve`
/// on PostgreSQL holds one listening connection): commands that need every server stopped
/// refuse while this is above zero.
pub fn servers_listening(conn: &mut crate::DbConnection) -> crate::StorageResult<i64> {
    let count: Count = diesel::sql_query(format!(
        "SELECT count(*) AS n FROM pg_stat_activity WHERE datname = current_database() \
         AND application_name = '{LISTENER_NAME}' || {SCHEMA_HASH} AND pid <> pg_backend_pid()"
    ))
    .get_result(conn)?;
    Ok(count.n)
}

/// Hands notifications on until the connection fails (the error) or `stop` is set (`None`).
fn pump(
    conn: &mut PgConnection,
    channels: &Channels,
    targets: &Targets,
    stop: &AtomicBool,
) -> Option<diesel::result::Error> {
    let mut quiet_since = Instant::now();
    while !stop.load(Ordering::Relaxed) {
        let (mut changes, mut jobs) = (false, false);
        for notification in conn.notifications_iter() {
            match notification {
                Ok(n) if n.channel == channels.changes => changes = true,
                Ok(n) if n.channel == channels.jobs => jobs = true,
                Ok(_) => {}
                Err(e) => return Some(e),
            }
        }
        if changes {
            Targets::wake(&targets.changes);
        }
        if jobs {
            Targets::wake(&targets.jobs);
        }
        if changes || jobs {
            quiet_since = Instant::now();
        } else if quiet_since.elapsed() >= PROBE_AFTER {
            if let Err(e) = diesel::sql_query("SELECT 1").execute(conn) {
                return Some(e);
            }
            quiet_since = Instant::now();
        }
        std::thread::sleep(CHECK_EVERY);
    }
    None
}

/// Sleeps `total` in short steps, so a stop is seen promptly.
fn pause(total: Duration, stop: &AtomicBool) {
    let until = Instant::now() + total;
    while !stop.load(Ordering::Relaxed) && Instant::now() < until {
        std::thread::sleep(Duration::from_millis(50).min(until - Instant::now()));
    }
}

#[cfg(test)]
mod tests;
