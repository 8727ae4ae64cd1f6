//! Moving an instance between the backends: every table of one database copied, all rows, into
//! a freshly migrated, empty database of the other kind. `guildhall migrate-to-postgres` uses
//! [`sqlite_to_postgres`]; [`postgres_to_sqlite`] is the way back (`guildhall migrate-to-sqlite`).
//!
//! **Which tables.** The list is read from each database's catalog (`sqlite_master`,
//! `information_schema`), never written down here, so a new table is copied without a change
//! to this module; diesel's `__diesel_schema_migrations` is not copied (the target has run the
//! same migrations, which is checked). Both sides must have the same tables with the same
//! columns of the same kinds, or nothing is copied and the error names the table.
//!
//! **How.** Each table is read in primary-key order, one row at a time, as a JSON object
//! (SQLite's `json_object`, PostgreSQL's `row_to_json`), brought into one spelling per column
//! kind (booleans `true`/`false`, timestamps as diesel writes them to SQLite,
//! `2026-05-01 09:30:00.123456`), and inserted [`BATCH_ROWS`] at a time from a JSON array
//! (`json_populate_recordset` on PostgreSQL, `json_each` on SQLite). Memory stays bounded by
//! the batch, whatever the size of the table.
//!
//! **All or nothing.** The source is read inside one transaction (a read-only, repeatable-read
//! snapshot on PostgreSQL). The target is written inside one transaction, with foreign keys
//! checked at the end: on PostgreSQL they are dropped for the copy and added back (which checks
//! every row), on SQLite enforcement is off during the copy and `PRAGMA foreign_key_check` runs
//! before the commit. The row count of every table is compared on both sides before the commit.
//!
//! Error policy: every failure is a [`TransferError`] naming the table, column or setting that
//! is wrong; [`TransferError::is_invalid_input`] tells the operator's mistakes from failures.

mod catalog;
mod rows;

use std::path::{Path, PathBuf};

use diesel::connection::SimpleConnection;
use diesel::{Connection, PgConnection, SqliteConnection};
use guildhall_core::config::DatabaseUrl;
use thiserror::Error;

use crate::{DbConnection, StorageError};
use catalog::Table;

/// Rows inserted by one statement (and held in memory at once) during a copy.
pub const BATCH_ROWS: usize = 1_000;

/// One table of a finished copy: its rows on both sides (always equal, or the copy failed).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableCount {
    /// The table's name.
    pub table: String,
    /// Rows in the source database.
    pub source_rows: i64,
    /// Rows in the target database after the copy.
    pub target_rows: i64,
}

/// What goes wrong in a copy between the backends; each message names what is wrong.
#[derive(Debug, Error)]
pub enum TransferError {
    /// The source database is not of the kind the command copies from.
    #[error("the configured database_url is {found}, but this command copies from {expected}")]
    WrongSource {
        /// "SQLite" or "PostgreSQL".
        expected: &'static str,
        /// The configured URL, password hidden.
        found: String,
    },
    /// The target is not of the kind the command copies to.
    #[error("the target {found} is not {expected}")]
    WrongTarget {
        /// "a PostgreSQL URL" or "an SQLite file".
        expected: &'static str,
        /// The target given, password hidden.
        found: String,
    },
    /// The SQLite source file does not exist.
    #[error("there is no database at {0}: check data_dir and database_url")]
    NoSource(String),
    /// A server (or another command) has the SQLite source open.
    #[error(
        "the database {0} is open in another process: stop the server (and any other guildhall command) first"
    )]
    InUse(String),
    /// The SQLite target already exists.
    #[error("{0} already exists: give the path of a new file")]
    TargetExists(String),
    /// The SQLite target's directory does not exist.
    #[error("the directory {0} does not exist: create it first, or give another path")]
    NoParent(String),
    /// The two databases have not run the same migrations.
    #[error(
        "the source database's newest migration is {source_newest} and this Guildhall's is \
         {target_newest}: {hint}"
    )]
    Migrations {
        /// The source's newest migration.
        source_newest: String,
        /// The target's (this binary's) newest migration.
        target_newest: String,
        /// What to do.
        hint: &'static str,
    },
    /// The target already holds rows.
    #[error(
        "the table {0} of the target database already has rows: give an empty database (this \
         command never overwrites data)"
    )]
    TargetNotEmpty(String),
    /// The two sides' tables or columns differ.
    #[error("the table {table} differs between the two databases: {detail}")]
    Schema {
        /// The table.
        table: String,
        /// What differs.
        detail: String,
    },
    /// A stored value does not fit its column's kind.
    #[error("a value in {table}.{column} cannot be copied: {detail}")]
    Value {
        /// The table.
        table: String,
        /// The column.
        column: String,
        /// What is wrong with it.
        detail: String,
    },
    /// Rows point at rows that do not exist.
    #[error("the foreign keys of table {table} do not hold after the copy: {detail}")]
    ForeignKey {
        /// The table holding the dangling reference.
        table: String,
        /// The database's words.
        detail: String,
    },
    /// A table has a different number of rows on the two sides after the copy.
    #[error("the table {table} has {source_rows} rows in the source but {target_rows} in the target")]
    Count {
        /// The table.
        table: String,
        /// Rows in the source.
        source_rows: i64,
        /// Rows in the target.
        target_rows: i64,
    },
    /// The database failed while copying one table.
    #[error("copying the table {table} failed: {error}")]
    Table {
        /// The table.
        table: String,
        /// What failed.
        error: StorageError,
    },
    /// A half-made SQLite target could not be removed.
    #[error("cannot remove the incomplete {path}: {error}")]
    Cleanup {
        /// The file.
        path: String,
        /// The system's reason.
        error: std::io::Error,
    },
    /// The database failed.
    #[error(transparent)]
    Database(#[from] StorageError),
}

impl TransferError {
    /// True for the operator's mistakes (wrong backend, a running server, a target that is not
    /// empty or exists, databases at different migrations or with other tables): the binary
    /// exits with code 2.
    pub fn is_invalid_input(&self) -> bool {
        use TransferError::*;
        matches!(
            self,
            WrongSource { .. }
                | WrongTarget { .. }
                | NoSource(_)
                | InUse(_)
                | TargetExists(_)
                | NoParent(_)
                | Migrations { .. }
                | TargetNotEmpty(_)
                | Schema { .. }
        )
    }

    /// This error, with a database failure attributed to `table`.
    fn in_table(self, table: &str) -> TransferError {
        match self {
            TransferError::Database(error) => TransferError::Table { table: table.to_owned(), error },
            other => other,
        }
    }
}

impl From<diesel::result::Error> for TransferError {
    fn from(e: diesel::result::Error) -> Self {
        TransferError::Database(e.into())
    }
}

/// Copies every table of the SQLite database `source` into the PostgreSQL database `target`,
/// after applying our PostgreSQL migrations there. Refuses a source another process has open
/// (a running server) and a target with rows in any of our tables. Returns the row counts,
/// one per table, sorted by table name.
pub fn sqlite_to_postgres(
    source: &DatabaseUrl,
    target: &DatabaseUrl,
) -> Result<Vec<TableCount>, TransferError> {
    let DatabaseUrl::Sqlite(path) = source else {
        return Err(TransferError::WrongSource { expected: "SQLite", found: source.to_string() });
    };
    if !target.is_postgres() {
        return Err(TransferError::WrongTarget { expected: "a PostgreSQL URL", found: target.to_string() });
    }
    if !path.is_file() {
        return Err(TransferError::NoSource(path.display().to_string()));
    }
    crate::backup::ensure_not_in_use(path).map_err(|e| match e {
        crate::backup::BackupError::InUse(path) => TransferError::InUse(path),
        other => TransferError::Database(StorageError::Connection(other.to_string())),
    })?;
    let mut target_conn = DbConnection::open(target)?;
    target_conn.migrate()?;
    let mut source_conn = DbConnection::open(source)?;
    source_conn.batch_execute("PRAGMA query_only = ON;")?;
    let counts = copy(&mut source_conn, &mut target_conn)?;
    // Fresh statistics for the planner, so the first queries on the new database plan well.
    // The copy is committed by now: a failure here is only worth a warning.
    if let Err(e) = target_conn.batch_execute("ANALYZE;") {
        tracing::warn!(error = %e, "ANALYZE after the copy failed; autovacuum will catch up");
    }
    Ok(counts)
}

/// Copies every table of the PostgreSQL database `source` into a new SQLite file at `target`
/// (which must not exist; its directory must), created with our SQLite migrations. A failed
/// copy removes the file it created. Returns the row counts, one per table, sorted by name.
///
/// A server still writing to `source` cannot be detected: stop every server first. (The copy
/// reads one consistent snapshot either way.)
pub fn postgres_to_sqlite(source: &DatabaseUrl, target: &Path) -> Result<Vec<TableCount>, TransferError> {
    if !source.is_postgres() {
        return Err(TransferError::WrongSource { expected: "PostgreSQL", found: source.to_string() });
    }
    if std::fs::symlink_metadata(target).is_ok() {
        return Err(TransferError::TargetExists(target.display().to_string()));
    }
    let parent = target.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    if !parent.is_dir() {
        return Err(TransferError::NoParent(parent.display().to_string()));
    }
    let mut source_conn = DbConnection::open(source)?;
    // Every server on PostgreSQL holds a listening connection: copying under one would leave
    // out what it writes after the snapshot.
    if crate::wakeups::servers_listening(&mut source_conn)? > 0 {
        return Err(TransferError::InUse(source.to_string()));
    }
    let copied = fill_new_sqlite(&mut source_conn, target);
    if copied.is_err() {
        remove_sqlite_files(target)?;
    }
    copied
}

fn fill_new_sqlite(source: &mut DbConnection, path: &Path) -> Result<Vec<TableCount>, TransferError> {
    let mut target = DbConnection::open(&DatabaseUrl::Sqlite(path.to_path_buf()))?;
    target.migrate()?;
    copy(source, &mut target)
}

/// Removes the SQLite file at `path` and its companions, those that exist.
fn remove_sqlite_files(path: &Path) -> Result<(), TransferError> {
    for suffix in ["", "-wal", "-shm", "-journal"] {
        let mut name = path.as_os_str().to_owned();
        name.push(suffix);
        let file = PathBuf::from(name);
        match std::fs::remove_file(&file) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                return Err(TransferError::Cleanup { path: file.display().to_string(), error: e });
            }
            _ => {}
        }
    }
    Ok(())
}

/// Copies every table of `source` into the empty `target` (both migrated to the same version).
fn copy(source: &mut DbConnection, target: &mut DbConnection) -> Result<Vec<TableCount>, TransferError> {
    same_migrations(source, target)?;
    let tables = catalog::tables(&mut Side::of(source))?;
    catalog::compare(&tables, &catalog::tables(&mut Side::of(target))?)?;
    for table in &tables {
        if rows::any(&mut Side::of(target), table)? {
            return Err(TransferError::TargetNotEmpty(table.name.clone()));
        }
    }
    in_snapshot(source, |source| in_target(target, |target| copy_tables(source, target, &tables)))
}

fn same_migrations(source: &mut DbConnection, target: &mut DbConnection) -> Result<(), TransferError> {
    let (source_applied, target_applied) =
        (catalog::migrations(&mut Side::of(source))?, catalog::migrations(&mut Side::of(target))?);
    if source_applied == target_applied {
        return Ok(());
    }
    let newest = |v: &[String]| v.last().cloned().unwrap_or_else(|| "none".into());
    let behind = source_applied.iter().all(|v| target_applied.contains(v));
    Err(TransferError::Migrations {
        source_newest: newest(&source_applied),
        target_newest: newest(&target_applied),
        hint: if behind {
            "run `guildhall migrate` on the source database first"
        } else {
            "the source was written by a newer Guildhall: run this command with that version"
        },
    })
}

fn copy_tables(
    source: &mut Side<'_>,
    target: &mut Side<'_>,
    tables: &[Table],
) -> Result<Vec<TableCount>, TransferError> {
    let mut counts = Vec::with_capacity(tables.len());
    for table in tables {
        let copied = rows::copy_table(source, target, table).map_err(|e| e.in_table(&table.name))?;
        let source_rows = rows::count(source, table).map_err(|e| e.in_table(&table.name))?;
        let target_rows = rows::count(target, table).map_err(|e| e.in_table(&table.name))?;
        if source_rows != target_rows || copied != source_rows {
            return Err(TransferError::Count { table: table.name.clone(), source_rows, target_rows });
        }
        counts.push(TableCount { table: table.name.clone(), source_rows, target_rows });
    }
    Ok(counts)
}

/// One side of a copy: the connection of one backend.
enum Side<'a> {
    Pg(&'a mut PgConnection),
    Sqlite(&'a mut SqliteConnection),
}

impl Side<'_> {
    fn of(conn: &mut DbConnection) -> Side<'_> {
        match conn {
            DbConnection::Pg(c) => Side::Pg(c),
            DbConnection::Sqlite(c) => Side::Sqlite(c),
        }
    }
}

/// Runs `f` on the source inside one reading transaction: one consistent snapshot.
fn in_snapshot<T>(
    source: &mut DbConnection,
    f: impl FnOnce(&mut Side<'_>) -> Result<T, TransferError>,
) -> Result<T, TransferError> {
    match source {
        DbConnection::Pg(pg) => {
            pg.build_transaction().read_only().repeatable_read().run(|pg| f(&mut Side::Pg(pg)))
        }
        DbConnection::Sqlite(c) => c.transaction(|c| f(&mut Side::Sqlite(c))),
    }
}

/// Runs `f` on the target inside one transaction, with foreign keys checked at its end.
fn in_target<T>(
    target: &mut DbConnection,
    f: impl FnOnce(&mut Side<'_>) -> Result<T, TransferError>,
) -> Result<T, TransferError> {
    match target {
        DbConnection::Pg(pg) => pg.transaction(|pg| {
            let keys = catalog::drop_foreign_keys(pg)?;
            let out = f(&mut Side::Pg(pg))?;
            catalog::add_foreign_keys(pg, &keys)?;
            Ok(out)
        }),
        DbConnection::Sqlite(c) => {
            // Only outside a transaction does this pragma take effect.
            c.batch_execute("PRAGMA foreign_keys = OFF;")?;
            let out: Result<T, TransferError> = c.transaction(|c| {
                let out = f(&mut Side::Sqlite(c))?;
                catalog::check_sqlite_foreign_keys(c)?;
                Ok(out)
            });
            // The copy's own error, if any, is the one worth reporting.
            let enforced = c.batch_execute("PRAGMA foreign_keys = ON;");
            let out = out?;
            enforced?;
            Ok(out)
        }
    }
}

#[cfg(test)]
mod tests;
