//! Groups themselves: create, find, read, edit.

use actix_web::HttpResponse;
use actix_web::web;
use guildhall_core::Username;
use guildhall_core::model::{GroupVisibility, Membership, PostingPolicy};
use guildhall_federation::moderation::{self, GroupUpdate};
use guildhall_federation::{FedData, LocalActorError, local_actors};
use guildhall_storage::actors::Actor;
use guildhall_storage::groups::{self, Group};

use super::{READ, WRITE, entities, invalid, limit_offset, load_group, viewer, with_ctx};
use crate::mastodon::auth::{Auth, MaybeAuth};
use crate::mastodon::params::Params;
use crate::{ApiError, AppState};

/// Longest display name.
const MAX_DISPLAY_NAME: usize = 100;
/// Longest description, as typed.
const MAX_DESCRIPTION: usize = 2000;
/// Most rules a group may have.
const MAX_RULES: usize = 20;
/// Longest rule.
const MAX_RULE: usize = 500;

/// A text-enum field, when sent; 422 naming the allowed values otherwise.
fn enum_field<T>(
    params: &Params,
    key: &str,
    parse: fn(&str) -> Option<T>,
    allowed: &str,
) -> Result<Option<T>, ApiError> {
    params
        .raw(key)
        .map(|v| parse(v).ok_or_else(|| invalid(format!("{key} must be one of {allowed}, not '{v}'"))))
        .transpose()
}

fn membership(params: &Params) -> Result<Option<Membership>, ApiError> {
    enum_field(params, "membership", Membership::parse, "open, approval, invite")
}

fn posting(params: &Params) -> Result<Option<PostingPolicy>, ApiError> {
    enum_field(params, "posting", PostingPolicy::parse, "members, moderators")
}

fn visibility(params: &Params) -> Result<Option<GroupVisibility>, ApiError> {
    enum_field(params, "visibility", GroupVisibility::parse, "public, members")
}

/// A text field, when sent (empty included), no longer than `max` characters.
fn text_field(params: &Params, key: &str, max: usize) -> Result<Option<String>, ApiError> {
    match params.raw(key) {
        Some(v) if v.chars().count() > max => Err(invalid(format!("{key} is longer than {max} characters"))),
        other => Ok(other.map(|v| v.trim().to_owned())),
    }
}

/// The rules, when sent (blank entries dropped, so `rules[]=` or `[]` clears them).
fn rules_field(params: &Params) -> Result<Option<Vec<String>>, ApiError> {
    if !params.has("rules") {
        return Ok(None);
    }
    let rules: Vec<String> =
        params.all("rules").iter().map(|r| r.trim().to_owned()).filter(|r| !r.is_empty()).collect();
    if rules.len() > MAX_RULES {
        return Err(invalid(format!("a group has at most {MAX_RULES} rules")));
    }
    if let Some(n) = rules.iter().position(|r| r.chars().count() > MAX_RULE) {
        return Err(invalid(format!("rule {} is longer than {MAX_RULE} characters", n + 1)));
    }
    Ok(Some(rules))
}

/// An image URL, when sent: http or https only.
fn url_field(params: &Params, key: &str) -> Result<Option<String>, ApiError> {
    params
        .get(key)
        .map(|v| match url::Url::parse(v) {
            Ok(u) if matches!(u.scheme(), "http" | "https") => Ok(u.to_string()),
            _ => Err(invalid(format!("{key} must be an http or https URL"))),
        })
        .transpose()
}

/// Renders a group for `viewer`.
async fn render(
    state: &AppState,
    actor: Actor,
    settings: Group,
    viewer: Option<i64>,
) -> Result<HttpResponse, ApiError> {
    let body = with_ctx(state, move |c, ctx| entities::group(c, ctx, &actor, &settings, viewer)).await?;
    Ok(HttpResponse::Ok().json(body))
}

fn creation_error(e: LocalActorError) -> ApiError {
    match e {
        LocalActorError::Storage(s) => s.into(),
        LocalActorError::Keys(k) => ApiError::Internal(k.to_string()),
        LocalActorError::Username(u) => invalid(format!("name is not valid: {u}")),
        other => invalid(other),
    }
}

/// `POST /api/guildhall/v1/groups`: a new group owned (and moderated) by the caller.
pub async fn create(
    auth: Auth,
    params: Params,
    state: web::Data<AppState>,
    fed: FedData,
) -> Result<HttpResponse, ApiError> {
    let user = auth.user(WRITE)?.clone();
    let name = params.get("name").ok_or_else(|| invalid("name is required"))?.trim().to_owned();
    Username::parse(&name).map_err(|e| invalid(format!("name is not valid: {e}")))?;
    let display_name = text_field(&params, "display_name", MAX_DISPLAY_NAME)?.filter(|d| !d.is_empty());
    let description = text_field(&params, "description", MAX_DESCRIPTION)?.filter(|d| !d.is_empty());
    let rules = rules_field(&params)?.filter(|r| !r.is_empty());
    let new = local_actors::NewGroup {
        name: &name,
        owner: &user.actor.username,
        display_name: display_name.as_deref(),
        membership: membership(&params)?.unwrap_or(Membership::Open),
        posting: posting(&params)?.unwrap_or(PostingPolicy::Members),
        visibility: visibility(&params)?.unwrap_or(GroupVisibility::Public),
    };
    let (actor, settings) =
        local_actors::create_group(&state.db, &state.urls, new).await.map_err(creation_error)?;
    let (actor, settings) = if description.is_some() || rules.is_some() {
        let update = GroupUpdate { description, rules, ..GroupUpdate::default() };
        moderation::update_group(&fed, &user.actor, &actor, update).await?
    } else {
        (actor, settings)
    };
    let viewer = auth.scope(READ).is_ok().then_some(user.actor.id);
    render(&state, actor, settings, viewer).await
}

/// `GET /api/guildhall/v1/groups`: the local group directory, newest first, `q` matching
/// part of the name or display name.
pub async fn list(
    auth: MaybeAuth,
    params: Params,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let (limit, offset) = limit_offset(&params, 20, 80)?;
    let q = params.get("q").unwrap_or("").trim().to_owned();
    let viewer = viewer(&auth);
    let body = with_ctx(&state, move |c, ctx| {
        let found = groups::directory(c, &q, None, offset, limit)?;
        found
            .iter()
            .map(|(actor, settings)| entities::group(c, ctx, actor, settings, viewer))
            .collect::<Result<Vec<_>, _>>()
    })
    .await?;
    Ok(HttpResponse::Ok().json(body))
}

/// `GET /api/guildhall/v1/groups/{id}`.
pub async fn get(
    auth: MaybeAuth,
    id: web::Path<String>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let (actor, settings) = load_group(&state, &id).await?;
    render(&state, actor, settings, viewer(&auth)).await
}

/// `PATCH /api/guildhall/v1/groups/{id}`: moderators edit the group; fields not sent stay.
pub async fn update(
    auth: Auth,
    id: web::Path<String>,
    params: Params,
    state: web::Data<AppState>,
    fed: FedData,
) -> Result<HttpResponse, ApiError> {
    let user = auth.user(WRITE)?.clone();
    let (actor, settings) = load_group(&state, &id).await?;
    moderation::check_moderator(&fed, &actor, &user.actor).await?;
    let update = GroupUpdate {
        display_name: text_field(&params, "display_name", MAX_DISPLAY_NAME)?,
        description: text_field(&params, "description", MAX_DESCRIPTION)?,
        rules: rules_field(&params)?,
        membership: membership(&params)?,
        posting: posting(&params)?,
        visibility: visibility(&params)?,
        avatar_url: url_field(&params, "avatar_url")?,
        header_url: url_field(&params, "header_url")?,
    };
    let unchanged = update.display_name.is_none()
        && update.description.is_none()
        && update.rules.is_none()
        && update.membership.is_none()
        && update.posting.is_none()
        && update.visibility.is_none()
        && update.avatar_url.is_none()
        && update.header_url.is_none();
    let (actor, settings) = match unchanged {
        true => (actor, settings),
        false => moderation::update_group(&fed, &user.actor, &actor, update).await?,
    };
    let viewer = auth.scope(READ).is_ok().then_some(user.actor.id);
    render(&state, actor, settings, viewer).await
}
