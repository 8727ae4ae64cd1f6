//! Wake-ups from other processes sharing a PostgreSQL database (`LISTEN`/`NOTIFY`).
//!
//! Triggers (migration `change_notifications`) send `guildhall_changes_SCHEMA` when a status
//! is stored, edited or deleted or a notification is created, and `guildhall_jobs_SCHEMA` when
//! a job is queued (the schema of the table, so instances in separate schemas of one database
//! stay apart). The notification is delivered when the writing transaction commits, so whoever is
//! woken can read the change. It carries nothing: listeners read what changed from the tables
//! as before, so a lost notification only delays a change until the listener's own timer.
//!
//! One thread per process holds a dedicated connection that listens on both channels. diesel
//! exposes no socket to wait on, so the thread looks at the connection's receive buffer every
//! [`CHECK_EVERY`]: that reads the socket without a query, and costs the database nothing.
//! A broken connection is reopened (backing off up to [`RETRY_AT_MOST`]), and every listener
//! is woken after each (re)connection, for what happened while nobody listened.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use diesel::pg::PgConnection;
use diesel::{Connection, RunQueryDsl};
use tokio::sync::Notify;

/// The channel for changes the streaming API reports (followed by `_` and the schema).
pub const CHANGES: &str = "guildhall_changes";
/// The channel for newly queued jobs (followed by `_` and the schema).
pub const JOBS: &str = "guildhall_jobs";
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

/// Starts listening on `url` (a PostgreSQL URL) for both channels.
pub fn listen(url: String, targets: Targets) -> std::io::Result<Listening> {
    let stop = Arc::new(AtomicBool::new(false));
    let flag = stop.clone();
    let thread = std::thread::Builder::new()
        .name("guildhall-listen".into())
        .spawn(move || run(&url, &targets, &flag))?;
    Ok(Listening { stop, thread: Some(thread) })
}

fn run(url: &str, targets: &Targets, stop: &AtomicBool) {
    let mut retry = Duration::from_millis(250);
    while !stop.load(Ordering::Relaxed) {
        match connect(url) {
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

/// The `application_name` a listening connection takes (the schema follows), so commands
/// that must not run beside a server can see one ([`servers_listening`]).
const LISTENER_NAME: &str = "guildhall listener ";

fn listen_in_schema(conn: &mut PgConnection) -> diesel::QueryResult<Channels> {
    diesel::sql_query(format!(
        "SELECT set_config('application_name', '{LISTENER_NAME}' || current_schema(), false) AS name"
    ))
    .get_result::<Schema>(conn)?;
    let schema: Schema = diesel::sql_query("SELECT current_schema() AS name").get_result(conn)?;
    let channels =
        Channels { changes: format!("{CHANGES}_{}", schema.name), jobs: format!("{JOBS}_{}", schema.name) };
    for channel in [&channels.changes, &channels.jobs] {
        diesel::sql_query(format!("LISTEN \"{}\"", channel.replace('"', "\"\""))).execute(conn)?;
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
        "SELECT count(*) AS n FROM pg_stat_activity \
         WHERE application_name = '{LISTENER_NAME}' || current_schema() AND pid <> pg_backend_pid()"
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
