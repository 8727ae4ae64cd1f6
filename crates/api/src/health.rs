//! `GET /health`: 200 when the database answers, 503 when it does not.

use actix_web::{HttpResponse, get, web};
use serde_json::json;

use crate::{ApiError, AppState};

/// Liveness and readiness in one: load balancers and orchestrators probe it.
#[get("/health")]
pub async fn health(state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    if state.db.ping().await {
        Ok(HttpResponse::Ok().json(json!({ "status": "ok" })))
    } else {
        Err(ApiError::Unavailable("database unavailable".into()))
    }
}
