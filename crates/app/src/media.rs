//! Media attachments: the content-addressed files on disk, the Attachment Upload
//! API, resolving what a Send API message names (a URL to fetch, an upload, an
//! `attachment_id`), and serving the bytes back by URL to persons and bots.
//!
//! Bytes are stored once per SHA-256, in `<dir>/<first two hex>/<digest>`, written to
//! a temporary file, synced and renamed, so a file that exists is whole. Fetching a
//! URL goes through the [`MediaFetcher`] (HTTP lives in `delivery`).

use crate::core::Core;
use crate::{AppError, AppResult, Caller};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use async_trait::async_trait;
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};
use std::time::Duration;
use switchboard_domain::content::{parse_message, Attachment, MediaKind, MediaSource};
use switchboard_domain::media;
use switchboard_domain::params::Params;
use switchboard_domain::*;
use switchboard_store::AttachmentRecord;

/// A file that came with a request (a multipart part, or a person's upload).
#[derive(Debug, Clone, Default)]
pub struct Upload {
    pub bytes: Vec<u8>,
    /// The part's `Content-Type`, if it named one.
    pub mime: Option<String>,
    pub file_name: Option<String>,
}

/// What fetching a URL brought back.
pub struct Fetched {
    pub bytes: Vec<u8>,
    pub mime: Option<String>,
}

#[derive(Debug)]
pub enum FetchError {
    /// The body grew past the allowed size.
    TooLarge,
    TimedOut,
    /// Anything else: refused address, connection, HTTP status. Said to the bot.
    Failed(String),
}

/// Downloads attachments named by URL, within a size and a time bound.
#[async_trait]
pub trait MediaFetcher: Send + Sync + 'static {
    async fn fetch(&self, url: &str, max_bytes: u64, timeout: Duration) -> Result<Fetched, FetchError>;
}

/// How long fetching an attachment may take.
#[derive(Debug, Clone, Copy)]
pub struct FetchTimeouts {
    pub video: Duration,
    pub other: Duration,
}

impl Default for FetchTimeouts {
    fn default() -> Self {
        Self { video: Duration::from_millis(media::VIDEO_FETCH_TIMEOUT_MS), other: Duration::from_millis(media::FETCH_TIMEOUT_MS) }
    }
}

/// The files, by SHA-256.
pub struct MediaFiles {
    dir: PathBuf,
    /// Whether the last write found the disk full: a full disk is logged when it
    /// begins to refuse uploads and when it takes them again, not for every upload.
    full: AtomicBool,
}

fn is_digest(text: &str) -> bool {
    text.len() == 64 && text.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

impl MediaFiles {
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        Self { dir: dir.into(), full: AtomicBool::new(false) }
    }

    fn path(&self, digest: &str) -> PathBuf {
        self.dir.join(&digest[..2]).join(digest)
    }

    /// Stores the bytes (once) and answers their digest. A write that fails leaves no
    /// file behind.
    pub async fn put(&self, bytes: &[u8]) -> std::io::Result<String> {
        let written = self.write(bytes).await;
        match &written {
            Err(error) if is_storage_full(error) && !self.full.swap(true, Ordering::Relaxed) => {
                let dir = self.dir.display();
                tracing::error!(%dir, %error, "the media directory's disk is full: uploads are refused as temporary failures until space returns");
            }
            Ok(_) if self.full.swap(false, Ordering::Relaxed) => {
                tracing::warn!(dir = %self.dir.display(), "the media directory's disk has room again: uploads are stored again");
            }
            _ => {}
        }
        written
    }

    async fn write(&self, bytes: &[u8]) -> std::io::Result<String> {
        let digest = hex::encode(Sha256::digest(bytes));
        let path = self.path(&digest);
        if tokio::fs::try_exists(&path).await? {
            return Ok(digest);
        }
        let folder = path.parent().unwrap_or(Path::new("."));
        // Only the node's own user may read what persons and bots sent (the URL is
        // the secret; the directory must not be another one).
        let mut folders = tokio::fs::DirBuilder::new();
        folders.recursive(true);
        #[cfg(unix)]
        folders.mode(0o700);
        folders.create(folder).await?;
        let temporary = folder.join(format!(".{digest}.{}", random_node_id()));
        let mut options = tokio::fs::OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        options.mode(0o600);
        let mut file = options.open(&temporary).await?;
        let whole = async {
            tokio::io::AsyncWriteExt::write_all(&mut file, bytes).await?;
            // tokio hands the last write to a blocking task and reports its failure
            // (a full disk) only to `flush`, not to `sync_all`: without it, the
            // part written would be renamed to the whole file's digest.
            tokio::io::AsyncWriteExt::flush(&mut file).await?;
            file.sync_all().await
        }
        .await;
        drop(file);
        if let Err(error) = whole {
            // A partial file takes the room the next upload needs.
            let _ = tokio::fs::remove_file(&temporary).await;
            return Err(error);
        }
        tokio::fs::rename(&temporary, &path).await?;
        // The rename itself is durable only once the folder is synced.
        tokio::fs::File::open(folder).await?.sync_all().await?;
        Ok(digest)
    }

    /// Deletes the file of these bytes (once no record names them); a file already
    /// gone is not an error.
    pub async fn remove(&self, digest: &str) -> std::io::Result<()> {
        if !is_digest(digest) {
            return Ok(());
        }
        match tokio::fs::remove_file(self.path(digest)).await {
            Err(error) if error.kind() != std::io::ErrorKind::NotFound => Err(error),
            _ => Ok(()),
        }
    }
}

fn is_storage_full(error: &std::io::Error) -> bool {
    matches!(error.kind(), std::io::ErrorKind::StorageFull | std::io::ErrorKind::QuotaExceeded)
}

/// A disk failure is the platform's, not the client's: a full disk is a temporary
/// failure (logged by `MediaFiles` once), anything else is logged at the boundary
/// and answered as code 1.
fn disk(error: std::io::Error) -> AppError {
    if is_storage_full(&error) {
        AppError::StorageFull { context: "the media directory's disk is full".into(), source: Some(Box::new(error)) }
    } else {
        AppError::internal("cannot write a media file", error)
    }
}

/// Media attachments: stored once per SHA-256, named by URL, upload or id.
#[derive(Clone)]
pub struct Media {
    pub(crate) core: Arc<Core>,
    fetcher: Arc<dyn MediaFetcher>,
    files: Arc<MediaFiles>,
}

impl Media {
    pub(crate) fn new(core: Arc<Core>, fetcher: Arc<dyn MediaFetcher>) -> Self {
        let files = Arc::new(MediaFiles::new(core.settings.media_dir.clone()));
        Self { core, fetcher, files }
    }

    /// `POST /{page-id}/message_attachments` (Page token): stores the media named by URL
    /// or uploaded as `filedata`, and answers its `attachment_id`.
    pub async fn upload_attachment(&self, caller: &Caller, page_ref: &PageRef, params: &Params, upload: Option<Upload>) -> AppResult<String> {
        let (page, _) = self.core.own_page_to_message(caller, page_ref)?;
        let message = params.object("message")?.ok_or_else(|| Refusal::missing_param("message"))?;
        let (kind, source) = match parse_message(&message)?.attachment {
            Some(Attachment::Media { kind, source, .. }) => (kind, source),
            _ => return Err(Refusal::invalid_param("message.attachment must be an image, audio, video or file attachment").into()),
        };
        if let MediaSource::AttachmentId(_) = source {
            return Err(Refusal::invalid_param("message.attachment.payload must give a url or come with filedata").into());
        }
        // An uploaded attachment exists to be sent again: it is reusable by nature.
        let record = self.store_media(&page.id, kind, &source, upload, true).await?;
        Ok(record.id)
    }

    /// The attachment a message names: fetched, uploaded, or an earlier reusable one
    /// of this Page (within its 90 days, of the same kind).
    pub(crate) async fn store_media(&self, page: &PageId, kind: MediaKind, source: &MediaSource, upload: Option<Upload>, reusable: bool) -> AppResult<AttachmentRecord> {
        self.store_media_of(page, kind, source, upload, reusable, None).await
    }

    /// As [`Self::store_media`], for media a person sent (`sent_by`): erased with them.
    pub(crate) async fn store_media_of(
        &self,
        page: &PageId,
        kind: MediaKind,
        source: &MediaSource,
        upload: Option<Upload>,
        reusable: bool,
        sent_by: Option<PersonId>,
    ) -> AppResult<AttachmentRecord> {
        let (bytes, mime, file_name, fetched) = match source {
            MediaSource::AttachmentId(id) => {
                let record = self.core.store.attachment(id).await?;
                let usable = record.filter(|r| &r.page == page && r.reusable && media::attachment_id_usable(r.created_at, self.core.now()));
                let record = usable.ok_or_else(Refusal::attachment_not_owned)?;
                if record.kind != kind.as_str() {
                    return Err(Refusal::attachment_upload_failed(format!("Attachment {id} is a {} attachment, not a {}.", record.kind, kind.as_str())).into());
                }
                return Ok(record);
            }
            MediaSource::Upload => {
                let upload = upload.ok_or_else(|| Refusal::invalid_param("An attachment without url or attachment_id needs the file as the multipart part filedata"))?;
                let mime = upload.mime.filter(|m| !m.is_empty() && m != "application/octet-stream");
                (upload.bytes, mime, upload.file_name, false)
            }
            MediaSource::Url(url) => {
                let timeouts = self.core.settings.fetch_timeouts;
                let timeout = if kind == MediaKind::Video { timeouts.video } else { timeouts.other };
                let limit = media::max_bytes(kind, true);
                let fetched = self.fetcher.fetch(url, limit, timeout).await.map_err(|error| match error {
                    FetchError::TooLarge => Refusal::attachment_too_large(limit),
                    FetchError::TimedOut if kind == MediaKind::Video => Refusal::video_fetch_timed_out(),
                    FetchError::TimedOut => Refusal::attachment_fetch_failed("The server did not answer in time."),
                    FetchError::Failed(reason) => Refusal::attachment_fetch_failed(reason),
                })?;
                let file_name = url.rsplit('/').next().map(|name| name.split(['?', '#']).next().unwrap_or("").to_string()).filter(|n| !n.is_empty());
                (fetched.bytes, fetched.mime, file_name, true)
            }
        };
        let mime = mime
            .map(|m| m.split(';').next().unwrap_or("").trim().to_ascii_lowercase())
            .filter(|m| !m.is_empty())
            .or_else(|| media::sniff(&bytes).map(str::to_string))
            .unwrap_or_else(|| "application/octet-stream".into());
        media::check_media(kind, &mime, bytes.len() as u64, fetched)?;
        let digest = self.files.put(&bytes).await.map_err(disk)?;
        let record = AttachmentRecord {
            id: random_node_id(),
            page: page.clone(),
            kind: kind.as_str().into(),
            digest,
            mime,
            size: bytes.len() as u64,
            file_name,
            reusable,
            created_at: self.core.now(),
            sent_by,
        };
        self.core.store.insert_attachment(record.clone()).await?;
        Ok(record)
    }

    /// The file behind a media URL and its type, for streaming it; `None` for
    /// anything unknown.
    pub async fn media_file(&self, digest: &str) -> AppResult<Option<(String, PathBuf)>> {
        if !is_digest(digest) {
            return Ok(None);
        }
        let Some(mime) = self.core.store.media_type(digest).await? else { return Ok(None) };
        Ok(Some((mime, self.files.path(digest))))
    }
}

/// An attachment as Meta shows it in events and echoes: its type, and a URL served by
/// Switchboard (with its id, for an attachment the Page may send again).
pub(crate) fn shown_attachment(core: &Core, record: &AttachmentRecord, with_id: bool) -> AppResult<MessageAttachment> {
    let kind = match record.kind.as_str() {
        "image" => AttachmentType::Image,
        "audio" => AttachmentType::Audio,
        "video" => AttachmentType::Video,
        "file" => AttachmentType::File,
        other => return Err(switchboard_store::StoreError::corrupt("kind", other).into()),
    };
    let mut payload = serde_json::json!({"url": core.media_url(&record.digest)});
    if with_id {
        payload["attachment_id"] = serde_json::Value::String(record.id.clone());
    }
    Ok(MessageAttachment { kind, payload })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn files_are_stored_once_by_digest() {
        let dir = std::env::temp_dir().join(format!("switchboard-media-{}", random_node_id()));
        let files = MediaFiles::new(&dir);
        let digest = files.put(b"hello").await.unwrap();
        assert_eq!(digest, "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824");
        assert_eq!(files.put(b"hello").await.unwrap(), digest);
        assert_eq!(std::fs::read(files.path(&digest)).unwrap(), b"hello");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            assert_eq!(std::fs::metadata(files.path(&digest)).unwrap().permissions().mode() & 0o777, 0o600);
            assert_eq!(std::fs::metadata(files.path(&digest).parent().unwrap()).unwrap().permissions().mode() & 0o777, 0o700);
        }
        let _ = std::fs::remove_dir_all(dir);
    }
}
