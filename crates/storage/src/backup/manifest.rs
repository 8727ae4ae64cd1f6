//! `backup.json`: what a backup holds, written last so its presence marks a complete backup.

use std::collections::BTreeMap;
use std::path::Path;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::{BackupError, MANIFEST_FILE, files};

/// The `format` of every manifest.
pub const FORMAT: &str = "guildhall-backup";
/// The manifest format this binary writes and the newest it reads.
pub const FORMAT_VERSION: u32 = 1;

/// The manifest of a backup.
///
/// ```
/// use guildhall_storage::backup::{FORMAT, Manifest};
/// let json = r#"{"format": "guildhall-backup", "format_version": 1, "guildhall_version": "0.1.0",
///   "created_at": "2026-05-01T10:00:00Z",
///   "database": {"bytes": 4096, "newest_migration": "20261204000019", "migrations": 19,
///                "rows": {"statuses": 2}, "snapshots": 1},
///   "media": {"count": 1, "bytes": 10, "files": {"a.png": 10}, "missing": []}}"#;
/// let manifest: Manifest = serde_json::from_str(json).unwrap();
/// assert_eq!(manifest.format, FORMAT);
/// assert_eq!(manifest.media.files["a.png"], 10);
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Manifest {
    /// Always [`FORMAT`].
    pub format: String,
    /// The manifest format ([`FORMAT_VERSION`] when written by this binary).
    pub format_version: u32,
    /// The Guildhall version that wrote the backup.
    pub guildhall_version: String,
    /// When the backup finished (the snapshot is a few moments older).
    pub created_at: DateTime<Utc>,
    /// The database copy.
    pub database: DatabaseSummary,
    /// The media copy.
    pub media: MediaSummary,
}

/// The database copy of a backup.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DatabaseSummary {
    /// Its size in bytes.
    pub bytes: u64,
    /// The version of the newest migration applied to it (none: an empty database).
    pub newest_migration: Option<String>,
    /// How many migrations were applied to it.
    pub migrations: usize,
    /// Rows in a few main tables (`accounts`, `actors`, `statuses`, `media_attachments`,
    /// `follows`, `groups`), for a glance at what it holds.
    pub rows: BTreeMap<String, i64>,
    /// How many snapshots were taken (more than one when media vanished during the backup).
    pub snapshots: u32,
}

/// The media copy of a backup.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MediaSummary {
    /// How many files.
    pub count: usize,
    /// Their total size in bytes.
    pub bytes: u64,
    /// Each file's name (relative to the media directory, `/`-separated) and size.
    pub files: BTreeMap<String, u64>,
    /// Files the database names that the media directory lacked (so the backup lacks them too).
    pub missing: Vec<String>,
}

impl MediaSummary {
    /// The summary of `files` (name to size), with the named files that were `missing`.
    pub fn new(files: BTreeMap<String, u64>, missing: Vec<String>) -> MediaSummary {
        MediaSummary { count: files.len(), bytes: files.values().sum(), files, missing }
    }
}

impl Manifest {
    /// A manifest written now by Guildhall `version`.
    pub fn new(version: &str, database: DatabaseSummary, media: MediaSummary) -> Manifest {
        Manifest {
            format: FORMAT.to_owned(),
            format_version: FORMAT_VERSION,
            guildhall_version: version.to_owned(),
            created_at: Utc::now(),
            database,
            media,
        }
    }

    /// Writes `dir/backup.json` (through a temporary name, synced, then renamed).
    pub(super) fn write(&self, dir: &Path) -> Result<(), BackupError> {
        let json = serde_json::to_vec_pretty(self).map_err(|e| BackupError::Io {
            what: "write",
            path: dir.join(MANIFEST_FILE).display().to_string(),
            source: e.into(),
        })?;
        files::write_atomically(&dir.join(MANIFEST_FILE), &json)
    }

    /// Reads and checks `dir/backup.json`.
    pub fn read(dir: &Path) -> Result<Manifest, BackupError> {
        let not_a_backup = |why: String| BackupError::NotABackup { path: dir.display().to_string(), why };
        if !dir.is_dir() {
            return Err(not_a_backup("there is no such directory".into()));
        }
        let path = dir.join(MANIFEST_FILE);
        let text = match std::fs::read(&path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(not_a_backup(format!(
                    "it has no {MANIFEST_FILE} (a backup that did not finish has none)"
                )));
            }
            Err(e) => return Err(BackupError::io("read", &path)(e)),
        };
        let manifest: Manifest = serde_json::from_slice(&text)
            .map_err(|e| not_a_backup(format!("its {MANIFEST_FILE} cannot be read: {e}")))?;
        if manifest.format != FORMAT {
            return Err(not_a_backup(format!("its {MANIFEST_FILE} is of format '{}'", manifest.format)));
        }
        if manifest.format_version > FORMAT_VERSION {
            return Err(not_a_backup(format!(
                "it is in backup format {} (Guildhall {}); this Guildhall reads format {FORMAT_VERSION}",
                manifest.format_version, manifest.guildhall_version
            )));
        }
        Ok(manifest)
    }
}
