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
//!
//! # Layout
//! This module holds [`SqliteStore`], its options and its [`Store`] implementation, which runs
//! each call on the writer or a reader. The work is done by one module per job: `schema`
//! (migrations), `writer` (the writer and checkpoint threads, group commit), `readers`, `rows`
//! (driver errors, row decoding), and the SQL of each area: `messages` (insert, dedup,
//! cancel), `claim` (due scan, claims, next due), `finish`, `runs`, `waiters`, `flow`, `dlq`,
//! `events`, `tenant_keys` (signing keys) and `retention`.

mod claim;
mod dlq;
mod events;
mod finish;
mod flow;
mod messages;
mod readers;
mod retention;
mod rows;
mod runs;
mod schema;
mod tenant_keys;
#[cfg(test)]
mod tests;
mod waiters;
mod writer;

use claim::*;
use dlq::*;
use events::*;
use finish::*;
use flow::*;
use messages::*;
use readers::*;
use rows::*;
use runs::*;
pub use schema::SCHEMA_VERSION;
use schema::migrate;
use tenant_keys::{read_keys, write_keys};
use waiters::*;
use writer::*;

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

use crate::codec::{
    DLQ_COLS, DLQ_NCOLS, MSG_COLS, RUN_COLS, closed, corrupt, decode_headers, decode_labels,
    encode_headers, encode_labels, int, label_needle, opt_u32, opt_uint, page_limit, uint,
};
use crate::flow::{Hold, KeyState};
use crate::{
    AttemptResponse, BatchOutcome, CancelOutcome, Claimed, CreateRunOutcome, Dedup, DlqEntry,
    DlqFilter, EndRun, EndRunOutcome, Event, EventFilter, Finish, FinishOutcome, FlowControlInfo,
    FlowLimits, InsertOutcome, MessageState, Millis, NewDlq, NewMessage, NewRun, Page, PurgeCounts,
    PurgeCutoffs, Result, RunFilter, RunLink, RunState, RunStep, RunToCreate, SigningKeys, Store,
    StoreError, StoreErrorKind, StoredMessage, StoredRun, Transition, Waiter, async_trait,
};

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
