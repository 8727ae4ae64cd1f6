//! The inbox refuses what it must and changes nothing when it does.

use guildhall_core::keys::{SigningKey, generate};
use guildhall_federation::signing;
use guildhall_storage::{actors, follows};
use serde_json::{Value, json};

use crate::support::{Cluster, TestInstance, http};

/// Signs `body` as `key_id` with `key` and POSTs `sent_body` (normally the same) to `inbox`.
pub(crate) async fn post_signed(
    inbox: &str,
    body: &[u8],
    sent_body: &[u8],
    key_id: &str,
    key: &SigningKey,
) -> reqwest::StatusCode {
    let url = url::Url::parse(inbox).unwrap();
    let headers = signing::sign("POST", &url, Some(body), key_id, key).unwrap();
    let mut request = http().post(inbox).body(sent_body.to_vec());
    for (name, value) in headers {
        request = request.header(name, value);
    }
    request.send().await.unwrap().status()
}

pub(crate) async fn key_of(node: &TestInstance, actor_id: i64) -> SigningKey {
    let pem = node.instance.db().run(move |c| actors::private_key(c, actor_id)).await.unwrap();
    SigningKey::from_pem(&pem).unwrap()
}

async fn has_follow(node: &TestInstance, follower_ap_id: &str, target: i64) -> bool {
    let Some(follower) = node.actor(follower_ap_id).await else { return false };
    node.instance.db().run(move |c| follows::find(c, follower.id, target)).await.unwrap().is_some()
}

#[tokio::test]
async fn bad_requests_get_their_status_and_change_nothing() {
    let cluster = Cluster::start(2).await;
    let [a, b] = &cluster.nodes[..] else { unreachable!() };
    let ada = a.user("ada").await;
    let bob = b.user("bob").await;
    let inbox = a.url("/users/ada/inbox");
    let key_id = format!("{}#main-key", bob.ap_id);
    let key = key_of(b, bob.id).await;
    let follow = json!({
        "@context": "https://www.w3.org/ns/activitystreams",
        "id": format!("{}/follows/1", bob.ap_id), "type": "Follow", "actor": bob.ap_id, "object": ada.ap_id,
    });
    let body = serde_json::to_vec(&follow).unwrap();

    // Unsigned.
    let unsigned = http()
        .post(&inbox)
        .header("content-type", "application/activity+json")
        .body(body.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(unsigned.status(), 401);
    assert!(unsigned.json::<Value>().await.unwrap()["error"].is_string());
    // Signed with a key that is not bob's.
    let stranger = SigningKey::from_pem(&generate().unwrap().private_pem).unwrap();
    assert_eq!(post_signed(&inbox, &body, &body, &key_id, &stranger).await, 401);
    // Body changed after signing.
    let mut tampered = follow.clone();
    tampered["object"] = json!(format!("{}/users/someone_else", a.url("")));
    let tampered = serde_json::to_vec(&tampered).unwrap();
    assert_eq!(post_signed(&inbox, &body, &tampered, &key_id, &key).await, 401);
    // Malformed JSON, properly signed.
    assert_eq!(post_signed(&inbox, b"{not json", b"{not json", &key_id, &key).await, 400);
    // Oversized.
    let huge = vec![b' '; 2 * 1024 * 1024];
    assert_eq!(post_signed(&inbox, &huge, &huge, &key_id, &key).await, 413);
    // An activity whose id is on another server than its actor.
    let mut forged = follow.clone();
    forged["id"] = json!(format!("{}/activities/forged", a.url("")));
    let forged = serde_json::to_vec(&forged).unwrap();
    assert_eq!(post_signed(&inbox, &forged, &forged, &key_id, &key).await, 400);
    // Signed by a key on another server than the actor.
    let ada_key = key_of(a, ada.id).await;
    assert_eq!(post_signed(&inbox, &body, &body, &format!("{}#main-key", ada.ap_id), &ada_key).await, 401);
    assert!(!has_follow(a, &bob.ap_id, ada.id).await, "nothing above had an effect");

    // An actor whose key cannot be fetched (its server is not there).
    let ghost = json!({"id": "http://localhost:9/users/ghost/follows/1", "type": "Follow",
                       "actor": "http://localhost:9/users/ghost", "object": ada.ap_id});
    let ghost = serde_json::to_vec(&ghost).unwrap();
    assert_eq!(
        post_signed(&inbox, &ghost, &ghost, "http://localhost:9/users/ghost#main-key", &stranger).await,
        401
    );

    // The real thing works, and unknown types are accepted and ignored.
    assert_eq!(post_signed(&inbox, &body, &body, &key_id, &key).await, 202);
    assert!(has_follow(a, &bob.ap_id, ada.id).await);
    let odd = json!({"id": format!("{}/odd/1", bob.ap_id), "type": "Bite", "actor": bob.ap_id, "object": ada.ap_id});
    let odd = serde_json::to_vec(&odd).unwrap();
    assert_eq!(post_signed(&a.url("/inbox"), &odd, &odd, &key_id, &key).await, 202);
    cluster.stop().await;
}

#[tokio::test]
async fn a_replayed_activity_has_no_second_effect() {
    let cluster = Cluster::start(2).await;
    let [a, b] = &cluster.nodes[..] else { unreachable!() };
    a.user("ada").await;
    let bob = b.user("bob").await;
    let key_id = format!("{}#main-key", bob.ap_id);
    let key = key_of(b, bob.id).await;
    let note_id = format!("{}/statuses/1", bob.ap_id);
    let create = serde_json::to_vec(&json!({
        "id": format!("{note_id}/activity"), "type": "Create", "actor": bob.ap_id,
        "to": ["https://www.w3.org/ns/activitystreams#Public"],
        "object": {"id": note_id, "type": "Note", "attributedTo": bob.ap_id, "content": "<p>once</p>",
                   "to": ["https://www.w3.org/ns/activitystreams#Public"]},
    }))
    .unwrap();
    let delete = serde_json::to_vec(&json!({
        "id": format!("{}/deletes/1", bob.ap_id), "type": "Delete", "actor": bob.ap_id, "object": note_id,
    }))
    .unwrap();
    let inbox = a.url("/inbox");
    assert_eq!(post_signed(&inbox, &create, &create, &key_id, &key).await, 202);
    assert_eq!(a.status(&note_id).await.map(|s| s.content), Some("<p>once</p>".into()));
    assert_eq!(post_signed(&inbox, &delete, &delete, &key_id, &key).await, 202);
    assert!(a.status(&note_id).await.unwrap().deleted_at.is_some());
    // The same Create again (freshly signed): without deduplication it would resurrect the note.
    assert_eq!(post_signed(&inbox, &create, &create, &key_id, &key).await, 202);
    assert!(a.status(&note_id).await.unwrap().deleted_at.is_some(), "the replay changed nothing");
    cluster.stop().await;
}

#[tokio::test]
async fn a_note_with_thousands_of_hashtags_and_files_stores_a_bounded_few() {
    let cluster = Cluster::start(2).await;
    let [a, b] = &cluster.nodes[..] else { unreachable!() };
    a.user("ada").await;
    let bob = b.user("bob").await;
    let key_id = format!("{}#main-key", bob.ap_id);
    let key = key_of(b, bob.id).await;
    let note_id = format!("{}/statuses/tags", bob.ap_id);
    let tags: Vec<Value> =
        (0..3_000).map(|i| json!({"type": "Hashtag", "name": format!("#t{i:04}")})).collect();
    let files: Vec<Value> = (0..1_000)
        .map(|i| json!({"type": "Document", "mediaType": "image/png", "url": format!("https://b.example/{i}.png")}))
        .collect();
    let create = serde_json::to_vec(&json!({
        "id": format!("{note_id}/activity"), "type": "Create", "actor": bob.ap_id,
        "to": ["https://www.w3.org/ns/activitystreams#Public"],
        "object": {"id": note_id, "type": "Note", "attributedTo": bob.ap_id, "content": "<p>tags</p>",
                   "to": ["https://www.w3.org/ns/activitystreams#Public"], "tag": tags,
                   "attachment": files},
    }))
    .unwrap();
    assert_eq!(post_signed(&a.url("/inbox"), &create, &create, &key_id, &key).await, 202);
    let status = a.status(&note_id).await.expect("the note is stored");
    let stored =
        a.instance.db().run(move |c| guildhall_storage::status_parts::tags(c, status.id)).await.unwrap();
    assert_eq!(stored.len(), 200, "the rest is not read inside the write transaction");
    assert_eq!(stored.first().map(String::as_str), Some("t0000"));
    let media =
        a.instance.db().run(move |c| guildhall_storage::status_parts::attachments(c, status.id)).await;
    assert_eq!(media.unwrap().len(), 16, "at most 16 attachments of a remote note");
    cluster.stop().await;
}

#[tokio::test]
async fn only_the_author_may_edit_or_delete() {
    let cluster = Cluster::start(3).await;
    let [a, b, c] = &cluster.nodes[..] else { unreachable!() };
    a.user("ada").await;
    let bob = b.user("bob").await;
    let mallory = c.user("mallory").await;
    let note_id = format!("{}/statuses/7", bob.ap_id);
    let create = serde_json::to_vec(&json!({
        "id": format!("{note_id}/activity"), "type": "Create", "actor": bob.ap_id,
        "object": {"id": note_id, "type": "Note", "attributedTo": bob.ap_id, "content": "mine",
                   "to": ["https://www.w3.org/ns/activitystreams#Public"]},
    }))
    .unwrap();
    let inbox = a.url("/inbox");
    let bob_key = key_of(b, bob.id).await;
    assert_eq!(
        post_signed(&inbox, &create, &create, &format!("{}#main-key", bob.ap_id), &bob_key).await,
        202
    );
    let mallory_key = key_of(c, mallory.id).await;
    let mallory_key_id = format!("{}#main-key", mallory.ap_id);
    let delete = serde_json::to_vec(&json!({
        "id": format!("{}/deletes/1", mallory.ap_id), "type": "Delete", "actor": mallory.ap_id, "object": note_id,
    }))
    .unwrap();
    assert_eq!(post_signed(&inbox, &delete, &delete, &mallory_key_id, &mallory_key).await, 202);
    let claim = serde_json::to_vec(&json!({
        "id": format!("{}/creates/1", mallory.ap_id), "type": "Update", "actor": mallory.ap_id,
        "object": {"id": note_id, "type": "Note", "attributedTo": bob.ap_id, "content": "hijacked"},
    }))
    .unwrap();
    assert_eq!(post_signed(&inbox, &claim, &claim, &mallory_key_id, &mallory_key).await, 403);
    let stored = a.status(&note_id).await.unwrap();
    assert_eq!((stored.content.as_str(), stored.deleted_at), ("mine", None));
    cluster.stop().await;
}
