//! Password hashing on a small pool of its own. Argon2id is slow and needs 19 MiB
//! per hash on purpose; run on tokio's blocking pool, 64 concurrent wrong passwords
//! took a node to gigabytes that the allocator never gave back. Here a fixed number
//! of threads each own one Argon2 buffer, allocated once and reused for every hash,
//! and at most `queue` checks wait for a thread: past that, sign-ins are refused at
//! once. A node's hashing memory is therefore `threads` × 19 MiB, whatever the load.
//!
//! A login that does not exist is checked against a decoy hash with the same
//! parameters, so a wrong login and a wrong password take the same time.

use argon2::password_hash::{rand_core::OsRng, PasswordHash, SaltString};
use argon2::{Algorithm, Argon2, Block, Params, Version};
use std::sync::mpsc;
use switchboard_domain::credentials::secure_eq_bytes;
use tokio::sync::oneshot;

/// Why a password could not be checked or hashed.
#[derive(Debug, thiserror::Error)]
pub enum HashingError {
    /// Every thread is busy and the queue is full: try again later.
    #[error("too many password checks are waiting")]
    Busy,
    /// The pool stopped, or Argon2 refused its input (a bug).
    #[error("password hashing failed: {0}")]
    Failed(String),
}

enum Job {
    Hash { password: String, reply: oneshot::Sender<Result<String, HashingError>> },
    Verify { password: String, phc: String, reply: oneshot::Sender<bool> },
}

/// What an unknown login is checked against: a hash with the default parameters,
/// so that it costs what a real check costs. It can never grant anything: `verify`
/// answers false for an unknown login whatever the password.
const DECOY: &str = "$argon2id$v=19$m=19456,t=2,p=1$U0NqYhpJPenSF1+JDGs7iw$ta4E2uuAiAcn8NcCZUUX8Tkjz2mIofUMt1sg+h/rC0U";

/// The pool; cheap to share behind the platform.
pub struct Passwords {
    jobs: mpsc::SyncSender<Job>,
}

impl Passwords {
    /// Starts `threads` hashing threads (at least one) with room for `queue` waiting checks.
    pub fn start(threads: usize, queue: usize) -> Self {
        let (jobs, inbox) = mpsc::sync_channel::<Job>(queue.max(1));
        let inbox = std::sync::Arc::new(std::sync::Mutex::new(inbox));
        for n in 0..threads.max(1) {
            let inbox = inbox.clone();
            std::thread::Builder::new()
                .name(format!("passwords-{n}"))
                .spawn(move || work(&inbox))
                .expect("a hashing thread starts");
        }
        Self { jobs }
    }

    /// An Argon2id hash of the password, as a PHC string.
    pub async fn hash(&self, password: &str) -> Result<String, HashingError> {
        let (reply, answer) = oneshot::channel();
        self.submit(Job::Hash { password: password.to_string(), reply })?;
        answer.await.map_err(|_| HashingError::Failed("the hashing pool stopped".into()))?
    }

    /// Whether the password matches the PHC hash; with `None` (no such login), the
    /// decoy is checked instead, so that the answer takes as long and is false.
    pub async fn verify(&self, password: &str, phc: Option<&str>) -> Result<bool, HashingError> {
        let (reply, answer) = oneshot::channel();
        let known = phc.is_some();
        let phc = phc.unwrap_or(DECOY).to_string();
        self.submit(Job::Verify { password: password.to_string(), phc, reply })?;
        let matches = answer.await.map_err(|_| HashingError::Failed("the hashing pool stopped".into()))?;
        Ok(known && matches)
    }

    fn submit(&self, job: Job) -> Result<(), HashingError> {
        self.jobs.try_send(job).map_err(|error| match error {
            mpsc::TrySendError::Full(_) => HashingError::Busy,
            mpsc::TrySendError::Disconnected(_) => HashingError::Failed("the hashing pool stopped".into()),
        })
    }
}

/// One thread: takes jobs until the pool is dropped, reusing its buffer.
fn work(inbox: &std::sync::Mutex<mpsc::Receiver<Job>>) {
    let mut memory: Vec<Block> = Vec::new();
    loop {
        let job = match inbox.lock() {
            Ok(inbox) => inbox.recv(),
            Err(_) => return,
        };
        match job {
            Ok(Job::Hash { password, reply }) => {
                let _ = reply.send(hash_with(&mut memory, &password));
            }
            Ok(Job::Verify { password, phc, reply }) => {
                let _ = reply.send(verify_with(&mut memory, &password, &phc));
            }
            Err(_) => return,
        }
    }
}

/// Grows the reused buffer to what `params` need (once, for the default parameters).
fn blocks_for<'m>(memory: &'m mut Vec<Block>, params: &Params) -> &'m mut [Block] {
    if memory.len() < params.block_count() {
        memory.resize(params.block_count(), Block::new());
    }
    &mut memory[..params.block_count()]
}

fn hash_with(memory: &mut Vec<Block>, password: &str) -> Result<String, HashingError> {
    let failed = |e: &dyn std::fmt::Display| HashingError::Failed(e.to_string());
    let params = Params::default();
    let salt = SaltString::generate(&mut OsRng);
    let mut salt_bytes = [0u8; 64];
    let salt_bytes = salt.decode_b64(&mut salt_bytes).map_err(|e| failed(&e))?;
    let mut output = [0u8; Params::DEFAULT_OUTPUT_LEN];
    let argon2 = Argon2::new(Algorithm::Argon2id, Version::V0x13, params.clone());
    argon2.hash_password_into_with_memory(password.as_bytes(), salt_bytes, &mut output, blocks_for(memory, &params)).map_err(|e| failed(&e))?;
    let hash = PasswordHash {
        algorithm: argon2::ARGON2ID_IDENT,
        version: Some(Version::V0x13.into()),
        params: (&params).try_into().map_err(|e: argon2::password_hash::Error| failed(&e))?,
        salt: Some(salt.as_salt()),
        hash: Some(argon2::password_hash::Output::new(&output).map_err(|e| failed(&e))?),
    };
    Ok(hash.to_string())
}

/// Recomputes the hash with the stored parameters and salt; compares in constant time.
fn verify_with(memory: &mut Vec<Block>, password: &str, phc: &str) -> bool {
    let Ok(stored) = PasswordHash::new(phc) else { return false };
    let (Ok(params), Some(salt), Some(expected)) = (Params::try_from(&stored), stored.salt, stored.hash) else { return false };
    let algorithm = match stored.algorithm.as_str() {
        "argon2id" => Algorithm::Argon2id,
        "argon2i" => Algorithm::Argon2i,
        "argon2d" => Algorithm::Argon2d,
        _ => return false,
    };
    let version = stored.version.and_then(|v| Version::try_from(v).ok()).unwrap_or(Version::V0x13);
    let mut salt_bytes = [0u8; 64];
    let Ok(salt_bytes) = salt.decode_b64(&mut salt_bytes) else { return false };
    let mut output = vec![0u8; expected.len()];
    let argon2 = Argon2::new(algorithm, version, params.clone());
    if argon2.hash_password_into_with_memory(password.as_bytes(), salt_bytes, &mut output, blocks_for(memory, &params)).is_err() {
        return false;
    }
    secure_eq_bytes(&output, expected.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;
    use argon2::PasswordVerifier;

    #[tokio::test]
    async fn hashes_verify_here_and_with_the_argon2_crate() {
        let pool = Passwords::start(1, 4);
        let phc = pool.hash("correct horse").await.unwrap();
        assert!(phc.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{phc}");
        assert!(pool.verify("correct horse", Some(&phc)).await.unwrap());
        assert!(!pool.verify("wrong horse", Some(&phc)).await.unwrap());
        assert!(!pool.verify("correct horse", None).await.unwrap(), "an unknown login never matches");
        assert!(!pool.verify("decoy", None).await.unwrap(), "not even with the decoy's own password");
        assert!(verify_with(&mut Vec::new(), "decoy", DECOY), "the decoy is a real hash, as costly as any");
        assert!(!pool.verify("x", Some("not a hash")).await.unwrap());
        // Interchangeable with hashes made by `PasswordHasher` (stored by earlier versions).
        let parsed = PasswordHash::new(&phc).unwrap();
        assert!(Argon2::default().verify_password(b"correct horse", &parsed).is_ok());
        let older = argon2::PasswordHasher::hash_password(&Argon2::default(), b"older", &SaltString::generate(&mut OsRng)).unwrap().to_string();
        assert!(pool.verify("older", Some(&older)).await.unwrap());
    }

    #[tokio::test]
    async fn a_full_queue_refuses_at_once() {
        let pool = std::sync::Arc::new(Passwords::start(1, 1));
        let phc = pool.hash("pw").await.unwrap();
        let mut waiting = Vec::new();
        for _ in 0..8 {
            let pool = pool.clone();
            let phc = phc.clone();
            waiting.push(tokio::spawn(async move { pool.verify("pw", Some(&phc)).await }));
        }
        let mut busy = 0;
        for result in waiting {
            if matches!(result.await.unwrap(), Err(HashingError::Busy)) {
                busy += 1;
            }
        }
        assert!(busy > 0, "eight checks at once do not fit one thread and a queue of one");
    }
}
