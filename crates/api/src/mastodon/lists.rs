//! Lists: CRUD, members, and each list's timeline.

use actix_web::HttpResponse;
use actix_web::web::{self, ServiceConfig};
use guildhall_core::model::FollowState;
use guildhall_storage::lists::{self, List, REPLIES_POLICIES};
use guildhall_storage::{follows, timelines};
use serde_json::{Value, json};

use super::auth::Auth;
use super::entities::accounts_by_id;
use super::params::Params;
use super::{ctx, page, paged_response, parse_id};
use crate::{ApiError, AppState};

pub fn configure(cfg: &mut ServiceConfig) {
    cfg.route("/api/v1/lists", web::get().to(index))
        .route("/api/v1/lists", web::post().to(create))
        .route("/api/v1/lists/{id}", web::get().to(show))
        .route("/api/v1/lists/{id}", web::put().to(update))
        .route("/api/v1/lists/{id}", web::delete().to(remove))
        .route("/api/v1/lists/{id}/accounts", web::get().to(members))
        .route("/api/v1/lists/{id}/accounts", web::post().to(add_members))
        .route("/api/v1/lists/{id}/accounts", web::delete().to(remove_members))
        .route("/api/v1/timelines/list/{id}", web::get().to(timeline))
        .route("/api/v1/accounts/{id}/lists", web::get().to(of_account));
}

/// Mastodon's `List` entity.
pub fn entity(list: &List) -> Value {
    json!({
        "id": list.id.to_string(), "title": list.title,
        "replies_policy": list.replies_policy, "exclusive": list.exclusive,
    })
}

fn title(params: &Params) -> Result<Option<String>, ApiError> {
    match params.raw("title") {
        Some(t) if t.trim().is_empty() => {
            Err(ApiError::Unprocessable("Validation failed: Title can't be blank".into()))
        }
        Some(t) if t.chars().count() > 200 => Err(ApiError::Unprocessable(
            "Validation failed: Title is too long (200 characters at most)".into(),
        )),
        other => Ok(other.map(|t| t.trim().to_owned())),
    }
}

fn replies_policy(params: &Params) -> Result<Option<String>, ApiError> {
    match params.get("replies_policy") {
        Some(p) if !REPLIES_POLICIES.contains(&p) => Err(ApiError::Unprocessable(format!(
            "Validation failed: replies_policy must be one of {}",
            REPLIES_POLICIES.join(", ")
        ))),
        other => Ok(other.map(str::to_owned)),
    }
}

async fn index(auth: Auth, state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let owner = auth.user("read:lists")?.actor.id;
    let all = state.db.run(move |c| lists::of_owner(c, owner)).await?;
    Ok(HttpResponse::Ok().json(all.iter().map(entity).collect::<Vec<_>>()))
}

async fn create(auth: Auth, params: Params, state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let owner = auth.user("write:lists")?.actor.id;
    let title = title(&params)?
        .ok_or_else(|| ApiError::Unprocessable("Validation failed: Title can't be blank".into()))?;
    let policy = replies_policy(&params)?.unwrap_or_else(|| "list".into());
    let exclusive = params.flag("exclusive").unwrap_or(false);
    let list = state.db.run(move |c| lists::create(c, owner, &title, &policy, exclusive)).await?;
    Ok(HttpResponse::Ok().json(entity(&list)))
}

async fn owned(auth: &Auth, scope: &str, state: &AppState, id: &str) -> Result<List, ApiError> {
    let owner = auth.user(scope)?.actor.id;
    let id = parse_id(id)?;
    Ok(state.db.run(move |c| lists::get(c, owner, id)).await?)
}

async fn show(
    id: web::Path<String>,
    auth: Auth,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let list = owned(&auth, "read:lists", &state, &id).await?;
    Ok(HttpResponse::Ok().json(entity(&list)))
}

async fn update(
    id: web::Path<String>,
    auth: Auth,
    params: Params,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let mut list = owned(&auth, "write:lists", &state, &id).await?;
    if let Some(title) = title(&params)? {
        list.title = title;
    }
    if let Some(policy) = replies_policy(&params)? {
        list.replies_policy = policy;
    }
    list.exclusive = params.flag("exclusive").unwrap_or(list.exclusive);
    let stored = list.clone();
    state.db.run(move |c| lists::update(c, &stored)).await?;
    Ok(HttpResponse::Ok().json(entity(&list)))
}

async fn remove(
    id: web::Path<String>,
    auth: Auth,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let list = owned(&auth, "write:lists", &state, &id).await?;
    state.db.run(move |c| lists::delete(c, list.owner_id, list.id)).await?;
    Ok(HttpResponse::Ok().json(json!({})))
}

async fn members(
    id: web::Path<String>,
    auth: Auth,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let list = owned(&auth, "read:lists", &state, &id).await?;
    let ctx = ctx(&state);
    let accounts = state
        .db
        .run(move |c| {
            let ids = lists::members(c, list.id)?;
            accounts_by_id(c, &ctx, &ids)
        })
        .await?;
    Ok(HttpResponse::Ok().json(accounts))
}

fn account_ids(params: &Params) -> Result<Vec<i64>, ApiError> {
    let ids = params.all("account_ids");
    if ids.is_empty() {
        return Err(ApiError::Unprocessable("Validation failed: account_ids can't be blank".into()));
    }
    ids.iter().map(|i| parse_id(i)).collect()
}

/// Adds accounts the owner follows (as Mastodon requires).
async fn add_members(
    id: web::Path<String>,
    auth: Auth,
    params: Params,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let list = owned(&auth, "write:lists", &state, &id).await?;
    let ids = account_ids(&params)?;
    state
        .db
        .run(move |c| {
            for &id in &ids {
                let followed =
                    follows::find(c, list.owner_id, id)?.is_some_and(|f| f.is(FollowState::Accepted));
                if !followed {
                    return Err(guildhall_storage::StorageError::Conflict(
                        "You must follow an account to add it to a list".into(),
                    ));
                }
            }
            lists::add_members(c, list.id, &ids)
        })
        .await?;
    Ok(HttpResponse::Ok().json(json!({})))
}

async fn remove_members(
    id: web::Path<String>,
    auth: Auth,
    params: Params,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let list = owned(&auth, "write:lists", &state, &id).await?;
    let ids = account_ids(&params)?;
    state.db.run(move |c| lists::remove_members(c, list.id, &ids)).await?;
    Ok(HttpResponse::Ok().json(json!({})))
}

async fn timeline(
    id: web::Path<String>,
    auth: Auth,
    params: Params,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let list = owned(&auth, "read:lists", &state, &id).await?;
    let page = page(&params, 20, 40)?;
    let ctx = ctx(&state);
    let viewer = list.owner_id;
    let path = format!("/api/v1/timelines/list/{}", list.id);
    let (items, ids) = state
        .db
        .run(move |c| {
            let rows = timelines::list(c, &list, &page)?;
            let ids = rows.iter().map(|s| s.id).collect::<Vec<_>>();
            Ok((super::timelines::render(c, &ctx, rows, Some(viewer), "home")?, ids))
        })
        .await?;
    Ok(paged_response(&path, &state, items, &ids))
}

async fn of_account(
    id: web::Path<String>,
    auth: Auth,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let owner = auth.user("read:lists")?.actor.id;
    let target = parse_id(&id)?;
    let found = state.db.run(move |c| lists::containing(c, owner, target)).await?;
    Ok(HttpResponse::Ok().json(found.iter().map(entity).collect::<Vec<_>>()))
}
