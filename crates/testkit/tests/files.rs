//! What a node keeps on disk and serves from it: media files streamed with `Range`
//! support, and every file of the store and the media directory readable by the
//! node's user only.

use serde_json::Value;
use switchboard_testkit::{TestServer, ALL_CORE_FIELDS};

/// A person sends a file of `size` bytes to the bot's Page; answers its media URL and bytes.
async fn sent_file(server: &TestServer, size: usize) -> (String, Vec<u8>) {
    server.bot("files", ALL_CORE_FIELDS).await;
    let person = server.person("sender").await;
    let client = server.sign_in(&person).await;
    let bytes: Vec<u8> = (0..size).map(|n| (n % 251) as u8).collect();
    let part = reqwest::multipart::Part::bytes(bytes.clone()).file_name("report.bin").mime_str("application/octet-stream").unwrap();
    let response = server
        .http
        .post(format!("{}/person/v1/threads/files/attachments", server.url))
        .bearer_auth(&client.token)
        .multipart(reqwest::multipart::Form::new().part("file", part))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let view: Value = response.json().await.unwrap();
    let url = view.pointer("/attachment/payload/url").and_then(Value::as_str).unwrap_or_else(|| panic!("{view}")).to_string();
    (url, bytes)
}

#[tokio::test]
async fn media_files_are_served_whole_or_by_range() {
    let server = TestServer::start().await;
    let (url, bytes) = sent_file(&server, 3_000_000).await;

    let whole = server.http.get(&url).send().await.unwrap();
    assert_eq!(whole.status(), 200);
    assert_eq!(whole.headers()["accept-ranges"], "bytes");
    assert_eq!(whole.headers()["x-content-type-options"], "nosniff");
    assert_eq!(whole.headers()["content-disposition"], "attachment", "a file that is no image downloads");
    assert_eq!(whole.bytes().await.unwrap(), bytes);

    let part = server.http.get(&url).header("range", "bytes=1000-1999").send().await.unwrap();
    assert_eq!(part.status(), 206);
    assert_eq!(part.headers()["content-range"], "bytes 1000-1999/3000000");
    assert_eq!(part.headers()["content-security-policy"], "sandbox; default-src 'none'", "a range keeps the headers that make a file inert");
    assert_eq!(part.bytes().await.unwrap(), &bytes[1000..2000]);

    let tail = server.http.get(&url).header("range", "bytes=-10").send().await.unwrap();
    assert_eq!(tail.status(), 206);
    assert_eq!(tail.bytes().await.unwrap(), &bytes[bytes.len() - 10..]);

    let past_the_end = server.http.get(&url).header("range", "bytes=5000000-").send().await.unwrap();
    assert_eq!(past_the_end.status(), 416);

    let unknown = server.http.get(format!("{}/media/{}", server.url, "a".repeat(64))).send().await.unwrap();
    assert_eq!(unknown.status(), 404);
    let malformed = server.http.get(format!("{}/media/..%2F..%2Fswitchboard.db", server.url)).send().await.unwrap();
    assert_eq!(malformed.status(), 404);
}

/// Bodies in flight share a memory budget: with room for one upload, uploads at once
/// wait their turn and all arrive.
#[tokio::test]
async fn uploads_beyond_the_body_budget_wait_their_turn() {
    let server = TestServer::start_with(|settings| settings.http.body_memory_mib = 1).await;
    let (_, _) = sent_file(&server, 10).await;
    let person = server.person("uploader").await;
    let client = server.sign_in(&person).await;
    let mut uploads = Vec::new();
    for n in 0..4u8 {
        let http = server.http.clone();
        let url = format!("{}/person/v1/threads/files/attachments", server.url);
        let token = client.token.clone();
        uploads.push(tokio::spawn(async move {
            let part = reqwest::multipart::Part::bytes(vec![n; 8 * 1024 * 1024]).file_name("big.bin").mime_str("application/octet-stream").unwrap();
            http.post(url).bearer_auth(token).multipart(reqwest::multipart::Form::new().part("file", part)).send().await.unwrap().status().as_u16()
        }));
    }
    for upload in uploads {
        assert_eq!(upload.await.unwrap(), 200);
    }
}

#[cfg(unix)]
#[tokio::test]
async fn the_store_and_media_files_are_readable_by_their_owner_only() {
    use std::os::unix::fs::PermissionsExt;
    let parent = tempfile::tempdir().unwrap();
    let data = parent.path().join("data");
    let mut settings = switchboard_testkit::test_settings(&data);
    settings.outbound.allow_private_addresses = true;
    let dir = std::sync::Arc::new(tempfile::tempdir().unwrap());
    let server = TestServer::start_on(dir, settings).await;
    let (url, _) = sent_file(&server, 1000).await;
    let digest = url.rsplit('/').next().unwrap().to_string();

    let mode = |path: &std::path::Path| std::fs::metadata(path).unwrap_or_else(|e| panic!("{}: {e}", path.display())).permissions().mode() & 0o777;
    assert_eq!(mode(&data), 0o700, "the data directory");
    for file in ["switchboard.db", "switchboard.db-wal", "switchboard.db-shm", "master.key"] {
        assert_eq!(mode(&data.join(file)), 0o600, "{file}");
    }
    let media = data.join("media");
    assert_eq!(mode(&media), 0o700, "the media directory");
    assert_eq!(mode(&media.join(&digest[..2])), 0o700);
    assert_eq!(mode(&media.join(&digest[..2]).join(&digest)), 0o600, "a media file");
    server.stop().await;
}
