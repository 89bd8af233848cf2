//! A small filesystem of its own (a tmpfs of a few MiB on a fresh directory), to
//! fill a node's data or media directory on purpose: `fill` leaves only a few bytes
//! free, `free_space` gives the room back. Mounting needs root; a machine that
//! cannot mount skips only with `SWITCHBOARD_TEST_SKIP_MOUNT` giving the reason.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;

/// The opt-out: set to the reason why this machine cannot mount a tmpfs.
pub const SKIP_MOUNT: &str = "SWITCHBOARD_TEST_SKIP_MOUNT";

/// Whether an answer is a node's refusal for a full disk: Meta's temporary code 2
/// (HTTP 503, `is_transient`), which clients retry, with the cause named.
pub fn is_storage_full_refusal(status: u16, body: &serde_json::Value) -> bool {
    let error = &body["error"];
    status == 503 && error["code"] == 2 && error["is_transient"] == true && error["message"].as_str().is_some_and(|message| message.contains("storage is full"))
}

/// A mounted tmpfs, lazily unmounted and removed when dropped.
pub struct SmallDisk {
    dir: tempfile::TempDir,
}

/// The file that takes the room `fill` takes.
const FILLER: &str = ".filler";

impl SmallDisk {
    /// Mounts a tmpfs of `size_mib` MiB for a test: `None` (with the reason printed)
    /// when `SWITCHBOARD_TEST_SKIP_MOUNT` says why this machine cannot mount; a
    /// refused mount without it fails the test.
    pub async fn mount(size_mib: u64) -> Option<Self> {
        if let Some(reason) = std::env::var(SKIP_MOUNT).ok().filter(|reason| !reason.trim().is_empty()) {
            eprintln!("small-disk tests SKIPPED: {reason} ({SKIP_MOUNT})");
            return None;
        }
        match Self::try_mount(size_mib).await {
            Ok(disk) => Some(disk),
            Err(error) => panic!("cannot mount a {size_mib} MiB tmpfs ({error}): run as root, or set {SKIP_MOUNT} to the reason to skip"),
        }
    }

    /// Mounts a tmpfs of `size_mib` MiB on a fresh directory, or says why not.
    pub async fn try_mount(size_mib: u64) -> std::io::Result<Self> {
        let dir = tempfile::Builder::new().prefix("switchboard-small-disk-").tempdir()?;
        let path = dir.path().to_path_buf();
        let options = format!("size={size_mib}m,mode=0700");
        let status = tokio::process::Command::new("mount").args(["-t", "tmpfs", "-o", options.as_str(), "tmpfs"]).arg(&path).status().await?;
        if !status.success() {
            return Err(std::io::Error::other(format!("mount -t tmpfs on {} answered {status}", path.display())));
        }
        Ok(Self { dir })
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    fn filler(&self) -> PathBuf {
        self.path().join(FILLER)
    }

    /// The bytes still free for files (as an unprivileged writer sees them).
    pub fn available_bytes(&self) -> u64 {
        let output = Command::new("stat").args(["-f", "-c", "%a %S"]).arg(self.path()).output().expect("stat runs");
        let text = String::from_utf8_lossy(&output.stdout);
        let mut numbers = text.split_whitespace().map(|n| n.parse::<u64>().expect("stat prints numbers"));
        let (blocks, block_size) = (numbers.next().expect("free blocks"), numbers.next().expect("block size"));
        blocks * block_size
    }

    /// Writes a filler file so that only about `leave_bytes` stay free (to the
    /// block); the filler grows if called again.
    pub fn fill(&self, leave_bytes: u64) {
        let mut filler = std::fs::OpenOptions::new().create(true).append(true).open(self.filler()).expect("the filler opens");
        let chunk = vec![0u8; 1 << 20];
        loop {
            let available = self.available_bytes();
            if available <= leave_bytes {
                break;
            }
            let size = (available - leave_bytes).min(chunk.len() as u64) as usize;
            match filler.write_all(&chunk[..size]) {
                Ok(()) => {}
                Err(error) if error.raw_os_error() == Some(28) => break, // ENOSPC: full already
                Err(error) => panic!("cannot write the filler: {error}"),
            }
        }
        filler.sync_all().expect("the filler syncs");
    }

    /// Deletes the filler: the room `fill` took is free again.
    pub fn free_space(&self) {
        match std::fs::remove_file(self.filler()) {
            Err(error) if error.kind() != std::io::ErrorKind::NotFound => {
                panic!("cannot delete the filler: {error}")
            }
            _ => {}
        }
    }
}

impl Drop for SmallDisk {
    fn drop(&mut self) {
        // Lazy: a node that still holds files open does not keep it mounted for
        // long, nor makes the unmount fail. The directory goes with `TempDir`.
        let _ = Command::new("umount").arg("-l").arg(self.path()).status();
    }
}
