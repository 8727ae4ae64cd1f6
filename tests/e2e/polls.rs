//! Polls across two instances: a poll posted on A reaches a follower on B as a `Question`; a
//! vote on B is counted on A and the count comes back to B; the poll's end (a job of the
//! durable queue) notifies the author and the voters on both instances.

use guildhall_federation::actions;
use reqwest::Method as M;
use serde_json::{Value, json};

use crate::client_api::{call, token};
use crate::support::{Backend, Cluster, TestInstance};

fn later(minutes: i64) -> guildhall_storage::Timestamp {
    guildhall_storage::now() + chrono::Duration::minutes(minutes)
}

/// The id `node` knows the status with this ActivityPub id by.
async fn local_id(node: &TestInstance, ap_id: &str) -> String {
    node.status(ap_id).await.unwrap_or_else(|| panic!("{ap_id} not on this node")).id.to_string()
}

async fn poll_notifications(node: &TestInstance, token: &str) -> Vec<Value> {
    let (s, list) = call(M::GET, node, "/api/v1/notifications?types[]=poll", Some(token), None).await;
    assert_eq!(s, 200, "{list}");
    list.as_array().unwrap().clone()
}

fn counts(poll: &Value) -> Vec<i64> {
    poll["options"].as_array().unwrap().iter().map(|o| o["votes_count"].as_i64().unwrap()).collect()
}

#[tokio::test]
async fn a_poll_is_voted_on_another_server_counted_at_home_and_closed_for_everyone() {
    let cluster = Cluster::start(2).await;
    let [a, b] = &cluster.nodes[..] else { unreachable!() };
    a.user("ada").await;
    a.user("cy").await;
    let bob = b.user("bob").await;
    let ada_at_b = actions::resolve_actor(&b.fed(), &a.handle("ada")).await.unwrap();
    actions::follow(&b.fed(), &bob, &ada_at_b).await.unwrap();
    cluster.flush().await;

    let ada_token = token(a, "ada", "read write").await;
    let cy_token = token(a, "cy", "read write").await;
    let bob_token = token(b, "bob", "read write").await;
    let body = json!({"status": "Lunch at the study day?", "poll": {"options": ["soup", "salad"], "expires_in": 600}});
    let (s, posted) = call(M::POST, a, "/api/v1/statuses", Some(&ada_token), Some(body)).await;
    assert_eq!(s, 200, "{posted}");
    assert_eq!(posted["poll"]["options"][1]["title"], "salad");
    assert_eq!(posted["poll"]["multiple"], false);
    assert_eq!(posted["poll"]["voted"], false);
    let ap_id = posted["uri"].as_str().unwrap().to_owned();
    cluster.flush().await;

    // B shows the Question as a poll.
    let at_b = local_id(b, &ap_id).await;
    let (s, seen) = call(M::GET, b, &format!("/api/v1/polls/{at_b}"), Some(&bob_token), None).await;
    assert_eq!(s, 200, "{seen}");
    assert_eq!((counts(&seen), seen["expired"].as_bool()), (vec![0, 0], Some(false)));

    // bob votes on B (a form, as Tusky sends it): the vote goes to A, which counts it.
    let form = [("choices[]", "1")];
    let voted: Value = crate::support::http()
        .post(b.url(&format!("/api/v1/polls/{at_b}/votes")))
        .bearer_auth(&bob_token)
        .form(&form)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!((voted["voted"].as_bool(), voted["own_votes"].clone()), (Some(true), json!([1])), "{voted}");
    let (s, again) = call(
        M::POST,
        b,
        &format!("/api/v1/polls/{at_b}/votes"),
        Some(&bob_token),
        Some(json!({"choices": [0]})),
    )
    .await;
    assert_eq!(s, 422, "one vote per account: {again}");
    cluster.flush().await;
    let poll_id = posted["id"].as_str().unwrap();
    let (_, at_home) = call(M::GET, a, &format!("/api/v1/polls/{poll_id}"), Some(&ada_token), None).await;
    assert_eq!((counts(&at_home), at_home["voters_count"].as_i64()), (vec![0, 1], Some(1)), "{at_home}");

    // cy votes at home; the new counts go back to B with the origin's word.
    let (s, _) = call(
        M::POST,
        a,
        &format!("/api/v1/polls/{poll_id}/votes"),
        Some(&cy_token),
        Some(json!({"choices": [0]})),
    )
    .await;
    assert_eq!(s, 200);
    // Two votes, one send of the counts, a little later.
    assert_eq!(a.instance.scheduler().flush_as_of(later(1)).await.unwrap(), 1);
    cluster.flush().await;
    let (_, at_b_now) = call(M::GET, b, &format!("/api/v1/polls/{at_b}"), Some(&bob_token), None).await;
    assert_eq!((counts(&at_b_now), at_b_now["voters_count"].as_i64()), (vec![1, 1], Some(2)), "{at_b_now}");
    assert_eq!(at_b_now["own_votes"], json!([1]), "B remembers what bob chose");

    // Nothing has ended yet: no poll notifications anywhere.
    assert!(poll_notifications(a, &ada_token).await.is_empty());
    // The end comes (the queue is run as if eleven minutes had passed).
    assert_eq!(a.instance.scheduler().flush_as_of(later(11)).await.unwrap(), 1);
    cluster.flush().await;
    assert_eq!(b.instance.scheduler().flush_as_of(later(11)).await.unwrap(), 1);
    for (node, token) in [(a, &ada_token), (a, &cy_token), (b, &bob_token)] {
        let told = poll_notifications(node, token).await;
        assert_eq!(told.len(), 1, "author and voters hear of the end once: {told:?}");
        assert_eq!(told[0]["status"]["poll"]["expired"], true);
    }
    // Once only, however often the queue runs.
    assert_eq!(a.instance.scheduler().flush_as_of(later(20)).await.unwrap(), 0);
    let (_, closed_at_b) = call(M::GET, b, &format!("/api/v1/polls/{at_b}"), Some(&bob_token), None).await;
    assert_eq!((closed_at_b["expired"].as_bool(), counts(&closed_at_b)), (Some(true), vec![1, 1]));
    let (s, late) = call(
        M::POST,
        a,
        &format!("/api/v1/polls/{poll_id}/votes"),
        Some(&ada_token),
        Some(json!({"choices": [0]})),
    )
    .await;
    assert_eq!(s, 422, "{late}");
    assert!(late["error"].as_str().unwrap().contains("ended"), "{late}");
    cluster.stop().await;
}

#[tokio::test]
async fn polls_are_checked_and_seen_only_by_who_may_see_their_status() {
    let t = TestInstance::start(&Backend::Sqlite).await;
    t.user("ada").await;
    t.user("eve").await;
    let ada = token(&t, "ada", "read write").await;
    let eve = token(&t, "eve", "read write").await;
    let bad = [
        (json!({"options": ["only one"], "expires_in": 600}), "poll[options]"),
        (json!({"options": ["a", "b", "c", "d", "e"], "expires_in": 600}), "poll[options]"),
        (json!({"options": ["same", "same"], "expires_in": 600}), "poll[options]"),
        (json!({"options": ["a", "x".repeat(51)], "expires_in": 600}), "poll[options]"),
        (json!({"options": ["a", "b"], "expires_in": 60}), "poll[expires_in]"),
        (json!({"options": ["a", "b"]}), "poll[expires_in]"),
    ];
    for (poll, field) in bad {
        let (s, body) =
            call(M::POST, &t, "/api/v1/statuses", Some(&ada), Some(json!({"status": "q", "poll": poll})))
                .await;
        assert_eq!(s, 422, "{body}");
        assert!(body["error"].as_str().unwrap().contains(field), "{body} names {field}");
    }
    // A followers-only poll: a stranger, and a token without read:statuses, find nothing.
    let body = json!({"status": "q", "visibility": "private", "poll": {"options": ["a", "b"], "expires_in": 600, "multiple": true}});
    let (_, posted) = call(M::POST, &t, "/api/v1/statuses", Some(&ada), Some(body)).await;
    let path = format!("/api/v1/polls/{}", posted["id"].as_str().unwrap());
    assert_eq!(call(M::GET, &t, &path, None, None).await.0, 404);
    let lacking = token(&t, "ada", "read:accounts").await;
    assert_eq!(call(M::GET, &t, &path, Some(&lacking), None).await.0, 404);
    assert_eq!(call(M::GET, &t, &path, Some(&eve), None).await.0, 404, "not a follower");
    let (s, own) = call(M::GET, &t, &path, Some(&ada), None).await;
    assert_eq!((s.as_u16(), own["multiple"].as_bool()), (200, Some(true)));
    // Nor can a non-follower vote on it; the author may, several choices at once.
    assert_eq!(
        call(M::POST, &t, &format!("{path}/votes"), Some(&eve), Some(json!({"choices": [0]}))).await.0,
        404
    );
    let (s, voted) =
        call(M::POST, &t, &format!("{path}/votes"), Some(&ada), Some(json!({"choices": [0, 1]}))).await;
    assert_eq!((s.as_u16(), counts(&voted)), (200, vec![1, 1]), "{voted}");
    let (s, _) = call(M::POST, &t, &format!("{path}/votes"), Some(&ada), Some(json!({"choices": [7]}))).await;
    assert_eq!(s, 422);
    t.instance.stop().await.unwrap();
}

#[tokio::test]
async fn an_edited_poll_starts_afresh_and_ends_at_its_new_time() {
    let t = TestInstance::start(&Backend::Sqlite).await;
    t.user("ada").await;
    t.user("bob").await;
    let ada = token(&t, "ada", "read write").await;
    let bob = token(&t, "bob", "read write").await;
    let body = json!({"status": "Venue?", "poll": {"options": ["hall", "garden"], "expires_in": 600}});
    let (_, posted) = call(M::POST, &t, "/api/v1/statuses", Some(&ada), Some(body)).await;
    let id = posted["id"].as_str().unwrap().to_owned();
    let votes = format!("/api/v1/polls/{id}/votes");
    assert_eq!(call(M::POST, &t, &votes, Some(&bob), Some(json!({"choices": [1]}))).await.0, 200);
    // Same options, a later end: the vote stays.
    let later_end = json!({"status": "Venue?", "poll": {"options": ["hall", "garden"], "expires_in": 7200}});
    let (s, edited) = call(M::PUT, &t, &format!("/api/v1/statuses/{id}"), Some(&ada), Some(later_end)).await;
    assert_eq!(s, 200, "{edited}");
    assert_eq!(counts(&edited["poll"]), vec![0, 1]);
    // The first end comes and goes: the poll is still open.
    t.instance.scheduler().flush_as_of(later(11)).await.unwrap();
    let (_, poll) = call(M::GET, &t, &format!("/api/v1/polls/{id}"), Some(&bob), None).await;
    assert_eq!(poll["expired"], false, "{poll}");
    // Other options: the votes start afresh.
    let other =
        json!({"status": "Venue?", "poll": {"options": ["hall", "garden", "online"], "expires_in": 7200}});
    let (_, edited) = call(M::PUT, &t, &format!("/api/v1/statuses/{id}"), Some(&ada), Some(other)).await;
    assert_eq!((counts(&edited["poll"]), edited["poll"]["voters_count"].as_i64()), (vec![0, 0, 0], Some(0)));
    assert_eq!(call(M::POST, &t, &votes, Some(&bob), Some(json!({"choices": [2]}))).await.0, 200);
    t.instance.scheduler().flush_as_of(later(121)).await.unwrap();
    let (_, poll) = call(M::GET, &t, &format!("/api/v1/polls/{id}"), Some(&bob), None).await;
    assert_eq!((poll["expired"].as_bool(), counts(&poll)), (Some(true), vec![0, 0, 1]));
    t.instance.stop().await.unwrap();
}
