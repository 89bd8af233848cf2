//! The connections: one writer thread that commits many requests per transaction
//! (group commit: one fsync shared by every request in the batch) and a small pool
//! of read-only connections. No request is answered before its transaction is on
//! disk: `synchronous=FULL` makes each WAL commit fsync. Also the one mapping from
//! rusqlite's errors to the store's ([`sql_error`]), which keeps SQLite's error as
//! the cause.

use rusqlite::Connection;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use switchboard_store::{timing, Cause, Conflict, StoreError, StoreResult};
use tokio::sync::{mpsc, oneshot, Semaphore};

/// How many requests one transaction may carry at most.
const MAX_GROUP: usize = 512;
/// How many write requests may wait before callers are slowed down.
const WRITE_QUEUE: usize = 8192;

/// A group slower than this (its statements and commit) is logged with its size.
const SLOW_GROUP: Duration = Duration::from_millis(50);

/// What a write job hands back: called with the fate of the whole group's commit
/// and how the group went.
type Completion = Box<dyn FnOnce(StoreResult<()>, GroupTiming) + Send>;

/// Where a write's time went on the writer, for the request's steps (`timing`).
#[derive(Debug, Clone, Copy, Default)]
struct GroupTiming {
    /// From the write's submission until its group began: the writer was busy with
    /// earlier groups, or waiting for a core.
    queued: Duration,
    /// The whole group's statements.
    statements: Duration,
    /// The commit, with its fsync.
    commit: Duration,
}
/// A write job, run on the writer's connection inside the group's transaction, or
/// handed the reason there is none (the transaction could not begin).
type Work = Box<dyn FnOnce(Result<&Connection, StoreError>) -> Completion + Send>;

struct Job {
    work: Work,
    submitted: Instant,
    /// False for writes whose loss in a crash is harmless (webhook leases: a lost
    /// lease only lets the event be claimed again). A group of such writes only
    /// commits without its own fsync; the next durable commit syncs it too.
    durable: bool,
}

pub struct Engine {
    jobs: mpsc::Sender<Job>,
    readers: Arc<Mutex<Vec<Connection>>>,
    reader_slots: Arc<Semaphore>,
}

/// The one mapping from rusqlite's errors to the store's, keeping rusqlite's error
/// as the cause: a constraint that refused a write is a generic conflict (the caller
/// names it with `StoreError::conflict_as`), a database that is busy, locked, full
/// or cannot be opened is unavailable (a retry may succeed), anything else internal.
pub fn sql_error(error: rusqlite::Error) -> StoreError {
    use rusqlite::ErrorCode;
    let (context, unavailable) = match &error {
        rusqlite::Error::SqliteFailure(failure, message) => match failure.code {
            ErrorCode::ConstraintViolation => {
                return StoreError::Conflict(Conflict::Constraint(message.clone().unwrap_or_else(|| error.to_string())));
            }
            code @ (ErrorCode::DatabaseBusy | ErrorCode::DatabaseLocked | ErrorCode::CannotOpen | ErrorCode::DiskFull) => {
                (format!("sqlite cannot serve the statement now ({code:?})"), true)
            }
            code => (format!("sqlite failed ({code:?})"), false),
        },
        rusqlite::Error::QueryReturnedNoRows => ("a statement answered no row where one was expected".to_string(), false),
        _ => ("a statement could not be run or read".to_string(), false),
    };
    let source = Some(Box::new(error) as Cause);
    if unavailable {
        StoreError::Unavailable { context, source }
    } else {
        StoreError::Internal { context, source }
    }
}

/// What each request of a group sees when the group's transaction could not begin
/// or commit: unavailable, with SQLite's error (shared by the whole group) as the
/// cause.
fn group_failed(context: &str, error: &Arc<rusqlite::Error>) -> StoreError {
    StoreError::Unavailable { context: context.into(), source: Some(Box::new(Arc::clone(error))) }
}

/// Each reader connection's page cache, KiB (the writer's is 32 MB).
const READER_CACHE_KIB: u32 = 8_000;

fn open_connection(path: &Path, read_only: bool) -> StoreResult<Connection> {
    let conn = Connection::open(path).map_err(sql_error)?;
    conn.busy_timeout(std::time::Duration::from_secs(5)).map_err(sql_error)?;
    conn.execute_batch(
        "PRAGMA journal_mode = WAL;
         PRAGMA synchronous = FULL;
         PRAGMA foreign_keys = ON;
         PRAGMA cache_size = -32000;",
    )
    .map_err(sql_error)?;
    if read_only {
        // A reader's cache is dropped whenever the writer has committed since its
        // last read, so under writes it holds one query's pages at most; a small
        // one keeps a node's memory bounded (four readers of 32 MB each held 128
        // MB through a webhook backlog's drain) at the cost of reads from the OS
        // page cache.
        conn.execute_batch(&format!("PRAGMA query_only = ON; PRAGMA cache_size = -{READER_CACHE_KIB};")).map_err(sql_error)?;
    }
    Ok(conn)
}

impl Engine {
    /// Opens the database file (creating it), applies migrations and starts the writer.
    pub fn open(path: PathBuf, readers: usize) -> StoreResult<Self> {
        owner_only(&path)?;
        let mut writer = open_connection(&path, false)?;
        crate::migrate::apply(&mut writer)?;
        let pool = (0..readers.max(1)).map(|_| open_connection(&path, true)).collect::<StoreResult<Vec<_>>>()?;
        let (jobs, queue) = mpsc::channel(WRITE_QUEUE);
        std::thread::Builder::new()
            .name("sqlite-writer".into())
            .spawn(move || run_writer(writer, queue))
            .map_err(|e| StoreError::Internal { context: "cannot start the writer thread".into(), source: Some(Box::new(e)) })?;
        Ok(Self {
            jobs,
            reader_slots: Arc::new(Semaphore::new(pool.len())),
            readers: Arc::new(Mutex::new(pool)),
        })
    }

    /// Runs `work` inside the next group transaction, in a savepoint of its own: its
    /// failure undoes only its own changes. Resolves once the group is durable.
    pub async fn write<T, F>(&self, work: F) -> StoreResult<T>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> StoreResult<T> + Send + 'static,
    {
        self.submit(work, true).await
    }

    /// As `write`, for a write whose loss in a crash is harmless: it does not wait
    /// for an fsync of its own when its whole group is of this kind.
    pub async fn write_relaxed<T, F>(&self, work: F) -> StoreResult<T>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> StoreResult<T> + Send + 'static,
    {
        self.submit(work, false).await
    }

    async fn submit<T, F>(&self, work: F, durable: bool) -> StoreResult<T>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> StoreResult<T> + Send + 'static,
    {
        let (answer, answered) = oneshot::channel();
        let work: Work = Box::new(move |conn| {
            let outcome = conn.and_then(|conn| in_savepoint(conn, work));
            Box::new(move |commit, group| {
                let result = match (commit, outcome) {
                    (Err(error), _) => Err(error),
                    (Ok(()), outcome) => outcome,
                };
                let _ = answer.send((result, group));
            })
        });
        self.jobs
            .send(Job { work, submitted: Instant::now(), durable })
            .await
            .map_err(|_| StoreError::unavailable("the store is shutting down"))?;
        let (result, group) = answered.await.map_err(|_| StoreError::unavailable("the writer stopped before answering"))?;
        timing::detail("store.queued", group.queued);
        timing::detail("store.statements", group.statements);
        timing::detail("store.commit", group.commit);
        result
    }

    /// Runs `work` on a read-only connection on the blocking pool.
    pub async fn read<T, F>(&self, work: F) -> StoreResult<T>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> StoreResult<T> + Send + 'static,
    {
        let _slot = self
            .reader_slots
            .clone()
            .acquire_owned()
            .await
            .map_err(|_| StoreError::unavailable("the store is shutting down"))?;
        let readers = self.readers.clone();
        tokio::task::spawn_blocking(move || {
            let conn = readers.lock().expect("reader pool poisoned").pop().expect("a slot guarantees a connection");
            let result = work(&conn);
            readers.lock().expect("reader pool poisoned").push(conn);
            result
        })
        .await
        .map_err(|e| StoreError::Internal { context: "a reader task failed".into(), source: Some(Box::new(e)) })?
    }
}

/// Runs a prepared (cached) statement that returns no rows.
fn statement(conn: &Connection, sql: &str) -> rusqlite::Result<()> {
    conn.prepare_cached(sql).and_then(|mut statement| statement.execute([])).map(drop)
}

/// As `statement`, through the one error mapping.
fn run(conn: &Connection, sql: &str) -> StoreResult<()> {
    statement(conn, sql).map_err(sql_error)
}

fn in_savepoint<T>(conn: &Connection, work: impl FnOnce(&Connection) -> StoreResult<T>) -> StoreResult<T> {
    run(conn, "SAVEPOINT job")?;
    match work(conn) {
        Ok(value) => {
            run(conn, "RELEASE job")?;
            Ok(value)
        }
        Err(error) => {
            // Undo this job only; the rest of the group commits.
            let _ = conn.execute_batch("ROLLBACK TO job; RELEASE job");
            Err(error)
        }
    }
}

fn run_writer(conn: Connection, mut queue: mpsc::Receiver<Job>) {
    let mut group: Vec<Job> = Vec::with_capacity(MAX_GROUP);
    let mut synced = true;
    while let Some(first) = queue.blocking_recv() {
        group.push(first);
        while group.len() < MAX_GROUP {
            match queue.try_recv() {
                Ok(job) => group.push(job),
                Err(_) => break,
            }
        }
        let durable = group.iter().any(|job| job.durable);
        if durable != synced {
            // NORMAL in WAL mode: the commit is ordered but not fsync'd on its own.
            let pragma = if durable { "PRAGMA synchronous = FULL" } else { "PRAGMA synchronous = NORMAL" };
            if let Err(error) = conn.execute_batch(pragma) {
                tracing::error!(%error, "cannot change the sync mode");
            } else {
                synced = durable;
            }
        }
        if let Err(error) = statement(&conn, "BEGIN IMMEDIATE") {
            tracing::error!(%error, refused = group.len(), "cannot begin a write transaction");
            let error = Arc::new(error);
            for job in group.drain(..) {
                (job.work)(Err(group_failed("the write transaction could not begin", &error)))(Ok(()), GroupTiming::default());
            }
            continue;
        }
        let began = Instant::now();
        let size = group.len();
        let completions: Vec<(Completion, Duration)> = group.drain(..).map(|job| ((job.work)(Ok(&conn)), began.saturating_duration_since(job.submitted))).collect();
        let statements = began.elapsed();
        let committed = statement(&conn, "COMMIT").map_err(Arc::new);
        if committed.is_err() {
            let _ = conn.execute_batch("ROLLBACK");
        }
        let commit = began.elapsed() - statements;
        if statements + commit > SLOW_GROUP {
            tracing::warn!(size, statements_ms = statements.as_millis() as u64, commit_ms = commit.as_millis() as u64, "slow group commit");
        }
        for (completion, queued) in completions {
            let result = match &committed {
                Ok(()) => Ok(()),
                Err(error) => Err(group_failed("the group commit failed", error)),
            };
            completion(result, GroupTiming { queued, statements, commit });
        }
    }
    tracing::debug!("sqlite writer stopped: every queued write was answered");
}

/// Makes the database file readable by its owner only (creating it empty if need
/// be) before SQLite opens it: SQLite creates the `-wal` and `-shm` files with the
/// database file's permissions, so they follow. Files of an older installation are
/// tightened too.
fn owner_only(path: &std::path::Path) -> StoreResult<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
        let failed = |e: std::io::Error| StoreError::Internal { context: format!("cannot prepare {}", path.display()), source: Some(Box::new(e)) };
        std::fs::OpenOptions::new().write(true).create(true).truncate(false).mode(0o600).open(path).map_err(failed)?;
        for suffix in ["", "-wal", "-shm"] {
            let file = std::path::PathBuf::from(format!("{}{suffix}", path.display()));
            match std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o600)) {
                Ok(()) => {}
                Err(error) if error.kind() == std::io::ErrorKind::NotFound => {}
                Err(error) => return Err(failed(error)),
            }
        }
    }
    Ok(())
}
