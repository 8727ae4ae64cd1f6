//! Events across instances over real HTTP: a group's event on one server, answers from
//! another, capacity and the waiting list, restricted events, who sees the attendee list,
//! and Mobilizon's and Gancio's events taken as they are sent.

use guildhall_federation::actions;
use reqwest::Method as M;
use serde_json::{Value, json};

use crate::client_api::{call, token};
use crate::support::{Backend, Cluster, TestInstance};

const SCOPES: &str = "read write";

fn in_days(days: i64) -> String {
    (chrono::Utc::now() + chrono::Duration::days(days)).format("%Y-%m-%dT%H:%M:%SZ").to_string()
}

/// A group on `t` owned by `owner` (who then moderates it).
async fn group(t: &TestInstance, owner_token: &str, name: &str, visibility: &str) -> Value {
    let body = json!({"name": name, "visibility": visibility});
    let (s, group) = call(M::POST, t, "/api/guildhall/v1/groups", Some(owner_token), Some(body)).await;
    assert_eq!(s, 200, "{group}");
    group
}

async fn create_event(t: &TestInstance, token: &str, body: Value) -> Value {
    let (s, event) = call(M::POST, t, "/api/guildhall/v1/events", Some(token), Some(body)).await;
    assert_eq!(s, 200, "{event}");
    event
}

async fn get_event(t: &TestInstance, token: Option<&str>, id: &str) -> Value {
    let (s, event) = call(M::GET, t, &format!("/api/guildhall/v1/events/{id}"), token, None).await;
    assert_eq!(s, 200, "{event}");
    event
}

async fn act(t: &TestInstance, token: &str, id: &str, action: &str, body: Option<Value>) -> Value {
    let (s, event) =
        call(M::POST, t, &format!("/api/guildhall/v1/events/{id}/{action}"), Some(token), body).await;
    assert_eq!(s, 200, "{action}: {event}");
    event
}

fn state(event: &Value) -> Option<&str> {
    event["participation"]["state"].as_str()
}

/// The event stored on `node` under `uri`, fetched from its origin when not yet known.
async fn resolve(node: &TestInstance, uri: &str) -> String {
    actions::resolve_status(&node.fed(), uri).await.unwrap().id.to_string()
}

#[tokio::test]
async fn a_group_event_fills_up_and_a_leaver_makes_room_across_instances() {
    let cluster = Cluster::start(2).await;
    let [a, b] = &cluster.nodes[..] else { unreachable!() };
    for name in ["org", "cat"] {
        a.user(name).await;
    }
    b.user("bea").await;
    let (org, cat, bea) =
        (token(a, "org", SCOPES).await, token(a, "cat", SCOPES).await, token(b, "bea", SCOPES).await);
    let guild = group(a, &org, "studyday", "public").await;
    let event = create_event(
        a,
        &org,
        json!({
            "name": "Study day: <collections> & data", "description": "Bring a laptop. #museumcomputing",
            "start_time": in_days(10), "end_time": in_days(11), "timezone": "Europe/London",
            "group_id": guild["id"], "capacity": 1, "join_mode": "free",
            "place": {"name": "British Museum", "street": "Great Russell St", "locality": "London",
                      "postal_code": "WC1B 3DG", "country": "UK"},
        }),
    )
    .await;
    let id = event["id"].as_str().unwrap().to_owned();
    assert_eq!(
        (event["participant_count"].as_i64(), event["remaining_capacity"].as_i64()),
        (Some(0), Some(1))
    );
    assert_eq!(event["group_id"], guild["id"]);
    assert!(event["url"].as_str().unwrap().ends_with(&format!("/events/{id}")), "{event}");
    assert!(event["ics_url"].as_str().unwrap().ends_with(".ics"));
    // In the Mastodon API it is a status whose text says what, when and where, escaped.
    let (_, status) = call(M::GET, a, &format!("/api/v1/statuses/{id}"), Some(&org), None).await;
    let content = status["content"].as_str().unwrap();
    assert!(content.contains("Study day: &lt;collections&gt; &amp; data"), "{content}");
    assert!(content.contains("British Museum") && content.contains("(Europe/London)"), "{content}");

    // Bea on B answers; A accepts her at once and B hears it.
    let remote_id = resolve(b, event["uri"].as_str().unwrap()).await;
    let remote = get_event(b, Some(&bea), &remote_id).await;
    assert_eq!(
        (remote["name"].as_str(), remote["join_mode"].as_str()),
        (event["name"].as_str(), Some("free"))
    );
    let answered = act(b, &bea, &remote_id, "join", Some(json!({"message": "Looking forward"}))).await;
    assert_eq!(state(&answered), Some("pending"), "another server's event waits for its answer");
    cluster.flush().await;
    assert_eq!(state(&get_event(b, Some(&bea), &remote_id).await), Some("accepted"));
    let seen = get_event(a, Some(&org), &id).await;
    assert_eq!((seen["participant_count"].as_i64(), seen["remaining_capacity"].as_i64()), (Some(1), Some(0)));

    // The event is full: Cat waits.
    let cats = act(a, &cat, &id, "join", None).await;
    assert_eq!(state(&cats), Some("waiting"));
    assert_eq!(cats["waiting_count"].as_i64(), Some(1));
    // A burst of answers sends the counts once, a few seconds later.
    let later = guildhall_storage::now() + chrono::Duration::seconds(11);
    assert_eq!(a.instance.scheduler().flush_as_of(later).await.unwrap(), 1, "one counts job for the burst");
    cluster.flush().await;
    let counted = get_event(b, Some(&bea), &remote_id).await;
    assert_eq!(counted["participant_count"].as_i64(), Some(1), "B shows the organizer's count: {counted}");
    assert_eq!(counted["remaining_capacity"].as_i64(), Some(0));

    // Bea leaves from B: her Leave reaches A, which gives her place to Cat.
    act(b, &bea, &remote_id, "leave", None).await;
    cluster.flush().await;
    let after = get_event(a, Some(&cat), &id).await;
    assert_eq!(state(&after), Some("accepted"), "the first on the waiting list takes the place: {after}");
    assert_eq!((after["participant_count"].as_i64(), after["waiting_count"].as_i64()), (Some(1), Some(0)));
    assert_eq!(state(&get_event(b, Some(&bea), &remote_id).await), None);
    cluster.stop().await;
}

#[tokio::test]
async fn a_restricted_event_waits_for_its_organizer() {
    let cluster = Cluster::start(2).await;
    let [a, b] = &cluster.nodes[..] else { unreachable!() };
    a.user("org").await;
    b.user("bea").await;
    let (org, bea) = (token(a, "org", SCOPES).await, token(b, "bea", SCOPES).await);
    let event = create_event(
        a,
        &org,
        json!({"name": "Stores tour", "start_time": in_days(5), "join_mode": "restricted", "capacity": 10}),
    )
    .await;
    let id = event["id"].as_str().unwrap().to_owned();
    let remote_id = resolve(b, event["uri"].as_str().unwrap()).await;
    act(b, &bea, &remote_id, "join", Some(json!({"message": "I catalogue textiles"}))).await;
    cluster.flush().await;
    assert_eq!(state(&get_event(b, Some(&bea), &remote_id).await), Some("pending"), "no answer yet");
    let seen = get_event(a, Some(&org), &id).await;
    assert_eq!((seen["participant_count"].as_i64(), seen["pending_count"].as_i64()), (Some(0), Some(1)));

    let (s, list) =
        call(M::GET, a, &format!("/api/guildhall/v1/events/{id}/attendees"), Some(&org), None).await;
    assert_eq!(s, 200, "{list}");
    let asker = &list[0];
    assert_eq!(
        (asker["state"].as_str(), asker["message"].as_str()),
        (Some("pending"), Some("I catalogue textiles"))
    );
    let pid = asker["id"].as_str().unwrap();
    // Only the organizer answers.
    a.user("eve").await;
    let eve = token(a, "eve", SCOPES).await;
    let path = format!("/api/guildhall/v1/events/{id}/participants/{pid}/accept");
    assert_eq!(call(M::POST, a, &path, Some(&eve), None).await.0, 404);
    assert_eq!(call(M::POST, a, &path, Some(&org), None).await.0, 200);
    cluster.flush().await;
    assert_eq!(state(&get_event(b, Some(&bea), &remote_id).await), Some("accepted"));
    assert_eq!(get_event(a, None, &id).await["participant_count"].as_i64(), Some(1));
    cluster.stop().await;
}

#[tokio::test]
async fn the_attendee_list_shows_only_those_who_opted_in_and_only_to_insiders() {
    let t = TestInstance::start(&Backend::Sqlite).await;
    for name in ["org", "ann", "dan", "sam", "mem"] {
        t.user(name).await;
    }
    let org = token(&t, "org", SCOPES).await;
    let guild = group(&t, &org, "guild", "public").await;
    let mem = token(&t, "mem", SCOPES).await;
    let (s, _) = call(
        M::POST,
        &t,
        &format!("/api/v1/accounts/{}/follow", guild["id"].as_str().unwrap()),
        Some(&mem),
        None,
    )
    .await;
    assert_eq!(s, 200);
    let event =
        create_event(&t, &org, json!({"name": "Meet-up", "start_time": in_days(3), "group_id": guild["id"]}))
            .await;
    let id = event["id"].as_str().unwrap();
    let (ann, dan, sam) =
        (token(&t, "ann", SCOPES).await, token(&t, "dan", SCOPES).await, token(&t, "sam", SCOPES).await);
    act(&t, &ann, id, "join", Some(json!({"listed": true}))).await;
    act(&t, &dan, id, "join", Some(json!({"listed": false, "message": "private note"}))).await;
    let names = |list: &Value| -> Vec<String> {
        let mut n: Vec<String> = list
            .as_array()
            .unwrap()
            .iter()
            .map(|a| a["account"]["username"].as_str().unwrap().to_owned())
            .collect();
        n.sort();
        n
    };
    let path = format!("/api/guildhall/v1/events/{id}/attendees");
    let (_, by_org) = call(M::GET, &t, &path, Some(&org), None).await;
    assert_eq!(names(&by_org), ["ann", "dan"], "the organizer sees everyone");
    assert!(by_org.as_array().unwrap().iter().any(|a| a["message"] == "private note"));
    for insider in [&ann, &dan, &mem] {
        let (s, list) = call(M::GET, &t, &path, Some(insider), None).await;
        assert_eq!(s, 200, "{list}");
        assert_eq!(names(&list), ["ann"], "attendees and members see only who opted in");
        assert!(list[0]["message"].is_null(), "messages are for the organizer");
    }
    let (s, refused) = call(M::GET, &t, &path, Some(&sam), None).await;
    assert_eq!(s, 403, "a stranger sees no one: {refused}");
    assert_eq!(call(M::GET, &t, &path, None, None).await.0, 401);
    // Counts stay public.
    assert_eq!(get_event(&t, None, id).await["participant_count"].as_i64(), Some(2));
    t.instance.stop().await.unwrap();
}

#[tokio::test]
async fn bad_events_are_refused_naming_the_field_and_members_only_events_stay_inside() {
    let t = TestInstance::start(&Backend::Sqlite).await;
    for name in ["org", "out"] {
        t.user(name).await;
    }
    let org = token(&t, "org", SCOPES).await;
    for (body, field) in [
        (json!({"start_time": in_days(1)}), "name"),
        (json!({"name": "x"}), "start_time"),
        (json!({"name": "x", "start_time": "next tuesday"}), "start_time"),
        (json!({"name": "x", "start_time": in_days(2), "end_time": in_days(1)}), "end_time"),
        (json!({"name": "x", "start_time": in_days(1), "timezone": "Mars/Olympus"}), "timezone"),
        (json!({"name": "x", "start_time": in_days(1), "capacity": 0}), "capacity"),
        (json!({"name": "x", "start_time": in_days(1), "join_mode": "lottery"}), "join_mode"),
        (json!({"name": "x", "start_time": in_days(1), "join_mode": "external"}), "external_url"),
        (json!({"name": "x", "start_time": in_days(1), "online_url": "javascript:alert(1)"}), "online_url"),
        (json!({"name": "x", "start_time": in_days(-1)}), "start_time"),
    ] {
        let (s, error) = call(M::POST, &t, "/api/guildhall/v1/events", Some(&org), Some(body.clone())).await;
        assert_eq!(s, 422, "{body}: {error}");
        assert!(error["error"].as_str().unwrap().contains(field), "{field}: {error}");
    }
    let circle = group(&t, &org, "circle", "members").await;
    let event =
        create_event(&t, &org, json!({"name": "Inside", "start_time": in_days(4), "group_id": circle["id"]}))
            .await;
    let id = event["id"].as_str().unwrap();
    let out = token(&t, "out", SCOPES).await;
    assert_eq!(call(M::GET, &t, &format!("/api/guildhall/v1/events/{id}"), Some(&out), None).await.0, 404);
    assert_eq!(call(M::GET, &t, &format!("/api/guildhall/v1/events/{id}"), None, None).await.0, 404);
    assert_eq!(
        call(M::POST, &t, &format!("/api/guildhall/v1/events/{id}/join"), Some(&out), None).await.0,
        404
    );
    let (_, listed) = call(M::GET, &t, "/api/guildhall/v1/events", None, None).await;
    assert!(listed.as_array().unwrap().is_empty(), "{listed}");
    // The organizer cancels: still there, marked, and nobody can join any more.
    let cancelled = act(&t, &org, id, "cancel", None).await;
    assert_eq!(cancelled["status"], "cancelled");
    assert!(cancelled["summary"].as_str().unwrap().starts_with("CANCELLED"));
    t.instance.stop().await.unwrap();
}

async fn reminder_count(node: &guildhall::Instance, token: &str) -> usize {
    let path = "/api/v1/notifications?types[]=event_reminder";
    let (_, list) = crate::scheduled::send(node, M::GET, path, token, None).await;
    list.as_array().unwrap().len()
}

#[tokio::test]
async fn reminders_arrive_once_at_each_lead_time_across_a_restart_and_follow_a_moved_start() {
    use crate::scheduled::{send, signed_in};
    let dir = tempfile::tempdir().unwrap();
    let first = crate::support::start_in(dir.path(), &Backend::Sqlite).await;
    let (org, ann) = (signed_in(&first, "org").await, signed_in(&first, "ann").await);
    let start = chrono::Utc::now().naive_utc() + chrono::Duration::days(3);
    let iso = |t: chrono::NaiveDateTime| t.and_utc().format("%Y-%m-%dT%H:%M:%SZ").to_string();
    let body = json!({"name": "Study day", "start_time": iso(start)});
    let (s, event) = send(&first, M::POST, "/api/guildhall/v1/events", &org, Some(body)).await;
    assert_eq!(s, 200, "{event}");
    let id = event["id"].as_str().unwrap().to_owned();
    let (s, prefs) = send(&first, M::GET, "/api/guildhall/v1/preferences/reminders", &ann, None).await;
    assert_eq!((s, &prefs["minutes_before"]), (200, &json!([60, 1440])), "the default: a day and an hour");
    let (s, _) = send(&first, M::POST, &format!("/api/guildhall/v1/events/{id}/join"), &ann, None).await;
    assert_eq!(s, 200);
    let scheduler = first.scheduler().clone();
    scheduler.flush_as_of(start - chrono::Duration::hours(25)).await.unwrap();
    assert_eq!(reminder_count(&first, &ann).await, 0, "not yet");
    scheduler.flush_as_of(start - chrono::Duration::hours(23)).await.unwrap();
    assert_eq!(reminder_count(&first, &ann).await, 1, "a day before");
    first.stop().await.unwrap();

    let node = crate::support::start_in(dir.path(), &Backend::Sqlite).await;
    node.scheduler().flush_as_of(start - chrono::Duration::hours(23)).await.unwrap();
    assert_eq!(reminder_count(&node, &ann).await, 1, "a restart sends nothing twice");
    // The organizer moves the event a day later: the hour-before reminder follows it.
    let moved = start + chrono::Duration::days(1);
    let (s, _) = send(
        &node,
        M::PATCH,
        &format!("/api/guildhall/v1/events/{id}"),
        &org,
        Some(json!({"start_time": iso(moved)})),
    )
    .await;
    assert_eq!(s, 200);
    node.scheduler().flush_as_of(start - chrono::Duration::minutes(30)).await.unwrap();
    assert_eq!(reminder_count(&node, &ann).await, 1, "nothing at the old time");
    node.scheduler().flush_as_of(moved - chrono::Duration::minutes(59)).await.unwrap();
    assert_eq!(reminder_count(&node, &ann).await, 3, "the moved event's day-before and hour-before");
    node.stop().await.unwrap();
}
