//! Polls: `GET /api/v1/polls/:id` (the poll's id is its status's) and
//! `POST /api/v1/polls/:id/votes` with `choices[]`.

use actix_web::HttpResponse;
use actix_web::web::{self, ServiceConfig};
use guildhall_federation::FedData;
use guildhall_storage::polls;

use super::auth::{Auth, MaybeAuth};
use super::params::Params;
use crate::{ApiError, AppState};

pub fn configure(cfg: &mut ServiceConfig) {
    cfg.route("/api/v1/polls/{id}", web::get().to(get))
        .route("/api/v1/polls/{id}/votes", web::post().to(vote));
}

fn no_poll() -> ApiError {
    ApiError::NotFound("Record not found".into())
}

async fn get(
    id: web::Path<String>,
    auth: MaybeAuth,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let viewer = auth.viewer("read:statuses");
    let status = super::statuses::visible(&state, &id, viewer).await?;
    let rendered = state
        .db
        .run(move |c| match polls::find(c, status.id)? {
            Some(poll) => Ok(Some(super::entities::poll(c, &poll, viewer)?)),
            None => Ok(None),
        })
        .await?
        .ok_or_else(no_poll)?;
    Ok(HttpResponse::Ok().json(rendered))
}

async fn vote(
    id: web::Path<String>,
    auth: Auth,
    params: Params,
    state: web::Data<AppState>,
    fed: FedData,
) -> Result<HttpResponse, ApiError> {
    let user = auth.user("write:statuses")?.clone();
    let status = super::statuses::visible(&state, &id, Some(user.actor.id)).await?;
    let raw = params.all("choices");
    if raw.is_empty() {
        return Err(ApiError::Unprocessable("Validation failed: choices: is missing".into()));
    }
    if raw.len() > polls::MAX_REMOTE_OPTIONS {
        return Err(ApiError::Unprocessable(format!(
            "Validation failed: choices: at most {} choices",
            polls::MAX_REMOTE_OPTIONS
        )));
    }
    let mut choices = Vec::new();
    for choice in &raw {
        let n = choice.parse::<i32>().map_err(|_| {
            ApiError::Unprocessable(format!("Validation failed: choices: {choice} is not a number"))
        })?;
        if !choices.contains(&n) {
            choices.push(n);
        }
    }
    let status_id = status.id;
    if state.db.run(move |c| polls::find(c, status_id)).await?.is_none() {
        return Err(no_poll());
    }
    let poll = guildhall_federation::polls::vote(&fed, &user.actor, status_id, choices).await?;
    let viewer = user.actor.id;
    let rendered = state.db.run(move |c| super::entities::poll(c, &poll, Some(viewer))).await?;
    Ok(HttpResponse::Ok().json(rendered))
}
