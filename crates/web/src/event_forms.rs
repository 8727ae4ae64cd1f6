//! The forms that make and change events, and a member's calendar settings (the personal
//! feed's secret address, and when to be reminded).
//!
//! An event form is checked as the API checks its request: a name, a start (a wall-clock time
//! in the IANA time zone the organizer names), an end not before it, places between one and
//! [`events::MAX_CAPACITY`], http(s) links, and a registration link when registration happens
//! elsewhere. A wrong field is a 422 that names it.

use actix_web::http::header::{CACHE_CONTROL, HeaderValue};
use actix_web::web::{self, Bytes};
use actix_web::{HttpRequest, HttpResponse};
use askama::Template;
use chrono::NaiveDateTime;
use guildhall_core::calendar;
use guildhall_core::model::{ActorKind, JoinMode, Visibility};
use guildhall_federation::FedData;
use guildhall_federation::events::{self as fed_events, EventInput};
use guildhall_federation::protocol::event::Where;
use guildhall_storage::events::{self, Event};
use guildhall_storage::statuses::Status;
use guildhall_storage::{StorageError, actors, groups};
use serde::Deserialize;

use crate::error::PageError;
use crate::forms;
use crate::pages::html;
use crate::session::{Nav, Viewer};

/// Longest name, description and place field (as the API).
const MAX_NAME: usize = 200;
const MAX_DESCRIPTION: usize = 5000;
const MAX_PLACE_FIELD: usize = 300;
/// The zone a new event's times are read in unless another is chosen.
const DEFAULT_ZONE: &str = "Europe/London";
/// Zones offered as suggestions (any IANA zone is accepted).
pub(crate) const ZONES: &[&str] = &[
    "Europe/London",
    "Europe/Dublin",
    "Europe/Lisbon",
    "Europe/Paris",
    "Europe/Berlin",
    "Europe/Madrid",
    "Europe/Rome",
    "Europe/Amsterdam",
    "Europe/Athens",
    "America/New_York",
    "America/Chicago",
    "America/Denver",
    "America/Los_Angeles",
    "America/Sao_Paulo",
    "Asia/Kolkata",
    "Asia/Tokyo",
    "Australia/Sydney",
    "UTC",
];
/// How one takes part, as the form offers it.
const JOIN_MODES: &[(&str, &str)] = &[
    ("free", "Anyone may join, while places remain"),
    ("restricted", "The organizer accepts each request"),
    ("invite", "Only people the organizer invites"),
    ("external", "Registration happens on another site"),
];
/// Who may see an event (a members-only group's events are for its members whatever is chosen).
const VISIBILITIES: &[(&str, &str)] = &[
    ("public", "Everyone (public)"),
    ("unlisted", "Everyone, but kept out of public timelines"),
    ("private", "Followers and group members only"),
];
/// Reminder lead times offered (minutes, label).
const REMINDERS: &[(i64, &str)] =
    &[(10, "10 minutes before"), (60, "1 hour before"), (1440, "1 day before"), (10080, "1 week before")];
/// The `datetime-local` format.
const LOCAL_FORMAT: &str = "%Y-%m-%dT%H:%M";

/// The form's fields, as sent (all text; checked by [`EventForm::input`]), and as a form is
/// filled in again.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct EventForm {
    name: String,
    description: String,
    starts: String,
    ends: String,
    timezone: String,
    place_name: String,
    street: String,
    locality: String,
    postal_code: String,
    country: String,
    online_url: String,
    capacity: String,
    join_mode: String,
    external_url: String,
    category: String,
    visibility: String,
    group: String,
}

/// A 422 page naming the field at fault.
pub(crate) fn invalid(field: &str, why: impl std::fmt::Display) -> PageError {
    PageError::Invalid(format!("{field}: {why}"))
}

/// A trimmed text field of at most `max` characters (empty: absent).
fn text(field: &str, value: &str, max: usize) -> Result<Option<String>, PageError> {
    let value = value.trim();
    if value.chars().count() > max {
        return Err(invalid(field, format!("at most {max} characters")));
    }
    Ok(Some(value.to_owned()).filter(|v| !v.is_empty()))
}

fn link(field: &str, value: &str) -> Result<Option<String>, PageError> {
    text(field, value, 2000)?
        .map(|v| {
            guildhall_federation::protocol::web_url(&v)
                .map(|u| u.to_string())
                .ok_or_else(|| invalid(field, "must be an http or https address"))
        })
        .transpose()
}

/// A `datetime-local` value on the clock of `zone`, as UTC.
fn instant(field: &str, value: &str, zone: chrono_tz::Tz) -> Result<Option<NaiveDateTime>, PageError> {
    let value = value.trim();
    if value.is_empty() {
        return Ok(None);
    }
    let wall = NaiveDateTime::parse_from_str(value, LOCAL_FORMAT)
        .or_else(|_| NaiveDateTime::parse_from_str(value, "%Y-%m-%dT%H:%M:%S"))
        .map_err(|_| invalid(field, "a date and time such as 2026-12-12T10:00"))?;
    Ok(Some(calendar::to_utc(wall, zone).naive_utc()))
}

impl EventForm {
    fn place(&self) -> Result<Where, PageError> {
        Ok(Where {
            name: text("place_name", &self.place_name, MAX_PLACE_FIELD)?,
            street: text("street", &self.street, MAX_PLACE_FIELD)?,
            locality: text("locality", &self.locality, MAX_PLACE_FIELD)?,
            postal_code: text("postal_code", &self.postal_code, MAX_PLACE_FIELD)?,
            country: text("country", &self.country, MAX_PLACE_FIELD)?,
            online_url: link("online_url", &self.online_url)?,
        })
    }

    fn capacity(&self) -> Result<Option<i32>, PageError> {
        let value = self.capacity.trim();
        if value.is_empty() {
            return Ok(None);
        }
        let why = format!("a whole number between 1 and {}", events::MAX_CAPACITY);
        match value.parse::<i32>() {
            Ok(n) if (1..=events::MAX_CAPACITY).contains(&n) => Ok(Some(n)),
            _ => Err(invalid("capacity", why)),
        }
    }

    /// The event the form describes, in `group_id`, seen by `visibility`.
    fn input(&self, group_id: Option<i64>, visibility: Visibility) -> Result<EventInput, PageError> {
        let name = text("name", &self.name, MAX_NAME)?.ok_or_else(|| invalid("name", "required"))?;
        let description = text("description", &self.description, MAX_DESCRIPTION)?.unwrap_or_default();
        let zone_name = text("timezone", &self.timezone, 64)?.unwrap_or_else(|| DEFAULT_ZONE.to_owned());
        let zone = calendar::timezone(&zone_name).ok_or_else(|| {
            invalid("timezone", format!("'{zone_name}' is not an IANA time zone such as Europe/London"))
        })?;
        let starts_at =
            instant("starts", &self.starts, zone)?.ok_or_else(|| invalid("starts", "required"))?;
        let ends_at = instant("ends", &self.ends, zone)?;
        if ends_at.is_some_and(|e| e < starts_at) {
            return Err(invalid("ends", "the end is before the start"));
        }
        let join_mode = JoinMode::parse(self.join_mode.trim())
            .ok_or_else(|| invalid("join_mode", "one of free, restricted, invite, external"))?;
        let external_url = link("external_url", &self.external_url)?;
        if join_mode == JoinMode::External && external_url.is_none() {
            return Err(invalid("external_url", "required when registration happens on another site"));
        }
        Ok(EventInput {
            name,
            description,
            starts_at,
            ends_at,
            timezone: Some(zone.name().to_owned()),
            place: self.place()?,
            capacity: self.capacity()?,
            join_mode,
            external_url,
            category: text("category", &self.category, 100)?,
            group_id,
            visibility,
        })
    }
}

impl EventForm {
    /// The form filled in with an event being edited.
    fn of(event: &Event, status: &Status) -> EventForm {
        let tz = event.timezone.as_deref();
        let wall = |t: NaiveDateTime| calendar::local(t, tz).naive_local().format(LOCAL_FORMAT).to_string();
        let or_empty = |v: &Option<String>| v.clone().unwrap_or_default();
        EventForm {
            name: event.name.clone(),
            description: status.source.clone().unwrap_or_default(),
            starts: wall(event.starts_at),
            ends: event.ends_at.map(wall).unwrap_or_default(),
            timezone: event.timezone.clone().unwrap_or_else(|| "UTC".into()),
            place_name: or_empty(&event.place_name),
            street: or_empty(&event.street),
            locality: or_empty(&event.locality),
            postal_code: or_empty(&event.postal_code),
            country: or_empty(&event.country),
            online_url: or_empty(&event.online_url),
            capacity: event.capacity.map(|c| c.to_string()).unwrap_or_default(),
            join_mode: event.join_mode.clone(),
            external_url: or_empty(&event.external_url),
            category: or_empty(&event.category),
            visibility: status.visibility.clone(),
            group: String::new(),
        }
    }
}

#[derive(Template)]
#[template(path = "event_form.html")]
struct EventFormPage {
    site: String,
    nav: Nav,
    csrf: String,
    /// Where the form posts.
    action: String,
    /// The hosting group: (username, name), for a new event.
    group: Option<(String, String)>,
    editing: bool,
    values: EventForm,
    zones: &'static [&'static str],
    join_modes: &'static [(&'static str, &'static str)],
    visibilities: &'static [(&'static str, &'static str)],
}

/// A local group by username: its actor id and its name.
async fn group_named(data: &FedData, name: &str) -> Result<Option<(i64, String, String)>, PageError> {
    let name = name.trim().to_owned();
    if name.is_empty() {
        return Ok(None);
    }
    let found = data
        .db
        .run(move |c| match actors::find_local(c, &name)? {
            Some(a)
                if a.is(ActorKind::Group) && a.deleted_at.is_none() && groups::get(c, a.id)?.is_some() =>
            {
                Ok(Some(a))
            }
            _ => Ok::<_, StorageError>(None),
        })
        .await?
        .ok_or_else(|| invalid("group", "no such group here"))?;
    let shown =
        if found.display_name.is_empty() { found.username.clone() } else { found.display_name.clone() };
    Ok(Some((found.id, found.username, shown)))
}

#[derive(Debug, Deserialize)]
pub struct NewQuery {
    #[serde(default)]
    group: String,
}

/// `GET /events/new?group=`: the form for a new event (in a group, when named).
pub async fn new_form(
    query: forms::Query<NewQuery>,
    viewer: Viewer,
    data: FedData,
) -> Result<HttpResponse, PageError> {
    let group = group_named(&data, &query.0.group).await?.map(|(_, username, name)| (username, name));
    let values = EventForm {
        timezone: DEFAULT_ZONE.into(),
        join_mode: "free".into(),
        visibility: "public".into(),
        ..EventForm::default()
    };
    html(&EventFormPage {
        site: data.config.domain.to_string(),
        nav: viewer.nav(),
        csrf: viewer.csrf.clone(),
        action: "/events".into(),
        group,
        editing: false,
        values,
        zones: ZONES,
        join_modes: JOIN_MODES,
        visibilities: VISIBILITIES,
    })
}

fn visibility(form: &EventForm) -> Result<Visibility, PageError> {
    match form.visibility.trim() {
        "" => Ok(Visibility::Public),
        v => Visibility::parse(v)
            .filter(|v| *v != Visibility::Direct)
            .ok_or_else(|| invalid("visibility", "one of public, unlisted, private")),
    }
}

/// `POST /events`: publishes a new event (in the group the form names, if the viewer may post
/// there) and goes to its page.
pub async fn create(
    request: HttpRequest,
    body: Bytes,
    viewer: Viewer,
    data: FedData,
) -> Result<HttpResponse, PageError> {
    let form: EventForm = viewer.form(&request, &data, &body)?;
    let group_id = group_named(&data, &form.group).await?.map(|(id, _, _)| id);
    let input = form.input(group_id, visibility(&form)?)?;
    if input.starts_at < guildhall_storage::now() {
        return Err(invalid("starts", "the start is in the past"));
    }
    let status = fed_events::create(&data, viewer.actor(), input).await?;
    Ok(forms::see_other(&format!("/events/{}", status.id)))
}

/// One of our live events that the viewer may manage, or a 404.
async fn managed(data: &FedData, id: &str, viewer: &Viewer) -> Result<(Status, Event), PageError> {
    let id: i64 = id.parse().map_err(|_| PageError::NotFound)?;
    let me = viewer.actor().id;
    data.db
        .run(move |c| match crate::events::visible(c, id, Some(me))? {
            Some((s, e)) if s.local && fed_events::may_manage(c, &s, me)? => Ok(Some((s, e))),
            _ => Ok::<_, StorageError>(None),
        })
        .await?
        .ok_or(PageError::NotFound)
}

/// `GET /events/{id}/edit`: the form, filled in, for its organizer or a group moderator.
pub async fn edit_form(
    id: web::Path<String>,
    viewer: Viewer,
    data: FedData,
) -> Result<HttpResponse, PageError> {
    let (status, event) = managed(&data, &id, &viewer).await?;
    html(&EventFormPage {
        site: data.config.domain.to_string(),
        nav: viewer.nav(),
        csrf: viewer.csrf.clone(),
        action: format!("/events/{}/edit", status.id),
        group: None,
        editing: true,
        values: EventForm::of(&event, &status),
        zones: ZONES,
        join_modes: JOIN_MODES,
        visibilities: VISIBILITIES,
    })
}

/// `POST /events/{id}/edit`: changes the event (it stays in its group, seen as before); those
/// who have it hear of the change.
pub async fn edit(
    request: HttpRequest,
    id: web::Path<String>,
    body: Bytes,
    viewer: Viewer,
    data: FedData,
) -> Result<HttpResponse, PageError> {
    let form: EventForm = viewer.form(&request, &data, &body)?;
    let (status, _) = managed(&data, &id, &viewer).await?;
    let input = form.input(status.group_id, status.visibility()?)?;
    fed_events::edit(&data, viewer.actor(), status.id, input).await?;
    Ok(forms::see_other(&format!("/events/{}", status.id)))
}

/// A reminder checkbox on the settings page.
#[derive(Debug, Clone)]
pub struct ReminderChoice {
    /// Minutes before the start.
    pub minutes: i64,
    /// "1 hour before".
    pub label: &'static str,
    /// Chosen.
    pub checked: bool,
}

/// The reminder checkboxes, with the member's choice.
pub async fn reminder_choices(data: &FedData, actor_id: i64) -> Result<Vec<ReminderChoice>, PageError> {
    let chosen = data.db.run(move |c| events::reminder_minutes(c, actor_id)).await?;
    Ok(REMINDERS
        .iter()
        .map(|(minutes, label)| ReminderChoice {
            minutes: *minutes,
            label,
            checked: chosen.contains(minutes),
        })
        .collect())
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct RemindersForm {
    m10: Option<String>,
    m60: Option<String>,
    m1440: Option<String>,
    m10080: Option<String>,
}

/// `POST /settings/reminders`: when to be reminded of the events one is going to (none
/// checked: no reminders).
pub async fn reminders(
    request: HttpRequest,
    body: Bytes,
    viewer: Viewer,
    data: FedData,
) -> Result<HttpResponse, PageError> {
    let form: RemindersForm = viewer.form(&request, &data, &body)?;
    let minutes: Vec<i64> = [(10, &form.m10), (60, &form.m60), (1440, &form.m1440), (10080, &form.m10080)]
        .into_iter()
        .filter_map(|(m, checked)| checked.as_ref().map(|_| m))
        .collect();
    let me = viewer.actor().id;
    data.db.run(move |c| events::set_reminder_minutes(c, me, &minutes)).await?;
    Ok(forms::see_other("/settings#reminders-h"))
}

#[derive(Template)]
#[template(path = "event_calendar.html")]
struct CalendarPage {
    site: String,
    nav: Nav,
    url: String,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct CalendarForm {
    /// Turn the feed off instead.
    off: Option<String>,
}

/// `POST /settings/calendar`: a new secret address for the member's calendar feed (the old
/// one stops working), shown this once; or, with `off`, no feed at all.
pub async fn calendar_feed(
    request: HttpRequest,
    body: Bytes,
    viewer: Viewer,
    data: FedData,
) -> Result<HttpResponse, PageError> {
    let form: CalendarForm = viewer.form(&request, &data, &body)?;
    let me = viewer.actor().id;
    if form.off.is_some() {
        data.db.run(move |c| events::set_calendar_token_hash(c, me, None)).await?;
        return Ok(forms::see_other("/settings#calendar-h"));
    }
    let (token, hash) = crate::ics::new_feed_token();
    data.db.run(move |c| events::set_calendar_token_hash(c, me, Some(&hash))).await?;
    let page = CalendarPage {
        site: data.config.domain.to_string(),
        nav: viewer.nav(),
        url: crate::ics::feed_url(data.urls.base(), &token),
    };
    let mut response = html(&page)?;
    response.headers_mut().insert(CACHE_CONTROL, HeaderValue::from_static("private, no-store"));
    Ok(response)
}
