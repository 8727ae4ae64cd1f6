//! Discussion hours run by the durable scheduler on a controllable clock: the group posts the
//! intro, the numbered prompts and the recap on time, once each, across a restart in the
//! middle of the hour and with two processes sharing one PostgreSQL database.

use chrono::{DateTime, Duration, NaiveDateTime, Utc};
use guildhall::Instance;
use guildhall_api::HttpOptions;
use guildhall_storage::statuses::Status;
use guildhall_storage::{DbConnection, StorageResult};
use reqwest::Method as M;
use serde_json::{Value, json};

use crate::scheduled::{send, signed_in};
use crate::support::{Backend, backends, config_with, start_in};

/// Sets up `host`'s public group `museumhour` with members `ann` and `ben`, and a daily hour
/// with three prompts a minute apart; returns (tokens, group id, hour, first start).
async fn hour_on(node: &Instance) -> ([String; 3], String, Value, NaiveDateTime) {
    let host = signed_in(node, "host").await;
    let (ann, ben) = (signed_in(node, "ann").await, signed_in(node, "ben").await);
    let (s, group) =
        send(node, M::POST, "/api/guildhall/v1/groups", &host, Some(json!({"name": "museumhour"}))).await;
    assert_eq!(s, 200, "{group}");
    let group_id = group["id"].as_str().unwrap().to_owned();
    for member in [&ann, &ben] {
        let (s, _) = send(node, M::POST, &format!("/api/v1/accounts/{group_id}/follow"), member, None).await;
        assert_eq!(s, 200);
    }
    let prompts: Vec<Value> = (1..=3)
        .map(|n| json!({"offset_seconds": 60 * n, "text": format!("What is object {n} for?")}))
        .collect();
    let body = json!({
        "title": "Museum Hour", "hashtag": "#MuseumHour", "rrule": "FREQ=DAILY", "dtstart": "2026-01-05T20:00",
        "timezone": "Europe/London", "duration_minutes": 60, "intro": "Welcome to tonight's hour.", "prompts": prompts,
    });
    let path = format!("/api/guildhall/v1/groups/{group_id}/hours");
    let (s, hour) = send(node, M::POST, &path, &host, Some(body)).await;
    assert_eq!(s, 200, "{hour}");
    let starts = hour["editions"][0]["starts_at"].as_str().unwrap();
    let start = DateTime::parse_from_rfc3339(starts).unwrap().naive_utc();
    assert!(start > Utc::now().naive_utc(), "the first edition is the next one to come");
    ([host, ann, ben], group_id, hour, start)
}

/// Every live status the group posted, oldest first.
async fn by_group(node: &Instance, group_id: &str) -> Vec<Status> {
    let group: i64 = group_id.parse().unwrap();
    node.db()
        .run(move |c: &mut DbConnection| -> StorageResult<Vec<Status>> {
            use diesel::prelude::*;
            use guildhall_storage::schema::statuses as s;
            Ok(s::table
                .filter(s::actor_id.eq(group))
                .filter(s::deleted_at.is_null())
                .order(s::id)
                .select(Status::as_select())
                .load(c)?)
        })
        .await
        .unwrap()
}

fn texts(list: &[Status]) -> Vec<String> {
    list.iter()
        .map(|s| s.source.clone().unwrap_or_default().lines().next().unwrap_or("").to_owned())
        .collect()
}

async fn run_until(node: &Instance, at: NaiveDateTime) -> usize {
    node.scheduler().flush_as_of(at).await.unwrap()
}

async fn reply(node: &Instance, token: &str, to: i64, text: &str) -> i64 {
    let body = json!({"status": text, "in_reply_to_id": to.to_string()});
    let (s, posted) = send(node, M::POST, "/api/v1/statuses", token, Some(body)).await;
    assert_eq!(s, 200, "{posted}");
    posted["id"].as_str().unwrap().parse().unwrap()
}

#[tokio::test]
async fn an_hour_posts_its_prompts_once_across_a_restart_and_recaps_the_answers() {
    let dir = tempfile::tempdir().unwrap();
    let first = start_in(dir.path(), &Backend::Sqlite).await;
    let ([host, ann, ben], group_id, hour, start) = hour_on(&first).await;
    let at = |seconds: i64| start + Duration::seconds(seconds);
    // A guest host for this date, not a member: named in the intro.
    signed_in(&first, "gus").await;
    let (hour_id, edition_id) = (hour["id"].as_str().unwrap(), hour["editions"][0]["id"].as_str().unwrap());
    let path = format!("/api/guildhall/v1/hours/{hour_id}/editions/{edition_id}/host");
    let (s, _) = send(&first, M::PUT, &path, &ann, Some(json!({"acct": "gus"}))).await;
    assert_eq!(s, 404, "a member who does not moderate cannot choose the host");
    let (s, changed) = send(&first, M::PUT, &path, &host, Some(json!({"acct": "gus"}))).await;
    assert_eq!(s, 200, "{changed}");
    assert_eq!(run_until(&first, at(-1)).await, 0, "nothing before the start");
    run_until(&first, at(61)).await;
    assert_eq!(
        texts(&by_group(&first, &group_id).await),
        ["Welcome to tonight's hour.", "Q1 What is object 1 for? #MuseumHour"]
    );
    first.stop().await.unwrap();

    // A restart in the middle of the hour: what was posted is not posted again.
    let node = start_in(dir.path(), &Backend::Sqlite).await;
    assert_eq!(run_until(&node, at(61)).await, 0);
    let posted = by_group(&node, &group_id).await;
    assert!(posted[0].content.contains("Hosted by"), "{}", posted[0].content);
    assert!(posted[0].source.as_deref().unwrap().contains("Hosted by @gus@"), "{:?}", posted[0].source);
    let q1 = posted[1].id;
    assert!(posted[1].content.contains("Answer with A1"), "{}", posted[1].content);
    let ann_a1 = reply(&node, &ann, q1, "A1 It tells the story of a place").await;
    reply(&node, &ben, q1, "A1 Storage, mostly").await;
    reply(&node, &ben, ann_a1, "Which place?").await;
    run_until(&node, at(121)).await;
    let q2 = by_group(&node, &group_id).await[2].id;
    reply(&node, &ann, q2, "A2 Handling sessions").await;
    run_until(&node, at(3601)).await;

    let posted = by_group(&node, &group_id).await;
    assert_eq!(
        texts(&posted[..4]),
        [
            "Welcome to tonight's hour.",
            "Q1 What is object 1 for? #MuseumHour",
            "Q2 What is object 2 for? #MuseumHour",
            "Q3 What is object 3 for? #MuseumHour",
        ],
        "each prompt once, in order"
    );
    assert_eq!(posted.len(), 5, "and one recap: {:?}", texts(&posted));
    let recap = &posted[4];
    assert_eq!(recap.kind, "Article");
    let text = recap.source.clone().unwrap();
    for line in [
        "Q1 What is object 1 for? — 2 answers",
        "Q2 What is object 2 for? — 1 answer",
        "Q3 What is object 3 for? — 0 answers",
        "2 people took part.",
    ] {
        assert!(text.contains(line), "{line:?} in {text}");
    }
    assert!(text.contains("First time here:") && text.contains("@ann") && text.contains("@ben"), "{text}");
    assert!(text.contains(&format!("/{ann_a1} (1 reply)")), "the most-replied answer: {text}");

    // The archive: this edition with its recap, and the next one scheduled.
    let hour_id = hour["id"].as_str().unwrap();
    let (_, shown) = send(&node, M::GET, &format!("/api/guildhall/v1/hours/{hour_id}"), &ann, None).await;
    let editions = shown["editions"].as_array().unwrap();
    assert_eq!(editions.len(), 2, "{shown}");
    assert_eq!(editions[1]["recap_status_id"], recap.id.to_string());
    assert_eq!(editions[1]["prompts"].as_array().unwrap().len(), 3);
    let next = DateTime::parse_from_rfc3339(editions[0]["starts_at"].as_str().unwrap()).unwrap().naive_utc();
    assert_eq!(next - start, Duration::days(1), "the next edition is tomorrow");
    assert_eq!(run_until(&node, at(3700)).await, 0, "nothing more until then");
    node.stop().await.unwrap();
}

#[tokio::test]
async fn bad_hours_are_refused_naming_the_field_and_only_moderators_schedule() {
    let node = start_in(tempfile::tempdir().unwrap().path(), &Backend::Sqlite).await;
    let ([host, ann, _], group_id, _, _) = hour_on(&node).await;
    let path = format!("/api/guildhall/v1/groups/{group_id}/hours");
    let good = json!({"title": "T", "hashtag": "H", "rrule": "FREQ=WEEKLY;BYDAY=MO", "dtstart": "2026-01-05T20:00",
                      "timezone": "Europe/London", "duration_minutes": 60, "prompts": []});
    let (s, refused) = send(&node, M::POST, &path, &ann, Some(good.clone())).await;
    assert_eq!(s, 403, "a member who does not moderate: {refused}");
    for (field, value) in [
        ("rrule", json!("FREQ=MINUTELY")),
        ("timezone", json!("Atlantis/Capital")),
        ("dtstart", json!("soon")),
        ("duration_minutes", json!(0)),
        ("hashtag", json!("two words")),
        ("prompts", json!([{"offset_seconds": 99999, "text": "late"}])),
    ] {
        let mut body = good.clone();
        body[field] = value;
        let (s, error) = send(&node, M::POST, &path, &host, Some(body)).await;
        assert_eq!(s, 422, "{field}: {error}");
        assert!(error["error"].as_str().unwrap().contains(field), "{field}: {error}");
    }
    let mut missing = good.clone();
    missing.as_object_mut().unwrap().remove("rrule");
    let (s, error) = send(&node, M::POST, &path, &host, Some(missing)).await;
    assert_eq!(s, 422);
    assert!(error["error"].as_str().unwrap().contains("rrule"), "{error}");
    node.stop().await.unwrap();
}

#[tokio::test]
async fn two_processes_on_one_postgresql_post_each_prompt_once() {
    // backends() fails in CI without PostgreSQL; elsewhere it says the part is skipped.
    let Some(pg) = backends().into_iter().find(|b| matches!(b, Backend::Postgres(_))) else { return };
    let (dir_a, dir_b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let first = start_in(dir_a.path(), &pg).await;
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let domain = first.config().domain.to_string();
    let config = config_with(dir_b.path(), port, &pg, &[("GUILDHALL_DOMAIN", domain.as_str())]);
    let options = HttpOptions { workers: Some(1), disable_signals: true, run_delivery: false, pages: None };
    let second = Instance::start_on(config, listener, options).await.unwrap();
    let (_, group_id, _, start) = hour_on(&first).await;
    let end = start + Duration::seconds(3601);
    let (a, b) = tokio::join!(first.scheduler().flush_as_of(end), second.scheduler().flush_as_of(end));
    assert_eq!(a.unwrap() + b.unwrap(), 6, "intro, three prompts, recap and the next edition's scheduling");
    let posted = texts(&by_group(&first, &group_id).await);
    assert_eq!(posted.len(), 5, "{posted:?}");
    assert_eq!(posted.iter().filter(|t| t.starts_with("Q2 ")).count(), 1);
    second.stop().await.unwrap();
    first.stop().await.unwrap();
}
