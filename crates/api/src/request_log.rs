//! The span every request is logged under: method, route, the path with secrets blanked,
//! status, and the client address as rate limits see it (so logs and limits agree, and a
//! stranger's `X-Forwarded-For` is not believed).

use actix_web::Error;
use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use tracing::Span;
use tracing_actix_web::{DefaultRootSpanBuilder, RootSpanBuilder};

/// Query parameters whose values never reach a log line.
const SECRET_PARAMS: [&str; 7] = [
    "access_token",
    "code",
    "client_secret",
    "password",
    "token",
    "reset_password_token",
    "confirmation_token",
];

/// Paths whose last segment is a secret key (mailed links, the personal calendar feed).
const SECRET_PATHS: [&str; 3] = ["/mail/unsubscribe/", "/mail/confirm/", "/calendar/"];

/// Builds the request span (see the module doc).
#[derive(Debug)]
pub struct RequestSpan;

impl RootSpanBuilder for RequestSpan {
    fn on_request_start(request: &ServiceRequest) -> Span {
        let route = request.match_pattern().unwrap_or_else(|| "unmatched".into());
        let client = crate::server::client_ip(request.request()).map(|ip| ip.to_string()).unwrap_or_default();
        tracing::info_span!(
            "HTTP request",
            http.method = %request.method(),
            http.route = %route,
            http.target = %redacted_target(request.path(), request.query_string()),
            http.client_ip = %client,
            http.status_code = tracing::field::Empty,
            otel.status_code = tracing::field::Empty,
            exception.message = tracing::field::Empty,
            exception.details = tracing::field::Empty,
        )
    }

    fn on_request_end<B: MessageBody>(span: Span, outcome: &Result<ServiceResponse<B>, Error>) {
        DefaultRootSpanBuilder::on_request_end(span, outcome);
    }
}

/// `path?query` with the value of every secret parameter replaced by `[redacted]`.
pub fn redacted_target(path: &str, query: &str) -> String {
    let path = match SECRET_PATHS.iter().find(|p| path.starts_with(*p)) {
        Some(prefix) => format!("{prefix}[redacted]"),
        None => path.to_owned(),
    };
    if query.is_empty() {
        return path;
    }
    let parts: Vec<String> = query
        .split('&')
        .map(|pair| {
            // Compared decoded, as the parameters are read (`access%5Ftoken` is `access_token`).
            let name = pair.split('=').next().unwrap_or("");
            let decoded: String =
                url::form_urlencoded::parse(name.as_bytes()).map(|(k, _)| k.into_owned()).collect();
            if SECRET_PARAMS.contains(&decoded.as_str()) {
                format!("{name}=[redacted]")
            } else {
                pair.to_owned()
            }
        })
        .collect();
    format!("{path}?{}", parts.join("&"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_in_the_query_never_reach_the_log() {
        let target = redacted_target("/api/v1/streaming", "stream=user&access_token=s3cret&x=1");
        assert_eq!(target, "/api/v1/streaming?stream=user&access_token=[redacted]&x=1");
        assert!(!redacted_target("/oauth/authorize", "code=abc&client_secret=def").contains("abc"));
        assert_eq!(redacted_target("/health", ""), "/health");
        let encoded = redacted_target("/api/v1/streaming", "access%5Ftoken=s3cret");
        assert!(!encoded.contains("s3cret"), "{encoded}");
        let reset = redacted_target("/auth/password/edit", "reset_password_token=1-2-abc");
        assert!(!reset.contains("abc"), "{reset}");
        assert_eq!(redacted_target("/mail/unsubscribe/g1-abc", ""), "/mail/unsubscribe/[redacted]");
        assert_eq!(redacted_target("/calendar/s3cret.ics", ""), "/calendar/[redacted]");
    }
}
