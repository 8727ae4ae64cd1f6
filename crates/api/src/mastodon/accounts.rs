//! Accounts: the signed-in user, profiles, relationships, follows, blocks, search.

use actix_web::HttpResponse;
use actix_web::web::{self, ServiceConfig};
use guildhall_core::model::{ActorKind, FollowState, Visibility};
use guildhall_federation::FedData;
use guildhall_federation::actions::{self, ProfileUpdate};
use guildhall_storage::actors::{self, Actor};
use guildhall_storage::{account_notes, accounts, follows, timelines};
use serde_json::{Value, json};

use super::auth::{Auth, MaybeAuth};
use super::entities::{account, relationship, status};
use super::params::Params;
use super::{ctx, page, paged_response, parse_id};
use crate::{ApiError, AppState};

pub fn configure(cfg: &mut ServiceConfig) {
    cfg.route("/api/v1/accounts/verify_credentials", web::get().to(verify_credentials))
        .service(
            web::resource("/api/v1/accounts/update_credentials")
                .app_data(super::media::UPLOAD_BODY_LIMIT)
                .route(web::patch().to(update_credentials)),
        )
        .route("/api/v1/profile/avatar", web::delete().to(remove_image))
        .route("/api/v1/profile/header", web::delete().to(remove_image))
        .route("/api/v1/accounts/lookup", web::get().to(lookup))
        .route("/api/v1/accounts/relationships", web::get().to(relationships))
        .route("/api/v1/accounts/search", web::get().to(search_accounts))
        .route("/api/v1/accounts/familiar_followers", web::get().to(familiar_followers))
        .route("/api/v2/search", web::get().to(search))
        .route("/api/v1/follow_requests", web::get().to(follow_requests))
        .route("/api/v1/follow_requests/{id}/authorize", web::post().to(authorize_request))
        .route("/api/v1/follow_requests/{id}/reject", web::post().to(reject_request))
        .route("/api/v1/accounts/{id}", web::get().to(get))
        .route("/api/v1/accounts/{id}/statuses", web::get().to(account_statuses))
        .route("/api/v1/accounts/{id}/followers", web::get().to(followers))
        .route("/api/v1/accounts/{id}/following", web::get().to(following))
        .route("/api/v1/accounts/{id}/follow", web::post().to(follow))
        .route("/api/v1/accounts/{id}/unfollow", web::post().to(unfollow))
        .route("/api/v1/accounts/{id}/note", web::post().to(note))
        .route("/api/v1/accounts/{id}/block", web::post().to(block))
        .route("/api/v1/accounts/{id}/unblock", web::post().to(unblock));
}

/// Most profile fields (as Mastodon's default).
pub const MAX_PROFILE_FIELDS: usize = 4;
/// Longest profile field name or value.
const MAX_FIELD_CHARS: usize = 255;

async fn render(state: &AppState, actor: Actor, with_source: bool) -> Result<Value, ApiError> {
    let ctx = ctx(state);
    let rendered = state.db.run(move |c| account(c, &ctx, &actor, with_source)).await?;
    serde_json::to_value(rendered).map_err(|e| ApiError::Internal(e.to_string()))
}

async fn load(state: &AppState, id: &str) -> Result<Actor, ApiError> {
    let id = parse_id(id)?;
    let actor = state.db.run(move |c| actors::get(c, id)).await?;
    if actor.deleted_at.is_some() || actor.is(ActorKind::Application) {
        return Err(ApiError::NotFound("Record not found".into()));
    }
    Ok(actor)
}

async fn verify_credentials(auth: Auth, state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    if auth.scope("profile").is_err() {
        auth.scope("read:accounts")?;
    }
    let user = auth
        .user
        .as_ref()
        .ok_or_else(|| ApiError::Unprocessable("This method requires an authenticated user".into()))?;
    Ok(HttpResponse::Ok().json(render(&state, user.actor.clone(), true).await?))
}

async fn update_credentials(
    auth: Auth,
    params: Params,
    state: web::Data<AppState>,
    fed: FedData,
) -> Result<HttpResponse, ApiError> {
    let user = auth.user("write:accounts")?;
    let mut fields: Vec<(usize, String, String)> = Vec::new();
    for key in params.keys().filter(|k| k.starts_with("fields_attributes[")) {
        let Some(rest) = key.strip_prefix("fields_attributes[") else { continue };
        let Some((index, attr)) = rest.split_once("][") else { continue };
        let (Ok(index), Some(value)) = (index.parse::<usize>(), params.get(key)) else { continue };
        if attr == "name]" {
            let slot = fields.iter_mut().find(|f| f.0 == index);
            match slot {
                Some(f) => f.1 = value.to_owned(),
                None => fields.push((index, value.to_owned(), String::new())),
            }
        } else if attr == "value]" {
            match fields.iter_mut().find(|f| f.0 == index) {
                Some(f) => f.2 = value.to_owned(),
                None => fields.push((index, String::new(), value.to_owned())),
            }
        }
    }
    fields.sort_by_key(|f| f.0);
    if fields.iter().filter(|f| !f.1.is_empty()).count() > MAX_PROFILE_FIELDS {
        return Err(ApiError::Unprocessable(format!(
            "Validation failed: fields_attributes: at most {MAX_PROFILE_FIELDS} profile fields"
        )));
    }
    if fields.iter().any(|f| f.1.chars().count() > MAX_FIELD_CHARS || f.2.chars().count() > MAX_FIELD_CHARS) {
        return Err(ApiError::Unprocessable(format!(
            "Validation failed: fields_attributes: names and values are at most {MAX_FIELD_CHARS} characters"
        )));
    }
    let has_fields = !fields.is_empty();
    let (avatar_url, header_url) = super::media::profile_images(&state, user.actor.id, &params).await?;
    let update = ProfileUpdate {
        display_name: params.get("display_name").map(str::to_owned),
        note: params.get("note").map(str::to_owned),
        locked: params.flag("locked"),
        bot: params.flag("bot"),
        discoverable: params.flag("discoverable"),
        fields: has_fields
            .then(|| fields.into_iter().filter(|f| !f.1.is_empty()).map(|f| (f.1, f.2)).collect()),
        avatar_url,
        header_url,
        remove_avatar: false,
        remove_header: false,
    };
    let replaced: Vec<Option<String>> = vec![
        update.avatar_url.as_ref().and(user.actor.avatar_url.clone()),
        update.header_url.as_ref().and(user.actor.header_url.clone()),
    ];
    let defaults = posting_defaults(&state, user.actor.id, &params).await?;
    let updated = actions::update_profile(&fed, &user.actor, update).await?;
    if let Some(defaults) = defaults {
        let actor_id = user.actor.id;
        state.db.run(move |c| accounts::set_posting_defaults(c, actor_id, &defaults)).await?;
    }
    // The images replaced are ours to remove (other servers fetch the new ones from the Update).
    let prefix = format!("{}/media/", state.urls.base());
    let old_files: Vec<String> = replaced
        .into_iter()
        .flatten()
        .filter_map(|url| url.strip_prefix(&prefix).map(str::to_owned))
        .collect();
    if !old_files.is_empty() {
        crate::media::remove(state.config.media_dir.clone(), old_files).await;
    }
    Ok(HttpResponse::Ok().json(render(&state, updated, true).await?))
}

/// The `source[privacy]`, `source[sensitive]` and `source[language]` of a profile edit (form
/// names, or a JSON `source` object) over the current defaults; `None` when none was sent.
async fn posting_defaults(
    state: &AppState,
    actor_id: i64,
    params: &Params,
) -> Result<Option<accounts::PostingDefaults>, ApiError> {
    let keys = ["source[privacy]", "source[sensitive]", "source[language]"];
    if !keys.iter().any(|k| params.has(k)) {
        return Ok(None);
    }
    let mut defaults = state.db.run(move |c| accounts::posting_defaults(c, actor_id)).await?;
    if let Some(privacy) = params.get("source[privacy]") {
        // Direct is not a default (as in Mastodon): public, unlisted or private.
        defaults.visibility =
            Visibility::parse(privacy).filter(|v| *v != Visibility::Direct).ok_or_else(|| {
                ApiError::Unprocessable(format!(
                    "Validation failed: source[privacy]: must be public, unlisted or private, not {privacy}"
                ))
            })?;
    }
    if let Some(sensitive) = params.flag("source[sensitive]") {
        defaults.sensitive = sensitive;
    }
    if params.has("source[language]") {
        let language = params.get("source[language]").map(str::to_lowercase);
        if language
            .as_ref()
            .is_some_and(|l| l.len() > 16 || !l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-'))
        {
            return Err(ApiError::Unprocessable(
                "Validation failed: source[language]: is not a language tag".into(),
            ));
        }
        defaults.language = language;
    }
    Ok(Some(defaults))
}

/// `DELETE /api/v1/profile/avatar` and `/header`: back to the stand-in image; answers the
/// caller's account.
async fn remove_image(
    auth: Auth,
    request: actix_web::HttpRequest,
    state: web::Data<AppState>,
    fed: FedData,
) -> Result<HttpResponse, ApiError> {
    let user = auth.user("write:accounts")?.clone();
    let avatar = request.path().ends_with("/avatar");
    let old = if avatar { user.actor.avatar_url.clone() } else { user.actor.header_url.clone() };
    let update = ProfileUpdate { remove_avatar: avatar, remove_header: !avatar, ..ProfileUpdate::default() };
    let updated = actions::update_profile(&fed, &user.actor, update).await?;
    let prefix = format!("{}/media/", state.urls.base());
    if let Some(file) = old.and_then(|url| url.strip_prefix(&prefix).map(str::to_owned)) {
        crate::media::remove(state.config.media_dir.clone(), vec![file]).await;
    }
    Ok(HttpResponse::Ok().json(render(&state, updated, true).await?))
}

/// `POST /api/v1/accounts/:id/note`: the caller's private note on an account (`comment`; empty
/// removes it). Answers the relationship, which carries the note.
async fn note(
    auth: Auth,
    id: web::Path<String>,
    params: Params,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let viewer = auth.user("write:accounts")?.actor.id;
    let target = load(&state, &id).await?.id;
    let comment = params.raw("comment").unwrap_or("").trim().to_owned();
    if comment.chars().count() > account_notes::MAX_CHARS {
        return Err(ApiError::Unprocessable(format!(
            "Validation failed: comment: is too long (maximum is {} characters)",
            account_notes::MAX_CHARS
        )));
    }
    state.db.run(move |c| account_notes::set(c, viewer, target, &comment)).await?;
    relationship_response(&state, viewer, target).await
}

async fn get(id: web::Path<String>, state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let actor = load(&state, &id).await?;
    Ok(HttpResponse::Ok().json(render(&state, actor, false).await?))
}

async fn lookup(params: Params, state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let acct = params.required("acct")?.trim_start_matches('@').to_owned();
    let local = state.config.domain.to_string();
    let actor = state
        .db
        .run(move |c| match acct.split_once('@') {
            Some((name, domain)) if !domain.eq_ignore_ascii_case(&local) => {
                Ok(actors::find_remote(c, name, domain)?.into_iter().next())
            }
            Some((name, _)) => actors::find_local(c, name),
            None => actors::find_local(c, &acct),
        })
        .await?
        .filter(|a| !a.is(ActorKind::Application))
        .ok_or_else(|| ApiError::NotFound("Record not found".into()))?;
    Ok(HttpResponse::Ok().json(render(&state, actor, false).await?))
}

/// Most accounts one relationships request may ask about.
const MAX_RELATIONSHIP_IDS: usize = 80;

async fn relationships(
    auth: Auth,
    params: Params,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let viewer = auth.user("read:follows")?.actor.id;
    let ids = params.all("id");
    if ids.len() > MAX_RELATIONSHIP_IDS {
        return Err(ApiError::Unprocessable(format!(
            "Validation failed: id[] may name at most {MAX_RELATIONSHIP_IDS} accounts"
        )));
    }
    let ids: Vec<i64> = ids.iter().filter_map(|i| i.parse().ok()).collect();
    let rels = state
        .db
        .run(move |c| ids.into_iter().map(|t| relationship(c, viewer, t)).collect::<Result<Vec<_>, _>>())
        .await?;
    Ok(HttpResponse::Ok().json(rels))
}

async fn account_statuses(
    id: web::Path<String>,
    auth: MaybeAuth,
    params: Params,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let actor = load(&state, &id).await?;
    let viewer = auth.viewer("read:statuses");
    let page = page(&params, 20, 40)?;
    let (exclude_replies, exclude_reblogs) =
        (params.flag("exclude_replies").unwrap_or(false), params.flag("exclude_reblogs").unwrap_or(false));
    let (only_media, pinned, tagged) = (
        params.flag("only_media").unwrap_or(false),
        params.flag("pinned").unwrap_or(false),
        params.get("tagged").map(str::to_lowercase),
    );
    let ctx = ctx(&state);
    let (items, ids) = state
        .db
        .run(move |c| {
            if pinned {
                // Pinned posts, most recently pinned first, those the viewer may see.
                let mut items = Vec::new();
                for id in guildhall_storage::pins::pinned(c, actor.id)? {
                    let s = guildhall_storage::statuses::get(c, id)?;
                    if timelines::may_see(c, &s, viewer)? {
                        items.push(status(c, &ctx, &s, viewer)?);
                    }
                }
                return Ok((items, Vec::new()));
            }
            let rows = timelines::account(c, actor.id, viewer, exclude_replies, exclude_reblogs, &page)?;
            let mut items = Vec::new();
            let mut ids = Vec::new();
            for s in rows {
                if only_media && guildhall_storage::status_parts::attachments(c, s.id)?.is_empty() {
                    continue;
                }
                if let Some(tag) = &tagged
                    && !guildhall_storage::status_parts::tags(c, s.id)?.contains(tag)
                {
                    continue;
                }
                ids.push(s.id);
                items.push(status(c, &ctx, &s, viewer)?);
            }
            Ok((items, ids))
        })
        .await?;
    Ok(paged_response(&format!("/api/v1/accounts/{}/statuses", actor.id), &state, items, &ids))
}

async fn actor_list(state: &AppState, ids: Vec<i64>) -> Result<Vec<Value>, ApiError> {
    let ctx = ctx(state);
    state.db.run(move |c| super::entities::accounts_by_id(c, &ctx, &ids)).await.map_err(ApiError::from)
}

/// Whether membership of group `group_id` is hidden from `viewer`: a members-only group's
/// members are known to its members and moderators only (for a safe space, belonging is
/// itself sensitive).
fn membership_hidden(
    c: &mut guildhall_storage::DbConnection,
    group_id: i64,
    viewer: Option<i64>,
) -> guildhall_storage::StorageResult<bool> {
    use guildhall_storage::groups;
    if !actors::get(c, group_id)?.members_only {
        return Ok(false);
    }
    Ok(match viewer {
        Some(v) => !(groups::is_member(c, group_id, v)? || groups::is_moderator(c, group_id, v)?),
        None => true,
    })
}

async fn followers(
    id: web::Path<String>,
    auth: MaybeAuth,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let actor = load(&state, &id).await?;
    let viewer = auth.viewer("read:accounts");
    let ids = state
        .db
        .run(move |c| {
            // A group's member list is for its moderators (its count is public for public
            // groups); the Guildhall group API pages it for them too.
            if actor.is(ActorKind::Group) {
                let moderator = match viewer {
                    Some(v) => guildhall_storage::groups::is_moderator(c, actor.id, v)?,
                    None => false,
                };
                if !moderator {
                    return Ok(Vec::new());
                }
            }
            if membership_hidden(c, actor.id, viewer)? {
                return Ok(Vec::new());
            }
            follows::followers(c, actor.id, FollowState::Accepted)
        })
        .await?;
    Ok(HttpResponse::Ok().json(actor_list(&state, ids.into_iter().rev().take(80).collect()).await?))
}

/// Whom an account follows; members-only groups are left out for viewers outside them.
async fn following(
    id: web::Path<String>,
    auth: MaybeAuth,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let actor = load(&state, &id).await?;
    let viewer = auth.viewer("read:accounts");
    let ids = state
        .db
        .run(move |c| {
            let mut shown = Vec::new();
            for target in follows::following(c, actor.id)? {
                if viewer == Some(actor.id) || !membership_hidden(c, target, viewer)? {
                    shown.push(target);
                }
            }
            Ok(shown)
        })
        .await?;
    Ok(HttpResponse::Ok().json(actor_list(&state, ids.into_iter().rev().take(80).collect()).await?))
}

async fn relationship_response(state: &AppState, viewer: i64, target: i64) -> Result<HttpResponse, ApiError> {
    let rel = state.db.run(move |c| relationship(c, viewer, target)).await?;
    Ok(HttpResponse::Ok().json(rel))
}

/// `POST /api/v1/accounts/:id/follow`, with `notify` (a notification for each new post) and
/// `reblogs` (their boosts in home); following again only changes those.
async fn follow(
    auth: Auth,
    id: web::Path<String>,
    params: Params,
    state: web::Data<AppState>,
    fed: FedData,
) -> Result<HttpResponse, ApiError> {
    let user = auth.user("write:follows")?;
    let target = load(&state, &id).await?;
    if target.id == user.actor.id {
        return Err(ApiError::Forbidden("You cannot follow yourself".into()));
    }
    let (viewer, target_id) = (user.actor.id, target.id);
    let existing = state.db.run(move |c| follows::find(c, viewer, target_id)).await?;
    if !existing.is_some_and(|f| f.is(FollowState::Accepted)) {
        actions::follow(&fed, &user.actor, &target).await?;
    }
    let (notify, reblogs) = (params.flag("notify"), params.flag("reblogs"));
    if notify.is_some() || reblogs.is_some() {
        state.db.run(move |c| follows::set_options(c, viewer, target_id, notify, reblogs)).await?;
    }
    relationship_response(&state, viewer, target_id).await
}

async fn unfollow(
    auth: Auth,
    id: web::Path<String>,
    state: web::Data<AppState>,
    fed: FedData,
) -> Result<HttpResponse, ApiError> {
    let user = auth.user("write:follows")?;
    let target = load(&state, &id).await?;
    actions::unfollow(&fed, &user.actor, &target).await?;
    relationship_response(&state, user.actor.id, target.id).await
}

async fn block(
    auth: Auth,
    id: web::Path<String>,
    state: web::Data<AppState>,
    fed: FedData,
) -> Result<HttpResponse, ApiError> {
    let user = auth.user("write:blocks")?;
    let target = load(&state, &id).await?;
    actions::block(&fed, &user.actor, &target).await?;
    relationship_response(&state, user.actor.id, target.id).await
}

async fn unblock(
    auth: Auth,
    id: web::Path<String>,
    state: web::Data<AppState>,
    fed: FedData,
) -> Result<HttpResponse, ApiError> {
    let user = auth.user("write:blocks")?;
    let target = load(&state, &id).await?;
    actions::unblock(&fed, &user.actor, &target).await?;
    relationship_response(&state, user.actor.id, target.id).await
}

/// `GET /api/v1/follow_requests`: who asks to follow the caller, then who asks to join a
/// group the caller moderates (each account once; apps act on them by account id).
async fn follow_requests(auth: Auth, state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let user = auth.user("read:follows")?;
    let id = user.actor.id;
    let ids = state
        .db
        .run(move |c| {
            let mut ids = follows::followers(c, id, FollowState::Pending)?;
            for group in guildhall_storage::groups::moderated_by(c, id)? {
                ids.extend(follows::followers(c, group, FollowState::Pending)?);
            }
            let mut seen = std::collections::HashSet::new();
            ids.retain(|i| seen.insert(*i));
            Ok(ids)
        })
        .await?;
    Ok(HttpResponse::Ok().json(actor_list(&state, ids).await?))
}

/// The group among those `moderator` moderates that `applicant` asks to join (the oldest
/// request), when the applicant has not asked to follow the moderator themself.
fn group_request(
    c: &mut guildhall_storage::DbConnection,
    moderator: i64,
    applicant: i64,
) -> guildhall_storage::StorageResult<Option<Actor>> {
    let personal = follows::find(c, applicant, moderator)?;
    if personal.is_some_and(|f| f.state == FollowState::Pending.as_str()) {
        return Ok(None);
    }
    for group in guildhall_storage::groups::moderated_by(c, moderator)? {
        if follows::find(c, applicant, group)?.is_some_and(|f| f.state == FollowState::Pending.as_str()) {
            return Ok(Some(actors::get(c, group)?));
        }
    }
    Ok(None)
}

async fn answer_request(
    auth: Auth,
    id: &str,
    state: &AppState,
    fed: &FedData,
    accept: bool,
) -> Result<HttpResponse, ApiError> {
    let user = auth.user("write:follows")?;
    let follower = load(state, id).await?;
    let (moderator, applicant) = (user.actor.id, follower.id);
    if let Some(group) = state.db.run(move |c| group_request(c, moderator, applicant)).await? {
        // A request to join a group the caller moderates.
        guildhall_federation::moderation::answer_request(fed, &user.actor, &group, &follower, accept).await?;
    } else if accept {
        actions::approve_follower(fed, &user.actor, &follower).await?;
    } else {
        actions::reject_follower(fed, &user.actor, &follower).await?;
    }
    relationship_response(state, user.actor.id, follower.id).await
}

async fn authorize_request(
    auth: Auth,
    id: web::Path<String>,
    state: web::Data<AppState>,
    fed: FedData,
) -> Result<HttpResponse, ApiError> {
    answer_request(auth, &id, &state, &fed, true).await
}

async fn reject_request(
    auth: Auth,
    id: web::Path<String>,
    state: web::Data<AppState>,
    fed: FedData,
) -> Result<HttpResponse, ApiError> {
    answer_request(auth, &id, &state, &fed, false).await
}

/// Accounts matching `q`: an exact handle (resolved remotely when asked and signed in), or
/// local and known names starting with it.
async fn find_accounts(
    q: &str,
    resolve: bool,
    signed_in: bool,
    state: &AppState,
    fed: &FedData,
) -> Result<Vec<Actor>, ApiError> {
    let q = q.trim().trim_start_matches('@').to_owned();
    if q.contains('@') || q.starts_with("http") {
        if resolve && signed_in {
            return Ok(actions::resolve_actor(fed, &q).await.map(|a| vec![a]).unwrap_or_default());
        }
        let local = state.config.domain.to_string();
        return Ok(state
            .db
            .run(move |c| match q.split_once('@') {
                Some((n, d)) if !d.eq_ignore_ascii_case(&local) => actors::find_remote(c, n, d),
                Some((n, _)) => Ok(actors::find_local(c, n)?.into_iter().collect()),
                None => Ok(actors::find_by_ap_id(c, &q)?.into_iter().collect()),
            })
            .await?);
    }
    Ok(state.db.run(move |c| actors::search(c, &q, 20)).await?)
}

async fn search_accounts(
    auth: MaybeAuth,
    params: Params,
    state: web::Data<AppState>,
    fed: FedData,
) -> Result<HttpResponse, ApiError> {
    let q = params.required("q")?;
    let found = find_accounts(
        q,
        params.flag("resolve").unwrap_or(false),
        auth.viewer("read:accounts").is_some(),
        &state,
        &fed,
    )
    .await?;
    let ids = found.into_iter().map(|a| a.id).collect();
    Ok(HttpResponse::Ok().json(actor_list(&state, ids).await?))
}

/// `GET /api/v2/search`: accounts, statuses (by URL) and hashtags.
async fn search(
    auth: MaybeAuth,
    params: Params,
    state: web::Data<AppState>,
    fed: FedData,
) -> Result<HttpResponse, ApiError> {
    let q = params.required("q")?.trim().to_owned();
    let kind = params.get("type").unwrap_or("");
    let viewer = auth.viewer("read:search");
    let resolve = params.flag("resolve").unwrap_or(false) && viewer.is_some();
    let mut accounts = Vec::new();
    let mut statuses = Vec::new();
    if kind.is_empty() || kind == "accounts" {
        let found = find_accounts(&q, resolve, viewer.is_some(), &state, &fed).await?;
        accounts = actor_list(&state, found.into_iter().map(|a| a.id).collect()).await?;
    }
    if (kind.is_empty() || kind == "statuses") && q.starts_with("http") {
        let found = match resolve {
            true => actions::resolve_status(&fed, &q).await.ok(),
            false => {
                let url = q.clone();
                state.db.run(move |c| guildhall_storage::statuses::find_by_ap_id(c, &url)).await?
            }
        };
        if let Some(found) = found {
            let ctx = ctx(&state);
            let rendered = state
                .db
                .run(move |c| {
                    if timelines::may_see(c, &found, viewer)? {
                        Ok(Some(status(c, &ctx, &found, viewer)?))
                    } else {
                        Ok(None)
                    }
                })
                .await?;
            statuses.extend(rendered);
        }
    }
    // A hashtag search answers the tag asked for, with or without its `#` (Mastodon's apps
    // send `q=museumhour` with `type=hashtags`); a bare word in a search of every type too.
    let tag = q.trim_start_matches('#').to_lowercase();
    let is_tag =
        !tag.is_empty() && tag.chars().count() <= 100 && tag.chars().all(|c| c.is_alphanumeric() || c == '_');
    let hashtags: Vec<Value> = if (kind.is_empty() || kind == "hashtags") && is_tag {
        vec![json!({"name": tag, "url": format!("{}/tags/{tag}", state.urls.base()), "history": []})]
    } else {
        Vec::new()
    };
    Ok(HttpResponse::Ok().json(json!({ "accounts": accounts, "statuses": statuses, "hashtags": hashtags })))
}

/// `GET /api/v1/accounts/familiar_followers?id[]=…`: for each account, the accounts the viewer
/// follows that follow it (members-only groups' memberships stay hidden as elsewhere).
async fn familiar_followers(
    auth: Auth,
    params: Params,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let viewer = auth.user("read:follows")?.actor.id;
    let ids = params.all("id").iter().take(40).map(|i| parse_id(i)).collect::<Result<Vec<_>, _>>()?;
    let ctx = ctx(&state);
    let body = state
        .db
        .run(move |c| {
            let followed = follows::following(c, viewer)?;
            let mut out = Vec::new();
            for id in ids {
                let mut familiar = Vec::new();
                if !membership_hidden(c, id, Some(viewer))? {
                    let followers = follows::followers(c, id, FollowState::Accepted)?;
                    familiar = followers.into_iter().filter(|f| followed.contains(f)).take(40).collect();
                }
                let accounts = super::entities::accounts_by_id(c, &ctx, &familiar)?;
                out.push(json!({ "id": id.to_string(), "accounts": accounts }));
            }
            Ok(out)
        })
        .await?;
    Ok(HttpResponse::Ok().json(body))
}
