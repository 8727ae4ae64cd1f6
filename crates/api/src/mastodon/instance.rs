//! `/api/v1/instance`, `/api/v2/instance` and the lists apps expect even when empty.

use actix_web::HttpResponse;
use actix_web::web::{self, ServiceConfig};
use serde_json::json;

use crate::{ApiError, AppState};

/// Our version as apps read it (they enable features by the Mastodon version).
pub fn version() -> String {
    format!("4.3.0 (compatible; Guildhall {})", env!("CARGO_PKG_VERSION"))
}

pub fn configure(cfg: &mut ServiceConfig) {
    for path in ["/api/v1/instance", "/api/v1/instance/"] {
        cfg.route(path, web::get().to(v1));
    }
    for path in ["/api/v2/instance", "/api/v2/instance/"] {
        cfg.route(path, web::get().to(v2));
    }
    cfg.route("/api/v1/instance/rules", web::get().to(instance_rules))
        .route("/api/v1/instance/extended_description", web::get().to(extended_description))
        .route("/api/v1/instance/translation_languages", web::get().to(no_translations))
        .route("/api/v1/instance/peers", web::get().to(peers))
        .route("/api/v1/instance/domain_blocks", web::get().to(domain_blocks))
        .route("/api/v1/custom_emojis", web::get().to(empty))
        .route("/api/v1/announcements", web::get().to(empty))
        .route("/api/v1/featured_tags", web::get().to(empty))
        .route("/api/v1/accounts/{id}/featured_tags", web::get().to(empty))
        .route("/api/v1/endorsements", web::get().to(empty))
        .route("/api/v1/trends", web::get().to(empty))
        .route("/api/v1/trends/{kind}", web::get().to(empty))
        .route("/api/v2/suggestions", web::get().to(empty))
        .route("/api/v1/preferences", web::get().to(preferences))
        .route("/thumbnail.png", web::get().to(thumbnail))
        .route("/avatars/original/missing.png", web::get().to(missing_image))
        .route("/headers/original/missing.png", web::get().to(missing_image));
}

/// The stand-in avatar and header of accounts without their own (a small grey square).
async fn missing_image() -> HttpResponse {
    HttpResponse::Ok()
        .insert_header(("Content-Type", "image/png"))
        .insert_header(("Cache-Control", "public, max-age=86400"))
        .body(&include_bytes!("../missing.png")[..])
}

/// The instance's picture: the configured `thumbnail` file (PNG or JPEG, sniffed), else a plain
/// built-in banner.
async fn thumbnail(state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let bytes = match &state.config.thumbnail {
        Some(path) => {
            let path = path.clone();
            let read = tokio::task::spawn_blocking(move || std::fs::read(&path))
                .await
                .map_err(|e| ApiError::Internal(e.to_string()))?;
            match read {
                Ok(bytes) => bytes,
                Err(e) => {
                    tracing::warn!(error = %e, "the configured thumbnail cannot be read; serving the built-in one");
                    default_thumbnail().to_vec()
                }
            }
        }
        None => default_thumbnail().to_vec(),
    };
    let content_type = match bytes.get(..3) {
        Some([0xFF, 0xD8, 0xFF]) => "image/jpeg",
        _ => "image/png",
    };
    Ok(HttpResponse::Ok()
        .insert_header(("Content-Type", content_type))
        .insert_header(("Cache-Control", "public, max-age=3600"))
        .body(bytes))
}

/// A 1200×630 banner in the house colours, drawn once.
fn default_thumbnail() -> &'static [u8] {
    static BANNER: std::sync::OnceLock<Vec<u8>> = std::sync::OnceLock::new();
    BANNER.get_or_init(|| {
        let image = image::RgbImage::from_fn(1200, 630, |x, y| {
            // A band of gold across a deep teal field.
            if (260..370).contains(&y) && (120..1080).contains(&x) {
                image::Rgb([0xC8, 0x9B, 0x3C])
            } else {
                image::Rgb([0x1F, 0x4E, 0x5A])
            }
        });
        let mut out = std::io::Cursor::new(Vec::new());
        match image.write_to(&mut out, image::ImageFormat::Png) {
            Ok(()) => out.into_inner(),
            Err(_) => include_bytes!("../missing.png").to_vec(),
        }
    })
}

/// The longer "about" text apps show: none is configured yet (an empty text, as Mastodon
/// answers before an admin writes one).
async fn extended_description() -> HttpResponse {
    HttpResponse::Ok().json(json!({ "updated_at": null, "content": "" }))
}

/// Translation is not offered (`configuration.translation.enabled` is false): no languages.
async fn no_translations() -> HttpResponse {
    HttpResponse::Ok().json(json!({}))
}

async fn empty() -> HttpResponse {
    HttpResponse::Ok().json(json!([]))
}

/// `GET /api/v1/preferences` (`read:accounts`, as Mastodon): the caller's posting defaults
/// (set with `source[...]` in `update_credentials`).
async fn preferences(auth: super::auth::Auth, state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let actor = auth.user("read:accounts")?.actor.id;
    let defaults = state.db.run(move |c| guildhall_storage::accounts::posting_defaults(c, actor)).await?;
    Ok(HttpResponse::Ok().json(json!({
        "posting:default:visibility": defaults.visibility.as_str(),
        "posting:default:sensitive": defaults.sensitive,
        "posting:default:language": defaults.language,
        "reading:expand:media": "default", "reading:expand:spoilers": false,
    })))
}

async fn peers(state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let domains = state.db.run(guildhall_storage::instances::domains).await?;
    Ok(HttpResponse::Ok().json(domains))
}

/// The rules as Mastodon lists them: `{id, text, hint}`, ids counting from 1.
fn rules(about: &guildhall_storage::instance_settings::InstanceSettings) -> serde_json::Value {
    about
        .rules
        .iter()
        .enumerate()
        .map(|(i, text)| json!({ "id": (i + 1).to_string(), "text": text, "hint": "" }))
        .collect()
}

/// `GET /api/v1/instance/rules`.
async fn instance_rules(state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let about = state.db.run(guildhall_storage::instance_settings::get).await?;
    Ok(HttpResponse::Ok().json(rules(&about)))
}

/// `GET /api/v1/instance/domain_blocks`: the domains this server limits or suspends, with
/// the admins' public comment (never the private one), as Mastodon lists them.
async fn domain_blocks(state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let blocks = state.db.run(guildhall_storage::instance_blocks::list).await?;
    let body: Vec<serde_json::Value> = blocks
        .iter()
        .map(|b| {
            serde_json::json!({
                "domain": b.domain,
                "digest": guildhall_core::keys::sha256_hex(&b.domain),
                "severity": b.severity,
                "comment": b.public_comment,
            })
        })
        .collect();
    Ok(HttpResponse::Ok().json(body))
}

/// Where apps open the streaming API: our base URL with the WebSocket scheme.
fn streaming_url(state: &AppState) -> String {
    let base = state.urls.base();
    match base.strip_prefix("https://") {
        Some(rest) => format!("wss://{rest}"),
        None => format!("ws://{}", base.trim_start_matches("http://")),
    }
}

fn configuration(state: &AppState) -> serde_json::Value {
    json!({
        "urls": { "streaming": streaming_url(state) },
        // Featured tags cannot be set here (their lists answer empty): none are offered.
        "accounts": { "max_featured_tags": 0, "max_pinned_statuses": 5, "max_profile_fields": super::accounts::MAX_PROFILE_FIELDS },
        "statuses": { "max_characters": 5000, "max_media_attachments": 4, "characters_reserved_per_url": 23 },
        "media_attachments": {
            "supported_mime_types": ["image/jpeg", "image/png", "image/gif", "image/webp"],
            "image_size_limit": 16777216, "image_matrix_limit": 33177600,
            "video_size_limit": 0, "video_frame_rate_limit": 0, "video_matrix_limit": 0,
        },
        "polls": { "max_options": 4, "max_characters_per_option": 50, "min_expiration": 300, "max_expiration": 2629746 },
        "translation": { "enabled": false },
    })
}

async fn v1(state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let users = state.db.run(guildhall_storage::accounts::count).await?;
    let posts = state.db.run(guildhall_storage::statuses::count_local).await?;
    let domains = state.db.run(guildhall_storage::instances::domains).await?.len();
    let domain = state.config.domain.to_string();
    let config = state.live_config().await?;
    let (open, approval) = registrations(&config);
    let about = state.db.run(guildhall_storage::instance_settings::get).await?;
    let short =
        if about.description.is_empty() { "A Guildhall instance" } else { about.description.as_str() };
    Ok(HttpResponse::Ok().json(json!({
        "uri": domain, "title": about.title_or(&domain), "short_description": short, "description": about.description,
        "email": about.contact_email, "version": version(), "urls": { "streaming_api": streaming_url(&state) },
        "stats": { "user_count": users, "status_count": posts, "domain_count": domains },
        "thumbnail": format!("{}/thumbnail.png", state.urls.base()), "languages": ["en"], "registrations": open, "approval_required": approval,
        "invites_enabled": false, "configuration": configuration(&state), "contact_account": null, "rules": rules(&about),
    })))
}

/// Whether sign-ups are open (`enabled`), and whether they wait for approval.
fn registrations(config: &guildhall_core::Config) -> (bool, bool) {
    use guildhall_core::config::RegistrationMode as M;
    (config.registrations != M::Closed, config.registrations == M::Approval)
}

async fn v2(state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let month_ago = guildhall_storage::now() - chrono::Duration::days(30);
    let users = state.db.run(move |c| guildhall_storage::accounts::count_active(c, month_ago)).await?;
    let domain = state.config.domain.to_string();
    let config = state.live_config().await?;
    let (open, approval) = registrations(&config);
    let about = state.db.run(guildhall_storage::instance_settings::get).await?;
    let description =
        if about.description.is_empty() { "A Guildhall instance" } else { about.description.as_str() };
    Ok(HttpResponse::Ok().json(json!({
        "domain": domain, "title": about.title_or(&domain), "version": version(), "source_url": env!("CARGO_PKG_REPOSITORY"),
        "description": description, "usage": { "users": { "active_month": users } },
        "thumbnail": { "url": format!("{}/thumbnail.png", state.urls.base()) }, "languages": ["en"],
        "configuration": configuration(&state),
        "registrations": {
            "enabled": open, "approval_required": approval, "url": null,
            "message": (!open).then_some(super::registrations::CLOSED),
            "reason_required": approval && config.registrations_reason_required,
        },
        "api_versions": { "mastodon": 2 },
        "contact": { "email": about.contact_email, "account": null }, "rules": rules(&about),
    })))
}
