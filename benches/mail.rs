//! Mail: how fast the queue hands mail to a local SMTP server, and how long the daily digests
//! of one group with 5,000 readers take to build.
//!
//! 1. Digest build: a public group with `READERS` members, each with a daily digest, and a
//!    day of activity (`THREADS` new threads, `REPLIES` replies spread over them). Times
//!    `letters::digest` for every reader (what the worker does per reader: read, check what
//!    the reader may see, render text and HTML, compose the message), in one process.
//! 2. The whole digest run through the queue: the digest jobs fall due, are composed into
//!    `mail_send` jobs and written as `.eml` files (no SMTP configured).
//! 3. SMTP: `SENT` composed messages queued as `mail_send` jobs, sent by the worker to
//!    Python's aiosmtpd on loopback (`tests/e2e/smtp_sink.py`, which writes each message to
//!    a file before answering 250).
//!
//! Run: `cargo bench --bench mail` (needs `python3` with `aiosmtpd`; SQLite in a temporary
//! directory, or `GUILDHALL_BENCH_DATABASE_URL=postgres://…`).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::{BufRead, BufReader};
use std::net::TcpListener;
use std::process::{Command, Stdio};
use std::time::Instant;

use guildhall::Instance;
use guildhall_api::HttpOptions;
use guildhall_core::mail::GroupMailMode;
use guildhall_core::model::{ActorKind, FollowState, GroupVisibility, Membership, PostingPolicy, Role};
use guildhall_core::{Config, Id};
use guildhall_federation::local_actors::{NewGroup, NewUser, create_group, create_user};
use guildhall_storage::accounts::{self, NewLocalUser};
use guildhall_storage::actors::{Actor, ActorUrls};
use guildhall_storage::mail::{self as store, Delivery, Outgoing};
use guildhall_storage::{follows, now, statuses};

const READERS: usize = 5_000;
const THREADS: usize = 40;
const REPLIES: usize = 160;
const SENT: usize = 2_000;

async fn start(extra: &[(&str, String)]) -> (Instance, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let mut env = vec![
        ("GUILDHALL_DOMAIN".to_string(), format!("localhost:{port}")),
        ("GUILDHALL_DATA_DIR".to_string(), dir.path().display().to_string()),
    ];
    if let Ok(url) = std::env::var("GUILDHALL_BENCH_DATABASE_URL") {
        env.push(("GUILDHALL_DATABASE_URL".to_string(), url));
    }
    env.extend(extra.iter().map(|(k, v)| (k.to_string(), v.clone())));
    let config = Config::load(None, env).unwrap();
    let options = HttpOptions { run_delivery: false, ..HttpOptions::default() };
    (Instance::start_on(config, listener, options).await.unwrap(), dir)
}

fn person(base: &str, i: usize) -> Actor {
    let name = format!("reader{i}");
    let ap_id = format!("{base}/users/{name}");
    let urls = ActorUrls {
        inbox: format!("{ap_id}/inbox"),
        shared_inbox: Some(format!("{base}/inbox")),
        outbox: None,
        followers: Some(format!("{ap_id}/followers")),
        following: None,
        profile: Some(format!("{base}/@{name}")),
        ap_id,
    };
    Actor::new_local(ActorKind::Person, &name, urls, "PUB".into())
}

fn note(author: &Actor, group: i64, parent: Option<i64>, text: &str) -> statuses::Status {
    let (id, stamp) = (Id::generate().0, now());
    statuses::Status {
        id,
        ap_id: format!("{}/statuses/{id}", author.ap_id),
        url: None,
        actor_id: author.id,
        local: true,
        kind: "Note".into(),
        in_reply_to_id: parent,
        in_reply_to_ap_id: None,
        in_reply_to_actor_id: None,
        reblog_of_id: None,
        group_id: Some(group),
        visibility: "public".into(),
        title: None,
        content: format!("<p>{text}</p>"),
        source: None,
        spoiler_text: String::new(),
        sensitive: false,
        language: None,
        published_at: stamp,
        edited_at: None,
        deleted_at: None,
        created_at: stamp,
        updated_at: stamp,
    }
}

/// A group with `READERS` members reading a daily digest at 07:00 UTC, and a day's posts.
async fn seed(instance: &Instance) -> i64 {
    let urls = guildhall_federation::Urls::new(instance.config());
    let new = NewUser {
        username: "host",
        email: "host@museum.example",
        password: "correct horse",
        role: Role::User,
    };
    create_user(instance.db(), &urls, new).await.unwrap();
    let new = NewGroup {
        name: "mcg",
        owner: "host",
        display_name: Some("Museum Computer Group"),
        membership: Membership::Open,
        posting: PostingPolicy::Members,
        visibility: GroupVisibility::Public,
    };
    let group = create_group(instance.db(), &urls, new).await.unwrap().0.id;
    let base = urls.base().to_owned();
    instance
        .db()
        .run(move |c| {
            guildhall_storage::transaction(c, |c| {
                let mut readers = Vec::with_capacity(READERS);
                for i in 0..READERS {
                    let actor = person(&base, i);
                    let new = NewLocalUser {
                        actor: actor.clone(),
                        email: format!("reader{i}@museum.example"),
                        password_hash: "not-a-hash".into(),
                        role: Role::User,
                        private_key_pem: "KEY".into(),
                    };
                    accounts::create(c, new)?;
                    follows::upsert(c, actor.id, group, FollowState::Accepted, None)?;
                    let delivery = Delivery { mode: GroupMailMode::Daily, timezone: "UTC".into(), hour: 7 };
                    store::set_member(c, group, actor.id, Some(delivery))?;
                    readers.push(actor);
                }
                let mut roots = Vec::new();
                for n in 0..THREADS {
                    let text = format!("Thread {n}: how do you catalogue born-digital objects?");
                    let s = note(&readers[n % READERS], group, None, &text);
                    statuses::insert(c, &s)?;
                    roots.push(s.id);
                }
                for n in 0..REPLIES {
                    let s = note(
                        &readers[(n * 7) % READERS],
                        group,
                        Some(roots[n % THREADS]),
                        "We use Spectrum.",
                    );
                    statuses::insert(c, &s)?;
                }
                Ok(())
            })
        })
        .await
        .unwrap();
    group
}

#[tokio::main]
async fn main() {
    // 1 and 2: digests of one group, written as files.
    let (instance, _dir) = start(&[]).await;
    let t = Instant::now();
    let group = seed(&instance).await;
    println!(
        "seeded {READERS} readers and {} posts in {:.1} s",
        THREADS + REPLIES,
        t.elapsed().as_secs_f64()
    );
    let subs = instance
        .db()
        .run(move |c| {
            use diesel::prelude::*;
            use guildhall_storage::schema::group_mail_subscriptions as s;
            Ok(s::table.filter(s::group_id.eq(group)).select(store::Subscription::as_select()).load(c)?)
        })
        .await
        .unwrap();
    let context = instance.mail().context().clone();
    let from = now() - chrono::Duration::hours(1);
    let to = now() + chrono::Duration::seconds(1);
    let t = Instant::now();
    let (built, bytes) = instance
        .db()
        .run(move |c| {
            let mut built = 0;
            let mut bytes = 0;
            for sub in &subs {
                if let Some(mail) = guildhall_mail::letters::digest(c, &context, sub, from, to)? {
                    built += 1;
                    bytes += mail.message.len();
                }
            }
            Ok((built, bytes))
        })
        .await
        .unwrap();
    let build = t.elapsed().as_secs_f64();
    println!(
        "digest build: {built} digests ({} KiB each) in {build:.2} s = {:.0} digests/s",
        bytes / built.max(1) / 1024,
        built as f64 / build
    );

    let due = guildhall_core::mail::next_digest(GroupMailMode::Daily, "UTC", 7, now()).unwrap();
    let t = Instant::now();
    let ran = instance.mail().flush_as_of(due).await.unwrap();
    let whole = t.elapsed().as_secs_f64();
    let files = std::fs::read_dir(instance.config().data_dir.join("mail")).unwrap().count();
    println!(
        "digest run through the queue: {ran} jobs, {files} .eml files in {whole:.2} s = {:.0} mails/s",
        files as f64 / whole
    );
    let sample = std::fs::read_dir(instance.config().data_dir.join("mail")).unwrap().next().unwrap().unwrap();
    let message = std::fs::read_to_string(sample.path()).unwrap();
    instance.stop().await.unwrap();

    // 3: composed mail through SMTP to aiosmtpd.
    let sink_dir = tempfile::tempdir().unwrap();
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/e2e/smtp_sink.py");
    let mut sink = Command::new("python3")
        .arg(script)
        .arg(sink_dir.path())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("python3 with aiosmtpd");
    let mut line = String::new();
    BufReader::new(sink.stdout.take().unwrap()).read_line(&mut line).unwrap();
    let port: u16 = line.trim().strip_prefix("ready ").unwrap().parse().unwrap();
    let (instance, _dir2) = start(&[("GUILDHALL_SMTP_URL", format!("smtp://127.0.0.1:{port}"))]).await;
    let mails: Vec<Outgoing> = (0..SENT)
        .map(|i| Outgoing { to: format!("reader{i}@museum.example"), message: message.clone() })
        .collect();
    instance.db().run(move |c| store::enqueue_send(c, mails)).await.unwrap();
    let t = Instant::now();
    instance.mail().flush().await.unwrap();
    let took = t.elapsed().as_secs_f64();
    let received = std::fs::read_dir(sink_dir.path())
        .unwrap()
        .filter(|e| e.as_ref().is_ok_and(|e| e.path().extension().is_some_and(|x| x == "eml")))
        .count();
    println!(
        "SMTP: {received} of {SENT} messages ({} KiB) to aiosmtpd in {took:.2} s = {:.0} mails/s",
        message.len() / 1024,
        received as f64 / took
    );
    instance.stop().await.unwrap();
    drop(sink.stdin.take());
    let _ = sink.wait();
}
