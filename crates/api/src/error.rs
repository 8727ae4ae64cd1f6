//! The one HTTP error type, and the middleware that makes every error body JSON.

use actix_web::body::{BoxBody, EitherBody, MessageBody};
use actix_web::dev::ServiceResponse;
use actix_web::http::StatusCode;
use actix_web::http::header::{CONTENT_TYPE, HeaderValue};
use actix_web::middleware::ErrorHandlerResponse;
use actix_web::{HttpResponse, ResponseError};
use serde::Serialize;

/// An error answered to an HTTP client.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// 400: the request is malformed or lacks a parameter.
    #[error("{0}")]
    BadRequest(String),
    /// 401: no valid access token.
    #[error("{0}")]
    Unauthorized(String),
    /// 403: the token lacks a scope, or the action is not allowed.
    #[error("{0}")]
    Forbidden(String),
    /// 413: the body is over the route's limit.
    #[error("{0}")]
    PayloadTooLarge(String),
    /// 429: too many attempts.
    #[error("{0}")]
    TooManyRequests(String),
    /// 404: the thing asked for does not exist (or may not be seen).
    #[error("{0}")]
    NotFound(String),
    /// 422: the request was understood but its content is invalid.
    #[error("{0}")]
    Unprocessable(String),
    /// 503: a dependency (the database) is not available.
    #[error("{0}")]
    Unavailable(String),
    /// 500: anything unexpected. The cause is logged, never sent.
    #[error("internal server error")]
    Internal(String),
}

#[derive(Serialize)]
struct ErrorBody<'a> {
    error: &'a str,
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        match self {
            ApiError::BadRequest(_) => StatusCode::BAD_REQUEST,
            ApiError::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            ApiError::Forbidden(_) => StatusCode::FORBIDDEN,
            ApiError::PayloadTooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::TooManyRequests(_) => StatusCode::TOO_MANY_REQUESTS,
            ApiError::NotFound(_) => StatusCode::NOT_FOUND,
            ApiError::Unprocessable(_) => StatusCode::UNPROCESSABLE_ENTITY,
            ApiError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn error_response(&self) -> HttpResponse {
        if let ApiError::Internal(cause) = self {
            tracing::error!(%cause, "internal error");
        }
        json_error(self.status_code(), &self.to_string())
    }
}

impl From<guildhall_storage::StorageError> for ApiError {
    fn from(e: guildhall_storage::StorageError) -> Self {
        use guildhall_storage::StorageError as S;
        match e {
            S::NotFound => ApiError::NotFound("Record not found".into()),
            S::Conflict(what) => ApiError::Unprocessable(what),
            S::Duplicate(detail) => {
                tracing::debug!(%detail, "duplicate refused by the database");
                ApiError::Unprocessable("Validation failed: it already exists".into())
            }
            S::Forbidden(why) => ApiError::Forbidden(why),
            S::Pool(_) | S::Connection(_) => ApiError::Unavailable("database unavailable".into()),
            other => ApiError::Internal(other.to_string()),
        }
    }
}

/// `{"error": message}` with the given status.
pub fn json_error(status: StatusCode, message: &str) -> HttpResponse {
    HttpResponse::build(status).json(ErrorBody { error: message })
}

/// Rewrites error responses that are not JSON yet (ActivityPub's Tombstones are JSON too) (actix's own 404s, 413s, 400s for bad JSON…)
/// into `{"error": "..."}`, keeping their status and using their text when they have one.
/// HTML pages we render on purpose (a sign-up form with its errors, 422) are left alone.
pub fn jsonify_errors<B: MessageBody + 'static>(
    res: ServiceResponse<B>,
) -> actix_web::Result<ErrorHandlerResponse<B>> {
    let is_json_or_page =
        res.headers().get(CONTENT_TYPE).and_then(|v| v.to_str().ok()).is_some_and(|v| {
            (v.starts_with("application/") && v.contains("json")) || v.starts_with("text/html")
        });
    if is_json_or_page {
        return Ok(ErrorHandlerResponse::Response(res.map_into_left_body()));
    }
    let status = res.status();
    let (req, res) = res.into_parts();
    let message = error_text(&res, status);
    let mut json = json_error(status, &message);
    copy_headers(&res, &mut json);
    let res = ServiceResponse::new(req, json).map_into_right_body::<B>();
    Ok(ErrorHandlerResponse::Response(res.map_body(|_, body| EitherBody::right(BoxBody::new(body)))))
}

fn error_text<B>(res: &HttpResponse<B>, status: StatusCode) -> String {
    match res.error() {
        Some(err) => err.to_string(),
        None => status.canonical_reason().unwrap_or("error").to_owned(),
    }
}

fn copy_headers<B>(from: &HttpResponse<B>, to: &mut HttpResponse) {
    for (name, value) in from.headers() {
        if name != CONTENT_TYPE && name != actix_web::http::header::CONTENT_LENGTH {
            to.headers_mut().insert(name.clone(), value.clone());
        }
    }
    to.headers_mut().insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
}

impl From<guildhall_federation::FedError> for ApiError {
    fn from(e: guildhall_federation::FedError) -> Self {
        use guildhall_federation::FedError as F;
        match e {
            F::NotFound | F::Gone => ApiError::NotFound("Record not found".into()),
            F::Forbidden(why) => ApiError::Forbidden(why),
            F::BadRequest(why) => ApiError::Unprocessable(why),
            F::Unauthorized(why) => ApiError::Unprocessable(why),
            F::Storage(s) => s.into(),
            F::Federation(inner) => {
                // What another server (or the network) said stays in our logs.
                tracing::debug!(error = %inner, "remote lookup failed");
                ApiError::NotFound("Record not found".into())
            }
            other => ApiError::Internal(other.to_string()),
        }
    }
}

impl From<guildhall_core::limits::Limited> for ApiError {
    fn from(e: guildhall_core::limits::Limited) -> Self {
        ApiError::TooManyRequests(e.0.into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn database_words_never_reach_a_client() {
        let from_db = guildhall_storage::StorageError::Duplicate("users_email_key (23505)".into());
        let message = ApiError::from(from_db).to_string();
        assert!(!message.contains("users_email_key"), "{message}");
        assert!(message.starts_with("Validation failed"), "{message}");
    }
}
