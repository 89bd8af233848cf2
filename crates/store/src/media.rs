//! Records of media files: what each attachment id names, by the SHA-256 of its bytes.

use crate::*;
use async_trait::async_trait;
use switchboard_domain::*;

/// Media stored for a Page: uploaded, fetched from a URL, or sent by a person. The
/// bytes are a file named by their SHA-256 (`digest`); this record knows their type.
#[derive(Debug, Clone, PartialEq)]
pub struct AttachmentRecord {
    pub id: String,
    pub page: PageId,
    /// `image`, `audio`, `video` or `file`.
    pub kind: String,
    pub digest: String,
    pub mime: String,
    /// Bytes.
    pub size: u64,
    pub file_name: Option<String>,
    /// Only a reusable attachment may be sent again by its id.
    pub reusable: bool,
    pub created_at: Millis,
    /// The person who sent it (erased with them); `None` for a Page's media.
    pub sent_by: Option<PersonId>,
}

#[async_trait]
pub trait MediaStore: Send + Sync + 'static {
    async fn insert_attachment(&self, attachment: AttachmentRecord) -> StoreResult<()>;
    async fn attachment(&self, id: &str) -> StoreResult<Option<AttachmentRecord>>;
    /// The media type stored with these bytes, if any attachment holds them.
    async fn media_type(&self, digest: &str) -> StoreResult<Option<String>>;
}
