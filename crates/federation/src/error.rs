//! The federation layer's error type and how it maps to HTTP.

use actix_web::HttpResponse;
use actix_web::http::StatusCode;
use guildhall_storage::StorageError;
use thiserror::Error;

use crate::signing::SignatureError;

/// What can go wrong handling federation traffic.
#[derive(Debug, Error)]
pub enum FedError {
    /// 400: the document is malformed or inconsistent.
    #[error("{0}")]
    BadRequest(String),
    /// 401: no valid signature, or the signer's key cannot be had.
    #[error("{0}")]
    Unauthorized(String),
    /// 403: signed, but not allowed (wrong actor, blocked domain).
    #[error("{0}")]
    Forbidden(String),
    /// 404: no such actor or object here.
    #[error("not found")]
    NotFound,
    /// 410: it was here and was deleted.
    #[error("gone")]
    Gone,
    /// Fetching or verifying a remote document failed.
    #[error("federation: {0}")]
    Federation(#[from] activitypub_federation::error::Error),
    /// The database failed.
    #[error(transparent)]
    Storage(StorageError),
    /// Anything else unexpected.
    #[error("{0}")]
    Internal(String),
}

impl From<StorageError> for FedError {
    fn from(e: StorageError) -> Self {
        match e {
            StorageError::NotFound => FedError::NotFound,
            StorageError::Forbidden(why) => FedError::Forbidden(why),
            other => FedError::Storage(other),
        }
    }
}

impl From<SignatureError> for FedError {
    fn from(e: SignatureError) -> Self {
        FedError::Unauthorized(e.to_string())
    }
}

impl From<serde_json::Error> for FedError {
    fn from(e: serde_json::Error) -> Self {
        FedError::BadRequest(format!("malformed JSON: {e}"))
    }
}

impl From<url::ParseError> for FedError {
    fn from(e: url::ParseError) -> Self {
        FedError::BadRequest(format!("bad URL: {e}"))
    }
}

impl actix_web::ResponseError for FedError {
    fn status_code(&self) -> StatusCode {
        match self {
            FedError::BadRequest(_) => StatusCode::BAD_REQUEST,
            FedError::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            FedError::Forbidden(_) => StatusCode::FORBIDDEN,
            FedError::NotFound => StatusCode::NOT_FOUND,
            FedError::Gone => StatusCode::GONE,
            FedError::Federation(_) => StatusCode::BAD_REQUEST,
            FedError::Storage(StorageError::Pool(_) | StorageError::Connection(_)) => {
                StatusCode::SERVICE_UNAVAILABLE
            }
            FedError::Storage(_) | FedError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn error_response(&self) -> HttpResponse {
        let status = self.status_code();
        let message = if status.is_server_error() {
            tracing::error!(error = %self, "federation request failed");
            status.canonical_reason().unwrap_or("error").to_owned()
        } else {
            self.to_string()
        };
        HttpResponse::build(status).json(serde_json::json!({ "error": message }))
    }
}
