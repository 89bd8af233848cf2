//! The connections: one writer thread that commits many requests per transaction
//! (group commit: one fsync shared by every request in the batch), a checkpointer
//! thread that copies the WAL into the database file beside it, and a small pool
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

/// How long the checkpointer lets commits gather before it copies them into the
/// database file. Short, so that each copy and its fsync are small: a group whose
/// commit overlaps a checkpoint waits for the disk behind it (at half the Send
/// API's peak, 19 % of those commits took over 2 ms, against 0.2 % of the others),
/// and every request queued behind that group waits too. At 20 ms a page that many
/// commits rewrote was copied fewer times, but no run's half-peak p99 came under
/// ×3.4 the bare server's, where half the runs at 2 ms were at ×2.1–2.7, for the
/// same throughput (ANALYSIS.md).
const CHECKPOINT_SPACING: Duration = Duration::from_millis(2);

/// The WAL's length, in frames, at which the writer checkpoints by itself. The
/// checkpointer has copied nearly all of them by then, so this takes the writer
/// little time; it brings the WAL to its end, which lets the next group write it
/// from the start again, and it is the backstop if the checkpointer falls behind.
/// At SQLite's default (1,000) the writer stopped to copy pages some thirty times a
/// second under the Send API's load (ANALYSIS.md).
const WRITER_CHECKPOINT_FRAMES: u32 = 10_000;

/// What a write job hands back: called with the fate of the whole group's commit
/// and how the group went.
type Completion = Box<dyn FnOnce(Result<(), GroupFailure>, GroupTiming) + Send>;

/// A job that ran: its completion, and whether it failed on a full disk.
struct Ran {
    completion: Completion,
    full: bool,
}

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
type Work = Box<dyn FnOnce(Result<&Connection, GroupFailure>) -> Ran + Send>;

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
/// names it with `StoreError::conflict_as`), a full disk is `StorageFull`, a database
/// that is busy, locked or cannot be opened is unavailable (a retry may succeed),
/// anything else internal.
pub fn sql_error(error: rusqlite::Error) -> StoreError {
    use rusqlite::ErrorCode;
    let (context, unavailable) = match &error {
        rusqlite::Error::SqliteFailure(failure, message) => match failure.code {
            ErrorCode::ConstraintViolation => {
                return StoreError::Conflict(Conflict::Constraint(message.clone().unwrap_or_else(|| error.to_string())));
            }
            ErrorCode::DiskFull => return StoreError::StorageFull { context: DISK_FULL.into(), source: Some(Box::new(error)) },
            code @ (ErrorCode::DatabaseBusy | ErrorCode::DatabaseLocked | ErrorCode::CannotOpen) => {
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

/// What a full disk is called in the store's errors and the writer's log.
const DISK_FULL: &str = "the disk under the SQLite database is full";

fn is_disk_full(error: &rusqlite::Error) -> bool {
    error.sqlite_error_code() == Some(rusqlite::ErrorCode::DiskFull)
}

/// Why a whole group was not stored, answered to each of its requests.
#[derive(Clone)]
enum GroupFailure {
    /// SQLite refused to begin or commit the transaction.
    Sqlite { context: &'static str, error: Arc<rusqlite::Error> },
    /// A request's statement failed so that SQLite rolled the whole transaction
    /// back (it does so on a full disk, an I/O error or no memory): the requests
    /// before it are undone, and those after it are not run.
    RolledBack { full: bool },
}

impl GroupFailure {
    fn full(&self) -> bool {
        match self {
            Self::Sqlite { error, .. } => is_disk_full(error),
            Self::RolledBack { full } => *full,
        }
    }

    fn error(&self) -> StoreError {
        let (context, source) = match self {
            Self::Sqlite { context, error } => (context.to_string(), Some(Box::new(Arc::clone(error)) as Cause)),
            Self::RolledBack { .. } => ("SQLite rolled the group back after another write in it failed".to_string(), None),
        };
        if self.full() {
            StoreError::StorageFull { context: format!("{DISK_FULL}: {context}"), source }
        } else {
            StoreError::Unavailable { context, source }
        }
    }
}

/// Each reader connection's page cache, KiB (the writer's is 32 MB).
const READER_CACHE_KIB: u32 = 8_000;

/// How much of a savepoint's journal stays in memory before SQLite writes it to a
/// temporary file, bytes. Every write job runs in a savepoint, which journals the
/// pages it touches; at SQLite's 64 KiB (16 pages) a message with its outbox rows
/// could spill, and the journal then stays a file for the rest of the group: a
/// `pwrite` per page touched, a third of the writer's time under the Send API's load
/// (ANALYSIS.md). It cannot go higher than this: at the spill SQLite writes the
/// memory journal in one call per chunk of this size, and its unix VFS writes at
/// most 128 KiB - 1 bytes a call (`seekAndWriteFd` masks the length with 0x1ffff),
/// so a larger size loses the rest and SQLite answers SQLITE_FULL.
const SAVEPOINT_JOURNAL_IN_MEMORY: i32 = 127 << 10;
const _: () = assert!(SAVEPOINT_JOURNAL_IN_MEMORY <= 0x1ffff, "SQLite's unix VFS writes a spilled chunk in one call of at most 0x1ffff bytes");

/// SQLite's process-wide settings, applied once before the first connection opens
/// (SQLite refuses them after it has initialized). Should something in the process
/// have opened SQLite first, its defaults stay: slower, never wrong.
fn configure_sqlite() {
    static CONFIGURED: std::sync::Once = std::sync::Once::new();
    CONFIGURED.call_once(|| {
        // SAFETY: sqlite3_config is called with the integer argument this option
        // takes; it is not called concurrently (Once) and SQLite checks that it has
        // not initialized yet, answering SQLITE_MISUSE otherwise.
        let answer = unsafe { rusqlite::ffi::sqlite3_config(rusqlite::ffi::SQLITE_CONFIG_STMTJRNL_SPILL, SAVEPOINT_JOURNAL_IN_MEMORY) };
        if answer != rusqlite::ffi::SQLITE_OK {
            tracing::debug!(answer, "SQLite was initialized before the store: savepoint journals spill at its default size");
        }
    });
}

fn open_connection(path: &Path, read_only: bool) -> StoreResult<Connection> {
    configure_sqlite();
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
        writer.execute_batch(&format!("PRAGMA wal_autocheckpoint = {WRITER_CHECKPOINT_FRAMES};")).map_err(sql_error)?;
        let checkpointer = open_connection(&path, false)?;
        // A checkpoint copies pages through a buffer of its own, not the page cache.
        checkpointer.execute_batch("PRAGMA cache_size = -64;").map_err(sql_error)?;
        let pool = (0..readers.max(1)).map(|_| open_connection(&path, true)).collect::<StoreResult<Vec<_>>>()?;
        let (jobs, queue) = mpsc::channel(WRITE_QUEUE);
        // One pending nudge stands for every commit since the last checkpoint.
        let (nudge, nudged) = std::sync::mpsc::sync_channel(1);
        let thread = |name: &str| std::thread::Builder::new().name(name.into());
        let cannot_start = |e: std::io::Error| StoreError::Internal { context: "cannot start the store's threads".into(), source: Some(Box::new(e)) };
        thread("sqlite-checkpointer").spawn(move || run_checkpointer(checkpointer, nudged)).map_err(cannot_start)?;
        thread("sqlite-writer").spawn(move || run_writer(writer, queue, nudge)).map_err(cannot_start)?;
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
            let outcome = conn.map_err(|failure| failure.error()).and_then(|conn| in_savepoint(conn, work));
            let full = matches!(outcome, Err(StoreError::StorageFull { .. }));
            let completion: Completion = Box::new(move |commit, group| {
                let result = match (commit, outcome) {
                    // A request's own error says more than the group's.
                    (Err(_), Err(error)) => Err(error),
                    (Err(failure), Ok(_)) => Err(failure.error()),
                    (Ok(()), outcome) => outcome,
                };
                let _ = answer.send((result, group));
            });
            Ran { completion, full }
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

/// Copies committed frames from the WAL into the database file, off the writer's
/// thread: a passive checkpoint never waits for the writer or a reader, and the
/// writer goes on committing while it runs. It runs only after commits, so an idle
/// node's checkpointer sleeps; it stops with the writer.
fn run_checkpointer(conn: Connection, nudged: std::sync::mpsc::Receiver<()>) {
    while nudged.recv().is_ok() {
        std::thread::sleep(CHECKPOINT_SPACING);
        // A failure (a full disk, the writer's own checkpoint holding the lock)
        // leaves the frames in the WAL, where they are safe; the next try copies them.
        if let Err(error) = conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(())) {
            tracing::debug!(%error, "a checkpoint did not complete");
        }
    }
}

fn run_writer(conn: Connection, mut queue: mpsc::Receiver<Job>, checkpoint: std::sync::mpsc::SyncSender<()>) {
    let mut group: Vec<Job> = Vec::with_capacity(MAX_GROUP);
    let mut synced = true;
    let mut disk = DiskState::default();
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
            let failure = GroupFailure::Sqlite { context: "the write transaction could not begin", error: Arc::new(error) };
            for job in group.drain(..) {
                ((job.work)(Err(failure.clone())).completion)(Err(failure.clone()), GroupTiming::default());
            }
            continue;
        }
        let began = Instant::now();
        let size = group.len();
        let mut completions: Vec<(Completion, Duration)> = Vec::with_capacity(size);
        let mut rolled_back: Option<GroupFailure> = None;
        for job in group.drain(..) {
            let queued = began.saturating_duration_since(job.submitted);
            let ran = match &rolled_back {
                // Outside the transaction a request would commit on its own.
                Some(failure) => (job.work)(Err(failure.clone())),
                None => (job.work)(Ok(&conn)),
            };
            if rolled_back.is_none() && conn.is_autocommit() {
                rolled_back = Some(GroupFailure::RolledBack { full: ran.full });
            }
            completions.push((ran.completion, queued));
        }
        let statements = began.elapsed();
        let committed = match rolled_back {
            Some(failure) => Err(failure),
            None => statement(&conn, "COMMIT").map_err(|error| GroupFailure::Sqlite { context: "the group commit failed", error: Arc::new(error) }),
        };
        if !conn.is_autocommit() {
            // A commit that failed may leave the transaction open; the next group
            // must begin afresh.
            if let Err(error) = conn.execute_batch("ROLLBACK") {
                tracing::error!(%error, "cannot roll back a failed group");
            }
        }
        disk.saw(committed.as_ref().err());
        if committed.is_ok() {
            // Full means a nudge is already pending.
            let _ = checkpoint.try_send(());
        }
        let commit = began.elapsed() - statements;
        if statements + commit > SLOW_GROUP {
            tracing::warn!(size, statements_ms = statements.as_millis() as u64, commit_ms = commit.as_millis() as u64, "slow group commit");
        }
        for (completion, queued) in completions {
            completion(committed.clone(), GroupTiming { queued, statements, commit });
        }
    }
    tracing::debug!("sqlite writer stopped: every queued write was answered");
}

/// Whether the disk was full at the last group, so that a full disk is logged when
/// writes begin to be refused and when they are stored again, not for every refused
/// request. A disk at its limit lets small groups through now and then (the WAL
/// reuses room already checkpointed), so a refusal is logged at most once a minute,
/// and a return only after a logged refusal.
#[derive(Default)]
struct DiskState {
    full: bool,
    /// When a refusal was last logged.
    logged: Option<Instant>,
    /// A refusal was logged and its return was not yet.
    return_owed: bool,
}

/// How often a disk that keeps filling up again is logged at most.
const DISK_FULL_LOG_EVERY: Duration = Duration::from_secs(60);

impl DiskState {
    fn saw(&mut self, failure: Option<&GroupFailure>) {
        match failure {
            Some(failure) if failure.full() && !self.full => {
                self.full = true;
                if self.logged.is_none_or(|logged| logged.elapsed() >= DISK_FULL_LOG_EVERY) {
                    self.logged = Some(Instant::now());
                    self.return_owed = true;
                    tracing::error!("{DISK_FULL}: writes are refused as temporary failures until space returns; reads go on");
                }
            }
            None if self.full => {
                self.full = false;
                if std::mem::take(&mut self.return_owed) {
                    tracing::warn!("the disk under the SQLite database has room again: writes are stored again");
                }
            }
            _ => {}
        }
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    /// A statement that fills the database mid-group makes SQLite roll back the whole
    /// transaction: no request of the group may then be answered stored, and none
    /// may be stored (run outside the transaction, it would commit on its own).
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_group_that_fills_the_disk_is_refused_whole_and_the_writer_goes_on() {
        let dir = tempfile::tempdir().unwrap();
        let engine = Arc::new(Engine::open(dir.path().join("switchboard.db"), 1).unwrap());
        engine.write(|c| run(c, "CREATE TABLE notes (body TEXT NOT NULL)")).await.unwrap();
        let insert = |body: &'static str| move |c: &Connection| c.execute("INSERT INTO notes (body) VALUES (?1)", [body]).map(drop).map_err(sql_error);
        // The writer is held busy, so the next three writes queue and form one group.
        let (held, hold) = std::sync::mpsc::channel::<()>();
        let busy = tokio::spawn({
            let engine = engine.clone();
            async move {
                let held_until_told = move |_: &Connection| {
                    let _ = hold.recv_timeout(Duration::from_secs(5));
                    Ok(())
                };
                engine.write(held_until_told).await
            }
        });
        tokio::time::sleep(Duration::from_millis(100)).await;
        let before = tokio::spawn({
            let engine = engine.clone();
            async move { engine.write(insert("before")).await }
        });
        let filling = tokio::spawn({
            let engine = engine.clone();
            async move {
                engine
                    .write(|c| {
                        let pages: i64 = c.query_row("PRAGMA page_count", [], |row| row.get(0)).map_err(sql_error)?;
                        c.execute_batch(&format!("PRAGMA max_page_count = {}", pages + 2)).map_err(sql_error)?;
                        c.execute("INSERT INTO notes (body) VALUES (hex(randomblob(100000)))", []).map(drop).map_err(sql_error)
                    })
                    .await
            }
        });
        let after = tokio::spawn({
            let engine = engine.clone();
            async move { engine.write(insert("after")).await }
        });
        tokio::time::sleep(Duration::from_millis(100)).await;
        held.send(()).unwrap();
        busy.await.unwrap().unwrap();
        let (before, filling, after) = (before.await.unwrap(), filling.await.unwrap(), after.await.unwrap());
        assert!(matches!(filling, Err(StoreError::StorageFull { .. })), "{filling:?}");
        assert!(matches!(before, Err(StoreError::StorageFull { .. })), "undone with its group: {before:?}");
        assert!(matches!(after, Err(StoreError::StorageFull { .. })), "not run outside the group: {after:?}");

        let stored = |engine: Arc<Engine>| async move {
            let all = |c: &Connection| c.query_row("SELECT group_concat(body) FROM notes", [], |row| row.get::<_, Option<String>>(0)).map_err(sql_error);
            engine.read(all).await.unwrap()
        };
        assert_eq!(stored(engine.clone()).await, None, "nothing of the refused group is stored");
        engine.write(|c| c.execute_batch("PRAGMA max_page_count = 1073741823").map_err(sql_error)).await.unwrap();
        engine.write(insert("again")).await.expect("the writer carries on once there is room");
        assert_eq!(stored(engine).await.as_deref(), Some("again"));
    }

    /// Commits reach the database file itself soon after, by the checkpointer: the
    /// WAL of twenty small commits is far shorter than the length at which the
    /// writer would copy it. The file is read alone, as a copy without its WAL (a
    /// copy torn by a checkpoint under way reads as not there yet).
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_checkpointer_copies_commits_into_the_database_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("switchboard.db");
        let engine = Engine::open(path.clone(), 1).unwrap();
        engine.write(|c| run(c, "CREATE TABLE notes (body TEXT NOT NULL)")).await.unwrap();
        for n in 0..20 {
            engine.write(move |c| c.execute("INSERT INTO notes (body) VALUES (?1)", [format!("note {n}")]).map(drop).map_err(sql_error)).await.unwrap();
        }
        let in_file_alone = || {
            let copy = dir.path().join("alone.db");
            std::fs::copy(&path, &copy).unwrap();
            let conn = Connection::open(&copy).unwrap();
            let count = conn.query_row("SELECT count(*) FROM notes", [], |row| row.get::<_, i64>(0)).unwrap_or(0);
            drop(conn);
            std::fs::remove_file(&copy).unwrap();
            count
        };
        let deadline = Instant::now() + Duration::from_secs(10);
        while in_file_alone() < 20 {
            assert!(Instant::now() < deadline, "the database file alone holds {} of 20 notes", in_file_alone());
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}
