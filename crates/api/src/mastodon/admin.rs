//! Mastodon's admin API for local accounts, as far as approving sign-ups needs: list, show,
//! approve, reject. Only instance admins (role `admin`) may call it, with
//! `admin:read:accounts` or `admin:write:accounts` (granted by `admin:read`, `admin:write`);
//! anyone else gets 403. Approving or rejecting an account that is not pending is 403, as in
//! Mastodon. Rejecting deletes the pending account, so its name and address are free again.

use actix_web::HttpResponse;
use actix_web::web::{self, ServiceConfig};
use guildhall_core::model::Role;
use guildhall_storage::accounts::{self, AccountFilter, LocalAccount};
use guildhall_storage::{DbConnection, StorageResult};
use serde_json::{Value, json};

use super::auth::Auth;
use super::entities::{Ctx, account, time};
use super::params::Params;
use super::{ctx, parse_id};
use crate::{ApiError, AppState};

const READ: &str = "admin:read:accounts";
const WRITE: &str = "admin:write:accounts";

pub fn configure(cfg: &mut ServiceConfig) {
    cfg.route("/api/v1/admin/accounts", web::get().to(list))
        .route("/api/v1/admin/accounts/{id}", web::get().to(show))
        .route("/api/v1/admin/accounts/{id}/approve", web::post().to(approve))
        .route("/api/v1/admin/accounts/{id}/reject", web::post().to(reject));
}

/// 403 unless the caller is an admin with `scope`.
fn require_admin(auth: &Auth, scope: &str) -> Result<(), ApiError> {
    let user = auth.user(scope)?;
    match user.user.role() {
        Ok(Role::Admin) => Ok(()),
        _ => Err(ApiError::Forbidden("This action is not allowed".into())),
    }
}

/// Mastodon's Admin::Account entity of a local account.
fn admin_account(c: &mut DbConnection, ctx: &Ctx, a: &LocalAccount) -> StorageResult<Value> {
    let role = a.user.role()?;
    Ok(json!({
        "id": a.actor.id.to_string(), "username": a.actor.username, "domain": null,
        "created_at": time(a.user.created_at), "email": a.user.email, "ip": null, "ips": [],
        "locale": a.user.locale, "invite_request": a.user.sign_up_reason,
        "role": { "id": role.as_str(), "name": role.as_str(), "color": "", "permissions": "0",
                  "highlighted": role != Role::User },
        "confirmed": true, "approved": a.user.approved, "disabled": a.user.disabled,
        "suspended": false, "silenced": false, "sensitized": false,
        "account": account(c, ctx, &a.actor, false)?,
    }))
}

/// Which accounts `GET /api/v1/admin/accounts` lists: `status=` (v2 style) or the v1 flags.
fn filter(params: &Params) -> AccountFilter {
    let flag = |k: &str| params.flag(k) == Some(true);
    match params.get("status") {
        Some("pending") => AccountFilter::Pending,
        Some("active") => AccountFilter::Active,
        Some("disabled") => AccountFilter::Disabled,
        _ if flag("pending") => AccountFilter::Pending,
        _ if flag("active") => AccountFilter::Active,
        _ if flag("disabled") => AccountFilter::Disabled,
        _ => AccountFilter::All,
    }
}

/// `GET /api/v1/admin/accounts`: local accounts, newest first (remote ones are not listed).
async fn list(auth: Auth, params: Params, state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    require_admin(&auth, READ)?;
    if params.flag("remote") == Some(true) || params.get("origin") == Some("remote") {
        return Ok(HttpResponse::Ok().json(json!([])));
    }
    let (filter, limit) = (filter(&params), params.number("limit")?.unwrap_or(100).clamp(1, 200));
    let ctx = ctx(&state);
    let items = state
        .db
        .run(move |c| {
            let found = accounts::list(c, filter, limit)?;
            found.iter().map(|a| admin_account(c, &ctx, a)).collect::<StorageResult<Vec<_>>>()
        })
        .await?;
    Ok(HttpResponse::Ok().json(items))
}

async fn load(state: &AppState, id: &str) -> Result<LocalAccount, ApiError> {
    let actor_id = parse_id(id)?;
    state
        .db
        .run(move |c| accounts::find_by_actor_id(c, actor_id))
        .await?
        .ok_or_else(|| ApiError::NotFound("Record not found".into()))
}

async fn render(state: &AppState, account: LocalAccount) -> Result<HttpResponse, ApiError> {
    let ctx = ctx(state);
    let body = state.db.run(move |c| admin_account(c, &ctx, &account)).await?;
    Ok(HttpResponse::Ok().json(body))
}

/// `GET /api/v1/admin/accounts/{id}`.
async fn show(
    auth: Auth,
    id: web::Path<String>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    require_admin(&auth, READ)?;
    let account = load(&state, &id).await?;
    render(&state, account).await
}

/// `POST /api/v1/admin/accounts/{id}/approve`: the account may sign in from now on.
async fn approve(
    auth: Auth,
    id: web::Path<String>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    require_admin(&auth, WRITE)?;
    let account = load(&state, &id).await?;
    let user_id = account.user.id;
    if !state.db.run(move |c| accounts::approve(c, user_id)).await? {
        return Err(ApiError::Forbidden("The account is not pending approval".into()));
    }
    tracing::info!(username = %account.actor.username, "sign-up approved");
    render(&state, load(&state, &id).await?).await
}

/// `POST /api/v1/admin/accounts/{id}/reject`: deletes the pending account; answers it as it was.
async fn reject(
    auth: Auth,
    id: web::Path<String>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    require_admin(&auth, WRITE)?;
    let account = load(&state, &id).await?;
    let ctx = ctx(&state);
    let user_id = account.user.id;
    let body = state
        .db
        .run(move |c| {
            let body = admin_account(c, &ctx, &account)?;
            Ok(accounts::delete_pending(c, user_id)?.then_some(body))
        })
        .await?
        .ok_or_else(|| ApiError::Forbidden("The account is not pending approval".into()))?;
    tracing::info!(id = %id, "sign-up rejected");
    Ok(HttpResponse::Ok().json(body))
}
