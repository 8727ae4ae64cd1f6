//! Events in a browser without script: a member publishes one in a group through the form,
//! others join (listed or not), the organizer answers requests and cancels; the list, the group
//! page, the calendar feeds (read back with another iCalendar parser) and the settings.
//! And the other side: a stranger before a members-only group's event, forms without the
//! session's token or from another site, a feed address that was replaced.

use reqwest::Method as M;
use serde_json::json;

use crate::client_api::{call, token};
use crate::support::{Backend, TestInstance, http};
use crate::web_members::Browser;

/// 10:00 in London on a summer day far ahead: 09:00 UTC.
const STARTS: &str = "2036-07-11T10:00";
const STARTS_UTC: &str = "20360711T090000Z";
const NAME: &str = "Glass & ceramics, conserved; a <workshop>";

/// The calendars in an iCalendar text, read by the `ical` crate.
fn parse_ics(text: &str) -> Vec<ical::parser::ical::component::IcalCalendar> {
    ical::IcalParser::new(std::io::BufReader::new(text.as_bytes()))
        .collect::<Result<Vec<_>, _>>()
        .unwrap_or_else(|e| panic!("{e}: {text}"))
}

/// The raw value of property `name` of an event.
fn prop(event: &ical::parser::ical::component::IcalEvent, name: &str) -> Option<String> {
    event.properties.iter().find(|p| p.name == name).and_then(|p| p.value.clone())
}

async fn group(t: &TestInstance, name: &str, visibility: &str, membership: &str) {
    let moderator = token(t, "mod", "read write follow").await;
    let body =
        json!({"name": name, "display_name": name, "visibility": visibility, "membership": membership});
    let (s, _) = call(M::POST, t, "/api/guildhall/v1/groups", Some(&moderator), Some(body)).await;
    assert!(s.is_success(), "{s}");
}

/// Signs `name` in and joins group `group` (open membership).
async fn member(t: &TestInstance, name: &str, group: &str) -> Browser {
    let mut b = Browser::new(t);
    b.sign_in(name, false).await;
    let page = b.get(&format!("/@{group}")).await;
    let joined = b.post(&format!("/@{group}/follow"), &[("csrf", &page.csrf())]).await;
    assert_eq!(joined.status, 303, "{}", joined.body);
    b
}

/// Publishes an event in `group` through the form; returns its id.
async fn publish(b: &mut Browser, group: &str, extra: &[(&str, &str)]) -> i64 {
    let form = b.get(&format!("/events/new?group={group}")).await;
    assert_eq!(form.status, 200, "{}", form.body);
    assert!(form.body.contains(&format!("name=\"group\" value=\"{group}\"")), "{}", form.body);
    let csrf = form.csrf();
    let mut fields = vec![
        ("csrf", csrf.as_str()),
        ("group", group),
        ("name", NAME),
        ("description", "Bring gloves, we start sharp."),
        ("starts", STARTS),
        ("ends", "2036-07-11T16:00"),
        ("timezone", "Europe/London"),
        ("place_name", "British Museum"),
        ("locality", "London"),
        ("capacity", "2"),
        ("join_mode", "free"),
        ("visibility", "public"),
    ];
    for (k, v) in extra {
        fields.retain(|(key, _)| key != k);
        fields.push((k, v));
    }
    let made = b.post("/events", &fields).await;
    assert_eq!(made.status, 303, "{}", made.body);
    let at = made.location.unwrap();
    at.strip_prefix("/events/").unwrap().parse().unwrap()
}

#[tokio::test]
async fn a_member_publishes_an_event_others_join_and_calendars_read_it() {
    let t = TestInstance::start(&Backend::Sqlite).await;
    for name in ["mod", "ada", "bob", "cy"] {
        t.user(name).await;
    }
    group(&t, "guild", "public", "open").await;
    let mut ada = member(&t, "ada", "guild").await;
    let page = ada.get("/@guild").await;
    assert!(
        page.body.contains("Upcoming events") && page.body.contains("/events/new?group=guild"),
        "{}",
        page.body
    );

    // Wrong fields are named, and nothing is made.
    let csrf = ada.get("/events/new?group=guild").await.csrf();
    for (field, value, named) in [
        ("ends", "2036-07-11T09:00", "ends"),
        ("timezone", "Mars/Olympus", "timezone"),
        ("starts", "2001-01-01T10:00", "starts"),
        ("capacity", "0", "capacity"),
        ("join_mode", "external", "external_url"),
    ] {
        let mut fields = vec![
            ("csrf", csrf.as_str()),
            ("group", "guild"),
            ("name", "Bad"),
            ("starts", STARTS),
            ("timezone", "Europe/London"),
            ("join_mode", "free"),
        ];
        fields.retain(|(k, _)| *k != field);
        fields.push((field, value));
        let refused = ada.post("/events", &fields).await;
        assert_eq!(refused.status, 422, "{field}: {}", refused.body);
        assert!(refused.body.contains(named), "{field}: {}", refused.body);
    }
    // Without the session's token, or from another site: refused.
    let no_token = ada.post("/events", &[("name", "x"), ("starts", STARTS), ("join_mode", "free")]).await;
    assert_eq!(no_token.status, 403, "{}", no_token.body);
    let cross = ada
        .post_from("http://evil.localhost", "/events", &[("csrf", &csrf), ("name", "x"), ("starts", STARTS)])
        .await;
    assert_eq!(cross.status, 403);

    let id = publish(&mut ada, "guild", &[]).await;
    let page = ada.get(&format!("/events/{id}")).await;
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(
        !page.body.contains("<workshop>") && page.body.contains("conserved; a &"),
        "escaped: {}",
        page.body
    );
    assert!(page.body.contains("Friday 11 July 2036, 10:00–16:00 (Europe/London)"), "{}", page.body);
    assert!(page.body.contains("0 going · 2 places left · 0 waiting"), "{}", page.body);
    assert!(page.body.contains("Bring gloves, we start sharp."));
    assert!(page.body.contains("Edit the event") && page.body.contains("Cancel the event"));

    // bob joins, listed, with a message; a post without the token does nothing.
    let mut bob = member(&t, "bob", "guild").await;
    let event = bob.get(&format!("/events/{id}")).await;
    assert!(event.body.contains(">Join</button>"), "{}", event.body);
    let forged = bob.post(&format!("/events/{id}/join"), &[("listed", "1")]).await;
    assert_eq!(forged.status, 403);
    let cross = bob
        .post_from("http://evil.localhost", &format!("/events/{id}/join"), &[("csrf", &event.csrf())])
        .await;
    assert_eq!(cross.status, 403);
    let joined = bob
        .post(
            &format!("/events/{id}/join"),
            &[("csrf", &event.csrf()), ("message", "Can I bring a friend?"), ("listed", "1")],
        )
        .await;
    assert_eq!(
        (joined.status, joined.location.clone()),
        (303, Some(format!("/events/{id}"))),
        "{}",
        joined.body
    );
    let event = bob.get(&format!("/events/{id}")).await;
    assert!(
        event.body.contains("You are going.") && event.body.contains("1 going · 1 place left · 0 waiting"),
        "{}",
        event.body
    );

    // The organizer sees bob and his message; cy, a member, sees him listed, without it; a
    // stranger sees the counts alone.
    let organizer = ada.get(&format!("/events/{id}")).await;
    assert!(
        organizer.body.contains("@bob@") && organizer.body.contains("Can I bring a friend?"),
        "{}",
        organizer.body
    );
    let mut cy = member(&t, "cy", "guild").await;
    let seen = cy.get(&format!("/events/{id}")).await;
    assert!(seen.body.contains("@bob@") && !seen.body.contains("Can I bring a friend?"), "{}", seen.body);
    let stranger = Browser::new(&t).get(&format!("/events/{id}")).await;
    assert_eq!(stranger.status, 200);
    assert!(!stranger.body.contains("@bob@") && stranger.body.contains("1 going"), "{}", stranger.body);
    // Unlisted, bob is gone from cy's view but not from the organizer's.
    let hidden =
        bob.post(&format!("/events/{id}/listed"), &[("csrf", &event.csrf()), ("listed", "false")]).await;
    assert_eq!(hidden.status, 303, "{}", hidden.body);
    assert!(!cy.get(&format!("/events/{id}")).await.body.contains("@bob@"));
    assert!(ada.get(&format!("/events/{id}")).await.body.contains("@bob@"));

    // The list, the group page.
    let list = Browser::new(&t).get("/events").await;
    assert!(
        list.body.contains(&format!("/events/{id}")) && list.body.contains("/@guild/events.ics"),
        "{}",
        list.body
    );
    let group_page = Browser::new(&t).get("/@guild").await;
    assert!(
        group_page.body.contains(&format!("/events/{id}")) && !group_page.body.contains("/events/new"),
        "{}",
        group_page.body
    );

    // The event's calendar: the right headers, read back by another parser.
    let api = token(&t, "ada", "read").await;
    let (_, status) = call(M::GET, &t, &format!("/api/v1/statuses/{id}"), Some(&api), None).await;
    let uri = status["uri"].as_str().unwrap().to_owned();
    let res = http().get(t.url(&format!("/events/{id}.ics"))).send().await.unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["content-type"], "text/calendar; charset=utf-8");
    let text = res.text().await.unwrap();
    assert!(text.contains("\r\n") && !text.replace("\r\n", "").contains('\n'), "CRLF lines: {text}");
    let cals = parse_ics(&text);
    let ev = &cals[0].events[0];
    assert_eq!(prop(ev, "SUMMARY").as_deref(), Some("Glass & ceramics\\, conserved\\; a <workshop>"));
    assert_eq!(prop(ev, "DTSTART").as_deref(), Some(STARTS_UTC));
    assert_eq!(prop(ev, "DTEND").as_deref(), Some("20360711T150000Z"));
    assert_eq!(prop(ev, "UID"), Some(uri.clone()));
    assert_eq!(prop(ev, "STATUS").as_deref(), Some("CONFIRMED"));
    assert_eq!(prop(ev, "DESCRIPTION").as_deref(), Some("Bring gloves\\, we start sharp."));
    assert_eq!(prop(ev, "URL"), Some(t.url(&format!("/events/{id}"))));
    // The group's feed holds it too.
    let feed = http().get(t.url("/@guild/events.ics")).send().await.unwrap().text().await.unwrap();
    let cals = parse_ics(&feed);
    assert!(cals[0].events.iter().any(|e| prop(e, "UID") == Some(uri.clone())), "{feed}");

    // bob's personal feed: made in the settings, shown once, read without a session; a new
    // address turns the old one off.
    let settings = bob.get("/settings").await;
    assert!(
        settings.body.contains("Calendar feed") && settings.body.contains("Reminders"),
        "{}",
        settings.body
    );
    let made = bob.post("/settings/calendar", &[("csrf", &settings.csrf())]).await;
    assert_eq!(made.status, 200, "{}", made.body);
    let feed_url = feed_address(&made.body);
    assert!(feed_url.starts_with(&t.url("/calendar/")), "{feed_url}");
    let res = http().get(&feed_url).send().await.unwrap();
    assert_eq!(res.status(), 200);
    let cals = parse_ics(&res.text().await.unwrap());
    let ev = &cals[0].events[0];
    assert_eq!((prop(ev, "UID"), prop(ev, "DTSTART").as_deref()), (Some(uri.clone()), Some(STARTS_UTC)));
    let again = bob.post("/settings/calendar", &[("csrf", &settings.csrf())]).await;
    let second = feed_address(&again.body);
    assert_ne!(second, feed_url);
    assert_eq!(http().get(&feed_url).send().await.unwrap().status(), 404);
    assert_eq!(http().get(&second).send().await.unwrap().status(), 200);
    assert_eq!(http().get(t.url("/calendar/not-a-token.ics")).send().await.unwrap().status(), 404);

    // Reminders: the checkboxes are saved.
    let saved =
        bob.post("/settings/reminders", &[("csrf", &settings.csrf()), ("m10", "1"), ("m10080", "1")]).await;
    assert_eq!(saved.status, 303, "{}", saved.body);
    let settings = bob.get("/settings").await;
    assert!(settings.body.contains("name=\"m10\" value=\"1\" checked"), "{}", settings.body);
    assert!(settings.body.contains("name=\"m10080\" value=\"1\" checked"));
    assert!(!settings.body.contains("name=\"m60\" value=\"1\" checked"));

    // Turned off, the feed is gone.
    let off = bob.post("/settings/calendar", &[("csrf", &settings.csrf()), ("off", "1")]).await;
    assert_eq!(off.status, 303);
    assert_eq!(http().get(&second).send().await.unwrap().status(), 404);

    // The organizer edits through the same form, filled in; no one else gets it.
    assert_eq!(bob.get(&format!("/events/{id}/edit")).await.status, 404);
    let form = ada.get(&format!("/events/{id}/edit")).await;
    assert!(
        form.body.contains("value=\"2036-07-11T10:00\"") && form.body.contains("Europe/London"),
        "{}",
        form.body
    );
    let edit = [
        ("csrf", form.csrf()),
        ("name", NAME.to_owned()),
        ("description", "Bring gloves, we start sharp.".to_owned()),
        ("starts", STARTS.to_owned()),
        ("ends", "2036-07-11T16:00".to_owned()),
        ("timezone", "Europe/London".to_owned()),
        ("place_name", "British Museum".to_owned()),
        ("locality", "Bloomsbury".to_owned()),
        ("capacity", "2".to_owned()),
        ("join_mode", "free".to_owned()),
    ];
    let fields: Vec<(&str, &str)> = edit.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let edited = ada.post(&format!("/events/{id}/edit"), &fields).await;
    assert_eq!(edited.status, 303, "{}", edited.body);
    assert!(bob.get(&format!("/events/{id}")).await.body.contains("British Museum, Bloomsbury"));

    // Only the organizer cancels; then the page and the calendar say so.
    assert_eq!(bob.post(&format!("/events/{id}/cancel"), &[("csrf", &settings.csrf())]).await.status, 404);
    let csrf = ada.get(&format!("/events/{id}")).await.csrf();
    assert_eq!(ada.post(&format!("/events/{id}/cancel"), &[("csrf", &csrf)]).await.status, 303);
    assert!(bob.get(&format!("/events/{id}")).await.body.contains("This event is cancelled."));
    let text = http().get(t.url(&format!("/events/{id}.ics"))).send().await.unwrap().text().await.unwrap();
    assert_eq!(prop(&parse_ics(&text)[0].events[0], "STATUS").as_deref(), Some("CANCELLED"));
}

/// The address on the page shown after making a feed.
fn feed_address(body: &str) -> String {
    let at = body.find("readonly value=\"").unwrap_or_else(|| panic!("{body}")) + 16;
    body[at..at + body[at..].find('"').unwrap()].to_owned()
}

#[tokio::test]
async fn a_members_only_groups_event_is_hidden_from_strangers_and_requests_are_answered() {
    let t = TestInstance::start(&Backend::Sqlite).await;
    for name in ["mod", "ada", "bob", "eve"] {
        t.user(name).await;
    }
    group(&t, "circle", "members", "open").await;
    let mut ada = member(&t, "ada", "circle").await;
    let id = publish(&mut ada, "circle", &[("join_mode", "restricted"), ("name", "Quiet reading")]).await;

    // A stranger and a signed-in non-member: 404 for the page, its calendar and its buttons.
    let mut stranger = Browser::new(&t);
    for path in [format!("/events/{id}"), format!("/events/{id}.ics")] {
        let page = stranger.get(&path).await;
        assert_eq!(page.status, 404, "{path}");
        assert!(!page.body.contains("Quiet reading"));
    }
    let mut eve = Browser::new(&t);
    eve.sign_in("eve", false).await;
    assert_eq!(eve.get(&format!("/events/{id}")).await.status, 404);
    assert_eq!(eve.get(&format!("/events/{id}.ics")).await.status, 404);
    let csrf = eve.get("/settings").await.csrf();
    assert_eq!(eve.post(&format!("/events/{id}/join"), &[("csrf", &csrf)]).await.status, 404);
    for body in [
        stranger.get("/events").await.body,
        eve.get("/events").await.body,
        stranger.get("/@circle").await.body,
    ] {
        assert!(!body.contains("Quiet reading"), "{body}");
    }
    let feed = http().get(t.url("/@circle/events.ics")).send().await.unwrap().text().await.unwrap();
    assert!(parse_ics(&feed)[0].events.is_empty(), "{feed}");

    // A member asks to join; the organizer accepts from the page.
    let mut bob = member(&t, "bob", "circle").await;
    let page = bob.get(&format!("/events/{id}")).await;
    assert_eq!(page.status, 200);
    assert!(bob.get("/@circle").await.body.contains("Quiet reading"));
    let asked =
        bob.post(&format!("/events/{id}/join"), &[("csrf", &page.csrf()), ("message", "May I?")]).await;
    assert_eq!(asked.status, 303, "{}", asked.body);
    assert!(bob.get(&format!("/events/{id}")).await.body.contains("You asked to join"));
    let organizer = ada.get(&format!("/events/{id}")).await;
    assert!(
        organizer.body.contains("Waiting for your answer (1)") && organizer.body.contains("May I?"),
        "{}",
        organizer.body
    );
    let accept = organizer.body.split("action=\"").find(|a| a.contains("/accept\"")).unwrap();
    let accept = &accept[..accept.find('"').unwrap()];
    // Another member may not answer for the organizer.
    assert_eq!(bob.post(accept, &[("csrf", &page.csrf())]).await.status, 404);
    assert_eq!(ada.post(accept, &[("csrf", &organizer.csrf())]).await.status, 303);
    let page = bob.get(&format!("/events/{id}")).await;
    assert!(page.body.contains("You are going.") && page.body.contains("1 going"), "{}", page.body);
    let ics = bob.get(&format!("/events/{id}.ics")).await;
    assert_eq!(ics.status, 200);
    assert_eq!(prop(&parse_ics(&ics.body)[0].events[0], "SUMMARY").as_deref(), Some("Quiet reading"));

    // Leaving takes the answer back.
    assert_eq!(bob.post(&format!("/events/{id}/leave"), &[("csrf", &page.csrf())]).await.status, 303);
    assert!(bob.get(&format!("/events/{id}")).await.body.contains("0 going"));
}
