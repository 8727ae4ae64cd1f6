//! Scheduled statuses: kept until their time, published once by the durable job queue, across
//! a restart, a crash between posting and finishing, and two processes sharing one database.

use guildhall::Instance;
use guildhall_api::HttpOptions;
use guildhall_storage::{DbConnection, StorageResult, jobs, scheduled, statuses};
use reqwest::Method as M;
use serde_json::{Value, json};

use crate::support::{Backend, TestInstance, backends, config_with, http, start_in};

fn later(minutes: i64) -> guildhall_storage::Timestamp {
    guildhall_storage::now() + chrono::Duration::minutes(minutes)
}

fn iso(at: guildhall_storage::Timestamp) -> String {
    at.and_utc().to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

/// A token for `user` (created here) on `instance`.
pub(crate) async fn signed_in(instance: &Instance, user: &str) -> String {
    let urls = guildhall_federation::Urls::new(instance.config());
    let email = format!("{user}@museum.example");
    let new = guildhall_federation::local_actors::NewUser {
        username: user,
        email: &email,
        password: "correct horse",
        role: guildhall_core::model::Role::User,
    };
    guildhall_federation::local_actors::create_user(instance.db(), &urls, new).await.unwrap();
    crate::client_api::token_at(&format!("http://localhost:{}", instance.port()), user, "read write").await
}

pub(crate) async fn send(
    instance: &Instance,
    method: M,
    path: &str,
    token: &str,
    body: Option<Value>,
) -> (u16, Value) {
    let mut req =
        http().request(method, format!("http://localhost:{}{path}", instance.port())).bearer_auth(token);
    if let Some(body) = body {
        req = req.json(&body);
    }
    let res = req.send().await.unwrap();
    (res.status().as_u16(), res.json().await.unwrap_or(Value::Null))
}

/// Every live status with this text.
async fn posted(instance: &Instance, text: &str) -> Vec<statuses::Status> {
    let text = text.to_owned();
    instance
        .db()
        .run(move |c: &mut DbConnection| -> StorageResult<Vec<statuses::Status>> {
            let ids: Vec<i64> = {
                use diesel::prelude::*;
                guildhall_storage::schema::statuses::table
                    .filter(guildhall_storage::schema::statuses::source.eq(text))
                    .filter(guildhall_storage::schema::statuses::deleted_at.is_null())
                    .select(guildhall_storage::schema::statuses::id)
                    .load(c)?
            };
            ids.into_iter().map(|id| statuses::get(c, id)).collect()
        })
        .await
        .unwrap()
}

#[tokio::test]
async fn a_scheduled_status_survives_a_restart_and_is_published_once() {
    let dir = tempfile::tempdir().unwrap();
    let first = start_in(dir.path(), &Backend::Sqlite).await;
    let token = signed_in(&first, "ada").await;
    // Too soon, and a malformed time, are refused naming the field.
    let soon = json!({"status": "x", "scheduled_at": iso(later(2))});
    let (s, body) = send(&first, M::POST, "/api/v1/statuses", &token, Some(soon)).await;
    assert_eq!(s, 422, "{body}");
    assert!(body["error"].as_str().unwrap().contains("scheduled_at"));
    let (s, _) = send(
        &first,
        M::POST,
        "/api/v1/statuses",
        &token,
        Some(json!({"status": "x", "scheduled_at": "monday"})),
    )
    .await;
    assert_eq!(s, 422);

    let at = later(30);
    let body = json!({"status": "Q1 of #MuseumHour", "visibility": "unlisted", "scheduled_at": iso(at),
                      "poll": {"options": ["yes", "no"], "expires_in": 3600}});
    let (s, scheduled) = send(&first, M::POST, "/api/v1/statuses", &token, Some(body)).await;
    assert_eq!(s, 200, "{scheduled}");
    assert_eq!(scheduled["params"]["text"], "Q1 of #MuseumHour");
    assert_eq!(scheduled["params"]["visibility"], "unlisted");
    assert_eq!(scheduled["params"]["poll"]["options"], json!(["yes", "no"]));
    assert_eq!(scheduled["scheduled_at"].as_str().unwrap()[..16], iso(at)[..16]);
    assert!(posted(&first, "Q1 of #MuseumHour").await.is_empty(), "nothing is posted before its time");
    // Not due yet: the queue leaves it.
    assert_eq!(first.scheduler().flush_as_of(later(5)).await.unwrap(), 0);
    first.stop().await.unwrap();

    let second = start_in(dir.path(), &Backend::Sqlite).await;
    let (s, list) = send(&second, M::GET, "/api/v1/scheduled_statuses", &token, None).await;
    assert_eq!((s, list.as_array().map(Vec::len)), (200, Some(1)), "{list}");
    assert_eq!(second.scheduler().flush_as_of(later(31)).await.unwrap(), 1);
    assert_eq!(second.scheduler().flush_as_of(later(32)).await.unwrap(), 0);
    let found = posted(&second, "Q1 of #MuseumHour").await;
    assert_eq!(found.len(), 1, "published once");
    assert_eq!(found[0].visibility, "unlisted");
    let (_, shown) = send(&second, M::GET, &format!("/api/v1/statuses/{}", found[0].id), &token, None).await;
    assert_eq!(shown["poll"]["options"][0]["title"], "yes", "the poll came along: {shown}");
    let (_, list) = send(&second, M::GET, "/api/v1/scheduled_statuses", &token, None).await;
    assert_eq!(list, json!([]), "a published status is no longer scheduled");
    second.stop().await.unwrap();
}

#[tokio::test]
async fn a_crash_after_posting_does_not_post_twice_and_moves_and_cancels_take_effect() {
    let t = TestInstance::start(&Backend::Sqlite).await;
    t.user("ada").await;
    t.user("eve").await;
    let (token, eve) = (
        crate::client_api::token(&t, "ada", "read write").await,
        crate::client_api::token(&t, "eve", "read write").await,
    );
    let node = &t.instance;
    let media = crate::media::upload(&t, &token, "ledger.png", &crate::media::png(20, 20)).await;
    let media_id = media["id"].as_str().unwrap().to_owned();
    let schedule = |text: &str, at| json!({"status": text, "scheduled_at": iso(at)});
    let with_media = json!({"status": "kept", "scheduled_at": iso(later(10)), "media_ids": [media_id]});
    let (s, kept) = send(node, M::POST, "/api/v1/statuses", &token, Some(with_media)).await;
    assert_eq!(s, 200, "{kept}");
    assert_eq!(kept["media_attachments"][0]["id"], media_id.as_str());
    // The upload is the scheduled status's: not for another post, scheduled or not.
    let (s, _) = send(
        node,
        M::POST,
        "/api/v1/statuses",
        &token,
        Some(json!({"status": "x", "media_ids": [media_id]})),
    )
    .await;
    assert_eq!(s, 422);
    let steal = json!({"status": "x", "scheduled_at": iso(later(20)), "media_ids": [media_id]});
    assert_eq!(send(node, M::POST, "/api/v1/statuses", &token, Some(steal)).await.0, 422);
    // An app's retry with the same Idempotency-Key gets the same scheduled status.
    let retry = |key: &str| {
        http()
            .post(t.url("/api/v1/statuses"))
            .bearer_auth(&token)
            .header("Idempotency-Key", key)
            .json(&schedule("once", later(10)))
    };
    let first: Value = retry("k-1").send().await.unwrap().json().await.unwrap();
    let second: Value = retry("k-1").send().await.unwrap().json().await.unwrap();
    assert_eq!(first["id"], second["id"]);
    let (_, moved) =
        send(node, M::POST, "/api/v1/statuses", &token, Some(schedule("moved", later(10)))).await;
    let (_, dropped) =
        send(node, M::POST, "/api/v1/statuses", &token, Some(schedule("dropped", later(10)))).await;
    let path = |v: &Value| format!("/api/v1/scheduled_statuses/{}", v["id"].as_str().unwrap());
    assert_eq!(send(node, M::DELETE, &path(&dropped), &token, None).await.0, 200);
    assert_eq!(send(node, M::GET, &path(&dropped), &token, None).await.0, 404);
    // Someone else's scheduled status is not there for another account.
    assert_eq!(send(node, M::GET, &path(&kept), &eve, None).await.0, 404);
    assert_eq!(send(node, M::DELETE, &path(&kept), &eve, None).await.0, 404);

    // A worker claims the due jobs and dies: after posting "kept" (before finishing its job),
    // and before touching "moved", which its owner then moves two hours on.
    let id: i64 = kept["id"].as_str().unwrap().parse().unwrap();
    let (claimed, ada) = node
        .db()
        .run(move |c| {
            let batch = jobs::claim(c, scheduled::PUBLISH_QUEUE, "dead", 10, later(11), later(11), &[])?;
            scheduled::unhold_media(c, id)?;
            let ada = guildhall_storage::accounts::find_by_username(c, "ada")?.unwrap();
            Ok((batch, ada))
        })
        .await
        .unwrap();
    assert_eq!(claimed.len(), 3, "kept, once and moved are due");
    let post = guildhall_federation::actions::NewPost {
        idempotency: Some((ada.user.id, format!("scheduled:{id}"))),
        media_ids: vec![media_id.parse().unwrap()],
        ..guildhall_federation::actions::NewPost::public("kept")
    };
    guildhall_federation::actions::post(&node.federation(), &ada.actor, post).await.unwrap();
    let (s, body) =
        send(node, M::PUT, &path(&moved), &token, Some(json!({"scheduled_at": iso(later(120))}))).await;
    assert_eq!(s, 200, "{body}");
    // The dead worker's lease runs out: "kept" is found posted, "once" goes out, and "moved"
    // waits for its new time.
    assert_eq!(node.scheduler().flush_as_of(later(14)).await.unwrap(), 3);
    let kept_posts = posted(node, "kept").await;
    assert_eq!(kept_posts.len(), 1);
    let attached = kept_posts[0].id;
    let files =
        node.db().run(move |c| guildhall_storage::status_parts::attachments(c, attached)).await.unwrap();
    assert_eq!(files.len(), 1, "with its image");
    assert_eq!(posted(node, "once").await.len(), 1);
    assert!(posted(node, "moved").await.is_empty(), "moved two hours on");
    assert_eq!(node.scheduler().flush_as_of(later(125)).await.unwrap(), 1);
    assert_eq!(posted(node, "moved").await.len(), 1);
    assert!(posted(node, "dropped").await.is_empty());
    let (_, left) = send(node, M::GET, "/api/v1/scheduled_statuses", &token, None).await;
    assert_eq!(left, json!([]));
    t.instance.stop().await.unwrap();
}

#[tokio::test]
async fn two_processes_on_one_postgresql_publish_each_scheduled_status_once() {
    // backends() fails in CI without PostgreSQL; elsewhere it says the part is skipped.
    let Some(pg) = backends().into_iter().find(|b| matches!(b, Backend::Postgres(_))) else { return };
    let (dir_a, dir_b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let first = start_in(dir_a.path(), &pg).await;
    // The second process serves the same instance (same domain, same database).
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let domain = first.config().domain.to_string();
    let config = config_with(dir_b.path(), port, &pg, &[("GUILDHALL_DOMAIN", domain.as_str())]);
    let options = HttpOptions { workers: Some(1), disable_signals: true, run_delivery: false, pages: None };
    let second = Instance::start_on(config, listener, options).await.unwrap();

    let token = signed_in(&first, "ada").await;
    for n in 0..20 {
        let body = json!({"status": format!("scheduled {n}"), "scheduled_at": iso(later(10 + n))});
        let (s, body) = send(&second, M::POST, "/api/v1/statuses", &token, Some(body)).await;
        assert_eq!(s, 200, "{body}");
    }
    let (ran_a, ran_b) =
        tokio::join!(first.scheduler().flush_as_of(later(40)), second.scheduler().flush_as_of(later(40)));
    assert_eq!(ran_a.unwrap() + ran_b.unwrap(), 20, "every job ran once between the two");
    for n in 0..20 {
        assert_eq!(posted(&first, &format!("scheduled {n}")).await.len(), 1, "scheduled {n} posted once");
    }
    second.stop().await.unwrap();
    first.stop().await.unwrap();
}
