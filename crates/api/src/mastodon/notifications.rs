//! Notifications.

use actix_web::HttpResponse;
use actix_web::web::{self, ServiceConfig};
use guildhall_storage::notifications::{self, KINDS, Notification};
use guildhall_storage::{DbConnection, StorageResult, actors, statuses};
use serde_json::{Value, json};

use super::auth::Auth;
use super::entities::{Ctx, account, status, time};
use super::params::Params;
use super::{ctx, page, paged_response, parse_id};
use crate::{ApiError, AppState};

pub fn configure(cfg: &mut ServiceConfig) {
    cfg.route("/api/v1/notifications", web::get().to(list))
        .route("/api/v1/notifications/clear", web::post().to(clear))
        .route("/api/v1/notifications/{id}", web::get().to(get))
        .route("/api/v1/notifications/{id}/dismiss", web::post().to(dismiss));
}

pub(super) fn render(c: &mut DbConnection, ctx: &Ctx, n: &Notification, viewer: i64) -> StorageResult<Value> {
    let from = actors::get(c, n.from_actor_id)?;
    let status = match n.status_id {
        Some(id) => {
            let s = statuses::get(c, id)?;
            Some(status(c, ctx, &s, Some(viewer))?)
        }
        None => None,
    };
    Ok(json!({
        "id": n.id.to_string(), "type": n.kind, "created_at": time(n.created_at), "group_key": n.group_key(),
        "account": account(c, ctx, &from, false)?, "status": status,
    }))
}

async fn list(auth: Auth, params: Params, state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let viewer = auth.user("read:notifications")?.actor.id;
    let page = page(&params, 15, 30)?;
    let exclude = params.all("exclude_types");
    let mut types: Vec<String> = params.all("types");
    if types.is_empty() {
        types = KINDS.iter().map(|k| (*k).to_owned()).collect();
    }
    types.retain(|t| !exclude.contains(t));
    let ctx = ctx(&state);
    let (items, ids) = state
        .db
        .run(move |c| {
            let rows = notifications::list(c, viewer, Some(&types), &page)?;
            let ids = rows.iter().map(|n| n.id).collect::<Vec<_>>();
            // Muted accounts' notifications (when the mute covers them) and statuses a `hide`
            // filter matches stay out; `warn` filters mark the status.
            let muted = guildhall_storage::mutes::notification_muted(c, viewer)?;
            let active = guildhall_storage::filters::active(c, viewer, "notifications")?;
            let mut items = Vec::with_capacity(rows.len());
            for n in rows.iter().filter(|n| !muted.contains(&n.from_actor_id)) {
                let filtered = match n.status_id {
                    Some(id) if !active.is_empty() => {
                        let s = statuses::get(c, id)?;
                        match super::filters::results(c, &active, &s)? {
                            None => continue,
                            Some(found) => Some(found),
                        }
                    }
                    _ => None,
                };
                let mut item = render(c, &ctx, n, viewer)?;
                if let Some(found) = filtered
                    && item["status"].is_object()
                {
                    item["status"]["filtered"] = json!(found);
                }
                items.push(item);
            }
            Ok((items, ids))
        })
        .await?;
    Ok(paged_response("/api/v1/notifications", &state, items, &ids))
}

async fn get(
    auth: Auth,
    id: web::Path<String>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let viewer = auth.user("read:notifications")?.actor.id;
    let id = parse_id(&id)?;
    let ctx = ctx(&state);
    let item = state
        .db
        .run(move |c| {
            let n = notifications::get(c, viewer, id)?;
            render(c, &ctx, &n, viewer)
        })
        .await?;
    Ok(HttpResponse::Ok().json(item))
}

async fn clear(auth: Auth, state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let viewer = auth.user("write:notifications")?.actor.id;
    state.db.run(move |c| notifications::clear(c, viewer)).await?;
    Ok(HttpResponse::Ok().json(json!({})))
}

async fn dismiss(
    auth: Auth,
    id: web::Path<String>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let viewer = auth.user("write:notifications")?.actor.id;
    let id = parse_id(&id)?;
    state.db.run(move |c| notifications::dismiss(c, viewer, id)).await?;
    Ok(HttpResponse::Ok().json(json!({})))
}
