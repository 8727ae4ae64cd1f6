//! Events on the web: the list of upcoming events, an event's page with its answers, and
//! the buttons that answer (join, leave, be listed) or manage (accept, reject, cancel).
//!
//! An event is a status: who sees it is [`timelines::may_see`]'s decision, and an event the
//! viewer may not see is a 404 that tells nothing. Who sees whom among the attendees follows
//! the API's rule: those who manage the event see everyone with their messages; accepted
//! attendees and members of the event's group see the attendees who agreed to be listed;
//! anyone else sees only the counts. Every change goes through
//! `guildhall_federation::events`, as the API's do; the forms to create and edit are in
//! `event_forms`, the calendar feeds in `ics`.

use actix_web::web::{self, Bytes};
use actix_web::{HttpRequest, HttpResponse};
use askama::Template;
use guildhall_core::model::{EventStatus, JoinMode, Participation};
use guildhall_federation::FedData;
use guildhall_federation::events as fed_events;
use guildhall_storage::events::{self, Counts, Event, JoinRequest, Range};
use guildhall_storage::statuses::{self, Status};
use guildhall_storage::{DbConnection, StorageError, StorageResult, actors, groups, timelines};
use serde::Deserialize;

use crate::error::PageError;
use crate::forms;
use crate::pages::{html, site};
use crate::session::{MaybeViewer, Nav, Viewer};
use crate::views::{self, AuthorView};

/// Events on the list page.
const LIST_SIZE: usize = 50;
/// Events read to fill it (some may be hidden from the viewer).
const LIST_SCAN: i64 = 300;
/// Upcoming events on a group's page.
const GROUP_SIZE: usize = 5;
/// Attendees shown on an event's page.
const MAX_ATTENDEES: i64 = 500;
/// Longest message with a request to join (as the API).
const MAX_MESSAGE: usize = 1000;

/// An event in a list.
#[derive(Debug, Clone)]
pub struct EventCard {
    /// The status id.
    pub id: i64,
    /// Its name.
    pub name: String,
    /// When, on the organizer's clock.
    pub when: String,
    /// Start, RFC 3339 (for `<time>`).
    pub starts_iso: String,
    /// Where, when known.
    pub place: Option<String>,
    /// Who organizes it.
    pub host: AuthorView,
    /// The group it is in.
    pub group: Option<AuthorView>,
    /// "12 going · 8 places left · 2 waiting".
    pub counts: String,
    /// "Cancelled", "Postponed", "Online only" (none when it goes ahead as announced).
    pub state: Option<&'static str>,
}

/// The live event `id` when `viewer` may see it.
pub fn visible(c: &mut DbConnection, id: i64, viewer: Option<i64>) -> StorageResult<Option<(Status, Event)>> {
    let Some(event) = events::find(c, id)? else { return Ok(None) };
    let status = statuses::get(c, id)?;
    if status.deleted_at.is_some() || !timelines::may_see(c, &status, viewer)? {
        return Ok(None);
    }
    Ok(Some((status, event)))
}

/// "12 going · 8 places left · 2 waiting": ours as we count them, another server's as it says.
fn counts_line(status: &Status, event: &Event, counts: Counts) -> String {
    let (going, left) = match status.local {
        true => (counts.accepted, events::remaining(event, counts)),
        false => (
            event.remote_participants.map_or(counts.accepted, i64::from),
            event.remote_remaining.map(i64::from),
        ),
    };
    let mut parts = vec![format!("{going} going")];
    if let Some(left) = left {
        parts.push(format!("{left} {} left", if left == 1 { "place" } else { "places" }));
    }
    if status.local && (event.capacity.is_some() || counts.waiting > 0) {
        parts.push(format!("{} waiting", counts.waiting));
    }
    parts.join(" · ")
}

fn state_label(event: &Event) -> Option<&'static str> {
    match event.status().unwrap_or(EventStatus::Scheduled) {
        EventStatus::Scheduled => None,
        EventStatus::Cancelled => Some("Cancelled"),
        EventStatus::Postponed => Some("Postponed"),
        EventStatus::MovedOnline => Some("Online only"),
    }
}

/// An event for a list.
pub fn card(
    c: &mut DbConnection,
    status: &Status,
    event: &Event,
    base: &str,
    domain: &str,
) -> StorageResult<EventCard> {
    let host = views::author(&actors::get(c, status.actor_id)?, base, domain);
    let group = match status.group_id {
        Some(g) => Some(views::author(&actors::get(c, g)?, base, domain)),
        None => None,
    };
    Ok(EventCard {
        id: status.id,
        name: event.name.clone(),
        when: fed_events::when_text(event),
        starts_iso: event.starts_at.and_utc().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        place: fed_events::where_text(event),
        host,
        group,
        counts: counts_line(status, event, events::counts(c, status.id)?),
        state: state_label(event),
    })
}

/// Upcoming events of `range` that `viewer` may see, at most `limit`.
fn upcoming(
    c: &mut DbConnection,
    range: Range,
    viewer: Option<i64>,
    limit: usize,
    (base, domain): (&str, &str),
) -> StorageResult<Vec<(EventCard, Option<i64>)>> {
    let mut out = Vec::new();
    let range = Range { public_only: viewer.is_none(), ..range };
    for event in events::list(c, &range)? {
        if out.len() >= limit {
            break;
        }
        if let Some((status, event)) = visible(c, event.status_id, viewer)? {
            out.push((card(c, &status, &event, base, domain)?, status.group_id));
        }
    }
    Ok(out)
}

/// The next events of a group that `viewer` may see (its page's "Upcoming events").
pub async fn group_upcoming(
    data: &FedData,
    group_id: i64,
    viewer: Option<i64>,
) -> Result<Vec<EventCard>, PageError> {
    let (base, domain) = site(data);
    let range = Range {
        group_id: Some(group_id),
        from: Some(guildhall_storage::now()),
        limit: LIST_SCAN,
        ..Range::default()
    };
    let list = data.db.run(move |c| upcoming(c, range, viewer, GROUP_SIZE, (&base, &domain))).await?;
    Ok(list.into_iter().map(|(card, _)| card).collect())
}

#[derive(Template)]
#[template(path = "events.html")]
struct EventsPage {
    site: String,
    nav: Nav,
    events: Vec<EventCard>,
    /// Local groups with events here whose public events have a feed: (username, name).
    feeds: Vec<(String, String)>,
}

/// `GET /events`: upcoming events the viewer may see, soonest first.
pub async fn list_page(viewer: MaybeViewer, data: FedData) -> Result<HttpResponse, PageError> {
    let (base, domain) = site(&data);
    let me = viewer.id();
    let range = Range { from: Some(guildhall_storage::now()), limit: LIST_SCAN, ..Range::default() };
    let (events, feeds) = data
        .db
        .run(move |c| {
            let list = upcoming(c, range, me, LIST_SIZE, (&base, &domain))?;
            let mut feeds: Vec<(String, String)> = Vec::new();
            for group in list.iter().filter_map(|(_, g)| *g) {
                let actor = actors::get(c, group)?;
                if actor.is_local() && !actor.members_only && !feeds.iter().any(|(u, _)| *u == actor.username)
                {
                    feeds.push((actor.username.clone(), views::author(&actor, &base, &domain).name));
                }
            }
            Ok::<_, StorageError>((list.into_iter().map(|(card, _)| card).collect(), feeds))
        })
        .await?;
    html(&EventsPage { site: data.config.domain.to_string(), nav: viewer.nav(), events, feeds })
}

/// Someone's answer, as the event's page lists it.
#[derive(Debug)]
struct AttendeeRow {
    /// The answer's id (for accept and reject).
    id: i64,
    who: AuthorView,
    state: &'static str,
    /// What they wrote to the organizer (managers only).
    message: Option<String>,
}

/// The viewer's own answer.
#[derive(Debug)]
struct MyAnswer {
    says: &'static str,
    listed: bool,
    /// They may take it back (all but a refusal, which would let them ask again).
    can_leave: bool,
}

/// What the event's page offers a viewer who has not answered.
#[derive(Debug)]
enum Offer {
    /// The join form.
    Join,
    /// Registration happens on another site.
    External(String),
    /// Nothing to do, and why.
    Closed(&'static str),
}

#[derive(Template)]
#[template(path = "event.html")]
struct EventPage {
    site: String,
    nav: Nav,
    /// The session's CSRF token (none for a stranger).
    csrf: Option<String>,
    card: EventCard,
    /// Sanitized HTML.
    description: String,
    online_url: Option<String>,
    banner: Option<&'static str>,
    mine: Option<MyAnswer>,
    offer: Offer,
    /// The viewer may accept, reject, edit and cancel (one of our events).
    manager: bool,
    cancelled: bool,
    pending: Vec<AttendeeRow>,
    /// The attendees the viewer may see (none: they may see only the counts).
    attendees: Option<Vec<AttendeeRow>>,
}

fn banner(event: &Event) -> Option<&'static str> {
    match event.status().unwrap_or(EventStatus::Scheduled) {
        EventStatus::Scheduled => None,
        EventStatus::Cancelled => Some("This event is cancelled."),
        EventStatus::Postponed => Some("This event is postponed; its new date is not yet known."),
        EventStatus::MovedOnline => Some("This event now happens online only."),
    }
}

fn says(state: Participation) -> &'static str {
    match state {
        Participation::Accepted => "You are going.",
        Participation::Waiting => "The event is full: you are on the waiting list.",
        Participation::Pending => "You asked to join; the organizer will answer.",
        Participation::Rejected => "The organizer declined your request.",
        Participation::Maybe => "You might go.",
    }
}

fn state_word(state: Participation) -> &'static str {
    match state {
        Participation::Accepted => "going",
        Participation::Waiting => "waiting list",
        Participation::Pending => "asked to join",
        Participation::Rejected => "declined",
        Participation::Maybe => "maybe",
    }
}

/// What a viewer without an answer may do.
fn offer(event: &Event) -> Offer {
    let over = event.ends_at.unwrap_or(event.starts_at) < guildhall_storage::now();
    match (event.status().unwrap_or(EventStatus::Scheduled), event.join_mode().unwrap_or(JoinMode::Free)) {
        (EventStatus::Cancelled, _) => Offer::Closed("This event is cancelled: it takes no answers."),
        _ if over => Offer::Closed("This event is over."),
        (_, JoinMode::External) => {
            match event.external_url.as_deref().filter(|u| guildhall_core::text::is_web_link(u)) {
                Some(url) => Offer::External(url.to_owned()),
                None => Offer::Closed("This event takes registrations on another site."),
            }
        }
        (_, JoinMode::Invite) => Offer::Closed("Only people the organizer invites may join this event."),
        _ => Offer::Join,
    }
}

/// The description alone (sanitized HTML): our events' text starts with their name, date and
/// place and ends with the link to `page`, which pages and calendars show in their own way.
/// Another server's text is kept whole.
pub fn description(status: &Status, event: &Event, page: &str) -> String {
    if !status.local {
        return status.content.clone();
    }
    let head = fed_events::event_html(event, "", None);
    let whole = fed_events::event_html(event, "", Some(page));
    let tail = whole.strip_prefix(&head).unwrap_or_default();
    match status.content.strip_prefix(&head).and_then(|rest| rest.strip_suffix(tail)) {
        Some(middle) => middle.to_owned(),
        None => status.content.clone(),
    }
}

/// The attendees `viewer` may see and, for a manager, who is waiting for an answer.
fn attendee_rows(
    c: &mut DbConnection,
    status: &Status,
    viewer: Option<i64>,
    (base, domain): (&str, &str),
) -> StorageResult<(Option<Vec<AttendeeRow>>, Vec<AttendeeRow>)> {
    let Some(me) = viewer else { return Ok((None, Vec::new())) };
    let manager = fed_events::may_manage(c, status, me)?;
    let coming = events::participation(c, status.id, me)?
        .is_some_and(|p| p.state().is_ok_and(|s| s == Participation::Accepted));
    let member = match status.group_id {
        Some(g) => groups::is_member(c, g, me)?,
        None => false,
    };
    if !manager && !coming && !member {
        return Ok((None, Vec::new()));
    }
    let (states, listed_only) = match manager {
        true => (Participation::ALL, false),
        false => (&[Participation::Accepted][..], true),
    };
    let (mut shown, mut pending) = (Vec::new(), Vec::new());
    for (p, actor) in events::attendees(c, status.id, states, listed_only, MAX_ATTENDEES)? {
        let state = p.state()?;
        let row = AttendeeRow {
            id: p.id,
            who: views::author(&actor, base, domain),
            state: state_word(state),
            message: p.message.filter(|_| manager),
        };
        match state {
            Participation::Pending if manager => pending.push(row),
            _ => shown.push(row),
        }
    }
    Ok((Some(shown), pending))
}

/// `GET /events/{id}`: an event's page.
pub async fn page(
    id: web::Path<String>,
    viewer: MaybeViewer,
    data: FedData,
) -> Result<HttpResponse, PageError> {
    let id: i64 = id.parse().map_err(|_| PageError::NotFound)?;
    let (base, domain) = site(&data);
    let (me, csrf, nav) = (viewer.id(), viewer.0.as_ref().map(|v| v.csrf.clone()), viewer.nav());
    let page = data
        .db
        .run(move |c| {
            let Some((status, event)) = visible(c, id, me)? else { return Ok(None) };
            let mine = match me {
                Some(me) => events::participation(c, id, me)?,
                None => None,
            };
            let manager = match me {
                Some(me) => status.local && fed_events::may_manage(c, &status, me)?,
                None => false,
            };
            let (attendees, pending) = attendee_rows(c, &status, me, (&base, &domain))?;
            let mine = mine
                .map(|p| {
                    p.state().map(|s| MyAnswer {
                        says: says(s),
                        listed: p.listed,
                        can_leave: s != Participation::Rejected,
                    })
                })
                .transpose()?;
            Ok::<_, StorageError>(Some(EventPage {
                site: domain.clone(),
                nav,
                csrf,
                card: card(c, &status, &event, &base, &domain)?,
                description: description(&status, &event, &fed_events::page_url(&base, id)),
                online_url: event.online_url.clone().filter(|u| guildhall_core::text::is_web_link(u)),
                banner: banner(&event),
                mine,
                offer: offer(&event),
                manager,
                cancelled: event.status().is_ok_and(|s| s == EventStatus::Cancelled),
                pending,
                attendees,
            }))
        })
        .await?
        .ok_or(PageError::NotFound)?;
    html(&page)
}

/// The event `id` path segment, and a 404 unless `viewer` may see the event.
async fn seen(data: &FedData, id: &str, viewer: &Viewer) -> Result<i64, PageError> {
    let id: i64 = id.parse().map_err(|_| PageError::NotFound)?;
    let me = viewer.actor().id;
    match data.db.run(move |c| visible(c, id, Some(me))).await? {
        Some(_) => Ok(id),
        None => Err(PageError::NotFound),
    }
}

fn back_to(id: i64) -> HttpResponse {
    forms::see_other(&format!("/events/{id}"))
}

#[derive(Debug, Deserialize)]
struct JoinForm {
    #[serde(default)]
    message: String,
    #[serde(default)]
    listed: Option<String>,
}

/// `POST /events/{id}/join` (`message`, `listed`): the viewer answers "going"; the event's
/// rules say whether they are in, on the waiting list, or waiting for the organizer.
pub async fn join(
    request: HttpRequest,
    id: web::Path<String>,
    body: Bytes,
    viewer: Viewer,
    data: FedData,
) -> Result<HttpResponse, PageError> {
    let form: JoinForm = viewer.form(&request, &data, &body)?;
    let id = seen(&data, &id, &viewer).await?;
    let message = form.message.trim().to_owned();
    if message.chars().count() > MAX_MESSAGE {
        return Err(PageError::Invalid(format!("message: at most {MAX_MESSAGE} characters")));
    }
    let listed = form.listed.is_some();
    let ask = JoinRequest { message: Some(message).filter(|m| !m.is_empty()), ap_id: None, listed };
    fed_events::join(&data, viewer.actor(), id, ask).await?;
    Ok(back_to(id))
}

/// `POST /events/{id}/leave`: the viewer takes their answer back.
pub async fn leave(
    request: HttpRequest,
    id: web::Path<String>,
    body: Bytes,
    viewer: Viewer,
    data: FedData,
) -> Result<HttpResponse, PageError> {
    viewer.check_form(&request, &data, &body)?;
    let id = seen(&data, &id, &viewer).await?;
    fed_events::leave(&data, viewer.actor(), id).await?;
    Ok(back_to(id))
}

#[derive(Debug, Deserialize)]
struct ListedForm {
    listed: bool,
}

/// `POST /events/{id}/listed` (`listed=true|false`): whether other attendees and the group's
/// members see that the viewer is going.
pub async fn listed(
    request: HttpRequest,
    id: web::Path<String>,
    body: Bytes,
    viewer: Viewer,
    data: FedData,
) -> Result<HttpResponse, PageError> {
    let form: ListedForm = viewer.form(&request, &data, &body)?;
    let id = seen(&data, &id, &viewer).await?;
    let me = viewer.actor().id;
    if !data.db.run(move |c| events::set_listed(c, id, me, form.listed)).await? {
        return Err(PageError::NotFound);
    }
    Ok(back_to(id))
}

/// `POST /events/{id}/cancel`: its organizer (or a moderator of its group) cancels it; it
/// stays visible, marked cancelled.
pub async fn cancel(
    request: HttpRequest,
    id: web::Path<String>,
    body: Bytes,
    viewer: Viewer,
    data: FedData,
) -> Result<HttpResponse, PageError> {
    viewer.check_form(&request, &data, &body)?;
    let id = seen(&data, &id, &viewer).await?;
    fed_events::set_status(&data, viewer.actor(), id, EventStatus::Cancelled).await?;
    Ok(back_to(id))
}

/// `POST /events/{id}/participants/{pid}/accept` (and `/reject`): the organizer's answer to
/// someone who asked to join.
pub async fn decide(
    request: HttpRequest,
    path: web::Path<(String, String, String)>,
    body: Bytes,
    viewer: Viewer,
    data: FedData,
) -> Result<HttpResponse, PageError> {
    viewer.check_form(&request, &data, &body)?;
    let (id, participant, answer) = path.into_inner();
    let accept = match answer.as_str() {
        "accept" => true,
        "reject" => false,
        _ => return Err(PageError::NotFound),
    };
    let id = seen(&data, &id, &viewer).await?;
    let participant: i64 = participant.parse().map_err(|_| PageError::NotFound)?;
    fed_events::decide(&data, viewer.actor(), id, participant, accept).await?;
    Ok(back_to(id))
}
