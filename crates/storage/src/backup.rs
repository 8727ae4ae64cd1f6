//! Backups of an SQLite instance: a consistent copy of the live database and the media,
//! taken while the server runs ([`create`]), and bringing one back ([`restore`]) while it is
//! stopped.
//!
//! A backup is a directory:
//!
//! ```text
//! PATH/guildhall.db    the database, as of one instant (SQLite's `VACUUM INTO`)
//! PATH/media/          every media file, under the names the database uses
//! PATH/backup.json     the manifest (see [`Manifest`]); written last
//! ```
//!
//! **Consistency.** `VACUUM INTO` runs as one read transaction: under WAL it sees the database
//! as of one instant while the server keeps writing. Media files are written before the rows
//! that name them and removed only after those rows are gone, and never change in between, so
//! the media are copied twice: once before the snapshot (the bulk) and once after it (uploads
//! made meanwhile). A file the snapshot names can then be missing only if it was removed
//! between the snapshot and the second copy; then the snapshot is taken again (the row is gone
//! by then) and the new files copied, up to [`MAX_SNAPSHOTS`] times. Files the database names
//! that the media directory itself lacks cannot be copied: the backup completes, lists them in
//! the manifest (`media.missing`) and the command warns. Extra files (uploads newer than the
//! snapshot) are harmless: nothing names them.
//!
//! **Nothing that looks complete unless it is.** A backup is written into a hidden sibling
//! directory that is renamed to PATH at the end (or, when PATH is an existing empty directory,
//! into PATH with the manifest renamed into place last). A failed backup removes what it wrote;
//! an interrupted one leaves no `backup.json`, and restore refuses a directory without one.
//!
//! **Restore** checks the manifest, that every media file it lists is there with its size,
//! copies the database into the data directory under a temporary name, runs
//! `PRAGMA integrity_check` on that copy and refuses migrations this binary does not know. An
//! existing database (or non-empty media directory) is refused unless forced, and then moved
//! aside under a timestamped name, never deleted; a database another process has open (a
//! running server) is always refused. The copies are renamed into place at the end. Pending
//! migrations are left to the caller (the `guildhall admin restore` command runs them).
//!
//! PostgreSQL is not copied here: its own tools do it better (`pg_dump -Fc` and `pg_restore`,
//! with the media directory copied beside). Both functions refuse it with a message saying so.
//!
//! Error policy: every failure is a [`BackupError`] whose message names what is wrong and
//! what to do; [`BackupError::is_invalid_input`] tells the operator's mistakes from failures.

mod files;
mod manifest;
mod restore;
mod snapshot;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use guildhall_core::config::DatabaseUrl;
use thiserror::Error;

use crate::{DbConnection, StorageError};
pub use manifest::{DatabaseSummary, FORMAT, FORMAT_VERSION, Manifest, MediaSummary};
pub use restore::{Restored, restore};
pub(crate) use snapshot::ensure_not_in_use;

/// The database file's name in a backup.
pub const DATABASE_FILE: &str = "guildhall.db";
/// The media directory's name in a backup.
pub const MEDIA_DIR: &str = "media";
/// The manifest's name in a backup.
pub const MANIFEST_FILE: &str = "backup.json";
/// Most snapshots one backup takes while media named by the last one vanish (see the module
/// documentation).
pub const MAX_SNAPSHOTS: u32 = 3;

/// What goes wrong in a backup or a restore; each message names the path and what to do.
#[derive(Debug, Error)]
pub enum BackupError {
    /// `admin backup` on PostgreSQL, which its own tools copy.
    #[error(
        "guildhall admin backup copies SQLite instances only, and this one runs on PostgreSQL: \
         back up the database with `pg_dump -Fc` (bring it back with `pg_restore`) and copy the \
         media directory {media} beside it"
    )]
    PostgresBackup {
        /// The media directory to copy.
        media: String,
    },
    /// `admin restore` on PostgreSQL.
    #[error(
        "guildhall admin restore brings back SQLite backups only, and this instance runs on \
         PostgreSQL: restore the database with `pg_restore` (from a `pg_dump -Fc` file) and copy \
         the media back into {media}"
    )]
    PostgresRestore {
        /// The media directory to fill.
        media: String,
    },
    /// There is no database file to back up.
    #[error("there is no database at {0}: nothing to back up (check data_dir and database_url)")]
    NoDatabase(String),
    /// The backup destination exists and is not an empty directory.
    #[error("{0} already exists and is not an empty directory: give a new path for the backup")]
    DestinationTaken(String),
    /// The backup destination's parent directory does not exist.
    #[error("the directory {0} does not exist: create it first, or give another path")]
    NoParent(String),
    /// The backup destination lies inside the media directory it would copy.
    #[error("{path} is inside the media directory {media}: give a path outside it")]
    InsideMedia {
        /// The destination.
        path: String,
        /// The media directory.
        media: String,
    },
    /// The directory given to restore is not a complete backup.
    #[error("{path} is not a Guildhall backup: {why}")]
    NotABackup {
        /// The directory.
        path: String,
        /// What is missing or wrong.
        why: String,
    },
    /// The backup is incomplete or its database fails its checks.
    #[error("the backup at {path} is damaged: {why}")]
    Damaged {
        /// The directory.
        path: String,
        /// What is wrong.
        why: String,
    },
    /// The backup's database has migrations this binary does not know.
    #[error(
        "the backup was made by Guildhall {made_by} and its database has migration {migration}, \
         which this Guildhall does not know: restore it with Guildhall {made_by} or newer"
    )]
    TooNew {
        /// The migration version.
        migration: String,
        /// The version that made the backup.
        made_by: String,
    },
    /// Restore would replace data and was not forced.
    #[error(
        "{0} already exists: stop the server, then add --force to move it aside (it is kept \
         under a timestamped name, not deleted)"
    )]
    TargetExists(String),
    /// Another process (a running server) has the database open.
    #[error(
        "the database {0} is open in another process: stop the server (and any other guildhall \
         command) before restoring"
    )]
    InUse(String),
    /// A file operation failed.
    #[error("cannot {what} {path}: {source}")]
    Io {
        /// What was being done ("copy", "create", ...).
        what: &'static str,
        /// The path it was done to.
        path: String,
        /// The system's reason.
        source: std::io::Error,
    },
    /// The database failed.
    #[error(transparent)]
    Database(#[from] StorageError),
}

impl BackupError {
    /// True for the operator's mistakes (a wrong path, the wrong backend, a missing `--force`,
    /// a running server, a backup that is not one): the binary exits with code 2 for these.
    pub fn is_invalid_input(&self) -> bool {
        !matches!(self, BackupError::Io { .. } | BackupError::Database(_))
    }

    fn io(what: &'static str, path: &Path) -> impl FnOnce(std::io::Error) -> BackupError + use<> {
        let path = path.display().to_string();
        move |source| BackupError::Io { what, path, source }
    }
}

impl From<diesel::result::Error> for BackupError {
    fn from(e: diesel::result::Error) -> Self {
        BackupError::Database(e.into())
    }
}

/// The instance [`create`] copies.
#[derive(Debug, Clone, Copy)]
pub struct Source<'a> {
    /// Where its database is.
    pub database_url: &'a DatabaseUrl,
    /// Its media directory.
    pub media_dir: &'a Path,
    /// The URL its media are served under, such as `https://museums.example/media/`: profile
    /// images are stored as URLs, and those under it name files of the media directory.
    pub media_url: &'a str,
    /// The Guildhall version writing the backup.
    pub version: &'a str,
}

/// A finished backup.
#[derive(Debug, Clone)]
pub struct Created {
    /// Where it is.
    pub path: PathBuf,
    /// What it holds (also in its `backup.json`).
    pub manifest: Manifest,
}

/// Copies the live database and the media of `source` into the new directory `path` (which
/// must not exist, or be an empty directory). The server may keep running meanwhile.
pub fn create(source: &Source<'_>, path: &Path) -> Result<Created, BackupError> {
    create_with(source, path, &mut |_, _| {})
}

/// The moments of a backup at which tests act on the live instance, as a server would.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Step {
    /// Snapshot n (from 1) is about to be taken: the media were copied.
    BeforeSnapshot(u32),
    /// Snapshot n was taken; the media are about to be copied again.
    AfterSnapshot(u32),
}

/// [`create`], calling `at` at each [`Step`].
fn create_with(
    source: &Source<'_>,
    path: &Path,
    at: &mut dyn FnMut(Step, &mut DbConnection),
) -> Result<Created, BackupError> {
    let database = match source.database_url {
        DatabaseUrl::Sqlite(file) => file,
        DatabaseUrl::Postgres(_) => {
            return Err(BackupError::PostgresBackup { media: source.media_dir.display().to_string() });
        }
    };
    if !database.is_file() {
        return Err(BackupError::NoDatabase(database.display().to_string()));
    }
    let output = files::Output::claim(path, source.media_dir)?;
    let mut live = DbConnection::open(source.database_url)?;
    let captured = capture(&mut live, output.dir(), source, at)?;
    drop(live);
    let manifest = Manifest::new(source.version, captured.database, captured.media);
    manifest.write(output.dir())?;
    let path = output.finish()?;
    Ok(Created { path, manifest })
}

/// The database and media of one backup, as written into its directory.
struct Captured {
    database: DatabaseSummary,
    media: MediaSummary,
}

/// Copies the media, snapshots the database, copies the media again and checks that every file
/// the snapshot names was copied; snapshots again while the files missing change (those
/// removed after a snapshot are no longer named by the next one; those missing from the
/// media directory itself stay missing).
fn capture(
    live: &mut DbConnection,
    dir: &Path,
    source: &Source<'_>,
    at: &mut dyn FnMut(Step, &mut DbConnection),
) -> Result<Captured, BackupError> {
    let (db_copy, media_copy) = (dir.join(DATABASE_FILE), dir.join(MEDIA_DIR));
    files::create_private_dir(&media_copy)?;
    let mut copied = BTreeMap::new();
    files::copy_new(source.media_dir, &media_copy, &mut copied)?;
    let (mut snapshots, mut missing_before) = (0, None);
    loop {
        snapshots += 1;
        at(Step::BeforeSnapshot(snapshots), live);
        snapshot::vacuum_into(live, &db_copy)?;
        at(Step::AfterSnapshot(snapshots), live);
        files::copy_new(source.media_dir, &media_copy, &mut copied)?;
        let mut copy = snapshot::open_copy(&db_copy)?;
        let named = snapshot::media_named(&mut copy, source.media_url)?;
        let missing: Vec<String> = named.into_iter().filter(|name| !copied.contains_key(name)).collect();
        let settled = missing.is_empty() || missing_before.as_ref() == Some(&missing);
        if settled || snapshots >= MAX_SNAPSHOTS {
            let database = snapshot::summarize(&mut copy, &db_copy, snapshots)?;
            files::sync_tree(&media_copy)?;
            return Ok(Captured { database, media: MediaSummary::new(copied, missing) });
        }
        tracing::info!(missing = missing.len(), "media named by the snapshot are gone: taking it again");
        missing_before = Some(missing);
    }
}

#[cfg(test)]
mod tests;
