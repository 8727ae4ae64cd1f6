//! Scheduled statuses: `POST /api/v1/statuses` with `scheduled_at` five minutes or more
//! ahead answers a `ScheduledStatus`; `/api/v1/scheduled_statuses` lists, shows, moves and
//! cancels them. The durable job queue publishes each once
//! ([`guildhall_federation::scheduler`]).

use actix_web::HttpResponse;
use actix_web::web::{self, ServiceConfig};
use chrono::NaiveDateTime;
use guildhall_federation::scheduler::ScheduledPost;
use guildhall_storage::accounts::LocalAccount;
use guildhall_storage::scheduled::{self, ScheduledStatus};
use guildhall_storage::{DbConnection, StorageResult, media};
use serde_json::{Value, json};

use super::auth::Auth;
use super::compose::{self, Compose, Schedule};
use super::entities::{Ctx, attachment, time};
use super::params::Params;
use super::{ctx, page, paged_response, parse_id};
use crate::{ApiError, AppState};

pub fn configure(cfg: &mut ServiceConfig) {
    cfg.route("/api/v1/scheduled_statuses", web::get().to(list))
        .route("/api/v1/scheduled_statuses/{id}", web::get().to(get))
        .route("/api/v1/scheduled_statuses/{id}", web::put().to(update))
        .route("/api/v1/scheduled_statuses/{id}", web::delete().to(delete));
}

/// A `ScheduledStatus`.
fn render(c: &mut DbConnection, ctx: &Ctx, row: &ScheduledStatus) -> StorageResult<Value> {
    let post: ScheduledPost = serde_json::from_str(&row.params_json)
        .map_err(|e| guildhall_storage::StorageError::Corrupt(e.to_string()))?;
    let mut attachments = Vec::new();
    for id in &post.media_ids {
        if let Some(m) = media::find_own(c, row.actor_id, *id)? {
            attachments.push(attachment(ctx, &m));
        }
    }
    Ok(json!({
        "id": row.id.to_string(),
        "scheduled_at": time(row.scheduled_at),
        "params": {
            "text": post.text,
            "poll": post.poll.as_ref().map(|p| json!({
                "options": p.options, "expires_in": p.expires_in.to_string(), "multiple": p.multiple, "hide_totals": false,
            })),
            "media_ids": (!post.media_ids.is_empty()).then(|| post.media_ids.iter().map(i64::to_string).collect::<Vec<_>>()),
            "sensitive": post.sensitive,
            "spoiler_text": post.spoiler_text,
            "visibility": post.visibility.as_str(),
            "in_reply_to_id": post.in_reply_to.map(|i| i.to_string()),
            "language": post.language,
            "scheduled_at": null,
            "application_id": null,
            "idempotency": null,
            "with_rate_limit": false,
        },
        "media_attachments": attachments,
    }))
}

/// Schedules `compose` for `at` (called by `POST /api/v1/statuses`).
pub(super) async fn schedule(
    state: &AppState,
    user: &LocalAccount,
    compose: Compose,
    in_reply_to: Option<i64>,
    at: NaiveDateTime,
    idempotency: Option<String>,
) -> Result<HttpResponse, ApiError> {
    let actor_id = user.actor.id;
    if let Some(key) = idempotency.clone() {
        let ctx = ctx(state);
        let earlier = state
            .db
            .run(move |c| {
                let page = guildhall_storage::timelines::Page {
                    limit: scheduled::MAX_PENDING,
                    ..Default::default()
                };
                for row in scheduled::list(c, actor_id, &page)? {
                    let post: Option<ScheduledPost> = serde_json::from_str(&row.params_json).ok();
                    if post.and_then(|p| p.idempotency).as_deref() == Some(key.as_str()) {
                        return Ok(Some(render(c, &ctx, &row)?));
                    }
                }
                Ok(None)
            })
            .await?;
        // A retry of a request that scheduled it: the same scheduled status, not another.
        if let Some(earlier) = earlier {
            return Ok(HttpResponse::Ok().json(earlier));
        }
    }
    let ids = compose.media_ids.clone();
    let bad = state.db.run(move |c| media::unusable(c, actor_id, &ids, None)).await?;
    if !bad.is_empty() {
        let bad: Vec<String> = bad.iter().map(i64::to_string).collect();
        return Err(ApiError::Unprocessable(format!(
            "Media {} not found or already attached to another post",
            bad.join(", ")
        )));
    }
    let post = ScheduledPost {
        text: compose.text,
        visibility: compose.visibility,
        in_reply_to,
        spoiler_text: compose.spoiler_text,
        sensitive: compose.sensitive,
        language: compose.language,
        media_ids: compose.media_ids,
        poll: compose.poll,
        idempotency,
    };
    let json = serde_json::to_string(&post).map_err(|e| ApiError::Internal(e.to_string()))?;
    let ctx = ctx(state);
    let media_ids = post.media_ids.clone();
    let rendered = state
        .db
        .run(move |c| match scheduled::create(c, actor_id, at, json, &media_ids)? {
            Ok(row) => Ok(Ok(render(c, &ctx, &row)?)),
            Err(refused) => Ok(Err(refused)),
        })
        .await?
        .map_err(|refused| ApiError::Unprocessable(refused.to_string()))?;
    Ok(HttpResponse::Ok().json(rendered))
}

async fn list(auth: Auth, params: Params, state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let actor = auth.user("read:statuses")?.actor.id;
    let page = page(&params, 20, 40)?;
    let ctx = ctx(&state);
    let (items, ids) = state
        .db
        .run(move |c| {
            let rows = scheduled::list(c, actor, &page)?;
            let items = rows.iter().map(|r| render(c, &ctx, r)).collect::<StorageResult<Vec<_>>>()?;
            Ok((items, rows.iter().map(|r| r.id).collect::<Vec<_>>()))
        })
        .await?;
    Ok(paged_response("/api/v1/scheduled_statuses", &state, items, &ids))
}

async fn get(
    auth: Auth,
    id: web::Path<String>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let actor = auth.user("read:statuses")?.actor.id;
    let id = parse_id(&id)?;
    let ctx = ctx(&state);
    let item = state
        .db
        .run(move |c| {
            let row = scheduled::get(c, actor, id)?;
            render(c, &ctx, &row)
        })
        .await?;
    Ok(HttpResponse::Ok().json(item))
}

/// `PUT`: moves it to `scheduled_at` (the only thing Mastodon lets an app change).
async fn update(
    auth: Auth,
    id: web::Path<String>,
    params: Params,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let actor = auth.user("write:statuses")?.actor.id;
    let id = parse_id(&id)?;
    let at = match compose::scheduled_at(&params)? {
        Some(Schedule::At(at)) => at,
        Some(Schedule::Now) => {
            return Err(ApiError::Unprocessable(
                "Validation failed: scheduled_at: The scheduled date must be in the future".into(),
            ));
        }
        None => return Err(ApiError::Unprocessable("Validation failed: scheduled_at: is missing".into())),
    };
    let ctx = ctx(&state);
    let item = state
        .db
        .run(move |c| match scheduled::reschedule(c, actor, id, at)? {
            Ok(row) => Ok(Ok(render(c, &ctx, &row)?)),
            Err(refused) => Ok(Err(refused)),
        })
        .await?
        .map_err(|refused| ApiError::Unprocessable(refused.to_string()))?;
    Ok(HttpResponse::Ok().json(item))
}

async fn delete(
    auth: Auth,
    id: web::Path<String>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let actor = auth.user("write:statuses")?.actor.id;
    let id = parse_id(&id)?;
    state.db.run(move |c| scheduled::remove(c, actor, id)).await?;
    Ok(HttpResponse::Ok().json(json!({})))
}
