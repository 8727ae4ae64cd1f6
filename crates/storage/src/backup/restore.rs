//! Bringing a backup back: check it, stage copies beside the live paths, then rename them in.

use std::fs;
use std::io::ErrorKind;
use std::path::{Path, PathBuf};

use guildhall_core::config::DatabaseUrl;

use super::{BackupError, DATABASE_FILE, MEDIA_DIR, Manifest, files, snapshot};

/// The files beside an SQLite database that belong to it.
const COMPANIONS: [&str; 3] = ["-wal", "-shm", "-journal"];

/// A finished restore.
#[derive(Debug, Clone)]
pub struct Restored {
    /// The backup's manifest.
    pub manifest: Manifest,
    /// Where the database now is.
    pub database: PathBuf,
    /// Where the media now are.
    pub media_dir: PathBuf,
    /// What was there before and is now kept under a new name (with `force`).
    pub moved_aside: Vec<PathBuf>,
}

/// Brings the backup in `backup` back as the database `database_url` and the media directory
/// `media_dir`. The server must be stopped (a database another process has open is refused).
/// An existing database or non-empty media directory is refused unless `force`, and then moved
/// aside, not deleted. Pending migrations are not run.
pub fn restore(
    backup: &Path,
    database_url: &DatabaseUrl,
    media_dir: &Path,
    force: bool,
) -> Result<Restored, BackupError> {
    let database = match database_url {
        DatabaseUrl::Sqlite(path) => resolve(path)?,
        DatabaseUrl::Postgres(_) => {
            return Err(BackupError::PostgresRestore { media: media_dir.display().to_string() });
        }
    };
    let media_dir = resolve(media_dir)?;
    let manifest = Manifest::read(backup)?;
    check_media(backup, &manifest)?;
    let present = in_place(&database, &media_dir)?;
    if let Some(first) = present.first()
        && !force
    {
        return Err(BackupError::TargetExists(first.display().to_string()));
    }
    if database.is_file() {
        snapshot::ensure_not_in_use(&database)?;
    }
    let staged_db = stage_database(backup, &database, &manifest)?;
    let staged_media = Staged::dir(&media_dir)?;
    files::copy_tree(&backup.join(MEDIA_DIR), &staged_media.path)?;
    if database.is_file() {
        // Again, now that the copies are ready: a server may have been started meanwhile.
        snapshot::ensure_not_in_use(&database)?;
    }
    let stamp = chrono::Utc::now().format("%Y%m%dT%H%M%SZ").to_string();
    let (media_aside, undo) = swap_media(staged_media, &media_dir, &stamp)?;
    let db_aside = match swap_database(staged_db, &database, &stamp) {
        Ok(aside) => aside,
        Err(e) => {
            undo.run(&media_dir);
            return Err(e);
        }
    };
    let moved_aside = db_aside.into_iter().chain(media_aside).collect();
    Ok(Restored { manifest, database, media_dir, moved_aside })
}

/// `path` made absolute, its symbolic links resolved when it exists: a media directory linked
/// to another disk is restored on that disk, and the link stays.
fn resolve(path: &Path) -> Result<PathBuf, BackupError> {
    match fs::canonicalize(path) {
        Ok(real) => Ok(real),
        Err(_) => std::path::absolute(path).map_err(BackupError::io("resolve", path)),
    }
}

/// Fails unless every media file the manifest lists is in the backup, with its size.
fn check_media(backup: &Path, manifest: &Manifest) -> Result<(), BackupError> {
    let damaged = |why: String| BackupError::Damaged { path: backup.display().to_string(), why };
    if !backup.join(DATABASE_FILE).is_file() {
        return Err(damaged(format!("it has no {DATABASE_FILE}")));
    }
    for (name, size) in &manifest.media.files {
        let plain = Path::new(name).components().all(|c| matches!(c, std::path::Component::Normal(_)));
        let found = plain.then(|| fs::metadata(backup.join(MEDIA_DIR).join(name)).ok()).flatten();
        match found {
            Some(meta) if meta.is_file() && meta.len() == *size => {}
            Some(meta) => {
                return Err(damaged(format!("media file {name} has {} bytes, not {size}", meta.len())));
            }
            None => return Err(damaged(format!("media file {name} is missing"))),
        }
    }
    Ok(())
}

/// What restoring would replace: the database and its companion files, a non-empty media
/// directory.
fn in_place(database: &Path, media_dir: &Path) -> Result<Vec<PathBuf>, BackupError> {
    let mut present: Vec<PathBuf> = std::iter::once(database.to_path_buf())
        .chain(COMPANIONS.iter().map(|s| files::with_suffix(database, s)))
        .filter(|p| fs::symlink_metadata(p).is_ok())
        .collect();
    if media_dir.is_dir() && !files::is_empty_dir(media_dir)? {
        present.push(media_dir.to_path_buf());
    }
    Ok(present)
}

/// Copies the backup's database beside `database` under a temporary name and checks the copy:
/// its integrity, that this binary knows its migrations, that it is the one the manifest
/// describes.
fn stage_database(backup: &Path, database: &Path, manifest: &Manifest) -> Result<Staged, BackupError> {
    let damaged = |why: String| BackupError::Damaged { path: backup.display().to_string(), why };
    let staged = Staged::file(database)?;
    files::copy_file(&backup.join(DATABASE_FILE), &staged.path)?
        .ok_or_else(|| damaged(format!("its {DATABASE_FILE} vanished")))?;
    let mut conn = snapshot::open_copy(&staged.path)?;
    let problem = snapshot::integrity_problem(&mut conn)
        .map_err(|e| damaged(format!("its database cannot be read: {e}")))?;
    if let Some(problem) = problem {
        return Err(damaged(format!("its database fails the integrity check: {problem}")));
    }
    let applied = snapshot::applied_migrations(&mut conn)
        .map_err(|e| damaged(format!("its database is not a Guildhall database: {e}")))?;
    let known = snapshot::known_migrations()?;
    if let Some(unknown) = applied.iter().find(|v| !known.contains(*v)) {
        return Err(BackupError::TooNew {
            migration: unknown.clone(),
            made_by: manifest.guildhall_version.clone(),
        });
    }
    if applied.last() != manifest.database.newest_migration.as_ref() {
        return Err(damaged(format!("its {DATABASE_FILE} is not the database its manifest describes")));
    }
    Ok(staged)
}

/// Puts the staged media directory in place of `media_dir` (moving a non-empty one aside);
/// returns where the old one went and how to undo.
fn swap_media(staged: Staged, media_dir: &Path, stamp: &str) -> Result<(Option<PathBuf>, Undo), BackupError> {
    let mut aside = None;
    match fs::symlink_metadata(media_dir) {
        Ok(_) if files::is_empty_dir(media_dir)? => {
            fs::remove_dir(media_dir).map_err(BackupError::io("replace", media_dir))?;
        }
        Ok(_) => {
            let name = files::aside_name(media_dir, stamp);
            fs::rename(media_dir, &name).map_err(BackupError::io("move aside", media_dir))?;
            aside = Some(name);
        }
        Err(e) if e.kind() == ErrorKind::NotFound => {}
        Err(e) => return Err(BackupError::io("inspect", media_dir)(e)),
    }
    if let Err(e) = fs::rename(&staged.path, media_dir) {
        Undo { media_aside: aside }.run(media_dir);
        return Err(BackupError::io("rename into", media_dir)(e));
    }
    staged.keep();
    sync_parent(media_dir)?;
    Ok((aside.clone(), Undo { media_aside: aside }))
}

/// Puts the staged database in place of `database`: its companion files are moved aside, then
/// the old file is linked (or, where links fail, renamed) to the aside name, then the staged
/// file is renamed over it, so the database's name never points at nothing. On failure what
/// was moved is put back.
fn swap_database(staged: Staged, database: &Path, stamp: &str) -> Result<Vec<PathBuf>, BackupError> {
    let aside = files::aside_name(database, stamp);
    let mut moved: Vec<(PathBuf, PathBuf)> = Vec::new();
    let result = (|| {
        for suffix in COMPANIONS {
            let (from, to) = (files::with_suffix(database, suffix), files::with_suffix(&aside, suffix));
            if fs::symlink_metadata(&from).is_ok() {
                fs::rename(&from, &to).map_err(BackupError::io("move aside", &from))?;
                moved.push((from, to));
            }
        }
        if database.exists() {
            let linked = fs::hard_link(database, &aside).is_ok();
            if !linked {
                fs::rename(database, &aside).map_err(BackupError::io("move aside", database))?;
            }
            moved.insert(0, (database.to_path_buf(), aside.clone()));
        }
        fs::rename(&staged.path, database).map_err(BackupError::io("rename into", database))
    })();
    if let Err(e) = result {
        for (from, to) in &moved {
            let back = if from.exists() { fs::remove_file(to) } else { fs::rename(to, from) };
            if let Err(e) = back {
                tracing::warn!(path = %to.display(), error = %e, "not put back after a failed restore");
            }
        }
        return Err(e);
    }
    staged.keep();
    sync_parent(database)?;
    Ok(moved.into_iter().map(|(_, to)| to).collect())
}

fn sync_parent(path: &Path) -> Result<(), BackupError> {
    match path.parent() {
        Some(dir) => files::sync_dir(dir),
        None => Ok(()),
    }
}

/// Puts a media directory moved aside back, when the database could not be restored after it.
struct Undo {
    media_aside: Option<PathBuf>,
}

impl Undo {
    fn run(self, media_dir: &Path) {
        let Some(aside) = self.media_aside else { return };
        let back = fs::rename(media_dir, files::with_suffix(media_dir, ".failed-restore"))
            .and_then(|()| fs::rename(&aside, media_dir));
        if let Err(e) = back {
            tracing::warn!(aside = %aside.display(), error = %e, "the old media directory was not put back");
        }
    }
}

/// A file or directory being prepared beside its final place; removed unless kept.
struct Staged {
    path: PathBuf,
    kept: bool,
}

impl Staged {
    /// A temporary name beside `target` (whose parent is created).
    fn beside(target: &Path) -> Result<PathBuf, BackupError> {
        let parent = target.parent().unwrap_or(Path::new("."));
        files::create_dir(parent)?;
        let name = target.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        Ok(parent.join(format!(".{name}.restore-{}", std::process::id())))
    }

    fn file(target: &Path) -> Result<Staged, BackupError> {
        Ok(Staged { path: Staged::beside(target)?, kept: false })
    }

    fn dir(target: &Path) -> Result<Staged, BackupError> {
        let path = Staged::beside(target)?;
        if path.exists() {
            fs::remove_dir_all(&path).map_err(BackupError::io("replace", &path))?;
        }
        Ok(Staged { path, kept: false })
    }

    fn keep(mut self) {
        self.kept = true;
    }
}

impl Drop for Staged {
    fn drop(&mut self) {
        if self.kept {
            return;
        }
        let removed =
            if self.path.is_dir() { fs::remove_dir_all(&self.path) } else { fs::remove_file(&self.path) };
        if let Err(e) = removed
            && e.kind() != ErrorKind::NotFound
        {
            tracing::warn!(path = %self.path.display(), error = %e, "a staged restore file was not removed");
        }
    }
}
