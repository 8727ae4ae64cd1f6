//! Media uploads, as Mastodon documents them: `POST /api/v2/media` (and the older v1) stores a
//! processed image, unattached; `GET`/`PUT`/`DELETE /api/v1/media/:id` reach it while it is
//! unattached, for its uploader only (404 for anyone else, as Mastodon); `media_ids[]` attach
//! uploads when posting. Processing is fast enough to finish within the request, so v2 answers
//! 200 with the `url` (apps accept it; 202 would mean "still processing").
//!
//! Limits: 16 MiB per file; images over 33,177,600 pixels are refused, over 8,294,400 (4K)
//! scaled down; alt text up to 1,500 characters. See [`crate::media::process`] for formats.

use actix_web::HttpResponse;
use actix_web::web::{self, ServiceConfig};
use guildhall_core::Id;
use guildhall_storage::status_parts::Attachment;
use guildhall_storage::{media, now};
use serde_json::json;

use super::auth::Auth;
use super::entities::{attachment, focus};
use super::multipart::{Upload, UploadLimit};
use super::params::Params;
use super::{ctx, parse_id};
use crate::media::process::{self, Profile};
use crate::media::{MAX_UPLOAD_BYTES, remove, store};
use crate::{ApiError, AppState};

/// Longest alt text accepted (Mastodon's limit).
pub const MAX_DESCRIPTION: usize = 1500;

/// The body limit of upload routes: a file and a few text fields.
pub(crate) const UPLOAD_BODY_LIMIT: UploadLimit = UploadLimit(MAX_UPLOAD_BYTES + 64 * 1024);

pub fn configure(cfg: &mut ServiceConfig) {
    for path in ["/api/v2/media", "/api/v1/media"] {
        cfg.service(web::resource(path).app_data(UPLOAD_BODY_LIMIT).route(web::post().to(upload)));
    }
    cfg.route("/api/v1/media/{id}", web::get().to(get))
        .route("/api/v1/media/{id}", web::put().to(update))
        .route("/api/v1/media/{id}", web::delete().to(delete));
}

/// The alt text sent as `description`, within the limit (`Some("")` clears it on update).
fn description(params: &Params) -> Result<Option<String>, ApiError> {
    let text = params.raw("description").map(str::trim).map(str::to_owned);
    if text.as_ref().is_some_and(|t| t.chars().count() > MAX_DESCRIPTION) {
        return Err(ApiError::Unprocessable(format!(
            "Validation failed: Description is too long (maximum is {MAX_DESCRIPTION} characters)"
        )));
    }
    Ok(text)
}

/// The focal point sent as `focus`, normalised to `x,y`.
fn focus_param(params: &Params) -> Result<Option<String>, ApiError> {
    params
        .get("focus")
        .map(|raw| {
            focus(raw).map(|(x, y)| format!("{x},{y}")).ok_or_else(|| {
                ApiError::Unprocessable(
                    "Validation failed: focus must be x,y with each from -1.0 to 1.0".into(),
                )
            })
        })
        .transpose()
}

/// The `media_ids[]` of a post, in order and without repeats; one that is not a number is
/// refused like an unknown one.
pub(crate) fn media_ids(params: &Params) -> Result<Vec<i64>, ApiError> {
    let mut ids = Vec::new();
    for raw in params.all("media_ids").iter().filter(|r| !r.is_empty()) {
        let id = raw.parse().map_err(|_| {
            ApiError::Unprocessable(format!("Media {raw} not found or already attached to another post"))
        })?;
        if !ids.contains(&id) {
            ids.push(id);
        }
    }
    Ok(ids)
}

/// Processes and stores an image `uploader` sent, by `profile`: refuses files over the size
/// limit and uploaders over theirs ([`guildhall_core::limits::UPLOADS_PER_WINDOW`]), and decodes no more
/// images at once than the server allows.
async fn store_upload(
    state: &AppState,
    uploader: i64,
    file: &Upload,
    profile: Profile,
) -> Result<crate::media::Stored, ApiError> {
    if file.data.len() > MAX_UPLOAD_BYTES {
        return Err(ApiError::Unprocessable(format!(
            "Validation failed: File must be smaller than {} MiB",
            MAX_UPLOAD_BYTES >> 20
        )));
    }
    state.limits.check_upload(uploader)?;
    state.limits.uploaded(uploader);
    let _permit =
        state.image_work.acquire().await.map_err(|_| ApiError::Internal("image work closed".into()))?;
    store(state.config.media_dir.clone(), file.data.clone(), profile).await
}

/// Stores the `avatar` (at most 400x400) and `header` (at most 1500x500) images of a profile
/// update, when sent; returns their URLs.
pub(crate) async fn profile_images(
    state: &AppState,
    uploader: i64,
    params: &Params,
) -> Result<(Option<String>, Option<String>), ApiError> {
    let mut urls = [None, None];
    for (url, (field, profile)) in
        urls.iter_mut().zip([("avatar", process::AVATAR), ("header", process::HEADER)])
    {
        if let Some(file) = params.file(field) {
            let stored = store_upload(state, uploader, file, profile).await?;
            *url = Some(state.urls.media(&stored.original.name));
        }
    }
    let [avatar, header] = urls;
    Ok((avatar, header))
}

async fn upload(auth: Auth, params: Params, state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let user = auth.user("write:media")?.clone();
    let file = params
        .file("file")
        .ok_or_else(|| ApiError::Unprocessable("Validation failed: File can't be blank".into()))?;
    let (description, focus) = (description(&params)?.filter(|d| !d.is_empty()), focus_param(&params)?);
    let row = attach(&state, user.actor.id, file, description, focus).await?;
    Ok(HttpResponse::Ok().json(attachment(&ctx(&state), &row)))
}

/// Stores an uploaded image as an unattached attachment of `owner`.
async fn attach(
    state: &AppState,
    owner: i64,
    file: &Upload,
    description: Option<String>,
    focus: Option<String>,
) -> Result<Attachment, ApiError> {
    let stored = store_upload(state, owner, file, process::ATTACHMENT).await?;
    let row = Attachment {
        id: Id::generate().0,
        status_id: None,
        actor_id: owner,
        remote_url: None,
        file_path: Some(stored.original.name.clone()),
        media_type: Some(stored.format.mime().to_owned()),
        description,
        blurhash: stored.blurhash.clone(),
        width: i32::try_from(stored.original.width).ok(),
        height: i32::try_from(stored.original.height).ok(),
        position: 0,
        created_at: now(),
        preview_path: stored.preview.as_ref().map(|p| p.name.clone()),
        preview_width: stored.preview.as_ref().and_then(|p| i32::try_from(p.width).ok()),
        preview_height: stored.preview.as_ref().and_then(|p| i32::try_from(p.height).ok()),
        file_size: i64::try_from(stored.original.bytes).ok(),
        focus,
    };
    let saved = row.clone();
    state.db.run(move |c| media::insert(c, &saved)).await?;
    tracing::info!(media = row.id, actor = row.actor_id, "media uploaded");
    Ok(row)
}

fn upload_error(e: ApiError) -> guildhall_federation::uploads::UploadError {
    use guildhall_federation::uploads::UploadError as U;
    match e {
        ApiError::Unprocessable(why) => U::Invalid(why),
        ApiError::TooManyRequests(why) => U::TooMany(why),
        other => U::Internal(other.to_string()),
    }
}

/// The API's image storage, lent to the web pages ([`guildhall_federation::uploads`]).
pub struct ApiImages(pub web::Data<AppState>);

#[async_trait::async_trait]
impl guildhall_federation::uploads::ImageStore for ApiImages {
    async fn store_attachment(
        &self,
        owner: i64,
        bytes: web::Bytes,
        description: Option<String>,
    ) -> Result<i64, guildhall_federation::uploads::UploadError> {
        use guildhall_federation::uploads::UploadError as U;
        if description.as_ref().is_some_and(|d| d.chars().count() > MAX_DESCRIPTION) {
            return Err(U::Invalid(format!("the description is longer than {MAX_DESCRIPTION} characters")));
        }
        let file = Upload { filename: None, content_type: None, data: bytes };
        attach(&self.0, owner, &file, description, None).await.map(|row| row.id).map_err(upload_error)
    }

    async fn store_profile_image(
        &self,
        owner: i64,
        bytes: web::Bytes,
        kind: guildhall_federation::uploads::ProfileImage,
    ) -> Result<String, guildhall_federation::uploads::UploadError> {
        use guildhall_federation::uploads::ProfileImage as P;
        let profile = match kind {
            P::Avatar => process::AVATAR,
            P::Header => process::HEADER,
        };
        let file = Upload { filename: None, content_type: None, data: bytes };
        let stored = store_upload(&self.0, owner, &file, profile).await.map_err(upload_error)?;
        Ok(self.0.urls.media(&stored.original.name))
    }
}

async fn get(
    auth: Auth,
    id: web::Path<String>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let actor = auth.user("write:media")?.actor.id;
    let id = parse_id(&id)?;
    let found = state.db.run(move |c| media::find_unattached(c, actor, id)).await?;
    Ok(HttpResponse::Ok().json(attachment(&ctx(&state), &found)))
}

async fn update(
    auth: Auth,
    id: web::Path<String>,
    params: Params,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let actor = auth.user("write:media")?.actor.id;
    let id = parse_id(&id)?;
    let (description, focus) = (description(&params)?, focus_param(&params)?);
    let updated = state
        .db
        .run(move |c| media::describe(c, actor, id, description.as_deref(), focus.as_deref()))
        .await?;
    Ok(HttpResponse::Ok().json(attachment(&ctx(&state), &updated)))
}

async fn delete(
    auth: Auth,
    id: web::Path<String>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let actor = auth.user("write:media")?.actor.id;
    let id = parse_id(&id)?;
    let gone = state.db.run(move |c| media::delete(c, actor, id)).await?;
    let files = gone.file_path.into_iter().chain(gone.preview_path).collect();
    remove(state.config.media_dir.clone(), files).await;
    Ok(HttpResponse::Ok().json(json!({})))
}
