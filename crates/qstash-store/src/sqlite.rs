//! The embedded SQLite backend.
//!
//! One database file (plus its `-wal` and `-shm` companions) holds everything. The file is
//! opened in WAL mode with `synchronous=FULL`, so a commit is on disk when it returns. The one
//! exception is a group of claims alone ([`Store::claim_due`]): it commits with
//! `synchronous=NORMAL`, written to the WAL but not synced. A process crash keeps such a claim
//! (the operating system holds the write); a power loss may undo it, which only makes the
//! attempt claimable again, and the next synced commit syncs it anyway, so a finish on disk
//! implies its claim is. This takes one fsync off every delivery's path.
//!
//! # Threads
//! - **One writer thread** owns the only read-write connection. Every write (insert, claim,
//!   finish, cancel, dead-letter deletion, signing keys, creating and ending runs) is a command
//!   sent to it over a channel.
//!   The thread takes every command waiting (up to [`SqliteOptions::max_group`]), runs them all
//!   in one transaction, each inside its own `SAVEPOINT`, commits once, and only then answers the
//!   callers. Concurrent writers thus share one fsync (group commit), and a command that fails
//!   rolls back alone and gets its own error while the others of its group commit.
//! - **A small pool of read-only connections** serves the reads (`get_message`, `list_events`,
//!   `list_dlq`, `get_dlq`, `next_due`, `ping`, `get_run`, `run_steps`, `list_runs`) on tokio's
//!   blocking threads; WAL lets them run
//!   beside the writer.
//!
//! One call is one command: the messages of one `insert_messages`, or the finishes of one
//! `finish`, are applied all or none (a `finish` whose spawned message reuses an existing id
//! fails the whole call, and none of its finishes is applied).
//!
//! - **A checkpoint thread** copies the WAL into the database file when the writer asks for it
//!   (every few commits), so that commits do not wait for checkpoints.
//!
//! # Memory
//! Every connection's page cache is bounded ([`SqliteOptions::writer_cache_kib`],
//! [`SqliteOptions::reader_cache_kib`]) and no query loads more than one page of rows, so the
//! memory used does not grow with the number of messages stored.
//!
//! # Schema
//! The schema version is SQLite's `user_version`. Opening applies the missing migrations in one
//! transaction taken with `BEGIN IMMEDIATE` (so two processes opening at once do not both
//! migrate), and refuses a file whose version is newer than this code with
//! [`StoreError::Corrupt`].

mod tenant_keys;

use std::collections::HashMap;
use std::fmt;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, LazyLock, Mutex};
use std::time::Duration;

use rusqlite::types::ToSql;
use rusqlite::{Connection, ErrorCode, OpenFlags, OptionalExtension, Row};
use tokio::sync::{OwnedSemaphorePermit, Semaphore, oneshot};

mod retention;

use crate::codec::{
    DLQ_COLS, DLQ_NCOLS, KEY_CURRENT, KEY_NEXT, MSG_COLS, RUN_COLS, closed, corrupt,
    decode_headers, decode_labels, encode_headers, encode_labels, int, label_needle, opt_u32,
    opt_uint, page_limit, uint,
};
use crate::flow::{Hold, KeyState};
use crate::{
    AttemptResponse, BatchOutcome, CancelOutcome, Claimed, CreateRunOutcome, Dedup, DlqEntry,
    DlqFilter, EndRun, EndRunOutcome, Event, EventFilter, Finish, FinishOutcome, FlowControlInfo,
    FlowLimits, InsertOutcome, MessageState, Millis, NewDlq, NewMessage, NewRun, Page, PurgeCounts,
    PurgeCutoffs, Result, RunFilter, RunLink, RunState, RunStep, RunToCreate, SigningKeys, Store,
    StoreError, StoreErrorKind, StoredMessage, StoredRun, Transition, Waiter, async_trait,
};

/// The schema version this code writes and understands.
pub const SCHEMA_VERSION: i64 = MIGRATIONS.len() as i64;

/// The migrations, in order: `MIGRATIONS[i]` takes the schema from version `i` to `i + 1`.
///
/// Event ids are rowids without `AUTOINCREMENT`: SQLite then gives each new row the largest id
/// plus one, which increases as long as the newest event is never deleted (retention keeps it,
/// see `retention`). Dead letters are deleted in any order, so their sequence uses `AUTOINCREMENT` and is
/// never reused.
///
/// A run is identified by `(tenant, run_id)` (a unique key); its `seq` (the rowid, never reused)
/// orders the list of runs. A run's steps are keyed by `(tenant, run_id, seq)`, step `seq`
/// counting from 0. The index on the messages' run is partial (`run_id IS NOT NULL`), so that
/// messages outside runs do not pay for it.
///
/// Flow control (version 3) keeps one row per `(tenant, key)` in `flow_keys`: the limits of the
/// key's most recently stored message and the open rate window (`window_start`,
/// `window_count`). Attempts in flight are counted from the messages (claimed, lease not
/// ended), through a partial index that holds only pending messages with a key.
const MIGRATIONS: &[&str] = &[
    // Version 1.
    "
    CREATE TABLE messages (
        tenant TEXT NOT NULL,
        id TEXT NOT NULL UNIQUE,
        destination TEXT NOT NULL,
        method TEXT NOT NULL,
        headers BLOB NOT NULL,
        body BLOB NOT NULL,
        created_at INTEGER NOT NULL,
        first_due_at INTEGER NOT NULL,
        due_at INTEGER NOT NULL,
        max_retries INTEGER NOT NULL,
        retried INTEGER NOT NULL DEFAULT 0,
        state TEXT NOT NULL,
        claim INTEGER NOT NULL DEFAULT 0,
        claim_open INTEGER NOT NULL DEFAULT 0,
        lease_ms INTEGER NOT NULL,
        labels TEXT NOT NULL,
        dedup_id TEXT,
        dedup_until INTEGER,
        flow_key TEXT,
        extra BLOB NOT NULL,
        last_status INTEGER,
        last_headers BLOB,
        last_body BLOB
    );
    CREATE INDEX messages_due ON messages(due_at) WHERE state = 'PENDING';

    CREATE TABLE events (
        id INTEGER PRIMARY KEY,
        tenant TEXT NOT NULL,
        time INTEGER NOT NULL,
        message_id TEXT NOT NULL,
        state TEXT NOT NULL,
        url TEXT NOT NULL,
        labels TEXT NOT NULL,
        response_status INTEGER,
        error TEXT,
        next_delivery_time INTEGER
    );
    CREATE INDEX events_tenant ON events(tenant, id);
    CREATE INDEX events_message ON events(tenant, message_id, id);

    CREATE TABLE dedup (
        tenant TEXT NOT NULL,
        dedup_id TEXT NOT NULL,
        message_id TEXT NOT NULL,
        until INTEGER NOT NULL,
        PRIMARY KEY (tenant, dedup_id)
    );
    CREATE INDEX dedup_until ON dedup(until);

    CREATE TABLE dlq (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        dlq_id TEXT NOT NULL UNIQUE,
        tenant TEXT NOT NULL,
        message_id TEXT NOT NULL,
        created_at INTEGER NOT NULL,
        response_status INTEGER,
        response_headers BLOB NOT NULL,
        response_body BLOB NOT NULL,
        failure_callback TEXT,
        failure_callback_state TEXT
    );
    CREATE INDEX dlq_tenant ON dlq(tenant, seq);

    CREATE TABLE settings (
        key TEXT PRIMARY KEY,
        value TEXT NOT NULL
    );
    ",
    // Version 2: workflow runs, their step lists, and the run each message belongs to.
    "
    CREATE TABLE runs (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        tenant TEXT NOT NULL,
        run_id TEXT NOT NULL,
        workflow_url TEXT NOT NULL,
        created_at INTEGER NOT NULL,
        initial_body BLOB NOT NULL,
        labels TEXT NOT NULL,
        config BLOB NOT NULL,
        state TEXT NOT NULL,
        ended_at INTEGER,
        response BLOB,
        reason TEXT,
        UNIQUE (tenant, run_id)
    );
    CREATE INDEX runs_tenant ON runs(tenant, seq);

    CREATE TABLE run_steps (
        tenant TEXT NOT NULL,
        run_id TEXT NOT NULL,
        seq INTEGER NOT NULL,
        message_id TEXT NOT NULL,
        body BLOB NOT NULL,
        created_at INTEGER NOT NULL,
        PRIMARY KEY (tenant, run_id, seq)
    );
    CREATE INDEX run_steps_message ON run_steps(tenant, message_id);

    ALTER TABLE messages ADD COLUMN run_id TEXT;
    ALTER TABLE messages ADD COLUMN run_step INTEGER NOT NULL DEFAULT 0;
    CREATE INDEX messages_run ON messages(tenant, run_id, state) WHERE run_id IS NOT NULL;
    ",
    // Version 3: flow control.
    "
    ALTER TABLE messages ADD COLUMN flow_parallelism INTEGER;
    ALTER TABLE messages ADD COLUMN flow_rate INTEGER;
    ALTER TABLE messages ADD COLUMN flow_period_ms INTEGER;

    CREATE TABLE flow_keys (
        tenant TEXT NOT NULL,
        key TEXT NOT NULL,
        parallelism INTEGER,
        rate INTEGER,
        period_ms INTEGER NOT NULL DEFAULT 1000,
        window_start INTEGER NOT NULL DEFAULT 0,
        window_count INTEGER NOT NULL DEFAULT 0,
        PRIMARY KEY (tenant, key)
    ) WITHOUT ROWID;
    INSERT OR IGNORE INTO flow_keys (tenant, key)
        SELECT DISTINCT tenant, flow_key FROM messages WHERE flow_key IS NOT NULL;

    CREATE INDEX messages_flow ON messages(tenant, flow_key, claim_open, due_at)
        WHERE state = 'PENDING' AND flow_key IS NOT NULL;
    ",
    // Version 4: waiters (a run's wait for an event). A row lives until its waiter is released;
    // one whose message was claimed (timed out) or ended is ignored by the queries.
    "
    CREATE TABLE waiters (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        tenant TEXT NOT NULL,
        event_id TEXT NOT NULL,
        message_id TEXT NOT NULL UNIQUE
    );
    CREATE INDEX waiters_event ON waiters(tenant, event_id, seq);
    ",
    // Version 5: retention. A message keeps when it finished (delivered, failed, cancelled);
    // messages that finished before are taken as finished at their last due time. The indexes
    // find what is old enough to remove, and the dead letters of a message or a run.
    "
    ALTER TABLE messages ADD COLUMN finished_at INTEGER;
    UPDATE messages SET finished_at = due_at WHERE state <> 'PENDING';
    CREATE INDEX messages_finished ON messages(finished_at) WHERE finished_at IS NOT NULL;
    CREATE INDEX runs_ended ON runs(ended_at) WHERE ended_at IS NOT NULL;
    CREATE INDEX dlq_created ON dlq(created_at);
    CREATE INDEX dlq_message ON dlq(message_id);
    ",
];

/// How a [`SqliteStore`] is opened: connection counts, cache sizes, group bound.
///
/// ```
/// use qstash_store::sqlite::SqliteOptions;
///
/// let options = SqliteOptions::default().readers(2).writer_cache_kib(8 * 1024);
/// assert_eq!(options.get_readers(), 2);
/// ```
#[derive(Debug, Clone)]
pub struct SqliteOptions {
    readers: usize,
    writer_cache_kib: u32,
    reader_cache_kib: u32,
    max_group: usize,
    max_queued: usize,
    busy_timeout: Duration,
}

impl Default for SqliteOptions {
    /// 4 readers, a 16 MiB page cache for the writer and 4 MiB for each reader, at most 512
    /// commands per commit, at most 2 048 commands waiting or running, and a 5 s busy timeout.
    fn default() -> Self {
        SqliteOptions {
            readers: 4,
            writer_cache_kib: 16 * 1024,
            reader_cache_kib: 4 * 1024,
            max_group: 512,
            max_queued: DEFAULT_MAX_QUEUED,
            busy_timeout: Duration::from_secs(5),
        }
    }
}

/// The default bound on the commands waiting for the writer (or being run by it).
pub const DEFAULT_MAX_QUEUED: usize = 2048;

impl SqliteOptions {
    /// How many read-only connections serve reads (at least 1).
    pub fn readers(mut self, readers: usize) -> Self {
        self.readers = readers.max(1);
        self
    }

    /// The page cache of the writer connection, in KiB.
    pub fn writer_cache_kib(mut self, kib: u32) -> Self {
        self.writer_cache_kib = kib;
        self
    }

    /// The page cache of each reader connection, in KiB.
    pub fn reader_cache_kib(mut self, kib: u32) -> Self {
        self.reader_cache_kib = kib;
        self
    }

    /// At most this many commands share one commit (at least 1).
    pub fn max_group(mut self, commands: usize) -> Self {
        self.max_group = commands.max(1);
        self
    }

    /// At most this many commands wait for the writer or are being run by it (at least 1):
    /// beyond it, accepts (`insert_messages`, `create_run`, `create_run_with_steps`,
    /// `register_waiter`) fail at once with [`StoreError::Overloaded`], and other writes wait
    /// for room.
    pub fn max_queued(mut self, commands: usize) -> Self {
        self.max_queued = commands.max(1);
        self
    }

    /// How long a connection waits for a lock held by another process before it gives up.
    pub fn busy_timeout(mut self, timeout: Duration) -> Self {
        self.busy_timeout = timeout;
        self
    }

    /// The number of reader connections.
    pub fn get_readers(&self) -> usize {
        self.readers
    }
}

/// Counters of the writer thread, to see how well writes are grouped.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct WriterStats {
    /// Commits made (each one fsync).
    pub commits: u64,
    /// Commands run (each one caller's write).
    pub commands: u64,
    /// Commands sent and not yet taken by the writer.
    pub queued: u64,
}

/// The embedded store: one SQLite file, a writer thread with group commit, and a pool of
/// readers. See the [module documentation](self).
pub struct SqliteStore {
    path: PathBuf,
    writer: mpsc::Sender<Box<dyn Job>>,
    /// One permit per command waiting for the writer or being run by it.
    queue: Arc<Semaphore>,
    max_queued: usize,
    writer_alive: Arc<AtomicBool>,
    writer_done: Mutex<Option<oneshot::Receiver<()>>>,
    stats: Arc<Stats>,
    readers: Arc<ReaderPool>,
}

impl fmt::Debug for SqliteStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SqliteStore")
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

#[derive(Default)]
struct Stats {
    sent: AtomicU64,
    commits: AtomicU64,
    commands: AtomicU64,
}

impl SqliteStore {
    /// Opens (or creates) the database file at `path` with the default [`SqliteOptions`].
    ///
    /// This blocks while it opens the file and applies migrations; call it before serving, or
    /// from `spawn_blocking`. It needs no tokio runtime, but the store's methods do.
    pub fn open(path: impl AsRef<Path>) -> Result<SqliteStore> {
        SqliteStore::open_with(path, SqliteOptions::default())
    }

    /// Opens (or creates) the database file at `path`; its parent directory is created when
    /// missing. Blocks like [`open`](Self::open).
    ///
    /// Errors: kind [`StoreErrorKind::Corrupt`] when the file is not a database or its schema
    /// is newer than [`SCHEMA_VERSION`]; kind [`StoreErrorKind::Unavailable`] when it cannot be
    /// opened or written.
    pub fn open_with(path: impl AsRef<Path>, options: SqliteOptions) -> Result<SqliteStore> {
        let path = path.as_ref().to_path_buf();
        if let Some(parent) = path.parent()
            && !parent.as_os_str().is_empty()
        {
            std::fs::create_dir_all(parent).map_err(|e| {
                StoreError::Unavailable(format!("cannot create {}: {e}", parent.display()))
            })?;
        }
        let conn = Connection::open_with_flags(
            &path,
            OpenFlags::SQLITE_OPEN_READ_WRITE
                | OpenFlags::SQLITE_OPEN_CREATE
                | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .db()?;
        conn.busy_timeout(options.busy_timeout).db()?;
        let mode: String = conn
            .query_row("PRAGMA journal_mode=WAL", [], |row| row.get(0))
            .db()?;
        if !mode.eq_ignore_ascii_case("wal") {
            return Err(StoreError::Unavailable(format!(
                "cannot switch {} to WAL (journal mode {mode})",
                path.display()
            )));
        }
        conn.execute_batch(&format!(
            "PRAGMA synchronous=FULL; PRAGMA temp_store=MEMORY; PRAGMA cache_size=-{}; \
             PRAGMA journal_size_limit=67108864; \
             PRAGMA wal_autocheckpoint=16384;",
            options.writer_cache_kib
        ))
        .db()?;
        conn.set_prepared_statement_cache_capacity(64);
        migrate(&conn)?;

        let readers = Arc::new(ReaderPool {
            path: path.clone(),
            options: options.clone(),
            conns: Mutex::new(Vec::with_capacity(options.readers)),
            permits: Semaphore::new(options.readers),
        });
        for _ in 0..options.readers {
            let reader = readers.open_reader()?;
            readers.put(reader);
        }

        let (tx, rx) = mpsc::channel::<Box<dyn Job>>();
        let (done_tx, done_rx) = oneshot::channel();
        let stats = Arc::new(Stats::default());
        let alive = Arc::new(AtomicBool::new(true));
        let thread_stats = Arc::clone(&stats);
        let thread_alive = Arc::clone(&alive);
        let max_group = options.max_group;
        let checkpoints = start_checkpointer(&path, &options)?;
        std::thread::Builder::new()
            .name("qstash-store-writer".into())
            .spawn(move || {
                writer_loop(&conn, &rx, max_group, &thread_stats, &checkpoints);
                drop(checkpoints);
                thread_alive.store(false, Ordering::SeqCst);
                drop(conn);
                let _ = done_tx.send(());
            })
            .map_err(|e| StoreError::Unavailable(format!("cannot start the writer thread: {e}")))?;

        Ok(SqliteStore {
            path,
            writer: tx,
            queue: Arc::new(Semaphore::new(options.max_queued)),
            max_queued: options.max_queued,
            writer_alive: alive,
            writer_done: Mutex::new(Some(done_rx)),
            stats,
            readers,
        })
    }

    /// The database file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// How many commits and commands the writer has made so far.
    pub fn stats(&self) -> WriterStats {
        let commands = self.stats.commands.load(Ordering::SeqCst);
        let sent = self.stats.sent.load(Ordering::SeqCst);
        WriterStats {
            commits: self.stats.commits.load(Ordering::SeqCst),
            commands,
            queued: sent.saturating_sub(commands),
        }
    }

    /// Closes the store: the writer finishes the commands already sent, commits them and closes
    /// its connection; the readers close. Dropping the store does the same without waiting.
    pub async fn close(self) {
        let done = self.writer_done.lock().ok().and_then(|mut d| d.take());
        let SqliteStore {
            writer, readers, ..
        } = self;
        drop(writer);
        if let Ok(mut conns) = readers.conns.lock() {
            conns.clear();
        }
        if let Some(done) = done {
            let _ = done.await;
        }
    }

    /// Holds the writer thread until the returned guard is dropped; commands sent meanwhile
    /// wait and are then run as one group. For tests of group commit only.
    #[doc(hidden)]
    pub async fn hold_writer_for_tests(&self) -> Result<WriterHold> {
        let (release_tx, release_rx) = mpsc::channel::<()>();
        let (held_tx, held_rx) = oneshot::channel::<()>();
        let job = Call {
            f: Some(move |_: &Connection| {
                let _ = held_tx.send(());
                let _ = release_rx.recv();
                Ok(())
            }),
            out: None,
            tx: None::<oneshot::Sender<Result<()>>>,
            durability: Durability::Synced,
            permit: None,
        };
        self.stats.sent.fetch_add(1, Ordering::SeqCst);
        self.writer
            .send(Box::new(job))
            .map_err(|_| closed("the store is closed"))?;
        held_rx
            .await
            .map_err(|_| closed("the writer thread stopped"))?;
        Ok(WriterHold(Some(release_tx)))
    }

    async fn write<T, F>(&self, f: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> Result<T> + Send + 'static,
    {
        self.write_with(Durability::Synced, Admission::Wait, f)
            .await
    }

    /// A write that stores new work: refused with [`StoreError::Overloaded`] when the queue is
    /// full.
    async fn write_accept<T, F>(&self, f: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> Result<T> + Send + 'static,
    {
        self.write_with(Durability::Synced, Admission::Refuse, f)
            .await
    }

    async fn write_with<T, F>(
        &self,
        durability: Durability,
        admission: Admission,
        f: F,
    ) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> Result<T> + Send + 'static,
    {
        let permit = match admission {
            Admission::Refuse => Arc::clone(&self.queue).try_acquire_owned().map_err(|_| {
                StoreError::Overloaded(format!(
                    "{} writes are waiting for the SQLite writer already; nothing was stored",
                    self.max_queued
                ))
            })?,
            Admission::Wait => Arc::clone(&self.queue)
                .acquire_owned()
                .await
                .map_err(|_| closed("the store is closed"))?,
        };
        let (tx, rx) = oneshot::channel();
        let job = Call {
            f: Some(f),
            out: None,
            tx: Some(tx),
            durability,
            permit: Some(permit),
        };
        self.stats.sent.fetch_add(1, Ordering::SeqCst);
        self.writer
            .send(Box::new(job))
            .map_err(|_| closed("the store is closed"))?;
        rx.await.map_err(|_| closed("the writer thread stopped"))?
    }

    async fn read<T, F>(&self, f: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> Result<T> + Send + 'static,
    {
        let _permit = self
            .readers
            .permits
            .acquire()
            .await
            .map_err(|_| closed("the store is closed"))?;
        let conn = match self.readers.take() {
            Some(conn) => conn,
            None => self.readers.open_reader()?,
        };
        let (conn, out) = tokio::task::spawn_blocking(move || {
            let out = f(&conn);
            (conn, out)
        })
        .await
        .map_err(|e| StoreError::Unavailable(format!("a read did not finish: {e}")))?;
        self.readers.put(conn);
        out
    }
}

/// Holds the writer thread while it lives (see `SqliteStore::hold_writer_for_tests`).
#[doc(hidden)]
#[derive(Debug)]
pub struct WriterHold(Option<mpsc::Sender<()>>);

impl Drop for WriterHold {
    fn drop(&mut self) {
        if let Some(tx) = self.0.take() {
            let _ = tx.send(());
        }
    }
}

struct ReaderPool {
    path: PathBuf,
    options: SqliteOptions,
    conns: Mutex<Vec<Connection>>,
    permits: Semaphore,
}

impl ReaderPool {
    fn open_reader(&self) -> Result<Connection> {
        let conn = Connection::open_with_flags(
            &self.path,
            OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .db()?;
        conn.busy_timeout(self.options.busy_timeout).db()?;
        conn.execute_batch(&format!(
            "PRAGMA cache_size=-{};",
            self.options.reader_cache_kib
        ))
        .db()?;
        conn.set_prepared_statement_cache_capacity(32);
        Ok(conn)
    }

    fn take(&self) -> Option<Connection> {
        self.conns.lock().ok().and_then(|mut c| c.pop())
    }

    fn put(&self, conn: Connection) {
        if let Ok(mut conns) = self.conns.lock() {
            conns.push(conn);
        }
    }
}

// ---------------------------------------------------------------------------------------------
// The writer thread.

/// A write command: run inside a savepoint, answered after the commit.
trait Job: Send {
    /// Runs the command; `false` when it failed (its savepoint is then rolled back).
    fn run(&mut self, conn: &Connection) -> bool;
    /// Answers the caller; `commit_error` is set when the group's commit failed.
    fn reply(self: Box<Self>, commit_error: Option<&StoreError>);
    /// Whether the command's commit must be on disk before it is answered (see
    /// [`Durability`]).
    fn durability(&self) -> Durability;
}

/// How durable a command's commit must be when it is answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Durability {
    /// On disk (the WAL synced): anything a caller acknowledges to a client.
    Synced,
    /// Written to the WAL but not synced: a claim. A process crash keeps it (the operating
    /// system has the write); a power loss may undo it, which makes the attempt claimable again
    /// (at least once still holds). The next synced commit syncs it too, so a finish on disk
    /// implies its claim is on disk.
    Written,
}

/// Whether a write may wait for room in the writer's queue.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Admission {
    /// Fail at once with [`StoreError::Overloaded`] when the queue is full (accepts).
    Refuse,
    /// Wait for room (the engine's and the API's other writes).
    Wait,
}

struct Call<T, F> {
    f: Option<F>,
    out: Option<Result<T>>,
    tx: Option<oneshot::Sender<Result<T>>>,
    durability: Durability,
    /// The command's place in the queue, given back once it is answered.
    permit: Option<OwnedSemaphorePermit>,
}

impl<T, F> Job for Call<T, F>
where
    T: Send,
    F: FnOnce(&Connection) -> Result<T> + Send,
{
    fn run(&mut self, conn: &Connection) -> bool {
        let Some(f) = self.f.take() else {
            return false;
        };
        let out = f(conn);
        let ok = out.is_ok();
        self.out = Some(out);
        ok
    }

    fn durability(&self) -> Durability {
        self.durability
    }

    fn reply(self: Box<Self>, commit_error: Option<&StoreError>) {
        let Call {
            out, tx, permit, ..
        } = *self;
        let answer = match (out, commit_error) {
            (Some(Err(e)), _) => Err(e),
            (Some(Ok(_)), Some(e)) => Err(e.clone()),
            (Some(Ok(v)), None) => Ok(v),
            (None, Some(e)) => Err(e.clone()),
            (None, None) => Err(closed("the write did not run")),
        };
        if let Some(tx) = tx {
            let _ = tx.send(answer);
        }
        drop(permit);
    }
}

fn writer_loop(
    conn: &Connection,
    rx: &mpsc::Receiver<Box<dyn Job>>,
    max_group: usize,
    stats: &Stats,
    checkpoints: &mpsc::SyncSender<()>,
) {
    let mut group: Vec<Box<dyn Job>> = Vec::with_capacity(max_group.min(1024));
    let mut commits_since_checkpoint = 0u32;
    // The connection opens with synchronous=FULL.
    let mut synced = true;
    while let Ok(first) = rx.recv() {
        group.push(first);
        while group.len() < max_group {
            match rx.try_recv() {
                Ok(job) => group.push(job),
                Err(_) => break,
            }
        }
        stats
            .commands
            .fetch_add(group.len() as u64, Ordering::SeqCst);
        // A group of claims alone commits without syncing the WAL; any other command in the
        // group makes the whole commit synced.
        let want_synced = group.iter().any(|j| j.durability() == Durability::Synced);
        if want_synced != synced {
            let pragma = if want_synced {
                "PRAGMA synchronous=FULL"
            } else {
                "PRAGMA synchronous=NORMAL"
            };
            // If the mode cannot be switched, stay synced: slower, never less durable.
            match conn.execute_batch(pragma) {
                Ok(()) => synced = want_synced,
                Err(_) if !synced => {
                    let _ = conn.execute_batch("PRAGMA synchronous=FULL");
                }
                Err(_) => {}
            }
        }
        run_group(conn, &mut group, stats);
        commits_since_checkpoint += 1;
        if commits_since_checkpoint >= CHECKPOINT_EVERY {
            commits_since_checkpoint = 0;
            // Full means a checkpoint is pending already.
            let _ = checkpoints.try_send(());
        }
    }
}

/// The writer asks for a checkpoint after this many commits.
const CHECKPOINT_EVERY: u32 = 16;

/// Starts the thread that copies the WAL into the database file (a passive checkpoint) when
/// the writer asks, so that the writer's commits never wait for a checkpoint. The thread ends
/// when the returned sender is dropped.
fn start_checkpointer(path: &Path, options: &SqliteOptions) -> Result<mpsc::SyncSender<()>> {
    let conn = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .db()?;
    conn.busy_timeout(options.busy_timeout).db()?;
    conn.execute_batch("PRAGMA cache_size=-256;").db()?;
    let (tx, rx) = mpsc::sync_channel::<()>(1);
    std::thread::Builder::new()
        .name("qstash-store-checkpoint".into())
        .spawn(move || {
            while rx.recv().is_ok() {
                // A failed checkpoint is retried at the next request; the WAL keeps the data.
                let _ = conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(()));
            }
        })
        .map_err(|e| StoreError::Unavailable(format!("cannot start the checkpoint thread: {e}")))?;
    Ok(tx)
}

fn exec(conn: &Connection, sql: &str) -> rusqlite::Result<()> {
    conn.prepare_cached(sql)?.execute([])?;
    Ok(())
}

/// Runs one group in one transaction, each command in its own savepoint, then answers all.
fn run_group(conn: &Connection, group: &mut Vec<Box<dyn Job>>, stats: &Stats) {
    if let Err(e) = exec(conn, "BEGIN IMMEDIATE") {
        let err = driver_error("cannot begin a transaction", e);
        for job in group.drain(..) {
            job.reply(Some(&err));
        }
        return;
    }
    let mut aborted: Option<StoreError> = None;
    for job in group.iter_mut() {
        if let Err(e) = exec(conn, "SAVEPOINT cmd") {
            aborted = Some(driver_error("cannot open a savepoint", e));
            break;
        }
        let ok = catch_unwind(AssertUnwindSafe(|| job.run(conn))).unwrap_or(false);
        if conn.is_autocommit() {
            // SQLite rolled the whole transaction back (an I/O error, a full disk): nothing of
            // this group is applied.
            aborted = Some(StoreError::Unavailable(
                "the transaction was rolled back by the database".to_string(),
            ));
            break;
        }
        let end = if ok {
            exec(conn, "RELEASE cmd")
        } else {
            exec(conn, "ROLLBACK TO cmd").and_then(|()| exec(conn, "RELEASE cmd"))
        };
        if let Err(e) = end {
            aborted = Some(driver_error("cannot close a savepoint", e));
            break;
        }
    }
    let commit_error = match aborted {
        Some(msg) => {
            if !conn.is_autocommit() {
                let _ = exec(conn, "ROLLBACK");
            }
            Some(msg)
        }
        None => match exec(conn, "COMMIT") {
            Ok(()) => {
                stats.commits.fetch_add(1, Ordering::SeqCst);
                None
            }
            Err(e) => {
                if !conn.is_autocommit() {
                    let _ = exec(conn, "ROLLBACK");
                }
                Some(driver_error("commit failed", e))
            }
        },
    };
    for job in group.drain(..) {
        job.reply(commit_error.as_ref());
    }
}

fn migrate(conn: &Connection) -> Result<()> {
    conn.execute_batch("BEGIN IMMEDIATE").db()?;
    let out = (|| {
        let version: i64 = conn
            .query_row("PRAGMA user_version", [], |row| row.get(0))
            .db()?;
        if version > SCHEMA_VERSION {
            return Err(StoreError::Corrupt(format!(
                "schema version {version} is newer than this server's {SCHEMA_VERSION}"
            )));
        }
        if version < 0 {
            return Err(StoreError::Corrupt(format!(
                "schema version {version} is not valid"
            )));
        }
        for (i, sql) in MIGRATIONS.iter().enumerate().skip(version as usize) {
            conn.execute_batch(sql).db()?;
            conn.execute_batch(&format!("PRAGMA user_version = {}", i + 1))
                .db()?;
        }
        Ok(())
    })();
    match out {
        Ok(()) => conn.execute_batch("COMMIT").db(),
        Err(e) => {
            let _ = conn.execute_batch("ROLLBACK");
            Err(e)
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Errors and encodings.

trait Db<T> {
    fn db(self) -> Result<T>;
}

impl<T> Db<T> for rusqlite::Result<T> {
    fn db(self) -> Result<T> {
        self.map_err(map_error)
    }
}

fn map_error(e: rusqlite::Error) -> StoreError {
    StoreError::backend(sqlite_kind(&e), e.to_string(), e)
}

/// A driver error with what was being done.
fn driver_error(doing: &str, e: rusqlite::Error) -> StoreError {
    StoreError::backend(sqlite_kind(&e), format!("{doing}: {e}"), e)
}

/// The kind of an SQLite error, from its result code.
fn sqlite_kind(e: &rusqlite::Error) -> StoreErrorKind {
    match e {
        rusqlite::Error::SqliteFailure(f, _) => match f.code {
            ErrorCode::DatabaseCorrupt | ErrorCode::NotADatabase => StoreErrorKind::Corrupt,
            ErrorCode::ConstraintViolation => StoreErrorKind::Invalid,
            ErrorCode::DiskFull => StoreErrorKind::Full,
            ErrorCode::DatabaseBusy | ErrorCode::DatabaseLocked => StoreErrorKind::Busy,
            _ => StoreErrorKind::Unavailable,
        },
        rusqlite::Error::FromSqlConversionFailure(..)
        | rusqlite::Error::IntegralValueOutOfRange(..)
        | rusqlite::Error::InvalidColumnType(..)
        | rusqlite::Error::Utf8Error(..) => StoreErrorKind::Corrupt,
        _ => StoreErrorKind::Unavailable,
    }
}

fn status(v: Option<i64>) -> Result<Option<u16>> {
    v.map(|s| u16::try_from(s).map_err(|_| corrupt("status")))
        .transpose()
}

// ---------------------------------------------------------------------------------------------
// Rows.

fn decode_message(row: &Row<'_>, at: usize) -> Result<StoredMessage> {
    let get_u64 = |i: usize| -> Result<u64> { uint(row.get::<_, i64>(at + i).db()?) };
    let dedup_id: Option<String> = row.get(at + 15).db()?;
    let dedup_until: Option<i64> = row.get(at + 16).db()?;
    let dedup = match (dedup_id, dedup_until) {
        (Some(id), Some(until)) => Some(Dedup {
            id,
            until: uint(until)?,
        }),
        (None, _) => None,
        (Some(_), None) => return Err(corrupt("deduplication id")),
    };
    let state: String = row.get(at + 11).db()?;
    let state = MessageState::from_name(&state).ok_or_else(|| corrupt("state"))?;
    let labels: String = row.get(at + 14).db()?;
    let headers: Vec<u8> = row.get(at + 4).db()?;
    let last_headers: Option<Vec<u8>> = row.get(at + 20).db()?;
    let last_response = match last_headers {
        Some(h) => Some(AttemptResponse {
            status: status(row.get(at + 19).db()?)?,
            headers: decode_headers(&h)?,
            body: row
                .get::<_, Option<Vec<u8>>>(at + 21)
                .db()?
                .unwrap_or_default(),
        }),
        None => None,
    };
    let run_id: Option<String> = row.get(at + 22).db()?;
    let run = match run_id {
        Some(run_id) => Some(RunLink {
            run_id,
            step: row.get::<_, i64>(at + 23).db()? != 0,
        }),
        None => None,
    };
    let flow_limits = match row.get::<_, Option<i64>>(at + 26).db()? {
        Some(period_ms) => Some(FlowLimits {
            parallelism: opt_u32(row.get(at + 24).db()?, "flow parallelism")?,
            rate: opt_u32(row.get(at + 25).db()?, "flow rate")?,
            period_ms: uint(period_ms)?,
        }),
        None => None,
    };
    let max_retries = u32::try_from(get_u64(9)?).map_err(|_| corrupt("max retries"))?;
    let retried = u32::try_from(get_u64(10)?).map_err(|_| corrupt("retried"))?;
    Ok(StoredMessage {
        message: NewMessage {
            tenant: row.get(at).db()?,
            id: row.get(at + 1).db()?,
            destination: row.get(at + 2).db()?,
            method: row.get(at + 3).db()?,
            headers: decode_headers(&headers)?,
            body: row.get(at + 5).db()?,
            created_at: get_u64(6)?,
            due_at: get_u64(7)?,
            max_retries,
            lease_ms: get_u64(13)?,
            labels: decode_labels(&labels)?,
            dedup,
            flow_key: row.get(at + 17).db()?,
            flow_limits,
            extra: row.get(at + 18).db()?,
            run,
        },
        state,
        retried,
        due_at: get_u64(8)?,
        claim: get_u64(12)?,
        last_response,
    })
}

fn decode_event(row: &Row<'_>) -> Result<Event> {
    let labels: String = row.get(5).db()?;
    Ok(Event {
        id: uint(row.get(0).db()?)?,
        time: uint(row.get(1).db()?)?,
        message_id: row.get(2).db()?,
        state: row.get(3).db()?,
        url: row.get(4).db()?,
        labels: decode_labels(&labels)?,
        response_status: status(row.get(6).db()?)?,
        error: row.get(7).db()?,
        next_delivery_time: opt_uint(row.get(8).db()?)?,
    })
}

fn decode_dlq(row: &Row<'_>) -> Result<DlqEntry> {
    let headers: Vec<u8> = row.get(4).db()?;
    Ok(DlqEntry {
        seq: uint(row.get(0).db()?)?,
        dlq_id: row.get(1).db()?,
        created_at: uint(row.get(2).db()?)?,
        response: AttemptResponse {
            status: status(row.get(3).db()?)?,
            headers: decode_headers(&headers)?,
            body: row.get(5).db()?,
        },
        failure_callback: row.get(6).db()?,
        failure_callback_state: row.get(7).db()?,
        message: decode_message(row, DLQ_NCOLS)?,
    })
}

fn decode_run(row: &Row<'_>) -> Result<StoredRun> {
    let labels: String = row.get(6).db()?;
    let state: String = row.get(8).db()?;
    Ok(StoredRun {
        seq: uint(row.get(0).db()?)?,
        run: NewRun {
            tenant: row.get(1).db()?,
            run_id: row.get(2).db()?,
            workflow_url: row.get(3).db()?,
            created_at: uint(row.get(4).db()?)?,
            initial_body: row.get(5).db()?,
            labels: decode_labels(&labels)?,
            config: row.get(7).db()?,
        },
        state: RunState::from_name(&state).ok_or_else(|| corrupt("run state"))?,
        ended_at: opt_uint(row.get(9).db()?)?,
        response: row.get(10).db()?,
        reason: row.get(11).db()?,
    })
}

fn get_run(conn: &Connection, tenant: &str, run_id: &str) -> Result<Option<StoredRun>> {
    static SQL: LazyLock<String> = LazyLock::new(|| {
        format!("SELECT {RUN_COLS} FROM runs r WHERE r.tenant = ?1 AND r.run_id = ?2")
    });
    let mut stmt = conn.prepare_cached(&SQL).db()?;
    let mut rows = stmt.query([tenant, run_id]).db()?;
    match rows.next().db()? {
        Some(row) => Ok(Some(decode_run(row)?)),
        None => Ok(None),
    }
}

// ---------------------------------------------------------------------------------------------
// Writes (run on the writer thread, inside a savepoint).

#[allow(clippy::too_many_arguments)]
fn append_event(
    conn: &Connection,
    tenant: &str,
    time: Millis,
    message_id: &str,
    state: &str,
    url: &str,
    labels: &str,
    response_status: Option<u16>,
    error: Option<&str>,
    next_delivery_time: Option<Millis>,
) -> Result<()> {
    let next = next_delivery_time.map(int).transpose()?;
    conn.prepare_cached(
        "INSERT INTO events (tenant, time, message_id, state, url, labels, response_status, \
         error, next_delivery_time) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
    )
    .db()?
    .execute(rusqlite::params![
        tenant,
        int(time)?,
        message_id,
        state,
        url,
        labels,
        response_status,
        error,
        next
    ])
    .db()?;
    Ok(())
}

fn insert_one(conn: &Connection, m: &NewMessage, now: Millis) -> Result<InsertOutcome> {
    if let Some(dedup) = &m.dedup {
        let existing: Option<(String, i64)> = conn
            .prepare_cached(
                "SELECT message_id, until FROM dedup WHERE tenant = ?1 AND dedup_id = ?2",
            )
            .db()?
            .query_row(rusqlite::params![m.tenant, dedup.id], |row| {
                Ok((row.get(0)?, row.get(1)?))
            })
            .optional()
            .db()?;
        if let Some((existing_id, until)) = existing
            && uint(until)? > now
        {
            return Ok(InsertOutcome::Deduplicated { existing_id });
        }
    }
    // A step is stored only while its run is started; it takes the run's next step number.
    let step_seq = match &m.run {
        Some(link) if link.step => match next_step(conn, &m.tenant, &link.run_id)? {
            Ok(seq) => Some(seq),
            Err(state) => return Ok(InsertOutcome::RunNotActive(state)),
        },
        _ => None,
    };
    if let Some(dedup) = &m.dedup {
        // Forget a few expired ids on the way, so that the table stays small.
        conn.prepare_cached(
            "DELETE FROM dedup WHERE rowid IN (SELECT rowid FROM dedup WHERE until <= ?1 LIMIT 8)",
        )
        .db()?
        .execute([int(now)?])
        .db()?;
        conn.prepare_cached(
            "INSERT OR REPLACE INTO dedup (tenant, dedup_id, message_id, until) \
             VALUES (?1, ?2, ?3, ?4)",
        )
        .db()?
        .execute(rusqlite::params![
            m.tenant,
            dedup.id,
            m.id,
            int(dedup.until)?
        ])
        .db()?;
    }
    let labels = encode_labels(&m.labels)?;
    let inserted = conn
        .prepare_cached(
            "INSERT INTO messages (tenant, id, destination, method, headers, body, created_at, \
             first_due_at, due_at, max_retries, retried, state, claim, lease_ms, labels, dedup_id, \
             dedup_until, flow_key, extra, run_id, run_step, flow_parallelism, flow_rate, \
             flow_period_ms) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?8, ?9, 0, 'PENDING', 0, \
             ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19, ?20)",
        )
        .db()?
        .execute(rusqlite::params![
            m.tenant,
            m.id,
            m.destination,
            m.method,
            encode_headers(&m.headers),
            m.body,
            int(m.created_at)?,
            int(m.due_at)?,
            m.max_retries,
            int(m.lease_ms)?,
            labels,
            m.dedup.as_ref().map(|d| d.id.as_str()),
            m.dedup.as_ref().map(|d| int(d.until)).transpose()?,
            m.flow_key,
            m.extra,
            m.run.as_ref().map(|r| r.run_id.as_str()),
            m.run.as_ref().is_some_and(|r| r.step),
            m.flow_limits.and_then(|l| l.parallelism),
            m.flow_limits.and_then(|l| l.rate),
            m.flow_limits.map(|l| int(l.period_ms)).transpose()?,
        ]);
    match inserted {
        Ok(_) => {}
        Err(rusqlite::Error::SqliteFailure(f, _)) if f.code == ErrorCode::ConstraintViolation => {
            return Err(StoreError::Invalid(format!(
                "message id {} exists already",
                m.id
            )));
        }
        Err(e) => return Err(map_error(e)),
    }
    if let Some(key) = &m.flow_key {
        register_flow_key(conn, &m.tenant, key, m.flow_limits)?;
    }
    if let (Some(seq), Some(link)) = (step_seq, &m.run) {
        conn.prepare_cached(
            "INSERT INTO run_steps (tenant, run_id, seq, message_id, body, created_at) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        )
        .db()?
        .execute(rusqlite::params![
            m.tenant,
            link.run_id,
            seq,
            m.id,
            m.body,
            int(now)?
        ])
        .db()?;
    }
    append_event(
        conn,
        &m.tenant,
        now,
        &m.id,
        "CREATED",
        &m.destination,
        &labels,
        None,
        None,
        None,
    )?;
    Ok(InsertOutcome::Inserted)
}

fn insert_all(
    conn: &Connection,
    messages: &[NewMessage],
    now: Millis,
) -> Result<Vec<InsertOutcome>> {
    messages.iter().map(|m| insert_one(conn, m, now)).collect()
}

/// The next step number of a started run, or (as the error) the state of a run that is not
/// started (`None`: no such run).
fn next_step(
    conn: &Connection,
    tenant: &str,
    run_id: &str,
) -> Result<std::result::Result<i64, Option<RunState>>> {
    let run: Option<(String, Option<i64>)> = conn
        .prepare_cached(
            "SELECT r.state, (SELECT MAX(s.seq) FROM run_steps s \
             WHERE s.tenant = r.tenant AND s.run_id = r.run_id) \
             FROM runs r WHERE r.tenant = ?1 AND r.run_id = ?2",
        )
        .db()?
        .query_row([tenant, run_id], |row| Ok((row.get(0)?, row.get(1)?)))
        .optional()
        .db()?;
    let Some((state, last)) = run else {
        return Ok(Err(None));
    };
    let state = RunState::from_name(&state).ok_or_else(|| corrupt("run state"))?;
    if state != RunState::Started {
        return Ok(Err(Some(state)));
    }
    Ok(Ok(last.map_or(0, |seq| seq + 1)))
}

fn create_run(
    conn: &Connection,
    run: &NewRun,
    first: &NewMessage,
    now: Millis,
) -> Result<CreateRunOutcome> {
    create_run_with_steps(conn, run, &[], first, now)
}

/// Stores the first message of a run just created.
fn first_of_run(
    conn: &Connection,
    run: &NewRun,
    first: &NewMessage,
    now: Millis,
) -> Result<CreateRunOutcome> {
    match insert_one(conn, first, now)? {
        InsertOutcome::Inserted => Ok(CreateRunOutcome::Created),
        // Both or neither: the caller's savepoint rolls the run back with this error.
        InsertOutcome::Deduplicated { existing_id } => Err(StoreError::Invalid(format!(
            "the first message of run {} is a duplicate of {existing_id}",
            run.run_id
        ))),
        InsertOutcome::RunNotActive(_) => Err(StoreError::Invalid(format!(
            "the first message of run {} is a step of a run that is not started",
            run.run_id
        ))),
    }
}

fn create_run_with_steps(
    conn: &Connection,
    run: &NewRun,
    steps: &[RunStep],
    first: &NewMessage,
    now: Millis,
) -> Result<CreateRunOutcome> {
    if first.tenant != run.tenant {
        return Err(StoreError::Invalid(format!(
            "the first message of run {} belongs to another tenant",
            run.run_id
        )));
    }
    if let Some(existing) = get_run(conn, &run.tenant, &run.run_id)? {
        return Ok(CreateRunOutcome::Exists(existing));
    }
    conn.prepare_cached(
        "INSERT INTO runs (tenant, run_id, workflow_url, created_at, initial_body, labels, \
         config, state) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, 'RUN_STARTED')",
    )
    .db()?
    .execute(rusqlite::params![
        run.tenant,
        run.run_id,
        run.workflow_url,
        int(run.created_at)?,
        run.initial_body,
        encode_labels(&run.labels)?,
        run.config,
    ])
    .db()?;
    for (seq, step) in steps.iter().enumerate() {
        conn.prepare_cached(
            "INSERT INTO run_steps (tenant, run_id, seq, message_id, body, created_at) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        )
        .db()?
        .execute(rusqlite::params![
            run.tenant,
            run.run_id,
            i64::try_from(seq).map_err(|_| StoreError::Invalid("too many steps".into()))?,
            step.message_id,
            step.body,
            int(step.created_at)?
        ])
        .db()?;
    }
    first_of_run(conn, run, first, now)
}

fn register_waiter(
    conn: &Connection,
    event_id: &str,
    m: &NewMessage,
    now: Millis,
) -> Result<InsertOutcome> {
    if !m.run.as_ref().is_some_and(|r| r.step) {
        return Err(StoreError::Invalid(format!(
            "waiter message {} is not a step of a run",
            m.id
        )));
    }
    let outcome = insert_one(conn, m, now)?;
    if outcome == InsertOutcome::Inserted {
        conn.prepare_cached(
            "INSERT INTO waiters (tenant, event_id, message_id) VALUES (?1, ?2, ?3)",
        )
        .db()?
        .execute([m.tenant.as_str(), event_id, m.id.as_str()])
        .db()?;
    }
    Ok(outcome)
}

fn list_waiters(
    conn: &Connection,
    tenant: &str,
    event_id: &str,
    run_id: Option<&str>,
) -> Result<Vec<Waiter>> {
    let sql = format!(
        "SELECT {MSG_COLS} FROM waiters w JOIN messages m ON m.id = w.message_id \
         WHERE w.tenant = ?1 AND w.event_id = ?2 AND m.tenant = w.tenant \
         AND m.state = 'PENDING' AND m.claim = 0 AND (?3 IS NULL OR m.run_id = ?3) \
         ORDER BY w.seq"
    );
    let mut stmt = conn.prepare_cached(&sql).db()?;
    let mut rows = stmt
        .query(rusqlite::params![tenant, event_id, run_id])
        .db()?;
    let mut out = Vec::new();
    while let Some(row) = rows.next().db()? {
        out.push(Waiter {
            event_id: event_id.to_string(),
            message: decode_message(row, 0)?,
        });
    }
    Ok(out)
}

fn release_waiter(
    conn: &Connection,
    tenant: &str,
    message_id: &str,
    body: &[u8],
    now: Millis,
) -> Result<bool> {
    let found: Option<(i64, Option<String>)> = conn
        .prepare_cached(
            "SELECT m.rowid, m.run_id FROM waiters w JOIN messages m ON m.id = w.message_id \
             WHERE w.tenant = ?1 AND w.message_id = ?2 AND m.tenant = w.tenant \
             AND m.state = 'PENDING' AND m.claim = 0",
        )
        .db()?
        .query_row([tenant, message_id], |row| Ok((row.get(0)?, row.get(1)?)))
        .optional()
        .db()?;
    let Some((rowid, run_id)) = found else {
        return Ok(false);
    };
    conn.prepare_cached("UPDATE messages SET body = ?2, due_at = ?3 WHERE rowid = ?1")
        .db()?
        .execute(rusqlite::params![rowid, body, int(now)?])
        .db()?;
    if let Some(run_id) = run_id {
        conn.prepare_cached(
            "UPDATE run_steps SET body = ?4 WHERE tenant = ?1 AND run_id = ?2 AND message_id = ?3",
        )
        .db()?
        .execute(rusqlite::params![tenant, run_id, message_id, body])
        .db()?;
    }
    conn.prepare_cached("DELETE FROM waiters WHERE message_id = ?1")
        .db()?
        .execute([message_id])
        .db()?;
    Ok(true)
}

/// Ends a started run and cancels its pending messages, except `except` (the message whose
/// finish ends the run).
fn end_run(
    conn: &Connection,
    tenant: &str,
    run_id: &str,
    end: &EndRun,
    now: Millis,
    except: Option<&str>,
) -> Result<EndRunOutcome> {
    if end.state == RunState::Started {
        return Err(StoreError::Invalid(format!(
            "run {run_id} cannot end in state {}",
            RunState::Started.as_str()
        )));
    }
    let state: Option<String> = conn
        .prepare_cached("SELECT state FROM runs WHERE tenant = ?1 AND run_id = ?2")
        .db()?
        .query_row([tenant, run_id], |row| row.get(0))
        .optional()
        .db()?;
    let Some(state) = state else {
        return Ok(EndRunOutcome::NotFound);
    };
    let state = RunState::from_name(&state).ok_or_else(|| corrupt("run state"))?;
    if state != RunState::Started {
        return Ok(EndRunOutcome::AlreadyEnded(state));
    }
    conn.prepare_cached(
        "UPDATE runs SET state = ?3, ended_at = ?4, response = ?5, reason = ?6 \
         WHERE tenant = ?1 AND run_id = ?2",
    )
    .db()?
    .execute(rusqlite::params![
        tenant,
        run_id,
        end.state.as_str(),
        int(now)?,
        end.response,
        end.reason,
    ])
    .db()?;
    let pending: Vec<(i64, String, String, String)> = {
        let mut stmt = conn
            .prepare_cached(
                "SELECT rowid, id, destination, labels FROM messages \
                 WHERE tenant = ?1 AND run_id = ?2 AND state = 'PENDING'",
            )
            .db()?;
        let rows = stmt
            .query_map([tenant, run_id], |row| {
                Ok((row.get(0)?, row.get(1)?, row.get(2)?, row.get(3)?))
            })
            .db()?;
        rows.collect::<rusqlite::Result<_>>().db()?
    };
    for (rowid, id, url, labels) in pending {
        if except == Some(id.as_str()) {
            continue;
        }
        conn.prepare_cached(
            "UPDATE messages SET state = 'CANCELLED', claim_open = 0, finished_at = ?2 \
             WHERE rowid = ?1",
        )
        .db()?
        .execute([rowid, int(now)?])
        .db()?;
        append_event(
            conn,
            tenant,
            now,
            &id,
            "CANCELLED",
            &url,
            &labels,
            None,
            None,
            None,
        )?;
    }
    Ok(EndRunOutcome::Ended)
}

// ---------------------------------------------------------------------------------------------
// Flow control.

/// Registers a tenant's flow-control key; with limits, they replace the key's limits (the most
/// recently stored message's limits apply). The open rate window is kept.
fn register_flow_key(
    conn: &Connection,
    tenant: &str,
    key: &str,
    limits: Option<FlowLimits>,
) -> Result<()> {
    match limits {
        Some(l) => conn
            .prepare_cached(
                "INSERT INTO flow_keys (tenant, key, parallelism, rate, period_ms) \
                 VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT (tenant, key) DO UPDATE SET \
                 parallelism = excluded.parallelism, rate = excluded.rate, \
                 period_ms = excluded.period_ms",
            )
            .db()?
            .execute(rusqlite::params![
                tenant,
                key,
                l.parallelism,
                l.rate,
                int(l.period_ms)?
            ])
            .db()?,
        None => conn
            .prepare_cached("INSERT OR IGNORE INTO flow_keys (tenant, key) VALUES (?1, ?2)")
            .db()?
            .execute([tenant, key])
            .db()?,
    };
    Ok(())
}

/// Reads a key's limits, window and attempts in flight at `now` (`None`: an unknown key).
fn load_key(conn: &Connection, tenant: &str, key: &str, now: Millis) -> Result<Option<KeyState>> {
    type KeyRow = (Option<i64>, Option<i64>, i64, i64, i64);
    let row: Option<KeyRow> = conn
        .prepare_cached(
            "SELECT parallelism, rate, period_ms, window_start, window_count FROM flow_keys \
             WHERE tenant = ?1 AND key = ?2",
        )
        .db()?
        .query_row([tenant, key], |row| {
            Ok((
                row.get(0)?,
                row.get(1)?,
                row.get(2)?,
                row.get(3)?,
                row.get(4)?,
            ))
        })
        .optional()
        .db()?;
    let Some((parallelism, rate, period_ms, window_start, window_count)) = row else {
        return Ok(None);
    };
    let in_flight: i64 = conn
        .prepare_cached(
            "SELECT COUNT(*) FROM messages WHERE tenant = ?1 AND flow_key = ?2 \
             AND state = 'PENDING' AND claim_open = 1 AND due_at > ?3",
        )
        .db()?
        .query_row(rusqlite::params![tenant, key, int(now)?], |row| row.get(0))
        .db()?;
    Ok(Some(KeyState {
        parallelism: opt_uint(parallelism)?,
        rate: opt_uint(rate)?,
        period_ms: uint(period_ms)?.max(1),
        window_start: uint(window_start)?,
        window_count: uint(window_count)?,
        in_flight: uint(in_flight)?,
        dirty: false,
    }))
}

/// The keys one transaction has looked at, by tenant and key (`None`: an unknown key).
#[derive(Default)]
struct Keys(HashMap<String, HashMap<String, Option<KeyState>>>);

impl Keys {
    fn get(
        &mut self,
        conn: &Connection,
        tenant: &str,
        key: &str,
        now: Millis,
    ) -> Result<Option<&mut KeyState>> {
        if !self
            .0
            .get(tenant)
            .is_some_and(|keys| keys.contains_key(key))
        {
            let state = load_key(conn, tenant, key, now)?;
            self.0
                .entry(tenant.to_string())
                .or_default()
                .insert(key.to_string(), state);
        }
        Ok(self
            .0
            .get_mut(tenant)
            .and_then(|keys| keys.get_mut(key))
            .and_then(Option::as_mut))
    }

    /// Writes the changed windows back.
    fn save(self, conn: &Connection) -> Result<()> {
        let all = self
            .0
            .into_iter()
            .flat_map(|(tenant, keys)| keys.into_iter().map(move |(k, s)| (tenant.clone(), k, s)));
        for (tenant, key, state) in all {
            let Some(state) = state.filter(|s| s.dirty) else {
                continue;
            };
            conn.prepare_cached(
                "UPDATE flow_keys SET window_start = ?3, window_count = ?4 \
                 WHERE tenant = ?1 AND key = ?2",
            )
            .db()?
            .execute(rusqlite::params![
                tenant,
                key,
                int(state.window_start)?,
                int(state.window_count)?
            ])
            .db()?;
        }
        Ok(())
    }
}

fn flow_info(
    conn: &Connection,
    tenant: &str,
    key: &str,
    now: Millis,
) -> Result<Option<FlowControlInfo>> {
    let Some(state) = load_key(conn, tenant, key, now)? else {
        return Ok(None);
    };
    let waiting: i64 = conn
        .prepare_cached(
            "SELECT COUNT(*) FROM messages WHERE tenant = ?1 AND flow_key = ?2 \
             AND state = 'PENDING' AND claim_open IN (0, 1) AND due_at <= ?3",
        )
        .db()?
        .query_row(rusqlite::params![tenant, key, int(now)?], |row| row.get(0))
        .db()?;
    let open = state.window_open(now);
    Ok(Some(FlowControlInfo {
        key: key.to_string(),
        wait_list_size: uint(waiting)?,
        parallelism_max: state
            .parallelism
            .map(|p| u32::try_from(p).unwrap_or(u32::MAX)),
        parallelism_count: state.in_flight,
        rate_max: state.rate.map(|r| u32::try_from(r).unwrap_or(u32::MAX)),
        rate_count: if open { state.window_count } else { 0 },
        rate_period_ms: state.period_ms,
        rate_period_start: open.then_some(state.window_start),
    }))
}

fn list_flow_info(conn: &Connection, tenant: &str, now: Millis) -> Result<Vec<FlowControlInfo>> {
    let keys: Vec<String> = {
        let mut stmt = conn
            .prepare_cached("SELECT key FROM flow_keys WHERE tenant = ?1 ORDER BY key")
            .db()?;
        let rows = stmt.query_map([tenant], |row| row.get(0)).db()?;
        rows.collect::<rusqlite::Result<_>>().db()?
    };
    let mut out = Vec::with_capacity(keys.len());
    for key in keys {
        if let Some(info) = flow_info(conn, tenant, &key, now)? {
            out.push(info);
        }
    }
    Ok(out)
}

/// A due message as the claim scan sees it.
struct DueRow {
    rowid: i64,
    due_at: i64,
    tenant: String,
    flow_key: Option<String>,
}

/// A page of due messages, earliest due first, after `(due_at, rowid)` when given.
fn due_page(
    conn: &Connection,
    now: Millis,
    after: Option<(i64, i64)>,
    limit: usize,
) -> Result<Vec<DueRow>> {
    let limit = i64::try_from(limit).unwrap_or(i64::MAX);
    let map = |row: &Row<'_>| {
        Ok(DueRow {
            rowid: row.get(0)?,
            due_at: row.get(1)?,
            tenant: row.get(2)?,
            flow_key: row.get(3)?,
        })
    };
    match after {
        None => {
            let mut stmt = conn
                .prepare_cached(
                    "SELECT rowid, due_at, tenant, flow_key FROM messages \
                     WHERE state = 'PENDING' AND due_at <= ?1 ORDER BY due_at, rowid LIMIT ?2",
                )
                .db()?;
            let rows = stmt
                .query_map(rusqlite::params![int(now)?, limit], map)
                .db()?;
            rows.collect::<rusqlite::Result<_>>().db()
        }
        // In two steps, each an index seek (a row-value comparison would scan the rows due
        // at `due` from the first one on every page): the rest of the rows due at `due`, then
        // the rows due later.
        Some((due, rowid)) => {
            let mut page: Vec<DueRow> = {
                let mut stmt = conn
                    .prepare_cached(
                        "SELECT rowid, due_at, tenant, flow_key FROM messages \
                         WHERE state = 'PENDING' AND due_at = ?1 AND rowid > ?2 \
                         ORDER BY rowid LIMIT ?3",
                    )
                    .db()?;
                let rows = stmt
                    .query_map(rusqlite::params![due, rowid, limit], map)
                    .db()?;
                rows.collect::<rusqlite::Result<_>>().db()?
            };
            let rest = limit - i64::try_from(page.len()).unwrap_or(limit);
            if rest > 0 {
                let mut stmt = conn
                    .prepare_cached(
                        "SELECT rowid, due_at, tenant, flow_key FROM messages \
                         WHERE state = 'PENDING' AND due_at > ?2 AND due_at <= ?1 \
                         ORDER BY due_at, rowid LIMIT ?3",
                    )
                    .db()?;
                let rows = stmt
                    .query_map(rusqlite::params![int(now)?, due, rest], map)
                    .db()?;
                for row in rows {
                    page.push(row.db()?);
                }
            }
            Ok(page)
        }
    }
}

/// The smallest page the claim scan reads after the first one (which is `limit` long, so that
/// a store without held-back messages reads exactly what it claims).
const MIN_SCAN_PAGE: usize = 1024;

fn claim_due(conn: &Connection, now: Millis, limit: usize) -> Result<Vec<Claimed>> {
    if limit == 0 {
        return Ok(Vec::new());
    }
    static SQL: LazyLock<String> = LazyLock::new(|| {
        format!(
            "UPDATE messages SET claim = claim + 1, claim_open = 1, due_at = ?1 + lease_ms \
             WHERE rowid = ?2 \
             RETURNING {}",
            MSG_COLS.replace("m.", "")
        )
    });
    let sql: &str = &SQL;
    let mut claimed = Vec::with_capacity(limit.min(1024));
    let mut keys = Keys::default();
    let mut after = None;
    let mut page_len = limit;
    'scan: loop {
        let page = due_page(conn, now, after, page_len)?;
        let full = page.len() == page_len;
        for row in &page {
            if let Some(key) = &row.flow_key
                && let Some(state) = keys.get(conn, &row.tenant, key, now)?
            {
                if state.hold(now) != Hold::Free {
                    continue;
                }
                state.start(now);
            }
            let message = {
                let mut stmt = conn.prepare_cached(sql).db()?;
                let mut rows = stmt.query(rusqlite::params![int(now)?, row.rowid]).db()?;
                let row = rows.next().db()?.ok_or_else(|| corrupt("message"))?;
                decode_message(row, 0)?
            };
            let labels = encode_labels(&message.message.labels)?;
            append_event(
                conn,
                &message.message.tenant,
                now,
                &message.message.id,
                "ACTIVE",
                &message.message.destination,
                &labels,
                None,
                None,
                None,
            )?;
            claimed.push(Claimed {
                claim: message.claim,
                lease_until: message.due_at,
                message,
            });
            if claimed.len() == limit {
                break 'scan;
            }
        }
        // Held-back messages stay in the range: look further, past the last one seen.
        match page.last() {
            Some(last) if full => after = Some((last.due_at, last.rowid)),
            _ => break,
        }
        page_len = limit.max(MIN_SCAN_PAGE);
    }
    keys.save(conn)?;
    Ok(claimed)
}

/// [`Store::next_due`]: the earliest time a claim may find something, held-back messages
/// counted at the end of their rate window or not at all.
fn next_due(conn: &Connection, now: Millis) -> Result<Option<Millis>> {
    let first: Option<(i64, Option<String>)> = conn
        .prepare_cached(
            "SELECT due_at, flow_key FROM messages WHERE state = 'PENDING' \
             ORDER BY due_at LIMIT 1",
        )
        .db()?
        .query_row([], |row| Ok((row.get(0)?, row.get(1)?)))
        .optional()
        .db()?;
    let Some((due, key)) = first else {
        return Ok(None);
    };
    let due = uint(due)?;
    if due > now || key.is_none() {
        return Ok(Some(due));
    }
    // Something with a key is due: look for the first due message that is not held back.
    let mut best: Option<Millis> = conn
        .prepare_cached(
            "SELECT due_at FROM messages WHERE state = 'PENDING' AND due_at > ?1 \
             ORDER BY due_at LIMIT 1",
        )
        .db()?
        .query_row([int(now)?], |row| row.get(0))
        .optional()
        .db()?
        .map(uint)
        .transpose()?;
    let mut keys = Keys::default();
    let mut stmt = conn
        .prepare_cached(
            "SELECT due_at, tenant, flow_key FROM messages WHERE state = 'PENDING' \
             AND due_at <= ?1 ORDER BY due_at",
        )
        .db()?;
    let mut rows = stmt.query([int(now)?]).db()?;
    // A held-back backlog is read row by row: the text is borrowed, and a row of the same key
    // as the one before reuses its answer.
    let mut last: Option<(String, String, Hold)> = None;
    while let Some(row) = rows.next().db()? {
        let due = uint(row.get(0).db()?)?;
        let key = row.get_ref(2).db()?;
        let hold = if key == rusqlite::types::ValueRef::Null {
            Hold::Free
        } else {
            let key = key.as_str().map_err(|_| corrupt("flow key"))?;
            let tenant = row
                .get_ref(1)
                .db()?
                .as_str()
                .map_err(|_| corrupt("tenant"))?;
            match &last {
                Some((t, k, hold)) if t == tenant && k == key => *hold,
                _ => {
                    let hold = keys
                        .get(conn, tenant, key, now)?
                        .map_or(Hold::Free, |state| state.hold(now));
                    last = Some((tenant.to_string(), key.to_string(), hold));
                    hold
                }
            }
        };
        match hold {
            Hold::Free => return Ok(Some(due)),
            Hold::Parallelism => {}
            Hold::RateUntil(end) => best = Some(best.map_or(end, |b| b.min(end))),
        }
    }
    Ok(best)
}

fn finish_one(conn: &Connection, f: &Finish) -> Result<FinishOutcome> {
    let current: Option<(i64, String, i64, bool, String, String)> = conn
        .prepare_cached(
            "SELECT rowid, state, claim, claim_open, destination, labels FROM messages \
             WHERE id = ?1 AND tenant = ?2",
        )
        .db()?
        .query_row(rusqlite::params![f.message_id, f.tenant], |row| {
            Ok((
                row.get(0)?,
                row.get(1)?,
                row.get(2)?,
                row.get(3)?,
                row.get(4)?,
                row.get(5)?,
            ))
        })
        .optional()
        .db()?;
    let Some((rowid, state, claim, open, url, labels)) = current else {
        return Ok(FinishOutcome::Stale);
    };
    // A claim is finished at most once: a finish closes it.
    if state != MessageState::Pending.as_str() || !open || uint(claim)? != f.claim {
        return Ok(FinishOutcome::Stale);
    }
    let changed = match f.transition {
        Transition::Delivered => conn
            .prepare_cached(
                "UPDATE messages SET state = 'DELIVERED', claim_open = 0, finished_at = ?2 \
                 WHERE rowid = ?1",
            )
            .db()?
            .execute([rowid, int(f.now)?]),
        Transition::Failed => conn
            .prepare_cached(
                "UPDATE messages SET state = 'FAILED', claim_open = 0, finished_at = ?2 \
                 WHERE rowid = ?1",
            )
            .db()?
            .execute([rowid, int(f.now)?]),
        Transition::Retry { at } => conn
            .prepare_cached(
                "UPDATE messages SET retried = retried + 1, due_at = ?2, claim_open = 0 \
                 WHERE rowid = ?1",
            )
            .db()?
            .execute([rowid, int(at)?]),
    }
    .db()?;
    if changed != 1 {
        return Err(corrupt("message"));
    }
    if let Some(response) = &f.response {
        conn.prepare_cached(
            "UPDATE messages SET last_status = ?2, last_headers = ?3, last_body = ?4 \
             WHERE rowid = ?1",
        )
        .db()?
        .execute(rusqlite::params![
            rowid,
            response.status,
            encode_headers(&response.headers),
            response.body
        ])
        .db()?;
    }
    append_event(
        conn,
        &f.tenant,
        f.now,
        &f.message_id,
        &f.event.state,
        &url,
        &labels,
        f.event.response_status,
        f.event.error.as_deref(),
        f.event.next_delivery_time,
    )?;
    // A run has one ending: when it had ended already, what this finish would spawn for its
    // end (the failure callback) is not inserted.
    let spawn = match &f.end_run {
        Some((run_id, end)) => !matches!(
            end_run(conn, &f.tenant, run_id, end, f.now, Some(&f.message_id))?,
            EndRunOutcome::AlreadyEnded(_)
        ),
        None => true,
    };
    for message in f.spawn.iter().filter(|_| spawn) {
        insert_one(conn, message, f.now)?;
    }
    if let Some(dlq) = &f.dlq {
        insert_dlq(conn, &f.tenant, &f.message_id, dlq)?;
    }
    if let Some((dlq_id, state)) = &f.dlq_callback_state {
        conn.prepare_cached(
            "UPDATE dlq SET failure_callback_state = ?3 WHERE dlq_id = ?1 AND tenant = ?2",
        )
        .db()?
        .execute(rusqlite::params![dlq_id, f.tenant, state])
        .db()?;
    }
    Ok(FinishOutcome::Applied)
}

fn insert_dlq(conn: &Connection, tenant: &str, message_id: &str, dlq: &NewDlq) -> Result<()> {
    let inserted = conn
        .prepare_cached(
            "INSERT INTO dlq (dlq_id, tenant, message_id, created_at, response_status, \
             response_headers, response_body, failure_callback) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
        )
        .db()?
        .execute(rusqlite::params![
            dlq.dlq_id,
            tenant,
            message_id,
            int(dlq.created_at)?,
            dlq.response.status,
            encode_headers(&dlq.response.headers),
            dlq.response.body,
            dlq.failure_callback,
        ]);
    match inserted {
        Ok(_) => Ok(()),
        Err(rusqlite::Error::SqliteFailure(f, _)) if f.code == ErrorCode::ConstraintViolation => {
            Err(StoreError::Invalid(format!(
                "dead letter id {} exists already",
                dlq.dlq_id
            )))
        }
        Err(e) => Err(map_error(e)),
    }
}

fn cancel(conn: &Connection, tenant: &str, id: &str, now: Millis) -> Result<CancelOutcome> {
    let current: Option<(i64, String, String, String)> = conn
        .prepare_cached(
            "SELECT rowid, state, destination, labels FROM messages WHERE id = ?1 AND tenant = ?2",
        )
        .db()?
        .query_row(rusqlite::params![id, tenant], |row| {
            Ok((row.get(0)?, row.get(1)?, row.get(2)?, row.get(3)?))
        })
        .optional()
        .db()?;
    let Some((rowid, state, url, labels)) = current else {
        return Ok(CancelOutcome::NotFound);
    };
    let state = MessageState::from_name(&state).ok_or_else(|| corrupt("state"))?;
    if state.is_final() {
        return Ok(CancelOutcome::AlreadyFinal(state));
    }
    conn.prepare_cached(
        "UPDATE messages SET state = 'CANCELLED', claim_open = 0, finished_at = ?2 WHERE rowid = ?1",
    )
    .db()?
    .execute([rowid, int(now)?])
    .db()?;
    for event in ["CANCEL_REQUESTED", "CANCELLED"] {
        append_event(
            conn, tenant, now, id, event, &url, &labels, None, None, None,
        )?;
    }
    Ok(CancelOutcome::Cancelled)
}

fn read_keys(conn: &Connection) -> Result<Option<SigningKeys>> {
    tenant_keys::read_pair(conn, KEY_CURRENT, KEY_NEXT, "signing keys")
}

fn write_keys(conn: &Connection, keys: &SigningKeys) -> Result<()> {
    tenant_keys::write_pair(conn, KEY_CURRENT, KEY_NEXT, keys)
}

// ---------------------------------------------------------------------------------------------
// Reads (run on a reader connection).

fn list_events(
    conn: &Connection,
    tenant: &str,
    filter: &EventFilter,
    cursor: Option<u64>,
    count: usize,
) -> Result<Page<Event>> {
    let count = count.max(1);
    let mut sql = String::from(
        "SELECT id, time, message_id, state, url, labels, response_status, error, \
         next_delivery_time FROM events WHERE tenant = :tenant",
    );
    let cursor = cursor.map(|c| i64::try_from(c).unwrap_or(i64::MAX));
    let needle = filter.label.as_deref().map(label_needle);
    let limit = page_limit(count);
    let mut params: Vec<(&str, &dyn ToSql)> = vec![(":tenant", &tenant), (":limit", &limit)];
    if let Some(cursor) = &cursor {
        sql.push_str(" AND id < :cursor");
        params.push((":cursor", cursor));
    }
    if let Some(message_id) = &filter.message_id {
        sql.push_str(" AND message_id = :message_id");
        params.push((":message_id", message_id));
    }
    if let Some(state) = &filter.state {
        sql.push_str(" AND state = :state");
        params.push((":state", state));
    }
    if let Some(url) = &filter.url {
        sql.push_str(" AND url = :url");
        params.push((":url", url));
    }
    if let Some(needle) = &needle {
        sql.push_str(" AND instr(labels, :label) > 0");
        params.push((":label", needle));
    }
    sql.push_str(" ORDER BY id DESC LIMIT :limit");
    let mut stmt = conn.prepare_cached(&sql).db()?;
    let mut rows = stmt.query(params.as_slice()).db()?;
    let mut items = Vec::new();
    while let Some(row) = rows.next().db()? {
        items.push(decode_event(row)?);
    }
    let next = if items.len() > count {
        items.truncate(count);
        items.last().map(|e| e.id)
    } else {
        None
    };
    Ok(Page { items, next })
}

fn list_dlq(
    conn: &Connection,
    tenant: &str,
    filter: &DlqFilter,
    cursor: Option<u64>,
    count: usize,
) -> Result<Page<DlqEntry>> {
    let count = count.max(1);
    let mut sql = format!(
        "SELECT {DLQ_COLS}, {MSG_COLS} FROM dlq d \
         JOIN messages m ON m.id = d.message_id AND m.tenant = d.tenant \
         WHERE d.tenant = :tenant"
    );
    let cursor = cursor.map(|c| i64::try_from(c).unwrap_or(i64::MAX));
    let needle = filter.label.as_deref().map(label_needle);
    let limit = page_limit(count);
    let mut params: Vec<(&str, &dyn ToSql)> = vec![(":tenant", &tenant), (":limit", &limit)];
    if let Some(cursor) = &cursor {
        sql.push_str(" AND d.seq < :cursor");
        params.push((":cursor", cursor));
    }
    if let Some(url) = &filter.url {
        sql.push_str(" AND m.destination = :url");
        params.push((":url", url));
    }
    if let Some(needle) = &needle {
        sql.push_str(" AND instr(m.labels, :label) > 0");
        params.push((":label", needle));
    }
    if let Some(status) = &filter.response_status {
        sql.push_str(" AND d.response_status = :status");
        params.push((":status", status));
    }
    match filter.workflow {
        Some(true) => sql.push_str(" AND m.run_id IS NOT NULL"),
        Some(false) => sql.push_str(" AND m.run_id IS NULL"),
        None => {}
    }
    sql.push_str(" ORDER BY d.seq DESC LIMIT :limit");
    let mut stmt = conn.prepare_cached(&sql).db()?;
    let mut rows = stmt.query(params.as_slice()).db()?;
    let mut items = Vec::new();
    while let Some(row) = rows.next().db()? {
        items.push(decode_dlq(row)?);
    }
    let next = if items.len() > count {
        items.truncate(count);
        items.last().map(|e| e.seq)
    } else {
        None
    };
    Ok(Page { items, next })
}

fn run_steps(
    conn: &Connection,
    tenant: &str,
    run_id: &str,
    up_to: Option<&str>,
) -> Result<Vec<RunStep>> {
    let last = match up_to {
        Some(message_id) => {
            let seq: Option<i64> = conn
                .prepare_cached(
                    "SELECT seq FROM run_steps \
                     WHERE tenant = ?1 AND message_id = ?2 AND run_id = ?3",
                )
                .db()?
                .query_row([tenant, message_id, run_id], |row| row.get(0))
                .optional()
                .db()?;
            match seq {
                Some(seq) => seq,
                None => return Ok(Vec::new()),
            }
        }
        None => i64::MAX,
    };
    let mut stmt = conn
        .prepare_cached(
            "SELECT seq, message_id, body, created_at FROM run_steps \
             WHERE tenant = ?1 AND run_id = ?2 AND seq <= ?3 ORDER BY seq",
        )
        .db()?;
    let mut rows = stmt.query(rusqlite::params![tenant, run_id, last]).db()?;
    let mut steps = Vec::new();
    while let Some(row) = rows.next().db()? {
        steps.push(RunStep {
            seq: uint(row.get(0).db()?)?,
            message_id: row.get(1).db()?,
            body: row.get(2).db()?,
            created_at: uint(row.get(3).db()?)?,
        });
    }
    Ok(steps)
}

fn list_runs(
    conn: &Connection,
    tenant: &str,
    filter: &RunFilter,
    cursor: Option<u64>,
    count: usize,
) -> Result<Page<StoredRun>> {
    let count = count.max(1);
    let mut sql = format!("SELECT {RUN_COLS} FROM runs r WHERE r.tenant = :tenant");
    let cursor = cursor.map(|c| i64::try_from(c).unwrap_or(i64::MAX));
    let needle = filter.label.as_deref().map(label_needle);
    let state = filter.state.map(RunState::as_str);
    let limit = page_limit(count);
    let mut params: Vec<(&str, &dyn ToSql)> = vec![(":tenant", &tenant), (":limit", &limit)];
    if let Some(cursor) = &cursor {
        sql.push_str(" AND r.seq < :cursor");
        params.push((":cursor", cursor));
    }
    if let Some(run_id) = &filter.run_id {
        sql.push_str(" AND r.run_id = :run_id");
        params.push((":run_id", run_id));
    }
    if let Some(url) = &filter.workflow_url {
        sql.push_str(" AND r.workflow_url = :url");
        params.push((":url", url));
    }
    if let Some(state) = &state {
        sql.push_str(" AND r.state = :state");
        params.push((":state", state));
    }
    if let Some(needle) = &needle {
        sql.push_str(" AND instr(r.labels, :label) > 0");
        params.push((":label", needle));
    }
    sql.push_str(" ORDER BY r.seq DESC LIMIT :limit");
    let mut stmt = conn.prepare_cached(&sql).db()?;
    let mut rows = stmt.query(params.as_slice()).db()?;
    let mut items = Vec::new();
    while let Some(row) = rows.next().db()? {
        items.push(decode_run(row)?);
    }
    let next = if items.len() > count {
        items.truncate(count);
        items.last().map(|r| r.seq)
    } else {
        None
    };
    Ok(Page { items, next })
}

#[async_trait]
impl Store for SqliteStore {
    async fn ping(&self) -> Result<()> {
        if !self.writer_alive.load(Ordering::SeqCst) {
            return Err(closed("the writer thread stopped"));
        }
        self.read(|conn| {
            conn.query_row("SELECT 1", [], |_| Ok(())).db()?;
            Ok(())
        })
        .await
    }

    async fn insert_messages(
        &self,
        messages: Vec<NewMessage>,
        now: Millis,
    ) -> Result<Vec<InsertOutcome>> {
        if messages.is_empty() {
            return Ok(Vec::new());
        }
        self.write_accept(move |conn| insert_all(conn, &messages, now))
            .await
    }

    async fn claim_due(&self, now: Millis, limit: usize) -> Result<Vec<Claimed>> {
        // A claim need not be synced (see `Durability::Written`): it is off the accept path's
        // fsyncs and on the delivery path's latency.
        self.write_with(Durability::Written, Admission::Wait, move |conn| {
            claim_due(conn, now, limit)
        })
        .await
    }

    async fn next_due(&self, now: Millis) -> Result<Option<Millis>> {
        self.read(move |conn| next_due(conn, now)).await
    }

    async fn due_count(&self, now: Millis) -> Result<u64> {
        self.read(move |conn| {
            let n: i64 = conn
                .prepare_cached(
                    "SELECT count(*) FROM messages WHERE state = 'PENDING' AND due_at <= ?1",
                )
                .db()?
                .query_row([int(now)?], |row| row.get(0))
                .db()?;
            Ok(u64::try_from(n).unwrap_or(0))
        })
        .await
    }

    async fn finish(&self, finishes: Vec<Finish>) -> Result<Vec<FinishOutcome>> {
        if finishes.is_empty() {
            return Ok(Vec::new());
        }
        self.write(move |conn| finishes.iter().map(|f| finish_one(conn, f)).collect())
            .await
    }

    async fn get_message(&self, tenant: &str, id: &str) -> Result<Option<StoredMessage>> {
        let (tenant, id) = (tenant.to_string(), id.to_string());
        self.read(move |conn| {
            let sql =
                format!("SELECT {MSG_COLS} FROM messages m WHERE m.id = ?1 AND m.tenant = ?2");
            let mut stmt = conn.prepare_cached(&sql).db()?;
            let mut rows = stmt.query([&id, &tenant]).db()?;
            match rows.next().db()? {
                Some(row) => Ok(Some(decode_message(row, 0)?)),
                None => Ok(None),
            }
        })
        .await
    }

    async fn cancel_message(&self, tenant: &str, id: &str, now: Millis) -> Result<CancelOutcome> {
        let (tenant, id) = (tenant.to_string(), id.to_string());
        self.write(move |conn| cancel(conn, &tenant, &id, now))
            .await
    }

    async fn list_events(
        &self,
        tenant: &str,
        filter: &EventFilter,
        cursor: Option<u64>,
        count: usize,
    ) -> Result<Page<Event>> {
        let (tenant, filter) = (tenant.to_string(), filter.clone());
        self.read(move |conn| list_events(conn, &tenant, &filter, cursor, count))
            .await
    }

    async fn list_dlq(
        &self,
        tenant: &str,
        filter: &DlqFilter,
        cursor: Option<u64>,
        count: usize,
    ) -> Result<Page<DlqEntry>> {
        let (tenant, filter) = (tenant.to_string(), filter.clone());
        self.read(move |conn| list_dlq(conn, &tenant, &filter, cursor, count))
            .await
    }

    async fn get_dlq(&self, tenant: &str, dlq_id: &str) -> Result<Option<DlqEntry>> {
        let (tenant, dlq_id) = (tenant.to_string(), dlq_id.to_string());
        self.read(move |conn| {
            let sql = format!(
                "SELECT {DLQ_COLS}, {MSG_COLS} FROM dlq d \
                 JOIN messages m ON m.id = d.message_id AND m.tenant = d.tenant \
                 WHERE d.dlq_id = ?1 AND d.tenant = ?2"
            );
            let mut stmt = conn.prepare_cached(&sql).db()?;
            let mut rows = stmt.query([&dlq_id, &tenant]).db()?;
            match rows.next().db()? {
                Some(row) => Ok(Some(decode_dlq(row)?)),
                None => Ok(None),
            }
        })
        .await
    }

    async fn delete_dlq(&self, tenant: &str, dlq_ids: &[String]) -> Result<u64> {
        if dlq_ids.is_empty() {
            return Ok(0);
        }
        let (tenant, ids) = (tenant.to_string(), dlq_ids.to_vec());
        self.write(move |conn| {
            let mut stmt = conn
                .prepare_cached("DELETE FROM dlq WHERE dlq_id = ?1 AND tenant = ?2")
                .db()?;
            let mut deleted = 0u64;
            for id in &ids {
                deleted += stmt.execute([id, &tenant]).db()? as u64;
            }
            Ok(deleted)
        })
        .await
    }

    async fn signing_keys_or_init(&self, proposed: SigningKeys) -> Result<SigningKeys> {
        self.write(move |conn| match read_keys(conn)? {
            Some(keys) => Ok(keys),
            None => {
                write_keys(conn, &proposed)?;
                Ok(proposed)
            }
        })
        .await
    }

    async fn rotate_signing_keys(&self, new_next: String) -> Result<SigningKeys> {
        self.write(move |conn| {
            let old = read_keys(conn)?.ok_or_else(|| {
                StoreError::Invalid("there are no signing keys to rotate yet".to_string())
            })?;
            let keys = SigningKeys {
                current: old.next,
                next: new_next,
            };
            write_keys(conn, &keys)?;
            Ok(keys)
        })
        .await
    }

    async fn tenant_signing_keys_or_init(
        &self,
        tenant: &str,
        proposed: SigningKeys,
    ) -> Result<SigningKeys> {
        // Read first (the common case, off the writer thread); store only a tenant's first pair.
        let t = tenant.to_string();
        if let Some(keys) = self.read(move |conn| tenant_keys::read(conn, &t)).await? {
            return Ok(keys);
        }
        let t = tenant.to_string();
        self.write(move |conn| tenant_keys::or_init(conn, &t, proposed))
            .await
    }

    async fn rotate_tenant_signing_keys(
        &self,
        tenant: &str,
        new_next: String,
    ) -> Result<SigningKeys> {
        let t = tenant.to_string();
        self.write(move |conn| tenant_keys::rotate(conn, &t, new_next))
            .await
    }

    async fn create_run(
        &self,
        run: NewRun,
        first: NewMessage,
        now: Millis,
    ) -> Result<CreateRunOutcome> {
        self.write_accept(move |conn| create_run(conn, &run, &first, now))
            .await
    }

    async fn get_run(&self, tenant: &str, run_id: &str) -> Result<Option<StoredRun>> {
        let (tenant, run_id) = (tenant.to_string(), run_id.to_string());
        self.read(move |conn| get_run(conn, &tenant, &run_id)).await
    }

    async fn run_steps(
        &self,
        tenant: &str,
        run_id: &str,
        up_to: Option<&str>,
    ) -> Result<Vec<RunStep>> {
        let (tenant, run_id) = (tenant.to_string(), run_id.to_string());
        let up_to = up_to.map(str::to_string);
        self.read(move |conn| run_steps(conn, &tenant, &run_id, up_to.as_deref()))
            .await
    }

    async fn end_run(
        &self,
        tenant: &str,
        run_id: &str,
        end: EndRun,
        now: Millis,
    ) -> Result<EndRunOutcome> {
        let (tenant, run_id) = (tenant.to_string(), run_id.to_string());
        self.write(move |conn| end_run(conn, &tenant, &run_id, &end, now, None))
            .await
    }

    async fn list_runs(
        &self,
        tenant: &str,
        filter: &RunFilter,
        cursor: Option<u64>,
        count: usize,
    ) -> Result<Page<StoredRun>> {
        let (tenant, filter) = (tenant.to_string(), filter.clone());
        self.read(move |conn| list_runs(conn, &tenant, &filter, cursor, count))
            .await
    }

    async fn flow_control(
        &self,
        tenant: &str,
        key: &str,
        now: Millis,
    ) -> Result<Option<FlowControlInfo>> {
        let (tenant, key) = (tenant.to_string(), key.to_string());
        self.read(move |conn| flow_info(conn, &tenant, &key, now))
            .await
    }

    async fn list_flow_control(&self, tenant: &str, now: Millis) -> Result<Vec<FlowControlInfo>> {
        let tenant = tenant.to_string();
        self.read(move |conn| list_flow_info(conn, &tenant, now))
            .await
    }

    async fn create_run_with_steps(
        &self,
        run: NewRun,
        steps: Vec<RunStep>,
        first: NewMessage,
        now: Millis,
    ) -> Result<CreateRunOutcome> {
        self.write_accept(move |conn| create_run_with_steps(conn, &run, &steps, &first, now))
            .await
    }

    async fn write_batch(
        &self,
        runs: Vec<RunToCreate>,
        messages: Vec<NewMessage>,
        now: Millis,
    ) -> Result<BatchOutcome> {
        // One command, so one savepoint: an error rolls back every run and message of it.
        self.write(move |conn| {
            let runs = runs
                .iter()
                .map(|r| create_run_with_steps(conn, &r.run, &r.steps, &r.first, now))
                .collect::<Result<Vec<_>>>()?;
            let messages = insert_all(conn, &messages, now)?;
            Ok(BatchOutcome { runs, messages })
        })
        .await
    }

    async fn end_runs(
        &self,
        tenant: &str,
        run_ids: &[String],
        end: EndRun,
        now: Millis,
    ) -> Result<Vec<EndRunOutcome>> {
        let (tenant, run_ids) = (tenant.to_string(), run_ids.to_vec());
        self.write(move |conn| {
            run_ids
                .iter()
                .map(|id| end_run(conn, &tenant, id, &end, now, None))
                .collect()
        })
        .await
    }

    async fn register_waiter(
        &self,
        event_id: &str,
        message: NewMessage,
        now: Millis,
    ) -> Result<InsertOutcome> {
        let event_id = event_id.to_string();
        self.write_accept(move |conn| register_waiter(conn, &event_id, &message, now))
            .await
    }

    async fn list_waiters(
        &self,
        tenant: &str,
        event_id: &str,
        run_id: Option<&str>,
    ) -> Result<Vec<Waiter>> {
        let (tenant, event_id) = (tenant.to_string(), event_id.to_string());
        let run_id = run_id.map(str::to_string);
        self.read(move |conn| list_waiters(conn, &tenant, &event_id, run_id.as_deref()))
            .await
    }

    async fn release_waiter(
        &self,
        tenant: &str,
        message_id: &str,
        body: Vec<u8>,
        now: Millis,
    ) -> Result<bool> {
        let (tenant, message_id) = (tenant.to_string(), message_id.to_string());
        self.write(move |conn| release_waiter(conn, &tenant, &message_id, &body, now))
            .await
    }

    async fn purge(&self, cutoffs: PurgeCutoffs, batch_limit: usize) -> Result<PurgeCounts> {
        self.write(move |conn| retention::purge(conn, cutoffs, batch_limit))
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers_round_trip() {
        let headers = vec![
            ("A".to_string(), "1".to_string()),
            ("Empty".to_string(), String::new()),
            ("Long".to_string(), "x".repeat(300)),
            ("A".to_string(), "ünïcode".to_string()),
        ];
        let bytes = encode_headers(&headers);
        assert_eq!(decode_headers(&bytes).unwrap(), headers);
        assert_eq!(decode_headers(&encode_headers(&[])).unwrap(), vec![]);
        assert!(decode_headers(&bytes[..bytes.len() - 1]).is_err());
        assert!(decode_headers(&[0xff; 12]).is_err());
        let mut extra = bytes.clone();
        extra.push(0);
        assert!(decode_headers(&extra).is_err());
    }

    #[test]
    fn labels_round_trip() {
        for labels in [
            vec![],
            vec![String::new()],
            vec!["a".to_string()],
            vec!["a%b".to_string(), "_".to_string(), "a,b".to_string()],
        ] {
            let s = encode_labels(&labels).unwrap();
            assert_eq!(decode_labels(&s).unwrap(), labels);
        }
        assert!(encode_labels(&["a\u{1f}b".to_string()]).is_err());
        let stored = encode_labels(&["ab".to_string(), "c".to_string()]).unwrap();
        assert!(stored.contains(&label_needle("c")));
        assert!(!stored.contains(&label_needle("a")));
        assert!(!stored.contains(&label_needle("b")));
    }

    fn plan(conn: &Connection, sql: &str) -> String {
        let mut stmt = conn.prepare(&format!("EXPLAIN QUERY PLAN {sql}")).unwrap();
        let rows = stmt.query_map([], |row| row.get::<_, String>(3)).unwrap();
        rows.map(Result::unwrap).collect::<Vec<_>>().join("; ")
    }

    #[test]
    fn hot_queries_use_their_indexes() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("plan.db");
        drop(SqliteStore::open(&path).unwrap());
        let conn = Connection::open(&path).unwrap();
        let claim = plan(
            &conn,
            "SELECT rowid FROM messages WHERE state = 'PENDING' AND due_at <= 5 \
             ORDER BY due_at, rowid LIMIT 10",
        );
        assert!(claim.contains("messages_due"), "{claim}");
        assert!(!claim.contains("TEMP B-TREE"), "{claim}");
        let next = plan(
            &conn,
            "SELECT due_at FROM messages WHERE state = 'PENDING' ORDER BY due_at LIMIT 1",
        );
        assert!(next.contains("messages_due"), "{next}");
        let events = plan(
            &conn,
            "SELECT id FROM events WHERE tenant = 't' AND id < 9 ORDER BY id DESC LIMIT 5",
        );
        assert!(events.contains("events_tenant"), "{events}");
        assert!(!events.contains("TEMP B-TREE"), "{events}");
        let by_message = plan(
            &conn,
            "SELECT id FROM events WHERE tenant = 't' AND message_id = 'm' ORDER BY id DESC \
             LIMIT 5",
        );
        assert!(by_message.contains("events_message"), "{by_message}");
        let dlq = plan(
            &conn,
            &format!(
                "SELECT {DLQ_COLS}, {MSG_COLS} FROM dlq d JOIN messages m \
                 ON m.id = d.message_id AND m.tenant = d.tenant WHERE d.tenant = 't' \
                 ORDER BY d.seq DESC LIMIT 5"
            ),
        );
        assert!(dlq.contains("dlq_tenant"), "{dlq}");
        assert!(!dlq.contains("TEMP B-TREE"), "{dlq}");

        let run_pending = plan(
            &conn,
            "SELECT rowid, id, destination, labels FROM messages \
             WHERE tenant = 't' AND run_id = 'r' AND state = 'PENDING'",
        );
        assert!(run_pending.contains("messages_run"), "{run_pending}");
        let get_run = plan(
            &conn,
            &format!("SELECT {RUN_COLS} FROM runs r WHERE r.tenant = 't' AND r.run_id = 'r'"),
        );
        assert!(get_run.contains("sqlite_autoindex_runs"), "{get_run}");
        let runs = plan(
            &conn,
            &format!(
                "SELECT {RUN_COLS} FROM runs r WHERE r.tenant = 't' AND r.seq < 9 \
                 ORDER BY r.seq DESC LIMIT 5"
            ),
        );
        assert!(runs.contains("runs_tenant"), "{runs}");
        assert!(!runs.contains("TEMP B-TREE"), "{runs}");
        let steps = plan(
            &conn,
            "SELECT seq, message_id, body, created_at FROM run_steps \
             WHERE tenant = 't' AND run_id = 'r' AND seq <= 5 ORDER BY seq",
        );
        assert!(steps.contains("sqlite_autoindex_run_steps"), "{steps}");
        assert!(!steps.contains("TEMP B-TREE"), "{steps}");
        let up_to = plan(
            &conn,
            "SELECT seq FROM run_steps WHERE tenant = 't' AND message_id = 'm' AND run_id = 'r'",
        );
        assert!(up_to.contains("run_steps_message"), "{up_to}");
        let next_step = plan(
            &conn,
            "SELECT r.state, (SELECT MAX(s.seq) FROM run_steps s \
             WHERE s.tenant = r.tenant AND s.run_id = r.run_id) \
             FROM runs r WHERE r.tenant = 't' AND r.run_id = 'r'",
        );
        assert!(
            next_step.contains("sqlite_autoindex_run_steps"),
            "{next_step}"
        );
        assert!(!next_step.contains("SCAN"), "{next_step}");
        let in_flight = plan(
            &conn,
            "SELECT COUNT(*) FROM messages WHERE tenant = 't' AND flow_key = 'k' \
             AND state = 'PENDING' AND claim_open = 1 AND due_at > 5",
        );
        assert!(in_flight.contains("messages_flow"), "{in_flight}");
        let waiting = plan(
            &conn,
            "SELECT COUNT(*) FROM messages WHERE tenant = 't' AND flow_key = 'k' \
             AND state = 'PENDING' AND claim_open IN (0, 1) AND due_at <= 5",
        );
        assert!(waiting.contains("messages_flow"), "{waiting}");
        let same_due = plan(
            &conn,
            "SELECT rowid, due_at, tenant, flow_key FROM messages \
             WHERE state = 'PENDING' AND due_at = 3 AND rowid > 9 ORDER BY rowid LIMIT 10",
        );
        assert!(same_due.contains("due_at=? AND rowid>?"), "{same_due}");
        assert!(!same_due.contains("TEMP B-TREE"), "{same_due}");
        let later = plan(
            &conn,
            "SELECT rowid, due_at, tenant, flow_key FROM messages \
             WHERE state = 'PENDING' AND due_at > 3 AND due_at <= 5 \
             ORDER BY due_at, rowid LIMIT 10",
        );
        assert!(later.contains("messages_due"), "{later}");
        assert!(!later.contains("TEMP B-TREE"), "{later}");
        let key = plan(
            &conn,
            "SELECT parallelism, rate, period_ms, window_start, window_count FROM flow_keys \
             WHERE tenant = 't' AND key = 'k'",
        );
        assert!(key.contains("PRIMARY KEY"), "{key}");
        let waiters = plan(
            &conn,
            &format!(
                "SELECT {MSG_COLS} FROM waiters w JOIN messages m ON m.id = w.message_id \
                 WHERE w.tenant = 't' AND w.event_id = 'e' AND m.tenant = w.tenant \
                 AND m.state = 'PENDING' AND m.claim = 0 AND (NULL IS NULL OR m.run_id = NULL) \
                 ORDER BY w.seq"
            ),
        );
        assert!(waiters.contains("waiters_event"), "{waiters}");
        assert!(!waiters.contains("SCAN"), "{waiters}");
        let release = plan(
            &conn,
            "SELECT m.rowid, m.run_id FROM waiters w JOIN messages m ON m.id = w.message_id \
             WHERE w.tenant = 't' AND w.message_id = 'm' AND m.tenant = w.tenant \
             AND m.state = 'PENDING' AND m.claim = 0",
        );
        assert!(!release.contains("SCAN"), "{release}");
    }

    /// A file written by the previous version (schema 1, before workflow runs) opens, migrates
    /// to the current version, and keeps its data; the new columns read as "no run".
    #[tokio::test]
    async fn a_version_1_database_migrates() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("v1.db");
        {
            let conn = Connection::open(&path).unwrap();
            conn.execute_batch("PRAGMA journal_mode=WAL").unwrap();
            conn.execute_batch(MIGRATIONS[0]).unwrap();
            conn.execute_batch("PRAGMA user_version = 1").unwrap();
            // Rows as version 1 wrote them.
            conn.execute_batch(&format!(
                "INSERT INTO messages (tenant, id, destination, method, headers, body, \
                 created_at, first_due_at, due_at, max_retries, state, lease_ms, labels, extra) \
                 VALUES ('t1', 'msg_old', 'https://example.com/old', 'POST', x'00', x'6869', \
                 5, 7, 7, 3, 'PENDING', 60000, '{sep}red{sep}', x''); \
                 INSERT INTO messages (tenant, id, destination, method, headers, body, \
                 created_at, first_due_at, due_at, max_retries, state, lease_ms, labels, extra) \
                 VALUES ('t1', 'msg_dead', 'https://example.com/dead', 'POST', x'00', x'', \
                 5, 7, 7, 3, 'FAILED', 60000, '', x''); \
                 INSERT INTO messages (tenant, id, destination, method, headers, body, \
                 created_at, first_due_at, due_at, max_retries, state, lease_ms, labels, extra, \
                 flow_key) VALUES ('t1', 'msg_keyed', 'https://example.com/k', 'POST', x'00', \
                 x'', 5, 7, 7, 3, 'PENDING', 60000, '', x'', 'old-key'); \
                 INSERT INTO dlq (dlq_id, tenant, message_id, created_at, response_status, \
                 response_headers, response_body) VALUES ('dlq_old', 't1', 'msg_dead', 8, 500, \
                 x'00', x''); \
                 INSERT INTO events (tenant, time, message_id, state, url, labels) \
                 VALUES ('t1', 5, 'msg_old', 'CREATED', 'https://example.com/old', '');",
                sep = crate::codec::LABEL_SEP
            ))
            .unwrap();
        }
        let store = SqliteStore::open(&path).unwrap();
        let old = store.get_message("t1", "msg_old").await.unwrap().unwrap();
        assert_eq!(old.message.run, None);
        assert_eq!(old.message.body, b"hi");
        assert_eq!(old.message.labels, ["red"]);
        assert_eq!(old.state, MessageState::Pending);
        // A key used before flow control was kept is known, with no limits.
        let keyed = store.get_message("t1", "msg_keyed").await.unwrap().unwrap();
        assert_eq!(keyed.message.flow_limits, None);
        let keys = store.list_flow_control("t1", 10).await.unwrap();
        assert_eq!(keys.len(), 1);
        assert_eq!(
            (
                keys[0].key.as_str(),
                keys[0].parallelism_max,
                keys[0].rate_max
            ),
            ("old-key", None, None)
        );
        assert_eq!(keys[0].wait_list_size, 1);
        let not_workflow = DlqFilter {
            workflow: Some(false),
            ..DlqFilter::default()
        };
        let page = store.list_dlq("t1", &not_workflow, None, 10).await.unwrap();
        assert_eq!(page.items.len(), 1);
        assert_eq!(page.items[0].message.message.run, None);
        let workflow = DlqFilter {
            workflow: Some(true),
            ..DlqFilter::default()
        };
        let page = store.list_dlq("t1", &workflow, None, 10).await.unwrap();
        assert!(page.items.is_empty());
        // The new tables work beside the old rows.
        let run = NewRun {
            tenant: "t1".to_string(),
            run_id: "wfr_a".to_string(),
            workflow_url: "https://example.com/wf".to_string(),
            created_at: 10,
            initial_body: b"start".to_vec(),
            labels: Vec::new(),
            config: Vec::new(),
        };
        let mut first = old.message.clone();
        first.id = "msg_new".to_string();
        first.run = Some(RunLink {
            run_id: "wfr_a".to_string(),
            step: true,
        });
        assert_eq!(
            store.create_run(run, first.clone(), 10).await.unwrap(),
            CreateRunOutcome::Created
        );
        let new = store.get_message("t1", "msg_new").await.unwrap().unwrap();
        assert_eq!(new.message, first);
        assert_eq!(store.run_steps("t1", "wfr_a", None).await.unwrap().len(), 1);
        let events = store
            .list_events("t1", &EventFilter::default(), None, 10)
            .await
            .unwrap();
        assert_eq!(events.items.len(), 2, "the old event and the new one");
        store.close().await;
        let conn = Connection::open(&path).unwrap();
        let version: i64 = conn
            .query_row("PRAGMA user_version", [], |row| row.get(0))
            .unwrap();
        assert_eq!(version, SCHEMA_VERSION);
        assert_eq!(SCHEMA_VERSION, 5);
        // Messages that had finished take their last due time as their finish time.
        let finished = |id: &str| -> Option<i64> {
            conn.query_row(
                "SELECT finished_at FROM messages WHERE id = ?1",
                [id],
                |row| row.get(0),
            )
            .unwrap()
        };
        assert_eq!(finished("msg_dead"), Some(7));
        assert_eq!(finished("msg_old"), None);
    }
}
