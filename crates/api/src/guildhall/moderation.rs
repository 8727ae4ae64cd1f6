//! Running a group: members and join requests, invitations, bans, moderators, removals and the
//! moderation log. Everything here but the list of moderators is for the group's moderators;
//! the changes themselves (checks, log, federation) are `guildhall_federation::moderation`'s.

use actix_web::HttpResponse;
use actix_web::web;
use guildhall_core::model::FollowState;
use guildhall_federation::FedData;
use guildhall_federation::moderation as fm;
use guildhall_storage::actors::Actor;
use guildhall_storage::{follows, groups};
use serde_json::json;

use super::{READ, WRITE, entities, limit_offset, load_account, load_group, named_account, with_ctx};
use crate::mastodon::auth::Auth;
use crate::mastodon::params::Params;
use crate::mastodon::parse_id;
use crate::{ApiError, AppState};

/// Longest reason for a ban or removal.
const MAX_REASON: usize = 1000;

/// The calling person and the group, once the token has `scope` and the caller moderates
/// the group (403 otherwise).
async fn as_moderator(
    auth: &Auth,
    scope: &str,
    id: &str,
    state: &AppState,
    fed: &FedData,
) -> Result<(Actor, Actor), ApiError> {
    let user = auth.user(scope)?;
    let (group, _) = load_group(state, id).await?;
    fm::check_moderator(fed, &group, &user.actor).await?;
    Ok((user.actor.clone(), group))
}

/// Answers with how `actor_id` now stands with the group (a `Membership`).
async fn membership(state: &AppState, group_id: i64, actor_id: i64) -> Result<HttpResponse, ApiError> {
    let body = state.db.run(move |c| entities::membership(c, group_id, actor_id)).await?;
    Ok(HttpResponse::Ok().json(body))
}

fn reason(params: &Params) -> Result<String, ApiError> {
    let reason = params.get("reason").unwrap_or("").trim().to_owned();
    if reason.chars().count() > MAX_REASON {
        return Err(ApiError::Unprocessable(format!(
            "Validation failed: reason is longer than {MAX_REASON} characters"
        )));
    }
    Ok(reason)
}

/// A page (`offset`, `limit`) of the group's followers in `state`, as accounts.
async fn followers(
    state: &AppState,
    group_id: i64,
    follow_state: FollowState,
    params: &Params,
) -> Result<HttpResponse, ApiError> {
    let (limit, offset) = limit_offset(params, 40, 80)?;
    let (skip, take) = (usize::try_from(offset).unwrap_or(0), usize::try_from(limit).unwrap_or(0));
    let body = with_ctx(state, move |c, ctx| {
        let ids: Vec<i64> =
            follows::followers(c, group_id, follow_state)?.into_iter().skip(skip).take(take).collect();
        entities::accounts_by_id(c, ctx, &ids)
    })
    .await?;
    Ok(HttpResponse::Ok().json(body))
}

/// `GET .../{id}/members`: accepted members, longest-standing first.
pub async fn members(
    auth: Auth,
    id: web::Path<String>,
    params: Params,
    state: web::Data<AppState>,
    fed: FedData,
) -> Result<HttpResponse, ApiError> {
    let (_, group) = as_moderator(&auth, READ, &id, &state, &fed).await?;
    followers(&state, group.id, FollowState::Accepted, &params).await
}

/// `GET .../{id}/requests`: pending join requests, oldest first.
pub async fn requests(
    auth: Auth,
    id: web::Path<String>,
    params: Params,
    state: web::Data<AppState>,
    fed: FedData,
) -> Result<HttpResponse, ApiError> {
    let (_, group) = as_moderator(&auth, READ, &id, &state, &fed).await?;
    followers(&state, group.id, FollowState::Pending, &params).await
}

async fn answer(
    auth: Auth,
    path: &(String, String),
    state: &AppState,
    fed: &FedData,
    accept: bool,
) -> Result<HttpResponse, ApiError> {
    let (moderator, group) = as_moderator(&auth, WRITE, &path.0, state, fed).await?;
    let applicant = load_account(state, &path.1).await?;
    let (g, a) = (group.id, applicant.id);
    let request = state.db.run(move |c| follows::find(c, a, g)).await?;
    let pending = request.is_some_and(|f| f.state == FollowState::Pending.as_str());
    if !pending {
        return Err(ApiError::NotFound("No pending request from this account".into()));
    }
    fm::answer_request(fed, &moderator, &group, &applicant, accept).await?;
    membership(state, g, a).await
}

/// `POST .../{id}/requests/{account_id}/approve`.
pub async fn approve(
    auth: Auth,
    path: web::Path<(String, String)>,
    state: web::Data<AppState>,
    fed: FedData,
) -> Result<HttpResponse, ApiError> {
    answer(auth, &path, &state, &fed, true).await
}

/// `POST .../{id}/requests/{account_id}/reject`.
pub async fn reject(
    auth: Auth,
    path: web::Path<(String, String)>,
    state: web::Data<AppState>,
    fed: FedData,
) -> Result<HttpResponse, ApiError> {
    answer(auth, &path, &state, &fed, false).await
}

/// `GET .../{id}/invitations`: invited accounts, newest first.
pub async fn invitations(
    auth: Auth,
    id: web::Path<String>,
    state: web::Data<AppState>,
    fed: FedData,
) -> Result<HttpResponse, ApiError> {
    let (_, group) = as_moderator(&auth, READ, &id, &state, &fed).await?;
    let body = with_ctx(&state, move |c, ctx| {
        let invited = groups::invitations(c, group.id)?;
        entities::accounts(c, ctx, &invited)
    })
    .await?;
    Ok(HttpResponse::Ok().json(body))
}

/// `POST .../{id}/invitations` (`account_id` or `acct`): a pending request is approved at once.
pub async fn invite(
    auth: Auth,
    id: web::Path<String>,
    params: Params,
    state: web::Data<AppState>,
    fed: FedData,
) -> Result<HttpResponse, ApiError> {
    let (moderator, group) = as_moderator(&auth, WRITE, &id, &state, &fed).await?;
    let invitee = named_account(&params, &state, &fed).await?;
    fm::invite(&fed, &moderator, &group, &invitee).await?;
    membership(&state, group.id, invitee.id).await
}

/// `DELETE .../{id}/invitations/{account_id}`.
pub async fn revoke_invitation(
    auth: Auth,
    path: web::Path<(String, String)>,
    state: web::Data<AppState>,
    fed: FedData,
) -> Result<HttpResponse, ApiError> {
    let (moderator, group) = as_moderator(&auth, WRITE, &path.0, &state, &fed).await?;
    let invitee = load_account(&state, &path.1).await?;
    fm::revoke_invitation(&fed, &moderator, &group, &invitee).await?;
    membership(&state, group.id, invitee.id).await
}

/// `GET .../{id}/bans`: banned accounts with reasons, newest first.
pub async fn bans(
    auth: Auth,
    id: web::Path<String>,
    state: web::Data<AppState>,
    fed: FedData,
) -> Result<HttpResponse, ApiError> {
    let (_, group) = as_moderator(&auth, READ, &id, &state, &fed).await?;
    let body = with_ctx(&state, move |c, ctx| {
        let banned = groups::bans(c, group.id)?;
        banned
            .iter()
            .map(|(actor, reason, at)| entities::ban(c, ctx, actor, reason, *at))
            .collect::<Result<Vec<_>, _>>()
    })
    .await?;
    Ok(HttpResponse::Ok().json(body))
}

/// `POST .../{id}/bans` (`account_id` or `acct`, `reason`).
pub async fn ban(
    auth: Auth,
    id: web::Path<String>,
    params: Params,
    state: web::Data<AppState>,
    fed: FedData,
) -> Result<HttpResponse, ApiError> {
    let (moderator, group) = as_moderator(&auth, WRITE, &id, &state, &fed).await?;
    let reason = reason(&params)?;
    let target = named_account(&params, &state, &fed).await?;
    fm::ban(&fed, &moderator, &group, &target, &reason).await?;
    membership(&state, group.id, target.id).await
}

/// `DELETE .../{id}/bans/{account_id}`.
pub async fn unban(
    auth: Auth,
    path: web::Path<(String, String)>,
    state: web::Data<AppState>,
    fed: FedData,
) -> Result<HttpResponse, ApiError> {
    let (moderator, group) = as_moderator(&auth, WRITE, &path.0, &state, &fed).await?;
    let target = load_account(&state, &path.1).await?;
    fm::unban(&fed, &moderator, &group, &target).await?;
    membership(&state, group.id, target.id).await
}

/// `GET .../{id}/moderators`: public, in the order they were appointed (the owner first).
pub async fn moderators(id: web::Path<String>, state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let (group, _) = load_group(&state, &id).await?;
    let body = with_ctx(&state, move |c, ctx| {
        let list = groups::moderators(c, group.id)?;
        entities::accounts(c, ctx, &list)
    })
    .await?;
    Ok(HttpResponse::Ok().json(body))
}

/// `POST .../{id}/moderators` (`account_id` or `acct`).
pub async fn appoint(
    auth: Auth,
    id: web::Path<String>,
    params: Params,
    state: web::Data<AppState>,
    fed: FedData,
) -> Result<HttpResponse, ApiError> {
    let (moderator, group) = as_moderator(&auth, WRITE, &id, &state, &fed).await?;
    let target = named_account(&params, &state, &fed).await?;
    fm::appoint(&fed, &moderator, &group, &target).await?;
    membership(&state, group.id, target.id).await
}

/// `DELETE .../{id}/moderators/{account_id}` (never the owner).
pub async fn dismiss(
    auth: Auth,
    path: web::Path<(String, String)>,
    state: web::Data<AppState>,
    fed: FedData,
) -> Result<HttpResponse, ApiError> {
    let (moderator, group) = as_moderator(&auth, WRITE, &path.0, &state, &fed).await?;
    let target = load_account(&state, &path.1).await?;
    fm::dismiss(&fed, &moderator, &group, &target).await?;
    membership(&state, group.id, target.id).await
}

/// `POST .../{id}/statuses/{status_id}/remove` (`reason`): takes a post out of the group.
pub async fn remove_status(
    auth: Auth,
    path: web::Path<(String, String)>,
    params: Params,
    state: web::Data<AppState>,
    fed: FedData,
) -> Result<HttpResponse, ApiError> {
    let (moderator, group) = as_moderator(&auth, WRITE, &path.0, &state, &fed).await?;
    let status_id = parse_id(&path.1)?;
    let reason = reason(&params)?;
    fm::remove_status(&fed, &moderator, &group, status_id, &reason).await?;
    Ok(HttpResponse::Ok().json(json!({})))
}

/// `GET .../{id}/log` (`max_id`, `limit`): the moderation log, newest first; `Link` names the
/// next (older) page when this one is full.
pub async fn log(
    auth: Auth,
    id: web::Path<String>,
    params: Params,
    state: web::Data<AppState>,
    fed: FedData,
) -> Result<HttpResponse, ApiError> {
    let (_, group) = as_moderator(&auth, READ, &id, &state, &fed).await?;
    let (limit, _) = limit_offset(&params, 20, 80)?;
    let max_id = params.number("max_id")?;
    let (items, oldest) = with_ctx(&state, move |c, ctx| {
        let entries = groups::log_entries(c, group.id, max_id, limit)?;
        let full = i64::try_from(entries.len()).is_ok_and(|n| n == limit);
        let oldest = entries.last().filter(|_| full).map(|e| e.id);
        let items = entries.iter().map(|e| entities::log_entry(c, ctx, e)).collect::<Result<Vec<_>, _>>()?;
        Ok((items, oldest))
    })
    .await?;
    let mut response = HttpResponse::Ok();
    if let Some(oldest) = oldest {
        let next = format!("{}/api/guildhall/v1/groups/{}/log?max_id={oldest}", state.urls.base(), group.id);
        response.insert_header(("Link", format!("<{next}>; rel=\"next\"")));
    }
    Ok(response.json(items))
}
