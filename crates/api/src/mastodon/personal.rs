//! What only concerns the signed-in user: read markers, mutes, blocks and pinned posts.

use actix_web::HttpResponse;
use actix_web::web::{self, ServiceConfig};
use guildhall_storage::{markers, mutes};
use serde_json::{Map, Value, json};

use super::auth::Auth;
use super::entities::{account, accounts_by_id, relationship, status, time};
use super::params::Params;
use super::{ctx, parse_id};
use crate::{ApiError, AppState};

pub fn configure(cfg: &mut ServiceConfig) {
    cfg.route("/api/v1/markers", web::get().to(get_markers))
        .route("/api/v1/markers", web::post().to(set_markers))
        .route("/api/v1/mutes", web::get().to(muted))
        .route("/api/v1/blocks", web::get().to(blocked))
        .route("/api/v1/accounts/{id}/mute", web::post().to(mute))
        .route("/api/v1/accounts/{id}/unmute", web::post().to(unmute))
        .route("/api/v1/statuses/{id}/pin", web::post().to(pin))
        .route("/api/v1/statuses/{id}/unpin", web::post().to(unpin));
}

const MARKER_TIMELINES: [&str; 2] = ["home", "notifications"];

fn marker_entity(m: &markers::Marker) -> Value {
    json!({ "last_read_id": m.last_read_id.to_string(), "version": m.version, "updated_at": time(m.updated_at) })
}

async fn get_markers(
    auth: Auth,
    params: Params,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let user = auth.user("read:statuses")?.user.id;
    let mut wanted: Vec<String> =
        params.all("timeline").into_iter().filter(|t| MARKER_TIMELINES.contains(&t.as_str())).collect();
    if wanted.is_empty() {
        wanted = MARKER_TIMELINES.iter().map(|t| (*t).to_owned()).collect();
    }
    let found = state.db.run(move |c| markers::get(c, user, &wanted)).await?;
    let body: Map<String, Value> = found.iter().map(|m| (m.timeline.clone(), marker_entity(m))).collect();
    Ok(HttpResponse::Ok().json(body))
}

/// `home[last_read_id]=…` as a form, or `{"home": {"last_read_id": "…"}}` as JSON.
fn last_read(params: &Params, timeline: &str) -> Result<Option<i64>, ApiError> {
    let raw = params.get(&format!("{timeline}[last_read_id]")).map(str::to_owned).or_else(|| {
        let nested: Value = serde_json::from_str(params.get(timeline)?).ok()?;
        match &nested["last_read_id"] {
            Value::String(s) => Some(s.clone()),
            Value::Number(n) => Some(n.to_string()),
            _ => None,
        }
    });
    raw.map(|r| {
        r.parse().map_err(|_| ApiError::Unprocessable(format!("{timeline} last_read_id must be an id")))
    })
    .transpose()
}

async fn set_markers(
    auth: Auth,
    params: Params,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let user = auth.user("write:statuses")?.user.id;
    let mut updates = Vec::new();
    for timeline in MARKER_TIMELINES {
        if let Some(id) = last_read(&params, timeline)? {
            updates.push((timeline, id));
        }
    }
    if updates.is_empty() {
        return Err(ApiError::Unprocessable("Give home[last_read_id] or notifications[last_read_id]".into()));
    }
    let set = state
        .db
        .run(move |c| {
            updates.into_iter().map(|(t, id)| markers::set(c, user, t, id)).collect::<Result<Vec<_>, _>>()
        })
        .await?;
    let body: Map<String, Value> = set.iter().map(|m| (m.timeline.clone(), marker_entity(m))).collect();
    Ok(HttpResponse::Ok().json(body))
}

async fn mute(
    id: web::Path<String>,
    auth: Auth,
    params: Params,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let viewer = auth.user("write:mutes")?.actor.id;
    let target = parse_id(&id)?;
    if target == viewer {
        return Err(ApiError::Unprocessable("You cannot mute yourself".into()));
    }
    let notifications = params.flag("notifications").unwrap_or(true);
    let duration = params.number("duration")?.unwrap_or(0);
    if duration < 0 {
        return Err(ApiError::Unprocessable("duration must not be negative".into()));
    }
    let expires_at = (duration > 0).then(|| guildhall_storage::now() + chrono::Duration::seconds(duration));
    let body = state
        .db
        .run(move |c| {
            let actor = guildhall_storage::actors::get(c, target)?;
            if actor.deleted_at.is_some() {
                return Err(guildhall_storage::StorageError::NotFound);
            }
            mutes::add(c, viewer, target, notifications, expires_at)?;
            relationship(c, viewer, target)
        })
        .await?;
    Ok(HttpResponse::Ok().json(body))
}

async fn unmute(
    id: web::Path<String>,
    auth: Auth,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let viewer = auth.user("write:mutes")?.actor.id;
    let target = parse_id(&id)?;
    let body = state
        .db
        .run(move |c| {
            guildhall_storage::actors::get(c, target)?;
            mutes::remove(c, viewer, target)?;
            relationship(c, viewer, target)
        })
        .await?;
    Ok(HttpResponse::Ok().json(body))
}

async fn muted(auth: Auth, state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let viewer = auth.user("read:mutes")?.actor.id;
    let ctx = ctx(&state);
    let body = state
        .db
        .run(move |c| {
            let mut out = Vec::new();
            for m in mutes::list(c, viewer)? {
                let actor = guildhall_storage::actors::get(c, m.target_id)?;
                let mut entity =
                    serde_json::to_value(account(c, &ctx, &actor, false)?).unwrap_or(Value::Null);
                entity["mute_expires_at"] = json!(m.expires_at.map(time));
                out.push(entity);
            }
            Ok(out)
        })
        .await?;
    Ok(HttpResponse::Ok().json(body))
}

/// `GET /api/v1/blocks`: the accounts the caller blocks.
async fn blocked(auth: Auth, state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let viewer = auth.user("read:blocks")?.actor.id;
    let ctx = ctx(&state);
    let body = state
        .db
        .run(move |c| {
            let blocked: Vec<i64> =
                guildhall_storage::blocks::blocked_by(c, viewer)?.into_iter().take(80).collect();
            accounts_by_id(c, &ctx, &blocked)
        })
        .await?;
    Ok(HttpResponse::Ok().json(body))
}

/// Pins one of the caller's own posts (not a boost, not a direct message); the network hears
/// of it through the `featured` collection.
async fn pin(
    id: web::Path<String>,
    auth: Auth,
    state: web::Data<AppState>,
    fed: guildhall_federation::FedData,
) -> Result<HttpResponse, ApiError> {
    set_pinned(&id, &auth, &state, &fed, true).await
}

async fn unpin(
    id: web::Path<String>,
    auth: Auth,
    state: web::Data<AppState>,
    fed: guildhall_federation::FedData,
) -> Result<HttpResponse, ApiError> {
    set_pinned(&id, &auth, &state, &fed, false).await
}

async fn set_pinned(
    id: &str,
    auth: &Auth,
    state: &AppState,
    fed: &guildhall_federation::FedData,
    pinned: bool,
) -> Result<HttpResponse, ApiError> {
    let user = auth.user("write:accounts")?;
    let s = guildhall_federation::actions::set_pinned(fed, &user.actor, parse_id(id)?, pinned).await?;
    let (ctx, viewer) = (ctx(state), user.actor.id);
    let body = state.db.run(move |c| status(c, &ctx, &s, Some(viewer))).await?;
    Ok(HttpResponse::Ok().json(body))
}
