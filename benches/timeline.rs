//! Home timeline latency: `GET /api/v1/timelines/home` on SQLite with 100,000 statuses, 16
//! concurrent clients. Prints p50 and p99. Run: `cargo bench --bench timeline`
//! (`GUILDHALL_BENCH_REQUESTS` sets requests per client, default 100).
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
use guildhall_storage::{actors, follows, now, oauth, statuses};

const STATUSES: usize = 100_000;
const AUTHORS: usize = 200;
const FOLLOWED: usize = 50;
const CLIENTS: usize = 16;

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

#[tokio::main]
async fn main() {
    let per_client: usize =
        std::env::var("GUILDHALL_BENCH_REQUESTS").ok().and_then(|v| v.parse().ok()).unwrap_or(100);
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
    let token = instance
        .db()
        .run(move |c| {
            guildhall_storage::transaction(c, |c| {
                let authors: Vec<Actor> =
                    (0..AUTHORS).map(|i| actors::upsert_remote(c, &remote(i))).collect::<Result<_, _>>()?;
                for a in authors.iter().take(FOLLOWED) {
                    follows::upsert(c, viewer, a.id, FollowState::Accepted, None)?;
                }
                for n in 0..STATUSES {
                    statuses::insert(c, &status(&authors[n % AUTHORS], n))?;
                }
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
                oauth::create_token(
                    c,
                    &guildhall_core::keys::token_hash(&token),
                    app.id,
                    Some(user_id),
                    "read",
                )?;
                Ok(token)
            })
        })
        .await
        .unwrap();
    println!(
        "seeded {STATUSES} statuses by {AUTHORS} authors ({FOLLOWED} followed) in {:.1} s",
        seeded.elapsed().as_secs_f64()
    );
    let query_started = Instant::now();
    for _ in 0..20 {
        instance
            .db()
            .run(move |c| guildhall_storage::timelines::home(c, viewer, &Default::default()))
            .await
            .unwrap();
    }
    println!(
        "the home query alone (storage, no rendering): {:.2} ms",
        query_started.elapsed().as_secs_f64() * 1000.0 / 20.0
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
    println!(
        "GET /api/v1/timelines/home, {CLIENTS} concurrent clients, {} requests of 20 statuses: p50 {:.1} ms, p99 {:.1} ms, {:.0} requests/s",
        all.len(),
        pct(0.50),
        pct(0.99),
        all.len() as f64 / wall
    );
    instance.stop().await.unwrap();
}
