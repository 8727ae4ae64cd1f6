//! Grouped notifications (API v2, Mastodon 4.3), unread counts, notification policies (v1 and
//! v2) and notification requests: what Phanpy and Ice Cubes read when an instance reports
//! `api_versions.mastodon: 2`.
//!
//! Likes and boosts of one status, and follows, group within twelve hours (the group key is
//! decided when the notification is made). Policies decide, when a notification is made,
//! whether it shows, waits as a request, or is dropped.

use actix_web::HttpResponse;
use actix_web::web::{self, ServiceConfig};
use guildhall_storage::notification_policy::{self, Decision, Policy};
use guildhall_storage::notifications::{self, Group, KINDS};
use guildhall_storage::timelines::Page;
use guildhall_storage::{DbConnection, StorageResult, actors, markers, statuses};
use serde_json::{Value, json};

use super::auth::Auth;
use super::entities::{Ctx, account, status, time};
use super::params::Params;
use super::{ctx, page, parse_id};
use crate::{ApiError, AppState};

/// The kinds grouped when the app does not say (as Mastodon).
const DEFAULT_GROUPED: [&str; 3] = ["favourite", "reblog", "follow"];

pub fn configure(cfg: &mut ServiceConfig) {
    cfg.route("/api/v2/notifications", web::get().to(list))
        .route("/api/v2/notifications/unread_count", web::get().to(unread_count_v2))
        .route("/api/v2/notifications/policy", web::get().to(policy_v2))
        .route("/api/v2/notifications/policy", web::patch().to(update_policy_v2))
        .route("/api/v2/notifications/policy", web::put().to(update_policy_v2))
        .route("/api/v2/notifications/{group_key}", web::get().to(get_group))
        .route("/api/v2/notifications/{group_key}/accounts", web::get().to(group_accounts))
        .route("/api/v2/notifications/{group_key}/dismiss", web::post().to(dismiss_group))
        .route("/api/v1/notifications/unread_count", web::get().to(unread_count_v1))
        .route("/api/v1/notifications/policy", web::get().to(policy_v1))
        .route("/api/v1/notifications/policy", web::put().to(update_policy_v1))
        .route("/api/v1/notifications/policy", web::patch().to(update_policy_v1))
        .route("/api/v1/notifications/requests", web::get().to(requests))
        .route("/api/v1/notifications/requests/merged", web::get().to(merged))
        .route("/api/v1/notifications/requests/accept", web::post().to(accept_many))
        .route("/api/v1/notifications/requests/dismiss", web::post().to(dismiss_many))
        .route("/api/v1/notifications/requests/{id}", web::get().to(request))
        .route("/api/v1/notifications/requests/{id}/accept", web::post().to(accept))
        .route("/api/v1/notifications/requests/{id}/dismiss", web::post().to(dismiss));
}

/// The kinds asked for: `types[]` (else every kind) minus `exclude_types[]`, known ones only.
fn kinds(params: &Params) -> Vec<String> {
    let exclude = params.all("exclude_types");
    let mut types: Vec<String> = params.all("types");
    if types.is_empty() {
        types = KINDS.iter().map(|k| (*k).to_owned()).collect();
    }
    types.retain(|t| !exclude.contains(t) && KINDS.contains(&t.as_str()));
    types
}

fn grouped(params: &Params) -> Vec<String> {
    match params.has("grouped_types") {
        true => params.all("grouped_types"),
        false => DEFAULT_GROUPED.iter().map(|k| (*k).to_owned()).collect(),
    }
}

/// A `NotificationGroup`.
fn group_entity(g: &Group) -> Value {
    json!({
        "group_key": g.key,
        "notifications_count": g.count,
        "type": g.latest.kind,
        // A number, as Mastodon sends it (Ice Cubes decodes it as one).
        "most_recent_notification_id": g.latest.id,
        "page_min_id": g.page_min_id.to_string(),
        "page_max_id": g.latest.id.to_string(),
        "latest_page_notification_at": time(g.latest.created_at),
        "sample_account_ids": g.sample_account_ids.iter().map(i64::to_string).collect::<Vec<_>>(),
        "status_id": g.latest.status_id.map(|s| s.to_string()),
    })
}

/// The grouped answer: the groups, with every account and status they name listed once.
fn grouped_response(c: &mut DbConnection, ctx: &Ctx, groups: &[Group], viewer: i64) -> StorageResult<Value> {
    let active = guildhall_storage::filters::active(c, viewer, "notifications")?;
    let (mut accounts, mut statuses_out, mut entries) = (Vec::new(), Vec::new(), Vec::new());
    let (mut seen_accounts, mut seen_statuses) = (Vec::new(), Vec::new());
    for g in groups {
        let mut rendered_status = None;
        if let Some(id) = g.latest.status_id {
            let s = statuses::get(c, id)?;
            let filtered = match active.is_empty() {
                true => None,
                // A `hide` filter keeps the group out; `warn` marks the status.
                false => match super::filters::results(c, &active, &s)? {
                    None => continue,
                    Some(found) => Some(found),
                },
            };
            if !seen_statuses.contains(&id) {
                let mut rendered = status(c, ctx, &s, Some(viewer))?;
                if let Some(found) = filtered {
                    rendered["filtered"] = json!(found);
                }
                rendered_status = Some(rendered);
                seen_statuses.push(id);
            }
        }
        for id in &g.sample_account_ids {
            if !seen_accounts.contains(id) {
                let actor = actors::get(c, *id)?;
                accounts.push(serde_json::to_value(account(c, ctx, &actor, false)?).unwrap_or_default());
                seen_accounts.push(*id);
            }
        }
        statuses_out.extend(rendered_status);
        entries.push(group_entity(g));
    }
    Ok(json!({ "accounts": accounts, "statuses": statuses_out, "notification_groups": entries }))
}

async fn list(auth: Auth, params: Params, state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let viewer = auth.user("read:notifications")?.actor.id;
    let page = page(&params, 40, 80)?;
    let (kinds, grouped) = (kinds(&params), grouped(&params));
    let ctx = ctx(&state);
    let (body, bounds) = state
        .db
        .run(move |c| {
            let groups = notifications::groups(c, viewer, &kinds, &grouped, &page)?;
            let bounds = (groups.first().map(|g| g.latest.id), groups.last().map(|g| g.page_min_id));
            Ok((grouped_response(c, &ctx, &groups, viewer)?, bounds))
        })
        .await?;
    let mut response = HttpResponse::Ok();
    if let (Some(newest), Some(oldest)) = bounds {
        let base = format!("{}/api/v2/notifications", state.urls.base());
        response.insert_header((
            "Link",
            format!("<{base}?max_id={oldest}>; rel=\"next\", <{base}?min_id={newest}>; rel=\"prev\""),
        ));
    }
    Ok(response.json(body))
}

async fn get_group(
    auth: Auth,
    key: web::Path<String>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let viewer = auth.user("read:notifications")?.actor.id;
    let ctx = ctx(&state);
    let body = state
        .db
        .run(move |c| {
            let group = notifications::group(c, viewer, &key)?;
            grouped_response(c, &ctx, &[group], viewer)
        })
        .await?;
    Ok(HttpResponse::Ok().json(body))
}

async fn group_accounts(
    auth: Auth,
    key: web::Path<String>,
    params: Params,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let viewer = auth.user("read:notifications")?.actor.id;
    let limit = params.number("limit")?.unwrap_or(40).clamp(1, 80);
    let ctx = ctx(&state);
    let body = state
        .db
        .run(move |c| {
            let ids = notifications::group_senders(c, viewer, &key, limit)?;
            if ids.is_empty() {
                return Err(guildhall_storage::StorageError::NotFound);
            }
            super::entities::accounts_by_id(c, &ctx, &ids)
        })
        .await?;
    Ok(HttpResponse::Ok().json(body))
}

async fn dismiss_group(
    auth: Auth,
    key: web::Path<String>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let viewer = auth.user("write:notifications")?.actor.id;
    state.db.run(move |c| notifications::dismiss_group(c, viewer, &key)).await?;
    Ok(HttpResponse::Ok().json(json!({})))
}

async fn unread_count(
    auth: Auth,
    params: Params,
    state: web::Data<AppState>,
    grouped: bool,
) -> Result<HttpResponse, ApiError> {
    let user = auth.user("read:notifications")?.clone();
    let limit = params.number("limit")?.unwrap_or(100).clamp(1, 1000);
    let kinds = kinds(&params);
    let grouped_kinds = grouped.then(|| self::grouped(&params));
    let (viewer, user_id) = (user.actor.id, user.user.id);
    let count = state
        .db
        .run(move |c| {
            let read = markers::get(c, user_id, &["notifications".to_owned()])?;
            let after = read.first().map_or(0, |m| m.last_read_id);
            notifications::unread_count(c, viewer, &kinds, grouped_kinds.as_deref(), after, limit)
        })
        .await?;
    Ok(HttpResponse::Ok().json(json!({ "count": count })))
}

async fn unread_count_v1(
    auth: Auth,
    params: Params,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    unread_count(auth, params, state, false).await
}

async fn unread_count_v2(
    auth: Auth,
    params: Params,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    unread_count(auth, params, state, true).await
}

async fn summary(state: &AppState, viewer: i64) -> Result<Value, ApiError> {
    let (requests, notifications) = state.db.run(move |c| notification_policy::summary(c, viewer)).await?;
    Ok(json!({ "pending_requests_count": requests, "pending_notifications_count": notifications }))
}

async fn load_policy(auth: &Auth, scope: &str, state: &AppState) -> Result<(i64, Policy), ApiError> {
    let viewer = auth.user(scope)?.actor.id;
    let policy = state.db.run(move |c| notification_policy::get(c, viewer)).await?;
    Ok((viewer, policy))
}

fn v2_entity(policy: &Policy, summary: Value) -> Value {
    json!({
        "for_not_following": policy.for_not_following.as_str(),
        "for_not_followers": policy.for_not_followers.as_str(),
        "for_new_accounts": policy.for_new_accounts.as_str(),
        "for_private_mentions": policy.for_private_mentions.as_str(),
        "for_limited_accounts": policy.for_limited_accounts.as_str(),
        "summary": summary,
    })
}

fn v1_entity(policy: &Policy, summary: Value) -> Value {
    let filters = |d: Decision| d != Decision::Accept;
    json!({
        "filter_not_following": filters(policy.for_not_following),
        "filter_not_followers": filters(policy.for_not_followers),
        "filter_new_accounts": filters(policy.for_new_accounts),
        "filter_private_mentions": filters(policy.for_private_mentions),
        "summary": summary,
    })
}

async fn policy_v2(auth: Auth, state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let (viewer, policy) = load_policy(&auth, "read:notifications", &state).await?;
    Ok(HttpResponse::Ok().json(v2_entity(&policy, summary(&state, viewer).await?)))
}

async fn policy_v1(auth: Auth, state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let (viewer, policy) = load_policy(&auth, "read:notifications", &state).await?;
    Ok(HttpResponse::Ok().json(v1_entity(&policy, summary(&state, viewer).await?)))
}

async fn save(state: &AppState, viewer: i64, policy: Policy) -> Result<(), ApiError> {
    state.db.run(move |c| notification_policy::set(c, viewer, &policy)).await?;
    Ok(())
}

/// `PATCH` (or `PUT`, as masto.js and Ice Cubes send it) `/api/v2/notifications/policy`:
/// each `for_*` field is `accept`, `filter` or `drop`; absent ones stay.
async fn update_policy_v2(
    auth: Auth,
    params: Params,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let (viewer, mut policy) = load_policy(&auth, "write:notifications", &state).await?;
    let fields: [(&str, &mut Decision); 5] = [
        ("for_not_following", &mut policy.for_not_following),
        ("for_not_followers", &mut policy.for_not_followers),
        ("for_new_accounts", &mut policy.for_new_accounts),
        ("for_private_mentions", &mut policy.for_private_mentions),
        ("for_limited_accounts", &mut policy.for_limited_accounts),
    ];
    for (name, slot) in fields {
        if let Some(value) = params.get(name) {
            *slot = Decision::parse(value).ok_or_else(|| {
                ApiError::Unprocessable(format!("Validation failed: {name}: must be accept, filter or drop"))
            })?;
        }
    }
    save(&state, viewer, policy).await?;
    Ok(HttpResponse::Ok().json(v2_entity(&policy, summary(&state, viewer).await?)))
}

/// `PUT /api/v1/notifications/policy`: each `filter_*` boolean filters (true) or accepts.
async fn update_policy_v1(
    auth: Auth,
    params: Params,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let (viewer, mut policy) = load_policy(&auth, "write:notifications", &state).await?;
    let fields: [(&str, &mut Decision); 4] = [
        ("filter_not_following", &mut policy.for_not_following),
        ("filter_not_followers", &mut policy.for_not_followers),
        ("filter_new_accounts", &mut policy.for_new_accounts),
        ("filter_private_mentions", &mut policy.for_private_mentions),
    ];
    for (name, slot) in fields {
        if let Some(filter) = params.flag(name) {
            *slot = if filter { Decision::Filter } else { Decision::Accept };
        }
    }
    save(&state, viewer, policy).await?;
    Ok(HttpResponse::Ok().json(v1_entity(&policy, summary(&state, viewer).await?)))
}

/// A `NotificationRequest` (its id is the sender's account id).
fn request_entity(
    c: &mut DbConnection,
    ctx: &Ctx,
    r: &notification_policy::Request,
    viewer: i64,
) -> StorageResult<Value> {
    let sender = actors::get(c, r.from_actor_id)?;
    let last_status = match r.last_status_id {
        Some(id) => {
            let s = statuses::get(c, id)?;
            Some(status(c, ctx, &s, Some(viewer))?)
        }
        None => None,
    };
    Ok(json!({
        "id": r.from_actor_id.to_string(),
        "created_at": time(r.created_at),
        "updated_at": time(r.updated_at),
        "account": account(c, ctx, &sender, false)?,
        "notifications_count": r.notifications_count.to_string(),
        "last_status": last_status,
    }))
}

async fn requests(auth: Auth, params: Params, state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let viewer = auth.user("read:notifications")?.actor.id;
    let page: Page = page(&params, 40, 80)?;
    let ctx = ctx(&state);
    let (items, last) = state
        .db
        .run(move |c| {
            let found = notification_policy::requests(c, viewer, page.max_id, None, page.limit)?;
            let last = found.last().map(|r| r.last_notification_id);
            let items = found
                .iter()
                .map(|r| request_entity(c, &ctx, r, viewer))
                .collect::<StorageResult<Vec<_>>>()?;
            Ok((items, last))
        })
        .await?;
    let mut response = HttpResponse::Ok();
    if let Some(last) = last {
        let next = format!("{}/api/v1/notifications/requests?max_id={last}", state.urls.base());
        response.insert_header(("Link", format!("<{next}>; rel=\"next\"")));
    }
    Ok(response.json(items))
}

async fn request(
    auth: Auth,
    id: web::Path<String>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let viewer = auth.user("read:notifications")?.actor.id;
    let sender = parse_id(&id)?;
    let ctx = ctx(&state);
    let item = state
        .db
        .run(move |c| {
            let found = notification_policy::requests(c, viewer, None, Some(sender), 1)?;
            let found = found.first().ok_or(guildhall_storage::StorageError::NotFound)?;
            request_entity(c, &ctx, found, viewer)
        })
        .await?;
    Ok(HttpResponse::Ok().json(item))
}

async fn answer(
    auth: Auth,
    ids: Vec<String>,
    state: &AppState,
    accept: bool,
) -> Result<HttpResponse, ApiError> {
    let viewer = auth.user("write:notifications")?.actor.id;
    let ids: Vec<i64> = ids.iter().map(|i| parse_id(i)).collect::<Result<_, _>>()?;
    let single = ids.len() == 1;
    let any = state
        .db
        .run(move |c| {
            let mut any = false;
            for sender in ids {
                any |= match accept {
                    true => notification_policy::accept(c, viewer, sender)?,
                    false => notification_policy::dismiss(c, viewer, sender)?,
                };
            }
            Ok(any)
        })
        .await?;
    if single && !any {
        return Err(ApiError::NotFound("Record not found".into()));
    }
    Ok(HttpResponse::Ok().json(json!({})))
}

async fn accept(
    auth: Auth,
    id: web::Path<String>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    answer(auth, vec![id.into_inner()], &state, true).await
}

async fn dismiss(
    auth: Auth,
    id: web::Path<String>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    answer(auth, vec![id.into_inner()], &state, false).await
}

/// Most requests answered in one call.
const MAX_BATCH: usize = 100;

fn batch(params: &Params) -> Result<Vec<String>, ApiError> {
    let ids = params.all("id");
    if ids.is_empty() || ids.len() > MAX_BATCH {
        return Err(ApiError::Unprocessable(format!(
            "Validation failed: id: give from 1 to {MAX_BATCH} ids"
        )));
    }
    Ok(ids)
}

async fn accept_many(
    auth: Auth,
    params: Params,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    auth.user("write:notifications")?;
    answer(auth, batch(&params)?, &state, true).await
}

async fn dismiss_many(
    auth: Auth,
    params: Params,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    auth.user("write:notifications")?;
    answer(auth, batch(&params)?, &state, false).await
}

/// Requests are answered at once, never merged later: always merged.
async fn merged(auth: Auth) -> Result<HttpResponse, ApiError> {
    auth.user("read:notifications")?;
    Ok(HttpResponse::Ok().json(json!({ "merged": true })))
}
