//! The delivery worker against servers that fail in every way: retries, giving up, 410,
//! the circuit breaker, and a crash in the middle of a fan-out.

use std::net::TcpListener;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use actix_web::{App, HttpResponse, HttpServer, web};
use chrono::Duration;
use guildhall_core::model::{ActorKind, FollowState};
use guildhall_federation::actions::{self, NewPost};
use guildhall_storage::actors::{Actor, ActorUrls};
use guildhall_storage::outbox::DELIVER_QUEUE;
use guildhall_storage::{actors, follows, instances, jobs, now};

use crate::support::{Cluster, TestInstance};

/// A stand-in remote server that answers every POST with `status` and counts them.
struct FakeRemote {
    port: u16,
    hits: Arc<AtomicUsize>,
    handle: actix_web::dev::ServerHandle,
}

impl FakeRemote {
    fn start(status: u16) -> FakeRemote {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let hits = Arc::new(AtomicUsize::new(0));
        let counter = hits.clone();
        let server = HttpServer::new(move || {
            let counter = counter.clone();
            App::new().default_service(web::to(move || {
                    counter.fetch_add(1, Ordering::SeqCst);
                    async move {
                        HttpResponse::build(actix_web::http::StatusCode::from_u16(status).unwrap()).finish()
                    }
                }))
        })
        .workers(1)
        .disable_signals()
        .listen(listener)
        .unwrap()
        .run();
        let handle = server.handle();
        tokio::spawn(server);
        FakeRemote { port, hits, handle }
    }

    fn hits(&self) -> usize {
        self.hits.load(Ordering::SeqCst)
    }
}

/// A remote follower of `target` living at `localhost:port`, with only a personal inbox.
pub(crate) async fn remote_follower(
    node: &guildhall::Instance,
    target: &Actor,
    name: &str,
    port: u16,
) -> Actor {
    let base = format!("http://localhost:{port}");
    let ap_id = format!("{base}/users/{name}");
    let urls = ActorUrls {
        inbox: format!("{ap_id}/inbox"),
        shared_inbox: None,
        outbox: None,
        followers: None,
        following: None,
        profile: None,
        ap_id,
    };
    let mut row = Actor::new_local(ActorKind::Person, name, urls, "PUB".into());
    row.domain = Some(format!("localhost:{port}"));
    let target_id = target.id;
    node.db()
        .run(move |c| {
            let instance = instances::get_or_create(c, row.domain.as_deref().unwrap_or_default())?;
            row.instance_id = Some(instance.id);
            let stored = actors::upsert_remote(c, &row)?;
            follows::upsert(c, stored.id, target_id, FollowState::Accepted, None)?;
            Ok(stored)
        })
        .await
        .unwrap()
}

async fn job_states(node: &TestInstance) -> Vec<(String, i32, bool)> {
    node.instance
        .db()
        .run(|c| {
            Ok(jobs::all(c, DELIVER_QUEUE)?
                .into_iter()
                .map(|j| (j.partition_key.unwrap_or_default(), j.attempts, j.failed_at.is_some()))
                .collect())
        })
        .await
        .unwrap()
}

#[tokio::test]
async fn failures_retry_give_up_or_drop_the_follower_and_never_block_live_instances() {
    let cluster = Cluster::start(2).await;
    let [a, b] = &cluster.nodes[..] else { unreachable!() };
    let ada = a.user("ada").await;
    let bob = b.user("bob").await;
    let ada_at_b = actions::resolve_actor(&b.fed(), &a.handle("ada")).await.unwrap();
    actions::follow(&b.fed(), &bob, &ada_at_b).await.unwrap();
    cluster.flush().await;

    let flaky = FakeRemote::start(503);
    let gone = FakeRemote::start(410);
    let refusing = FakeRemote::start(400);
    let dead_port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port(); // closed again
    remote_follower(&a.instance, &ada, "flaky", flaky.port).await;
    let gone_actor = remote_follower(&a.instance, &ada, "gone", gone.port).await;
    remote_follower(&a.instance, &ada, "refusing", refusing.port).await;
    remote_follower(&a.instance, &ada, "dead", dead_port).await;

    let post = actions::post(&a.fed(), &ada, NewPost::public("to everyone")).await.unwrap();
    cluster.flush().await;
    assert!(b.status(&post.ap_id).await.is_some(), "the live instance got it at once");
    assert_eq!((flaky.hits(), gone.hits(), refusing.hits()), (1, 1, 1));

    let states = job_states(a).await;
    let state_of = |port: u16| states.iter().find(|(k, _, _)| k == &format!("localhost:{port}")).cloned();
    assert_eq!(state_of(flaky.port).map(|s| (s.1, s.2)), Some((1, false)), "503 is retried");
    assert_eq!(state_of(dead_port).map(|s| (s.1, s.2)), Some((1, false)), "a dead server is retried");
    assert_eq!(state_of(refusing.port).map(|s| s.2), Some(true), "400 is given up");
    assert_eq!(state_of(gone.port).map(|s| s.2), Some(true), "410 is given up");
    let gone_now = a.actor(&gone_actor.ap_id).await.unwrap();
    assert!(gone_now.deleted_at.is_some(), "410 from a personal inbox: the actor is gone");
    let gone_follow = a.instance.db().run(move |c| follows::find(c, gone_now.id, ada.id)).await.unwrap();
    assert!(gone_follow.is_none(), "and no longer follows");

    // Keep failing: after enough failures the breaker opens and the dead instances are skipped,
    // while a new post still reaches B at once.
    for hour in 1..=6 {
        a.instance.delivery().flush_as_of(now() + Duration::hours(24 * hour)).await.unwrap();
    }
    let open = a.instance.db().run(|c| instances::unreachable(c, now())).await.unwrap();
    assert!(
        open.contains(&format!("localhost:{}", flaky.port))
            && open.contains(&format!("localhost:{dead_port}")),
        "{open:?}"
    );
    let flaky_hits = flaky.hits();
    let second = actions::post(&a.fed(), &ada, NewPost::public("still here")).await.unwrap();
    a.instance.delivery().flush().await.unwrap();
    assert!(b.status(&second.ap_id).await.is_some());
    assert_eq!(flaky.hits(), flaky_hits, "an open breaker holds deliveries back");

    for fake in [flaky, gone, refusing] {
        fake.handle.stop(false).await;
    }
    cluster.stop().await;
}

/// A remote server that holds every POST open until released, and says how many it holds
/// now and at most at once.
struct StalledRemote {
    port: u16,
    held: tokio::sync::watch::Receiver<usize>,
    peak: Arc<AtomicUsize>,
    release: tokio::sync::watch::Sender<bool>,
    handle: actix_web::dev::ServerHandle,
}

/// One request held: counted while it lasts (a client that gives up drops it).
struct Holding(Arc<tokio::sync::watch::Sender<usize>>);

impl Drop for Holding {
    fn drop(&mut self) {
        self.0.send_modify(|n| *n -= 1);
    }
}

impl StalledRemote {
    fn start() -> StalledRemote {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let (count, held) = tokio::sync::watch::channel(0usize);
        let (release, released) = tokio::sync::watch::channel(false);
        let (count, peak) = (Arc::new(count), Arc::new(AtomicUsize::new(0)));
        let max = peak.clone();
        let server = HttpServer::new(move || {
            let (count, released, max) = (count.clone(), released.clone(), max.clone());
            App::new().default_service(web::to(move || {
                count.send_modify(|n| {
                    *n += 1;
                    max.fetch_max(*n, Ordering::SeqCst);
                });
                let holding = Holding(count.clone());
                let mut released = released.clone();
                async move {
                    let _ = released.wait_for(|r| *r).await;
                    drop(holding);
                    HttpResponse::Accepted().finish()
                }
            }))
        })
        .workers(1)
        .disable_signals()
        .listen(listener)
        .unwrap()
        .run();
        let handle = server.handle();
        tokio::spawn(server);
        StalledRemote { port, held, peak, release, handle }
    }
}

/// An instance that takes every request and never answers must not hold up the others,
/// however many deliveries it has queued: more than the global limit here.
#[tokio::test]
async fn deliveries_queued_for_a_stalled_instance_do_not_hold_up_the_others() {
    use guildhall_core::model::Visibility;
    use guildhall_federation::delivery::{GLOBAL_CONCURRENCY, PER_INSTANCE_CONCURRENCY};

    let cluster = Cluster::start(2).await;
    let [a, b] = &cluster.nodes[..] else { unreachable!() };
    let ada = a.user("ada").await;
    b.user("bob").await;
    let stalled = StalledRemote::start();
    for i in 0..GLOBAL_CONCURRENCY + 12 {
        remote_follower(&a.instance, &ada, &format!("f{i}"), stalled.port).await;
    }
    actions::post(&a.fed(), &ada, NewPost::public("to the stalled server")).await.unwrap();
    let worker = a.instance.delivery();
    let first = tokio::spawn({
        let worker = worker.clone();
        async move { worker.flush().await }
    });
    let mut held = stalled.held.clone();
    held.wait_for(|n| *n >= PER_INSTANCE_CONCURRENCY).await.unwrap();

    // A direct message to bob on B goes out while the stalled server still holds its requests.
    let text = format!("are you there, @{}?", b.handle("bob"));
    let direct = NewPost { visibility: Visibility::Direct, ..NewPost::public(&text) };
    let direct = actions::post(&a.fed(), &ada, direct).await.unwrap();
    // Well within the client's 10 s request timeout, which would free the permits anyway.
    let second = tokio::time::timeout(std::time::Duration::from_secs(8), worker.flush()).await;
    assert_eq!(second.expect("blocked behind the stalled instance").unwrap(), 1);
    assert!(b.status(&direct.ap_id).await.is_some(), "B got the direct message");
    assert_eq!(
        stalled.peak.load(Ordering::SeqCst),
        PER_INSTANCE_CONCURRENCY,
        "at most 8 at once to one instance"
    );
    assert!(!first.is_finished());

    stalled.release.send(true).unwrap();
    assert_eq!(first.await.unwrap().unwrap(), GLOBAL_CONCURRENCY + 12);
    stalled.handle.stop(false).await;
    cluster.stop().await;
}

#[tokio::test]
async fn a_fan_out_interrupted_by_a_crash_completes_after_restart() {
    let dir = tempfile::tempdir().unwrap();
    let b = TestInstance::start(&crate::support::Backend::Sqlite).await;
    let receivers = [b.user("r1").await, b.user("r2").await];
    let first = crate::support::start_in(dir.path(), &crate::support::Backend::Sqlite).await;
    let a_urls = guildhall_federation::Urls::new(first.config());
    let new = guildhall_federation::local_actors::NewUser {
        username: "ada",
        email: "ada@museum.example",
        password: "correct horse",
        role: guildhall_core::model::Role::User,
    };
    let ada = guildhall_federation::local_actors::create_user(first.db(), &a_urls, new).await.unwrap().actor;
    // Two followers on B, which share one inbox there.
    for r in &receivers {
        let ada_at_b =
            actions::resolve_actor(&b.fed(), &format!("ada@{}", first.config().domain)).await.unwrap();
        actions::follow(&b.fed(), r, &ada_at_b).await.unwrap();
    }
    b.instance.delivery().flush().await.unwrap();
    first.delivery().flush().await.unwrap();
    b.instance.delivery().flush().await.unwrap();

    let post = actions::post(&first.federation(), &ada, NewPost::public("do not lose me")).await.unwrap();
    // The worker claims the deliveries and dies before sending: simulate by leasing them to a
    // worker that never reports back, then stopping the process.
    let claimed = first
        .db()
        .run(|c| {
            jobs::claim(c, DELIVER_QUEUE, "crashed-worker", 100, now(), now() + Duration::minutes(2), &[])
        })
        .await
        .unwrap();
    assert_eq!(claimed.len(), 1, "one shared inbox on B");
    first.stop().await.unwrap();
    assert!(b.status(&post.ap_id).await.is_none());

    // Restart on the same data: once the dead worker's lease has run out, the delivery happens.
    let second = crate::support::start_in(dir.path(), &crate::support::Backend::Sqlite).await;
    assert_eq!(second.delivery().flush().await.unwrap(), 0, "the lease still holds");
    let sent = second.delivery().flush_as_of(now() + Duration::minutes(3)).await.unwrap();
    assert_eq!(sent, 1);
    assert!(b.status(&post.ap_id).await.is_some(), "delivered after the restart");
    second.stop().await.unwrap();
    b.instance.stop().await.unwrap();
}

/// Two processes on one PostgreSQL database share the queue and send nothing twice.
#[tokio::test]
async fn two_processes_on_postgres_share_the_queue_without_duplicates() {
    let Some(url) = guildhall_storage::testing::postgres_url() else {
        guildhall_storage::testing::cannot_run("GUILDHALL_TEST_POSTGRES_URL not set: the two-process test");
        return;
    };
    let backend = crate::support::Backend::Postgres(url);
    let dir = tempfile::tempdir().unwrap();
    let one = crate::support::start_in(dir.path(), &backend).await;
    let ada = {
        let urls = guildhall_federation::Urls::new(one.config());
        let new = guildhall_federation::local_actors::NewUser {
            username: "ada",
            email: "ada@museum.example",
            password: "correct horse",
            role: guildhall_core::model::Role::User,
        };
        guildhall_federation::local_actors::create_user(one.db(), &urls, new).await.unwrap().actor
    };
    let fakes: Vec<FakeRemote> = (0..8).map(|_| FakeRemote::start(202)).collect();
    let mut expected = 0;
    for fake in &fakes {
        for i in 0..6 {
            remote_follower(&one, &ada, &format!("f{i}"), fake.port).await;
            expected += 1;
        }
    }
    // A second process: same configuration, same database.
    let two_dir = tempfile::tempdir().unwrap();
    let two = crate::support::start_in(two_dir.path(), &backend).await;
    for n in 0..3 {
        actions::post(&one.federation(), &ada, NewPost::public(&format!("post {n}"))).await.unwrap();
    }
    let (a, b) = tokio::join!(one.delivery().flush(), two.delivery().flush());
    let (a, b) = (a.unwrap(), b.unwrap());
    let hits: usize = fakes.iter().map(FakeRemote::hits).sum();
    assert_eq!(hits, expected * 3, "every inbox got every post exactly once");
    assert_eq!(a + b, expected * 3);
    for fake in fakes {
        fake.handle.stop(false).await;
    }
    one.stop().await.unwrap();
    two.stop().await.unwrap();
}

/// Deliveries already queued for a domain that is suspended afterwards are given up without a
/// request; the others in the same batch still go out.
#[tokio::test]
async fn queued_deliveries_to_a_domain_suspended_since_are_dropped_unsent() {
    let a = TestInstance::start(&crate::support::Backend::Sqlite).await;
    let ada = a.user("ada").await;
    let (kept, suspended) = (FakeRemote::start(202), FakeRemote::start(202));
    remote_follower(&a.instance, &ada, "kept", kept.port).await;
    remote_follower(&a.instance, &ada, "cut", suspended.port).await;
    actions::post(&a.fed(), &ada, NewPost::public("before the block")).await.unwrap();
    let block = guildhall_storage::instance_blocks::NewBlock {
        domain: format!("localhost:{}", suspended.port),
        severity: guildhall_core::model::BlockSeverity::Suspend,
        reject_media: false,
        public_comment: String::new(),
        private_comment: String::new(),
    };
    a.instance.db().run(move |c| guildhall_storage::instance_blocks::upsert(c, &block)).await.unwrap();
    a.instance.delivery().flush().await.unwrap();
    assert_eq!((kept.hits(), suspended.hits()), (1, 0));
    let states = job_states(&a).await;
    let cut = states.iter().find(|(k, _, _)| k == &format!("localhost:{}", suspended.port));
    assert_eq!(cut.map(|s| s.2), Some(true), "given up, not retried: {states:?}");
    for fake in [kept, suspended] {
        fake.handle.stop(false).await;
    }
}
