//! Forms sent by browsers: parsed into typed structs at the edge (a wrong or missing field is a
//! 422 that names it), checked for a same-site origin and the session's CSRF token, and
//! answered by a redirect to a page of ours.

use actix_web::HttpRequest;
use actix_web::http::header::{HeaderValue, LOCATION, ORIGIN};
use actix_web::web::Bytes;
use guildhall_federation::FedData;
use serde::de::DeserializeOwned;

use crate::error::PageError;

/// Parses an `application/x-www-form-urlencoded` body into `T`; a wrong or missing field is a
/// 422 that names it.
pub fn parse<T: DeserializeOwned>(body: &Bytes) -> Result<T, PageError> {
    let fields = serde_urlencoded::Deserializer::new(form_urlencoded::parse(body));
    serde_path_to_error::deserialize(fields).map_err(|e| {
        let field = e.path().to_string();
        match field.as_str() {
            "." | "" => PageError::Invalid(format!("The form is not valid: {}", e.inner())),
            _ => PageError::Invalid(format!("{field}: {}", e.inner())),
        }
    })
}

/// A page's query string parsed into `T`; a wrong field is a 422 page that names it (not the
/// API's JSON error).
#[derive(Debug)]
pub struct Query<T>(pub T);

impl<T: DeserializeOwned> actix_web::FromRequest for Query<T> {
    type Error = PageError;
    type Future = std::future::Ready<Result<Query<T>, PageError>>;

    fn from_request(req: &HttpRequest, _: &mut actix_web::dev::Payload) -> Self::Future {
        let fields =
            serde_urlencoded::Deserializer::new(form_urlencoded::parse(req.query_string().as_bytes()));
        std::future::ready(
            serde_path_to_error::deserialize(fields)
                .map(Query)
                .map_err(|e| PageError::Invalid(format!("{}: {}", e.path(), e.inner()))),
        )
    }
}

/// 403 when the request comes from another site's page (its `Origin` is not ours). Browsers
/// send `Origin` with every form post; a request without one (a script, curl) still needs the
/// CSRF token, which no other site can read.
pub fn same_origin(request: &HttpRequest, data: &FedData) -> Result<(), PageError> {
    let Some(origin) = request.headers().get(ORIGIN) else { return Ok(()) };
    let ours = data.urls.base().trim_end_matches('/');
    if origin.as_bytes() == ours.as_bytes() {
        Ok(())
    } else {
        Err(PageError::Forbidden("This form was sent from another site".into()))
    }
}

/// A path of ours to go back to: it starts with one `/` (never `//host` or `/\host`, which
/// browsers read as another site) and has no control characters; anything else is `/`.
pub fn local_path(next: Option<&str>) -> String {
    match next {
        Some(p)
            if p.starts_with('/')
                && !p.starts_with("//")
                && !p.starts_with("/\\")
                && !p.chars().any(|c| c.is_control() || c == '\\')
                && p.len() <= 2000 =>
        {
            p.to_owned()
        }
        _ => "/".to_owned(),
    }
}

/// `303 See Other` to `to` (a page of ours), after a form post.
pub fn see_other(to: &str) -> actix_web::HttpResponse {
    let value = HeaderValue::from_str(to).unwrap_or(HeaderValue::from_static("/"));
    actix_web::HttpResponse::SeeOther().insert_header((LOCATION, value)).finish()
}

/// Percent-encodes `text` for a query string value.
pub fn encode(text: &str) -> String {
    serde_urlencoded::to_string([("", text)]).map(|s| s[1..].to_owned()).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_our_own_paths_are_gone_back_to() {
        assert_eq!(local_path(Some("/@ada/1?x=y")), "/@ada/1?x=y");
        for hostile in
            ["//evil.example/", "/\\evil.example", "https://evil.example/", "javascript:x", "/a\nb"]
        {
            assert_eq!(local_path(Some(hostile)), "/", "{hostile}");
        }
        assert_eq!(local_path(None), "/");
        assert_eq!(encode("/@ada/1?x=y&z"), "%2F%40ada%2F1%3Fx%3Dy%26z");
    }
}

/// The largest form body with an image a page accepts (the API's image limit, with room for
/// the text fields).
pub const MAX_MULTIPART_BYTES: usize = 17 * 1024 * 1024;

/// Fields a multipart form may have (ours have fewer than ten).
const MAX_PARTS: usize = 32;

/// A form as a browser sends it: text fields, and at most one image.
#[derive(Debug, Default)]
pub struct Sent {
    /// Text fields, in order.
    pub fields: Vec<(String, String)>,
    /// File fields with a file chosen (name, bytes).
    pub files: Vec<(String, Bytes)>,
}

impl Sent {
    /// The file sent in field `name`, if one was chosen.
    pub fn file(&self, name: &str) -> Option<Bytes> {
        self.files.iter().find(|(n, _)| n == name).map(|(_, b)| b.clone())
    }

    /// The text fields parsed into `T` (a 422 naming a wrong field).
    pub fn parse<T: DeserializeOwned>(&self) -> Result<T, PageError> {
        let encoded =
            serde_urlencoded::to_string(&self.fields).map_err(|e| PageError::Internal(e.to_string()))?;
        parse(&Bytes::from(encoded))
    }
}

fn malformed(e: impl std::fmt::Display) -> PageError {
    PageError::Invalid(format!("The form could not be read: {e}"))
}

/// Reads a form body: `application/x-www-form-urlencoded`, or `multipart/form-data` within
/// [`MAX_MULTIPART_BYTES`] (a larger one is refused as soon as it passes the limit).
pub async fn read(request: &HttpRequest, payload: actix_web::web::Payload) -> Result<Sent, PageError> {
    use futures::StreamExt;
    let kind = request.headers().get(actix_web::http::header::CONTENT_TYPE).and_then(|v| v.to_str().ok());
    let multipart = kind.is_some_and(|k| k.to_ascii_lowercase().starts_with("multipart/form-data"));
    let mut total = 0usize;
    if !multipart {
        let mut body = actix_web::web::BytesMut::new();
        let mut payload = payload;
        while let Some(chunk) = payload.next().await {
            let chunk = chunk.map_err(malformed)?;
            total += chunk.len();
            if total > 1024 * 1024 {
                return Err(PageError::Invalid("The form is too large".into()));
            }
            body.extend_from_slice(&chunk);
        }
        let fields: Vec<(String, String)> =
            form_urlencoded::parse(&body).map(|(k, v)| (k.into_owned(), v.into_owned())).collect();
        return Ok(Sent { fields, files: Vec::new() });
    }
    let mut form = actix_multipart::Multipart::new(request.headers(), payload);
    let mut sent = Sent::default();
    let mut parts = 0usize;
    while let Some(field) = form.next().await {
        parts += 1;
        if parts > MAX_PARTS {
            return Err(PageError::Invalid(format!("The form has more than {MAX_PARTS} fields")));
        }
        let mut field = field.map_err(malformed)?;
        let name = field.name().unwrap_or_default().to_owned();
        if name.len() > 64 {
            return Err(PageError::Invalid("The form has a field with a name too long".into()));
        }
        let has_file = field.content_disposition().and_then(|d| d.get_filename()).is_some();
        let mut data = actix_web::web::BytesMut::new();
        while let Some(chunk) = field.next().await {
            let chunk = chunk.map_err(malformed)?;
            total += chunk.len();
            if total > MAX_MULTIPART_BYTES {
                return Err(PageError::Invalid(format!(
                    "image: the form is larger than {} MiB",
                    MAX_MULTIPART_BYTES >> 20
                )));
            }
            data.extend_from_slice(&chunk);
        }
        match (has_file, name.as_str()) {
            // An unused file input arrives as an empty part: nothing was chosen.
            (true, _) if !data.is_empty() => sent.files.push((name, data.freeze())),
            (true, _) => {}
            (false, _) => sent.fields.push((name, String::from_utf8(data.to_vec()).map_err(malformed)?)),
        }
    }
    Ok(sent)
}
