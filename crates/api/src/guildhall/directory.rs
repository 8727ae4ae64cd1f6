//! Mastodon's profile directory, `GET /api/v1/directory`: the discoverable local people and
//! groups (groups have `"group": true`).
//!
//! Guildhall lists local accounts only, whatever `local` says: remote accounts are known here
//! only through whoever happened to interact with them, which is no directory.

use actix_web::HttpResponse;
use actix_web::web;
use guildhall_storage::groups;

use super::{entities, limit_offset, with_ctx};
use crate::mastodon::params::Params;
use crate::{ApiError, AppState};

/// `GET /api/v1/directory` (`offset`, `limit`, `order` = `active` (default) | `new`, `local`).
pub async fn list(params: Params, state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let (limit, offset) = limit_offset(&params, 40, 80)?;
    let by_activity = match params.get("order").unwrap_or("active") {
        "active" => true,
        "new" => false,
        other => {
            return Err(ApiError::Unprocessable(format!(
                "Validation failed: order must be active or new, not '{other}'"
            )));
        }
    };
    let body = with_ctx(&state, move |c, ctx| {
        let found = groups::local_directory(c, by_activity, offset, limit)?;
        entities::accounts(c, ctx, &found)
    })
    .await?;
    Ok(HttpResponse::Ok().json(body))
}
