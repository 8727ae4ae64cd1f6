//! Events: `/api/guildhall/v1/events` — list, read, create, edit, cancel, RSVP, attendees —
//! and the member's reminder preference. Events are statuses, so reads need
//! `read:statuses` and changes `write:statuses`.

use actix_web::{HttpResponse, web};
use chrono::{DateTime, NaiveDateTime};
use guildhall_core::model::{EventStatus, JoinMode, Participation, Visibility};
use guildhall_federation::FedData;
use guildhall_federation::events::{self as fed_events, EventInput};
use guildhall_federation::protocol::event::Where;
use guildhall_storage::events::{self, Event, JoinRequest, Range};
use guildhall_storage::statuses::{self, Status};
use guildhall_storage::{DbConnection, StorageResult, timelines};
use serde_json::{Value, json};

use super::{invalid, not_found};
use crate::mastodon::auth::{Auth, MaybeAuth};
use crate::mastodon::entities::{Ctx, account, time};
use crate::mastodon::params::Params;
use crate::mastodon::{ctx, parse_id};
use crate::{ApiError, AppState};

/// Reads need this scope.
const READ: &str = "read:statuses";
/// Changes need this scope.
const WRITE: &str = "write:statuses";
/// Longest name.
const MAX_NAME: usize = 200;
/// Longest description.
const MAX_DESCRIPTION: usize = 5000;
/// Longest place field.
const MAX_PLACE_FIELD: usize = 300;

/// A text field no longer than `max` (trimmed; empty reads as absent).
fn text(params: &Params, key: &str, max: usize) -> Result<Option<String>, ApiError> {
    match params.get(key).map(str::trim) {
        Some(v) if v.chars().count() > max => Err(invalid(format!("{key} is longer than {max} characters"))),
        Some("") | None => Ok(None),
        Some(v) => Ok(Some(v.to_owned())),
    }
}

/// An RFC 3339 time, as UTC.
fn instant(params: &Params, key: &str) -> Result<Option<NaiveDateTime>, ApiError> {
    params
        .get(key)
        .map(|v| {
            DateTime::parse_from_rfc3339(v.trim())
                .map(|t| guildhall_core::calendar::whole_seconds(t.naive_utc()))
                .map_err(|_| invalid(format!("{key} must be an RFC 3339 time such as 2026-12-12T10:00:00Z")))
        })
        .transpose()
}

fn web_url(params: &Params, key: &str) -> Result<Option<String>, ApiError> {
    text(params, key, 2000)?
        .map(|v| {
            guildhall_federation::protocol::web_url(&v)
                .map(|u| u.to_string())
                .ok_or_else(|| invalid(format!("{key} must be an http or https URL")))
        })
        .transpose()
}

fn place(params: &Params) -> Result<Where, ApiError> {
    let field = |name: &str| text(params, &format!("place[{name}]"), MAX_PLACE_FIELD);
    Ok(Where {
        name: field("name")?,
        street: field("street")?,
        locality: field("locality")?,
        postal_code: field("postal_code")?,
        country: field("country")?,
        online_url: web_url(params, "online_url")?,
    })
}

/// The event a request describes; on an edit, what it leaves out stays as it was.
fn event_input(params: &Params, before: Option<(&Event, &Status)>) -> Result<EventInput, ApiError> {
    let old = before.map(|(e, _)| e);
    let name = text(params, "name", MAX_NAME)?.or_else(|| old.map(|e| e.name.clone()));
    let name = name.ok_or_else(|| invalid("name is required"))?;
    let description = match params.raw("description") {
        Some(_) => text(params, "description", MAX_DESCRIPTION)?.unwrap_or_default(),
        None => before.and_then(|(_, s)| s.source.clone()).unwrap_or_default(),
    };
    let starts_at = instant(params, "start_time")?.or(old.map(|e| e.starts_at));
    let starts_at = starts_at.ok_or_else(|| invalid("start_time is required"))?;
    let ends_at = match params.raw("end_time") {
        Some(_) => instant(params, "end_time")?,
        None => old.and_then(|e| e.ends_at),
    };
    if ends_at.is_some_and(|e| e < starts_at) {
        return Err(invalid("end_time is before start_time"));
    }
    let timezone = match text(params, "timezone", 64)? {
        Some(tz) if guildhall_core::calendar::timezone(&tz).is_none() => {
            return Err(invalid(format!("timezone '{tz}' is not an IANA time zone such as Europe/London")));
        }
        Some(tz) => Some(tz),
        None => old.and_then(|e| e.timezone.clone()),
    };
    let capacity = match params.number("capacity").map_err(|_| invalid("capacity must be a number"))? {
        Some(n) if !(1..=i64::from(events::MAX_CAPACITY)).contains(&n) => {
            return Err(invalid(format!("capacity must be between 1 and {}", events::MAX_CAPACITY)));
        }
        Some(n) => Some(n as i32),
        None if params.has("capacity") => None,
        None => old.and_then(|e| e.capacity),
    };
    let join_mode = match params.get("join_mode") {
        Some(m) => JoinMode::parse(m).ok_or_else(|| {
            invalid(format!("join_mode must be one of free, restricted, invite, external, not '{m}'"))
        })?,
        None => old.and_then(|e| e.join_mode().ok()).unwrap_or(JoinMode::Free),
    };
    let external_url = web_url(params, "external_url")?.or_else(|| old.and_then(|e| e.external_url.clone()));
    if join_mode == JoinMode::External && external_url.is_none() {
        return Err(invalid("external_url is required when join_mode is external"));
    }
    let mut where_ = place(params)?;
    if let Some(old) = old.filter(|_| !params.keys().any(|k| k.starts_with("place[") || k == "online_url")) {
        where_ = Where {
            name: old.place_name.clone(),
            street: old.street.clone(),
            locality: old.locality.clone(),
            postal_code: old.postal_code.clone(),
            country: old.country.clone(),
            online_url: old.online_url.clone(),
        };
    }
    let visibility = match params.get("visibility") {
        Some(v) => Visibility::parse(v).filter(|v| *v != Visibility::Direct).ok_or_else(|| {
            invalid(format!("visibility must be one of public, unlisted, private, not '{v}'"))
        })?,
        None => before.and_then(|(_, s)| s.visibility().ok()).unwrap_or(Visibility::Public),
    };
    let group_id = match params.get("group_id") {
        Some(g) => Some(g.parse::<i64>().map_err(|_| invalid("group_id is not a group"))?),
        None => before.and_then(|(_, s)| s.group_id),
    };
    Ok(EventInput {
        name,
        description,
        starts_at,
        ends_at,
        timezone,
        place: where_,
        capacity,
        join_mode,
        external_url,
        category: text(params, "category", 100)?.or_else(|| old.and_then(|e| e.category.clone())),
        group_id,
        visibility,
    })
}

/// An `Event` as `viewer` sees it.
pub fn render(
    c: &mut DbConnection,
    ctx: &Ctx,
    status: &Status,
    event: &Event,
    viewer: Option<i64>,
) -> StorageResult<Value> {
    let counts = events::counts(c, event.status_id)?;
    let author = guildhall_storage::actors::get(c, status.actor_id)?;
    let (participant_count, remaining) = match status.local {
        true => (counts.accepted, events::remaining(event, counts)),
        false => (
            event.remote_participants.map_or(counts.accepted, i64::from),
            event.remote_remaining.map(i64::from),
        ),
    };
    let mine = viewer.map(|v| events::participation(c, event.status_id, v)).transpose()?.flatten();
    let can_manage = match viewer {
        Some(v) => status.local && fed_events::may_manage(c, status, v)?,
        None => false,
    };
    let page = fed_events::page_url(&ctx.base, status.id);
    Ok(json!({
        "id": status.id.to_string(),
        "uri": status.ap_id,
        "url": if status.local { Some(page.clone()) } else { status.url.clone() },
        "local_url": page,
        "ics_url": format!("{page}.ics"),
        "name": event.name,
        "description": status.source,
        "content": status.content,
        "start_time": time(event.starts_at),
        "end_time": event.ends_at.map(time),
        "timezone": event.timezone,
        "summary": fed_events::summary_text(event),
        "place": {
            "name": event.place_name,
            "street": event.street,
            "locality": event.locality,
            "postal_code": event.postal_code,
            "country": event.country,
        },
        "online_url": event.online_url,
        "capacity": event.capacity,
        "remaining_capacity": remaining,
        "participant_count": participant_count,
        "waiting_count": status.local.then_some(counts.waiting),
        "pending_count": can_manage.then_some(counts.pending),
        "join_mode": event.join_mode,
        "external_url": event.external_url,
        "status": event.event_status,
        "category": event.category,
        "group_id": status.group_id.map(|g| g.to_string()),
        "visibility": status.visibility,
        "local": status.local,
        "account": account(c, ctx, &author, false)?,
        "participation": mine.map(|p| json!({ "id": p.id.to_string(), "state": p.state, "listed": p.listed })),
        "can_manage": can_manage,
    }))
}

/// The live event with this id, if `viewer` may see it.
fn visible(c: &mut DbConnection, id: i64, viewer: Option<i64>) -> StorageResult<Option<(Status, Event)>> {
    let Some(event) = events::find(c, id)? else { return Ok(None) };
    let status = statuses::get(c, id)?;
    if status.deleted_at.is_some() || !timelines::may_see(c, &status, viewer)? {
        return Ok(None);
    }
    Ok(Some((status, event)))
}

async fn respond(state: &AppState, id: i64, viewer: Option<i64>) -> Result<HttpResponse, ApiError> {
    let ctx = ctx(state);
    let body = state
        .db
        .run(move |c| match visible(c, id, viewer)? {
            Some((status, event)) => render(c, &ctx, &status, &event, viewer).map(Some),
            None => Ok(None),
        })
        .await?
        .ok_or_else(not_found)?;
    Ok(HttpResponse::Ok().json(body))
}

/// `GET /api/guildhall/v1/events?group_id=&from=&to=&attending=`: events the caller may
/// see, soonest first.
pub async fn list(
    auth: MaybeAuth,
    params: Params,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let viewer = auth.viewer(READ);
    let range = Range {
        group_id: params.get("group_id").map(parse_id).transpose()?,
        attendee: match params.flag("attending") {
            Some(true) => {
                Some(viewer.ok_or_else(|| ApiError::Unauthorized("attending needs a token".into()))?)
            }
            _ => None,
        },
        from: instant(&params, "from")?,
        to: instant(&params, "to")?,
        limit: params.number("limit")?.unwrap_or(40).clamp(1, 200),
        public_only: viewer.is_none(),
    };
    let ctx = ctx(&state);
    let body = state
        .db
        .run(move |c| {
            let mut out = Vec::new();
            for event in events::list(c, &range)? {
                if let Some((status, event)) = visible(c, event.status_id, viewer)? {
                    out.push(render(c, &ctx, &status, &event, viewer)?);
                }
            }
            Ok(out)
        })
        .await?;
    Ok(HttpResponse::Ok().json(body))
}

/// `GET /api/guildhall/v1/events/{id}`.
pub async fn get(
    auth: MaybeAuth,
    path: web::Path<String>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    respond(&state, parse_id(&path)?, auth.viewer(READ)).await
}

/// `POST /api/guildhall/v1/events`.
pub async fn create(
    auth: Auth,
    params: Params,
    state: web::Data<AppState>,
    fed: FedData,
) -> Result<HttpResponse, ApiError> {
    let user = auth.user(WRITE)?.clone();
    let input = event_input(&params, None)?;
    if input.starts_at < guildhall_storage::now() {
        return Err(invalid("start_time is in the past"));
    }
    if let Some(group) = input.group_id {
        let is_group = state.db.run(move |c| guildhall_storage::groups::get(c, group)).await?.is_some();
        if !is_group {
            return Err(invalid("group_id is not a group of this server"));
        }
    }
    let status = fed_events::create(&fed, &user.actor, input).await?;
    respond(&state, status.id, Some(user.actor.id)).await
}

/// `PATCH /api/guildhall/v1/events/{id}`: its organizer or a moderator of its group.
pub async fn update(
    auth: Auth,
    path: web::Path<String>,
    params: Params,
    state: web::Data<AppState>,
    fed: FedData,
) -> Result<HttpResponse, ApiError> {
    let user = auth.user(WRITE)?.clone();
    let id = parse_id(&path)?;
    let viewer = user.actor.id;
    let (status, event) = state.db.run(move |c| visible(c, id, Some(viewer))).await?.ok_or_else(not_found)?;
    let mut input = event_input(&params, Some((&event, &status)))?;
    // An event stays in its group.
    input.group_id = status.group_id;
    fed_events::edit(&fed, &user.actor, id, input).await?;
    respond(&state, id, Some(viewer)).await
}

/// `POST /api/guildhall/v1/events/{id}/cancel`.
pub async fn cancel(
    auth: Auth,
    path: web::Path<String>,
    state: web::Data<AppState>,
    fed: FedData,
) -> Result<HttpResponse, ApiError> {
    let user = auth.user(WRITE)?.clone();
    let id = parse_id(&path)?;
    fed_events::set_status(&fed, &user.actor, id, EventStatus::Cancelled).await?;
    respond(&state, id, Some(user.actor.id)).await
}

/// `POST /api/guildhall/v1/events/{id}/join` (`message`, `listed`): the caller answers
/// "coming"; the answer's `state` says whether they are in, waiting, or waiting for the
/// organizer.
pub async fn join(
    auth: Auth,
    path: web::Path<String>,
    params: Params,
    state: web::Data<AppState>,
    fed: FedData,
) -> Result<HttpResponse, ApiError> {
    let user = auth.user(WRITE)?.clone();
    let id = parse_id(&path)?;
    let ask = JoinRequest {
        message: text(&params, "message", 1000)?,
        ap_id: None,
        listed: params.flag("listed").unwrap_or(false),
    };
    fed_events::join(&fed, &user.actor, id, ask).await?;
    respond(&state, id, Some(user.actor.id)).await
}

/// `POST /api/guildhall/v1/events/{id}/leave`.
pub async fn leave(
    auth: Auth,
    path: web::Path<String>,
    state: web::Data<AppState>,
    fed: FedData,
) -> Result<HttpResponse, ApiError> {
    let user = auth.user(WRITE)?.clone();
    let id = parse_id(&path)?;
    fed_events::leave(&fed, &user.actor, id).await?;
    respond(&state, id, Some(user.actor.id)).await
}

/// `POST /api/guildhall/v1/events/{id}/participants/{participant_id}/accept` (and
/// `/reject`): the organizer's answer to someone waiting for it.
pub async fn accept(
    auth: Auth,
    path: web::Path<(String, String)>,
    state: web::Data<AppState>,
    fed: FedData,
) -> Result<HttpResponse, ApiError> {
    decide(auth, path, state, fed, true).await
}

/// `POST /api/guildhall/v1/events/{id}/participants/{participant_id}/reject`.
pub async fn reject(
    auth: Auth,
    path: web::Path<(String, String)>,
    state: web::Data<AppState>,
    fed: FedData,
) -> Result<HttpResponse, ApiError> {
    decide(auth, path, state, fed, false).await
}

async fn decide(
    auth: Auth,
    path: web::Path<(String, String)>,
    state: web::Data<AppState>,
    fed: FedData,
    accept: bool,
) -> Result<HttpResponse, ApiError> {
    let user = auth.user(WRITE)?.clone();
    let (id, participant) = (parse_id(&path.0)?, parse_id(&path.1)?);
    fed_events::decide(&fed, &user.actor, id, participant, accept).await?;
    respond(&state, id, Some(user.actor.id)).await
}

/// Who may see which attendees: managers all (with messages), attendees and group members
/// those who agreed to be listed, anyone else none.
enum AttendeeView {
    Manager,
    Insider,
}

fn attendee_view(c: &mut DbConnection, status: &Status, viewer: i64) -> StorageResult<Option<AttendeeView>> {
    if fed_events::may_manage(c, status, viewer)? {
        return Ok(Some(AttendeeView::Manager));
    }
    let coming = events::participation(c, status.id, viewer)?
        .is_some_and(|p| p.state().is_ok_and(|s| s == Participation::Accepted));
    let member = match status.group_id {
        Some(g) => guildhall_storage::groups::is_member(c, g, viewer)?,
        None => false,
    };
    Ok((coming || member).then_some(AttendeeView::Insider))
}

/// `GET /api/guildhall/v1/events/{id}/attendees`: each attendee's account (name and profile
/// fields) and answer, as the rules allow.
pub async fn attendees(
    auth: Auth,
    path: web::Path<String>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let user = auth.user(READ)?.clone();
    let id = parse_id(&path)?;
    let viewer = user.actor.id;
    let ctx = ctx(&state);
    let body = state
        .db
        .run(move |c| {
            let Some((status, _)) = visible(c, id, Some(viewer))? else { return Ok(Err(not_found())) };
            let Some(view) = attendee_view(c, &status, viewer)? else {
                return Ok(Err(ApiError::Forbidden(
                    "Only the organizer, attendees and group members see who is coming".into(),
                )));
            };
            let (states, listed_only) = match view {
                AttendeeView::Manager => (Participation::ALL, false),
                AttendeeView::Insider => (&[Participation::Accepted][..], true),
            };
            let manager = matches!(view, AttendeeView::Manager);
            let mut out = Vec::new();
            for (p, actor) in events::attendees(c, id, states, listed_only, 1000)? {
                out.push(json!({
                    "id": p.id.to_string(),
                    "state": p.state,
                    "listed": p.listed,
                    "message": if manager { p.message.clone() } else { None },
                    "created_at": time(p.created_at),
                    "account": account(c, &ctx, &actor, false)?,
                }));
            }
            Ok(Ok(out))
        })
        .await??;
    Ok(HttpResponse::Ok().json(body))
}

/// `GET /api/guildhall/v1/preferences/reminders`: minutes before an event to be reminded.
pub async fn reminders(auth: Auth, state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let actor = auth.user("read:accounts")?.actor.id;
    let minutes = state.db.run(move |c| events::reminder_minutes(c, actor)).await?;
    Ok(HttpResponse::Ok().json(json!({ "minutes_before": minutes })))
}

/// `PATCH /api/guildhall/v1/preferences/reminders` (`minutes_before`: a list, empty for none).
pub async fn set_reminders(
    auth: Auth,
    params: Params,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let actor = auth.user("write:accounts")?.actor.id;
    if !params.has("minutes_before") {
        return Err(invalid("minutes_before is required (a list of minutes, empty for none)"));
    }
    let sent = params.all("minutes_before");
    let minutes = events::parse_minutes(&sent.join(","));
    if minutes.len() != sent.iter().filter(|s| !s.trim().is_empty()).count() {
        return Err(invalid(format!(
            "minutes_before must hold up to five distinct whole minutes between 1 and {}",
            events::MAX_REMINDER_MINUTES
        )));
    }
    let saved = minutes.clone();
    state.db.run(move |c| events::set_reminder_minutes(c, actor, &saved)).await?;
    Ok(HttpResponse::Ok().json(json!({ "minutes_before": minutes })))
}
