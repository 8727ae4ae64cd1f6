//! The copy between the backends: an SQLite database seeded through the storage functions
//! (awkward values included) goes to PostgreSQL and from there to a new SQLite file, and every
//! table holds the same rows in all three; and the copy refuses what it must, copying nothing.

use std::collections::BTreeMap;
use std::path::Path;

use chrono::NaiveDate;
use diesel::connection::SimpleConnection;
use guildhall_core::config::DatabaseUrl;
use guildhall_core::model::{
    ActorKind, BlockSeverity, FollowState, GroupVisibility, Membership, PostingPolicy, Role,
};
use serde_json::Value;

use super::catalog::{self, Table};
use super::rows;
use super::{Side, TableCount, TransferError, postgres_to_sqlite, sqlite_to_postgres};
use crate::accounts::{LocalAccount, NewLocalUser};
use crate::notification_policy::{Decision, Policy};
use crate::notifications::NotificationKind;
use crate::statuses::Status;
use crate::testing::{self, rows as test_rows};
use crate::{DbConnection, Timestamp};
use crate::{
    account_notes, accounts, actors, blocks, bookmarks, conversation_mutes, domain_blocks, edits, events,
    favourites, feeds, filters, followed_tags, follows, groups, hours, instance_blocks, instance_settings,
    instances, jobs, lists, mail, markers, media, mutes, notification_policy, notifications, oauth, outbox,
    pins, polls, received, reports, scheduled, status_parts, statuses, web_sessions,
};

fn at(day: u32, hour: u32, micro: u32) -> Timestamp {
    NaiveDate::from_ymd_opt(2026, 5, day).unwrap().and_hms_micro_opt(hour, 30, 0, micro).unwrap()
}

const AWKWARD: &str =
    "Zoë's \"quotes\" and 'apostrophes' — 博物馆 🏛️🎨 tab\there\nnew line \\ backslash %_ \u{200d}";

fn user(c: &mut DbConnection, name: &str, role: Role) -> LocalAccount {
    let mut actor = test_rows::local(name);
    actor.display_name = format!("{name} \"the\" {AWKWARD}");
    let new = NewLocalUser {
        actor,
        email: format!("{name}@museum.example"),
        password_hash: "$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA".into(),
        role,
        private_key_pem: "-----BEGIN PRIVATE KEY-----\nKEY\n-----END PRIVATE KEY-----\n".into(),
    };
    accounts::create(c, new).unwrap()
}

/// Statuses whose values are awkward: unicode, quotes, microseconds (some with trailing
/// zeros, some none), booleans both ways, NULLs; returns them.
fn statuses(
    c: &mut DbConnection,
    ada: &actors::Actor,
    bob: &actors::Actor,
    eve: &actors::Actor,
) -> Vec<Status> {
    let mut awkward = test_rows::status(ada, AWKWARD);
    awkward.published_at = at(1, 9, 123_456);
    awkward.created_at = at(1, 9, 120_000);
    awkward.edited_at = Some(at(2, 10, 1));
    awkward.sensitive = true;
    awkward.spoiler_text = "CW: 'it''s' \"here\" 🙈".into();
    awkward.title = Some(String::new());
    let mut plain = test_rows::status(bob, "plain");
    plain.created_at = at(3, 11, 0);
    plain.language = None;
    plain.source = None;
    let mut reply = test_rows::status(eve, "a reply from afar");
    reply.local = false;
    reply.in_reply_to_id = Some(awkward.id);
    reply.in_reply_to_ap_id = Some(awkward.ap_id.clone());
    reply.in_reply_to_actor_id = Some(ada.id);
    let all = vec![awkward, plain, reply];
    for s in &all {
        statuses::insert(c, s).unwrap();
    }
    all
}

/// Rows in most tables, through the storage functions; returns the statuses written.
fn seed(c: &mut DbConnection) -> Vec<Status> {
    let ada = user(c, "ada", Role::Admin);
    let bob = user(c, "bob", Role::User);
    instances::get_or_create(c, "r.example").unwrap();
    let mut eve = test_rows::remote("eve", "r.example");
    eve.summary = AWKWARD.into();
    eve.bot = true;
    let eve = actors::upsert_remote(c, &eve).unwrap();
    let mut guild = test_rows::local("guild");
    guild.kind = ActorKind::Group.as_str().into();
    let new_group = groups::NewLocalGroup {
        actor: guild,
        owner_id: ada.actor.id,
        membership: Membership::Approval,
        posting: PostingPolicy::Members,
        visibility: GroupVisibility::Public,
        private_key_pem: "GROUP KEY".into(),
    };
    let (guild, _) = groups::create(c, new_group).unwrap();
    groups::add_moderator(c, guild.id, bob.actor.id).unwrap();
    groups::ban(c, guild.id, eve.id, "spam 'n' \"such\"").unwrap();
    let written = statuses(c, &ada.actor, &bob.actor, &eve);
    let (awkward, plain, reply) = (&written[0], &written[1], &written[2]);
    status_parts::replace_mentions(c, awkward.id, &[bob.actor.id]).unwrap();
    status_parts::replace_tags(c, awkward.id, &["museums".into(), "événements".into()]).unwrap();
    edits::record(c, awkward).unwrap();
    follows::upsert(c, bob.actor.id, ada.actor.id, FollowState::Accepted, None).unwrap();
    follows::upsert(c, eve.id, ada.actor.id, FollowState::Pending, Some("https://r.example/f/1")).unwrap();
    feeds::fan_out(c, awkward.id, feeds::Reach::All).unwrap();
    favourites::add(c, bob.actor.id, awkward.id, None).unwrap();
    bookmarks::add(c, bob.actor.id, awkward.id).unwrap();
    bookmarks::remember_idempotent(c, bob.user.id, "key 'one' \"1\"", plain.id).unwrap();
    pins::pin(c, ada.actor.id, awkward.id).unwrap();
    blocks::add(c, ada.actor.id, eve.id, None).unwrap();
    mutes::add(c, bob.actor.id, eve.id, true, Some(at(9, 8, 654_321))).unwrap();
    mutes::add(c, ada.actor.id, bob.actor.id, false, None).unwrap();
    let list = lists::create(c, ada.actor.id, "Curators 🖼️ 'n' \"co\"", "list", true).unwrap();
    lists::add_members(c, list.id, &[bob.actor.id]).unwrap();
    followed_tags::follow(c, bob.actor.id, "archives").unwrap();
    let words = [("plot".to_owned(), true), ("fin 'al'".to_owned(), false)];
    let filter =
        filters::create(c, ada.actor.id, "spoilers", &["home".into()], "warn", None, &words).unwrap();
    filters::add_status(c, filter.filter.id, reply.id).unwrap();
    account_notes::set(c, ada.actor.id, bob.actor.id, "met at \"MCN\" '24 🎉").unwrap();
    conversation_mutes::mute(c, bob.actor.id, awkward).unwrap();
    domain_blocks::add(c, bob.actor.id, "spam.example").unwrap();
    markers::set(c, ada.user.id, "home", awkward.id).unwrap();
    notifications::notify(c, ada.actor.id, NotificationKind::Favourite, bob.actor.id, Some(awkward.id))
        .unwrap();
    let policy = Policy {
        for_not_following: Decision::Accept,
        for_not_followers: Decision::Filter,
        for_new_accounts: Decision::Drop,
        for_private_mentions: Decision::Filter,
        for_limited_accounts: Decision::Accept,
    };
    notification_policy::set(c, ada.actor.id, &policy).unwrap();
    seed_apps(c, &ada, &bob, plain);
    seed_work(c, &ada, &bob, &eve, awkward);
    seed_groups_and_events(c, &ada, &bob, &guild, plain);
    written
}

/// Rows of the tables around group moderation, events, discussion hours and scheduling.
fn seed_groups_and_events(
    c: &mut DbConnection,
    ada: &LocalAccount,
    bob: &LocalAccount,
    guild: &actors::Actor,
    plain: &Status,
) {
    groups::invite(c, guild.id, bob.actor.id, ada.actor.id).unwrap();
    groups::log(c, guild.id, ada.actor.id, "ban", Some(bob.actor.id), None, "it's \"fine\"").unwrap();
    instance_blocks::log(c, ada.actor.id, "block", "bad.example", "détail 'x'").unwrap();
    notifications::notify(c, bob.actor.id, NotificationKind::Mention, ada.actor.id, None).unwrap();
    notification_policy::accept(c, bob.actor.id, ada.actor.id).unwrap();
    let later = crate::now() + chrono::Duration::days(3);
    scheduled::create(c, ada.actor.id, later, "{\"status\": \"soon 🕰️\"}".into(), &[]).unwrap().unwrap();
    let event = events::Event {
        status_id: plain.id,
        name: "Opening \"night\" 🎭".into(),
        starts_at: later,
        ends_at: None,
        timezone: Some("Europe/London".into()),
        place_name: Some("The 'Great' Hall".into()),
        street: None,
        locality: Some("Zürich".into()),
        postal_code: None,
        country: None,
        online_url: None,
        capacity: Some(40),
        join_mode: "free".into(),
        external_url: None,
        event_status: "scheduled".into(),
        category: None,
        remote_participants: None,
        remote_remaining: None,
        updated_at: at(8, 3, 777_000),
    };
    events::upsert(c, &event).unwrap();
    let ask = events::JoinRequest { message: Some("see you 👋".into()), ap_id: None, listed: true };
    events::join_local(c, &event, bob.actor.id, ask).unwrap().unwrap();
    let hour = hours::NewHour {
        group_id: guild.id,
        title: "Tuesday 'talk'".into(),
        hashtag: "talk".into(),
        rrule: "FREQ=WEEKLY;BYDAY=TU".into(),
        dtstart: later,
        timezone: "Europe/London".into(),
        duration_minutes: 60,
        intro: "Welcome — «bienvenue»".into(),
        prompts: vec![hours::Prompt { offset_seconds: 600, text: "What's new?".into() }],
        host_id: Some(ada.actor.id),
        created_by: None,
    };
    hours::create(c, hour, later).unwrap();
}

/// Rows of the tables around apps, media and polls.
fn seed_apps(c: &mut DbConnection, ada: &LocalAccount, bob: &LocalAccount, plain: &Status) {
    let app = oauth::App {
        id: guildhall_core::Id::generate().0,
        name: "Mastodon for \"iOS\" 📱".into(),
        website: None,
        redirect_uris: "urn:ietf:wg:oauth:2.0:oob\nhttps://app.example/cb".into(),
        scopes: "read write".into(),
        client_id: "client-id".into(),
        client_secret: "secret".into(),
        created_at: at(4, 7, 999_999),
    };
    oauth::create_app(c, &app).unwrap();
    oauth::create_token(c, "token-hash", app.id, Some(ada.user.id), "read write").unwrap();
    oauth::create_token(c, "app-token-hash", app.id, None, "read").unwrap();
    let code = oauth::Code {
        code_hash: "code-hash".into(),
        app_id: app.id,
        user_id: bob.user.id,
        redirect_uri: "https://app.example/cb".into(),
        scopes: "read".into(),
        code_challenge: Some("challenge".into()),
        code_challenge_method: Some("S256".into()),
        expires_at: at(5, 6, 5),
        used_at: None,
    };
    oauth::create_code(c, &code).unwrap();
    media::insert(c, &attachment(ada.actor.id)).unwrap();
    let poll = polls::NewPoll {
        options: vec!["yes 👍".into(), "no 'really'".into()],
        multiple: false,
        expires_at: Some(crate::now() + chrono::Duration::days(30)),
        counts: None,
        closed_at: None,
    };
    polls::upsert(c, plain.id, &poll).unwrap();
    polls::vote(c, plain.id, ada.actor.id, &[(0, None)]).unwrap().unwrap();
}

/// Rows of the tables around queues, reports, sessions and the instance.
fn seed_work(
    c: &mut DbConnection,
    ada: &LocalAccount,
    bob: &LocalAccount,
    eve: &actors::Actor,
    awkward: &Status,
) {
    let job = jobs::NewJob {
        queue: "mail".into(),
        payload: format!("{{\"text\": {}}}", Value::String(AWKWARD.into())),
        partition_key: None,
        run_at: at(6, 5, 42),
        max_attempts: 3,
    };
    jobs::enqueue(c, job).unwrap();
    received::record(c, "https://r.example/activities/1").unwrap();
    let activity = outbox::NewActivity {
        ap_id: format!("{}#like", awkward.ap_id),
        actor_id: bob.actor.id,
        kind: "Like".into(),
        json: "{\"type\": \"Like\"}".into(),
    };
    outbox::publish(c, activity, std::slice::from_ref(&eve.inbox_url)).unwrap();
    reports::add(c, None, bob.actor.id, eve.id, &[awkward.id], "rude 😠 \"really\"").unwrap();
    let session = web_sessions::NewSession {
        token_hash: "th",
        user_id: ada.user.id,
        user_agent: "Firefox",
        ip: "::1",
        remember: true,
    };
    web_sessions::create(c, &session).unwrap();
    let block = instance_blocks::NewBlock {
        domain: "bad.example".into(),
        severity: BlockSeverity::Silence,
        reject_media: true,
        public_comment: "rude".into(),
        private_comment: String::new(),
    };
    instance_blocks::upsert(c, &block).unwrap();
    instance_blocks::allow(c, "friends.example").unwrap();
    let settings = instance_settings::InstanceSettings {
        title: "Guildhall 'Test' 🏛️".into(),
        ..Default::default()
    };
    instance_settings::save(c, &settings).unwrap();
    mail::secret(c).unwrap();
}

fn attachment(actor_id: i64) -> status_parts::Attachment {
    status_parts::Attachment {
        id: guildhall_core::Id::generate().0,
        status_id: None,
        actor_id,
        remote_url: None,
        file_path: Some("ab/cd.png".into()),
        media_type: Some("image/png".into()),
        description: Some("a \"vase\" 🏺".into()),
        blurhash: None,
        width: Some(640),
        height: Some(480),
        position: 0,
        created_at: at(7, 4, 314_159),
        preview_path: None,
        preview_width: None,
        preview_height: None,
        file_size: Some(i64::from(i32::MAX) + 1),
        focus: Some("0.5,-0.25".into()),
    }
}

/// Every table's rows, sorted; each row as JSON, made uniform (`canonical`) or as stored.
fn dump(conn: &mut DbConnection, canonical: bool) -> BTreeMap<String, Vec<String>> {
    let tables: Vec<Table> = catalog::tables(&mut Side::of(conn)).unwrap();
    let mut all = BTreeMap::new();
    for table in &tables {
        let mut found = Vec::new();
        rows::each_row(&mut Side::of(conn), table, |raw| {
            found.push(match canonical {
                true => Value::Object(rows::canonical_row(table, &raw)?).to_string(),
                false => raw,
            });
            Ok(())
        })
        .unwrap();
        found.sort();
        all.insert(table.name.clone(), found);
    }
    all
}

/// Fails unless both dumps have the same tables with the same rows (one table per message).
fn assert_same(left: &BTreeMap<String, Vec<String>>, right: &BTreeMap<String, Vec<String>>, what: &str) {
    assert_eq!(left.keys().collect::<Vec<_>>(), right.keys().collect::<Vec<_>>(), "{what}: the tables");
    for (table, rows) in left {
        assert_eq!(rows, &right[table], "{what}: the rows of {table}");
    }
}

fn sqlite(path: &Path) -> DatabaseUrl {
    DatabaseUrl::Sqlite(path.to_path_buf())
}

fn open(url: &DatabaseUrl) -> DbConnection {
    DbConnection::open(url).unwrap()
}

/// A fresh PostgreSQL schema, or `None` (and the notice) when there is no test server.
fn postgres() -> Option<DatabaseUrl> {
    let url = testing::postgres_url();
    if url.is_none() {
        testing::cannot_run("GUILDHALL_TEST_POSTGRES_URL not set: the copy between the backends");
    }
    url
}

/// A migrated SQLite database at `path`, seeded; returns the statuses written.
fn seeded(path: &Path) -> Vec<Status> {
    let mut conn = open(&sqlite(path));
    conn.migrate().unwrap();
    seed(&mut conn)
}

#[test]
fn transfer_copies_every_table_to_postgres_and_back_unchanged() {
    let Some(pg) = postgres() else { return };
    let dir = tempfile::tempdir().unwrap();
    let (first, back) = (dir.path().join("first.db"), dir.path().join("back.db"));
    let written = seeded(&first);

    let to_pg = sqlite_to_postgres(&sqlite(&first), &pg).unwrap();
    let to_sqlite = postgres_to_sqlite(&pg, &back).unwrap();

    let (mut a, mut p, mut b) = (open(&sqlite(&first)), open(&pg), open(&sqlite(&back)));
    let original = dump(&mut a, true);
    let names: Vec<&String> = original.keys().collect();
    assert_eq!(to_pg.iter().map(|t| &t.table).collect::<Vec<_>>(), names, "every table, sorted");
    assert_eq!(to_pg, to_sqlite, "the same counts both ways");
    for TableCount { table, source_rows, target_rows } in &to_pg {
        assert_eq!(*source_rows, original[table].len() as i64, "{table}");
        assert_eq!(source_rows, target_rows, "{table}");
    }
    let empty: Vec<&String> = original.iter().filter(|(_, r)| r.is_empty()).map(|(t, _)| t).collect();
    let filled = names.len() - empty.len();
    eprintln!("{filled} of {} tables seeded; empty: {empty:?}", names.len());
    assert!(filled >= 50, "the seed reaches most tables ({filled})");
    assert!(!empty.is_empty(), "an empty table is listed too");
    assert!(!names.contains(&&"__diesel_schema_migrations".to_owned()));

    assert_same(&original, &dump(&mut p, true), "SQLite, then PostgreSQL");
    assert_same(&original, &dump(&mut b, true), "SQLite, then SQLite again after PostgreSQL");
    assert_same(&dump(&mut a, false), &dump(&mut b, false), "SQLite stored byte for byte as before");
    for status in &written {
        assert_eq!(&statuses::get(&mut p, status.id).unwrap(), status, "read back typed on PostgreSQL");
        assert_eq!(&statuses::get(&mut b, status.id).unwrap(), status, "read back typed on SQLite");
    }
}

#[test]
fn transfer_refuses_a_target_with_rows_a_running_server_and_the_wrong_backends() {
    let Some(pg) = postgres() else { return };
    let dir = tempfile::tempdir().unwrap();
    let (first, back) = (dir.path().join("first.db"), dir.path().join("back.db"));
    seeded(&first);
    sqlite_to_postgres(&sqlite(&first), &pg).unwrap();

    let again = sqlite_to_postgres(&sqlite(&first), &pg).unwrap_err();
    assert!(matches!(&again, TransferError::TargetNotEmpty(t) if t == "account_notes"), "{again}");
    assert!(again.to_string().contains("table account_notes"), "{again}");
    std::fs::write(&back, b"").unwrap();
    let taken = postgres_to_sqlite(&pg, &back).unwrap_err();
    assert!(matches!(taken, TransferError::TargetExists(_)), "{taken}");
    assert_eq!(std::fs::read(&back).unwrap(), b"", "left alone");
    let wrong = sqlite_to_postgres(&pg, &pg).unwrap_err();
    assert!(matches!(wrong, TransferError::WrongSource { .. }), "{wrong}");
    let wrong = sqlite_to_postgres(&sqlite(&first), &sqlite(&back)).unwrap_err();
    assert!(matches!(wrong, TransferError::WrongTarget { .. }), "{wrong}");
    let wrong = postgres_to_sqlite(&sqlite(&first), &dir.path().join("new.db")).unwrap_err();
    assert!(matches!(wrong, TransferError::WrongSource { .. }), "{wrong}");
    let missing = sqlite_to_postgres(&sqlite(&dir.path().join("none.db")), &pg).unwrap_err();
    assert!(matches!(missing, TransferError::NoSource(_)), "{missing}");
    assert!(!dir.path().join("none.db").exists(), "no file made");

    let fresh = postgres().unwrap();
    let server = open(&sqlite(&first));
    let busy = sqlite_to_postgres(&sqlite(&first), &fresh).unwrap_err();
    assert!(matches!(busy, TransferError::InUse(_)), "{busy}");
    assert!(busy.is_invalid_input());
    drop(server);
}

/// Fails unless no table of the database at `url` has a row.
fn assert_empty(url: &DatabaseUrl) {
    let mut conn = open(url);
    for table in catalog::tables(&mut Side::of(&mut conn)).unwrap() {
        assert!(!rows::any(&mut Side::of(&mut conn), &table).unwrap(), "{} has rows", table.name);
    }
}

#[test]
fn transfer_copies_nothing_when_a_check_fails() {
    let Some(pg) = postgres() else { return };
    let dir = tempfile::tempdir().unwrap();
    let first = dir.path().join("first.db");
    seeded(&first);
    let copy_of_first = |name: &str, sql: &str| {
        let path = dir.path().join(name);
        std::fs::copy(&first, &path).unwrap();
        open(&sqlite(&path)).batch_execute(sql).unwrap();
        sqlite(&path)
    };

    // A dangling reference (written with foreign keys off) is found after every row is in.
    let dangling =
        copy_of_first("dangling.db", "PRAGMA foreign_keys = OFF; UPDATE favourites SET status_id = 42;");
    let failed = sqlite_to_postgres(&dangling, &pg).unwrap_err();
    assert!(matches!(&failed, TransferError::ForeignKey { table, .. } if table == "favourites"), "{failed}");
    assert_empty(&pg);
    let failed = postgres_to_sqlite(&dangling, &dir.path().join("x.db")).unwrap_err();
    assert!(matches!(failed, TransferError::WrongSource { .. }));

    // A column PostgreSQL lacks, a table it lacks, a migration it has not run.
    let extra = copy_of_first("column.db", "ALTER TABLE statuses ADD COLUMN mood TEXT;");
    let failed = sqlite_to_postgres(&extra, &pg).unwrap_err();
    assert!(matches!(&failed, TransferError::Schema { table, .. } if table == "statuses"), "{failed}");
    assert!(failed.to_string().contains("column mood is only in the source"), "{failed}");
    let extra = copy_of_first("table.db", "CREATE TABLE zz_notes (id BIGINT PRIMARY KEY NOT NULL);");
    let failed = sqlite_to_postgres(&extra, &pg).unwrap_err();
    assert!(matches!(&failed, TransferError::Schema { table, .. } if table == "zz_notes"), "{failed}");
    let behind = copy_of_first(
        "behind.db",
        "DELETE FROM __diesel_schema_migrations WHERE version = (SELECT MAX(version) FROM __diesel_schema_migrations);",
    );
    let failed = sqlite_to_postgres(&behind, &pg).unwrap_err();
    assert!(failed.to_string().contains("run `guildhall migrate`"), "{failed}");
    assert_empty(&pg);

    // The way back removes the file it made when the copy fails.
    let mut target = open(&pg);
    target.batch_execute("ALTER TABLE statuses ADD COLUMN mood TEXT;").unwrap();
    let path = dir.path().join("back.db");
    let failed = postgres_to_sqlite(&pg, &path).unwrap_err();
    assert!(matches!(&failed, TransferError::Schema { table, .. } if table == "statuses"), "{failed}");
    assert!(!path.exists() && !dir.path().join("back.db-wal").exists(), "the new file is gone");
}
