//! Backups of real SQLite files in temporary directories.

use std::path::{Path, PathBuf};

use diesel::prelude::*;
use guildhall_core::config::DatabaseUrl;

use super::*;
use crate::status_parts::Attachment;
use crate::testing::rows;
use crate::{Db, actors, media, now, statuses};

const MEDIA_URL: &str = "http://localhost:8080/media/";

/// An instance's files: `dir/guildhall.db` and `dir/media`.
struct Instance {
    dir: PathBuf,
    url: DatabaseUrl,
    media: PathBuf,
}

impl Instance {
    async fn new(dir: &Path) -> Instance {
        let url = DatabaseUrl::Sqlite(dir.join("guildhall.db"));
        let (db, _) = Db::connect_and_migrate(&url).await.unwrap();
        db.close();
        let media = dir.join("media");
        std::fs::create_dir_all(&media).unwrap();
        Instance { dir: dir.to_path_buf(), url, media }
    }

    fn source(&self) -> Source<'_> {
        Source { database_url: &self.url, media_dir: &self.media, media_url: MEDIA_URL, version: "9.9.9" }
    }

    fn conn(&self) -> DbConnection {
        DbConnection::open(&self.url).unwrap()
    }

    fn file(&self, name: &str, bytes: &[u8]) {
        let path = self.media.join(name);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, bytes).unwrap();
    }

    fn restore(&self, backup: &Path, force: bool) -> Result<Restored, BackupError> {
        restore(backup, &self.url, &self.media, force)
    }
}

fn upload(id: i64, actor_id: i64, file: &str, preview: Option<&str>) -> Attachment {
    Attachment {
        id,
        status_id: None,
        actor_id,
        remote_url: None,
        file_path: Some(file.into()),
        media_type: Some("image/png".into()),
        description: None,
        blurhash: None,
        width: Some(1),
        height: Some(1),
        position: 0,
        created_at: now(),
        preview_path: preview.map(str::to_owned),
        preview_width: None,
        preview_height: None,
        file_size: Some(1),
        focus: None,
    }
}

/// Ada, with an avatar and a post with a picture; a remote actor whose avatar only looks local.
fn populate(conn: &mut DbConnection) -> actors::Actor {
    let mut ada = rows::local("ada");
    ada.avatar_url = Some(format!("{MEDIA_URL}avatar.png"));
    actors::insert_local(conn, &ada, "KEY").unwrap();
    let mut remote = rows::remote("bob", "elsewhere.example");
    remote.avatar_url = Some("https://elsewhere.example/media/bob.png".into());
    diesel::insert_into(crate::schema::actors::table).values(&remote).execute(conn).unwrap();
    let post = rows::status(&ada, "a vase");
    statuses::insert(conn, &post).unwrap();
    media::insert(conn, &upload(1, ada.id, "vase.png", Some("vase-small.png"))).unwrap();
    media::attach(conn, post.id, ada.id, &[1]).unwrap();
    ada
}

fn names(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

fn statuses_in(url: &DatabaseUrl) -> i64 {
    let mut conn = DbConnection::open(url).unwrap();
    crate::schema::statuses::table.count().get_result(&mut conn).unwrap()
}

#[tokio::test]
async fn a_backup_holds_the_database_and_every_named_file_and_comes_back() {
    let tmp = tempfile::tempdir().unwrap();
    let live = Instance::new(&tmp.path().join("live")).await;
    let ada = populate(&mut live.conn());
    for name in ["vase.png", "vase-small.png", "avatar.png", "newer.png", "old/kept.png"] {
        live.file(name, name.as_bytes());
    }
    live.file(".upload.png.part", b"half");
    media::insert(&mut live.conn(), &upload(2, ada.id, "lost.png", None)).unwrap();

    // A name SQLite would need quoted: it is bound, never spliced into the SQL.
    let path = tmp.path().join("backups").join("ada's 'monday' copy");
    std::fs::create_dir(tmp.path().join("backups")).unwrap();
    let created = create(&live.source(), &path).unwrap();
    assert_eq!(created.path, path);
    assert_eq!(names(&path), [MANIFEST_FILE, DATABASE_FILE, MEDIA_DIR]);
    assert_eq!(names(&tmp.path().join("backups")), ["ada's 'monday' copy"], "nothing else is left beside it");
    let manifest = Manifest::read(&path).unwrap();
    assert_eq!(manifest, created.manifest);
    assert_eq!((manifest.format.as_str(), manifest.format_version), (FORMAT, FORMAT_VERSION));
    assert_eq!(manifest.guildhall_version, "9.9.9");
    let files: Vec<&str> = manifest.media.files.keys().map(String::as_str).collect();
    assert_eq!(files, ["avatar.png", "newer.png", "old/kept.png", "vase-small.png", "vase.png"]);
    assert_eq!(manifest.media.files["vase.png"], 8);
    assert_eq!((manifest.media.count, manifest.media.bytes), (5, 8 + 14 + 10 + 9 + 12));
    assert_eq!(manifest.media.missing, ["lost.png"], "named, but lacking in the live directory too");
    assert_eq!(manifest.database.snapshots, 2, "a file missing twice is missing, not being removed");
    assert_eq!(manifest.database.rows["statuses"], 1);
    assert_eq!(manifest.database.rows["actors"], 2);
    assert_eq!(manifest.database.rows["media_attachments"], 2);
    let known = snapshot::known_migrations().unwrap();
    assert_eq!(manifest.database.newest_migration.as_ref(), known.last());
    assert_eq!(manifest.database.migrations, known.len());
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o700, "a backup holds keys and password hashes");
    }

    // Into a fresh place.
    let fresh = tmp.path().join("fresh");
    let url = DatabaseUrl::Sqlite(fresh.join("db").join("guildhall.db"));
    let restored = restore(&path, &url, &fresh.join("media"), false).unwrap();
    assert!(restored.moved_aside.is_empty());
    assert_eq!(statuses_in(&url), 1);
    assert_eq!(std::fs::read(fresh.join("media/old/kept.png")).unwrap(), b"old/kept.png");
    assert_eq!(names(&fresh.join("db")), ["guildhall.db"], "no staging file is left");
    assert_eq!(names(&fresh), ["db", "media"]);
}

#[tokio::test]
async fn restore_moves_what_was_there_aside_only_when_forced() {
    let tmp = tempfile::tempdir().unwrap();
    let live = Instance::new(&tmp.path().join("live")).await;
    populate(&mut live.conn());
    live.file("vase.png", b"vase");
    let backup = tmp.path().join("backup");
    create(&live.source(), &backup).unwrap();

    // Another instance, with a post of its own and a picture.
    let other = Instance::new(&tmp.path().join("other")).await;
    let mut conn = other.conn();
    let cy = rows::local("cy");
    actors::insert_local(&mut conn, &cy, "KEY").unwrap();
    statuses::insert(&mut conn, &rows::status(&cy, "one")).unwrap();
    statuses::insert(&mut conn, &rows::status(&cy, "two")).unwrap();
    other.file("cy.png", b"cy");

    let refused = other.restore(&backup, false).unwrap_err();
    assert!(matches!(refused, BackupError::TargetExists(_)), "{refused}");
    assert!(refused.to_string().contains("--force"), "{refused}");
    let in_use = other.restore(&backup, true).unwrap_err();
    assert!(matches!(in_use, BackupError::InUse(_)), "an open connection is a running server: {in_use}");
    drop(conn);
    assert_eq!(statuses_in(&other.url), 2, "refusals change nothing");

    let restored = other.restore(&backup, true).unwrap();
    assert_eq!(statuses_in(&other.url), 1);
    assert_eq!(names(&other.media), ["vase.png"]);
    let [db_aside, media_aside] = &restored.moved_aside[..] else { panic!("{:?}", restored.moved_aside) };
    let stamp = db_aside.file_name().unwrap().to_string_lossy().replace("guildhall.db.before-restore-", "");
    assert_eq!(*media_aside, other.dir.join(format!("media.before-restore-{stamp}")));
    assert_eq!(statuses_in(&DatabaseUrl::Sqlite(db_aside.clone())), 2, "the old database is kept whole");
    assert_eq!(names(media_aside), ["cy.png"]);

    // Again within the same second: another free name.
    let again = other.restore(&backup, true).unwrap();
    assert!(again.moved_aside.iter().all(|p| !restored.moved_aside.contains(p)), "{:?}", again.moved_aside);
    assert_eq!(statuses_in(&DatabaseUrl::Sqlite(db_aside.clone())), 2);
}

#[tokio::test]
async fn a_file_removed_after_the_snapshot_sends_for_another() {
    let tmp = tempfile::tempdir().unwrap();
    let live = Instance::new(&tmp.path().join("live")).await;
    let ada = populate(&mut live.conn());
    live.file("vase.png", b"vase");
    live.file("vase-small.png", b"small");
    live.file("avatar.png", b"avatar");
    let mut steps = Vec::new();
    let mut server = |step: Step, conn: &mut DbConnection| {
        steps.push(step);
        match step {
            // An upload lands after the media were first copied...
            Step::BeforeSnapshot(1) => {
                live.file("brief.png", b"brief");
                media::insert(conn, &upload(3, ada.id, "brief.png", None)).unwrap();
            }
            // ...and is deleted (row, then file) before they are copied again.
            Step::AfterSnapshot(1) => {
                let gone = media::delete(conn, ada.id, 3).unwrap();
                assert_eq!(gone.file_path.as_deref(), Some("brief.png"));
                std::fs::remove_file(live.media.join("brief.png")).unwrap();
            }
            _ => {}
        }
    };
    let created = create_with(&live.source(), &tmp.path().join("b"), &mut server).unwrap();
    assert_eq!(
        steps,
        [Step::BeforeSnapshot(1), Step::AfterSnapshot(1), Step::BeforeSnapshot(2), Step::AfterSnapshot(2)]
    );
    let manifest = created.manifest;
    assert_eq!(manifest.database.snapshots, 2);
    assert!(manifest.media.missing.is_empty(), "{:?}", manifest.media.missing);
    assert_eq!(manifest.database.rows["media_attachments"], 1, "the second snapshot no longer names it");
}

#[tokio::test]
async fn backup_refuses_postgres_and_taken_paths_leaving_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let live = Instance::new(&tmp.path().join("live")).await;
    let target = tmp.path().join("b");

    let pg = DatabaseUrl::Postgres("postgres://guildhall:s3cret@127.0.0.1/guildhall".into());
    let source = Source { database_url: &pg, ..live.source() };
    let refused = create(&source, &target).unwrap_err();
    let message = refused.to_string();
    assert!(message.contains("pg_dump -Fc") && message.contains("pg_restore"), "{message}");
    assert!(message.contains(&format!("media directory {}", live.media.display())), "{message}");
    assert!(!message.contains("s3cret"));
    assert!(refused.is_invalid_input());
    let refused = restore(&target, &pg, &live.media, true).unwrap_err();
    assert!(refused.to_string().contains("pg_restore"), "{refused}");

    std::fs::create_dir(&target).unwrap();
    std::fs::write(target.join("notes.txt"), b"mine").unwrap();
    let taken = create(&live.source(), &target).unwrap_err();
    assert!(matches!(taken, BackupError::DestinationTaken(_)), "{taken}");
    assert_eq!(std::fs::read(target.join("notes.txt")).unwrap(), b"mine");
    let file = create(&live.source(), &target.join("notes.txt")).unwrap_err();
    assert!(matches!(file, BackupError::DestinationTaken(_)), "{file}");

    let orphan = create(&live.source(), &tmp.path().join("no/such/dir")).unwrap_err();
    assert!(matches!(orphan, BackupError::NoParent(_)), "{orphan}");
    let inside = create(&live.source(), &live.media.join("b")).unwrap_err();
    assert!(matches!(inside, BackupError::InsideMedia { .. }), "{inside}");
    let nothing = DatabaseUrl::Sqlite(tmp.path().join("none.db"));
    let absent =
        create(&Source { database_url: &nothing, ..live.source() }, &tmp.path().join("c")).unwrap_err();
    assert!(matches!(absent, BackupError::NoDatabase(_)), "{absent}");
    assert!(!tmp.path().join("none.db").exists(), "a missing database is not created");
    assert_eq!(names(tmp.path()), ["b", "live"], "refusals leave nothing behind");
    assert_eq!(names(&live.media), Vec::<String>::new());

    // An empty directory (a mount point, say) is fine.
    let empty = tmp.path().join("empty");
    std::fs::create_dir(&empty).unwrap();
    create(&live.source(), &empty).unwrap();
    assert_eq!(names(&empty), [MANIFEST_FILE, DATABASE_FILE, MEDIA_DIR]);
}

#[tokio::test]
async fn restore_refuses_backups_it_cannot_trust() {
    let tmp = tempfile::tempdir().unwrap();
    let live = Instance::new(&tmp.path().join("live")).await;
    populate(&mut live.conn());
    live.file("vase.png", b"vase");
    let backup = tmp.path().join("backup");
    create(&live.source(), &backup).unwrap();
    let target = Instance {
        dir: tmp.path().join("t"),
        url: DatabaseUrl::Sqlite(tmp.path().join("t/g.db")),
        media: tmp.path().join("t/m"),
    };
    let copy = |name: &str| {
        let to = tmp.path().join(name);
        std::fs::create_dir(&to).unwrap();
        for entry in [DATABASE_FILE, MANIFEST_FILE] {
            std::fs::copy(backup.join(entry), to.join(entry)).unwrap();
        }
        files::copy_tree(&backup.join(MEDIA_DIR), &to.join(MEDIA_DIR)).unwrap();
        to
    };
    let damaged = |e: BackupError, what: &str| {
        assert!(matches!(e, BackupError::Damaged { .. }) && e.to_string().contains(what), "{e}");
    };

    let unfinished = copy("unfinished");
    std::fs::remove_file(unfinished.join(MANIFEST_FILE)).unwrap();
    let e = target.restore(&unfinished, false).unwrap_err();
    assert!(matches!(e, BackupError::NotABackup { .. }) && e.to_string().contains("no backup.json"), "{e}");

    let newer = copy("newer");
    let mut conn = SqliteConnection::establish(newer.join(DATABASE_FILE).to_str().unwrap()).unwrap();
    diesel::sql_query("INSERT INTO __diesel_schema_migrations (version) VALUES ('99991231000000')")
        .execute(&mut conn)
        .unwrap();
    drop(conn);
    let e = target.restore(&newer, false).unwrap_err();
    assert!(matches!(e, BackupError::TooNew { .. }), "{e}");
    assert!(e.to_string().contains("99991231000000") && e.to_string().contains("Guildhall 9.9.9"), "{e}");

    let lacking = copy("lacking");
    std::fs::remove_file(lacking.join("media/vase.png")).unwrap();
    damaged(target.restore(&lacking, false).unwrap_err(), "media file vase.png is missing");

    let corrupt = copy("corrupt");
    let db = corrupt.join(DATABASE_FILE);
    let mut bytes = std::fs::read(&db).unwrap();
    let page = 4096;
    for b in &mut bytes[page + 8..2 * page] {
        *b = 0x5a;
    }
    std::fs::write(&db, bytes).unwrap();
    damaged(target.restore(&corrupt, false).unwrap_err(), "fails the integrity check");

    let future = copy("future");
    let text = std::fs::read_to_string(future.join(MANIFEST_FILE)).unwrap();
    std::fs::write(
        future.join(MANIFEST_FILE),
        text.replace("\"format_version\": 1", "\"format_version\": 2"),
    )
    .unwrap();
    let e = target.restore(&future, false).unwrap_err();
    assert!(e.to_string().contains("backup format 2"), "{e}");

    assert!(!target.dir.join("g.db").exists() && !target.media.exists(), "nothing was put in place");
    let leftovers: Vec<String> = names(&target.dir);
    assert!(leftovers.is_empty(), "staging files are removed: {leftovers:?}");
    target.restore(&backup, false).unwrap();
}

#[cfg(unix)]
#[tokio::test]
async fn a_media_directory_linked_elsewhere_is_restored_there() {
    let tmp = tempfile::tempdir().unwrap();
    let live = Instance::new(&tmp.path().join("live")).await;
    live.file("vase.png", b"vase");
    let backup = tmp.path().join("backup");
    create(&live.source(), &backup).unwrap();

    let disk = tmp.path().join("disk");
    std::fs::create_dir_all(disk.join("media")).unwrap();
    std::fs::write(disk.join("media/old.png"), b"old").unwrap();
    let target = tmp.path().join("target");
    std::fs::create_dir(&target).unwrap();
    std::os::unix::fs::symlink(disk.join("media"), target.join("media")).unwrap();
    let url = DatabaseUrl::Sqlite(target.join("guildhall.db"));
    let restored = restore(&backup, &url, &target.join("media"), true).unwrap();
    assert!(
        std::fs::symlink_metadata(target.join("media")).unwrap().file_type().is_symlink(),
        "the link stays"
    );
    assert_eq!(names(&disk.join("media")), ["vase.png"]);
    let [aside] = &restored.moved_aside[..] else { panic!("{:?}", restored.moved_aside) };
    assert_eq!(aside.parent(), Some(std::fs::canonicalize(&disk).unwrap().as_path()));
    assert_eq!(names(aside), ["old.png"]);
}
