//! Timelines as the server grows: `GET /api/v1/timelines/home` with 16 concurrent clients on
//! SQLite seeded directly with 10,000, 100,000 and 1,000,000 statuses, and each timeline query
//! alone (storage, one caller). Prints a table. Run: `cargo bench --bench timeline`
//! (`GUILDHALL_BENCH_SIZES=10000,100000` picks the sizes, `GUILDHALL_BENCH_REQUESTS` sets
//! requests per client, default 100; `GUILDHALL_BENCH_KEEP=1` keeps each database to study).
//!
//! The server grows the way a network does: more authors (one per 200 statuses, at least
//! 200), while the reader follows the same 50 of them, keeps a list of 10 and reads a hashtag
//! that one status in ten carries.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::net::TcpListener;
use std::time::{Duration, Instant};

use guildhall::Instance;
use guildhall_api::HttpOptions;
use guildhall_core::model::{ActorKind, FollowState, Role, Visibility};
use guildhall_core::{Config, Id};
use guildhall_federation::local_actors::{NewUser, create_user};
use guildhall_storage::actors::{Actor, ActorUrls};
use guildhall_storage::statuses::Status;
use guildhall_storage::timelines::{self, Page, Scope};
use guildhall_storage::{actors, follows, lists, now, oauth, status_parts, statuses};

const FOLLOWED: usize = 50;
const CLIENTS: usize = 16;
const SEED_BATCH: usize = 20_000;

fn remote(i: usize) -> Actor {
    let domain = format!("r{}.example", i % 20);
    let ap_id = format!("https://{domain}/users/u{i}");
    let urls = ActorUrls {
        inbox: format!("{ap_id}/inbox"),
        shared_inbox: None,
        outbox: None,
        followers: Some(format!("{ap_id}/followers")),
        following: None,
        profile: None,
        ap_id,
    };
    let mut a = Actor::new_local(ActorKind::Person, &format!("u{i}"), urls, "PUB".into());
    a.domain = Some(domain);
    a
}

fn status(author: &Actor, n: usize) -> Status {
    let id = Id::generate().0;
    let stamp = now();
    let visibility = if n.is_multiple_of(10) { Visibility::Private } else { Visibility::Public };
    Status {
        id,
        ap_id: format!("{}/statuses/{id}", author.ap_id),
        url: None,
        actor_id: author.id,
        local: false,
        kind: "Note".into(),
        in_reply_to_id: None,
        in_reply_to_ap_id: None,
        in_reply_to_actor_id: None,
        reblog_of_id: None,
        group_id: None,
        visibility: visibility.as_str().into(),
        title: None,
        content: format!("<p>status {n} about museums and archives</p>"),
        source: None,
        spoiler_text: String::new(),
        sensitive: false,
        language: Some("en".into()),
        published_at: stamp,
        edited_at: None,
        deleted_at: None,
        created_at: stamp,
        updated_at: stamp,
    }
}

/// One size's figures.
struct Row {
    statuses: usize,
    authors: usize,
    seed_secs: f64,
    home_ms: f64,
    list_ms: f64,
    tag_ms: f64,
    public_ms: f64,
    account_ms: f64,
    rps: f64,
    p50: f64,
    p99: f64,
}

#[tokio::main]
async fn main() {
    let per_client: usize =
        std::env::var("GUILDHALL_BENCH_REQUESTS").ok().and_then(|v| v.parse().ok()).unwrap_or(100);
    let sizes: Vec<usize> = std::env::var("GUILDHALL_BENCH_SIZES")
        .ok()
        .map(|v| v.split(',').map(|n| n.trim().parse().expect("GUILDHALL_BENCH_SIZES: numbers")).collect())
        .unwrap_or_else(|| vec![10_000, 100_000, 1_000_000]);
    let mut table = Vec::new();
    for size in sizes {
        table.push(one_size(size, per_client).await);
    }
    println!();
    println!(
        "| statuses | authors | seeding | home query | list query | tag query | public query | account query | home over HTTP, {CLIENTS} clients | p50 | p99 |"
    );
    println!("|---|---|---|---|---|---|---|---|---|---|---|");
    for r in &table {
        println!(
            "| {} | {} | {:.0} s | {:.2} ms | {:.2} ms | {:.2} ms | {:.2} ms | {:.2} ms | {:.0} req/s | {:.1} ms | {:.1} ms |",
            r.statuses,
            r.authors,
            r.seed_secs,
            r.home_ms,
            r.list_ms,
            r.tag_ms,
            r.public_ms,
            r.account_ms,
            r.rps,
            r.p50,
            r.p99
        );
    }
}

/// Mean time of `runs` calls of `query` on the database, in ms.
async fn time_query<F>(instance: &Instance, runs: usize, query: F) -> f64
where
    F: Fn(&mut guildhall_storage::DbConnection) -> guildhall_storage::StorageResult<Vec<Status>>
        + Send
        + Sync
        + Clone
        + 'static,
{
    let started = Instant::now();
    for _ in 0..runs {
        let q = query.clone();
        let page = instance.db().run(move |c| q(c)).await.unwrap();
        assert_eq!(page.len(), 20, "a full page");
    }
    started.elapsed().as_secs_f64() * 1000.0 / runs as f64
}

async fn one_size(total: usize, per_client: usize) -> Row {
    let authors_n = (total / 200).max(200);
    let dir = tempfile::tempdir().unwrap();
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let env = vec![
        ("GUILDHALL_DOMAIN".to_string(), format!("localhost:{port}")),
        ("GUILDHALL_DATA_DIR".to_string(), dir.path().display().to_string()),
    ];
    let config = Config::load(None, env).unwrap();
    let instance =
        Instance::start_on(config, listener, HttpOptions { run_delivery: false, ..HttpOptions::default() })
            .await
            .unwrap();
    let urls = guildhall_federation::Urls::new(instance.config());
    let new =
        NewUser { username: "ada", email: "ada@museum.example", password: "correct horse", role: Role::User };
    let ada = create_user(instance.db(), &urls, new).await.unwrap();
    let (viewer, user_id) = (ada.actor.id, ada.user.id);
    let seeded = Instant::now();
    let (authors, list) = instance
        .db()
        .run(move |c| {
            guildhall_storage::transaction(c, |c| {
                let authors: Vec<Actor> =
                    (0..authors_n).map(|i| actors::upsert_remote(c, &remote(i))).collect::<Result<_, _>>()?;
                for a in authors.iter().take(FOLLOWED) {
                    follows::upsert(c, viewer, a.id, FollowState::Accepted, None)?;
                }
                let list = lists::create(c, viewer, "ten", "followed", false)?;
                let members: Vec<i64> = authors.iter().take(10).map(|a| a.id).collect();
                lists::add_members(c, list.id, &members)?;
                Ok((authors, list))
            })
        })
        .await
        .unwrap();
    let authors = std::sync::Arc::new(authors);
    for start in (0..total).step_by(SEED_BATCH) {
        let authors = authors.clone();
        instance
            .db()
            .run(move |c| {
                guildhall_storage::transaction(c, |c| {
                    for n in start..(start + SEED_BATCH).min(total) {
                        let s = status(&authors[n % authors.len()], n);
                        statuses::insert(c, &s)?;
                        if n % 10 == 5 {
                            status_parts::replace_tags(c, s.id, &["museums".to_owned()])?;
                        }
                    }
                    Ok(())
                })
            })
            .await
            .unwrap();
    }
    let token = instance
        .db()
        .run(move |c| {
            let app = oauth::App {
                id: Id::generate().0,
                name: "bench".into(),
                website: None,
                redirect_uris: "urn:ietf:wg:oauth:2.0:oob".into(),
                scopes: "read".into(),
                client_id: "bench".into(),
                client_secret: "bench".into(),
                created_at: now(),
            };
            oauth::create_app(c, &app)?;
            let token = guildhall_core::keys::random_token();
            oauth::create_token(c, &guildhall_core::keys::token_hash(&token), app.id, Some(user_id), "read")?;
            Ok(token)
        })
        .await
        .unwrap();
    let seed_secs = seeded.elapsed().as_secs_f64();
    println!("{total} statuses by {authors_n} authors ({FOLLOWED} followed) seeded in {seed_secs:.1} s");
    // Page back a little, as a reader scrolling does.
    let deep = instance
        .db()
        .run(move |c| timelines::home(c, viewer, &Page { limit: 200, ..Page::default() }))
        .await
        .unwrap();
    let max_id = deep.last().map(|s| s.id);
    let paged = Page { max_id, ..Page::default() };
    let author = authors[0].id;
    let home_ms = time_query(&instance, 50, move |c| timelines::home(c, viewer, &paged)).await;
    let list_ms = time_query(&instance, 50, {
        let list = list.clone();
        move |c| timelines::list(c, &list, &paged)
    })
    .await;
    let tag_ms =
        time_query(&instance, 50, move |c| timelines::tagged(c, "museums", Some(viewer), &paged)).await;
    let public_ms =
        time_query(&instance, 50, move |c| timelines::public(c, Scope::All, Some(viewer), &paged)).await;
    let account_ms = time_query(&instance, 50, move |c| {
        timelines::account(c, author, Some(viewer), false, false, &Page::default())
    })
    .await;
    println!(
        "queries alone: home {home_ms:.2} ms, list {list_ms:.2} ms, tag {tag_ms:.2} ms, public {public_ms:.2} ms, account {account_ms:.2} ms"
    );
    let url = format!("http://localhost:{port}/api/v1/timelines/home");
    let client = reqwest::Client::builder().no_proxy().build().unwrap();
    let started = Instant::now();
    let tasks = (0..CLIENTS).map(|_| {
        let (client, url, token) = (client.clone(), url.clone(), token.clone());
        tokio::spawn(async move {
            let mut times = Vec::with_capacity(per_client);
            let mut max_id: Option<String> = None;
            for i in 0..per_client {
                // Half the requests read the newest page, half page back further.
                let target = match (&max_id, i % 2) {
                    (Some(max), 1) => format!("{url}?max_id={max}"),
                    _ => url.clone(),
                };
                let t0 = Instant::now();
                let res = client.get(&target).bearer_auth(&token).send().await.unwrap();
                assert_eq!(res.status(), 200);
                let page: Vec<serde_json::Value> = res.json().await.unwrap();
                assert_eq!(page.len(), 20);
                times.push(t0.elapsed());
                max_id = page.last().and_then(|s| s["id"].as_str()).map(str::to_owned);
            }
            times
        })
    });
    let mut all: Vec<Duration> = Vec::new();
    for t in tasks.collect::<Vec<_>>() {
        all.extend(t.await.unwrap());
    }
    let wall = started.elapsed().as_secs_f64();
    all.sort();
    let pct = |p: f64| all[((all.len() as f64 * p) as usize).min(all.len() - 1)].as_secs_f64() * 1000.0;
    let row = Row {
        statuses: total,
        authors: authors_n,
        seed_secs,
        home_ms,
        list_ms,
        tag_ms,
        public_ms,
        account_ms,
        rps: all.len() as f64 / wall,
        p50: pct(0.50),
        p99: pct(0.99),
    };
    println!(
        "GET /api/v1/timelines/home, {CLIENTS} clients, {} requests: p50 {:.1} ms, p99 {:.1} ms, {:.0} req/s",
        all.len(),
        row.p50,
        row.p99,
        row.rps
    );
    instance.stop().await.unwrap();
    if std::env::var_os("GUILDHALL_BENCH_KEEP").is_some() {
        println!("kept the database in {}", dir.keep().display());
    }
    row
}
