//! Snapshots of the JSON the outside world reads from us: actor, Note and activities.
//! A change here changes what Mastodon, Lemmy and GoToSocial see; review it as such.

use chrono::NaiveDate;
use guildhall_core::Config;
use guildhall_core::model::{ActorKind, Visibility};
use guildhall_storage::actors::{Actor, ProfileField};
use guildhall_storage::statuses::Status;
use serde_json::json;

use crate::Urls;
use crate::objects::actor::DbActor;
use crate::objects::status::{NoteParts, render_note};
use crate::outgoing::envelope;

fn stamp() -> chrono::NaiveDateTime {
    NaiveDate::from_ymd_opt(2026, 11, 27).and_then(|d| d.and_hms_opt(9, 30, 0)).unwrap_or_default()
}

fn ada() -> Actor {
    let urls = Urls::new(&Config::defaults());
    let mut actor = Actor::new_local(
        ActorKind::Person,
        "ada",
        urls.actor(ActorKind::Person, "ada"),
        "-----BEGIN PUBLIC KEY-----\nMIIB\n-----END PUBLIC KEY-----\n".into(),
    );
    actor.id = 1;
    actor.display_name = "Ada Lovelace".into();
    actor.summary = "<p>Registrar at the Science Museum</p>".into();
    actor.set_fields(&[ProfileField { name: "Pronouns".into(), value: "she/her".into() }]);
    actor.published_at = Some(stamp());
    actor.created_at = stamp();
    actor.updated_at = stamp();
    actor
}

fn eve() -> Actor {
    let mut eve = ada();
    eve.id = 2;
    eve.username = "eve".into();
    eve.domain = Some("remote.example".into());
    eve.ap_id = "https://remote.example/users/eve".into();
    eve
}

fn status(visibility: Visibility) -> Status {
    Status {
        id: 117_687_700_000_000_000,
        ap_id: "http://localhost:8080/users/ada/statuses/117687700000000000".into(),
        url: Some("http://localhost:8080/@ada/117687700000000000".into()),
        actor_id: 1,
        local: true,
        kind: "Note".into(),
        in_reply_to_id: None,
        in_reply_to_ap_id: None,
        in_reply_to_actor_id: None,
        reblog_of_id: None,
        group_id: None,
        visibility: visibility.as_str().into(),
        title: None,
        content: "<p>Hello <span class=\"h-card\"><a href=\"https://remote.example/@eve\" class=\"u-url mention\">@<span>eve</span></a></span> #GLAM</p>".into(),
        source: Some("Hello @eve@remote.example #GLAM".into()),
        spoiler_text: String::new(),
        sensitive: false,
        language: Some("en".into()),
        published_at: stamp(),
        edited_at: None,
        deleted_at: None,
        created_at: stamp(),
        updated_at: stamp(),
    }
}

fn note(visibility: Visibility) -> serde_json::Value {
    let parts = NoteParts {
        status: status(visibility),
        author: ada(),
        mentions: vec![eve()],
        tags: vec!["glam".into()],
        in_reply_to: Some("https://remote.example/users/eve/statuses/1".into()),
        audience: None,
        attachments: Vec::new(),
        poll: None,
        event: None,
    };
    let rendered = render_note(&parts, "http://localhost:8080", "localhost:8080");
    serde_json::to_value(rendered.ok()).unwrap_or_default()
}

#[test]
fn person_actor() {
    let doc = DbActor::new(ada()).and_then(|a| a.to_json()).ok();
    insta::assert_json_snapshot!(crate::protocol::with_context(
        serde_json::to_value(doc).unwrap_or_default()
    ));
}

#[test]
fn public_note() {
    insta::assert_json_snapshot!(note(Visibility::Public));
}

#[test]
fn followers_only_and_direct_addressing() {
    let private = note(Visibility::Private);
    let direct = note(Visibility::Direct);
    insta::assert_json_snapshot!(json!({
        "private": { "to": private["to"], "cc": private["cc"] },
        "direct": { "to": direct["to"], "cc": direct["cc"] },
    }));
}

#[test]
fn create_and_follow_activities() {
    let create = envelope(
        "http://localhost:8080/users/ada/statuses/117687700000000000/activity",
        "Create",
        &ada(),
        note(Visibility::Public),
        &["https://www.w3.org/ns/activitystreams#Public".into()],
        &["http://localhost:8080/users/ada/followers".into()],
    );
    insta::assert_json_snapshot!(create);
    let follow = envelope(
        "http://localhost:8080/activities/117687700000000001",
        "Follow",
        &ada(),
        json!("https://remote.example/users/eve"),
        &["https://remote.example/users/eve".into()],
        &[],
    );
    insta::assert_json_snapshot!(follow);
}

#[test]
fn note_with_an_image() {
    let image = guildhall_storage::status_parts::Attachment {
        id: 117_687_700_000_000_002,
        status_id: Some(117_687_700_000_000_000),
        actor_id: 1,
        remote_url: None,
        file_path: Some("Zm9vYmFyYmF6cXV4cXV1eGNvcmdlZ3JhdWx0.jpg".into()),
        media_type: Some("image/jpeg".into()),
        description: Some("A Ming vase on a plinth".into()),
        blurhash: Some("LEHV6nWB2yk8pyo0adR*.7kCMdnj".into()),
        width: Some(1200),
        height: Some(900),
        position: 0,
        created_at: stamp(),
        preview_path: Some("cHJldmlld3ByZXZpZXdwcmV2aWV3cHJldmlldw.jpg".into()),
        preview_width: Some(400),
        preview_height: Some(300),
        file_size: Some(123_456),
        focus: None,
    };
    let parts = NoteParts {
        status: status(Visibility::Public),
        author: ada(),
        mentions: Vec::new(),
        tags: Vec::new(),
        in_reply_to: None,
        audience: None,
        attachments: vec![image],
        poll: None,
        event: None,
    };
    let note = render_note(&parts, "http://localhost:8080", "localhost:8080").ok();
    insta::assert_json_snapshot!(serde_json::to_value(note).unwrap_or_default()["attachment"]);
}
