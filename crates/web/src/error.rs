//! What can go wrong on a page, and the page that says so.
//!
//! Inside, handlers return typed errors; at the edge each becomes a page with the right status:
//! 404 for what is missing or not for these eyes, 403 for a refused action or a stale form,
//! 422 for a form with a wrong field (named), 429 when a limit is reached, 303 to the sign-in
//! page for a page that needs a session. Anything unexpected is a logged 500 whose page says
//! nothing of the cause.

use actix_web::http::StatusCode;
use actix_web::http::header::{CONTENT_TYPE, LOCATION};
use actix_web::{HttpResponse, ResponseError};
use askama::Template;
use guildhall_storage::StorageError;

/// A page that could not be served.
#[derive(Debug)]
pub enum PageError {
    /// 404: not there, or not for this viewer's eyes.
    NotFound,
    /// 403: the viewer may not do this, or the form is stale (the message says which).
    Forbidden(String),
    /// 422: a form field is wrong (the message names it).
    Invalid(String),
    /// 429: a rate limit.
    TooMany(String),
    /// 303 to the sign-in page, coming back to this path afterwards.
    SignIn(String),
    /// 500, logged; the page says nothing of the cause.
    Internal(String),
}

impl std::fmt::Display for PageError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            PageError::NotFound => f.write_str("This page does not exist, or is not public"),
            PageError::Forbidden(m) | PageError::Invalid(m) | PageError::TooMany(m) => f.write_str(m),
            PageError::SignIn(_) => f.write_str("Please sign in"),
            PageError::Internal(_) => f.write_str("Something went wrong on our side"),
        }
    }
}

impl From<StorageError> for PageError {
    fn from(e: StorageError) -> PageError {
        match e {
            StorageError::NotFound => PageError::NotFound,
            StorageError::Conflict(what) => PageError::Invalid(what),
            other => PageError::Internal(other.to_string()),
        }
    }
}

impl From<guildhall_federation::FedError> for PageError {
    fn from(e: guildhall_federation::FedError) -> PageError {
        use guildhall_federation::FedError as F;
        match e {
            // An unsigned or unauthorised fetch of a private post looks like a missing one.
            F::NotFound | F::Gone | F::Unauthorized(_) => PageError::NotFound,
            F::BadRequest(why) => PageError::Invalid(why),
            F::Forbidden(why) => PageError::Forbidden(why),
            F::Storage(s) => s.into(),
            other => PageError::Internal(other.to_string()),
        }
    }
}

impl From<askama::Error> for PageError {
    fn from(e: askama::Error) -> PageError {
        PageError::Internal(e.to_string())
    }
}

impl From<guildhall_core::limits::Limited> for PageError {
    fn from(e: guildhall_core::limits::Limited) -> PageError {
        PageError::TooMany(e.0.to_owned())
    }
}

#[derive(Template)]
#[template(path = "error.html")]
struct ErrorPage<'a> {
    site: &'a str,
    nav: crate::session::Nav,
    title: &'a str,
    detail: &'a str,
}

impl ResponseError for PageError {
    fn status_code(&self) -> StatusCode {
        match self {
            PageError::NotFound => StatusCode::NOT_FOUND,
            PageError::Forbidden(_) => StatusCode::FORBIDDEN,
            PageError::Invalid(_) => StatusCode::UNPROCESSABLE_ENTITY,
            PageError::TooMany(_) => StatusCode::TOO_MANY_REQUESTS,
            PageError::SignIn(_) => StatusCode::SEE_OTHER,
            PageError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn error_response(&self) -> HttpResponse {
        if let PageError::SignIn(next) = self {
            let to = format!("/auth/sign_in?next={}", crate::forms::encode(next));
            return HttpResponse::SeeOther().insert_header((LOCATION, to)).finish();
        }
        if let PageError::Internal(cause) = self {
            tracing::error!(error = %cause, "page failed");
        }
        let title = self.to_string();
        let detail = match self {
            PageError::Invalid(_) => "Go back, correct the form and send it again.",
            PageError::Forbidden(_) => "If you were signed in, your session may have ended: sign in again.",
            _ => "",
        };
        let page =
            ErrorPage { site: "Guildhall", nav: crate::session::Nav::default(), title: &title, detail };
        let body = page.render().unwrap_or_else(|_| title.clone());
        HttpResponse::build(self.status_code())
            .insert_header((CONTENT_TYPE, crate::pages::HTML))
            .insert_header(("Vary", "Accept, Cookie"))
            .body(body)
    }
}
