//! Media attachments' limits and checks (reference §4.4, §9.3): how large a file of
//! each kind may be, whether its media type fits the kind, how long an attachment id
//! can be sent again. Pure; fetching and storing the bytes belong to the app layer.

use crate::content::MediaKind;
use crate::{Millis, Refusal};

/// Largest asset of any kind, uploaded or fetched.
pub const MAX_ASSET_BYTES: u64 = 25 * 1024 * 1024;
/// Largest image fetched from a URL.
pub const MAX_FETCHED_IMAGE_BYTES: u64 = 8 * 1024 * 1024;
/// How long fetching a video may take (Meta: 75 s, then 2018294).
pub const VIDEO_FETCH_TIMEOUT_MS: u64 = 75_000;
/// How long fetching any other kind may take.
pub const FETCH_TIMEOUT_MS: u64 = 30_000;
/// An attachment id can be sent again for 90 days.
pub const ATTACHMENT_ID_LIFETIME_MS: Millis = 90 * 24 * 3600 * 1000;

/// The largest file of this kind, fetched (`fetched`) or uploaded.
pub fn max_bytes(kind: MediaKind, fetched: bool) -> u64 {
    if fetched && kind == MediaKind::Image {
        MAX_FETCHED_IMAGE_BYTES
    } else {
        MAX_ASSET_BYTES
    }
}

/// Checks a file's size and media type against the kind it is sent as.
pub fn check_media(kind: MediaKind, mime: &str, size: u64, fetched: bool) -> Result<(), Refusal> {
    let limit = max_bytes(kind, fetched);
    if size > limit {
        return Err(Refusal::attachment_too_large(limit));
    }
    if size == 0 {
        return Err(Refusal::attachment_upload_failed("The file is empty."));
    }
    let family = mime.split('/').next().unwrap_or("");
    let fits = match kind {
        MediaKind::Image => family == "image",
        MediaKind::Audio => family == "audio",
        MediaKind::Video => family == "video",
        MediaKind::File => true,
    };
    if !fits {
        return Err(Refusal::attachment_upload_failed(format!("A {} attachment cannot be of type {mime}.", kind.as_str())));
    }
    Ok(())
}

/// Whether an attachment id created at `created_at` may still be sent at `now`.
pub fn attachment_id_usable(created_at: Millis, now: Millis) -> bool {
    now - created_at < ATTACHMENT_ID_LIFETIME_MS
}

/// The media type of a file from its first bytes, for uploads that name none.
pub fn sniff(bytes: &[u8]) -> Option<&'static str> {
    let starts = |magic: &[u8]| bytes.starts_with(magic);
    if starts(b"\x89PNG\r\n\x1a\n") {
        Some("image/png")
    } else if starts(b"\xff\xd8\xff") {
        Some("image/jpeg")
    } else if starts(b"GIF87a") || starts(b"GIF89a") {
        Some("image/gif")
    } else if bytes.len() > 12 && &bytes[0..4] == b"RIFF" && &bytes[8..12] == b"WEBP" {
        Some("image/webp")
    } else if bytes.len() > 8 && &bytes[4..8] == b"ftyp" {
        Some("video/mp4")
    } else if starts(b"ID3") || starts(b"\xff\xfb") {
        Some("audio/mpeg")
    } else if starts(b"OggS") {
        Some("audio/ogg")
    } else if starts(b"%PDF-") {
        Some("application/pdf")
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_at_their_limits() {
        assert!(check_media(MediaKind::Image, "image/png", MAX_FETCHED_IMAGE_BYTES, true).is_ok());
        let over = check_media(MediaKind::Image, "image/png", MAX_FETCHED_IMAGE_BYTES + 1, true).unwrap_err();
        assert_eq!((over.code, over.subcode), (100, Some(2018109)));
        assert!(check_media(MediaKind::Image, "image/png", MAX_ASSET_BYTES, false).is_ok(), "uploads may be 25 MB");
        assert!(check_media(MediaKind::File, "application/pdf", MAX_ASSET_BYTES + 1, false).is_err());
        assert!(check_media(MediaKind::Video, "video/mp4", MAX_ASSET_BYTES, true).is_ok());
    }

    #[test]
    fn the_type_must_fit_the_kind() {
        let wrong = check_media(MediaKind::Audio, "text/html", 10, true).unwrap_err();
        assert_eq!((wrong.code, wrong.subcode), (100, Some(2018047)));
        assert!(check_media(MediaKind::Audio, "audio/mpeg", 10, true).is_ok());
        assert!(check_media(MediaKind::File, "text/plain", 10, true).is_ok());
        assert!(check_media(MediaKind::Image, "image/png", 0, false).is_err(), "empty files are refused");
    }

    #[test]
    fn attachment_ids_last_90_days() {
        assert!(attachment_id_usable(0, ATTACHMENT_ID_LIFETIME_MS - 1));
        assert!(!attachment_id_usable(0, ATTACHMENT_ID_LIFETIME_MS));
    }

    #[test]
    fn sniffing() {
        assert_eq!(sniff(b"\x89PNG\r\n\x1a\n...."), Some("image/png"));
        assert_eq!(sniff(b"%PDF-1.7"), Some("application/pdf"));
        assert_eq!(sniff(b"hello"), None);
    }
}
