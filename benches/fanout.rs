//! Fan-out benchmark: one post to 5,000 followers on 500 instances, then a burst of 100 posts;
//! then one post into a group of 5,000 members on the same 500 instances, which the group
//! relays (one in five of those instances is marked as Mastodon, so it also gets the plain
//! `Announce` of the post).
//!
//! The 500 "instances" are one local receiver process listening on 500 loopback ports; it
//! verifies the HTTP signature and digest of every request, as a real inbox would. The sender
//! is a whole Guildhall instance on SQLite; its delivery worker is flushed, so the numbers are
//! end to end: queue, claim, sign, POST, verify, record. Sender and receiver CPU are reported
//! apart (both share this machine's two cores). Run:
//!
//! ```sh
//! cargo bench --bench fanout                    # aws-lc signing
//! GUILDHALL_BENCH_SIGNER=rsa cargo bench --bench fanout   # the rsa crate, for comparison
//! GUILDHALL_BENCH_POSTS=20 cargo bench --bench fanout     # a shorter burst
//! ```
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::net::TcpListener;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

use actix_web::{App, HttpRequest, HttpResponse, HttpServer, web};
use guildhall::Instance;
use guildhall_api::HttpOptions;
use guildhall_core::Config;
use guildhall_core::model::{ActorKind, FollowState, GroupVisibility, Membership, PostingPolicy, Role};
use guildhall_federation::actions::{self, NewPost};
use guildhall_federation::delivery::DeliveryWorker;
use guildhall_federation::local_actors::{NewGroup, NewUser, create_group, create_user};
use guildhall_federation::signing::IncomingSignature;
use guildhall_storage::actors::{Actor, ActorUrls};
use guildhall_storage::{actors, follows, instances};

const INSTANCES: usize = 500;
const FOLLOWERS_PER_INSTANCE: usize = 10;

#[derive(Clone)]
struct Receiver {
    /// Public key PEM by key id.
    keys: Arc<BTreeMap<String, String>>,
    verified: Arc<AtomicUsize>,
    refused: Arc<AtomicUsize>,
}

async fn counts(state: web::Data<Receiver>) -> HttpResponse {
    let verified = state.verified.load(Ordering::Relaxed);
    let refused = state.refused.load(Ordering::Relaxed);
    HttpResponse::Ok().body(format!("{verified} {refused} {}", cpu_seconds()))
}

async fn inbox(request: HttpRequest, body: web::Bytes, state: web::Data<Receiver>) -> HttpResponse {
    let headers: BTreeMap<String, String> = request
        .headers()
        .iter()
        .filter_map(|(k, v)| Some((k.as_str().to_owned(), v.to_str().ok()?.to_owned())))
        .collect();
    let path = request.uri().path().to_owned();
    // The receiver stands in for many instances: each request's own host is "ours".
    let host = headers.get("host").cloned().unwrap_or_default();
    let ok = IncomingSignature::parse("POST", &path, headers, Some(&body), &host)
        .is_ok_and(|sig| state.keys.get(sig.key_id()).is_some_and(|pem| sig.verify(pem).is_ok()));
    let counter = if ok { &state.verified } else { &state.refused };
    counter.fetch_add(1, Ordering::Relaxed);
    if ok { HttpResponse::Accepted().finish() } else { HttpResponse::Unauthorized().finish() }
}

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

/// Runs in the child process: serve, print the ports, live until killed.
async fn receiver_main() {
    let keys = std::env::var("GUILDHALL_BENCH_KEYS").unwrap();
    let keys = keys
        .lines()
        .filter_map(|l| l.split_once('\t'))
        .map(|(id, pem)| (id.to_owned(), pem.replace('|', "\n")))
        .collect();
    let ports = start_receiver(keys);
    println!("{}", ports.iter().map(u16::to_string).collect::<Vec<_>>().join(","));
    std::future::pending::<()>().await;
}

fn start_receiver(keys: BTreeMap<String, String>) -> Vec<u16> {
    let state = Receiver {
        keys: Arc::new(keys),
        verified: Arc::new(AtomicUsize::new(0)),
        refused: Arc::new(AtomicUsize::new(0)),
    };
    let data = web::Data::new(state.clone());
    let mut server = HttpServer::new(move || {
        App::new()
            .app_data(data.clone())
            .route("/counts", web::get().to(counts))
            .default_service(web::post().to(inbox))
    })
    .workers(1)
    .disable_signals()
    .backlog(4096);
    let mut ports = Vec::new();
    for _ in 0..INSTANCES {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        ports.push(listener.local_addr().unwrap().port());
        server = server.listen(listener).unwrap();
    }
    tokio::spawn(server.run());
    ports
}

/// The receiver child process and how to ask it for its counts.
struct ReceiverProcess {
    child: std::process::Child,
    ports: Vec<u16>,
}

impl ReceiverProcess {
    /// A receiver that accepts signatures by these actors' keys.
    fn spawn(signers: &[&Actor]) -> ReceiverProcess {
        use std::io::BufRead;
        let keys: Vec<String> = signers
            .iter()
            .map(|a| {
                let pem = a.public_key_pem.as_deref().unwrap().replace('\n', "|");
                format!("{}\t{pem}", a.public_key_id.as_deref().unwrap())
            })
            .collect();
        let mut child = std::process::Command::new(std::env::current_exe().unwrap())
            .env("GUILDHALL_BENCH_ROLE", "receiver")
            .env("GUILDHALL_BENCH_KEYS", keys.join("\n"))
            .stdout(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let mut line = String::new();
        std::io::BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
        let ports = line.trim().split(',').map(|p| p.parse().unwrap()).collect();
        ReceiverProcess { child, ports }
    }

    /// (verified, refused, receiver CPU seconds).
    async fn counts(&self) -> (usize, usize, f64) {
        let url = format!("http://localhost:{}/counts", self.ports[0]);
        let text = reqwest::get(url).await.unwrap().text().await.unwrap();
        let parts: Vec<&str> = text.split_whitespace().collect();
        (parts[0].parse().unwrap(), parts[1].parse().unwrap(), parts[2].parse().unwrap())
    }
}

impl Drop for ReceiverProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

async fn add_followers(instance: &Instance, target: &Actor, ports: &[u16]) {
    let target_id = target.id;
    let ports = ports.to_vec();
    instance
        .db()
        .run(move |c| {
            guildhall_storage::transaction(c, |c| {
                for port in &ports {
                    let domain = format!("localhost:{port}");
                    let inst = instances::get_or_create(c, &domain)?;
                    for i in 0..FOLLOWERS_PER_INSTANCE {
                        let ap_id = format!("http://{domain}/users/f{i}");
                        let urls = ActorUrls {
                            inbox: format!("{ap_id}/inbox"),
                            shared_inbox: Some(format!("http://{domain}/inbox")),
                            outbox: None,
                            followers: None,
                            following: None,
                            profile: None,
                            ap_id,
                        };
                        let mut row =
                            Actor::new_local(ActorKind::Person, &format!("f{i}"), urls, "unused".into());
                        row.domain = Some(domain.clone());
                        row.instance_id = Some(inst.id);
                        let stored = actors::upsert_remote(c, &row)?;
                        follows::upsert(c, stored.id, target_id, FollowState::Accepted, None)?;
                    }
                }
                Ok(())
            })
        })
        .await
        .unwrap();
}

/// Marks every `every`-th receiving instance as running Mastodon.
async fn mark_mastodon(instance: &Instance, ports: &[u16], every: usize) -> usize {
    let domains: Vec<String> = ports.iter().step_by(every).map(|p| format!("localhost:{p}")).collect();
    let n = domains.len();
    instance
        .db()
        .run(move |c| {
            for domain in &domains {
                let inst = instances::get_or_create(c, domain)?;
                instances::set_software(c, inst.id, "mastodon", Some("4.3.0"))?;
            }
            Ok(())
        })
        .await
        .unwrap();
    n
}

async fn measure(label: &str, worker: &DeliveryWorker, receiver: &ReceiverProcess, run: impl AsyncFnOnce()) {
    let (v0, _, rcpu0) = receiver.counts().await;
    let (cpu0, t0) = (cpu_seconds(), Instant::now());
    run().await;
    let sent = worker.flush().await.unwrap();
    let secs = t0.elapsed().as_secs_f64();
    let cpu = cpu_seconds() - cpu0;
    let (v1, refused, rcpu1) = receiver.counts().await;
    let per = |s: f64| s * 1e6 / sent.max(1) as f64;
    println!(
        "{label}: {sent} deliveries ({} verified, {refused} refused) in {secs:.2} s = {:.0} deliveries/s; \
         CPU per delivery: sender {:.0} µs, verifying receiver {:.0} µs; sender peak RSS {:.0} MiB",
        v1 - v0,
        sent as f64 / secs,
        per(cpu),
        per(rcpu1 - rcpu0),
        peak_rss_mib(),
    );
}

#[tokio::main]
async fn main() {
    if std::env::var("GUILDHALL_BENCH_ROLE").is_ok_and(|r| r == "receiver") {
        return receiver_main().await;
    }
    let rsa_crate = std::env::var("GUILDHALL_BENCH_SIGNER").is_ok_and(|v| v == "rsa");
    let posts: usize =
        std::env::var("GUILDHALL_BENCH_POSTS").ok().and_then(|v| v.parse().ok()).unwrap_or(100);
    let dir = tempfile::tempdir().unwrap();
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let env = vec![
        ("GUILDHALL_DOMAIN".to_string(), format!("localhost:{port}")),
        ("GUILDHALL_DATA_DIR".to_string(), dir.path().display().to_string()),
    ];
    let config = Config::load(None, env).unwrap();
    let options = HttpOptions { workers: Some(1), disable_signals: true, run_delivery: false, pages: None };
    let instance = Instance::start_on(config, listener, options).await.unwrap();
    let urls = guildhall_federation::Urls::new(instance.config());
    let new =
        NewUser { username: "ada", email: "ada@museum.example", password: "correct horse", role: Role::User };
    let ada = create_user(instance.db(), &urls, new).await.unwrap().actor;
    let new =
        NewUser { username: "cy", email: "cy@museum.example", password: "correct horse", role: Role::User };
    let cy = create_user(instance.db(), &urls, new).await.unwrap().actor;
    let circle = NewGroup {
        name: "circle",
        owner: "cy",
        display_name: None,
        membership: Membership::Open,
        posting: PostingPolicy::Members,
        visibility: GroupVisibility::Public,
    };
    let circle = create_group(instance.db(), &urls, circle).await.unwrap().0;
    let receiver = ReceiverProcess::spawn(&[&ada, &circle]);
    add_followers(&instance, &ada, &receiver.ports).await;
    let worker =
        DeliveryWorker::with_signing(instance.db().clone(), Arc::new(Default::default()), true, rsa_crate)
            .unwrap();
    let signer = if rsa_crate { "rsa crate" } else { "aws-lc" };
    println!(
        "fan-out: {} followers on {INSTANCES} instances, signing with {signer}",
        INSTANCES * FOLLOWERS_PER_INSTANCE
    );
    let fed = instance.federation();
    measure("one post", &worker, &receiver, async || {
        actions::post(&fed, &ada, NewPost::public("one post")).await.unwrap();
    })
    .await;
    if posts > 0 {
        measure(&format!("burst of {posts} posts"), &worker, &receiver, async || {
            for n in 0..posts {
                actions::post(&fed, &ada, NewPost::public(&format!("post {n}"))).await.unwrap();
            }
        })
        .await;
    }

    add_followers(&instance, &circle, &receiver.ports).await;
    let mastodon = mark_mastodon(&instance, &receiver.ports, 5).await;
    println!(
        "group: {} members on {INSTANCES} instances ({mastodon} of them Mastodon, which also get the plain form)",
        INSTANCES * FOLLOWERS_PER_INSTANCE
    );
    measure("one post in the group", &worker, &receiver, async || {
        actions::post(&fed, &cy, NewPost::public("Meeting notes are up @circle")).await.unwrap();
    })
    .await;
    instance.stop().await.unwrap();
}
