//! Hashtags: the `Tag` entity, following and unfollowing, and the followed list.

use actix_web::HttpResponse;
use actix_web::web::{self, ServiceConfig};
use guildhall_storage::followed_tags;
use serde_json::{Value, json};

use super::auth::{Auth, MaybeAuth};
use crate::{ApiError, AppState};

pub fn configure(cfg: &mut ServiceConfig) {
    cfg.route("/api/v1/followed_tags", web::get().to(followed))
        .route("/api/v1/tags/{name}", web::get().to(show))
        .route("/api/v1/tags/{name}/follow", web::post().to(follow))
        .route("/api/v1/tags/{name}/unfollow", web::post().to(unfollow));
}

/// A valid hashtag name (letters, digits, underscores), normalized; 404 otherwise.
fn tag_name(raw: &str) -> Result<String, ApiError> {
    let name = followed_tags::normalize(raw);
    if name.is_empty() || name.chars().count() > 100 || !name.chars().all(|c| c.is_alphanumeric() || c == '_')
    {
        return Err(ApiError::NotFound("Record not found".into()));
    }
    Ok(name)
}

fn entity(state: &AppState, name: &str, following: Option<bool>) -> Value {
    let mut tag = json!({ "name": name, "url": format!("{}/tags/{name}", state.urls.base()), "history": [] });
    if let Some(following) = following {
        tag["following"] = json!(following);
    }
    tag
}

async fn show(
    name: web::Path<String>,
    auth: MaybeAuth,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let name = tag_name(&name)?;
    let following = match auth.viewer("read:follows") {
        Some(viewer) => {
            let tag = name.clone();
            Some(state.db.run(move |c| followed_tags::is_following(c, viewer, &tag)).await?)
        }
        None => None,
    };
    Ok(HttpResponse::Ok().json(entity(&state, &name, following)))
}

async fn follow(
    name: web::Path<String>,
    auth: Auth,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let viewer = auth.user("write:follows")?.actor.id;
    let name = tag_name(&name)?;
    let tag = name.clone();
    state.db.run(move |c| followed_tags::follow(c, viewer, &tag)).await?;
    Ok(HttpResponse::Ok().json(entity(&state, &name, Some(true))))
}

async fn unfollow(
    name: web::Path<String>,
    auth: Auth,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let viewer = auth.user("write:follows")?.actor.id;
    let name = tag_name(&name)?;
    let tag = name.clone();
    state.db.run(move |c| followed_tags::unfollow(c, viewer, &tag)).await?;
    Ok(HttpResponse::Ok().json(entity(&state, &name, Some(false))))
}

async fn followed(auth: Auth, state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let viewer = auth.user("read:follows")?.actor.id;
    let tags = state.db.run(move |c| followed_tags::followed(c, viewer)).await?;
    Ok(HttpResponse::Ok().json(tags.iter().map(|(t, _)| entity(&state, t, Some(true))).collect::<Vec<_>>()))
}
