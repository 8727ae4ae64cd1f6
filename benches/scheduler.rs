//! The durable scheduler: how many timed jobs a second it runs, and how late a discussion
//! hour's prompts go out while it is busy.
//!
//! 1. Throughput: `REMINDERS` event reminders (each one transaction: checks, a sent-record
//!    and a notification), all due, run by one process (`flush_as_of`).
//! 2. Throughput of posting jobs: an hour's intro and `PROMPTS_FLUSHED` prompts, all due, each
//!    a status posted by the group (rendered, stored, announced to the members' servers).
//! 3. Lateness under load: the scheduler loop runs as in production while `BACKLOG`
//!    reminders are due at once; an hour starts three seconds later with a prompt every two
//!    seconds. For each prompt: the time its status was stored minus the time it was due.
//!
//! Run: `cargo bench --bench scheduler` (SQLite in a temporary directory; set
//! `GUILDHALL_BENCH_DATABASE_URL=postgres://…` to run it on PostgreSQL).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::net::TcpListener;
use std::time::{Duration, Instant};

use guildhall::Instance;
use guildhall_api::HttpOptions;
use guildhall_core::model::{ActorKind, GroupVisibility, JoinMode, Membership, PostingPolicy, Role};
use guildhall_core::{Config, Id};
use guildhall_federation::local_actors::{NewGroup, NewUser, create_group, create_user};
use guildhall_storage::actors::{self, Actor, ActorUrls};
use guildhall_storage::events::{self, Event, JoinRequest};
use guildhall_storage::hours::{self, NewHour, Prompt};
use guildhall_storage::jobs::{self, NewJob};
use guildhall_storage::{Timestamp, now, statuses};
use tokio::sync::watch;

const REMINDERS: usize = 5_000;
const PROMPTS_FLUSHED: usize = 40;
const BACKLOG: usize = 20_000;
const LIVE_PROMPTS: i64 = 20;

fn local_person(base: &str, i: usize) -> Actor {
    let name = format!("member{i}");
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

async fn start() -> (Instance, tempfile::TempDir) {
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
    let config = Config::load(None, env).unwrap();
    let options = HttpOptions { run_delivery: false, ..HttpOptions::default() };
    (Instance::start_on(config, listener, options).await.unwrap(), dir)
}

fn event_status(author: &Actor) -> statuses::Status {
    let (id, stamp) = (Id::generate().0, now());
    statuses::Status {
        id,
        ap_id: format!("{}/statuses/{id}", author.ap_id),
        url: None,
        actor_id: author.id,
        local: true,
        kind: "Event".into(),
        in_reply_to_id: None,
        in_reply_to_ap_id: None,
        in_reply_to_actor_id: None,
        reblog_of_id: None,
        group_id: None,
        visibility: "public".into(),
        title: Some("Study day".into()),
        content: "<p>Study day</p>".into(),
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

/// An event by `organizer` and `n` local members coming, each with a reminder job due now.
async fn seed_reminders(instance: &Instance, organizer: &Actor, n: usize, first: usize) {
    let (organizer, base) = (organizer.clone(), instance.federation().urls.base().to_owned());
    instance
        .db()
        .run(move |c| {
            guildhall_storage::transaction(c, |c| {
                let status = event_status(&organizer);
                statuses::insert(c, &status)?;
                let event = Event {
                    status_id: status.id,
                    name: "Study day".into(),
                    starts_at: now() + chrono::Duration::hours(2),
                    ends_at: None,
                    timezone: None,
                    place_name: None,
                    street: None,
                    locality: None,
                    postal_code: None,
                    country: None,
                    online_url: None,
                    capacity: None,
                    join_mode: JoinMode::Free.as_str().into(),
                    external_url: None,
                    event_status: "scheduled".into(),
                    category: None,
                    remote_participants: None,
                    remote_remaining: None,
                    updated_at: now(),
                };
                events::upsert(c, &event)?;
                let mut new_jobs = Vec::with_capacity(n);
                for i in 0..n {
                    let person = local_person(&base, first + i);
                    actors::insert_local(c, &person, "KEY")?;
                    let p = events::join_local(c, &event, person.id, JoinRequest::default())?.unwrap();
                    new_jobs.push(NewJob {
                        queue: events::REMINDER_QUEUE.into(),
                        payload: serde_json::json!({
                            "participant_id": p.id, "minutes_before": 60,
                            "starts_at": event.starts_at.and_utc().timestamp_micros(),
                        })
                        .to_string(),
                        partition_key: None,
                        run_at: now() - chrono::Duration::seconds(1),
                        max_attempts: 10,
                    });
                }
                jobs::enqueue_many(c, new_jobs)?;
                Ok(())
            })
        })
        .await
        .unwrap();
}

/// An hour of `group` whose first edition starts at `start`, with `prompts` prompts
/// `every` seconds apart from `first_offset`.
async fn seed_hour(
    instance: &Instance,
    group: i64,
    start: Timestamp,
    prompts: i64,
    first_offset: i64,
    every: i64,
) {
    let prompts: Vec<Prompt> = (0..prompts)
        .map(|i| Prompt { offset_seconds: first_offset + i * every, text: format!("Question {}", i + 1) })
        .collect();
    let new = NewHour {
        group_id: group,
        title: "Bench hour".into(),
        hashtag: "BenchHour".into(),
        rrule: "FREQ=DAILY".into(),
        dtstart: start,
        timezone: "UTC".into(),
        duration_minutes: 720,
        intro: "Welcome".into(),
        prompts,
        host_id: None,
        created_by: None,
    };
    instance.db().run(move |c| hours::create(c, new, start)).await.unwrap();
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

#[tokio::main]
async fn main() {
    let (instance, _dir) = start().await;
    let urls = guildhall_federation::Urls::new(instance.config());
    let new = NewUser {
        username: "host",
        email: "host@museum.example",
        password: "correct horse",
        role: Role::User,
    };
    let host = create_user(instance.db(), &urls, new).await.unwrap().actor;
    let new = NewGroup {
        name: "benchgroup",
        owner: "host",
        display_name: None,
        membership: Membership::Open,
        posting: PostingPolicy::Members,
        visibility: GroupVisibility::Public,
    };
    let (group, _) = create_group(instance.db(), &urls, new).await.unwrap();
    let scheduler = instance.scheduler().clone();

    seed_reminders(&instance, &host, REMINDERS, 0).await;
    let began = Instant::now();
    let ran = scheduler.flush_as_of(now()).await.unwrap();
    let took = began.elapsed();
    println!(
        "| reminders (1 transaction + notification each) | {ran} jobs | {:.0} jobs/s |",
        ran as f64 / took.as_secs_f64()
    );

    let start = now() - chrono::Duration::seconds(1);
    seed_hour(&instance, group.id, start, PROMPTS_FLUSHED as i64, 0, 0).await;
    let began = Instant::now();
    let ran = scheduler.flush_as_of(now()).await.unwrap();
    let took = began.elapsed();
    println!(
        "| hour steps (intro, prompts: a status each) | {ran} jobs | {:.0} jobs/s |",
        ran as f64 / took.as_secs_f64()
    );

    // Lateness: the production loop, a backlog of reminders due at once, prompts due live.
    seed_reminders(&instance, &host, BACKLOG, REMINDERS).await;
    let (stop, stopped) = watch::channel(false);
    let live_start = now() + chrono::Duration::seconds(3);
    let loop_task = tokio::spawn(scheduler.clone().run(stopped));
    seed_hour(&instance, group.id, live_start, LIVE_PROMPTS, 2, 2).await;
    let last_due = live_start + chrono::Duration::seconds(2 * LIVE_PROMPTS + 2);
    while now() < last_due + chrono::Duration::seconds(2) {
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    let backlog_left = instance.db().run(|c| jobs::pending_count(c, events::REMINDER_QUEUE)).await.unwrap();
    stop.send(true).unwrap();
    loop_task.await.unwrap();
    let group_id = group.id;
    let posted = instance
        .db()
        .run(move |c| {
            use diesel::prelude::*;
            use guildhall_storage::schema::statuses as s;
            s::table
                .filter(s::actor_id.eq(group_id))
                .filter(s::published_at.ge(live_start))
                .select((s::source, s::published_at))
                .load::<(Option<String>, Timestamp)>(c)
                .map_err(guildhall_storage::StorageError::from)
        })
        .await
        .unwrap();
    let mut late: Vec<f64> = posted
        .iter()
        .filter_map(|(text, at)| {
            let n: i64 = text.as_deref()?.strip_prefix("Q")?.split(' ').next()?.parse().ok()?;
            let due = live_start + chrono::Duration::seconds(2 * n);
            Some((*at - due).num_milliseconds() as f64)
        })
        .collect();
    late.sort_by(|a, b| a.partial_cmp(b).unwrap());
    assert_eq!(late.len(), LIVE_PROMPTS as usize, "every live prompt was posted");
    println!(
        "| prompt lateness under a {BACKLOG}-job backlog | {} prompts | p50 {:.0} ms, p99 {:.0} ms, max {:.0} ms | backlog left {backlog_left} |",
        late.len(),
        percentile(&late, 0.5),
        percentile(&late, 0.99),
        late.last().unwrap()
    );
    instance.stop().await.unwrap();
}
