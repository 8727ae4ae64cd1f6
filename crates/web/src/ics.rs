//! iCalendar (RFC 5545) feeds of events: one event, a local account's or group's public
//! events, and a member's personal feed of the events they answered.
//!
//! Every text value is reduced to plain text without control characters before the
//! `icalendar` crate escapes it (commas, semicolons, backslashes, line breaks) and folds its
//! lines; times are written in UTC. A personal feed is found by the SHA-256 of the secret in
//! its URL: only the hash is stored, so a copy of the database opens no one's calendar.

use actix_web::http::header::CONTENT_TYPE;
use actix_web::{HttpResponse, web};
use guildhall_core::keys::token_hash;
use guildhall_core::model::EventStatus;
use guildhall_core::text::strip_html;
use guildhall_federation::FedData;
use guildhall_federation::events as fed_events;
use guildhall_storage::events::{self, Event, Range};
use guildhall_storage::statuses::{self, Status};
use guildhall_storage::{DbConnection, StorageResult, actors, timelines};
use icalendar::{Calendar, Component, EventLike, Property};

use crate::error::PageError;
use crate::session::MaybeViewer;

/// The content type of a calendar.
pub const CONTENT_TYPE_ICS: &str = "text/calendar; charset=utf-8";
/// Events a feed holds at most.
const FEED_SIZE: i64 = 200;
/// How far back a feed reaches (calendar apps keep what they saw).
const FEED_PAST_DAYS: i64 = 30;

/// Text as a calendar carries it: no carriage returns or other control characters (a line
/// break stays, and the crate escapes it).
fn plain(text: &str) -> String {
    text.replace("\r\n", "\n").chars().filter(|c| *c == '\n' || *c == '\t' || !c.is_control()).collect()
}

/// RFC 5545 TEXT escaping, for the one property the crate leaves alone (`NAME`).
fn escape_text(text: &str) -> String {
    plain(text).replace('\\', "\\\\").replace(',', "\\,").replace(';', "\\;").replace('\n', "\\n")
}

/// One `VEVENT`.
fn vevent(event: &Event, status: &Status, page: &str) -> icalendar::Event {
    let mut out = icalendar::Event::new();
    out.uid(&plain(&status.ap_id))
        .timestamp(event.updated_at.and_utc())
        .summary(&plain(&event.name))
        .starts(event.starts_at.and_utc())
        .url(page);
    if let Some(end) = event.ends_at {
        out.ends(end.and_utc());
    }
    let description = plain(strip_html(&crate::events::description(status, event, page)).trim());
    if !description.is_empty() {
        out.description(&description);
    }
    if let Some(place) = fed_events::where_text(event) {
        out.location(&plain(&place));
    }
    let state = event.status().unwrap_or(EventStatus::Scheduled);
    out.add_property("STATUS", state.ical());
    if let Some(category) = event.category.as_deref().map(plain).filter(|c| !c.trim().is_empty()) {
        out.categories([category]);
    }
    out.done()
}

/// A calendar named `name` with one `VEVENT` per (event, its status, its page).
pub fn calendar(name: &str, list: &[(Event, Status, String)]) -> String {
    let mut cal = Calendar::empty();
    cal.append_property(Property::new("VERSION", "2.0"))
        .append_property(Property::new("PRODID", "-//Guildhall//Events//EN"))
        .append_property(Property::new("CALSCALE", "GREGORIAN"))
        .append_property(Property::new("METHOD", "PUBLISH"))
        .append_property(Property::new("NAME", escape_text(name)))
        .append_property(Property::new("X-WR-CALNAME", plain(name)));
    for (event, status, page) in list {
        cal.push(vevent(event, status, page));
    }
    cal.done().to_string()
}

/// A calendar response; `cache` is its `Cache-Control`.
fn respond(body: String, filename: &str, cache: &str) -> HttpResponse {
    HttpResponse::Ok()
        .insert_header((CONTENT_TYPE, CONTENT_TYPE_ICS))
        .insert_header(("Content-Disposition", format!("inline; filename=\"{filename}\"")))
        .insert_header(("Cache-Control", cache.to_owned()))
        .insert_header(("Vary", "Cookie"))
        .body(body)
}

/// The live events of `range` that `viewer` may see, with their statuses and pages.
fn visible_events(
    c: &mut DbConnection,
    range: &Range,
    viewer: Option<i64>,
    base: &str,
) -> StorageResult<Vec<(Event, Status, String)>> {
    let mut out = Vec::new();
    let range = Range { public_only: viewer.is_none(), ..range.clone() };
    for event in events::list(c, &range)? {
        let status = statuses::get(c, event.status_id)?;
        if status.deleted_at.is_none() && timelines::may_see(c, &status, viewer)? {
            let page = fed_events::page_url(base, status.id);
            out.push((event, status, page));
        }
    }
    Ok(out)
}

/// Where a feed starts: a month ago.
fn feed_from() -> guildhall_storage::Timestamp {
    guildhall_storage::now() - chrono::Duration::days(FEED_PAST_DAYS)
}

/// `GET /events/{id}.ics`: one event, for a viewer who may see it.
pub async fn event_ics(
    id: web::Path<String>,
    viewer: MaybeViewer,
    data: FedData,
) -> Result<HttpResponse, PageError> {
    let id: i64 = id.parse().map_err(|_| PageError::NotFound)?;
    let (me, base) = (viewer.id(), data.urls.base().to_owned());
    let found = data
        .db
        .run(move |c| {
            let Some(event) = events::find(c, id)? else { return Ok(None) };
            let status = statuses::get(c, id)?;
            if status.deleted_at.is_some() || !timelines::may_see(c, &status, me)? {
                return Ok(None);
            }
            let page = fed_events::page_url(&base, id);
            Ok::<_, guildhall_storage::StorageError>(Some((event, status, page)))
        })
        .await?
        .ok_or(PageError::NotFound)?;
    let name = found.0.name.clone();
    Ok(respond(calendar(&name, &[found]), &format!("event-{id}.ics"), "private, no-cache"))
}

/// `GET /@{name}/events.ics`: a local group's (or person's) events that anyone may see.
pub async fn account_ics(name: web::Path<String>, data: FedData) -> Result<HttpResponse, PageError> {
    let name = name.into_inner();
    let actor = data.db.run(move |c| actors::find_local(c, &name)).await?.ok_or(PageError::NotFound)?;
    if actor.deleted_at.is_some() {
        return Err(PageError::NotFound);
    }
    let base = data.urls.base().to_owned();
    let range =
        Range { group_id: Some(actor.id), from: Some(feed_from()), limit: FEED_SIZE, ..Range::default() };
    let list = data.db.run(move |c| visible_events(c, &range, None, &base)).await?;
    let title = if actor.display_name.is_empty() { &actor.username } else { &actor.display_name };
    let body = calendar(&format!("Events of {title}"), &list);
    Ok(respond(body, &format!("{}-events.ics", actor.username), "public, max-age=300"))
}

/// `GET /calendar/{token}.ics`: a member's personal feed of the events they answered (coming,
/// waiting, or asked), still visible to them. An unknown token is a 404.
pub async fn personal_ics(token: web::Path<String>, data: FedData) -> Result<HttpResponse, PageError> {
    let token = token.into_inner();
    if token.is_empty() || token.len() > 100 {
        return Err(PageError::NotFound);
    }
    let hash = token_hash(&token);
    let base = data.urls.base().to_owned();
    let found = data
        .db
        .run(move |c| {
            let Some(actor_id) = events::actor_by_calendar_token_hash(c, &hash)? else { return Ok(None) };
            let actor = actors::get(c, actor_id)?;
            if actor.deleted_at.is_some() {
                return Ok(None);
            }
            let range = Range {
                attendee: Some(actor_id),
                from: Some(feed_from()),
                limit: FEED_SIZE,
                ..Range::default()
            };
            Ok::<_, guildhall_storage::StorageError>(Some((
                actor,
                visible_events(c, &range, Some(actor_id), &base)?,
            )))
        })
        .await?;
    let (actor, list) = found.ok_or(PageError::NotFound)?;
    let body = calendar(&format!("Events of @{}", actor.username), &list);
    Ok(respond(body, "events.ics", "private, no-store"))
}

/// A fresh secret for a personal feed: random, URL-safe, 32 bytes; only its hash is stored.
pub fn new_feed_token() -> (String, String) {
    let token = guildhall_core::keys::random_token();
    let hash = token_hash(&token);
    (token, hash)
}

/// The personal feed's address for `token`.
pub fn feed_url(base: &str, token: &str) -> String {
    format!("{}/calendar/{token}.ics", base.trim_end_matches('/'))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn at(text: &str) -> guildhall_storage::Timestamp {
        chrono::NaiveDateTime::parse_from_str(text, "%Y-%m-%d %H:%M").unwrap()
    }

    fn sample() -> (Event, String) {
        let event = Event {
            status_id: 7,
            name: "Conservation, glass; and\r\nceramics".into(),
            starts_at: at("2026-07-11 09:00"),
            ends_at: Some(at("2026-07-11 15:00")),
            timezone: Some("Europe/London".into()),
            place_name: Some("British Museum".into()),
            street: Some("Great Russell St".into()),
            locality: Some("London".into()),
            postal_code: None,
            country: None,
            online_url: None,
            capacity: Some(20),
            join_mode: "free".into(),
            external_url: None,
            event_status: "cancelled".into(),
            category: Some("WORKSHOP".into()),
            remote_participants: None,
            remote_remaining: None,
            updated_at: at("2026-06-01 12:00"),
        };
        (event, "https://guild.example/events/7".into())
    }

    fn status_row() -> Status {
        let stamp = at("2026-06-01 12:00");
        Status {
            id: 7,
            ap_id: "https://guild.example/users/ada/statuses/7".into(),
            url: None,
            actor_id: 1,
            local: true,
            kind: "Event".into(),
            in_reply_to_id: None,
            in_reply_to_ap_id: None,
            in_reply_to_actor_id: None,
            reblog_of_id: None,
            group_id: None,
            visibility: "public".into(),
            title: None,
            content: "<p>Bring gloves; we start, then\nwe rest.</p>".into(),
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

    #[test]
    fn writes_an_escaped_folded_calendar() {
        let (event, page) = sample();
        let ics = calendar("Events of Conservators; all", &[(event, status_row(), page)]);
        assert!(ics.starts_with("BEGIN:VCALENDAR\r\n") && ics.ends_with("END:VCALENDAR\r\n"), "{ics}");
        assert!(ics.contains("BEGIN:VEVENT\r\n") && ics.contains("END:VEVENT\r\n"));
        assert!(ics.contains("UID:https://guild.example/users/ada/statuses/7\r\n"), "{ics}");
        assert!(ics.contains("SUMMARY:Conservation\\, glass\\; and\\nceramics\r\n"), "{ics}");
        assert!(ics.contains("DTSTART:20260711T090000Z\r\n") && ics.contains("DTEND:20260711T150000Z\r\n"));
        assert!(ics.contains("STATUS:CANCELLED\r\n") && ics.contains("CATEGORIES:WORKSHOP\r\n"));
        assert!(ics.contains("LOCATION:British Museum\\, Great Russell St\\, London\r\n"), "{ics}");
        assert!(ics.contains("DTSTAMP:20260601T120000Z\r\n"));
        assert!(ics.contains("NAME:Events of Conservators\\; all\r\n"));
        let description = ics.split("DESCRIPTION:").nth(1).unwrap().split("\r\n").next().unwrap();
        assert_eq!(description, "Bring gloves\\; we start\\, then\\nwe rest.");
        // No bare line feeds or carriage returns, and no line longer than 75 octets.
        for line in ics.split("\r\n") {
            assert!(!line.contains('\r') && !line.contains('\n') && line.len() <= 75, "{line:?}");
        }
    }

    #[test]
    fn long_text_is_folded() {
        let (mut event, page) = sample();
        event.name = "A very long name ".repeat(20);
        let ics = calendar("x", &[(event, status_row(), page)]);
        assert!(ics.contains("\r\n "), "folded continuation lines");
    }
}
