//! A user's own domain blocks (`/api/v1/domain_blocks`): the domain disappears from their
//! timelines and notifications, and their follows with it end both ways, as in Mastodon.

use actix_web::HttpResponse;
use actix_web::web::{self, ServiceConfig};
use guildhall_federation::FedData;
use guildhall_storage::domain_blocks;
use serde_json::json;

use super::auth::Auth;
use super::params::Params;
use crate::{ApiError, AppState};

pub fn configure(cfg: &mut ServiceConfig) {
    cfg.route("/api/v1/domain_blocks", web::get().to(list))
        .route("/api/v1/domain_blocks", web::post().to(block))
        .route("/api/v1/domain_blocks", web::delete().to(unblock));
}

/// The `domain` parameter as a lower-case host name (a URL's host is taken too).
fn domain(params: &Params) -> Result<String, ApiError> {
    let raw = params
        .get("domain")
        .ok_or_else(|| ApiError::Unprocessable("Validation failed: domain: is missing".into()))?;
    let raw = raw.trim().to_lowercase();
    // A pasted URL counts as its host (and port).
    let host = match url::Url::parse(&raw) {
        Ok(u) if raw.contains("://") => match (u.host_str(), u.port()) {
            (Some(h), Some(p)) => format!("{h}:{p}"),
            (Some(h), None) => h.to_owned(),
            _ => raw,
        },
        _ => raw,
    };
    let valid = !host.is_empty()
        && host.len() <= 253
        && host.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | ':'))
        && !host.starts_with('.')
        && !host.ends_with('.');
    if !valid {
        return Err(ApiError::Unprocessable(format!("Validation failed: domain: {host} is not a domain")));
    }
    Ok(host)
}

async fn list(auth: Auth, params: Params, state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let actor = auth.user("read:blocks")?.actor.id;
    let limit = params.number("limit")?.unwrap_or(100).clamp(1, 200);
    let after = params.get("after").map(str::to_owned);
    let domains = state.db.run(move |c| domain_blocks::list(c, actor, after.as_deref(), limit)).await?;
    let mut response = HttpResponse::Ok();
    if let Some(last) = domains.last().filter(|_| domains.len() as i64 == limit) {
        let next = format!("{}/api/v1/domain_blocks?after={}", state.urls.base(), urlencoding(last));
        response.insert_header(("Link", format!("<{next}>; rel=\"next\"")));
    }
    Ok(response.json(domains))
}

fn urlencoding(text: &str) -> String {
    url::form_urlencoded::byte_serialize(text.as_bytes()).collect()
}

async fn block(
    auth: Auth,
    params: Params,
    state: web::Data<AppState>,
    fed: FedData,
) -> Result<HttpResponse, ApiError> {
    let user = auth.user("write:blocks")?.clone();
    let domain = domain(&params)?;
    if domain == state.config.domain.to_string() || domain == state.config.domain.host() {
        return Err(ApiError::Unprocessable(
            "Validation failed: domain: you cannot block your own server".into(),
        ));
    }
    let actor = user.actor.id;
    if state.db.run(move |c| domain_blocks::count(c, actor)).await? >= domain_blocks::MAX_PER_USER {
        return Err(ApiError::Unprocessable(format!(
            "Validation failed: domain: at most {} domains can be blocked",
            domain_blocks::MAX_PER_USER
        )));
    }
    guildhall_federation::domain_blocks::block(&fed, &user.actor, &domain).await?;
    Ok(HttpResponse::Ok().json(json!({})))
}

async fn unblock(auth: Auth, params: Params, state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let actor = auth.user("write:blocks")?.actor.id;
    let domain = domain(&params)?;
    state.db.run(move |c| domain_blocks::remove(c, actor, &domain)).await?;
    Ok(HttpResponse::Ok().json(json!({})))
}
