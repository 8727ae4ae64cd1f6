//! The Mastodon client API (v1/v2) and OAuth 2, as Mastodon documents them.

mod accounts;
mod admin;
pub(crate) mod auth;
mod compose;
mod domain_blocks;
pub(crate) mod entities;
mod filters;
mod instance;
mod lists;
pub(crate) mod media;
pub(crate) mod multipart;
mod notification_groups;
mod notifications;
mod oauth;
pub(crate) mod params;
mod personal;
mod polls;
mod registrations;
mod reports;
mod scheduled;
mod sign_up_page;
mod statuses;
mod stream_slots;
pub mod streaming;
mod tags;
mod timelines;

pub use guildhall_core::limits::RateLimits;

use actix_web::HttpResponse;
use actix_web::web::{self, ServiceConfig};
use guildhall_storage::timelines::Page;

use crate::{ApiError, AppState};
use entities::Ctx;
use params::Params;

/// The body limit of the OAuth forms: a few short fields, never a megabyte a stranger could
/// make us read, parse and hash for nothing.
fn small_form() -> web::PayloadConfig {
    web::PayloadConfig::new(64 * 1024)
}

/// Registers every route of the client API.
pub fn configure(cfg: &mut ServiceConfig) {
    cfg.route("/api/v1/apps", web::post().to(oauth::create_app))
        .route("/api/v1/apps/verify_credentials", web::get().to(oauth::verify_app))
        .route("/oauth/authorize", web::get().to(oauth::authorize_page))
        .service(
            web::resource("/oauth/authorize")
                .app_data(small_form())
                .route(web::post().to(oauth::authorize_submit)),
        )
        .service(web::resource("/oauth/token").app_data(small_form()).route(web::post().to(oauth::token)))
        .service(web::resource("/oauth/revoke").app_data(small_form()).route(web::post().to(oauth::revoke)))
        .route("/.well-known/oauth-authorization-server", web::get().to(oauth::metadata))
        .route(oauth::STYLESHEET_PATH, web::get().to(oauth::stylesheet))
        .configure(instance::configure)
        .configure(accounts::configure)
        .configure(registrations::configure)
        .configure(sign_up_page::configure)
        .configure(admin::configure)
        .configure(statuses::configure)
        .configure(polls::configure)
        .configure(scheduled::configure)
        .configure(media::configure)
        .configure(timelines::configure)
        .configure(notification_groups::configure)
        .configure(notifications::configure)
        .configure(lists::configure)
        .configure(filters::configure)
        .configure(domain_blocks::configure)
        .configure(tags::configure)
        .configure(personal::configure)
        .configure(streaming::configure)
        .configure(reports::configure);
}

pub(crate) fn ctx(state: &AppState) -> Ctx {
    Ctx::new(state.urls.base().to_owned())
}

/// Paging parameters (`max_id`, `since_id`, `min_id`, `limit` up to `max`).
fn page(params: &Params, default: i64, max: i64) -> Result<Page, ApiError> {
    let limit = params.number("limit")?.unwrap_or(default).clamp(1, max);
    Ok(Page {
        max_id: params.number("max_id")?,
        since_id: params.number("since_id")?,
        min_id: params.number("min_id")?,
        limit,
    })
}

/// A JSON list with the `Link` header apps page with (`next` = older, `prev` = newer).
pub(crate) fn paged_response(
    path: &str,
    state: &AppState,
    items: Vec<serde_json::Value>,
    ids: &[i64],
) -> HttpResponse {
    let mut response = HttpResponse::Ok();
    if let (Some(newest), Some(oldest)) = (ids.first(), ids.last()) {
        let base = format!("{}{path}", state.urls.base());
        response.insert_header((
            "Link",
            format!("<{base}?max_id={oldest}>; rel=\"next\", <{base}?min_id={newest}>; rel=\"prev\""),
        ));
    }
    response.json(items)
}

pub(crate) fn parse_id(raw: &str) -> Result<i64, ApiError> {
    raw.parse().map_err(|_| ApiError::NotFound("Record not found".into()))
}
