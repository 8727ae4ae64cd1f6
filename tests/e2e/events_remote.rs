//! Other servers' events as they send them: Mobilizon's (which answers a `Join` with an
//! `Accept`) and Gancio's (which takes no `Join`), served by a stand-in origin on loopback from
//! the fixtures, stored with their event fields and answered from here.

use std::collections::HashMap;
use std::net::TcpListener;
use std::sync::{Arc, Mutex};

use actix_web::{App, HttpRequest, HttpResponse, HttpServer, web};
use guildhall_core::keys::{ActorKeys, SigningKey, generate};
use reqwest::Method as M;
use serde_json::{Value, json};

use crate::client_api::{call, token};
use crate::inbox::post_signed;
use crate::support::{Backend, TestInstance};

/// A stand-in origin: serves documents by path and records what its inbox receives.
struct Origin {
    base: String,
    received: Arc<Mutex<Vec<Value>>>,
    keys: ActorKeys,
    handle: actix_web::dev::ServerHandle,
}

impl Origin {
    /// Starts an origin serving `docs(base, public_pem)` (path → document).
    fn start(docs: impl FnOnce(&str, &str) -> HashMap<String, Value>) -> Origin {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let base = format!("http://localhost:{}", listener.local_addr().unwrap().port());
        let keys = generate().unwrap();
        let docs = Arc::new(docs(&base, &keys.public_pem));
        let received = Arc::new(Mutex::new(Vec::new()));
        let inbox = received.clone();
        let server = HttpServer::new(move || {
            let (docs, inbox) = (docs.clone(), inbox.clone());
            App::new().default_service(web::to(move |req: HttpRequest, body: web::Bytes| {
                let (docs, inbox) = (docs.clone(), inbox.clone());
                async move {
                    if req.method() == actix_web::http::Method::POST {
                        inbox.lock().unwrap().push(serde_json::from_slice(&body).unwrap_or(Value::Null));
                        return HttpResponse::Accepted().finish();
                    }
                    match docs.get(req.path()) {
                        Some(doc) => HttpResponse::Ok().content_type("application/activity+json").json(doc),
                        None => HttpResponse::NotFound().finish(),
                    }
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
        Origin { base, received, keys, handle }
    }

    fn received(&self, kind: &str) -> Vec<Value> {
        self.received.lock().unwrap().iter().filter(|d| d["type"] == kind).cloned().collect()
    }
}

fn fixture(name: &str) -> Value {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures").join(name);
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

/// The document with every `from` URL prefix moved to `to`.
fn rebased(doc: &Value, from: &str, to: &str) -> Value {
    serde_json::from_str(&doc.to_string().replace(from, to)).unwrap()
}

fn person(id: &str, public_pem: &str) -> Value {
    json!({
        "@context": ["https://www.w3.org/ns/activitystreams", "https://w3id.org/security/v1"],
        "type": "Person", "id": id, "preferredUsername": id.rsplit('@').next().unwrap(),
        "inbox": format!("{id}/inbox"),
        "publicKey": {"id": format!("{id}#main-key"), "owner": id, "publicKeyPem": public_pem},
    })
}

async fn event_on(t: &TestInstance, token: &str, uri: &str) -> Value {
    let status = guildhall_federation::actions::resolve_status(&t.fed(), uri).await.unwrap();
    let (s, event) =
        call(M::GET, t, &format!("/api/guildhall/v1/events/{}", status.id), Some(token), None).await;
    assert_eq!(s, 200, "{event}");
    event
}

#[tokio::test]
async fn a_mobilizon_event_is_stored_and_its_organizer_accepts_our_join() {
    let origin = Origin::start(|base, pem| {
        let event = rebased(&fixture("mobilizon/mobilizon.org-event.json"), "https://mobilizon.org", base);
        let organizer = format!("{base}/@tcit");
        HashMap::from([
            ("/events/252d5816-00a3-4a89-a66f-15bf65c33e39".to_owned(), event),
            ("/@tcit".to_owned(), person(&organizer, pem)),
        ])
    });
    let t = TestInstance::start(&Backend::Sqlite).await;
    let mia = t.user("mia").await;
    let tok = token(&t, "mia", "read write").await;
    let uri = format!("{}/events/252d5816-00a3-4a89-a66f-15bf65c33e39", origin.base);
    let event = event_on(&t, &tok, &uri).await;
    assert_eq!(event["name"], "Mobilizon Launching Party");
    assert_eq!(event["place"]["name"], "Cour du Château des Ducs de Bretagne");
    assert_eq!(
        (event["place"]["locality"].as_str(), event["place"]["country"].as_str()),
        (Some("Nantes"), Some("France"))
    );
    assert_eq!(
        (event["start_time"].as_str(), event["end_time"].as_str()),
        (Some("2019-12-18T13:00:00.000Z"), Some("2019-12-18T14:00:00.000Z"))
    );
    assert_eq!((event["join_mode"].as_str(), event["status"].as_str()), (Some("free"), Some("scheduled")));
    assert_eq!(event["category"], "meeting");
    let content = event["content"].as_str().unwrap();
    assert!(content.starts_with("<p><strong>Mobilizon Launching Party</strong></p>"), "{content}");

    let id = event["id"].as_str().unwrap().to_owned();
    let (s, joined) = call(
        M::POST,
        &t,
        &format!("/api/guildhall/v1/events/{id}/join"),
        Some(&tok),
        Some(json!({"message": "See you there"})),
    )
    .await;
    assert_eq!((s.as_u16(), joined["participation"]["state"].as_str()), (200, Some("pending")), "{joined}");
    t.instance.delivery().flush().await.unwrap();
    let joins = origin.received("Join");
    assert_eq!(joins.len(), 1, "{:?}", origin.received.lock().unwrap());
    let join = &joins[0];
    assert_eq!(
        (join["actor"].as_str(), join["object"].as_str()),
        (Some(mia.ap_id.as_str()), Some(uri.as_str()))
    );
    assert_eq!(join["participationMessage"], "See you there");

    // Mobilizon answers with an Accept embedding the Join, signed by the organizer.
    let organizer = format!("{}/@tcit", origin.base);
    let accept = json!({
        "@context": "https://www.w3.org/ns/activitystreams",
        "id": format!("{}/accept/join/1", origin.base), "type": "Accept", "actor": organizer,
        "object": join, "to": [mia.ap_id],
    });
    let body = serde_json::to_vec(&accept).unwrap();
    let key = SigningKey::from_pem(&origin.keys.private_pem).unwrap();
    let status = post_signed(&t.url("/inbox"), &body, &body, &format!("{organizer}#main-key"), &key).await;
    assert!(status.is_success(), "{status}");
    let (_, after) = call(M::GET, &t, &format!("/api/guildhall/v1/events/{id}"), Some(&tok), None).await;
    assert_eq!(after["participation"]["state"], "accepted", "{after}");

    t.instance.stop().await.unwrap();
    origin.handle.stop(true).await;
}

#[tokio::test]
async fn a_gancio_event_is_stored_and_answered_here_since_gancio_takes_no_join() {
    let origin = Origin::start(|base, pem| {
        let event = rebased(&fixture("gancio/event.json"), "https://gancio.example", base);
        let mut actor = rebased(&fixture("gancio/actor.json"), "https://gancio.example", base);
        actor["publicKey"]["publicKeyPem"] = json!(pem);
        HashMap::from([("/federation/m/42".to_owned(), event), ("/federation/u/relay".to_owned(), actor)])
    });
    let t = TestInstance::start(&Backend::Sqlite).await;
    t.user("gil").await;
    let tok = token(&t, "gil", "read write").await;
    let uri = format!("{}/federation/m/42", origin.base);
    let event = event_on(&t, &tok, &uri).await;
    assert_eq!(event["name"], "Community repair café");
    assert_eq!(event["place"]["name"], "Circolo Arci Example");
    assert_eq!(event["place"]["street"], "Via dell'Esempio 12, Bologna");
    assert_eq!(event["start_time"], "2025-03-14T20:30:00.000Z", "the offset is kept");
    assert_eq!(event["url"], format!("{}/event/community-repair-cafe", origin.base));
    let id = event["id"].as_str().unwrap().to_owned();
    let (s, joined) =
        call(M::POST, &t, &format!("/api/guildhall/v1/events/{id}/join"), Some(&tok), None).await;
    assert_eq!(s, 200, "{joined}");
    assert_eq!(joined["participation"]["state"], "accepted", "no answer will come: we record it");
    t.instance.delivery().flush().await.unwrap();
    assert_eq!(origin.received("Join").len(), 1, "servers that read Join still hear of it");
    // Leaving sends a Leave and forgets the answer.
    let (s, left) =
        call(M::POST, &t, &format!("/api/guildhall/v1/events/{id}/leave"), Some(&tok), None).await;
    assert_eq!((s.as_u16(), left["participation"].is_null()), (200, true), "{left}");
    t.instance.delivery().flush().await.unwrap();
    assert_eq!(origin.received("Leave").len(), 1);
    t.instance.stop().await.unwrap();
    origin.handle.stop(true).await;
}

#[tokio::test]
async fn friendica_answers_our_event_with_accept_tentative_accept_and_reject_of_the_event() {
    let origin = Origin::start(|base, pem| {
        HashMap::from([("/profile/fred".to_owned(), person(&format!("{base}/profile/fred"), pem))])
    });
    let t = TestInstance::start(&Backend::Sqlite).await;
    t.user("org").await;
    let tok = token(&t, "org", "read write").await;
    let starts = (chrono::Utc::now() + chrono::Duration::days(2)).to_rfc3339();
    let body = json!({"name": "Open day", "start_time": starts, "capacity": 5});
    let (s, event) = call(M::POST, &t, "/api/guildhall/v1/events", Some(&tok), Some(body)).await;
    assert_eq!(s, 200, "{event}");
    let (id, uri) = (event["id"].as_str().unwrap().to_owned(), event["uri"].as_str().unwrap().to_owned());
    let fred = format!("{}/profile/fred", origin.base);
    let key = SigningKey::from_pem(&origin.keys.private_pem).unwrap();
    let answer = |kind: &str, n: u32| {
        // Friendica answers with the bare id of the event as the object.
        json!({"@context": "https://www.w3.org/ns/activitystreams", "id": format!("{}/objects/{n}", origin.base),
               "type": kind, "actor": fred, "object": uri, "to": [event["account"]["url"]]})
    };
    let counts = || async {
        let (_, shown) = call(M::GET, &t, &format!("/api/guildhall/v1/events/{id}"), Some(&tok), None).await;
        let (_, list) =
            call(M::GET, &t, &format!("/api/guildhall/v1/events/{id}/attendees"), Some(&tok), None).await;
        let states: Vec<String> =
            list.as_array().unwrap().iter().map(|a| a["state"].as_str().unwrap().to_owned()).collect();
        (shown["participant_count"].as_i64().unwrap(), states)
    };
    for (n, (kind, expected)) in
        [("Accept", (1, vec!["accepted"])), ("TentativeAccept", (0, vec!["maybe"])), ("Reject", (0, vec![]))]
            .into_iter()
            .enumerate()
    {
        let body = serde_json::to_vec(&answer(kind, n as u32)).unwrap();
        let status = post_signed(&t.url("/inbox"), &body, &body, &format!("{fred}#main-key"), &key).await;
        assert!(status.is_success(), "{kind}: {status}");
        let expected = (expected.0, expected.1.iter().map(|s| s.to_string()).collect::<Vec<_>>());
        assert_eq!(counts().await, expected, "after {kind}");
    }

    // Refused from a restricted event, Fred stays refused whatever he answers next.
    let body = json!({"name": "Stores tour", "start_time": starts, "join_mode": "restricted"});
    let (_, tour) = call(M::POST, &t, "/api/guildhall/v1/events", Some(&tok), Some(body)).await;
    let (tour_id, tour_uri) =
        (tour["id"].as_str().unwrap().to_owned(), tour["uri"].as_str().unwrap().to_owned());
    let send = |kind: &str, n: u32| {
        let doc = json!({"@context": "https://www.w3.org/ns/activitystreams", "id": format!("{}/objects/t{n}", origin.base),
                         "type": kind, "actor": fred, "object": tour_uri});
        serde_json::to_vec(&doc).unwrap()
    };
    let body = send("Accept", 0);
    assert!(
        post_signed(&t.url("/inbox"), &body, &body, &format!("{fred}#main-key"), &key).await.is_success()
    );
    let path = format!("/api/guildhall/v1/events/{tour_id}/attendees");
    let (_, list) = call(M::GET, &t, &path, Some(&tok), None).await;
    let pid = list[0]["id"].as_str().unwrap().to_owned();
    let reject = format!("/api/guildhall/v1/events/{tour_id}/participants/{pid}/reject");
    assert_eq!(call(M::POST, &t, &reject, Some(&tok), None).await.0, 200);
    for (n, kind) in ["TentativeAccept", "Reject", "Accept"].into_iter().enumerate() {
        let body = send(kind, n as u32 + 1);
        assert!(
            post_signed(&t.url("/inbox"), &body, &body, &format!("{fred}#main-key"), &key).await.is_success()
        );
        let (_, list) = call(M::GET, &t, &path, Some(&tok), None).await;
        assert_eq!(list[0]["state"], "rejected", "after {kind}: {list}");
    }
    t.instance.stop().await.unwrap();
    origin.handle.stop(true).await;
}
