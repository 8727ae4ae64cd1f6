//! The file side of backups: the output directory that appears only when complete, copying the
//! media, syncing to disk, names for what is moved aside.

use std::collections::BTreeMap;
use std::fs;
use std::io::ErrorKind;
use std::path::{Path, PathBuf};

use super::{BackupError, DATABASE_FILE, MANIFEST_FILE, MEDIA_DIR};

/// The suffix of a file being written, before it is renamed into place.
const PARTIAL: &str = "partial";

/// Where a backup is written until it is complete.
#[derive(Debug)]
pub(super) struct Output {
    /// The directory written into.
    dir: PathBuf,
    /// Where `dir` goes when complete (`None`: `dir` is the destination, an empty directory).
    destination: Option<PathBuf>,
    /// Set once complete: nothing is removed on drop.
    done: bool,
}

impl Output {
    /// Checks `path` (new, or an empty directory, outside `media_dir`) and makes the directory
    /// to write into: a hidden sibling of `path`, readable by the owner only, or `path` itself
    /// when it is an empty directory.
    pub(super) fn claim(path: &Path, media_dir: &Path) -> Result<Output, BackupError> {
        let path = std::path::absolute(path).map_err(BackupError::io("resolve", path))?;
        let shown = path.display().to_string();
        let existing = match fs::symlink_metadata(&path) {
            Ok(meta) if meta.is_dir() && is_empty_dir(&path)? => true,
            Ok(_) => return Err(BackupError::DestinationTaken(shown)),
            Err(e) if e.kind() == ErrorKind::NotFound => false,
            Err(e) => return Err(BackupError::io("inspect", &path)(e)),
        };
        let (parent, name) = match (path.parent(), path.file_name()) {
            (Some(parent), Some(name)) => (parent.to_path_buf(), name.to_string_lossy().into_owned()),
            _ => return Err(BackupError::DestinationTaken(shown)),
        };
        if !parent.is_dir() {
            return Err(BackupError::NoParent(parent.display().to_string()));
        }
        let anchor = if existing { &path } else { &parent };
        if let (Ok(anchor), Ok(media)) = (fs::canonicalize(anchor), fs::canonicalize(media_dir))
            && anchor.starts_with(&media)
        {
            return Err(BackupError::InsideMedia { path: shown, media: media.display().to_string() });
        }
        if existing {
            return Ok(Output { dir: path, destination: None, done: false });
        }
        let dir = parent.join(format!(".{name}.{PARTIAL}-{}", std::process::id()));
        create_private_dir(&dir)?;
        Ok(Output { dir, destination: Some(path), done: false })
    }

    /// The directory to write into.
    pub(super) fn dir(&self) -> &Path {
        &self.dir
    }

    /// Puts the complete backup in place; returns where it is.
    pub(super) fn finish(mut self) -> Result<PathBuf, BackupError> {
        sync_dir(&self.dir)?;
        let path = match &self.destination {
            Some(destination) => {
                fs::rename(&self.dir, destination).map_err(BackupError::io("rename into", destination))?;
                destination.clone()
            }
            None => self.dir.clone(),
        };
        self.done = true;
        if let Some(parent) = path.parent() {
            sync_dir(parent)?;
        }
        Ok(path)
    }
}

impl Drop for Output {
    /// Removes what an unfinished backup wrote (only that, in a directory that was empty).
    fn drop(&mut self) {
        if self.done {
            return;
        }
        let removed = match &self.destination {
            Some(_) => fs::remove_dir_all(&self.dir),
            None => {
                let partial_manifest = format!("{MANIFEST_FILE}.{PARTIAL}");
                for file in [DATABASE_FILE, MANIFEST_FILE, &partial_manifest] {
                    let _ = fs::remove_file(self.dir.join(file));
                }
                fs::remove_dir_all(self.dir.join(MEDIA_DIR))
            }
        };
        if let Err(e) = removed
            && e.kind() != ErrorKind::NotFound
        {
            tracing::warn!(dir = %self.dir.display(), error = %e, "an unfinished backup was not removed");
        }
    }
}

/// True when `dir` has no entries.
pub(super) fn is_empty_dir(dir: &Path) -> Result<bool, BackupError> {
    let mut entries = fs::read_dir(dir).map_err(BackupError::io("read", dir))?;
    Ok(entries.next().is_none())
}

/// Creates `dir` (its parent exists), readable by its owner only: a backup holds every
/// account's data and the instance's keys.
pub(super) fn create_private_dir(dir: &Path) -> Result<(), BackupError> {
    let mut builder = fs::DirBuilder::new();
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder.create(dir).map_err(BackupError::io("create", dir))
}

/// Creates `dir` and any missing parents.
pub(super) fn create_dir(dir: &Path) -> Result<(), BackupError> {
    fs::create_dir_all(dir).map_err(BackupError::io("create", dir))
}

/// Copies the files of the tree `from` that `copied` does not hold yet into `to`, adding each
/// (relative `/`-separated name, size) to `copied`. Hidden entries (files being written), and
/// names that are not UTF-8, are left out; a file removed meanwhile is skipped. A missing
/// `from` is an empty tree.
pub(super) fn copy_new(
    from: &Path,
    to: &Path,
    copied: &mut BTreeMap<String, u64>,
) -> Result<(), BackupError> {
    copy_level(from, to, "", copied)
}

fn copy_level(
    from: &Path,
    to: &Path,
    prefix: &str,
    copied: &mut BTreeMap<String, u64>,
) -> Result<(), BackupError> {
    let entries = match fs::read_dir(from) {
        Ok(entries) => entries,
        Err(e) if e.kind() == ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(BackupError::io("read", from)(e)),
    };
    for entry in entries {
        let entry = entry.map_err(BackupError::io("read", from))?;
        let Some(name) = entry.file_name().to_str().map(str::to_owned) else { continue };
        if name.starts_with('.') {
            continue;
        }
        let (source, target, key) = (entry.path(), to.join(&name), format!("{prefix}{name}"));
        let kind = entry.file_type().map_err(BackupError::io("inspect", &source))?;
        // A link to a file is copied as the file; a link to a directory is not followed.
        let file = kind.is_file() || (kind.is_symlink() && fs::metadata(&source).is_ok_and(|m| m.is_file()));
        if kind.is_dir() {
            create_dir(&target)?;
            copy_level(&source, &target, &format!("{key}/"), copied)?;
        } else if file
            && !copied.contains_key(&key)
            && let Some(bytes) = copy_file(&source, &target)?
        {
            copied.insert(key, bytes);
        }
    }
    Ok(())
}

/// Copies one file and syncs the copy; `None` when the source is gone.
pub(super) fn copy_file(from: &Path, to: &Path) -> Result<Option<u64>, BackupError> {
    match fs::copy(from, to) {
        Ok(bytes) => {
            sync_file(to)?;
            Ok(Some(bytes))
        }
        Err(e) if e.kind() == ErrorKind::NotFound && !to.exists() => Ok(None),
        Err(e) => Err(BackupError::io("copy", from)(e)),
    }
}

/// Copies the whole tree `from` into the new directory `to`, syncing every file and directory.
pub(super) fn copy_tree(from: &Path, to: &Path) -> Result<BTreeMap<String, u64>, BackupError> {
    create_dir(to)?;
    let mut copied = BTreeMap::new();
    copy_new(from, to, &mut copied)?;
    sync_tree(to)?;
    Ok(copied)
}

/// Writes `path` through a synced temporary file renamed into place.
pub(super) fn write_atomically(path: &Path, bytes: &[u8]) -> Result<(), BackupError> {
    let mut partial = path.as_os_str().to_owned();
    partial.push(format!(".{PARTIAL}"));
    let partial = PathBuf::from(partial);
    fs::write(&partial, bytes).map_err(BackupError::io("write", &partial))?;
    sync_file(&partial)?;
    fs::rename(&partial, path).map_err(BackupError::io("rename into", path))?;
    match path.parent() {
        Some(dir) => sync_dir(dir),
        None => Ok(()),
    }
}

/// Flushes a file's contents to disk.
pub(super) fn sync_file(path: &Path) -> Result<(), BackupError> {
    let file = fs::OpenOptions::new().write(true).open(path).map_err(BackupError::io("open", path))?;
    file.sync_all().map_err(BackupError::io("sync", path))
}

/// Flushes a directory's entries to disk (a no-op where directories cannot be opened).
pub(super) fn sync_dir(dir: &Path) -> Result<(), BackupError> {
    #[cfg(unix)]
    fs::File::open(dir).and_then(|d| d.sync_all()).map_err(BackupError::io("sync", dir))?;
    #[cfg(not(unix))]
    let _ = dir;
    Ok(())
}

/// Syncs `dir` and every directory below it.
pub(super) fn sync_tree(dir: &Path) -> Result<(), BackupError> {
    for entry in fs::read_dir(dir).map_err(BackupError::io("read", dir))? {
        let entry = entry.map_err(BackupError::io("read", dir))?;
        if entry.file_type().is_ok_and(|k| k.is_dir()) {
            sync_tree(&entry.path())?;
        }
    }
    sync_dir(dir)
}

/// `path` with `suffix` appended to its file name.
pub(super) fn with_suffix(path: &Path, suffix: &str) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(suffix);
    PathBuf::from(name)
}

/// `path.before-restore-STAMP`, or with `-2`, `-3`… when that exists.
pub(super) fn aside_name(path: &Path, stamp: &str) -> PathBuf {
    let base = with_suffix(path, &format!(".before-restore-{stamp}"));
    let taken = |p: &Path| {
        ["", "-wal", "-shm", "-journal"].iter().any(|s| fs::symlink_metadata(with_suffix(p, s)).is_ok())
    };
    let mut candidate = base.clone();
    let mut n = 1;
    while taken(&candidate) {
        n += 1;
        candidate = with_suffix(&base, &format!("-{n}"));
    }
    candidate
}
