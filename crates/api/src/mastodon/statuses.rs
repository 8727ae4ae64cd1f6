//! Statuses: post, read, delete, edit, context, like, boost, bookmark.

use actix_web::web::{self, ServiceConfig};
use actix_web::{HttpRequest, HttpResponse};
use guildhall_federation::FedData;
use guildhall_federation::actions::{self, NewPost};
use guildhall_storage::statuses::{self, Status};
use guildhall_storage::{StorageResult, accounts, bookmarks, favourites, timelines};
use serde_json::{Value, json};

use super::auth::{Auth, MaybeAuth};
use super::compose::{self, Compose, MAX_CHARACTERS, Schedule};
use super::entities::{Ctx, account, status};
use super::params::Params;
use super::{ctx, parse_id};

/// The scope that lets a signed-in caller see their own and followed accounts' private posts.
const READ_STATUSES: &str = "read:statuses";
/// The scope for lists of accounts (who liked or boosted a status).
const READ_ACCOUNTS: &str = "read:accounts";
use crate::{ApiError, AppState};

pub fn configure(cfg: &mut ServiceConfig) {
    cfg.route("/api/v1/statuses", web::post().to(create))
        .route("/api/v1/statuses/{id}", web::get().to(get))
        .route("/api/v1/statuses/{id}", web::delete().to(delete))
        .route("/api/v1/statuses/{id}", web::put().to(edit))
        .route("/api/v1/statuses/{id}/source", web::get().to(source))
        .route("/api/v1/statuses/{id}/history", web::get().to(history))
        .route("/api/v1/statuses/{id}/context", web::get().to(context))
        .route("/api/v1/statuses/{id}/favourite", web::post().to(favourite))
        .route("/api/v1/statuses/{id}/unfavourite", web::post().to(unfavourite))
        .route("/api/v1/statuses/{id}/reblog", web::post().to(reblog))
        .route("/api/v1/statuses/{id}/unreblog", web::post().to(unreblog))
        .route("/api/v1/statuses/{id}/mute", web::post().to(mute_conversation))
        .route("/api/v1/statuses/{id}/unmute", web::post().to(mute_conversation))
        .route("/api/v1/statuses/{id}/bookmark", web::post().to(bookmark))
        .route("/api/v1/statuses/{id}/unbookmark", web::post().to(unbookmark))
        .route("/api/v1/statuses/{id}/favourited_by", web::get().to(favourited_by))
        .route("/api/v1/statuses/{id}/reblogged_by", web::get().to(reblogged_by))
        .route("/api/v1/bookmarks", web::get().to(bookmarked))
        .route("/api/v1/favourites", web::get().to(favourited));
}

/// The status with this id, if `viewer` may see it (404 otherwise, as Mastodon does).
pub async fn visible(state: &AppState, id: &str, viewer: Option<i64>) -> Result<Status, ApiError> {
    let id = parse_id(id)?;
    let found = state
        .db
        .run(move |c| {
            let s = statuses::get(c, id)?;
            Ok(timelines::may_see(c, &s, viewer)?.then_some(s))
        })
        .await
        .map_err(|e| match e {
            guildhall_storage::StorageError::NotFound => ApiError::NotFound("Record not found".into()),
            other => other.into(),
        })?;
    found.ok_or_else(|| ApiError::NotFound("Record not found".into()))
}

async fn render(state: &AppState, s: Status, viewer: Option<i64>) -> Result<Value, ApiError> {
    let ctx = ctx(state);
    Ok(state.db.run(move |c| status(c, &ctx, &s, viewer)).await?)
}

/// Longest `Idempotency-Key` kept (apps send UUIDs).
const MAX_IDEMPOTENCY_KEY: usize = 200;

async fn create(
    request: HttpRequest,
    auth: Auth,
    params: Params,
    state: web::Data<AppState>,
    fed: FedData,
) -> Result<HttpResponse, ApiError> {
    let user = auth.user("write:statuses")?.clone();
    let key = request.headers().get("Idempotency-Key").and_then(|v| v.to_str().ok()).map(str::to_owned);
    if key.as_ref().is_some_and(|k| k.len() > MAX_IDEMPOTENCY_KEY) {
        return Err(ApiError::Unprocessable(format!(
            "Validation failed: Idempotency-Key is longer than {MAX_IDEMPOTENCY_KEY} bytes"
        )));
    }
    let actor_id = user.actor.id;
    let defaults = state.db.run(move |c| accounts::posting_defaults(c, actor_id)).await?;
    let compose = Compose::parse(&params, &defaults)?;
    let in_reply_to = match &compose.in_reply_to_id {
        Some(id) => Some(visible(&state, id, Some(user.actor.id)).await?.id),
        None => None,
    };
    if let Some(Schedule::At(at)) = compose.scheduled_at {
        return super::scheduled::schedule(&state, &user, compose, in_reply_to, at, key).await;
    }
    let new = NewPost {
        text: compose.text,
        visibility: compose.visibility,
        in_reply_to,
        spoiler_text: compose.spoiler_text,
        sensitive: compose.sensitive,
        language: compose.language,
        media_ids: compose.media_ids,
        idempotency: key.clone().map(|k| (user.user.id, k)),
        poll: compose.poll,
    };
    let posted = match (actions::post(&fed, &user.actor, new).await, key) {
        (Ok(posted), _) => posted,
        // Lost the race to a concurrent retry with the same key: answer what it posted.
        (Err(e), Some(key)) => {
            let uid = user.user.id;
            match state.db.run(move |c| bookmarks::idempotent_status(c, uid, &key)).await? {
                Some(earlier) => state.db.run(move |c| statuses::get(c, earlier)).await?,
                None => return Err(e.into()),
            }
        }
        (Err(e), None) => return Err(e.into()),
    };
    Ok(HttpResponse::Ok().json(render(&state, posted, Some(user.actor.id)).await?))
}

async fn get(
    id: web::Path<String>,
    auth: MaybeAuth,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let s = visible(&state, &id, auth.viewer(READ_STATUSES)).await?;
    Ok(HttpResponse::Ok().json(render(&state, s, auth.viewer(READ_STATUSES)).await?))
}

async fn own(
    auth: &Auth,
    scope: &str,
    state: &AppState,
    id: &str,
) -> Result<(guildhall_storage::accounts::LocalAccount, Status), ApiError> {
    let user = auth.user(scope)?.clone();
    let s = visible(state, id, Some(user.actor.id)).await?;
    if s.actor_id != user.actor.id {
        return Err(ApiError::NotFound("Record not found".into()));
    }
    Ok((user, s))
}

async fn delete(
    auth: Auth,
    id: web::Path<String>,
    state: web::Data<AppState>,
    fed: FedData,
) -> Result<HttpResponse, ApiError> {
    let (user, s) = own(&auth, "write:statuses", &state, &id).await?;
    let mut rendered = render(&state, s.clone(), Some(user.actor.id)).await?;
    rendered["text"] = json!(s.source);
    actions::delete_status(&fed, &user.actor, s.id).await?;
    Ok(HttpResponse::Ok().json(rendered))
}

async fn edit(
    auth: Auth,
    id: web::Path<String>,
    params: Params,
    state: web::Data<AppState>,
    fed: FedData,
) -> Result<HttpResponse, ApiError> {
    let (user, s) = own(&auth, "write:statuses", &state, &id).await?;
    // Sent media become the attachments (an empty list removes them); absent, they stay.
    let media_ids = params.has("media_ids").then(|| super::media::media_ids(&params)).transpose()?;
    let text = match &media_ids {
        Some(ids) if !ids.is_empty() => params.get("status").unwrap_or(""),
        _ => params.required("status")?,
    };
    if text.chars().count() > MAX_CHARACTERS {
        return Err(ApiError::Unprocessable("Validation failed: Text character limit exceeded".into()));
    }
    let poll = compose::poll(&params)?;
    // Only an edit that brings a poll needs to know whether the status keeps media.
    let sid = s.id;
    let has_media = match (&poll, &media_ids) {
        (None, _) => false,
        (Some(_), Some(ids)) => !ids.is_empty(),
        (Some(_), None) => {
            !state.db.run(move |c| guildhall_storage::status_parts::attachments(c, sid)).await?.is_empty()
        }
    };
    if has_media {
        return Err(ApiError::Unprocessable("Validation failed: poll: Cannot attach files to a poll".into()));
    }
    let change = actions::StatusEdit {
        text: text.to_owned(),
        spoiler_text: params.get("spoiler_text").unwrap_or("").to_owned(),
        media_ids,
        media_attributes: compose::media_attributes(&params)?,
        sensitive: params.flag("sensitive"),
        poll,
    };
    let edited = actions::edit_status(&fed, &user.actor, s.id, change).await?;
    Ok(HttpResponse::Ok().json(render(&state, edited, Some(user.actor.id)).await?))
}

/// `POST /api/v1/statuses/:id/mute` and `/unmute`: the caller stops (or starts again) hearing
/// about the conversation, as Mastodon does for threads one took part in.
async fn mute_conversation(
    auth: Auth,
    id: web::Path<String>,
    state: web::Data<AppState>,
    request: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let (user, s) = act(auth, &id, &state, "write:mutes").await?;
    let (viewer, status) = (user.actor.id, s.clone());
    let mute = request.path().ends_with("/mute");
    state
        .db
        .run(move |c| match mute {
            true => guildhall_storage::conversation_mutes::mute(c, viewer, &status),
            false => guildhall_storage::conversation_mutes::unmute(c, viewer, &status),
        })
        .await?;
    Ok(HttpResponse::Ok().json(render(&state, s, Some(viewer)).await?))
}

async fn source(
    auth: Auth,
    id: web::Path<String>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let (_, s) = own(&auth, "read:statuses", &state, &id).await?;
    Ok(HttpResponse::Ok()
        .json(json!({ "id": s.id.to_string(), "text": s.source, "spoiler_text": s.spoiler_text })))
}

/// The current version only: earlier versions are not kept yet.
async fn history(
    id: web::Path<String>,
    auth: MaybeAuth,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let s = visible(&state, &id, auth.viewer(READ_STATUSES)).await?;
    let status_id = s.id;
    let earlier = state.db.run(move |c| guildhall_storage::edits::history(c, status_id)).await?;
    let rendered = render(&state, s, auth.viewer(READ_STATUSES)).await?;
    let mut versions: Vec<serde_json::Value> = earlier
        .iter()
        .map(|e| {
            json!({
                "content": e.content, "spoiler_text": e.spoiler_text, "sensitive": e.sensitive,
                "created_at": super::entities::time(e.created_at),
                "account": rendered["account"], "media_attachments": [], "emojis": [],
            })
        })
        .collect();
    versions.push(json!({
        "content": rendered["content"], "spoiler_text": rendered["spoiler_text"], "sensitive": rendered["sensitive"],
        "created_at": rendered["edited_at"].as_str().map_or(rendered["created_at"].clone(), |e| json!(e)),
        "account": rendered["account"], "media_attachments": rendered["media_attachments"], "emojis": [],
    }));
    Ok(HttpResponse::Ok().json(versions))
}

async fn context(
    id: web::Path<String>,
    auth: MaybeAuth,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let viewer = auth.viewer(READ_STATUSES);
    let s = visible(&state, &id, viewer).await?;
    let ctx = ctx(&state);
    let (ancestors, descendants) = state.db.run(move |c| thread(c, &ctx, &s, viewer)).await?;
    Ok(HttpResponse::Ok().json(json!({ "ancestors": ancestors, "descendants": descendants })))
}

/// Ancestors (oldest first) and descendants (depth first) that `viewer` may see.
fn thread(
    c: &mut guildhall_storage::DbConnection,
    ctx: &Ctx,
    s: &Status,
    viewer: Option<i64>,
) -> StorageResult<(Vec<Value>, Vec<Value>)> {
    let mut ancestors = Vec::new();
    let mut parent = s.in_reply_to_id;
    // Steps are counted, hidden ones too, and each post is visited once: another server can
    // make a reply chain loop through posts a viewer may not see.
    let mut visited = std::collections::HashSet::from([s.id]);
    while let Some(id) =
        parent.filter(|id| ancestors.len() < 40 && visited.len() <= 4 * 40 && visited.insert(*id))
    {
        let p = statuses::get(c, id)?;
        parent = p.in_reply_to_id;
        if timelines::may_see(c, &p, viewer)? {
            ancestors.push(status(c, ctx, &p, viewer)?);
        }
    }
    ancestors.reverse();
    let mut descendants = Vec::new();
    let mut stack = vec![s.id];
    while let Some(id) = stack.pop().filter(|_| descendants.len() < 200) {
        let mut replies = statuses::replies(c, id)?;
        replies.reverse();
        for r in replies {
            if timelines::may_see(c, &r, viewer)? {
                stack.push(r.id);
                descendants.push((r.id, status(c, ctx, &r, viewer)?));
            }
        }
    }
    descendants.sort_by_key(|(id, _)| *id);
    Ok((ancestors, descendants.into_iter().map(|(_, v)| v).collect()))
}

async fn act(
    auth: Auth,
    id: &str,
    state: &AppState,
    scope: &str,
) -> Result<(guildhall_storage::accounts::LocalAccount, Status), ApiError> {
    let user = auth.user(scope)?.clone();
    let s = visible(state, id, Some(user.actor.id)).await?;
    Ok((user, s))
}

async fn favourite(
    auth: Auth,
    id: web::Path<String>,
    state: web::Data<AppState>,
    fed: FedData,
) -> Result<HttpResponse, ApiError> {
    let (user, s) = act(auth, &id, &state, "write:favourites").await?;
    actions::like(&fed, &user.actor, s.id).await?;
    Ok(HttpResponse::Ok().json(render(&state, s, Some(user.actor.id)).await?))
}

async fn unfavourite(
    auth: Auth,
    id: web::Path<String>,
    state: web::Data<AppState>,
    fed: FedData,
) -> Result<HttpResponse, ApiError> {
    let (user, s) = act(auth, &id, &state, "write:favourites").await?;
    actions::unlike(&fed, &user.actor, s.id).await?;
    Ok(HttpResponse::Ok().json(render(&state, s, Some(user.actor.id)).await?))
}

async fn reblog(
    auth: Auth,
    id: web::Path<String>,
    state: web::Data<AppState>,
    fed: FedData,
) -> Result<HttpResponse, ApiError> {
    let (user, s) = act(auth, &id, &state, "write:statuses").await?;
    let boost = actions::boost(&fed, &user.actor, s.id).await?;
    Ok(HttpResponse::Ok().json(render(&state, boost, Some(user.actor.id)).await?))
}

async fn unreblog(
    auth: Auth,
    id: web::Path<String>,
    state: web::Data<AppState>,
    fed: FedData,
) -> Result<HttpResponse, ApiError> {
    let (user, s) = act(auth, &id, &state, "write:statuses").await?;
    actions::unboost(&fed, &user.actor, s.id).await?;
    Ok(HttpResponse::Ok().json(render(&state, s, Some(user.actor.id)).await?))
}

async fn bookmark(
    auth: Auth,
    id: web::Path<String>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let (user, s) = act(auth, &id, &state, "write:bookmarks").await?;
    let (a, sid) = (user.actor.id, s.id);
    state.db.run(move |c| bookmarks::add(c, a, sid)).await?;
    Ok(HttpResponse::Ok().json(render(&state, s, Some(a)).await?))
}

async fn unbookmark(
    auth: Auth,
    id: web::Path<String>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let (user, s) = act(auth, &id, &state, "write:bookmarks").await?;
    let (a, sid) = (user.actor.id, s.id);
    state.db.run(move |c| bookmarks::remove(c, a, sid)).await?;
    Ok(HttpResponse::Ok().json(render(&state, s, Some(a)).await?))
}

async fn accounts_of(state: &AppState, ids: Vec<i64>) -> Result<HttpResponse, ApiError> {
    let ctx = ctx(state);
    let list = state
        .db
        .run(move |c| {
            let mut out = Vec::new();
            for id in ids {
                let a = guildhall_storage::actors::get(c, id)?;
                out.push(serde_json::to_value(account(c, &ctx, &a, false)?).unwrap_or_default());
            }
            Ok(out)
        })
        .await?;
    Ok(HttpResponse::Ok().json(list))
}

async fn favourited_by(
    id: web::Path<String>,
    auth: MaybeAuth,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let s = visible(&state, &id, auth.viewer(READ_ACCOUNTS)).await?;
    let ids = state.db.run(move |c| favourites::likers(c, s.id)).await?;
    accounts_of(&state, ids).await
}

async fn reblogged_by(
    id: web::Path<String>,
    auth: MaybeAuth,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let s = visible(&state, &id, auth.viewer(READ_ACCOUNTS)).await?;
    let ids = state
        .db
        .run(move |c| {
            Ok(statuses::boosts_of(c, s.id)?
                .into_iter()
                .filter(|b| b.deleted_at.is_none())
                .map(|b| b.actor_id)
                .collect())
        })
        .await?;
    accounts_of(&state, ids).await
}

async fn status_list(state: &AppState, ids: Vec<i64>, viewer: i64) -> Result<HttpResponse, ApiError> {
    let ctx = ctx(state);
    let list = state
        .db
        .run(move |c| {
            let mut out = Vec::new();
            for id in ids {
                let s = statuses::get(c, id)?;
                if timelines::may_see(c, &s, Some(viewer))? {
                    out.push(status(c, &ctx, &s, Some(viewer))?);
                }
            }
            Ok(out)
        })
        .await?;
    Ok(HttpResponse::Ok().json(list))
}

async fn bookmarked(auth: Auth, state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let viewer = auth.user("read:bookmarks")?.actor.id;
    let ids = state.db.run(move |c| bookmarks::list(c, viewer, 40)).await?;
    status_list(&state, ids, viewer).await
}

async fn favourited(auth: Auth, state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let viewer = auth.user("read:favourites")?.actor.id;
    let ids = state.db.run(move |c| favourites::liked_by(c, viewer, 40)).await?;
    status_list(&state, ids, viewer).await
}
