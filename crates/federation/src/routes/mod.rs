//! Federation HTTP routes: discovery, actors, objects, collections and inboxes.

mod actors;
mod discovery;
mod objects;

pub use actors::actor_response;
pub use objects::status_document;

use actix_web::http::header::{ACCEPT, CONTENT_TYPE};
use actix_web::web::{self, Bytes};
use actix_web::{HttpRequest, HttpResponse};
use serde_json::Value;

use crate::error::FedError;
use crate::state::FedData;

/// Registers every federation route.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/.well-known/webfinger", web::get().to(discovery::webfinger))
        .route("/.well-known/host-meta", web::get().to(discovery::host_meta))
        .route("/.well-known/nodeinfo", web::get().to(discovery::nodeinfo_links))
        .route("/nodeinfo/{version}", web::get().to(discovery::nodeinfo))
        .route("/inbox", web::post().to(inbox))
        .route("/actor", web::get().to(actors::instance_actor))
        .route("/actor/inbox", web::post().to(inbox))
        .route("/users/{name}", web::get().to(actors::person))
        .route("/groups/{name}", web::get().to(actors::group))
        .route("/{kind:users|groups}/{name}/inbox", web::post().to(inbox))
        .route("/{kind:users|groups}/{name}/outbox", web::get().to(actors::outbox))
        .route("/{kind:users|groups}/{name}/followers", web::get().to(actors::followers))
        .route("/{kind:users|groups}/{name}/following", web::get().to(actors::following))
        .route("/groups/{name}/moderators", web::get().to(actors::moderators))
        .route("/{kind:users|groups}/{name}/collections/featured", web::get().to(actors::featured))
        .route("/{kind:users|groups}/{name}/statuses/{id}", web::get().to(objects::status))
        .route("/{kind:users|groups}/{name}/statuses/{id}/activity", web::get().to(objects::status))
        .route("/activities/{id}", web::get().to(objects::activity));
}

async fn inbox(request: HttpRequest, body: Bytes, data: FedData) -> Result<HttpResponse, FedError> {
    crate::inbox::receive(&request, body, data).await
}

/// True when the client asked for ActivityPub JSON rather than a page.
pub fn wants_activity_json(request: &HttpRequest) -> bool {
    request.headers().get(ACCEPT).and_then(|v| v.to_str().ok()).is_some_and(|accept| {
        accept.contains("application/activity+json") || accept.contains("application/ld+json")
    })
}

/// An ActivityPub JSON response.
pub fn activity_json(doc: &Value) -> HttpResponse {
    HttpResponse::Ok()
        .insert_header((CONTENT_TYPE, crate::AP_CONTENT_TYPE))
        .insert_header(("Vary", "Accept"))
        .body(doc.to_string())
}

/// `410 Gone` with a Tombstone.
pub fn tombstone(id: &str) -> HttpResponse {
    let doc = crate::protocol::with_context(serde_json::json!({ "id": id, "type": "Tombstone" }));
    HttpResponse::Gone().insert_header((CONTENT_TYPE, crate::AP_CONTENT_TYPE)).body(doc.to_string())
}
