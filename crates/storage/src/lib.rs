//! Guildhall's storage: one schema over SQLite (embedded default) and PostgreSQL.
//!
//! Every write and read of the database lives here, one module per aggregate; the other crates
//! never write SQL. Functions take `&mut DbConnection` so callers compose them inside one
//! transaction ([`transaction`]) and run them through [`Db::run`], which moves the blocking
//! work off the async threads. A write outside a transaction goes through [`write`]: on
//! SQLite both queue with the process's other writers (the `writer` module).
//!
//! Error policy: diesel errors become [`StorageError`]; a broken uniqueness rule is a
//! [`StorageError::Conflict`] naming the constraint, a missing row [`StorageError::NotFound`].
#![deny(missing_docs)]

#[allow(missing_docs)] // diesel::MultiConnection generates undocumented items
mod connection;
mod error;
mod pool;
pub mod schema;

pub mod account_notes;
pub mod accounts;
pub mod actors;
pub mod backup;
pub mod blocks;
pub mod bookmarks;
pub mod changes;
pub mod conversation_mutes;
pub mod domain_blocks;
pub mod edits;
pub mod events;
pub mod favourites;
pub mod feeds;
pub mod filters;
pub mod followed_tags;
pub mod follows;
pub mod groups;
pub mod hours;
pub mod id_list;
pub mod instance_blocks;
pub mod instance_settings;
pub mod instances;
pub mod jobs;
pub mod lists;
pub mod mail;
pub mod markers;
pub mod media;
pub mod mutes;
pub mod notification_policy;
pub mod notifications;
pub mod oauth;
pub mod outbox;
pub mod page_parts;
pub mod pins;
pub mod polls;
pub mod received;
pub mod reports;
pub mod scheduled;
pub mod status_parts;
pub mod statuses;
pub mod timelines;
pub mod transfer;
pub mod wakeups;
pub mod web_sessions;
mod writer;

pub mod testing;

pub use connection::{DbConnection, MultiBackend};
pub use error::{StorageError, StorageResult};
pub use pool::{Db, PoolStats};

/// Timestamps are stored as UTC without zone.
pub type Timestamp = chrono::NaiveDateTime;

/// The current time, as stored: UTC, truncated to microseconds (PostgreSQL's precision), so a
/// value reads back equal to what was written on both backends.
///
/// ```
/// use chrono::Timelike;
/// assert_eq!(guildhall_storage::now().nanosecond() % 1_000, 0);
/// ```
pub fn now() -> Timestamp {
    use chrono::Timelike;
    let t = chrono::Utc::now().naive_utc();
    t.with_nanosecond(t.nanosecond() / 1_000 * 1_000).unwrap_or(t)
}

/// Runs `f` in a transaction: committed when it returns `Ok`, rolled back otherwise.
///
/// On SQLite the outermost transaction waits for its turn among the process's writers
/// (the `writer` module), then takes the write lock first: a deferred transaction that reads and then
/// writes fails at once with "database is locked" when another connection wrote in between,
/// without waiting for the busy timeout. Taking the lock up front makes writers queue instead.
/// A transaction inside another is a savepoint and needs neither.
pub fn transaction<T>(
    conn: &mut DbConnection,
    f: impl FnOnce(&mut DbConnection) -> StorageResult<T>,
) -> StorageResult<T> {
    use diesel::{Connection, RunQueryDsl};
    if !outside_transaction_on_sqlite(conn) {
        return conn.transaction(f);
    }
    writer::in_turn(|| {
        conn.transaction(|conn| {
            if let DbConnection::Sqlite(sqlite) = conn {
                diesel::sql_query("UPDATE received_activities SET ap_id = ap_id WHERE 0").execute(sqlite)?;
            }
            f(conn)
        })
    })
}

/// Runs `f`, whose statements commit one by one (no transaction), in the process's writer
/// turn on SQLite (the `writer` module); inside a transaction, or on PostgreSQL, it just runs `f`.
pub fn write<T>(
    conn: &mut DbConnection,
    f: impl FnOnce(&mut DbConnection) -> StorageResult<T>,
) -> StorageResult<T> {
    if outside_transaction_on_sqlite(conn) { writer::in_turn(|| f(conn)) } else { f(conn) }
}

/// Runs `f` so that its writes commit together: in the caller's transaction when one is open
/// (no savepoint: an error fails the caller's transaction, as `?` passes it up anyway), in a
/// [`transaction`] of its own otherwise.
pub fn atomic<T>(
    conn: &mut DbConnection,
    f: impl FnOnce(&mut DbConnection) -> StorageResult<T>,
) -> StorageResult<T> {
    if matches!(conn.transaction_depth(), Ok(Some(_))) { f(conn) } else { transaction(conn, f) }
}

/// True on SQLite with no transaction open on `conn`: where a write takes the writer turn.
fn outside_transaction_on_sqlite(conn: &mut DbConnection) -> bool {
    !conn.is_postgres() && matches!(conn.transaction_depth(), Ok(None))
}

/// Parses a stored enum spelling, or reports the row as corrupt.
pub(crate) fn parse_text<T>(text: &str, parse: fn(&str) -> Option<T>) -> StorageResult<T> {
    parse(text).ok_or_else(|| StorageError::Corrupt(format!("unexpected value '{text}'")))
}
