//! Reports (`POST /api/v1/reports`, and the admins' list) and conversations (direct messages
//! grouped by thread).

use guildhall_core::model::ActorKind;
use std::collections::BTreeMap;

use actix_web::HttpResponse;
use actix_web::web::{self, ServiceConfig};
use guildhall_federation::FedData;
use guildhall_federation::actions::{self, NewReport};
use guildhall_storage::reports::Report;
use guildhall_storage::statuses::{self, Status};
use guildhall_storage::{DbConnection, StorageResult, actors, status_parts, timelines};
use serde_json::{Value, json};

use super::auth::Auth;
use super::entities::{Ctx, account, status, time};
use super::params::Params;
use super::{ctx, page, parse_id};
use crate::{ApiError, AppState};

/// Longest report comment.
const MAX_COMMENT: usize = 1000;
const CATEGORIES: [&str; 4] = ["spam", "legal", "violation", "other"];

pub fn configure(cfg: &mut ServiceConfig) {
    cfg.route("/api/v1/reports", web::post().to(create))
        .route("/api/v1/admin/reports", web::get().to(admin_index))
        .route("/api/v1/conversations", web::get().to(conversations))
        .route("/api/v1/conversations/{id}/read", web::post().to(read_conversation));
}

fn entity(
    c: &mut DbConnection,
    ctx: &Ctx,
    r: &Report,
    category: &str,
    forwarded: bool,
) -> StorageResult<Value> {
    let target = actors::get(c, r.target_id)?;
    let status_ids: Vec<i64> = serde_json::from_str(&r.status_ids_json).unwrap_or_default();
    Ok(json!({
        "id": r.id.to_string(), "action_taken": r.resolved_at.is_some(),
        "action_taken_at": r.resolved_at.map(time), "category": category, "comment": r.comment,
        "forwarded": forwarded, "created_at": time(r.created_at),
        "status_ids": status_ids.iter().map(i64::to_string).collect::<Vec<_>>(), "rule_ids": [],
        "target_account": account(c, ctx, &target, false)?,
    }))
}

async fn create(
    auth: Auth,
    params: Params,
    state: web::Data<AppState>,
    fed: FedData,
) -> Result<HttpResponse, ApiError> {
    let reporter = auth.user("write:reports")?.actor.clone();
    let target_id = parse_id(params.required("account_id")?)?;
    let comment = params.get("comment").unwrap_or("").to_owned();
    if comment.chars().count() > MAX_COMMENT {
        return Err(ApiError::Unprocessable(format!(
            "Validation failed: Comment is too long (maximum is {MAX_COMMENT} characters)"
        )));
    }
    let category = params.get("category").unwrap_or("other").to_owned();
    if !CATEGORIES.contains(&category.as_str()) {
        return Err(ApiError::Unprocessable(format!(
            "Validation failed: category must be one of {}",
            CATEGORIES.join(", ")
        )));
    }
    let status_ids = params.all("status_ids").iter().map(|i| parse_id(i)).collect::<Result<Vec<_>, _>>()?;
    let forward = params.flag("forward").unwrap_or(false);
    let target = state.db.run(move |c| actors::get(c, target_id)).await?;
    if target.id == reporter.id || target.is(ActorKind::Application) || target.deleted_at.is_some() {
        return Err(ApiError::NotFound("Record not found".into()));
    }
    let forwarded = forward && !target.is_local();
    state.limits.report(reporter.id)?;
    let report = actions::report(&fed, &reporter, NewReport { target, status_ids, comment, forward }).await?;
    let ctx = ctx(&state);
    let body = state.db.run(move |c| entity(c, &ctx, &report, &category, forwarded)).await?;
    Ok(HttpResponse::Ok().json(body))
}

/// `GET /api/v1/admin/reports`: open reports, for admins.
async fn admin_index(auth: Auth, state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let user = auth.user("admin:read:reports")?;
    if user.user.role != "admin" {
        return Err(ApiError::Forbidden("This action is not allowed".into()));
    }
    let ctx = ctx(&state);
    let body = state
        .db
        .run(move |c| {
            let open = guildhall_storage::reports::open(c)?;
            let mut out = Vec::new();
            for r in &open {
                let mut e = entity(c, &ctx, r, "other", false)?;
                let reporter = actors::get(c, r.reporter_id)?;
                e["account"] =
                    serde_json::to_value(account(c, &ctx, &reporter, false)?).unwrap_or(Value::Null);
                out.push(e);
            }
            Ok(out)
        })
        .await?;
    Ok(HttpResponse::Ok().json(body))
}

/// The first status of the thread `s` is in (as far as we have it).
fn root_of(c: &mut DbConnection, s: &Status) -> StorageResult<i64> {
    let mut current = s.clone();
    for _ in 0..50 {
        match current.in_reply_to_id {
            Some(parent) => current = statuses::get(c, parent)?,
            None => break,
        }
    }
    Ok(current.id)
}

/// Direct messages grouped by thread, newest first: each with the other participants and the
/// latest message. Read state is not tracked (every conversation is read).
fn conversation_list(
    c: &mut DbConnection,
    ctx: &Ctx,
    viewer: i64,
    page: &timelines::Page,
) -> StorageResult<Vec<Value>> {
    let recent = timelines::direct(c, viewer, &timelines::Page { limit: 200, ..*page })?;
    let mut by_root: BTreeMap<i64, Status> = BTreeMap::new();
    for s in recent {
        let root = root_of(c, &s)?;
        by_root.entry(root).or_insert(s);
    }
    let mut latest: Vec<(i64, Status)> = by_root.into_iter().collect();
    latest.sort_by_key(|(_, s)| std::cmp::Reverse(s.id));
    latest.truncate(usize::try_from(page.limit).unwrap_or(20));
    let mut out = Vec::new();
    for (root, last) in latest {
        let mut participants = status_parts::mentions(c, last.id)?;
        participants.push(last.actor_id);
        participants.sort_unstable();
        participants.dedup();
        participants.retain(|p| *p != viewer);
        let accounts = super::entities::accounts_by_id(c, ctx, &participants)?;
        out.push(json!({
            "id": root.to_string(), "unread": false, "accounts": accounts,
            "last_status": status(c, ctx, &last, Some(viewer))?,
        }));
    }
    Ok(out)
}

async fn conversations(
    auth: Auth,
    params: Params,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let viewer = auth.user("read:statuses")?.actor.id;
    let page = page(&params, 20, 40)?;
    let ctx = ctx(&state);
    let body = state.db.run(move |c| conversation_list(c, &ctx, viewer, &page)).await?;
    Ok(HttpResponse::Ok().json(body))
}

/// `POST /api/v1/conversations/:id/read`: the conversation (read state is not tracked, so it
/// is always read).
async fn read_conversation(
    id: web::Path<String>,
    auth: Auth,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let viewer = auth.user("write:conversations")?.actor.id;
    let root = parse_id(&id)?;
    let ctx = ctx(&state);
    let body = state
        .db
        .run(move |c| {
            let all =
                conversation_list(c, &ctx, viewer, &timelines::Page { limit: 40, ..Default::default() })?;
            all.into_iter()
                .find(|v| v["id"] == root.to_string().as_str())
                .ok_or(guildhall_storage::StorageError::NotFound)
        })
        .await?;
    Ok(HttpResponse::Ok().json(body))
}
