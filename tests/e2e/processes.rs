//! Several processes on one PostgreSQL database, as behind a load balancer: the real binary
//! (`guildhall serve --role web|worker`) beside an instance in this test process, both one
//! domain. A post made on one reaches a stream open on the other through the database's
//! notifications; a worker killed in the middle of a fan-out loses nothing, and what it
//! delivered is not sent again.

use std::collections::HashMap;
use std::net::TcpListener;
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use actix_web::{App, HttpRequest, HttpResponse, HttpServer, web};
use guildhall::Instance;
use guildhall_api::{HttpOptions, LookCause};
use guildhall_core::config::DatabaseUrl;
use guildhall_core::model::Role;
use guildhall_federation::actions::{self, NewPost};
use guildhall_federation::local_actors::{self, NewUser};
use guildhall_storage::actors::Actor;
use guildhall_storage::outbox::DELIVER_QUEUE;
use guildhall_storage::{jobs, now};
use reqwest::Method as M;
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};
use tokio::sync::{Notify, oneshot};

use crate::client_api::token_at;
use crate::delivery::remote_follower;
use crate::streaming::sse_until;
use crate::support::{Backend, config_with, http};

/// How long anything here may take before the test fails instead of hanging.
const WAIT: Duration = Duration::from_secs(30);

/// The shared database, or `None` (after saying so) where PostgreSQL is not configured.
fn shared_database() -> Option<DatabaseUrl> {
    let url = guildhall_storage::testing::postgres_url();
    if url.is_none() {
        guildhall_storage::testing::cannot_run("GUILDHALL_TEST_POSTGRES_URL not set: several processes");
    }
    url
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// This test process's instance of the domain `localhost:domain_port`, on its own port.
async fn in_process(dir: &std::path::Path, domain_port: u16, url: &DatabaseUrl) -> Instance {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let listen = format!("127.0.0.1:{}", listener.local_addr().unwrap().port());
    let config =
        config_with(dir, domain_port, &Backend::Postgres(url.clone()), &[("GUILDHALL_LISTEN", &listen)]);
    let options = HttpOptions { workers: Some(1), disable_signals: true, run_delivery: false, pages: None };
    Instance::start_on(config, listener, options).await.unwrap()
}

/// `guildhall serve --role ROLE` for the domain `localhost:port`, started once it says it is
/// serving; its log goes on to this test's output.
async fn binary(role: &str, port: u16, dir: &std::path::Path, url: &DatabaseUrl) -> Child {
    let DatabaseUrl::Postgres(raw) = url else { unreachable!("shared databases are PostgreSQL") };
    let mut child = Command::new(env!("CARGO_BIN_EXE_guildhall"))
        .args(["serve", "--role", role])
        .env_clear()
        .env("RUST_LOG", "info")
        .env("GUILDHALL_DOMAIN", format!("localhost:{port}"))
        .env("GUILDHALL_LISTEN", format!("127.0.0.1:{port}"))
        .env("GUILDHALL_DATA_DIR", dir)
        .env("GUILDHALL_DATABASE_URL", raw)
        .stderr(Stdio::piped())
        .stdout(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
    let (ready, serving) = oneshot::channel();
    let role = role.to_owned();
    tokio::spawn(async move {
        let mut ready = Some(ready);
        while let Ok(Some(line)) = lines.next_line().await {
            eprintln!("[{role}] {line}");
            if line.contains("guildhall is serving") {
                ready.take().map(|r| r.send(()));
            }
        }
    });
    tokio::time::timeout(WAIT, serving).await.expect("the binary did not start").expect("it exited");
    child
}

async fn user(instance: &Instance, name: &str) -> Actor {
    let urls = guildhall_federation::Urls::new(instance.config());
    let email = format!("{name}@museum.example");
    let new = NewUser { username: name, email: &email, password: "correct horse", role: Role::User };
    local_actors::create_user(instance.db(), &urls, new).await.unwrap().actor
}

#[tokio::test]
async fn a_post_on_one_process_reaches_a_stream_on_another_when_it_commits() {
    let Some(url) = shared_database() else { return };
    let (dir_a, dir_b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let port = free_port();
    let b = in_process(dir_b.path(), port, &url).await;
    user(&b, "ada").await;
    let mut web = binary("web", port, dir_a.path(), &url).await;
    let b_base = format!("http://localhost:{}", b.port());
    let a_base = format!("http://localhost:{port}");
    // One sign-in serves both: tokens live in the shared database.
    let token = token_at(&a_base, "ada", "read write").await;

    let mut sse =
        http().get(format!("{b_base}/api/v1/streaming/user")).bearer_auth(&token).send().await.unwrap();
    assert_eq!(sse.status(), 200);
    let mut buffer = String::new();
    // A first post, so the poller has run and used any wake-up left from its start.
    post_and_see(&a_base, &token, &mut sse, &mut buffer, "warming up").await;
    for n in 0..3 {
        let woken = b.streams().looks(LookCause::Woken);
        let latency =
            post_and_see(&a_base, &token, &mut sse, &mut buffer, &format!("posted there, {n}")).await;
        eprintln!("post on the web process seen on the other process's stream after {latency:?}");
        // Woken by the other process's notification, not found by the poller's own timer
        // (every 5 s; this process itself wrote nothing).
        assert!(b.streams().looks(LookCause::Woken) > woken, "seen without a wake-up, after {latency:?}");
    }
    web.start_kill().unwrap();
    web.wait().await.unwrap();
    b.stop().await.unwrap();
}

/// Posts `text` through the process at `base` and waits for it on `sse`; returns the time
/// from the post's answer (it has committed) to the event.
async fn post_and_see(
    base: &str,
    token: &str,
    sse: &mut reqwest::Response,
    buffer: &mut String,
    text: &str,
) -> Duration {
    let posted = http()
        .request(M::POST, format!("{base}/api/v1/statuses"))
        .bearer_auth(token)
        .json(&json!({ "status": text }))
        .send()
        .await
        .unwrap();
    assert_eq!(posted.status(), 200);
    let committed = Instant::now();
    let data = sse_until(sse, buffer, "update", text).await;
    let latency = committed.elapsed();
    let update: Value = serde_json::from_str(&data).unwrap();
    assert_eq!(update["account"]["username"], "ada");
    latency
}

/// A stand-in for remote instances: it answers the first `answer_first` deliveries, then holds
/// the rest unanswered until [`Inboxes::answer_all`]; it records every delivery that arrives.
#[derive(Clone, Default)]
struct Inboxes {
    state: Arc<Mutex<Seen>>,
    answered_enough: Arc<Notify>,
    release: Arc<Notify>,
}

#[derive(Default)]
struct Seen {
    answer_first: usize,
    answering_all: bool,
    /// Arrivals by inbox path, in order.
    arrivals: HashMap<String, Vec<Arrival>>,
    answered: usize,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Arrival {
    /// Answered 202.
    Answered,
    /// Held, never answered.
    Held,
}

impl Inboxes {
    /// Listens on `hosts` loopback ports (one remote instance each); returns their ports.
    fn start(answer_first: usize, hosts: usize) -> (Inboxes, Vec<u16>, actix_web::dev::ServerHandle) {
        let inboxes = Inboxes::default();
        inboxes.state.lock().unwrap().answer_first = answer_first;
        let data = web::Data::new(inboxes.clone());
        let mut server =
            HttpServer::new(move || App::new().app_data(data.clone()).default_service(web::to(arrive)))
                .workers(2)
                .disable_signals();
        let mut ports = Vec::new();
        for _ in 0..hosts {
            let listener = TcpListener::bind("127.0.0.1:0").unwrap();
            ports.push(listener.local_addr().unwrap().port());
            server = server.listen(listener).unwrap();
        }
        let server = server.run();
        let handle = server.handle();
        tokio::spawn(server);
        (inboxes, ports, handle)
    }

    /// Answers everything from now on (held requests stay held).
    fn answer_all(&self) {
        self.state.lock().unwrap().answering_all = true;
    }

    fn arrivals(&self) -> HashMap<String, Vec<Arrival>> {
        self.state.lock().unwrap().arrivals.clone()
    }
}

async fn arrive(request: HttpRequest, inboxes: web::Data<Inboxes>) -> HttpResponse {
    let answer = {
        let mut seen = inboxes.state.lock().unwrap();
        let answer = seen.answering_all || seen.answered < seen.answer_first;
        let arrival = if answer { Arrival::Answered } else { Arrival::Held };
        seen.arrivals.entry(request.path().to_owned()).or_default().push(arrival);
        if answer {
            seen.answered += 1;
            if seen.answered == seen.answer_first {
                inboxes.answered_enough.notify_one();
            }
        }
        answer
    };
    if !answer {
        inboxes.release.notified().await;
    }
    HttpResponse::Accepted().finish()
}

/// Deliveries still queued.
async fn queued(instance: &Instance) -> usize {
    instance.db().run(|c| jobs::all(c, DELIVER_QUEUE)).await.unwrap().len()
}

#[tokio::test]
async fn a_worker_killed_mid_fan_out_loses_nothing_and_resends_only_what_was_in_flight() {
    const ANSWERED_FIRST: usize = 12;
    let Some(url) = shared_database() else { return };
    let (dir_a, dir_b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let port = free_port();
    let b = in_process(dir_b.path(), port, &url).await;
    let ada = user(&b, "ada").await;
    // Four remote instances, ten followers on each with an inbox of their own: one post is
    // forty deliveries.
    let (inboxes, hosts, server) = Inboxes::start(ANSWERED_FIRST, 4);
    let mut followers = 0;
    for (h, host) in hosts.iter().enumerate() {
        for f in 0..10 {
            remote_follower(&b, &ada, &format!("f{h}x{f}"), *host).await;
            followers += 1;
        }
    }
    actions::post(&b.federation(), &ada, NewPost::public("every follower gets this once")).await.unwrap();
    assert_eq!(queued(&b).await, followers);

    // The worker process takes the fan-out; it is killed once a dozen deliveries are answered
    // and recorded, with the rest in flight (their inboxes hold them unanswered).
    let mut worker = binary("worker", port, dir_a.path(), &url).await;
    tokio::time::timeout(WAIT, inboxes.answered_enough.notified()).await.expect("no deliveries answered");
    let deadline = Instant::now() + WAIT;
    while queued(&b).await > followers - ANSWERED_FIRST {
        assert!(Instant::now() < deadline, "the worker did not record what was answered");
        tokio::task::yield_now().await;
    }
    worker.start_kill().unwrap();
    worker.wait().await.unwrap();
    let before = inboxes.arrivals();
    inboxes.answer_all();

    // The other process takes over once the dead worker's lease runs out.
    let after_lease = now() + guildhall_federation::delivery::LEASE + chrono::Duration::seconds(1);
    b.delivery().flush_as_of(after_lease).await.unwrap();
    assert_eq!(queued(&b).await, 0, "every delivery is done");
    let arrivals = inboxes.arrivals();
    assert_eq!(arrivals.len(), followers, "every follower's inbox was reached");
    let mut resent = 0;
    for (inbox, seen) in &arrivals {
        let answered = seen.iter().filter(|a| **a == Arrival::Answered).count();
        assert_eq!(answered, 1, "{inbox} accepted the post exactly once: {seen:?}");
        let answered_before_kill = before.get(inbox).is_some_and(|s| s.contains(&Arrival::Answered));
        if answered_before_kill {
            assert_eq!(seen.len(), 1, "{inbox} accepted it before the kill and got it again: {seen:?}");
        } else {
            resent += 1;
        }
    }
    assert_eq!(resent, followers - ANSWERED_FIRST, "only what was in flight was sent again");
    inboxes.release.notify_waiters();
    server.stop(false).await;
    drop(dir_a);
    b.stop().await.unwrap();
}
