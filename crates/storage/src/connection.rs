//! One connection type over both backends, chosen by the database URL's scheme.

use diesel::{Connection, PgConnection, SqliteConnection};
use diesel_migrations::{EmbeddedMigrations, MigrationHarness, embed_migrations};

use crate::StorageError;
use guildhall_core::config::DatabaseUrl;

pub(crate) const SQLITE_MIGRATIONS: EmbeddedMigrations = embed_migrations!("../../migrations/sqlite");
const POSTGRES_MIGRATIONS: EmbeddedMigrations = embed_migrations!("../../migrations/postgres");

/// Milliseconds SQLite waits for a competing writer before giving up with "database is locked".
pub(crate) const SQLITE_BUSY_TIMEOUT_MS: u32 = 5_000;

/// A database connection: PostgreSQL or SQLite, chosen by the database URL's scheme.
#[derive(diesel::MultiConnection)]
pub enum DbConnection {
    /// A PostgreSQL server.
    Pg(PgConnection),
    /// An embedded SQLite file.
    Sqlite(SqliteConnection),
}

impl std::fmt::Debug for DbConnection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            DbConnection::Pg(_) => "DbConnection::Pg",
            DbConnection::Sqlite(_) => "DbConnection::Sqlite",
        })
    }
}

impl DbConnection {
    /// Opens a connection to `url`, with SQLite's pragmas set (WAL, foreign keys, busy timeout).
    pub fn open(url: &DatabaseUrl) -> Result<DbConnection, StorageError> {
        match url {
            DatabaseUrl::Postgres(raw) => PgConnection::establish(raw)
                .map(DbConnection::Pg)
                .map_err(|e| StorageError::Connection(scrub(&e.to_string(), raw))),
            DatabaseUrl::Sqlite(path) => {
                let path = path.to_string_lossy();
                let mut conn = SqliteConnection::establish(&path)
                    .map_err(|e| StorageError::Connection(e.to_string()))?;
                configure_sqlite(&mut conn)?;
                Ok(DbConnection::Sqlite(conn))
            }
        }
    }

    /// Applies every pending migration of this backend's tree; returns how many ran.
    pub fn migrate(&mut self) -> Result<usize, StorageError> {
        let applied = match self {
            DbConnection::Pg(c) => migrate_postgres(c),
            DbConnection::Sqlite(c) => c.run_pending_migrations(SQLITE_MIGRATIONS).map(|v| v.len()),
        };
        let applied = applied.map_err(|e| StorageError::Migration(e.to_string()))?;
        crate::oauth::hash_plain_secrets(self)?;
        Ok(applied)
    }

    /// True on PostgreSQL.
    pub fn is_postgres(&self) -> bool {
        matches!(self, DbConnection::Pg(_))
    }

    /// How many transactions are open on this connection: `Ok(None)` outside any, an error
    /// when an earlier one broke the connection's transaction state.
    pub(crate) fn transaction_depth(&mut self) -> diesel::QueryResult<Option<std::num::NonZeroU32>> {
        use diesel::connection::{AnsiTransactionManager, TransactionManager};
        match self {
            DbConnection::Pg(c) => {
                AnsiTransactionManager::transaction_manager_status_mut(c).transaction_depth()
            }
            DbConnection::Sqlite(c) => {
                AnsiTransactionManager::transaction_manager_status_mut(c).transaction_depth()
            }
        }
    }
}

/// Applies PostgreSQL's migrations under a lock on the schema, so several processes starting
/// together (after an upgrade, say) migrate one after the other instead of racing.
fn migrate_postgres(
    c: &mut PgConnection,
) -> Result<usize, Box<dyn std::error::Error + Send + Sync + 'static>> {
    use diesel::connection::SimpleConnection;
    c.batch_execute("SELECT pg_advisory_lock(hashtext('guildhall migrations ' || current_schema()))")?;
    let applied = c.run_pending_migrations(POSTGRES_MIGRATIONS).map(|v| v.len());
    let unlocked =
        c.batch_execute("SELECT pg_advisory_unlock(hashtext('guildhall migrations ' || current_schema()))");
    let applied = applied?;
    unlocked?;
    Ok(applied)
}

fn configure_sqlite(conn: &mut SqliteConnection) -> Result<(), StorageError> {
    use diesel::connection::SimpleConnection;
    conn.batch_execute(&format!(
        "PRAGMA busy_timeout = {SQLITE_BUSY_TIMEOUT_MS};
         PRAGMA journal_mode = WAL;
         PRAGMA synchronous = NORMAL;
         PRAGMA foreign_keys = ON;"
    ))
    .map_err(StorageError::from)
}

/// Removes the connection URL (which may hold a password) from a driver message.
fn scrub(message: &str, url: &str) -> String {
    message.replace(url, &guildhall_core::config::redact_url(url))
}

#[cfg(test)]
mod tests {
    use diesel::RunQueryDsl;

    /// `.cargo/config.toml` builds SQLite with the query planner stability guarantee; without
    /// it every statement with a bound `LIMIT` is prepared again on each run.
    #[test]
    fn sqlite_is_built_with_the_query_planner_stability_guarantee() {
        #[derive(diesel::QueryableByName)]
        struct Used {
            #[diesel(sql_type = diesel::sql_types::Integer)]
            used: i32,
        }
        let dir = tempfile::tempdir().unwrap();
        let url = guildhall_core::config::DatabaseUrl::Sqlite(dir.path().join("q.db"));
        let super::DbConnection::Sqlite(mut conn) = super::DbConnection::open(&url).unwrap() else {
            unreachable!("a SQLite URL opens SQLite")
        };
        let used: Used = diesel::sql_query("SELECT sqlite_compileoption_used('ENABLE_QPSG') AS used")
            .get_result(&mut conn)
            .unwrap();
        assert_eq!(used.used, 1);
    }
}
