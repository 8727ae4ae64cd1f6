//! `multipart/form-data` bodies, as apps send uploads (media, avatars) and sometimes plain
//! forms: text fields become parameters, file fields [`Upload`]s.
//!
//! The whole body is bounded: by [`UploadLimit`] where a resource sets one (upload routes),
//! else by the server's ordinary body limit. A body over it is read to the end (so the client
//! gets our answer instead of a broken connection) and refused with 422, as Mastodon refuses
//! files that are too large.

use actix_multipart::Multipart;
use actix_web::HttpRequest;
use actix_web::dev::Payload;
use actix_web::web::{Bytes, BytesMut};
use futures::StreamExt;

use crate::ApiError;
use crate::server::MAX_BODY_BYTES;

/// The largest multipart body a resource accepts (set with `.app_data` on upload routes).
#[derive(Debug, Clone, Copy)]
pub struct UploadLimit(pub usize);

/// Past this much a body over its limit is no longer read: the connection is dropped.
const DRAIN_LIMIT: usize = 64 * 1024 * 1024;

/// A file field of a multipart form.
#[derive(Clone)]
pub struct Upload {
    /// The file name the client gave (not trusted, not used for storage).
    pub filename: Option<String>,
    /// The content type the client claimed (not trusted: files are sniffed).
    pub content_type: Option<String>,
    /// The bytes.
    pub data: Bytes,
}

impl std::fmt::Debug for Upload {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Upload")
            .field("filename", &self.filename)
            .field("content_type", &self.content_type)
            .field("len", &self.data.len())
            .finish()
    }
}

/// The fields of a multipart form, in the order sent.
#[derive(Debug, Default)]
pub struct Form {
    /// Text fields.
    pub fields: Vec<(String, String)>,
    /// File fields.
    pub files: Vec<(String, Upload)>,
}

fn malformed(e: impl std::fmt::Display) -> ApiError {
    ApiError::BadRequest(format!("invalid multipart body: {e}"))
}

/// Reads a whole multipart body, within the request's limit.
pub async fn read(req: &HttpRequest, mut payload: Payload) -> Result<Form, ApiError> {
    let limit = req.app_data::<UploadLimit>().map_or(MAX_BODY_BYTES, |l| l.0);
    let mut body = BytesMut::new();
    let mut total = 0usize;
    while let Some(chunk) = payload.next().await {
        let chunk = chunk.map_err(malformed)?;
        total += chunk.len();
        if total > DRAIN_LIMIT {
            return Err(too_large(limit));
        }
        if total <= limit {
            body.extend_from_slice(&chunk);
        }
    }
    if total > limit {
        return Err(too_large(limit));
    }
    let body = relabel_text_parts(req, body.freeze());
    let stream = futures::stream::once(async move { Ok::<Bytes, actix_web::error::PayloadError>(body) });
    let mut multipart = Multipart::new(req.headers(), stream);
    let mut form = Form::default();
    while let Some(field) = multipart.next().await {
        let mut field = field.map_err(malformed)?;
        let name = field.name().unwrap_or_default().to_owned();
        let filename = field.content_disposition().and_then(|d| d.get_filename()).map(str::to_owned);
        let content_type = field.content_type().map(ToString::to_string);
        let mut data = BytesMut::new();
        while let Some(chunk) = field.next().await {
            data.extend_from_slice(&chunk.map_err(malformed)?);
        }
        match filename {
            // A browser sends an unused file input as an empty part without a file name:
            // nothing was chosen, so nothing is sent (as Mastodon reads it).
            Some(name) if name.is_empty() && data.is_empty() => {}
            Some(_) => form.files.push((name, Upload { filename, content_type, data: data.freeze() })),
            None => {
                let text = String::from_utf8(data.to_vec()).map_err(malformed)?;
                form.fields.push((name, text));
            }
        }
    }
    Ok(form)
}

/// Tusky (OkHttp) labels each text part `Content-Type: multipart/form-data; charset=utf-8`,
/// which a multipart parser takes for a nested body and refuses. A part without a file name
/// is a text field whatever its label, so such labels are rewritten to `text/plain` (same
/// length is not needed: the parser reads headers up to the blank line).
fn relabel_text_parts(req: &HttpRequest, body: Bytes) -> Bytes {
    const NESTED: &[u8] = b"multipart/";
    let Some(boundary) = req
        .headers()
        .get(actix_web::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').find_map(|p| p.trim().strip_prefix("boundary=")))
        .map(|b| format!("--{}", b.trim_matches('"')))
    else {
        return body;
    };
    if !contains(&body, NESTED) {
        return body;
    }
    let mut out = BytesMut::with_capacity(body.len());
    let mut rest: &[u8] = &body;
    while let Some(at) = find(rest, boundary.as_bytes()) {
        let (before, from) = rest.split_at(at + boundary.len());
        out.extend_from_slice(before);
        // The part's headers run to the first blank line.
        let Some(end) = find(from, b"\r\n\r\n") else {
            rest = from;
            break;
        };
        let (headers, after) = from.split_at(end);
        let text = String::from_utf8_lossy(headers);
        let has_file = text.to_ascii_lowercase().contains("filename=");
        if has_file {
            out.extend_from_slice(headers);
        } else {
            let relabelled: Vec<String> = text
                .split("\r\n")
                .map(|line| match line.split_once(':') {
                    Some((name, value))
                        if name.trim().eq_ignore_ascii_case("content-type")
                            && value.trim().to_ascii_lowercase().starts_with("multipart/") =>
                    {
                        "Content-Type: text/plain; charset=utf-8".to_owned()
                    }
                    _ => line.to_owned(),
                })
                .collect();
            out.extend_from_slice(relabelled.join("\r\n").as_bytes());
        }
        rest = after;
    }
    out.extend_from_slice(rest);
    out.freeze()
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    find(haystack, needle).is_some()
}

fn too_large(limit: usize) -> ApiError {
    ApiError::Unprocessable(format!("Validation failed: File must be smaller than {} MiB", limit >> 20))
}
