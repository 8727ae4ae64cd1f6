//! Image uploads as a door other than the API needs them: the API owns decoding, resizing and
//! storing images (with its limits); the web pages store a member's image through this trait,
//! which the server registers as app data (`web::Data<dyn ImageStore>`), so neither door
//! depends on the other.

use actix_web::web::Bytes;

/// Why an upload was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UploadError {
    /// The file is not an image we take, or too large (the message says which).
    #[error("{0}")]
    Invalid(String),
    /// The uploader reached their upload limit.
    #[error("{0}")]
    TooMany(String),
    /// Storing failed on our side.
    #[error("{0}")]
    Internal(String),
}

/// Which picture of a profile.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProfileImage {
    /// The avatar (square, small).
    Avatar,
    /// The header (wide).
    Header,
}

/// Stores images local members upload.
#[async_trait::async_trait]
pub trait ImageStore: Send + Sync {
    /// Processes and stores `bytes` as actor `owner`'s avatar or header; returns its URL (for
    /// `ProfileUpdate`).
    async fn store_profile_image(
        &self,
        owner: i64,
        bytes: Bytes,
        kind: ProfileImage,
    ) -> Result<String, UploadError>;

    /// Processes and stores `bytes` as an unattached attachment of actor `owner`, with its alt
    /// text; returns the attachment's id (for `NewPost::media_ids`).
    async fn store_attachment(
        &self,
        owner: i64,
        bytes: Bytes,
        description: Option<String>,
    ) -> Result<i64, UploadError>;
}
