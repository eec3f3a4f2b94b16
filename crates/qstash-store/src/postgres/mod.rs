//! The PostgreSQL backend: one database (or one schema of it) shared by any number of server
//! processes.
//!
//! # Connections
//! - **A pool** ([`PgOptions::pool_size`] connections, plain TCP or a Unix socket, no TLS)
//!   serves every operation; each write is one transaction, each read one statement.
//! - **Group commit for accepts and finishes.** Concurrent [`Store::insert_messages`] and
//!   [`Store::finish`] calls are queued to a small set of group writers
//!   ([`PgOptions::group_writers`]); each takes every call waiting (up to
//!   [`PgOptions::max_group`]) and applies them in one transaction, the plain messages of the
//!   whole group with one multi-row statement for the messages and one for their events (a
//!   message with a deduplication id or that is a step of a workflow run is stored on its own).
//!   Each call stays all or none: when a call fails (an id that exists), the transaction is
//!   rolled back and the group runs again with one savepoint per call, so that only the failing
//!   call fails.
//! - **Claims** select due messages with `FOR UPDATE SKIP LOCKED`, so that processes claiming
//!   at the same time never wait for one another nor claim the same message under one lease.
//!   Flow control: a claim also locks the rows of the flow-control keys it meets (`SKIP
//!   LOCKED` again), counts their attempts in flight from the messages and applies their
//!   limits, so that a key's parallelism and rate hold across processes; a key whose row
//!   another claim holds at that moment is left for the next claim.
//! - **Waiters** (a run's wait for an event) are released under the message's row lock, which
//!   the claim of the wait's timeout also takes: exactly one of the two applies.
//! - **Wake-ups across processes.** A transaction that stores a pending message (an accept, a
//!   retry, a callback, a released waiter) or frees a flow-control key's place sends one
//!   `NOTIFY` on the store's channel, with the earliest due time of that work; every other
//!   process's store listens on a dedicated connection (reconnecting after errors) and notifies
//!   the [`Notify`] of [`Store::due_wakeups`] when that time is before its scheduler's plan (its
//!   last [`Store::next_due`] answer), so that the scheduler looks again at once instead of at
//!   the end of its sleep, and is not woken for work it would look at in time anyway.
//!
//! # Schema
//! The tables live in the connection's current schema, or in [`PgOptions::schema`] (created
//! when missing). [`PgStore::connect`] applies the missing migrations of [`MIGRATIONS`], each in
//! its own transaction, under a session advisory lock of the schema, so that several processes
//! may start at once; the version reached is kept in the table `qstash_migrations`. A schema
//! whose version is newer than this code is refused with [`StoreError::Corrupt`].
//!
//! # Event order
//! Event ids come from an identity column: they increase in the order the events were written.
//! Two transactions committing at the same time may make their events visible in another order
//! than their ids; a walk over the log that is under way then may not see the event of the
//! transaction that committed last, exactly as if it had arrived after the walk.
//!
//! # Layout
//! This module holds [`PgStore`], its options and its [`Store`] implementation (one transaction
//! a call, retried on a deadlock). The work is done by one module per job: `schema`
//! (migrations), `listener` (`LISTEN`/`NOTIFY`), `writer` (group commit of accepts and
//! finishes) with `bulk_insert` (multi-row inserts), `rows` (driver errors, statement helpers,
//! row decoding), `tls`, and the SQL of each area: `messages` (insert, dedup, cancel), `claim`
//! (due scan, claims, next due), `finish`, `runs`, `waiters`, `flow`, `dlq`, `events`,
//! `tenant_keys` (signing keys) and `retention`.

mod bulk;
mod bulk_insert;
mod claim;
mod dlq;
mod events;
mod finish;
mod flow;
mod listener;
mod messages;
mod retention;
mod rows;
mod runs;
mod schedules;
mod schema;
mod tenant_keys;
#[cfg(test)]
mod tests;
mod tls;
mod url_groups;
mod waiters;
mod writer;

use bulk::*;
use bulk_insert::*;
use claim::*;
use dlq::*;
use events::*;
use finish::*;
use flow::*;
use listener::*;
use messages::*;
use rows::*;
use runs::*;
use schema::migrate;
pub use schema::{MIGRATIONS, SCHEMA_VERSION};
use tenant_keys::{lock_keys, read_keys, write_keys};
use waiters::*;
use writer::*;

use std::collections::{BTreeMap, HashMap, HashSet};
use std::fmt;
use std::str::FromStr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use deadpool_postgres::{
    GenericClient, Manager, ManagerConfig, Object, Pool, PoolError, RecyclingMethod, Runtime,
    Transaction,
};
use tokio::sync::{Notify, OwnedSemaphorePermit, Semaphore, mpsc, oneshot};
use tokio::task::JoinHandle;
use tokio_postgres::error::SqlState;
use tokio_postgres::types::{FromSql, ToSql};
use tokio_postgres::{AsyncMessage, Config, Row};

use crate::codec::{
    DLQ_COLS, DLQ_NCOLS, MSG_COLS, RUN_COLS, closed, corrupt, decode_headers, decode_labels,
    encode_headers, encode_labels, int, label_needle, opt_u32, opt_uint, page_limit, uint,
};
use crate::filter_sql::{Dialect, SqlValue, Where};
use crate::flow::{Hold, KeyState};
use crate::{
    AttemptResponse, BatchOutcome, CancelOutcome, Claimed, CreateRunOutcome, Dedup, DlqEntry,
    DlqFilter, EndRun, EndRunOutcome, Event, EventFilter, Finish, FinishOutcome, FlowControlInfo,
    FlowLimits, InsertOutcome, MessageFilter, MessageState, Millis, NewDlq, NewMessage, NewRun,
    Page, PurgeCounts, PurgeCutoffs, Result, RunFilter, RunLink, RunState, RunStep, RunToCreate,
    SigningKeys, Store, StoreError, StoreErrorKind, StoredMessage, StoredRun, Transition, Waiter,
    async_trait,
};

/// How a [`PgStore`] connects: pool size, timeouts, grouping, schema.
///
/// ```
/// use qstash_store::postgres::PgOptions;
///
/// let options = PgOptions { pool_size: 8, ..PgOptions::default() };
/// assert_eq!(options.pool_size, 8);
/// ```
#[derive(Debug, Clone)]
pub struct PgOptions {
    /// The most connections the pool opens (at least 1; default 16). Besides them, the store
    /// keeps one connection for `LISTEN` and opens one for a moment to migrate at start.
    pub pool_size: usize,
    /// How long opening a connection, or waiting for a free one, may take before the operation
    /// fails with [`StoreError::Unavailable`] (default 5 s).
    pub connect_timeout: Duration,
    /// At most this many `insert_messages` and `finish` calls share one transaction (at least
    /// 1; default 256).
    pub max_group: usize,
    /// How many group transactions may run at once (at least 1; default 4): while they are all
    /// busy, new calls wait and form the next groups.
    pub group_writers: usize,
    /// The schema that holds the tables, created when missing; `None` (the default) uses the
    /// connection's current schema (`public` unless the URL or the role says otherwise).
    /// Lowercase letters, digits and `_` only, at most 50 characters, not starting with a digit.
    pub schema: Option<String>,
    /// At most this many writes wait for the group writers or a connection, or are being
    /// applied (at least 1; default 2 048): beyond it, accepts (`insert_messages`,
    /// `create_run`, `create_run_with_steps`, `register_waiter`) fail at once with
    /// [`StoreError::Overloaded`], and `finish` calls wait for room.
    pub max_queued: usize,
}

impl Default for PgOptions {
    fn default() -> Self {
        PgOptions {
            pool_size: 16,
            connect_timeout: Duration::from_secs(5),
            max_group: 256,
            group_writers: 4,
            schema: None,
            max_queued: 2048,
        }
    }
}

/// The PostgreSQL store: a pool, group commit of accepts, claims with `SKIP LOCKED`, and
/// wake-ups across processes over `LISTEN`/`NOTIFY`. See the [module documentation](self).
pub struct PgStore {
    pool: Pool,
    shared: Arc<Shared>,
    writes: mpsc::UnboundedSender<Job>,
    /// One permit per write waiting or being applied (see [`PgOptions::max_queued`]).
    queue: Arc<Semaphore>,
    max_queued: usize,
    wakeups: Arc<Notify>,
    listener: JoinHandle<()>,
}

/// What the store's tasks share.
struct Shared {
    /// The `NOTIFY` channel of this store's schema.
    channel: String,
    /// This instance's id, the start of its notifications' payload (so it ignores its own).
    instance: String,
    /// The scheduler's plan: the last answer of `next_due` (`u64::MAX` for none, or while one
    /// is being computed). A notification wakes the scheduler only for work due before it.
    planned: AtomicU64,
    /// Group commits made and calls they carried.
    commits: AtomicU64,
    calls: AtomicU64,
}

impl fmt::Debug for PgStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PgStore")
            .field("channel", &self.shared.channel)
            .field("pool", &self.pool.status())
            .finish_non_exhaustive()
    }
}

impl Drop for PgStore {
    fn drop(&mut self) {
        self.listener.abort();
        self.pool.close();
    }
}

/// Counters of the group writers, to see how well writes are grouped.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct GroupStats {
    /// Group transactions committed.
    pub commits: u64,
    /// `insert_messages` and `finish` calls they carried.
    pub calls: u64,
}

impl PgStore {
    /// Connects to the database at `url` (`postgres://user:password@host:port/database`, or
    /// any form `tokio-postgres` accepts), applies the missing migrations, and starts the
    /// group writers and the `LISTEN` connection. Needs a tokio runtime.
    ///
    /// Errors: [`StoreError::Invalid`] for a URL or option that cannot be used;
    /// an error of kind [`StoreErrorKind::Unavailable`] when the database cannot be reached;
    /// [`StoreError::Corrupt`] when its schema is newer than [`SCHEMA_VERSION`]. The URL (which
    /// may hold a password) is never part of an error.
    pub async fn connect(url: &str, options: PgOptions) -> Result<PgStore> {
        let (url, ssl_mode, ssl_root) = tls::split_url(url)?;
        let mut config = Config::from_str(&url).map_err(|_| {
            StoreError::Invalid("the database URL is not a valid PostgreSQL URL".to_string())
        })?;
        config.ssl_mode(tls::driver_mode(ssl_mode));
        let tls = tls::MakeRustls::new(ssl_mode, ssl_root.as_deref())?;
        config.connect_timeout(options.connect_timeout);
        if config.get_application_name().is_none() {
            config.application_name("qstash");
        }
        if let Some(schema) = &options.schema {
            check_schema_name(schema)?;
            let search_path = format!("-c search_path={schema}");
            let joined = match config.get_options() {
                Some(existing) if !existing.is_empty() => format!("{existing} {search_path}"),
                _ => search_path,
            };
            config.options(joined);
        }

        migrate(&config, &tls, options.schema.as_deref()).await?;

        let manager = Manager::from_config(
            config.clone(),
            tls.clone(),
            ManagerConfig {
                recycling_method: RecyclingMethod::Fast,
            },
        );
        let pool = Pool::builder(manager)
            .max_size(options.pool_size.max(1))
            .runtime(Runtime::Tokio1)
            .wait_timeout(Some(options.connect_timeout))
            .create_timeout(Some(options.connect_timeout))
            .recycle_timeout(Some(options.connect_timeout))
            .build()
            .map_err(|e| StoreError::Invalid(format!("cannot build the connection pool: {e}")))?;
        let schema: String = {
            let client = pool.get().await.map_err(pool_error)?;
            let row = one(&client, "SELECT current_schema()::text", &[]).await?;
            col::<Option<String>>(&row, 0)?.ok_or_else(|| {
                StoreError::Unavailable("the connection has no current schema".to_string())
            })?
        };
        let mut channel = format!("qstash_{schema}");
        while channel.len() > 63 {
            channel.pop();
        }
        let shared = Arc::new(Shared {
            channel,
            instance: instance_id(),
            planned: AtomicU64::new(u64::MAX),
            commits: AtomicU64::new(0),
            calls: AtomicU64::new(0),
        });

        let wakeups = Arc::new(Notify::new());
        let (ready_tx, ready_rx) = oneshot::channel();
        let listener = tokio::spawn(listen(
            config,
            tls,
            Arc::clone(&shared),
            Arc::clone(&wakeups),
            ready_tx,
        ));
        match tokio::time::timeout(options.connect_timeout, ready_rx).await {
            Ok(Ok(Ok(()))) => {}
            Ok(Ok(Err(e))) => {
                listener.abort();
                return Err(e);
            }
            Ok(Err(_)) | Err(_) => {
                listener.abort();
                return Err(StoreError::Unavailable(
                    "the LISTEN connection did not open in time".to_string(),
                ));
            }
        }

        let (tx, rx) = mpsc::unbounded_channel();
        tokio::spawn(group_writer(
            pool.clone(),
            Arc::clone(&shared),
            rx,
            options.max_group.max(1),
            options.group_writers.max(1),
        ));
        let max_queued = options.max_queued.max(1);
        Ok(PgStore {
            pool,
            shared,
            writes: tx,
            queue: Arc::new(Semaphore::new(max_queued)),
            max_queued,
            wakeups,
            listener,
        })
    }

    /// How many group transactions were committed and how many calls (accepts and finishes)
    /// they carried.
    pub fn group_stats(&self) -> GroupStats {
        GroupStats {
            commits: self.shared.commits.load(Ordering::SeqCst),
            calls: self.shared.calls.load(Ordering::SeqCst),
        }
    }

    /// The `NOTIFY` channel of this store (`qstash_` and the schema's name).
    pub fn channel(&self) -> &str {
        &self.shared.channel
    }

    async fn client(&self) -> Result<Object> {
        self.pool.get().await.map_err(pool_error)
    }

    /// A place in the write queue for an accept, or [`StoreError::Overloaded`] when it is full.
    fn admit(&self) -> Result<OwnedSemaphorePermit> {
        Arc::clone(&self.queue).try_acquire_owned().map_err(|_| {
            StoreError::Overloaded(format!(
                "{} writes are waiting for PostgreSQL already; nothing was stored",
                self.max_queued
            ))
        })
    }

    /// A place in the write queue, waiting for one when it is full.
    async fn admit_waiting(&self) -> Result<OwnedSemaphorePermit> {
        Arc::clone(&self.queue)
            .acquire_owned()
            .await
            .map_err(|_| closed("the store is closed"))
    }
}

fn check_schema_name(schema: &str) -> Result<()> {
    let ok = !schema.is_empty()
        && schema.len() <= 50
        && schema
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
        && !schema.starts_with(|c: char| c.is_ascii_digit());
    if ok {
        Ok(())
    } else {
        Err(StoreError::Invalid(format!(
            "schema name {schema:?}: lowercase letters, digits and _ only, at most 50, not \
             starting with a digit"
        )))
    }
}

fn instance_id() -> String {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u32(std::process::id());
    if let Ok(t) = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH) {
        h.write_u128(t.as_nanos());
    }
    format!("{:016x}", h.finish())
}

/// Runs `$body` (which uses `$tx`, and `?` to fail) in one transaction of a pooled connection
/// and commits it; a transaction that failed on a deadlock or a serialization failure is run
/// again, up to [`TX_ATTEMPTS`] times in all.
macro_rules! in_tx {
    ($self:ident, |$tx:ident| $body:expr) => {{
        let mut attempt = 1;
        loop {
            let out: Result<_> = async {
                let mut client = $self.client().await?;
                let $tx = client.transaction().await.map_err(pg)?;
                let out = $body;
                $tx.commit().await.map_err(pg)?;
                Ok(out)
            }
            .await;
            match out {
                Err(e) if attempt < TX_ATTEMPTS && is_transient(&e) => attempt += 1,
                other => break other,
            }
        }
    }};
}

/// How many times a transaction is tried when it fails on a deadlock or serialization failure.
const TX_ATTEMPTS: usize = 3;

/// Whether a failed transaction may simply be run again: PostgreSQL aborted it to break a
/// deadlock (`40P01`) or a serialization conflict (`40001`), and nothing of it was applied.
fn is_transient(e: &StoreError) -> bool {
    e.kind() == StoreErrorKind::Busy
}

#[async_trait]
impl Store for PgStore {
    async fn ping(&self) -> Result<()> {
        let client = self.client().await?;
        one(&client, "SELECT 1", &[]).await?;
        Ok(())
    }

    async fn insert_messages(
        &self,
        messages: Vec<NewMessage>,
        now: Millis,
    ) -> Result<Vec<InsertOutcome>> {
        if messages.is_empty() {
            return Ok(Vec::new());
        }
        let permit = self.admit()?;
        let (reply, rx) = oneshot::channel();
        self.writes
            .send(Job::Insert(InsertJob {
                messages,
                now,
                reply,
                _permit: permit,
            }))
            .map_err(|_| closed("the store is closed"))?;
        rx.await.map_err(|_| closed("the group writer stopped"))?
    }

    async fn claim_due(&self, now: Millis, limit: usize) -> Result<Vec<Claimed>> {
        if limit == 0 {
            return Ok(Vec::new());
        }
        in_tx!(self, |tx| claim_due(&tx, now, limit).await?)
    }

    async fn next_due(&self, now: Millis) -> Result<Option<Millis>> {
        // While the answer is computed, any notification wakes the scheduler (the query may
        // not see what it announces); then only those of work due before the answer.
        self.shared.planned.store(u64::MAX, Ordering::SeqCst);
        let client = self.client().await?;
        let next = next_due(&client, now).await?;
        self.shared
            .planned
            .store(next.unwrap_or(u64::MAX), Ordering::SeqCst);
        Ok(next)
    }

    async fn due_count(&self, now: Millis) -> Result<u64> {
        let client = self.client().await?;
        let row = one(
            &client,
            // The due index, and the keys' wait lists (held messages are due).
            "SELECT (SELECT count(*) FROM messages WHERE state = 'PENDING' AND NOT held \
             AND due_at <= $1) + (SELECT coalesce(sum(waiting), 0) FROM flow_keys)::BIGINT",
            &[&int(now)?],
        )
        .await?;
        uint(col(&row, 0)?)
    }

    async fn finish(&self, finishes: Vec<Finish>) -> Result<Vec<FinishOutcome>> {
        if finishes.is_empty() {
            return Ok(Vec::new());
        }
        let permit = self.admit_waiting().await?;
        let (reply, rx) = oneshot::channel();
        self.writes
            .send(Job::Finish(FinishJob {
                finishes,
                reply,
                _permit: permit,
            }))
            .map_err(|_| closed("the store is closed"))?;
        rx.await.map_err(|_| closed("the group writer stopped"))?
    }

    async fn get_message(&self, tenant: &str, id: &str) -> Result<Option<StoredMessage>> {
        let client = self.client().await?;
        let sql = format!("SELECT {MSG_COLS} FROM messages m WHERE m.id = $1 AND m.tenant = $2");
        match opt(&client, &sql, &[&id, &tenant]).await? {
            Some(row) => Ok(Some(decode_message(&row, 0)?)),
            None => Ok(None),
        }
    }

    async fn cancel_message(&self, tenant: &str, id: &str, now: Millis) -> Result<CancelOutcome> {
        in_tx!(self, |tx| cancel(&tx, tenant, id, now).await?)
    }

    async fn list_events(
        &self,
        tenant: &str,
        filter: &EventFilter,
        cursor: Option<u64>,
        count: usize,
    ) -> Result<Page<Event>> {
        let client = self.client().await?;
        list_events(&client, tenant, filter, cursor, count).await
    }

    async fn list_dlq(
        &self,
        tenant: &str,
        filter: &DlqFilter,
        cursor: Option<u64>,
        count: usize,
    ) -> Result<Page<DlqEntry>> {
        let client = self.client().await?;
        list_dlq(&client, tenant, filter, cursor, count).await
    }

    async fn get_dlq(&self, tenant: &str, dlq_id: &str) -> Result<Option<DlqEntry>> {
        let client = self.client().await?;
        let sql = format!(
            "SELECT {DLQ_COLS}, {MSG_COLS} FROM dlq d \
             JOIN messages m ON m.id = d.message_id AND m.tenant = d.tenant \
             WHERE d.dlq_id = $1 AND d.tenant = $2"
        );
        match opt(&client, &sql, &[&dlq_id, &tenant]).await? {
            Some(row) => Ok(Some(decode_dlq(&row)?)),
            None => Ok(None),
        }
    }

    async fn delete_dlq(&self, tenant: &str, dlq_ids: &[String]) -> Result<u64> {
        if dlq_ids.is_empty() {
            return Ok(0);
        }
        let client = self.client().await?;
        exec(
            &client,
            "DELETE FROM dlq WHERE tenant = $1 AND dlq_id = ANY($2)",
            &[&tenant, &dlq_ids],
        )
        .await
    }

    async fn retry_dlq(
        &self,
        tenant: &str,
        retries: Vec<(String, NewMessage)>,
        now: Millis,
    ) -> Result<Vec<InsertOutcome>> {
        let _permit = self.admit()?;
        let shared = &self.shared;
        in_tx!(self, |tx| {
            let out = retry_dlq(&tx, tenant, &retries, now).await?;
            let due = retries
                .iter()
                .zip(&out)
                .filter(|(_, o)| **o == InsertOutcome::Inserted)
                .map(|((_, m), _)| m.due_at)
                .min();
            if let Some(due) = due {
                notify_due(&tx, shared, due).await?;
            }
            out
        })
    }

    async fn cancel_messages(
        &self,
        tenant: &str,
        filter: &MessageFilter,
        now: Millis,
    ) -> Result<u64> {
        in_tx!(self, |tx| cancel_messages(&tx, tenant, filter, now).await?)
    }

    async fn signing_keys_or_init(&self, proposed: SigningKeys) -> Result<SigningKeys> {
        in_tx!(self, |tx| {
            lock_keys(&tx).await?;
            match read_keys(&tx).await? {
                Some(keys) => keys,
                None => {
                    write_keys(&tx, &proposed).await?;
                    proposed.clone()
                }
            }
        })
    }

    async fn rotate_signing_keys(&self, new_next: String) -> Result<SigningKeys> {
        in_tx!(self, |tx| {
            lock_keys(&tx).await?;
            let old = read_keys(&tx).await?.ok_or_else(|| {
                StoreError::Invalid("there are no signing keys to rotate yet".to_string())
            })?;
            let keys = SigningKeys {
                current: old.next,
                next: new_next.clone(),
            };
            write_keys(&tx, &keys).await?;
            keys
        })
    }

    async fn tenant_signing_keys_or_init(
        &self,
        tenant: &str,
        proposed: SigningKeys,
    ) -> Result<SigningKeys> {
        // Read first (the common case, no lock); store only a tenant's first pair.
        {
            let client = self.client().await?;
            if let Some(keys) = tenant_keys::read(&client, tenant).await? {
                return Ok(keys);
            }
        }
        in_tx!(self, |tx| {
            lock_keys(&tx).await?;
            tenant_keys::or_init(&tx, tenant, &proposed).await?
        })
    }

    async fn rotate_tenant_signing_keys(
        &self,
        tenant: &str,
        new_next: String,
    ) -> Result<SigningKeys> {
        in_tx!(self, |tx| {
            lock_keys(&tx).await?;
            tenant_keys::rotate(&tx, tenant, &new_next).await?
        })
    }

    async fn create_run(
        &self,
        run: NewRun,
        first: NewMessage,
        now: Millis,
    ) -> Result<CreateRunOutcome> {
        let _permit = self.admit()?;
        let shared = &self.shared;
        in_tx!(self, |tx| {
            let out = create_run(&tx, &run, &[], &first, now).await?;
            if out == CreateRunOutcome::Created {
                notify_due(&tx, shared, first.due_at).await?;
            }
            out
        })
    }

    async fn get_run(&self, tenant: &str, run_id: &str) -> Result<Option<StoredRun>> {
        let client = self.client().await?;
        get_run(&client, tenant, run_id).await
    }

    async fn run_steps(
        &self,
        tenant: &str,
        run_id: &str,
        up_to: Option<&str>,
    ) -> Result<Vec<RunStep>> {
        let client = self.client().await?;
        run_steps(&client, tenant, run_id, up_to).await
    }

    async fn end_run(
        &self,
        tenant: &str,
        run_id: &str,
        end: EndRun,
        now: Millis,
    ) -> Result<EndRunOutcome> {
        if end.state == RunState::Started {
            return Err(StoreError::Invalid(format!(
                "run {run_id} cannot end in state {}",
                RunState::Started.as_str()
            )));
        }
        in_tx!(self, |tx| {
            // The keys first (see `lock_flow_keys`).
            lock_flow_keys(&tx, &[], &[(tenant, run_id)]).await?;
            end_run(&tx, tenant, run_id, &end, now, None).await?
        })
    }

    async fn list_runs(
        &self,
        tenant: &str,
        filter: &RunFilter,
        cursor: Option<u64>,
        count: usize,
    ) -> Result<Page<StoredRun>> {
        let client = self.client().await?;
        list_runs(&client, tenant, filter, cursor, count).await
    }

    async fn flow_control(
        &self,
        tenant: &str,
        key: &str,
        now: Millis,
    ) -> Result<Option<FlowControlInfo>> {
        let client = self.client().await?;
        Ok(flow_infos(&client, tenant, &[key.to_string()], now)
            .await?
            .pop())
    }

    async fn list_flow_control(&self, tenant: &str, now: Millis) -> Result<Vec<FlowControlInfo>> {
        let client = self.client().await?;
        let found = rows(
            &client,
            "SELECT key FROM flow_keys WHERE tenant = $1 ORDER BY key",
            &[&tenant],
        )
        .await?;
        let keys = found
            .iter()
            .map(|row| col(row, 0))
            .collect::<Result<Vec<String>>>()?;
        flow_infos(&client, tenant, &keys, now).await
    }

    async fn create_run_with_steps(
        &self,
        run: NewRun,
        steps: Vec<RunStep>,
        first: NewMessage,
        now: Millis,
    ) -> Result<CreateRunOutcome> {
        let _permit = self.admit()?;
        let shared = &self.shared;
        in_tx!(self, |tx| {
            let out = create_run(&tx, &run, &steps, &first, now).await?;
            if out == CreateRunOutcome::Created {
                notify_due(&tx, shared, first.due_at).await?;
            }
            out
        })
    }

    async fn write_batch(
        &self,
        runs: Vec<RunToCreate>,
        messages: Vec<NewMessage>,
        now: Millis,
    ) -> Result<BatchOutcome> {
        let shared = &self.shared;
        in_tx!(self, |tx| {
            let mut out = BatchOutcome {
                runs: Vec::with_capacity(runs.len()),
                messages: Vec::new(),
            };
            let mut earliest: Option<Millis> = None;
            for r in &runs {
                let created = create_run(&tx, &r.run, &r.steps, &r.first, now).await?;
                if created == CreateRunOutcome::Created {
                    earliest = Some(earliest.map_or(r.first.due_at, |e| e.min(r.first.due_at)));
                }
                out.runs.push(created);
            }
            out.messages = insert_all(&tx, &messages, now).await?;
            for (m, o) in messages.iter().zip(&out.messages) {
                if *o == InsertOutcome::Inserted {
                    earliest = Some(earliest.map_or(m.due_at, |e| e.min(m.due_at)));
                }
            }
            if let Some(due) = earliest {
                notify_due(&tx, shared, due).await?;
            }
            out
        })
    }

    async fn end_runs(
        &self,
        tenant: &str,
        run_ids: &[String],
        end: EndRun,
        now: Millis,
    ) -> Result<Vec<EndRunOutcome>> {
        if end.state == RunState::Started {
            return Err(StoreError::Invalid(format!(
                "runs cannot end in state {}",
                RunState::Started.as_str()
            )));
        }
        in_tx!(self, |tx| {
            // The keys first (see `lock_flow_keys`).
            let runs: Vec<(&str, &str)> = run_ids.iter().map(|id| (tenant, id.as_str())).collect();
            lock_flow_keys(&tx, &[], &runs).await?;
            let mut out = Vec::with_capacity(run_ids.len());
            for id in run_ids {
                out.push(end_run(&tx, tenant, id, &end, now, None).await?);
            }
            out
        })
    }

    async fn register_waiter(
        &self,
        event_id: &str,
        message: NewMessage,
        now: Millis,
    ) -> Result<InsertOutcome> {
        let _permit = self.admit()?;
        let shared = &self.shared;
        in_tx!(self, |tx| {
            let out = register_waiter(&tx, event_id, &message, now).await?;
            if out == InsertOutcome::Inserted {
                notify_due(&tx, shared, message.due_at).await?;
            }
            out
        })
    }

    async fn list_waiters(
        &self,
        tenant: &str,
        event_id: &str,
        run_id: Option<&str>,
    ) -> Result<Vec<Waiter>> {
        let client = self.client().await?;
        list_waiters(&client, tenant, event_id, run_id).await
    }

    async fn release_waiter(
        &self,
        tenant: &str,
        message_id: &str,
        body: Vec<u8>,
        now: Millis,
    ) -> Result<bool> {
        let shared = &self.shared;
        in_tx!(self, |tx| {
            let released = release_waiter(&tx, tenant, message_id, &body, now).await?;
            if released {
                notify_due(&tx, shared, now).await?;
            }
            released
        })
    }

    async fn purge(&self, cutoffs: PurgeCutoffs, batch_limit: usize) -> Result<PurgeCounts> {
        in_tx!(self, |tx| retention::purge(&tx, cutoffs, batch_limit)
            .await?)
    }

    fn due_wakeups(&self) -> Option<Arc<Notify>> {
        Some(Arc::clone(&self.wakeups))
    }

    async fn put_schedule(&self, schedule: crate::NewSchedule) -> Result<()> {
        let shared = &self.shared;
        in_tx!(self, |tx| schedules::put(&tx, shared, &schedule).await?)
    }

    async fn get_schedule(&self, tenant: &str, id: &str) -> Result<Option<crate::StoredSchedule>> {
        let client = self.client().await?;
        schedules::get(&client, tenant, id).await
    }

    async fn list_schedules(&self, tenant: &str) -> Result<Vec<crate::StoredSchedule>> {
        let client = self.client().await?;
        schedules::list(&client, tenant).await
    }

    async fn delete_schedule(&self, tenant: &str, id: &str) -> Result<bool> {
        let client = self.client().await?;
        schedules::delete(&client, tenant, id).await
    }

    async fn set_schedule_paused(
        &self,
        tenant: &str,
        id: &str,
        paused: bool,
        next_at: Option<Millis>,
    ) -> Result<bool> {
        let shared = &self.shared;
        in_tx!(self, |tx| schedules::set_paused(
            &tx, shared, tenant, id, paused, next_at
        )
        .await?)
    }

    async fn due_schedules(&self, now: Millis, limit: usize) -> Result<Vec<crate::StoredSchedule>> {
        let client = self.client().await?;
        schedules::due(&client, now, limit).await
    }

    async fn next_schedule_at(&self) -> Result<Option<Millis>> {
        let client = self.client().await?;
        schedules::next_at(&client).await
    }

    async fn fire_schedule(&self, tick: crate::ScheduleTick, now: Millis) -> Result<bool> {
        let shared = &self.shared;
        in_tx!(self, |tx| schedules::fire(&tx, shared, &tick, now).await?)
    }

    async fn add_url_group_endpoints(
        &self,
        tenant: &str,
        name: &str,
        endpoints: Vec<crate::UrlGroupEndpoint>,
        now: Millis,
    ) -> Result<crate::UrlGroup> {
        in_tx!(self, |tx| url_groups::add(
            &tx, tenant, name, &endpoints, now
        )
        .await?)
    }

    async fn remove_url_group_endpoints(
        &self,
        tenant: &str,
        name: &str,
        endpoints: Vec<crate::EndpointMatch>,
        now: Millis,
    ) -> Result<Option<crate::UrlGroup>> {
        in_tx!(self, |tx| url_groups::remove(
            &tx, tenant, name, &endpoints, now
        )
        .await?)
    }

    async fn get_url_group(&self, tenant: &str, name: &str) -> Result<Option<crate::UrlGroup>> {
        let client = self.client().await?;
        url_groups::get(&client, tenant, name).await
    }

    async fn list_url_groups(&self, tenant: &str) -> Result<Vec<crate::UrlGroup>> {
        let client = self.client().await?;
        url_groups::list(&client, tenant).await
    }

    async fn delete_url_group(&self, tenant: &str, name: &str) -> Result<bool> {
        let client = self.client().await?;
        url_groups::delete(&client, tenant, name).await
    }
}
