//! Page latency: the pages a museum network's visitors hit most, rendered over HTTP on SQLite,
//! 16 concurrent clients each, with `Accept: text/html`:
//!
//! 1. `/@GROUP`, a public group's page, its group holding 3,000 threads (and their replies)
//!    among 30,000 other statuses;
//! 2. `/@AUTHOR/ID`, a local post in the group with 200 public replies by local and remote
//!    authors, for a stranger;
//! 3. the same thread for a signed-in member (session cookie), which adds each post's buttons;
//! 4. `/@GROUP.rss`.
//!
//! For each page it prints the database queries one request makes, the body size, the latency
//! of a request alone, p50, p99 and requests per second under load, then the queries that took
//! one request the most time (counted and timed by diesel's instrumentation). Run:
//! `cargo bench --bench pages` (`GUILDHALL_BENCH_REQUESTS` sets requests per client, default
//! 100).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::HashMap;
use std::net::TcpListener;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use diesel::connection::{Instrumentation, InstrumentationEvent};
use guildhall::Instance;
use guildhall_api::HttpOptions;
use guildhall_core::model::{
    ActorKind, FollowState, GroupVisibility, Membership, PostingPolicy, Role, Visibility,
};
use guildhall_core::{Config, Id};
use guildhall_federation::local_actors::{NewGroup, NewUser, create_group, create_user};
use guildhall_storage::actors::{Actor, ActorUrls};
use guildhall_storage::statuses::Status;
use guildhall_storage::web_sessions::NewSession;
use guildhall_storage::{actors, favourites, follows, now, statuses, web_sessions};

/// Top-level posts in the group.
const THREADS: usize = 3_000;
/// Every third thread gets this many replies.
const REPLIES_PER_THIRD_THREAD: usize = 2;
/// Statuses elsewhere (remote authors' own timelines) after each thread.
const OTHERS_PER_THREAD: usize = 10;
/// Replies under the measured thread: direct ones, then one reply to each of the first
/// `REPLIES - DIRECT_REPLIES` of those.
const REPLIES: usize = 200;
const DIRECT_REPLIES: usize = 120;
const REMOTE_AUTHORS: usize = 40;
const CLIENTS: usize = 16;
const GROUP: &str = "museums";

/// Queries run by every connection (diesel's instrumentation), and, while `PROFILING`, their
/// SQL (without binds) with how often each ran and the time it took.
static QUERIES: AtomicU64 = AtomicU64::new(0);
static PROFILING: AtomicBool = AtomicBool::new(false);
static SHAPES: Mutex<Option<HashMap<String, (u64, Duration)>>> = Mutex::new(None);

/// One connection's instrumentation: the query it runs, while profiling.
#[derive(Default)]
struct QueryClock {
    running: Option<(String, Instant)>,
}

impl Instrumentation for QueryClock {
    fn on_connection_event(&mut self, event: InstrumentationEvent<'_>) {
        match event {
            InstrumentationEvent::StartQuery { query, .. } => {
                QUERIES.fetch_add(1, Ordering::Relaxed);
                if PROFILING.load(Ordering::Relaxed) {
                    self.running = Some((shape(&query.to_string()), Instant::now()));
                }
            }
            InstrumentationEvent::FinishQuery { .. } => {
                if let Some((shape, started)) = self.running.take()
                    && let Some(tally) = SHAPES.lock().unwrap().as_mut()
                {
                    let entry = tally.entry(shape).or_default();
                    entry.0 += 1;
                    entry.1 += started.elapsed();
                }
            }
            _ => {}
        }
    }
}

/// A query's SQL without its binds and column list: what is read from where.
fn shape(sql: &str) -> String {
    let sql = sql.split(" -- binds:").next().unwrap_or_default();
    let shape = match sql.find(" FROM ") {
        Some(at) if sql.starts_with("SELECT ") => format!("SELECT … {}", &sql[at + 1..]),
        _ => sql.to_owned(),
    };
    shape.chars().take(150).collect()
}

fn remote(i: usize) -> Actor {
    let domain = format!("museum{}.example", i % 10);
    let ap_id = format!("https://{domain}/users/curator{i}");
    let urls = ActorUrls {
        inbox: format!("{ap_id}/inbox"),
        shared_inbox: None,
        outbox: None,
        followers: Some(format!("{ap_id}/followers")),
        following: None,
        profile: None,
        ap_id,
    };
    let mut a = Actor::new_local(ActorKind::Person, &format!("curator{i}"), urls, "PUB".into());
    a.domain = Some(domain);
    a.display_name = format!("Curator {i}");
    a
}

fn status(author: &Actor, text: &str, visibility: Visibility) -> Status {
    let id = Id::generate().0;
    let stamp = now();
    Status {
        id,
        ap_id: format!("{}/statuses/{id}", author.ap_id),
        url: None,
        actor_id: author.id,
        local: author.is_local(),
        kind: "Note".into(),
        in_reply_to_id: None,
        in_reply_to_ap_id: None,
        in_reply_to_actor_id: None,
        reblog_of_id: None,
        group_id: None,
        visibility: visibility.as_str().into(),
        title: None,
        content: format!("<p>{text}</p>"),
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

fn reply(author: &Actor, parent: &Status, text: &str) -> Status {
    Status {
        in_reply_to_id: Some(parent.id),
        in_reply_to_ap_id: Some(parent.ap_id.clone()),
        in_reply_to_actor_id: Some(parent.actor_id),
        group_id: parent.group_id,
        ..status(author, text, Visibility::Public)
    }
}

/// One page to measure.
struct Target {
    label: &'static str,
    path: String,
    cookie: Option<String>,
}

/// What one page measured.
struct Measured {
    queries: u64,
    bytes: usize,
    /// Milliseconds, one request at a time.
    alone: f64,
    p50: f64,
    p99: f64,
    per_second: f64,
    /// Each kind of query one request ran: how often, and for how long in all.
    shapes: Vec<(String, u64, Duration)>,
}

async fn get(client: &reqwest::Client, url: &str, cookie: Option<&str>) -> String {
    let mut request = client.get(url).header("Accept", "text/html");
    if let Some(cookie) = cookie {
        request = request.header("Cookie", cookie);
    }
    let res = request.send().await.unwrap();
    assert_eq!(res.status(), 200, "{url}");
    res.text().await.unwrap()
}

async fn measure(client: &reqwest::Client, base: &str, target: &Target, per_client: usize) -> Measured {
    let url = format!("{base}{}", target.path);
    let cookie = target.cookie.as_deref();
    // Warm up, then requests one at a time (the median of 10), then one with its queries
    // counted and timed.
    get(client, &url, cookie).await;
    let mut solo = Vec::new();
    for _ in 0..10 {
        let t0 = Instant::now();
        get(client, &url, cookie).await;
        solo.push(t0.elapsed());
    }
    solo.sort();
    *SHAPES.lock().unwrap() = Some(HashMap::new());
    PROFILING.store(true, Ordering::Relaxed);
    let before = QUERIES.load(Ordering::Relaxed);
    let body = get(client, &url, cookie).await;
    let queries = QUERIES.load(Ordering::Relaxed) - before;
    PROFILING.store(false, Ordering::Relaxed);
    let mut shapes: Vec<(String, u64, Duration)> =
        SHAPES.lock().unwrap().take().unwrap().into_iter().map(|(s, (n, t))| (s, n, t)).collect();
    shapes.sort_by(|a, b| b.2.cmp(&a.2).then_with(|| a.0.cmp(&b.0)));
    let started = Instant::now();
    let tasks = (0..CLIENTS).map(|_| {
        let (client, url, cookie) = (client.clone(), url.clone(), target.cookie.clone());
        tokio::spawn(async move {
            let mut times = Vec::with_capacity(per_client);
            for _ in 0..per_client {
                let t0 = Instant::now();
                get(&client, &url, cookie.as_deref()).await;
                times.push(t0.elapsed());
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
    Measured {
        queries,
        bytes: body.len(),
        alone: solo[solo.len() / 2].as_secs_f64() * 1000.0,
        p50: pct(0.50),
        p99: pct(0.99),
        per_second: all.len() as f64 / wall,
        shapes,
    }
}

#[tokio::main]
async fn main() {
    let per_client: usize =
        std::env::var("GUILDHALL_BENCH_REQUESTS").ok().and_then(|v| v.parse().ok()).unwrap_or(100);
    // Before the pool opens its first connection: every connection counts its queries.
    diesel::connection::set_default_instrumentation(|| Some(Box::new(QueryClock::default()))).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let env = vec![
        ("GUILDHALL_DOMAIN".to_string(), format!("localhost:{port}")),
        ("GUILDHALL_DATA_DIR".to_string(), dir.path().display().to_string()),
    ];
    let config = Config::load(None, env).unwrap();
    let options =
        HttpOptions { run_delivery: false, pages: Some(guildhall_web::configure), ..HttpOptions::default() };
    let instance = Instance::start_on(config, listener, options).await.unwrap();
    let urls = guildhall_federation::Urls::new(instance.config());
    let mut locals = Vec::new();
    for name in ["ada", "bea", "cleo", "dora"] {
        let email = format!("{name}@museum.example");
        let new = NewUser { username: name, email: &email, password: "correct horse", role: Role::User };
        locals.push(create_user(instance.db(), &urls, new).await.unwrap());
    }
    let new = NewGroup {
        name: GROUP,
        owner: "ada",
        display_name: Some("Museums of the region"),
        membership: Membership::Open,
        posting: PostingPolicy::Members,
        visibility: GroupVisibility::Public,
    };
    let (group, _) = create_group(instance.db(), &urls, new).await.unwrap();
    // Bea, the signed-in visitor, is a member (not a moderator: Ada owns the group).
    let (member_user, member) = (locals[1].user.id, locals[1].actor.id);
    let local_actors: Vec<Actor> = locals.iter().map(|a| a.actor.clone()).collect();
    let seeded = Instant::now();
    let (root, token) = instance
        .db()
        .run(move |c| {
            guildhall_storage::transaction(c, |c| {
                let remotes: Vec<Actor> = (0..REMOTE_AUTHORS)
                    .map(|i| actors::upsert_remote(c, &remote(i)))
                    .collect::<Result<_, _>>()?;
                for a in local_actors.iter().skip(1).chain(&remotes) {
                    follows::upsert(c, a.id, group.id, FollowState::Accepted, None)?;
                }
                let authors: Vec<&Actor> = local_actors.iter().chain(&remotes).collect();
                for n in 0..THREADS {
                    let visibility = match n % 20 {
                        0 => Visibility::Private,
                        1 => Visibility::Unlisted,
                        _ => Visibility::Public,
                    };
                    let text = format!("thread {n}: a loan request for the textile collection");
                    let thread = Status {
                        group_id: Some(group.id),
                        ..status(authors[n % authors.len()], &text, visibility)
                    };
                    statuses::insert(c, &thread)?;
                    if n % 3 == 0 {
                        for r in 0..REPLIES_PER_THIRD_THREAD {
                            let text = format!("reply {r} to thread {n}");
                            let mut answer = reply(authors[(n + r + 1) % authors.len()], &thread, &text);
                            answer.visibility = thread.visibility.clone();
                            statuses::insert(c, &answer)?;
                        }
                    }
                    for k in 0..OTHERS_PER_THREAD {
                        let author = &remotes[(n + k) % remotes.len()];
                        statuses::insert(
                            c,
                            &status(author, &format!("elsewhere {n}.{k}"), Visibility::Public),
                        )?;
                    }
                }
                // The thread measured: Cleo's post in the group, the newest thread.
                let root = Status {
                    group_id: Some(group.id),
                    ..status(
                        &local_actors[2],
                        "Who has a conservator for 18th-century maps?",
                        Visibility::Public,
                    )
                };
                statuses::insert(c, &root)?;
                let mut replies: Vec<Status> = Vec::with_capacity(REPLIES);
                for i in 0..REPLIES {
                    let parent = if i < DIRECT_REPLIES { &root } else { &replies[i - DIRECT_REPLIES] };
                    let text = format!("answer {i}: we lent ours to the archive last spring");
                    let answer = reply(authors[i % authors.len()], parent, &text);
                    statuses::insert(c, &answer)?;
                    replies.push(answer);
                }
                // The member liked a few of them.
                for answer in replies.iter().step_by(7) {
                    favourites::add(c, member, answer.id, None)?;
                }
                let token = guildhall_core::keys::random_token();
                let hash = guildhall_core::keys::token_hash(&token);
                let session = NewSession {
                    token_hash: &hash,
                    user_id: member_user,
                    user_agent: "bench",
                    ip: "127.0.0.1",
                    remember: true,
                };
                web_sessions::create(c, &session)?;
                Ok((root, token))
            })
        })
        .await
        .unwrap();
    println!(
        "seeded {THREADS} threads in @{GROUP} ({} replies) among {} other statuses, and a thread of \
         {REPLIES} replies, in {:.1} s",
        THREADS.div_ceil(3) * REPLIES_PER_THIRD_THREAD,
        THREADS * OTHERS_PER_THREAD,
        seeded.elapsed().as_secs_f64()
    );
    let base = format!("http://localhost:{port}");
    let client = reqwest::Client::builder().no_proxy().build().unwrap();
    let thread = format!("/@cleo/{}", root.id);
    let cookie = format!("{}={token}", "guildhall_session");
    // What each page shows, checked once.
    let page = get(&client, &format!("{base}/@{GROUP}"), None).await;
    assert_eq!(page.matches("<article class=\"post\"").count(), 20, "the group page shows 20 threads");
    let page = get(&client, &format!("{base}{thread}"), None).await;
    assert_eq!(page.matches("<article class=\"post\"").count(), REPLIES + 1, "the thread shows every reply");
    let page = get(&client, &format!("{base}{thread}"), Some(&cookie)).await;
    assert_eq!(page.matches("<div class=\"actions\">").count(), REPLIES + 1, "the member gets buttons");
    let feed = get(&client, &format!("{base}/@{GROUP}.rss"), None).await;
    assert!(feed.matches("<item>").count() >= 15, "the feed has the group's public threads");
    let targets = [
        Target { label: "group page /@museums", path: format!("/@{GROUP}"), cookie: None },
        Target { label: "thread, 200 replies", path: thread.clone(), cookie: None },
        Target { label: "thread, signed-in member", path: thread, cookie: Some(cookie) },
        Target { label: "group feed /@museums.rss", path: format!("/@{GROUP}.rss"), cookie: None },
    ];
    let mut results = Vec::new();
    for target in &targets {
        results.push(measure(&client, &base, target, per_client).await);
    }
    println!(
        "\n{CLIENTS} concurrent clients, {} requests a page, Accept: text/html, SQLite",
        CLIENTS * per_client
    );
    println!("{:<28} {:>8} {:>8} {:>9} {:>9} {:>8}", "page", "queries", "KiB", "p50 ms", "p99 ms", "req/s");
    for (target, m) in targets.iter().zip(&results) {
        println!(
            "{:<28} {:>8} {:>8.1} {:>9.1} {:>9.1} {:>9.1} {:>8.0}",
            target.label,
            m.queries,
            m.bytes as f64 / 1024.0,
            m.alone,
            m.p50,
            m.p99,
            m.per_second
        );
    }
    for (target, m) in targets.iter().zip(&results) {
        let total: Duration = m.shapes.iter().map(|s| s.2).sum();
        println!(
            "\nqueries of one request alone, {} ({} in all, {:.1} ms in the database):",
            target.label,
            m.queries,
            total.as_secs_f64() * 1000.0
        );
        println!("{:>6} {:>8}  query", "times", "ms");
        for (shape, n, time) in m.shapes.iter().take(8) {
            println!("{n:>6} {:>8.2}  {shape}", time.as_secs_f64() * 1000.0);
        }
    }
    instance.stop().await.unwrap();
}
