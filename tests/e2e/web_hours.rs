//! Discussion hours in a browser without script: an hour's page with its schedule, prompts
//! and archive; an edition's live page that reveals each prompt when the group posts it, with
//! its answers (escaped) and their replies counted, then the recap; the list on the group's
//! page. And the other side: a members-only group's hours are a 404 for anyone outside it.

use chrono::{DateTime, Duration, NaiveDateTime};
use reqwest::Method as M;
use serde_json::{Value, json};

use crate::client_api::{call, token};
use crate::support::{Backend, TestInstance};
use crate::web_members::Browser;

const TITLE: &str = "Museum Hour";
const INTRO: &str = "Welcome to tonight's hour.";
/// The intro as a page shows it (the apostrophe may be escaped).
const INTRO_SHOWN: &str = "Welcome to tonight";
const PHASE_LIVE: &str = "<strong class=\"hour-phase\">live now</strong>";
const ANSWER: &str = "A1 It holds <script>alert(1)</script> glass";

/// A group `name` made by `mod` through the API.
async fn group(t: &TestInstance, name: &str, visibility: &str) -> String {
    let moderator = token(t, "mod", "read write follow").await;
    let body = json!({"name": name, "display_name": name, "visibility": visibility, "membership": "open"});
    let (s, made) = call(M::POST, t, "/api/guildhall/v1/groups", Some(&moderator), Some(body)).await;
    assert!(s.is_success(), "{s} {made}");
    made["id"].as_str().unwrap().to_owned()
}

/// `mod` schedules a daily hour at 20:00 in London with three prompts a minute apart;
/// returns (hour id, first edition id, first start in UTC).
async fn schedule(t: &TestInstance, group_id: &str) -> (String, String, NaiveDateTime) {
    let moderator = token(t, "mod", "read write").await;
    let prompts: Vec<Value> = (1..=3)
        .map(|n| json!({"offset_seconds": 60 * n, "text": format!("What is object {n} for?")}))
        .collect();
    let body = json!({
        "title": TITLE, "hashtag": "#MuseumHour", "rrule": "FREQ=DAILY", "dtstart": "2026-01-05T20:00",
        "timezone": "Europe/London", "duration_minutes": 60, "intro": INTRO, "prompts": prompts,
    });
    let path = format!("/api/guildhall/v1/groups/{group_id}/hours");
    let (s, hour) = call(M::POST, t, &path, Some(&moderator), Some(body)).await;
    assert_eq!(s, 200, "{hour}");
    let edition = &hour["editions"][0];
    let start = DateTime::parse_from_rfc3339(edition["starts_at"].as_str().unwrap()).unwrap().naive_utc();
    (hour["id"].as_str().unwrap().to_owned(), edition["id"].as_str().unwrap().to_owned(), start)
}

/// Signs `name` in and joins group `group`.
async fn member(t: &TestInstance, name: &str, group: &str) -> Browser {
    let mut b = Browser::new(t);
    b.sign_in(name, false).await;
    let page = b.get(&format!("/@{group}")).await;
    let joined = b.post(&format!("/@{group}/follow"), &[("csrf", &page.csrf())]).await;
    assert_eq!(joined.status, 303, "{}", joined.body);
    b
}

/// The status id of prompt `n` (from 1) of an edition, as the API reports it.
async fn prompt_id(t: &TestInstance, hour: &str, edition: &str, n: usize) -> String {
    let moderator = token(t, "mod", "read").await;
    let (_, shown) =
        call(M::GET, t, &format!("/api/guildhall/v1/hours/{hour}"), Some(&moderator), None).await;
    let editions = shown["editions"].as_array().unwrap();
    let this = editions.iter().find(|e| e["id"] == edition).unwrap_or_else(|| panic!("{shown}"));
    this["prompts"][n - 1]["status_id"].as_str().unwrap().to_owned()
}

async fn reply(t: &TestInstance, user: &str, to: &str, text: &str) -> String {
    let token = token(t, user, "read write").await;
    let body = json!({"status": text, "in_reply_to_id": to});
    let (s, posted) = call(M::POST, t, "/api/v1/statuses", Some(&token), Some(body)).await;
    assert_eq!(s, 200, "{posted}");
    posted["id"].as_str().unwrap().to_owned()
}

fn has_all(body: &str, parts: &[&str]) {
    for part in parts {
        assert!(body.contains(part), "{part:?} in {body}");
    }
}

fn has_none(body: &str, parts: &[&str]) {
    for part in parts {
        assert!(!body.contains(part), "no {part:?} in {body}");
    }
}

#[tokio::test]
async fn an_hours_pages_reveal_prompts_as_posted_with_escaped_answers_and_the_recap() {
    let t = TestInstance::start(&Backend::Sqlite).await;
    for name in ["mod", "ann", "ben"] {
        t.user(name).await;
    }
    let group_id = group(&t, "museum", "public").await;
    let (hour, edition, start) = schedule(&t, &group_id).await;
    let mut stranger = Browser::new(&t);

    let page = stranger.get(&format!("/hours/{hour}")).await;
    assert_eq!(page.status, 200, "{}", page.body);
    let next =
        guildhall_core::calendar::when_text(start, Some(start + Duration::hours(1)), Some("Europe/London"));
    has_all(
        &page.body,
        &[
            TITLE,
            "Every day",
            "FREQ=DAILY",
            "Europe/London",
            &next,
            "60 minutes",
            "href=\"/tags/museumhour\"",
            "#MuseumHour",
            INTRO_SHOWN,
            "+1 min",
            "What is object 3 for?",
            &format!("/hours/{hour}/editions/{edition}"),
            "No edition has taken place yet",
        ],
    );
    let live = format!("/hours/{hour}/editions/{edition}");
    let page = stranger.get(&live).await;
    assert_eq!(page.status, 200, "{}", page.body);
    has_all(
        &page.body,
        &["<strong class=\"hour-phase\">upcoming</strong>", "Q1", "at 20:01", "Q3", "at 20:03"],
    );
    has_none(&page.body, &["What is object", "http-equiv=\"refresh\"", "Read the recap"]);

    // The intro and Q1 are posted: Q1's text shows, Q2's does not yet; the page refreshes.
    t.instance.scheduler().flush_as_of(start + Duration::seconds(61)).await.unwrap();
    let q1 = prompt_id(&t, &hour, &edition, 1).await;
    let answer = reply(&t, "ann", &q1, ANSWER).await;
    reply(&t, "ben", &answer, "Which glass?").await;
    let page = stranger.get(&live).await;
    has_all(
        &page.body,
        &[PHASE_LIVE, "?auto=true", INTRO_SHOWN, "What is object 1 for?", "at 20:02", "1 answer", "1 reply"],
    );
    has_none(&page.body, &["What is object 2 for?", "<script>alert", "Read the recap", "http-equiv"]);
    // Reloading on its own is the reader's choice (WCAG 2.2.1), and can be stopped.
    let auto = stranger.get(&format!("{live}?auto=true")).await;
    has_all(&auto.body, &["http-equiv=\"refresh\"", "Stop reloading"]);
    assert!(page.body.contains("&lt;script&gt;alert(1)"), "escaped: {}", page.body);
    assert!(page.body.contains(&format!("/statuses/{answer}")), "{}", page.body);

    // After the end: every prompt, the recap linked, no more refreshing.
    t.instance.scheduler().flush_as_of(start + Duration::seconds(3601)).await.unwrap();
    let moderator = token(&t, "mod", "read").await;
    let (_, shown) =
        call(M::GET, &t, &format!("/api/guildhall/v1/hours/{hour}"), Some(&moderator), None).await;
    let this = shown["editions"].as_array().unwrap().iter().find(|e| e["id"] == edition.as_str()).unwrap();
    let recap = this["recap_status_id"].as_str().unwrap().to_owned();
    let page = stranger.get(&live).await;
    has_all(
        &page.body,
        &[
            "<strong class=\"hour-phase\">over</strong>",
            "What is object 3 for?",
            &format!("href=\"/statuses/{recap}\""),
        ],
    );
    has_none(&page.body, &["http-equiv=\"refresh\"", "<script>alert"]);

    // The archive and the group's page.
    let page = stranger.get(&format!("/hours/{hour}")).await;
    has_all(&page.body, &[&live, &format!("/statuses/{recap}")]);
    has_none(&page.body, &["No edition has taken place yet"]);
    let page = stranger.get("/@museum").await;
    has_all(&page.body, &["Discussion hours", &format!("href=\"/hours/{hour}\""), TITLE]);
    has_none(&page.body, &["Schedule a discussion hour"]);
    let mut moder = Browser::new(&t);
    moder.sign_in("mod", false).await;
    has_all(&moder.get("/@museum").await.body, &["href=\"/@museum/hours/new\""]);

    // Ids that are not this hour's: 404.
    let (other, other_edition, _) = schedule(&t, &group_id).await;
    assert_eq!(stranger.get(&format!("/hours/{hour}/editions/{other_edition}")).await.status, 404);
    assert_eq!(stranger.get(&format!("/hours/{other}/editions/{edition}")).await.status, 404);
    assert_eq!(stranger.get(&format!("/hours/{hour}/editions/nope")).await.status, 404);
    assert_eq!(stranger.get("/hours/12345").await.status, 404);
}

#[tokio::test]
async fn a_members_only_groups_hours_are_for_its_members_and_moderators() {
    let t = TestInstance::start(&Backend::Sqlite).await;
    for name in ["mod", "ann", "eve"] {
        t.user(name).await;
    }
    let group_id = group(&t, "circle", "members").await;
    let (hour, edition, start) = schedule(&t, &group_id).await;
    t.instance.scheduler().flush_as_of(start + Duration::seconds(61)).await.unwrap();
    let mut ann = member(&t, "ann", "circle").await;
    let mut moder = Browser::new(&t);
    moder.sign_in("mod", false).await;
    let mut eve = Browser::new(&t);
    eve.sign_in("eve", false).await;
    let mut stranger = Browser::new(&t);
    let paths = [format!("/hours/{hour}"), format!("/hours/{hour}/editions/{edition}")];

    for path in &paths {
        for (who, b) in [("stranger", &mut stranger), ("eve", &mut eve)] {
            let page = b.get(path).await;
            assert_eq!(page.status, 404, "{who} {path}");
            has_none(&page.body, &[TITLE, "What is object"]);
        }
        for (who, b) in [("ann", &mut ann), ("mod", &mut moder)] {
            let page = b.get(path).await;
            assert_eq!(page.status, 200, "{who} {path}: {}", page.body);
            has_all(&page.body, &[TITLE, "What is object 1 for?"]);
        }
    }
    // The edition's posts are the group's members-only posts: members see them.
    has_all(&ann.get(&paths[1]).await.body, &[INTRO_SHOWN, PHASE_LIVE]);
    for body in [stranger.get("/@circle").await.body, eve.get("/@circle").await.body] {
        has_none(&body, &["Discussion hours", TITLE]);
    }
    has_all(&ann.get("/@circle").await.body, &["Discussion hours", TITLE]);
}

/// The hour form's fields, with `rrule` and `prompts` as given and `csrf` when given.
fn hour_fields<'a>(rrule: &'a str, prompts: &'a str, csrf: Option<&'a str>) -> Vec<(&'a str, &'a str)> {
    let mut fields = vec![
        ("title", "Museum Hour"),
        ("hashtag", "MuseumHour"),
        ("rrule", rrule),
        ("starts", "2026-01-05T20:00"),
        ("timezone", "Europe/London"),
        ("duration", "60"),
        ("intro", "Welcome"),
        ("prompts", prompts),
    ];
    fields.extend(csrf.map(|c| ("csrf", c)));
    fields
}

#[tokio::test]
async fn a_moderator_schedules_an_hour_from_the_form_and_nobody_else_can() {
    let t = TestInstance::start(&Backend::Sqlite).await;
    for name in ["mod", "ann"] {
        t.user(name).await;
    }
    group(&t, "museum", "public").await;
    let mut moder = Browser::new(&t);
    moder.sign_in("mod", false).await;
    let form = moder.get("/@museum/hours/new").await;
    assert_eq!(form.status, 200, "{}", form.body);
    let csrf = form.csrf();
    for (rrule, prompts, field) in
        [("FREQ=MINUTELY", "5 | Q", "rrule"), ("FREQ=DAILY", "soon | Q", "prompts: line 1")]
    {
        let refused = moder.post("/@museum/hours", &hour_fields(rrule, prompts, Some(&csrf))).await;
        assert_eq!(refused.status, 422, "{field}");
        assert!(refused.body.contains(field), "{field}: {}", refused.body);
    }
    let no_token = moder.post("/@museum/hours", &hour_fields("FREQ=DAILY", "5 | Q", None)).await;
    assert_eq!(no_token.status, 403, "a form without its token");
    let prompts = "5 | What would you save first?\n15 | Who looks after it?";
    let made = moder.post("/@museum/hours", &hour_fields("FREQ=WEEKLY;BYDAY=MO", prompts, Some(&csrf))).await;
    assert_eq!(made.status, 303, "{}", made.body);
    let page = moder.get(&made.location.unwrap()).await;
    has_all(&page.body, &["Museum Hour", "What would you save first?", "+15 min"]);

    // A member who does not moderate sees no form and cannot post one.
    let mut ann = Browser::new(&t);
    ann.sign_in("ann", false).await;
    assert_eq!(ann.get("/@museum/hours/new").await.status, 404);
    let csrf = ann.get("/@museum").await.csrf();
    assert_eq!(
        ann.post("/@museum/hours", &hour_fields("FREQ=DAILY", "5 | Q", Some(&csrf))).await.status,
        404
    );
}
