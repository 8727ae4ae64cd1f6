//! The SQLite side of backups: the snapshot, and the checks run on copies of the database.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use diesel::connection::SimpleConnection;
use diesel::migration::MigrationSource;
use diesel::prelude::*;
use diesel::sql_types::Text;
use diesel::sqlite::Sqlite;

use super::{BackupError, DatabaseSummary, files};
use crate::schema::{actors, follows, groups, media_attachments, statuses, users};
use crate::{DbConnection, StorageError};

use crate::connection::SQLITE_MIGRATIONS;

/// Writes a consistent copy of the live database to the new file `target` (replacing one left
/// by an earlier snapshot of the same backup), and syncs it.
pub(super) fn vacuum_into(live: &mut DbConnection, target: &Path) -> Result<(), BackupError> {
    let DbConnection::Sqlite(conn) = live else {
        return Err(StorageError::Connection("a snapshot needs an SQLite database".into()).into());
    };
    match std::fs::remove_file(target) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
            return Err(BackupError::io("replace", target)(e));
        }
        _ => {}
    }
    // The file name is bound, not spliced into the SQL: no quoting to get wrong. It is
    // absolute, so SQLite never reads it as a `file:` URI.
    let name = sqlite_name(target)?;
    diesel::sql_query("VACUUM INTO ?").bind::<Text, _>(name).execute(conn)?;
    // Owner only, whatever the directory: it holds keys, password hashes and direct messages.
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(target, std::fs::Permissions::from_mode(0o600))
            .map_err(BackupError::io("protect", target))?;
    }
    files::sync_file(target)
}

/// Opens a copy of a database (a backup's, or one being restored) without changing its
/// journal mode, so that reading it writes nothing beside it.
pub(super) fn open_copy(path: &Path) -> Result<SqliteConnection, BackupError> {
    if !path.is_file() {
        return Err(BackupError::io("open", path)(std::io::ErrorKind::NotFound.into()));
    }
    let mut conn = SqliteConnection::establish(&sqlite_name(path)?)
        .map_err(|e| StorageError::Connection(e.to_string()))?;
    conn.batch_execute("PRAGMA query_only = ON;")?;
    Ok(conn)
}

/// An absolute path as SQLite takes it.
fn sqlite_name(path: &Path) -> Result<String, BackupError> {
    let absolute = std::path::absolute(path).map_err(BackupError::io("resolve", path))?;
    absolute.to_str().map(str::to_owned).ok_or_else(|| BackupError::Io {
        what: "use",
        path: absolute.display().to_string(),
        source: std::io::Error::new(std::io::ErrorKind::InvalidInput, "the path is not valid UTF-8"),
    })
}

/// The media files a database names: attachments' files and thumbnails, and local actors'
/// avatars and headers stored as URLs under `media_url`.
pub(super) fn media_named(
    conn: &mut SqliteConnection,
    media_url: &str,
) -> Result<BTreeSet<String>, BackupError> {
    let attachments: Vec<(Option<String>, Option<String>)> = media_attachments::table
        .select((media_attachments::file_path, media_attachments::preview_path))
        .load(conn)?;
    let images: Vec<(Option<String>, Option<String>)> = actors::table
        .filter(actors::domain.is_null())
        .select((actors::avatar_url, actors::header_url))
        .load(conn)?;
    let files = attachments.into_iter().flat_map(|(file, preview)| file.into_iter().chain(preview));
    let urls = images.into_iter().flat_map(|(avatar, header)| avatar.into_iter().chain(header));
    let local = urls.filter_map(|url| url.strip_prefix(media_url).map(str::to_owned));
    Ok(files.chain(local).filter(|name| !name.is_empty()).collect())
}

/// Checks a copy and sums it up: `PRAGMA integrity_check`, its migrations, a few row counts.
pub(super) fn summarize(
    conn: &mut SqliteConnection,
    path: &Path,
    snapshots: u32,
) -> Result<DatabaseSummary, BackupError> {
    if let Some(problem) = integrity_problem(conn)? {
        return Err(
            StorageError::Corrupt(format!("the snapshot fails its integrity check: {problem}")).into()
        );
    }
    let applied = applied_migrations(conn)?;
    let bytes = std::fs::metadata(path).map_err(BackupError::io("inspect", path))?.len();
    Ok(DatabaseSummary {
        bytes,
        newest_migration: applied.last().cloned(),
        migrations: applied.len(),
        rows: row_counts(conn)?,
        snapshots,
    })
}

/// Rows in the main tables.
pub(super) fn row_counts(conn: &mut SqliteConnection) -> Result<BTreeMap<String, i64>, BackupError> {
    let counts = [
        ("accounts", users::table.count().get_result::<i64>(conn)?),
        ("actors", actors::table.count().get_result(conn)?),
        ("statuses", statuses::table.count().get_result(conn)?),
        ("media_attachments", media_attachments::table.count().get_result(conn)?),
        ("follows", follows::table.count().get_result(conn)?),
        ("groups", groups::table.count().get_result(conn)?),
    ];
    Ok(counts.into_iter().map(|(table, n)| (table.to_owned(), n)).collect())
}

#[derive(QueryableByName)]
struct Line {
    #[diesel(sql_type = Text)]
    integrity_check: String,
}

/// What `PRAGMA integrity_check` finds wrong, if anything (its first lines).
pub(super) fn integrity_problem(conn: &mut SqliteConnection) -> Result<Option<String>, BackupError> {
    let lines: Vec<Line> = diesel::sql_query("PRAGMA integrity_check(10)").load(conn)?;
    let lines: Vec<String> = lines.into_iter().map(|l| l.integrity_check).collect();
    Ok((lines != ["ok"]).then(|| lines.join("; ")))
}

#[derive(QueryableByName)]
struct Version {
    #[diesel(sql_type = Text)]
    version: String,
}

/// The versions of the migrations applied to a database, oldest first (read only: diesel's
/// own listing creates its table when missing).
pub(super) fn applied_migrations(conn: &mut SqliteConnection) -> Result<Vec<String>, BackupError> {
    let found: Vec<Version> =
        diesel::sql_query("SELECT version FROM __diesel_schema_migrations ORDER BY version").load(conn)?;
    Ok(found.into_iter().map(|v| v.version).collect())
}

/// The versions of the migrations this binary knows.
pub(super) fn known_migrations() -> Result<BTreeSet<String>, BackupError> {
    let migrations = MigrationSource::<Sqlite>::migrations(&SQLITE_MIGRATIONS)
        .map_err(|e| StorageError::Migration(e.to_string()))?;
    Ok(migrations.iter().map(|m| m.name().version().to_string()).collect())
}

/// Fails with [`BackupError::InUse`] when another connection has the database at `path` open
/// (a server keeps pooled connections open). Takes SQLite's exclusive lock for a moment; on
/// closing, the last connection also folds the write-ahead log into the database file.
pub(crate) fn ensure_not_in_use(path: &Path) -> Result<(), BackupError> {
    let mut conn = SqliteConnection::establish(&sqlite_name(path)?)
        .map_err(|e| StorageError::Connection(e.to_string()))?;
    let locked = conn
        .batch_execute("PRAGMA busy_timeout = 0; PRAGMA locking_mode = EXCLUSIVE; BEGIN EXCLUSIVE; COMMIT;");
    match locked {
        Err(diesel::result::Error::DatabaseError(_, info)) if is_busy(info.message()) => {
            Err(BackupError::InUse(path.display().to_string()))
        }
        // Not a database we can read: it is moved aside as it is.
        _ => Ok(()),
    }
}

fn is_busy(message: &str) -> bool {
    message.contains("locked") || message.contains("busy")
}
