//! Local media files: processed uploads written to the media directory under random names, and
//! served back at `/media/{file}`.
//!
//! A name is 43 random URL-safe characters (256 bits) and an extension we chose (`.jpg` or
//! `.png`): it cannot be guessed, and a request for anything else is a 404 before the file
//! system is touched, so no path can leave the directory. Files never change once written,
//! so they are served as immutable, with their type fixed (`nosniff`).

pub mod process;

use std::path::{Path, PathBuf};

use actix_web::HttpResponse;
use actix_web::http::header::{CACHE_CONTROL, CONTENT_TYPE};
use actix_web::web::{self, ServiceConfig};
use guildhall_core::keys::random_token;

use crate::{ApiError, AppState};
use process::{Encoded, Output, Processed, Profile};

/// Largest upload accepted, in bytes (Mastodon's image limit).
pub const MAX_UPLOAD_BYTES: usize = 16 * 1024 * 1024;

/// Registers the file route.
pub fn configure(cfg: &mut ServiceConfig) {
    cfg.route("/media/{file}", web::get().to(serve)).route("/media/{file}", web::head().to(serve));
}

/// A processed image written to the media directory.
#[derive(Debug, Clone)]
pub struct Stored {
    /// Its format.
    pub format: Output,
    /// The image's file name and size.
    pub original: StoredFile,
    /// The thumbnail's, when one was made.
    pub preview: Option<StoredFile>,
    /// Its blurhash.
    pub blurhash: Option<String>,
}

/// One written file.
#[derive(Debug, Clone)]
pub struct StoredFile {
    /// Its name in the media directory.
    pub name: String,
    /// Pixel width.
    pub width: u32,
    /// Pixel height.
    pub height: u32,
    /// Size in bytes.
    pub bytes: usize,
}

/// Processes an upload by `profile` and writes the results (off the async threads); a file we
/// do not accept is a 422.
pub async fn store(dir: PathBuf, bytes: web::Bytes, profile: Profile) -> Result<Stored, ApiError> {
    web::block(move || -> Result<Stored, ApiError> {
        let processed = process::process(&bytes, &profile).map_err(|e| match e {
            process::MediaError::Encode(cause) => ApiError::Internal(cause),
            refused => ApiError::Unprocessable(refused.to_string()),
        })?;
        write_all(&dir, processed).map_err(|e| ApiError::Internal(format!("writing media: {e}")))
    })
    .await
    .map_err(|e| ApiError::Internal(e.to_string()))?
}

fn write_all(dir: &Path, processed: Processed) -> std::io::Result<Stored> {
    let extension = processed.format.extension();
    let original = write(dir, extension, &processed.original)?;
    let preview = processed.preview.as_ref().map(|p| write(dir, extension, p)).transpose()?;
    Ok(Stored { format: processed.format, original, preview, blurhash: processed.blurhash })
}

/// Writes one file under a new random name (through a temporary name, so a half-written file
/// is never served).
fn write(dir: &Path, extension: &str, image: &Encoded) -> std::io::Result<StoredFile> {
    let name = format!("{}.{extension}", random_token());
    let partial = dir.join(format!(".{name}.part"));
    std::fs::write(&partial, &image.bytes)?;
    std::fs::rename(&partial, dir.join(&name))?;
    Ok(StoredFile { name, width: image.width, height: image.height, bytes: image.bytes.len() })
}

/// Removes stored files (a deleted upload's); failures are logged, not fatal.
pub async fn remove(dir: PathBuf, names: Vec<String>) {
    let removed = web::block(move || {
        for name in names.into_iter().filter(|n| content_type(n).is_some()) {
            if let Err(e) = std::fs::remove_file(dir.join(&name)) {
                tracing::warn!(file = %name, error = %e, "media file not removed");
            }
        }
    })
    .await;
    if let Err(e) = removed {
        tracing::warn!(error = %e, "media removal did not run");
    }
}

/// The content type of a name we could have written; `None` for any other name.
fn content_type(name: &str) -> Option<&'static str> {
    let (stem, extension) = name.split_once('.')?;
    let random =
        stem.len() == 43 && stem.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    match extension {
        "jpg" if random => Some(Output::Jpeg.mime()),
        "png" if random => Some(Output::Png.mime()),
        _ => None,
    }
}

async fn serve(file: web::Path<String>, state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let not_found = || ApiError::NotFound("Not found".into());
    let mime = content_type(&file).ok_or_else(not_found)?;
    let path = state.config.media_dir.join(file.as_str());
    let bytes = match web::block(move || std::fs::read(path)).await {
        Ok(Ok(bytes)) => bytes,
        Ok(Err(e)) if e.kind() == std::io::ErrorKind::NotFound => return Err(not_found()),
        Ok(Err(e)) => return Err(ApiError::Internal(format!("reading media: {e}"))),
        Err(e) => return Err(ApiError::Internal(e.to_string())),
    };
    Ok(HttpResponse::Ok()
        .insert_header((CONTENT_TYPE, mime))
        .insert_header((CACHE_CONTROL, "public, max-age=31536000, immutable"))
        .insert_header(("X-Content-Type-Options", "nosniff"))
        .insert_header(("Content-Security-Policy", "default-src 'none'; sandbox"))
        .body(bytes))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_names_we_write_are_served() {
        let good = format!("{}.png", "a".repeat(43));
        assert_eq!(content_type(&good), Some("image/png"));
        assert_eq!(content_type(&good.replace(".png", ".jpg")), Some("image/jpeg"));
        for bad in [
            "../guildhall.db".to_owned(),
            format!("{}.svg", "a".repeat(43)),
            format!("{}.png", "a".repeat(42)),
            format!("..{}.png", "a".repeat(41)),
            format!(".{}.png.part", "a".repeat(43)),
            format!("{}.png", "a/".repeat(21) + "a"),
        ] {
            assert_eq!(content_type(&bad), None, "{bad}");
        }
    }
}
