//! Discussion hours: `/api/guildhall/v1/groups/{id}/hours` and `/api/guildhall/v1/hours/{id}`.
//! A group's moderators schedule them (`write:groups`); whoever may read the group's threads
//! reads them.

use actix_web::HttpResponse;
use actix_web::web::{self, Bytes};
use guildhall_core::model::GroupVisibility;
use guildhall_federation::FedData;
use guildhall_federation::hours::{self as fed_hours, HourRequest};
use guildhall_storage::hours::{self, Edition, Hour};
use guildhall_storage::{DbConnection, StorageResult, groups};
use serde::Deserialize;
use serde_json::{Value, json};

use super::{WRITE, invalid, load_group, named_account, not_found, viewer};
use crate::mastodon::auth::{Auth, MaybeAuth};
use crate::mastodon::entities::time;
use crate::mastodon::params::Params;
use crate::mastodon::parse_id;
use crate::{ApiError, AppState};

/// Editions shown with an hour, newest first.
const EDITIONS_SHOWN: i64 = 20;

/// The request body: the hour, and optionally its usual host (a member's account id).
#[derive(Debug, Deserialize)]
struct Body {
    #[serde(flatten)]
    hour: HourRequest,
    #[serde(default)]
    host_id: Option<String>,
}

fn edition_json(c: &mut DbConnection, base: &str, e: &Edition) -> StorageResult<Value> {
    let prompts: Vec<Value> = hours::prompts_posted(c, e.id)?
        .into_iter()
        .map(|(n, s)| json!({ "number": n, "status_id": s.to_string() }))
        .collect();
    Ok(json!({
        "id": e.id.to_string(),
        "starts_at": time(e.starts_at),
        "ends_at": time(e.ends_at),
        "host_id": e.host_id.map(|h| h.to_string()),
        "intro_status_id": e.intro_status_id.map(|s| s.to_string()),
        "recap_status_id": e.recap_status_id.map(|s| s.to_string()),
        "prompts": prompts,
        "url": format!("{base}/hours/{}/editions/{}", e.hour_id, e.id),
    }))
}

/// An `Hour` with its latest editions.
fn render(c: &mut DbConnection, base: &str, hour: &Hour) -> StorageResult<Value> {
    let editions = hours::editions(c, hour.id, EDITIONS_SHOWN)?
        .iter()
        .map(|e| edition_json(c, base, e))
        .collect::<StorageResult<Vec<_>>>()?;
    let prompts: Vec<Value> = hour
        .prompts()?
        .into_iter()
        .map(|p| json!({ "offset_seconds": p.offset_seconds, "text": p.text }))
        .collect();
    Ok(json!({
        "id": hour.id.to_string(),
        "group_id": hour.group_id.to_string(),
        "title": hour.title,
        "hashtag": hour.hashtag,
        "rrule": hour.rrule,
        "dtstart": hour.dtstart.format("%Y-%m-%dT%H:%M:%S").to_string(),
        "timezone": hour.timezone,
        "duration_minutes": hour.duration_minutes,
        "intro": hour.intro,
        "prompts": prompts,
        "host_id": hour.host_id.map(|h| h.to_string()),
        "cancelled": hour.is_cancelled(),
        "url": format!("{base}/hours/{}", hour.id),
        "editions": editions,
    }))
}

/// Whether `viewer` may read the group's threads (and so its hours).
fn may_read(c: &mut DbConnection, group_id: i64, viewer: Option<i64>) -> StorageResult<bool> {
    let Some(settings) = groups::get(c, group_id)? else { return Ok(false) };
    if settings.visibility()? == GroupVisibility::Public {
        return Ok(true);
    }
    Ok(match viewer {
        Some(v) => groups::is_member(c, group_id, v)? || groups::is_moderator(c, group_id, v)?,
        None => false,
    })
}

/// `POST /api/guildhall/v1/groups/{id}/hours`.
pub async fn create(
    auth: Auth,
    path: web::Path<String>,
    body: Bytes,
    state: web::Data<AppState>,
    fed: FedData,
) -> Result<HttpResponse, ApiError> {
    let user = auth.user(WRITE)?.clone();
    let (group, _) = load_group(&state, &path).await?;
    let deserializer = &mut serde_json::Deserializer::from_slice(&body);
    let mut sent: Body = serde_path_to_error::deserialize(deserializer)
        .map_err(|e| invalid(format!("{}: {}", e.path(), e.inner())))?;
    sent.hour.host_id = sent
        .host_id
        .as_deref()
        .map(|h| h.parse::<i64>().map_err(|_| invalid("host_id: not an account id")))
        .transpose()?;
    let hour = fed_hours::create(&fed, &group, &user.actor, sent.hour).await?;
    let base = state.urls.base().to_owned();
    let body = state.db.run(move |c| render(c, &base, &hour)).await?;
    Ok(HttpResponse::Ok().json(body))
}

/// `GET /api/guildhall/v1/groups/{id}/hours`: the group's hours, cancelled ones included.
pub async fn list(
    auth: MaybeAuth,
    path: web::Path<String>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let (group, _) = load_group(&state, &path).await?;
    let (me, base) = (viewer(&auth), state.urls.base().to_owned());
    let body = state
        .db
        .run(move |c| {
            if !may_read(c, group.id, me)? {
                return Ok(None);
            }
            let list = hours::of_group(c, group.id)?;
            list.iter().map(|h| render(c, &base, h)).collect::<StorageResult<Vec<_>>>().map(Some)
        })
        .await?
        .ok_or_else(not_found)?;
    Ok(HttpResponse::Ok().json(body))
}

/// `GET /api/guildhall/v1/hours/{id}`.
pub async fn get(
    auth: MaybeAuth,
    path: web::Path<String>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let id = parse_id(&path)?;
    let (me, base) = (viewer(&auth), state.urls.base().to_owned());
    let body = state
        .db
        .run(move |c| {
            let Some(hour) = hours::find(c, id)? else { return Ok(None) };
            if !may_read(c, hour.group_id, me)? {
                return Ok(None);
            }
            render(c, &base, &hour).map(Some)
        })
        .await?
        .ok_or_else(not_found)?;
    Ok(HttpResponse::Ok().json(body))
}

/// `DELETE /api/guildhall/v1/hours/{id}`: the group's moderators stop the hour; editions not
/// yet started go, past ones stay in the archive.
pub async fn cancel(
    auth: Auth,
    path: web::Path<String>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let user = auth.user(WRITE)?.clone();
    let id = parse_id(&path)?;
    let (me, base) = (user.actor.id, state.urls.base().to_owned());
    let body = state
        .db
        .run(move |c| {
            let Some(hour) = hours::find(c, id)? else { return Ok(Err(not_found())) };
            if !groups::is_moderator(c, hour.group_id, me)? {
                return Ok(Err(match may_read(c, hour.group_id, Some(me))? {
                    true => ApiError::Forbidden("Only the group's moderators may cancel its hours".into()),
                    false => not_found(),
                }));
            }
            hours::cancel(c, id)?;
            let cancelled = hours::get(c, id)?;
            render(c, &base, &cancelled).map(Ok)
        })
        .await??;
    Ok(HttpResponse::Ok().json(body))
}

/// `PUT /api/guildhall/v1/hours/{id}/editions/{edition_id}/host` (`account_id` or `acct`,
/// resolved through WebFinger): a guest host for one date, named in that edition's intro. The
/// group's moderators only, before the edition starts. `DELETE` goes back to the usual host.
pub async fn set_host(
    auth: Auth,
    path: web::Path<(String, String)>,
    params: Params,
    state: web::Data<AppState>,
    fed: FedData,
) -> Result<HttpResponse, ApiError> {
    let user = auth.user(WRITE)?.clone();
    let (id, edition) = (parse_id(&path.0)?, parse_id(&path.1)?);
    // Checked before the host is resolved: resolving may fetch from another server.
    let me = user.actor.id;
    state.db.run(move |c| changeable(c, me, id, edition)).await??;
    let host = named_account(&params, &state, &fed).await?;
    host_change(&state, me, id, edition, Some(host.id)).await
}

/// `DELETE /api/guildhall/v1/hours/{id}/editions/{edition_id}/host`.
pub async fn clear_host(
    auth: Auth,
    path: web::Path<(String, String)>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let user = auth.user(WRITE)?.clone();
    let (id, edition) = (parse_id(&path.0)?, parse_id(&path.1)?);
    host_change(&state, user.actor.id, id, edition, None).await
}

/// The hour, when `me` moderates its group and the edition is its own and has not started.
fn changeable(
    c: &mut DbConnection,
    me: i64,
    hour_id: i64,
    edition_id: i64,
) -> StorageResult<Result<Hour, ApiError>> {
    let Some(hour) = hours::find(c, hour_id)? else { return Ok(Err(not_found())) };
    let edition = hours::find_edition(c, edition_id)?.filter(|e| e.hour_id == hour_id);
    let (Some(edition), true) = (edition, groups::is_moderator(c, hour.group_id, me)?) else {
        return Ok(Err(not_found()));
    };
    if edition.starts_at <= guildhall_storage::now() || edition.intro_status_id.is_some() {
        return Ok(Err(invalid("this edition has started")));
    }
    Ok(Ok(hour))
}

async fn host_change(
    state: &AppState,
    me: i64,
    hour_id: i64,
    edition_id: i64,
    host: Option<i64>,
) -> Result<HttpResponse, ApiError> {
    let base = state.urls.base().to_owned();
    let body = state
        .db
        .run(move |c| {
            guildhall_storage::transaction(c, |c| {
                let hour = match changeable(c, me, hour_id, edition_id)? {
                    Ok(hour) => hour,
                    Err(refused) => return Ok(Err(refused)),
                };
                hours::set_edition_host(c, edition_id, host)?;
                render(c, &base, &hour).map(Ok)
            })
        })
        .await??;
    Ok(HttpResponse::Ok().json(body))
}
