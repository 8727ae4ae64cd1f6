//! Inbox ingest benchmark: signed `Create{Note}` activities from many remote instances, POSTed
//! over loopback HTTP to the shared inbox (`/inbox`) of a whole Guildhall instance on SQLite,
//! which verifies each (HTTP signature and digest) and stores it.
//!
//! The remote side runs in a child process: `GUILDHALL_BENCH_INSTANCES` "instances" (default
//! 50), one loopback port each, with 4 actors apiece, each actor with its own RSA-2048 key. It
//! serves the actor documents, so the receiver fetches each actor on first contact, and sends
//! the Creates, signed as Mastodon signs them (cavage draft: `(request-target)`, host, date,
//! digest), with the crate's own signing code. Every request is signed before the clock starts:
//! signing is the sender's cost, not the receiver's. Three phases:
//!
//! 1. first contact: one Create from each actor, none of them known yet (each costs a fetch of
//!    the actor document, signed by our instance actor);
//! 2. warm: `GUILDHALL_BENCH_CREATES` Creates (default 20,000) from the now known actors, each
//!    followed by 4 local users, `GUILDHALL_BENCH_CLIENTS` (default 16) at a time;
//! 3. replay: the first 5,000 warm Creates again (verified, then dropped as already received).
//!
//! Receiver CPU is this process (the instance alone); the sender's is the child's, reported
//! apart; both share this machine's cores. At the end the stored statuses are counted against
//! the accepted Creates.
//!
//! Then, to show where the receiver's time goes, on further pre-signed Creates and without
//! HTTP: each step of one Create timed alone (one caller), a few single SQL statements, the
//! whole inbox handler with one caller and with as many callers as senders, and last every SQL
//! statement the pool runs during such a concurrent run, counted and timed through diesel's
//! instrumentation (a wait for SQLite's write lock shows in the statement that waited). Run:
//!
//! ```sh
//! cargo bench --bench ingest
//! GUILDHALL_BENCH_CREATES=5000 GUILDHALL_BENCH_CLIENTS=32 cargo bench --bench ingest
//! GUILDHALL_BENCH_WORKERS=1 cargo bench --bench ingest   # HTTP workers (default: one per core)
//! ```
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

use actix_web::web::Bytes;
use actix_web::{App, HttpRequest, HttpResponse, HttpServer, web};
use guildhall::Instance;
use guildhall_api::HttpOptions;
use guildhall_core::Config;
use guildhall_core::keys::{ActorKeys, SigningKey};
use guildhall_core::model::{FollowState, Role};
use guildhall_federation::local_actors::{NewUser, create_user};
use guildhall_federation::objects::actor::DbActor;
use guildhall_federation::protocol::activity::Activity;
use guildhall_federation::protocol::note::ApNote;
use guildhall_federation::signing::{IncomingSignature, header_map};
use guildhall_storage::{Db, PoolStats, actors, follows, instance_blocks, received};
use serde_json::{Value, json};
use url::Url;

const ACTORS_PER_INSTANCE: usize = 4;
/// Local users, each following every remote actor.
const READERS: usize = 4;
/// Warm Creates sent a second time in the replay phase (at most).
const REPLAYS: usize = 5_000;
/// Pre-signed Creates for each in-process step measurement.
const PROFILE_SAMPLES: usize = 1_000;
/// Sample sets used one after another by the in-process steps.
const PROFILE_SETS: usize = 4;
/// Pre-signed Creates for the in-process concurrent run.
const PROFILE_CONCURRENT: usize = 4_000;
const PUBLIC: &str = "https://www.w3.org/ns/activitystreams#Public";

fn knob(name: &str, default: usize) -> usize {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

/// CPU seconds (user + system) of this whole process so far.
fn cpu_seconds() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let fields: Vec<&str> = stat.rsplit(')').next().unwrap_or("").split_whitespace().collect();
    let ticks = |i: usize| fields.get(i).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
    (ticks(11) + ticks(12)) / 100.0
}

fn peak_rss_mib() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let kib = status
        .lines()
        .find(|l| l.starts_with("VmHWM:"))
        .and_then(|l| l.split_whitespace().nth(1)?.parse::<f64>().ok());
    kib.unwrap_or(0.0) / 1024.0
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let rank = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[rank.min(sorted.len() - 1)]
}

// ---------------------------------------------------------------------------------------------
// The remote side (child process).
// ---------------------------------------------------------------------------------------------

/// One remote actor: where it lives and its key.
struct RemoteActor {
    domain: String,
    name: String,
    ap_id: String,
    keys: ActorKeys,
    key: SigningKey,
}

/// A Create signed for the receiver's shared inbox: headers and body, ready to send.
#[derive(Clone)]
struct Signed {
    headers: Vec<(&'static str, String)>,
    body: Bytes,
}

/// The actor documents the remote instances serve, by `domain/name`.
#[derive(Clone)]
struct Documents {
    docs: Arc<BTreeMap<String, String>>,
    actor_fetches: Arc<AtomicUsize>,
    other_requests: Arc<AtomicUsize>,
}

async fn actor_document(request: HttpRequest, state: web::Data<Documents>) -> HttpResponse {
    let host = request.connection_info().host().to_owned();
    let name = request.match_info().get("name").unwrap_or_default();
    match state.docs.get(&format!("{host}/{name}")) {
        Some(doc) => {
            state.actor_fetches.fetch_add(1, Ordering::Relaxed);
            HttpResponse::Ok().content_type("application/activity+json; charset=utf-8").body(doc.clone())
        }
        None => {
            state.other_requests.fetch_add(1, Ordering::Relaxed);
            HttpResponse::NotFound().finish()
        }
    }
}

async fn anything_else(state: web::Data<Documents>) -> HttpResponse {
    state.other_requests.fetch_add(1, Ordering::Relaxed);
    HttpResponse::NotFound().finish()
}

fn actor_json(actor: &RemoteActor) -> Value {
    let id = &actor.ap_id;
    json!({
        "@context": [
            "https://www.w3.org/ns/activitystreams",
            "https://w3id.org/security/v1",
            {"manuallyApprovesFollowers": "as:manuallyApprovesFollowers", "toot": "http://joinmastodon.org/ns#",
             "discoverable": "toot:discoverable"}
        ],
        "id": id,
        "type": "Person",
        "preferredUsername": actor.name,
        "name": format!("Archivist {}", actor.name),
        "summary": "<p>Keeps the minutes.</p>",
        "url": format!("http://{}/@{}", actor.domain, actor.name),
        "inbox": format!("{id}/inbox"),
        "outbox": format!("{id}/outbox"),
        "followers": format!("{id}/followers"),
        "following": format!("{id}/following"),
        "endpoints": {"sharedInbox": format!("http://{}/inbox", actor.domain)},
        "publicKey": {"id": format!("{id}#main-key"), "owner": id, "publicKeyPem": actor.keys.public_pem},
        "manuallyApprovesFollowers": false,
        "discoverable": true,
        "published": "2024-01-01T00:00:00Z"
    })
}

/// A `Create{Note}` as Mastodon sends a public post; `n` makes its ids unique.
fn create_json(actor: &RemoteActor, n: usize) -> Value {
    let id = &actor.ap_id;
    let note = format!("{id}/statuses/{n}");
    let followers = format!("{id}/followers");
    let published = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let hashtag = n.is_multiple_of(4);
    let mut content = format!(
        "<p>Minutes of meeting {n}: the reading room reopens on Monday, the catalogue moves to the \
         new server, and volunteers for the inventory are still welcome.</p>"
    );
    let mut tags = Vec::new();
    if hashtag {
        let href = format!("http://{}/tags/archives", actor.domain);
        content.push_str(&format!(
            "<p><a href=\"{href}\" class=\"mention hashtag\" rel=\"tag\">#<span>archives</span></a></p>"
        ));
        tags.push(json!({"type": "Hashtag", "href": href, "name": "#archives"}));
    }
    json!({
        "@context": [
            "https://www.w3.org/ns/activitystreams",
            {"ostatus": "http://ostatus.org#", "atomUri": "ostatus:atomUri",
             "inReplyToAtomUri": "ostatus:inReplyToAtomUri", "conversation": "ostatus:conversation",
             "sensitive": "as:sensitive", "toot": "http://joinmastodon.org/ns#",
             "votersCount": "toot:votersCount", "Hashtag": "as:Hashtag"}
        ],
        "id": format!("{note}/activity"),
        "type": "Create",
        "actor": id,
        "published": published,
        "to": [PUBLIC],
        "cc": [followers],
        "object": {
            "id": note,
            "type": "Note",
            "summary": null,
            "inReplyTo": null,
            "published": published,
            "url": format!("http://{}/@{}/{n}", actor.domain, actor.name),
            "attributedTo": id,
            "to": [PUBLIC],
            "cc": [followers],
            "sensitive": false,
            "atomUri": note,
            "inReplyToAtomUri": null,
            "conversation": format!("tag:{},2025-01-01:objectId={n}:objectType=Conversation", actor.domain),
            "content": content,
            "contentMap": {"en": content},
            "attachment": [],
            "tag": tags,
            "replies": {
                "id": format!("{note}/replies"),
                "type": "Collection",
                "first": {
                    "type": "CollectionPage",
                    "next": format!("{note}/replies?only_other_accounts=true&page=true"),
                    "partOf": format!("{note}/replies"),
                    "items": []
                }
            }
        }
    })
}

/// Signs one Create per `(actor, n)`, on all cores.
fn sign_all(actors: &[RemoteActor], inbox: &Url, jobs: &[(usize, usize)]) -> Vec<Signed> {
    let threads = std::thread::available_parallelism().map_or(2, |n| n.get());
    let chunk = jobs.len().div_ceil(threads).max(1);
    std::thread::scope(|s| {
        let handles: Vec<_> = jobs
            .chunks(chunk)
            .map(|part| {
                s.spawn(move || {
                    part.iter()
                        .map(|&(a, n)| {
                            let actor = &actors[a];
                            let body = serde_json::to_vec(&create_json(actor, n)).unwrap();
                            let key_id = format!("{}#main-key", actor.ap_id);
                            let headers = guildhall_federation::signing::sign(
                                "POST",
                                inbox,
                                Some(&body),
                                &key_id,
                                &actor.key,
                            )
                            .unwrap();
                            Signed { headers, body: Bytes::from(body) }
                        })
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        handles.into_iter().flat_map(|h| h.join().unwrap()).collect()
    })
}

/// Generates `n` key pairs on all cores.
fn generate_keys(n: usize) -> Vec<ActorKeys> {
    let threads = std::thread::available_parallelism().map_or(2, |n| n.get());
    let next = AtomicUsize::new(0);
    let mut keys: Vec<(usize, ActorKeys)> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..threads)
            .map(|_| {
                s.spawn(|| {
                    let mut mine = Vec::new();
                    loop {
                        let i = next.fetch_add(1, Ordering::Relaxed);
                        if i >= n {
                            return mine;
                        }
                        mine.push((i, guildhall_core::keys::generate().unwrap()));
                    }
                })
            })
            .collect();
        handles.into_iter().flat_map(|h| h.join().unwrap()).collect()
    });
    keys.sort_by_key(|(i, _)| *i);
    keys.into_iter().map(|(_, k)| k).collect()
}

/// Sends `requests` with `clients` concurrent senders; returns the phase's figures as JSON.
async fn send_all(
    client: &reqwest::Client,
    inbox: &Url,
    requests: Arc<Vec<Signed>>,
    clients: usize,
) -> Value {
    let next = Arc::new(AtomicUsize::new(0));
    let (cpu0, t0) = (cpu_seconds(), Instant::now());
    let tasks: Vec<_> = (0..clients)
        .map(|_| {
            let (client, inbox, requests, next) =
                (client.clone(), inbox.clone(), requests.clone(), next.clone());
            tokio::spawn(async move {
                let mut latencies = Vec::new();
                let mut codes: BTreeMap<u16, usize> = BTreeMap::new();
                let mut failures = 0usize;
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some(signed) = requests.get(i) else { break };
                    let mut request = client.post(inbox.clone()).body(signed.body.clone());
                    for (name, value) in &signed.headers {
                        request = request.header(*name, value);
                    }
                    let started = Instant::now();
                    match request.send().await {
                        Ok(response) => {
                            let code = response.status().as_u16();
                            let _ = response.bytes().await;
                            latencies.push(started.elapsed().as_secs_f64() * 1e3);
                            *codes.entry(code).or_default() += 1;
                        }
                        Err(e) => {
                            if failures == 0 {
                                eprintln!("ingest sender: {e}");
                            }
                            failures += 1;
                        }
                    }
                }
                (latencies, codes, failures)
            })
        })
        .collect();
    let mut latencies = Vec::new();
    let mut codes: BTreeMap<u16, usize> = BTreeMap::new();
    let mut failures = 0;
    for task in tasks {
        let (l, c, f) = task.await.unwrap();
        latencies.extend(l);
        for (code, n) in c {
            *codes.entry(code).or_default() += n;
        }
        failures += f;
    }
    let secs = t0.elapsed().as_secs_f64();
    let cpu = cpu_seconds() - cpu0;
    latencies.sort_by(f64::total_cmp);
    let ok: usize = codes.iter().filter(|(c, _)| (200..300).contains(*c)).map(|(_, n)| n).sum();
    json!({
        "sent": requests.len(),
        "ok": ok,
        "codes": codes.iter().map(|(c, n)| format!("{c}×{n}")).collect::<Vec<_>>().join(" "),
        "failures": failures,
        "secs": secs,
        "p50": percentile(&latencies, 0.50),
        "p99": percentile(&latencies, 0.99),
        "max": latencies.last().copied().unwrap_or(0.0),
        "cpu": cpu,
    })
}

/// Runs in the child process: the remote instances. Prints `ready <ports>` once every request
/// is signed, then answers one command a line on stdin (`first`, `warm`, `replay`) with a JSON
/// line of figures.
async fn remote_main() {
    let target: u16 = std::env::var("GUILDHALL_BENCH_TARGET").unwrap().parse().unwrap();
    let instances = knob("GUILDHALL_BENCH_INSTANCES", 50);
    let creates = knob("GUILDHALL_BENCH_CREATES", 20_000);
    let clients = knob("GUILDHALL_BENCH_CLIENTS", 16);
    let samples_path = std::env::var("GUILDHALL_BENCH_SAMPLES_FILE").unwrap();
    let listeners: Vec<TcpListener> =
        (0..instances).map(|_| TcpListener::bind("127.0.0.1:0").unwrap()).collect();
    let ports: Vec<u16> = listeners.iter().map(|l| l.local_addr().unwrap().port()).collect();

    let t0 = Instant::now();
    let keys = generate_keys(instances * ACTORS_PER_INSTANCE);
    let actors: Vec<RemoteActor> = keys
        .into_iter()
        .enumerate()
        .map(|(i, keys)| {
            let domain = format!("localhost:{}", ports[i / ACTORS_PER_INSTANCE]);
            let name = format!("u{}", i % ACTORS_PER_INSTANCE);
            let ap_id = format!("http://{domain}/users/{name}");
            let key = SigningKey::from_pem(&keys.private_pem).unwrap();
            RemoteActor { domain, name, ap_id, keys, key }
        })
        .collect();
    eprintln!("ingest: {} remote actor keys generated in {:.1} s", actors.len(), t0.elapsed().as_secs_f64());

    let docs: BTreeMap<String, String> =
        actors.iter().map(|a| (format!("{}/{}", a.domain, a.name), actor_json(a).to_string())).collect();
    let documents = Documents {
        docs: Arc::new(docs),
        actor_fetches: Arc::new(AtomicUsize::new(0)),
        other_requests: Arc::new(AtomicUsize::new(0)),
    };
    let data = web::Data::new(documents.clone());
    let mut server = HttpServer::new(move || {
        App::new()
            .app_data(data.clone())
            .route("/users/{name}", web::get().to(actor_document))
            .default_service(web::to(anything_else))
    })
    .workers(1)
    .disable_signals()
    .backlog(4096);
    for listener in listeners {
        server = server.listen(listener).unwrap();
    }
    tokio::spawn(server.run());

    // Every Create gets its own number, so its ids are unique across the phases.
    let inbox = Url::parse(&format!("http://localhost:{target}/inbox")).unwrap();
    let n_actors = actors.len();
    let first_jobs: Vec<(usize, usize)> = (0..n_actors).map(|a| (a, a)).collect();
    let warm_jobs: Vec<(usize, usize)> = (0..creates).map(|i| (i % n_actors, n_actors + i)).collect();
    let profile = PROFILE_SETS * PROFILE_SAMPLES + PROFILE_CONCURRENT;
    let profile_jobs: Vec<(usize, usize)> =
        (0..profile).map(|i| (i % n_actors, n_actors + creates + i)).collect();
    let t0 = Instant::now();
    let first = Arc::new(sign_all(&actors, &inbox, &first_jobs));
    let warm = Arc::new(sign_all(&actors, &inbox, &warm_jobs));
    let replay = Arc::new(warm[..warm.len().min(REPLAYS)].to_vec());
    let samples = sign_all(&actors, &inbox, &profile_jobs);
    eprintln!(
        "ingest: {} Creates signed in {:.1} s (before the clock starts)",
        first.len() + warm.len() + samples.len(),
        t0.elapsed().as_secs_f64()
    );
    let mut file = std::io::BufWriter::new(std::fs::File::create(&samples_path).unwrap());
    for s in &samples {
        let line = json!({"headers": s.headers, "body": String::from_utf8_lossy(&s.body)});
        writeln!(file, "{line}").unwrap();
    }
    file.flush().unwrap();
    drop(file);

    let client = reqwest::Client::builder().no_proxy().pool_max_idle_per_host(clients).build().unwrap();
    let ports_line = ports.iter().map(u16::to_string).collect::<Vec<_>>().join(",");
    println!("ready {ports_line}");
    let mut stdin = std::io::stdin().lock();
    loop {
        let mut command = String::new();
        if stdin.read_line(&mut command).unwrap() == 0 {
            return;
        }
        let requests = match command.trim() {
            "first" => first.clone(),
            "warm" => warm.clone(),
            "replay" => replay.clone(),
            _ => return,
        };
        let fetches0 = documents.actor_fetches.load(Ordering::Relaxed);
        let other0 = documents.other_requests.load(Ordering::Relaxed);
        let mut figures = send_all(&client, &inbox, requests, clients).await;
        figures["actor_fetches"] = json!(documents.actor_fetches.load(Ordering::Relaxed) - fetches0);
        figures["other_requests"] = json!(documents.other_requests.load(Ordering::Relaxed) - other0);
        println!("{figures}");
    }
}

// ---------------------------------------------------------------------------------------------
// The receiving side (this process).
// ---------------------------------------------------------------------------------------------

/// The remote side's process, its ports, and the line protocol to drive it.
struct Remote {
    child: Child,
    stdin: ChildStdin,
    stdout: BufReader<ChildStdout>,
    ports: Vec<u16>,
}

impl Remote {
    fn spawn(target: u16, samples: &std::path::Path) -> Remote {
        let mut child = Command::new(std::env::current_exe().unwrap())
            .env("GUILDHALL_BENCH_ROLE", "remote")
            .env("GUILDHALL_BENCH_TARGET", target.to_string())
            .env("GUILDHALL_BENCH_SAMPLES_FILE", samples)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let stdin = child.stdin.take().unwrap();
        let mut stdout = BufReader::new(child.stdout.take().unwrap());
        let mut line = String::new();
        tokio::task::block_in_place(|| stdout.read_line(&mut line)).unwrap();
        let ports = line
            .trim()
            .strip_prefix("ready ")
            .unwrap_or_else(|| panic!("the remote side did not start: {line:?}"))
            .split(',')
            .map(|p| p.parse().unwrap())
            .collect();
        Remote { child, stdin, stdout, ports }
    }

    /// Runs one phase on the remote side; its figures.
    fn run(&mut self, phase: &str) -> Value {
        writeln!(self.stdin, "{phase}").unwrap();
        self.stdin.flush().unwrap();
        let mut line = String::new();
        tokio::task::block_in_place(|| self.stdout.read_line(&mut line)).unwrap();
        serde_json::from_str(&line).unwrap_or_else(|e| panic!("remote answered {line:?}: {e}"))
    }

    fn actor_ids(&self) -> Vec<String> {
        self.ports
            .iter()
            .flat_map(|p| (0..ACTORS_PER_INSTANCE).map(move |i| format!("http://localhost:{p}/users/u{i}")))
            .collect()
    }
}

impl Drop for Remote {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One phase's figures, from both sides.
struct Phase {
    label: String,
    remote: Value,
    receiver_cpu: f64,
    db_calls: u64,
    db_waits: u64,
    db_wait_secs: f64,
}

async fn phase(instance: &Instance, remote: &mut Remote, name: &str, label: String) -> Phase {
    let (db0, cpu0) = (instance.db().stats(), cpu_seconds());
    let figures = remote.run(name);
    let (db1, cpu1) = (instance.db().stats(), cpu_seconds());
    Phase {
        label,
        remote: figures,
        receiver_cpu: cpu1 - cpu0,
        db_calls: db1.acquired - db0.acquired,
        db_waits: db1.waited - db0.waited,
        db_wait_secs: db1.wait_seconds - db0.wait_seconds,
    }
}

async fn follow_everyone(instance: &Instance, readers: Vec<i64>, remote_ids: Vec<String>) -> usize {
    instance
        .db()
        .run(move |c| {
            guildhall_storage::transaction(c, |c| {
                let mut known = 0;
                for ap_id in &remote_ids {
                    let Some(actor) = actors::find_by_ap_id(c, ap_id)? else { continue };
                    known += 1;
                    for reader in &readers {
                        follows::upsert(c, *reader, actor.id, FollowState::Accepted, None)?;
                    }
                }
                Ok(known)
            })
        })
        .await
        .unwrap()
}

async fn count_rows(db: &Db) -> (i64, i64) {
    use diesel::prelude::*;
    use guildhall_storage::schema::{received_activities, statuses};
    db.run(|c| {
        let remote = statuses::table.filter(statuses::local.eq(false)).count().get_result::<i64>(c)?;
        let received = received_activities::table.count().get_result::<i64>(c)?;
        Ok((remote, received))
    })
    .await
    .unwrap()
}

/// A pre-signed Create read back from the remote side's sample file.
struct Sample {
    headers: Vec<(String, String)>,
    body: Bytes,
}

impl Sample {
    fn header_map(&self) -> BTreeMap<String, String> {
        self.headers.iter().cloned().collect()
    }

    fn request(&self) -> HttpRequest {
        let mut request = actix_web::test::TestRequest::post().uri("/inbox");
        for (name, value) in &self.headers {
            request = request.insert_header((name.as_str(), value.as_str()));
        }
        request.to_http_request()
    }
}

fn read_samples(path: &std::path::Path) -> Vec<Sample> {
    let text = std::fs::read_to_string(path).unwrap();
    text.lines()
        .map(|line| {
            let v: Value = serde_json::from_str(line).unwrap();
            let headers = v["headers"]
                .as_array()
                .unwrap()
                .iter()
                .map(|h| (h[0].as_str().unwrap().to_owned(), h[1].as_str().unwrap().to_owned()))
                .collect();
            Sample { headers, body: Bytes::from(v["body"].as_str().unwrap().to_owned()) }
        })
        .collect()
}

/// Mean µs of `f` over `items`, one at a time.
fn time_each<T>(items: &[T], mut f: impl FnMut(&T)) -> f64 {
    let t0 = Instant::now();
    for item in items {
        f(item);
    }
    t0.elapsed().as_secs_f64() * 1e6 / items.len().max(1) as f64
}

/// Mean µs of the async `f` over `items`, one at a time.
async fn time_each_async<T, F: Future<Output = ()>>(items: &[T], mut f: impl FnMut(&T) -> F) -> f64 {
    let t0 = Instant::now();
    for item in items {
        f(item).await;
    }
    t0.elapsed().as_secs_f64() * 1e6 / items.len().max(1) as f64
}

/// What single statements of the store path cost, each run `activities.len()` times inside one
/// `Db::run` (no pool or thread hand-off): µs per statement.
async fn sql_costs(db: &Db, activities: &[Activity]) -> Vec<(String, f64)> {
    use diesel::prelude::*;
    use guildhall_storage::actors::Actor;
    use guildhall_storage::schema::{actors as actors_table, statuses as statuses_table};
    let actor_ids: Vec<String> = activities.iter().map(|a| a.actor.to_string()).collect();
    let n = actor_ids.len();
    db.run(move |c| {
        let version = diesel::select(diesel::dsl::sql::<diesel::sql_types::Text>("sqlite_version()"))
            .get_result::<String>(c)?;
        let per = |t0: Instant| t0.elapsed().as_secs_f64() * 1e6 / n as f64;
        let t0 = Instant::now();
        for id in &actor_ids {
            std::hint::black_box(actors::find_by_ap_id(c, id)?.unwrap());
        }
        let with_limit = per(t0);
        let t0 = Instant::now();
        for id in &actor_ids {
            let found = actors_table::table
                .filter(actors_table::ap_id.eq(id))
                .select(Actor::as_select())
                .get_result(c)
                .optional()?;
            std::hint::black_box(found.unwrap());
        }
        let without_limit = per(t0);
        let stored: Vec<i64> = statuses_table::table
            .filter(statuses_table::local.eq(false))
            .select(statuses_table::id)
            .limit(n as i64)
            .load(c)?;
        let t0 = Instant::now();
        for id in &stored {
            guildhall_storage::feeds::fan_out(c, *id, guildhall_storage::feeds::Reach::All)?;
        }
        let fan_out = t0.elapsed().as_secs_f64() * 1e6 / stored.len().max(1) as f64;
        let t0 = Instant::now();
        for _ in 0..n {
            guildhall_storage::transaction(c, |_| Ok(()))?;
        }
        let empty_transaction = per(t0);
        Ok(vec![
            (
                format!(
                    "SQL: actor by id as `actors::find_by_ap_id` asks (`.first()`, `LIMIT ?`; SQLite {version})"
                ),
                with_limit,
            ),
            ("SQL: the same lookup without `LIMIT ?` (`.get_result()`)".to_owned(), without_limit),
            ("SQL: home feed fan-out of a stored status (`feeds::fan_out`, `Reach::All`)".to_owned(), fan_out),
            (
                "SQL: an empty write transaction, nobody else writing (`guildhall_storage::transaction`)".to_owned(),
                empty_transaction,
            ),
        ])
    })
    .await
    .unwrap()
}

/// The steps of receiving one Create, timed one at a time in this process (no HTTP), and the
/// whole inbox handler run `clients` at a time.
async fn breakdown(
    instance: &Instance,
    samples: Vec<Sample>,
    clients: usize,
    workers: Option<usize>,
) -> (Vec<(String, String)>, Vec<String>) {
    let fed = instance.federation();
    let db = instance.db().clone();
    let our_host = instance.config().domain.to_string();
    let mut rows = Vec::new();
    let mut sets = samples.chunks(PROFILE_SAMPLES);
    let parse_set = sets.next().unwrap();
    let handler_set = sets.next().unwrap();
    let inbox_set = sets.next().unwrap();
    let traced_set = sets.next().unwrap();
    let concurrent_set: Vec<&Sample> = sets.flatten().collect();

    // The signers' keys, as the inbox finds them (the actors are known by now).
    let mut signers: BTreeMap<String, DbActor> = BTreeMap::new();
    for s in parse_set.iter().chain(handler_set) {
        let activity: Activity = serde_json::from_slice(&s.body).unwrap();
        let id = activity.actor.to_string();
        if let std::collections::btree_map::Entry::Vacant(slot) = signers.entry(id) {
            let lookup = slot.key().clone();
            let row = db.run(move |c| actors::find_by_ap_id(c, &lookup)).await.unwrap().unwrap();
            slot.insert(DbActor::new(row).unwrap());
        }
    }
    let pem_of = |s: &Sample| {
        let activity: Activity = serde_json::from_slice(&s.body).unwrap();
        signers[activity.actor.as_str()].row.public_key_pem.clone().unwrap()
    };
    let pems: Vec<String> = parse_set.iter().map(pem_of).collect();
    let bytes = parse_set.iter().map(|s| s.body.len()).sum::<usize>() / parse_set.len();
    let mut row = |what: &str, us: f64| rows.push((what.to_owned(), format!("{us:.0} µs")));

    let requests: Vec<HttpRequest> = parse_set.iter().map(Sample::request).collect();
    row(
        "request headers to a map (`signing::header_map`)",
        time_each(&requests, |r| {
            std::hint::black_box(header_map(r));
        }),
    );
    let parsed: Vec<IncomingSignature> = parse_set
        .iter()
        .map(|s| {
            IncomingSignature::parse("POST", "/inbox", s.header_map(), Some(&s.body), &our_host).unwrap()
        })
        .collect();
    row(
        "signature parse + digest check (`IncomingSignature::parse`)",
        time_each(parse_set, |s| {
            let sig = IncomingSignature::parse("POST", "/inbox", s.header_map(), Some(&s.body), &our_host);
            std::hint::black_box(sig.unwrap());
        }),
    );
    let pairs: Vec<(&IncomingSignature, &String)> = parsed.iter().zip(&pems).collect();
    row(
        "RSA-2048 verify, PEM decode included (`IncomingSignature::verify`)",
        time_each(&pairs, |(sig, pem)| sig.verify(pem).unwrap()),
    );
    row(
        &format!("JSON of the activity, {bytes} bytes (`Activity`)"),
        time_each(parse_set, |s| {
            std::hint::black_box(serde_json::from_slice::<Activity>(&s.body).unwrap());
        }),
    );
    let activities: Vec<Activity> =
        parse_set.iter().map(|s| serde_json::from_slice(&s.body).unwrap()).collect();
    row(
        "the embedded Note again, from the tree (`ApNote`)",
        time_each(&activities, |a| {
            std::hint::black_box(serde_json::from_value::<ApNote>(a.object.clone().unwrap()).unwrap());
        }),
    );
    row(
        "one `Db::run` round trip doing nothing (pool, blocking thread)",
        time_each_async(parse_set, |_| {
            let db = db.clone();
            async move { db.run(|_| Ok(())).await.unwrap() }
        })
        .await,
    );
    row(
        "suspended-domain check (`instance_blocks::is_suspended`, one `Db::run`)",
        time_each_async(parse_set, |_| {
            let db = db.clone();
            async move {
                db.run(|c| instance_blocks::is_suspended(c, "localhost:1")).await.unwrap();
            }
        })
        .await,
    );
    row(
        "replay guard insert alone (`received::record`, one `Db::run`, a write; a Create's is in its store)",
        time_each_async(&activities, |a| {
            let (db, id) = (db.clone(), format!("{}#profile", a.id));
            async move {
                assert!(db.run(move |c| received::record(c, &id)).await.unwrap());
            }
        })
        .await,
    );
    for (what, us) in sql_costs(&db, &activities).await {
        row(&what, us);
    }
    let handler_activities: Vec<(Activity, DbActor)> = handler_set
        .iter()
        .map(|s| {
            let activity: Activity = serde_json::from_slice(&s.body).unwrap();
            let actor = signers[activity.actor.as_str()].clone();
            (activity, actor)
        })
        .collect();
    row(
        "store the Note with its replay guard (`activities::receive`: one transaction)",
        time_each_async(&handler_activities, |(activity, actor)| {
            let (activity, actor, fed) = (activity.clone(), actor.clone(), fed.clone());
            // An id of its own: the Create itself was received over HTTP before.
            let receipt = Some(format!("{}#stored", activity.id));
            async move { guildhall_federation::activities::receive(activity, actor, &fed, receipt).await.unwrap() }
        })
        .await,
    );
    let cpu0 = cpu_seconds();
    let whole = time_each_async(inbox_set, |s| {
        let (request, body, fed) = (s.request(), s.body.clone(), fed.clone());
        async move {
            let response = guildhall_federation::inbox::receive(&request, body, fed).await.unwrap();
            assert!(response.status().is_success());
        }
    })
    .await;
    let cpu = (cpu_seconds() - cpu0) * 1e6 / inbox_set.len() as f64;
    rows.push((
        "whole inbox handler, one caller (`inbox::receive`, no HTTP)".into(),
        format!("{whole:.0} µs wall, {cpu:.0} µs CPU"),
    ));

    let threads = workers.unwrap_or_else(|| std::thread::available_parallelism().map_or(2, |n| n.get()));
    let n = concurrent_set.len();
    let (secs, cpu) = run_concurrently(&concurrent_set, clients, threads, &fed);
    rows.push((
        format!("whole inbox handler, {clients} callers on {threads} threads, {n} Creates (no HTTP)"),
        format!("{:.0} Creates/s, {:.0} µs CPU per Create", n as f64 / secs, cpu * 1e6 / n as f64),
    ));

    // Last, as it slows every statement a little: each SQL statement the pool runs while
    // `traced_set` goes through the inbox handler, as above.
    let tally = SqlTally::install(&db).await;
    let traced: Vec<&Sample> = traced_set.iter().collect();
    run_concurrently(&traced, clients, threads, &fed);
    let statements = tally.report(traced.len());
    (rows, statements)
}

/// Runs `samples` through the inbox handler, `clients` at a time, as actix runs handlers: one
/// single-threaded runtime per HTTP worker thread. Wall and CPU seconds.
fn run_concurrently(
    samples: &[&Sample],
    clients: usize,
    threads: usize,
    fed: &guildhall_federation::FedData,
) -> (f64, f64) {
    let work: Vec<(Vec<(String, String)>, Bytes)> =
        samples.iter().map(|s| (s.headers.clone(), s.body.clone())).collect();
    let (work, next) = (Arc::new(work), Arc::new(AtomicUsize::new(0)));
    let (cpu0, t0) = (cpu_seconds(), Instant::now());
    tokio::task::block_in_place(|| {
        std::thread::scope(|s| {
            for t in 0..threads {
                let (work, next, fed) = (work.clone(), next.clone(), fed.clone());
                let callers = clients / threads + usize::from(t < clients % threads);
                s.spawn(move || {
                    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
                    let local = tokio::task::LocalSet::new();
                    local.block_on(&runtime, async move {
                        let tasks: Vec<_> = (0..callers)
                            .map(|_| {
                                let (work, next, fed) = (work.clone(), next.clone(), fed.clone());
                                tokio::task::spawn_local(async move {
                                    loop {
                                        let i = next.fetch_add(1, Ordering::Relaxed);
                                        let Some((headers, body)) = work.get(i) else { break };
                                        let sample = Sample { headers: headers.clone(), body: body.clone() };
                                        let request = sample.request();
                                        let response = guildhall_federation::inbox::receive(
                                            &request,
                                            sample.body,
                                            fed.clone(),
                                        )
                                        .await
                                        .unwrap();
                                        assert!(response.status().is_success());
                                    }
                                })
                            })
                            .collect();
                        for task in tasks {
                            task.await.unwrap();
                        }
                    });
                });
            }
        });
    });
    (t0.elapsed().as_secs_f64(), cpu_seconds() - cpu0)
}

/// Counts and times every SQL statement run on the pool's connections (diesel instrumentation),
/// by statement text with numbers blanked out.
#[derive(Clone, Default)]
struct SqlTally {
    by_sql: Arc<std::sync::Mutex<BTreeMap<String, Vec<f64>>>>,
    transactions: Arc<AtomicUsize>,
    started: Option<(String, Instant)>,
}

impl diesel::connection::Instrumentation for SqlTally {
    fn on_connection_event(&mut self, event: diesel::connection::InstrumentationEvent<'_>) {
        use diesel::connection::InstrumentationEvent as E;
        match event {
            E::StartQuery { query, .. } => self.started = Some((query.to_string(), Instant::now())),
            E::FinishQuery { .. } => {
                if let Some((sql, t0)) = self.started.take() {
                    let secs = t0.elapsed().as_secs_f64();
                    self.by_sql.lock().unwrap().entry(normalize_sql(&sql)).or_default().push(secs);
                }
            }
            E::BeginTransaction { .. } => {
                self.transactions.fetch_add(1, Ordering::Relaxed);
            }
            _ => {}
        }
    }
}

/// The statement without its binds, numbers as `N`, on one line.
fn normalize_sql(sql: &str) -> String {
    let sql = sql.split(" -- binds:").next().unwrap_or(sql);
    let mut out = String::with_capacity(sql.len());
    let mut last_digit = false;
    for ch in sql.chars() {
        if ch.is_ascii_digit() {
            if !last_digit {
                out.push('N');
            }
            last_digit = true;
        } else {
            last_digit = false;
            out.push(if ch.is_whitespace() { ' ' } else { ch });
        }
    }
    out.split_whitespace().collect::<Vec<_>>().join(" ").replace('"', "")
}

impl SqlTally {
    /// Installs a tally on every connection of the pool: holds all of them at once, so each
    /// gets one.
    async fn install(db: &Db) -> SqlTally {
        let tally = SqlTally::default();
        let size = db.stats().max_size;
        let barrier = Arc::new(std::sync::Barrier::new(size));
        let calls: Vec<_> = (0..size)
            .map(|_| {
                let (db, tally, barrier) = (db.clone(), tally.clone(), barrier.clone());
                tokio::spawn(async move {
                    db.run(move |c| {
                        use diesel::Connection;
                        c.set_instrumentation(tally);
                        barrier.wait();
                        Ok(())
                    })
                    .await
                    .unwrap()
                })
            })
            .collect();
        for call in calls {
            call.await.unwrap();
        }
        tally
    }

    /// Markdown table lines: the statements by total time, per Create.
    fn report(&self, creates: usize) -> Vec<String> {
        let mut by_sql = self.by_sql.lock().unwrap();
        let per = |v: f64| v / creates as f64;
        let total_n: usize = by_sql.values().map(Vec::len).sum();
        let total_s: f64 = by_sql.values().flatten().sum();
        let mut rows: Vec<(&String, &mut Vec<f64>)> = by_sql.iter_mut().collect();
        rows.sort_by(|a, b| b.1.iter().sum::<f64>().total_cmp(&a.1.iter().sum::<f64>()));
        let mut lines = vec![
            format!(
                "{:.1} statements and {:.1} transactions or savepoints per Create, {:.0} µs of SQL per Create",
                per(total_n as f64),
                per(self.transactions.load(Ordering::Relaxed) as f64),
                per(total_s) * 1e6
            ),
            String::new(),
            "| SQL statement (numbers as N) | per Create | median | mean | runs ≥ 1 ms | share of SQL time |"
                .into(),
            "|---|---|---|---|---|---|".into(),
        ];
        let shown_rows = 16;
        for (sql, times) in rows.iter_mut().take(shown_rows) {
            times.sort_by(f64::total_cmp);
            let sum: f64 = times.iter().sum();
            let slow = times.iter().filter(|t| **t >= 1e-3).count();
            let shown: String = sql.chars().take(110).collect();
            let shown = if shown.len() < sql.len() { format!("{shown}…") } else { shown };
            lines.push(format!(
                "| `{}` | {:.2} | {:.0} µs | {:.0} µs | {:.0}% | {:.0}% |",
                shown.replace('|', "\\|"),
                per(times.len() as f64),
                percentile(times, 0.5) * 1e6,
                sum * 1e6 / times.len() as f64,
                slow as f64 * 100.0 / times.len() as f64,
                sum / total_s * 100.0
            ));
        }
        let rest: Vec<f64> = rows.iter().skip(shown_rows).flat_map(|(_, t)| t.iter().copied()).collect();
        if !rest.is_empty() {
            let sum: f64 = rest.iter().sum();
            lines.push(format!(
                "| {} other statements | {:.2} | | {:.0} µs | | {:.0}% |",
                rows.len() - shown_rows,
                per(rest.len() as f64),
                sum * 1e6 / rest.len() as f64,
                sum / total_s * 100.0
            ));
        }
        lines
    }
}

fn print_phases(phases: &[Phase]) {
    let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
    println!();
    println!(
        "| phase | Creates | 2xx | non-2xx | wall | Creates/s | p50 | p99 | max | receiver CPU / Create | sender CPU / Create | cores busy (of {cores}) | `Db::run` / Create | pool waits | actor documents fetched |"
    );
    println!("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|");
    for p in phases {
        let r = &p.remote;
        let sent = r["sent"].as_u64().unwrap() as f64;
        let ok = r["ok"].as_u64().unwrap();
        let secs = r["secs"].as_f64().unwrap();
        let non_2xx = r["sent"].as_u64().unwrap() - ok;
        let codes = r["codes"].as_str().unwrap();
        let failures = r["failures"].as_u64().unwrap();
        let non_2xx =
            if non_2xx == 0 { "0".to_owned() } else { format!("{non_2xx} ({codes}; {failures} failed)") };
        println!(
            "| {} | {} | {ok} | {non_2xx} | {secs:.2} s | {:.0} | {:.1} ms | {:.1} ms | {:.1} ms | {:.0} µs | {:.0} µs | {:.2} | {:.1} | {} ({:.0} µs / Create) | {} |",
            p.label,
            sent,
            sent / secs,
            r["p50"].as_f64().unwrap(),
            r["p99"].as_f64().unwrap(),
            r["max"].as_f64().unwrap(),
            p.receiver_cpu * 1e6 / sent,
            r["cpu"].as_f64().unwrap() * 1e6 / sent,
            (p.receiver_cpu + r["cpu"].as_f64().unwrap()) / secs,
            p.db_calls as f64 / sent,
            p.db_waits,
            p.db_wait_secs * 1e6 / sent,
            r["actor_fetches"],
        );
    }
}

#[tokio::main]
async fn main() {
    if std::env::var("GUILDHALL_BENCH_ROLE").is_ok_and(|r| r == "remote") {
        return remote_main().await;
    }
    let instances = knob("GUILDHALL_BENCH_INSTANCES", 50);
    let creates = knob("GUILDHALL_BENCH_CREATES", 20_000);
    let clients = knob("GUILDHALL_BENCH_CLIENTS", 16);
    let workers = std::env::var("GUILDHALL_BENCH_WORKERS").ok().and_then(|v| v.parse().ok());

    let dir = tempfile::tempdir().unwrap();
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let env = vec![
        ("GUILDHALL_DOMAIN".to_string(), format!("localhost:{port}")),
        ("GUILDHALL_LISTEN".to_string(), format!("127.0.0.1:{port}")),
        ("GUILDHALL_DATA_DIR".to_string(), dir.path().display().to_string()),
        ("GUILDHALL_INSECURE".to_string(), "true".to_string()),
    ];
    let config = Config::load(None, env).unwrap();
    // As an operator runs it: background workers on, HTTP workers one per core unless told.
    let options = HttpOptions { workers, disable_signals: true, run_delivery: true, pages: None };
    let instance = Instance::start_on(config, listener, options).await.unwrap();
    let urls = guildhall_federation::Urls::new(instance.config());
    let mut readers = Vec::new();
    for i in 0..READERS {
        let (name, email) = (format!("reader{i}"), format!("reader{i}@museum.example"));
        let new = NewUser { username: &name, email: &email, password: "correct horse", role: Role::User };
        readers.push(create_user(instance.db(), &urls, new).await.unwrap().actor.id);
    }

    let samples_path = dir.path().join("samples.jsonl");
    let t0 = Instant::now();
    let mut remote = Remote::spawn(port, &samples_path);
    let actor_ids = remote.actor_ids();
    println!(
        "ingest: {instances} remote instances, {} actors (RSA-2048 each), {creates} warm Creates, \
         {clients} concurrent senders, receiver on SQLite with {} HTTP workers; remote side ready in {:.1} s",
        actor_ids.len(),
        workers.map_or("one per core".to_owned(), |w: usize| w.to_string()),
        t0.elapsed().as_secs_f64()
    );

    let mut phases = Vec::new();
    let label = format!("first contact (1 per actor, {} actors unknown)", actor_ids.len());
    phases.push(phase(&instance, &mut remote, "first", label).await);
    let known = follow_everyone(&instance, readers, actor_ids.clone()).await;
    assert_eq!(known, actor_ids.len(), "every remote actor is known after first contact");
    phases
        .push(phase(&instance, &mut remote, "warm", format!("warm ({READERS} local followers each)")).await);
    phases.push(phase(&instance, &mut remote, "replay", "replay (already received)".into()).await);
    let (stored, received_ids) = count_rows(instance.db()).await;
    let accepted: u64 = phases[..2].iter().map(|p| p.remote["ok"].as_u64().unwrap()).sum();
    let stats: PoolStats = instance.db().stats();

    let samples = read_samples(&samples_path);
    let (breakdown, statements) = breakdown(&instance, samples, clients, workers).await;
    drop(remote);

    print_phases(&phases);
    println!();
    println!(
        "stored remote statuses: {stored}; Creates accepted in the first two phases: {accepted} ({}); \
         received ids recorded: {received_ids}; pool of {} connections, {} callers gave up waiting; \
         receiver peak RSS {:.0} MiB",
        if stored as u64 == accepted { "equal" } else { "DIFFERENT" },
        stats.max_size,
        stats.timeouts,
        peak_rss_mib()
    );
    println!();
    println!("| step of one Create in the receiver (one caller, in process, warm) | time |");
    println!("|---|---|");
    for (what, time) in &breakdown {
        println!("| {what} | {time} |");
    }
    println!();
    println!(
        "SQL per Create (inbox handler, {clients} callers, no HTTP, {PROFILE_SAMPLES} Creates, every statement \
         timed; waits for SQLite's write lock count in the statement that waited): {}",
        statements[0]
    );
    for line in &statements[1..] {
        println!("{line}");
    }
    if std::env::var_os("GUILDHALL_BENCH_KEEP").is_some() {
        println!("kept the database in {}", dir.keep().display());
    }
    instance.stop().await.unwrap();
}
