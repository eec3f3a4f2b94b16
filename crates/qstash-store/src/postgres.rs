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

mod tenant_keys;
mod tls;

use std::collections::{BTreeMap, HashMap};
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
pub const SCHEMA_VERSION: i32 = MIGRATIONS.len() as i32;

/// The migrations, in order: `MIGRATIONS[i]` takes the schema from version `i` to `i + 1`.
///
/// Every table has an identity column (`seq` or `id`) that orders it and is never reused. The
/// partial index `messages_due` holds the pending messages only, by due time, so that claims
/// and the next due time read only its first entries. A run counts its steps (`steps`), and a
/// step takes the run's row lock to number itself, so that concurrent steps get 0, 1, 2, …
/// without gaps. Labels are stored as one text, each label between two U+001F separators, so
/// that a whole-label filter is a substring search.
///
/// Flow control (version 2) keeps one row per `(tenant, key)` in `flow_keys`: the limits of the
/// key's most recently stored message and the open rate window. A claim locks the rows of the
/// keys it meets (`FOR UPDATE SKIP LOCKED`: a key another claim holds is left for the next
/// claim), so that the keys' limits hold across processes; attempts in flight are counted from
/// the messages through the partial index `messages_flow`. Waiters (version 2) live in
/// `waiters` until they are released.
pub const MIGRATIONS: &[&str] = &[
    // Version 1.
    "
    CREATE TABLE messages (
        seq BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        tenant TEXT NOT NULL,
        id TEXT NOT NULL UNIQUE,
        destination TEXT NOT NULL,
        method TEXT NOT NULL,
        headers BYTEA NOT NULL,
        body BYTEA NOT NULL,
        created_at BIGINT NOT NULL,
        first_due_at BIGINT NOT NULL,
        due_at BIGINT NOT NULL,
        max_retries BIGINT NOT NULL,
        retried BIGINT NOT NULL DEFAULT 0,
        state TEXT NOT NULL,
        claim BIGINT NOT NULL DEFAULT 0,
        claim_open BOOLEAN NOT NULL DEFAULT FALSE,
        lease_ms BIGINT NOT NULL,
        labels TEXT NOT NULL,
        dedup_id TEXT,
        dedup_until BIGINT,
        flow_key TEXT,
        extra BYTEA NOT NULL,
        last_status INTEGER,
        last_headers BYTEA,
        last_body BYTEA,
        run_id TEXT,
        run_step BOOLEAN NOT NULL DEFAULT FALSE
    );
    CREATE INDEX messages_due ON messages (due_at, seq) WHERE state = 'PENDING';
    CREATE INDEX messages_run ON messages (tenant, run_id, state) WHERE run_id IS NOT NULL;

    CREATE TABLE events (
        id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        tenant TEXT NOT NULL,
        time BIGINT NOT NULL,
        message_id TEXT NOT NULL,
        state TEXT NOT NULL,
        url TEXT NOT NULL,
        labels TEXT NOT NULL,
        response_status INTEGER,
        error TEXT,
        next_delivery_time BIGINT
    );
    CREATE INDEX events_tenant ON events (tenant, id);
    CREATE INDEX events_message ON events (tenant, message_id, id);

    CREATE TABLE dedup (
        tenant TEXT NOT NULL,
        dedup_id TEXT NOT NULL,
        message_id TEXT NOT NULL,
        until BIGINT NOT NULL,
        PRIMARY KEY (tenant, dedup_id)
    );
    CREATE INDEX dedup_until ON dedup (until);

    CREATE TABLE dlq (
        seq BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        dlq_id TEXT NOT NULL UNIQUE,
        tenant TEXT NOT NULL,
        message_id TEXT NOT NULL,
        created_at BIGINT NOT NULL,
        response_status INTEGER,
        response_headers BYTEA NOT NULL,
        response_body BYTEA NOT NULL,
        failure_callback TEXT,
        failure_callback_state TEXT
    );
    CREATE INDEX dlq_tenant ON dlq (tenant, seq);

    CREATE TABLE settings (
        key TEXT PRIMARY KEY,
        value TEXT NOT NULL
    );

    CREATE TABLE runs (
        seq BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        tenant TEXT NOT NULL,
        run_id TEXT NOT NULL,
        workflow_url TEXT NOT NULL,
        created_at BIGINT NOT NULL,
        initial_body BYTEA NOT NULL,
        labels TEXT NOT NULL,
        config BYTEA NOT NULL,
        state TEXT NOT NULL,
        ended_at BIGINT,
        response BYTEA,
        reason TEXT,
        steps BIGINT NOT NULL DEFAULT 0,
        UNIQUE (tenant, run_id)
    );
    CREATE INDEX runs_tenant ON runs (tenant, seq);

    CREATE TABLE run_steps (
        tenant TEXT NOT NULL,
        run_id TEXT NOT NULL,
        seq BIGINT NOT NULL,
        message_id TEXT NOT NULL,
        body BYTEA NOT NULL,
        created_at BIGINT NOT NULL,
        PRIMARY KEY (tenant, run_id, seq)
    );
    CREATE INDEX run_steps_message ON run_steps (tenant, message_id);
    ",
    // Version 2: flow control and waiters.
    "
    ALTER TABLE messages ADD COLUMN flow_parallelism BIGINT;
    ALTER TABLE messages ADD COLUMN flow_rate BIGINT;
    ALTER TABLE messages ADD COLUMN flow_period_ms BIGINT;

    CREATE TABLE flow_keys (
        tenant TEXT NOT NULL,
        key TEXT NOT NULL,
        parallelism BIGINT,
        rate BIGINT,
        period_ms BIGINT NOT NULL DEFAULT 1000,
        window_start BIGINT NOT NULL DEFAULT 0,
        window_count BIGINT NOT NULL DEFAULT 0,
        PRIMARY KEY (tenant, key)
    );
    INSERT INTO flow_keys (tenant, key)
        SELECT DISTINCT tenant, flow_key FROM messages WHERE flow_key IS NOT NULL
        ON CONFLICT DO NOTHING;
    CREATE INDEX messages_flow ON messages (tenant, flow_key, claim_open, due_at)
        WHERE state = 'PENDING' AND flow_key IS NOT NULL;

    CREATE TABLE waiters (
        seq BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        tenant TEXT NOT NULL,
        event_id TEXT NOT NULL,
        message_id TEXT NOT NULL UNIQUE
    );
    CREATE INDEX waiters_event ON waiters (tenant, event_id, seq);
    ",
    // Version 3: retention. A message keeps when it finished (delivered, failed, cancelled);
    // messages that finished before are taken as finished at their last due time. The indexes
    // find what is old enough to remove, and the dead letters of a message or a run.
    "
    ALTER TABLE messages ADD COLUMN finished_at BIGINT;
    UPDATE messages SET finished_at = due_at WHERE state <> 'PENDING';
    CREATE INDEX messages_finished ON messages (finished_at) WHERE finished_at IS NOT NULL;
    CREATE INDEX runs_ended ON runs (ended_at) WHERE ended_at IS NOT NULL;
    CREATE INDEX dlq_created ON dlq (created_at);
    CREATE INDEX dlq_message ON dlq (message_id);
    ",
];

/// The first key of the advisory locks this store takes (`qsth`); the second is the schema's.
const LOCK_KEY: i32 = 0x7173_7468;
/// The second key of the transaction lock around the signing keys.
const KEYS_LOCK: i32 = 1;

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

// ---------------------------------------------------------------------------------------------
// Migrations.

/// Applies the missing migrations under a session advisory lock of the schema, on a connection
/// of its own (closing it releases the lock whatever happens).
async fn migrate(config: &Config, tls: &tls::MakeRustls, schema: Option<&str>) -> Result<()> {
    let (client, connection) = config.connect(tls.clone()).await.map_err(pg)?;
    let driver = tokio::spawn(connection);
    let out = async {
        client
            .query(
                "SELECT pg_advisory_lock($1, hashtext(coalesce($2, current_schema(), '')))",
                &[&LOCK_KEY, &schema],
            )
            .await
            .map_err(pg)?;
        if let Some(schema) = schema {
            client
                .batch_execute(&format!("CREATE SCHEMA IF NOT EXISTS \"{schema}\""))
                .await
                .map_err(pg)?;
        }
        client
            .batch_execute(
                "CREATE TABLE IF NOT EXISTS qstash_migrations (
                    version INTEGER PRIMARY KEY,
                    applied_at TIMESTAMPTZ NOT NULL DEFAULT now()
                )",
            )
            .await
            .map_err(pg)?;
        let row = client
            .query_one(
                "SELECT coalesce(max(version), 0) FROM qstash_migrations",
                &[],
            )
            .await
            .map_err(pg)?;
        let version: i32 = col(&row, 0)?;
        if version > SCHEMA_VERSION {
            return Err(StoreError::Corrupt(format!(
                "schema version {version} is newer than this server's {SCHEMA_VERSION}"
            )));
        }
        let applied = usize::try_from(version)
            .map_err(|_| StoreError::Corrupt(format!("schema version {version} is not valid")))?;
        for (i, sql) in MIGRATIONS.iter().enumerate().skip(applied) {
            client
                .batch_execute(&format!(
                    "BEGIN; {sql}; INSERT INTO qstash_migrations (version) VALUES ({}); COMMIT;",
                    i + 1
                ))
                .await
                .map_err(pg)?;
        }
        Ok(())
    }
    .await;
    drop(client);
    let _ = driver.await;
    out
}

// ---------------------------------------------------------------------------------------------
// LISTEN.

/// Keeps a `LISTEN` on the store's channel, reconnecting after errors, and notifies `wakeups`
/// for every notification of another instance (and after each reconnection, when some may have
/// been missed). `ready` answers after the first `LISTEN` (or its error).
async fn listen(
    config: Config,
    tls: tls::MakeRustls,
    shared: Arc<Shared>,
    wakeups: Arc<Notify>,
    ready: oneshot::Sender<Result<()>>,
) {
    let mut ready = Some(ready);
    let mut backoff = Duration::from_millis(100);
    loop {
        let started = tokio::time::Instant::now();
        let out = listen_once(&config, &tls, &shared, &wakeups, &mut ready).await;
        if let Some(ready) = ready.take() {
            // The first connection failed: connect reports it, and this task ends.
            let _ = ready.send(out);
            return;
        }
        if let Err(e) = out {
            tracing::warn!(error = %e, "the LISTEN connection failed; reconnecting");
        }
        if started.elapsed() > Duration::from_secs(30) {
            // It had been listening for a while: this is a new failure, not a repeated one.
            backoff = Duration::from_millis(100);
        }
        tokio::time::sleep(backoff).await;
        backoff = (backoff * 2).min(Duration::from_secs(5));
    }
}

async fn listen_once(
    config: &Config,
    tls: &tls::MakeRustls,
    shared: &Shared,
    wakeups: &Notify,
    ready: &mut Option<oneshot::Sender<Result<()>>>,
) -> Result<()> {
    use futures_util::StreamExt;

    let (client, mut connection) = config.connect(tls.clone()).await.map_err(pg)?;
    let mut messages = futures_util::stream::poll_fn(move |cx| connection.poll_message(cx));
    let sql = format!("LISTEN \"{}\"", shared.channel.replace('"', "\"\""));
    let subscribe = client.batch_execute(&sql);
    tokio::pin!(subscribe);
    // The connection must be polled for the LISTEN to complete.
    loop {
        tokio::select! {
            done = &mut subscribe => {
                done.map_err(pg)?;
                break;
            }
            message = messages.next() => match message {
                Some(Ok(_)) => {}
                Some(Err(e)) => return Err(pg(e)),
                None => return Err(closed("the LISTEN connection closed")),
            },
        }
    }
    match ready.take() {
        Some(ready) => {
            let _ = ready.send(Ok(()));
        }
        // A reconnection: notifications may have been missed meanwhile.
        None => wakeups.notify_one(),
    }
    while let Some(message) = messages.next().await {
        if let AsyncMessage::Notification(n) = message.map_err(pg)? {
            let (from, due) = match n.payload().split_once(' ') {
                Some((from, due)) => (from, due.parse::<Millis>().unwrap_or(0)),
                None => (n.payload(), 0),
            };
            // Work due no earlier than the scheduler's plan changes nothing: it wakes then.
            if from != shared.instance && due < shared.planned.fetch_min(due, Ordering::SeqCst) {
                wakeups.notify_one();
            }
        }
    }
    Err(closed("the LISTEN connection closed"))
}

/// Sends the store's notification (one per transaction that stored a pending message or
/// freed a flow-control key's place): `instance due_at`, with the earliest due time of the work
/// it made.
async fn notify_due<C: GenericClient>(c: &C, shared: &Shared, due: Millis) -> Result<()> {
    let payload = format!("{} {due}", shared.instance);
    exec(c, "SELECT pg_notify($1, $2)", &[&shared.channel, &payload]).await?;
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Group commit of accepts and finishes.

/// One `insert_messages` call.
struct InsertJob {
    messages: Vec<NewMessage>,
    now: Millis,
    reply: oneshot::Sender<Result<Vec<InsertOutcome>>>,
    /// The call's place in the write queue, given back with the job.
    _permit: OwnedSemaphorePermit,
}

impl InsertJob {
    /// Whether every message can go through the multi-row statements (no deduplication id, no
    /// run step).
    fn is_plain(&self) -> bool {
        self.messages
            .iter()
            .all(|m| m.dedup.is_none() && !m.run.as_ref().is_some_and(|r| r.step))
    }
}

/// One `finish` call.
struct FinishJob {
    finishes: Vec<Finish>,
    reply: oneshot::Sender<Result<Vec<FinishOutcome>>>,
    /// The call's place in the write queue, given back with the job.
    _permit: OwnedSemaphorePermit,
}

/// A call the group writers take: the calls waiting together share one transaction.
enum Job {
    Insert(InsertJob),
    Finish(FinishJob),
}

type InsertResult = Option<Result<Vec<InsertOutcome>>>;
type FinishResult = Option<Result<Vec<FinishOutcome>>>;

async fn group_writer(
    pool: Pool,
    shared: Arc<Shared>,
    mut rx: mpsc::UnboundedReceiver<Job>,
    max_group: usize,
    writers: usize,
) {
    let permits = Arc::new(Semaphore::new(writers));
    loop {
        // Wait for a free writer first: calls arriving meanwhile form the next group.
        let Ok(permit) = Arc::clone(&permits).acquire_owned().await else {
            return;
        };
        let Some(first) = rx.recv().await else {
            return;
        };
        let mut group = vec![first];
        while group.len() < max_group {
            match rx.try_recv() {
                Ok(job) => group.push(job),
                Err(_) => break,
            }
        }
        let pool = pool.clone();
        let shared = Arc::clone(&shared);
        tokio::spawn(async move {
            run_group(&pool, &shared, group).await;
            drop(permit);
        });
    }
}

async fn run_group(pool: &Pool, shared: &Shared, group: Vec<Job>) {
    let calls = group.len() as u64;
    let (mut inserts, mut finishes) = (Vec::new(), Vec::new());
    for job in group {
        match job {
            Job::Insert(job) => inserts.push(job),
            Job::Finish(job) => finishes.push(job),
        }
    }
    let mut attempt = 1;
    let (out, insert_results, finish_results) = loop {
        let mut ir: Vec<InsertResult> = inserts.iter().map(|_| None).collect();
        let mut fr: Vec<FinishResult> = finishes.iter().map(|_| None).collect();
        let out = apply_group(pool, shared, &inserts, &finishes, &mut ir, &mut fr).await;
        match out {
            Err(e) if attempt < TX_ATTEMPTS && is_transient(&e) => attempt += 1,
            out => break (out, ir, fr),
        }
    };
    if out.is_ok() {
        shared.commits.fetch_add(1, Ordering::SeqCst);
        shared.calls.fetch_add(calls, Ordering::SeqCst);
    }
    for (job, result) in inserts.into_iter().zip(insert_results) {
        let _ = job.reply.send(answer(&out, result));
    }
    for (job, result) in finishes.into_iter().zip(finish_results) {
        let _ = job.reply.send(answer(&out, result));
    }
}

/// A call's answer: its own error stands whatever happened to the group; otherwise its result
/// counts only if the group committed.
fn answer<T>(group: &Result<()>, result: Option<Result<T>>) -> Result<T> {
    match (group, result) {
        (_, Some(Err(e))) => Err(e),
        (Ok(()), Some(Ok(v))) => Ok(v),
        (Err(e), _) => Err(match e {
            StoreError::Corrupt(m) => StoreError::Corrupt(m.clone()),
            StoreError::Invalid(m) => StoreError::Invalid(m.clone()),
            e @ StoreError::Backend { .. } => e.clone(),
            other => StoreError::Unavailable(other.to_string()),
        }),
        (Ok(()), None) => Err(closed("the write did not run")),
    }
}

/// Applies a group in one transaction: first optimistically, without savepoints; when a call
/// fails, that transaction is rolled back and the group runs again with each call in its own
/// savepoint, so that only the failing calls fail.
async fn apply_group(
    pool: &Pool,
    shared: &Shared,
    inserts: &[InsertJob],
    finishes: &[FinishJob],
    ir: &mut [InsertResult],
    fr: &mut [FinishResult],
) -> Result<()> {
    let mut client = pool.get().await.map_err(pool_error)?;
    {
        let tx = client.transaction().await.map_err(pg)?;
        if apply_calls(&tx, shared, inserts, finishes, ir, fr, false).await? {
            return tx.commit().await.map_err(pg);
        }
        tx.rollback().await.map_err(pg)?;
    }
    ir.iter_mut().for_each(|r| *r = None);
    fr.iter_mut().for_each(|r| *r = None);
    let tx = client.transaction().await.map_err(pg)?;
    apply_calls(&tx, shared, inserts, finishes, ir, fr, true).await?;
    tx.commit().await.map_err(pg)
}

/// Applies every call of a group in `tx` and sends one notification when other processes
/// should look for due work. Optimistic (`careful` false): the plain accepts in multi-row
/// statements, no savepoints, and `false` as soon as a call fails (the transaction must then be
/// rolled back). Careful: each call in its own savepoint; a failing call rolls back alone and
/// keeps its error.
#[allow(clippy::too_many_arguments)]
async fn apply_calls(
    tx: &Transaction<'_>,
    shared: &Shared,
    inserts: &[InsertJob],
    finishes: &[FinishJob],
    ir: &mut [InsertResult],
    fr: &mut [FinishResult],
    careful: bool,
) -> Result<bool> {
    let mut notified = false;
    let mut wake: Option<Millis> = None;
    if !careful {
        let plain: Vec<usize> = (0..inserts.len())
            .filter(|&i| inserts[i].is_plain())
            .collect();
        if !plain.is_empty() {
            if !insert_plain(tx, shared, inserts, &plain)
                .await
                .unwrap_or(false)
            {
                return Ok(false);
            }
            for &i in &plain {
                ir[i] = Some(Ok(vec![InsertOutcome::Inserted; inserts[i].messages.len()]));
            }
            notified = true;
        }
    }
    for (i, job) in inserts.iter().enumerate() {
        if ir[i].is_some() {
            continue;
        }
        let out = if careful {
            in_savepoint(tx, insert_all(tx, &job.messages, job.now)).await?
        } else {
            insert_all(tx, &job.messages, job.now).await
        };
        match out {
            Ok(outcomes) => {
                for (m, o) in job.messages.iter().zip(&outcomes) {
                    if *o == InsertOutcome::Inserted {
                        wake = earliest(wake, Some(m.due_at));
                    }
                }
                ir[i] = Some(Ok(outcomes));
            }
            Err(_) if !careful => return Ok(false),
            Err(e) => ir[i] = Some(Err(e)),
        }
    }
    for (i, job) in finishes.iter().enumerate() {
        let out = if careful {
            in_savepoint(tx, finish_all(tx, &job.finishes)).await?
        } else {
            finish_all(tx, &job.finishes).await
        };
        match out {
            Ok((outcomes, woken)) => {
                wake = earliest(wake, woken);
                fr[i] = Some(Ok(outcomes));
            }
            Err(_) if !careful => return Ok(false),
            Err(e) => fr[i] = Some(Err(e)),
        }
    }
    if let Some(due) = wake
        && !notified
    {
        notify_due(tx, shared, due).await?;
    }
    Ok(true)
}

/// Runs `call` inside a savepoint, rolled back when the call fails. The outer error is the
/// savepoint's own (the transaction is then unusable), the inner one the call's.
async fn in_savepoint<T>(
    tx: &Transaction<'_>,
    call: impl std::future::Future<Output = Result<T>>,
) -> Result<Result<T>> {
    tx.batch_execute("SAVEPOINT call").await.map_err(pg)?;
    let out = call.await;
    let end = if out.is_ok() {
        "RELEASE SAVEPOINT call"
    } else {
        "ROLLBACK TO SAVEPOINT call; RELEASE SAVEPOINT call"
    };
    tx.batch_execute(end).await.map_err(pg)?;
    Ok(out)
}

/// Applies the finishes of one call in turn; `true` in the second place when other processes
/// should look for due work.
async fn finish_all(
    tx: &Transaction<'_>,
    finishes: &[Finish],
) -> Result<(Vec<FinishOutcome>, Option<Millis>)> {
    let mut out = Vec::with_capacity(finishes.len());
    let mut wake = None;
    for f in finishes {
        let (outcome, woken) = finish_one(tx, f).await?;
        wake = earliest(wake, woken);
        out.push(outcome);
    }
    Ok((out, wake))
}

/// The earlier of two optional times.
fn earliest(a: Option<Millis>, b: Option<Millis>) -> Option<Millis> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, None) => a,
        (None, b) => b,
    }
}

/// Inserts the messages of the plain calls with one statement for the messages and one for
/// their events, and sends the notification, the three statements pipelined; `false` when some
/// id existed (the transaction must then be rolled back).
async fn insert_plain(
    tx: &Transaction<'_>,
    shared: &Shared,
    group: &[InsertJob],
    plain: &[usize],
) -> Result<bool> {
    let mut cols = MessageColumns::default();
    let mut ev = EventColumns::default();
    let mut keys = FlowKeys::default();
    for &i in plain {
        let job = &group[i];
        for m in &job.messages {
            let labels = encode_labels(&m.labels)?;
            cols.push(m, &labels)?;
            if let Some(key) = &m.flow_key {
                keys.add(&m.tenant, key, m.flow_limits);
            }
            ev.push(
                &m.tenant,
                job.now,
                &m.id,
                "CREATED",
                &m.destination,
                &labels,
                None,
                None,
                None,
            )?;
        }
    }
    let expected = cols.id.len();
    let params: [&(dyn ToSql + Sync); 18] = [
        &cols.tenant,
        &cols.id,
        &cols.destination,
        &cols.method,
        &cols.headers,
        &cols.body,
        &cols.created_at,
        &cols.due_at,
        &cols.max_retries,
        &cols.lease_ms,
        &cols.labels,
        &cols.flow_key,
        &cols.extra,
        &cols.run_id,
        &cols.run_step,
        &cols.flow_parallelism,
        &cols.flow_rate,
        &cols.flow_period_ms,
    ];
    let messages = rows(
        tx,
        "INSERT INTO messages (tenant, id, destination, method, headers, body, created_at, \
         first_due_at, due_at, max_retries, lease_ms, labels, flow_key, extra, run_id, run_step, \
         flow_parallelism, flow_rate, flow_period_ms, state) \
         SELECT t.tenant, t.id, t.destination, t.method, t.headers, t.body, t.created_at, \
         t.due_at, t.due_at, t.max_retries, t.lease_ms, t.labels, t.flow_key, t.extra, t.run_id, \
         t.run_step, t.flow_parallelism, t.flow_rate, t.flow_period_ms, 'PENDING' \
         FROM UNNEST($1::text[], $2::text[], $3::text[], $4::text[], $5::bytea[], $6::bytea[], \
         $7::int8[], $8::int8[], $9::int8[], $10::int8[], $11::text[], $12::text[], $13::bytea[], \
         $14::text[], $15::bool[], $16::int8[], $17::int8[], $18::int8[]) AS t(tenant, id, \
         destination, method, headers, body, created_at, due_at, max_retries, lease_ms, labels, \
         flow_key, extra, run_id, run_step, flow_parallelism, flow_rate, flow_period_ms) \
         ON CONFLICT (id) DO NOTHING RETURNING 1",
        &params,
    );
    let first_due = plain
        .iter()
        .flat_map(|&i| group[i].messages.iter().map(|m| m.due_at))
        .min()
        .unwrap_or(0);
    // The statements are sent together: their results are checked after.
    let (messages, events, keys, notified) = tokio::join!(
        messages,
        ev.insert(tx),
        keys.register(tx),
        notify_due(tx, shared, first_due)
    );
    if messages?.len() != expected {
        return Ok(false);
    }
    events?;
    keys?;
    notified?;
    Ok(true)
}

/// The columns of plain messages for one multi-row insert.
#[derive(Default)]
struct MessageColumns {
    tenant: Vec<String>,
    id: Vec<String>,
    destination: Vec<String>,
    method: Vec<String>,
    headers: Vec<Vec<u8>>,
    body: Vec<Vec<u8>>,
    created_at: Vec<i64>,
    due_at: Vec<i64>,
    max_retries: Vec<i64>,
    lease_ms: Vec<i64>,
    labels: Vec<String>,
    flow_key: Vec<Option<String>>,
    extra: Vec<Vec<u8>>,
    run_id: Vec<Option<String>>,
    run_step: Vec<bool>,
    flow_parallelism: Vec<Option<i64>>,
    flow_rate: Vec<Option<i64>>,
    flow_period_ms: Vec<Option<i64>>,
}

impl MessageColumns {
    fn push(&mut self, m: &NewMessage, labels: &str) -> Result<()> {
        self.tenant.push(m.tenant.clone());
        self.id.push(m.id.clone());
        self.destination.push(m.destination.clone());
        self.method.push(m.method.clone());
        self.headers.push(encode_headers(&m.headers));
        self.body.push(m.body.clone());
        self.created_at.push(int(m.created_at)?);
        self.due_at.push(int(m.due_at)?);
        self.max_retries.push(i64::from(m.max_retries));
        self.lease_ms.push(int(m.lease_ms)?);
        self.labels.push(labels.to_string());
        self.flow_key.push(m.flow_key.clone());
        self.extra.push(m.extra.clone());
        self.run_id.push(m.run.as_ref().map(|r| r.run_id.clone()));
        self.run_step.push(m.run.as_ref().is_some_and(|r| r.step));
        let (parallelism, rate, period_ms) = flow_columns(m.flow_limits)?;
        self.flow_parallelism.push(parallelism);
        self.flow_rate.push(rate);
        self.flow_period_ms.push(period_ms);
        Ok(())
    }
}

/// The columns of events for one multi-row insert.
#[derive(Default)]
struct EventColumns {
    tenant: Vec<String>,
    time: Vec<i64>,
    message_id: Vec<String>,
    state: Vec<String>,
    url: Vec<String>,
    labels: Vec<String>,
    response_status: Vec<Option<i32>>,
    error: Vec<Option<String>>,
    next_delivery_time: Vec<Option<i64>>,
}

impl EventColumns {
    #[allow(clippy::too_many_arguments)]
    fn push(
        &mut self,
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
        self.tenant.push(tenant.to_string());
        self.time.push(int(time)?);
        self.message_id.push(message_id.to_string());
        self.state.push(state.to_string());
        self.url.push(url.to_string());
        self.labels.push(labels.to_string());
        self.response_status.push(response_status.map(i32::from));
        self.error.push(error.map(str::to_string));
        self.next_delivery_time
            .push(next_delivery_time.map(int).transpose()?);
        Ok(())
    }

    async fn insert<C: GenericClient>(&self, c: &C) -> Result<()> {
        if self.tenant.is_empty() {
            return Ok(());
        }
        exec(
            c,
            "INSERT INTO events (tenant, time, message_id, state, url, labels, response_status, \
             error, next_delivery_time) \
             SELECT tenant, time, message_id, state, url, labels, response_status, error, \
             next_delivery_time FROM UNNEST($1::text[], $2::int8[], $3::text[], $4::text[], $5::text[], \
             $6::text[], $7::int4[], $8::text[], $9::int8[]) WITH ORDINALITY \
             AS t(tenant, time, message_id, state, url, labels, response_status, error, \
             next_delivery_time, n) ORDER BY n",
            &[
                &self.tenant,
                &self.time,
                &self.message_id,
                &self.state,
                &self.url,
                &self.labels,
                &self.response_status,
                &self.error,
                &self.next_delivery_time,
            ],
        )
        .await?;
        Ok(())
    }
}

// ---------------------------------------------------------------------------------------------
// Errors, encodings and statement helpers.

fn pg(e: tokio_postgres::Error) -> StoreError {
    let (kind, message) = match e.as_db_error() {
        Some(db) => {
            let code = db.code();
            (
                sqlstate_kind(code),
                format!("{} ({})", db.message(), code.code()),
            )
        }
        None => (StoreErrorKind::Unavailable, e.to_string()),
    };
    StoreError::backend(kind, message, e)
}

/// The kind of a PostgreSQL error, from its SQLSTATE code.
fn sqlstate_kind(code: &SqlState) -> StoreErrorKind {
    let class = code.code().get(..2).unwrap_or("");
    if *code == SqlState::T_R_DEADLOCK_DETECTED || *code == SqlState::T_R_SERIALIZATION_FAILURE {
        StoreErrorKind::Busy
    } else if *code == SqlState::DISK_FULL {
        StoreErrorKind::Full
    } else if *code == SqlState::DATA_CORRUPTED || *code == SqlState::INDEX_CORRUPTED {
        StoreErrorKind::Corrupt
    } else if class == "23" || class == "22" {
        StoreErrorKind::Invalid
    } else {
        StoreErrorKind::Unavailable
    }
}

fn pool_error(e: PoolError) -> StoreError {
    match e {
        PoolError::Backend(e) => pg(e),
        other => StoreError::Unavailable(format!("no database connection: {other}")),
    }
}

fn col<'a, T: FromSql<'a>>(row: &'a Row, i: usize) -> Result<T> {
    row.try_get(i)
        .map_err(|e| StoreError::Corrupt(format!("column {i}: {e}")))
}

/// The flow-limit columns of a message: parallelism, rate, period (all `None` without limits).
#[allow(clippy::type_complexity)]
fn flow_columns(limits: Option<FlowLimits>) -> Result<(Option<i64>, Option<i64>, Option<i64>)> {
    Ok(match limits {
        Some(l) => (
            l.parallelism.map(i64::from),
            l.rate.map(i64::from),
            Some(int(l.period_ms)?),
        ),
        None => (None, None, None),
    })
}

fn status(v: Option<i32>) -> Result<Option<u16>> {
    v.map(|s| u16::try_from(s).map_err(|_| corrupt("status")))
        .transpose()
}

fn cursor_value(cursor: Option<u64>) -> i64 {
    cursor.map_or(i64::MAX, |c| i64::try_from(c).unwrap_or(i64::MAX))
}

async fn rows<C: GenericClient>(
    c: &C,
    sql: &str,
    params: &[&(dyn ToSql + Sync)],
) -> Result<Vec<Row>> {
    let stmt = c.prepare_cached(sql).await.map_err(pg)?;
    c.query(&stmt, params).await.map_err(pg)
}

async fn opt<C: GenericClient>(
    c: &C,
    sql: &str,
    params: &[&(dyn ToSql + Sync)],
) -> Result<Option<Row>> {
    let stmt = c.prepare_cached(sql).await.map_err(pg)?;
    c.query_opt(&stmt, params).await.map_err(pg)
}

async fn one<C: GenericClient>(c: &C, sql: &str, params: &[&(dyn ToSql + Sync)]) -> Result<Row> {
    let stmt = c.prepare_cached(sql).await.map_err(pg)?;
    c.query_one(&stmt, params).await.map_err(pg)
}

async fn exec<C: GenericClient>(c: &C, sql: &str, params: &[&(dyn ToSql + Sync)]) -> Result<u64> {
    let stmt = c.prepare_cached(sql).await.map_err(pg)?;
    c.execute(&stmt, params).await.map_err(pg)
}

// ---------------------------------------------------------------------------------------------
// Rows.

fn decode_message(row: &Row, at: usize) -> Result<StoredMessage> {
    let get_u64 = |i: usize| -> Result<u64> { uint(col::<i64>(row, at + i)?) };
    let dedup_id: Option<String> = col(row, at + 15)?;
    let dedup_until: Option<i64> = col(row, at + 16)?;
    let dedup = match (dedup_id, dedup_until) {
        (Some(id), Some(until)) => Some(Dedup {
            id,
            until: uint(until)?,
        }),
        (None, _) => None,
        (Some(_), None) => return Err(corrupt("deduplication id")),
    };
    let state: &str = col(row, at + 11)?;
    let state = MessageState::from_name(state).ok_or_else(|| corrupt("state"))?;
    let labels: &str = col(row, at + 14)?;
    let headers: &[u8] = col(row, at + 4)?;
    let last_headers: Option<&[u8]> = col(row, at + 20)?;
    let last_response = match last_headers {
        Some(h) => Some(AttemptResponse {
            status: status(col(row, at + 19)?)?,
            headers: decode_headers(h)?,
            body: col::<Option<Vec<u8>>>(row, at + 21)?.unwrap_or_default(),
        }),
        None => None,
    };
    let run_id: Option<String> = col(row, at + 22)?;
    let run = match run_id {
        Some(run_id) => Some(RunLink {
            run_id,
            step: col(row, at + 23)?,
        }),
        None => None,
    };
    let flow_limits = match col::<Option<i64>>(row, at + 26)? {
        Some(period_ms) => Some(FlowLimits {
            parallelism: opt_u32(col(row, at + 24)?, "flow parallelism")?,
            rate: opt_u32(col(row, at + 25)?, "flow rate")?,
            period_ms: uint(period_ms)?,
        }),
        None => None,
    };
    let max_retries = u32::try_from(get_u64(9)?).map_err(|_| corrupt("max retries"))?;
    let retried = u32::try_from(get_u64(10)?).map_err(|_| corrupt("retried"))?;
    Ok(StoredMessage {
        message: NewMessage {
            tenant: col(row, at)?,
            id: col(row, at + 1)?,
            destination: col(row, at + 2)?,
            method: col(row, at + 3)?,
            headers: decode_headers(headers)?,
            body: col(row, at + 5)?,
            created_at: get_u64(6)?,
            due_at: get_u64(7)?,
            max_retries,
            lease_ms: get_u64(13)?,
            labels: decode_labels(labels)?,
            dedup,
            flow_key: col(row, at + 17)?,
            flow_limits,
            extra: col(row, at + 18)?,
            run,
        },
        state,
        retried,
        due_at: get_u64(8)?,
        claim: get_u64(12)?,
        last_response,
    })
}

const EVENT_COLS: &str = "id, time, message_id, state, url, labels, response_status, error, \
     next_delivery_time";

fn decode_event(row: &Row) -> Result<Event> {
    let labels: &str = col(row, 5)?;
    Ok(Event {
        id: uint(col(row, 0)?)?,
        time: uint(col(row, 1)?)?,
        message_id: col(row, 2)?,
        state: col(row, 3)?,
        url: col(row, 4)?,
        labels: decode_labels(labels)?,
        response_status: status(col(row, 6)?)?,
        error: col(row, 7)?,
        next_delivery_time: opt_uint(col(row, 8)?)?,
    })
}

fn decode_dlq(row: &Row) -> Result<DlqEntry> {
    let headers: &[u8] = col(row, 4)?;
    Ok(DlqEntry {
        seq: uint(col(row, 0)?)?,
        dlq_id: col(row, 1)?,
        created_at: uint(col(row, 2)?)?,
        response: AttemptResponse {
            status: status(col(row, 3)?)?,
            headers: decode_headers(headers)?,
            body: col(row, 5)?,
        },
        failure_callback: col(row, 6)?,
        failure_callback_state: col(row, 7)?,
        message: decode_message(row, DLQ_NCOLS)?,
    })
}

fn decode_run(row: &Row) -> Result<StoredRun> {
    let labels: &str = col(row, 6)?;
    let state: &str = col(row, 8)?;
    Ok(StoredRun {
        seq: uint(col(row, 0)?)?,
        run: NewRun {
            tenant: col(row, 1)?,
            run_id: col(row, 2)?,
            workflow_url: col(row, 3)?,
            created_at: uint(col(row, 4)?)?,
            initial_body: col(row, 5)?,
            labels: decode_labels(labels)?,
            config: col(row, 7)?,
        },
        state: RunState::from_name(state).ok_or_else(|| corrupt("run state"))?,
        ended_at: opt_uint(col(row, 9)?)?,
        response: col(row, 10)?,
        reason: col(row, 11)?,
    })
}

async fn get_run<C: GenericClient>(c: &C, tenant: &str, run_id: &str) -> Result<Option<StoredRun>> {
    let sql = format!("SELECT {RUN_COLS} FROM runs r WHERE r.tenant = $1 AND r.run_id = $2");
    match opt(c, &sql, &[&tenant, &run_id]).await? {
        Some(row) => Ok(Some(decode_run(&row)?)),
        None => Ok(None),
    }
}

// ---------------------------------------------------------------------------------------------
// Writes (inside a transaction).

#[allow(clippy::too_many_arguments)]
async fn append_event(
    tx: &Transaction<'_>,
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
    let status = response_status.map(i32::from);
    exec(
        tx,
        "INSERT INTO events (tenant, time, message_id, state, url, labels, response_status, \
         error, next_delivery_time) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
        &[
            &tenant,
            &int(time)?,
            &message_id,
            &state,
            &url,
            &labels,
            &status,
            &error,
            &next,
        ],
    )
    .await?;
    Ok(())
}

async fn insert_one(tx: &Transaction<'_>, m: &NewMessage, now: Millis) -> Result<InsertOutcome> {
    let now_i = int(now)?;
    if let Some(dedup) = &m.dedup {
        let existing = opt(
            tx,
            "SELECT message_id, until FROM dedup WHERE tenant = $1 AND dedup_id = $2",
            &[&m.tenant, &dedup.id],
        )
        .await?;
        if let Some(row) = existing
            && uint(col(&row, 1)?)? > now
        {
            return Ok(InsertOutcome::Deduplicated {
                existing_id: col(&row, 0)?,
            });
        }
    }
    // A step is stored only while its run is started; the run's row lock orders its steps.
    let step_run = match &m.run {
        Some(link) if link.step => {
            let state = opt(
                tx,
                "SELECT state FROM runs WHERE tenant = $1 AND run_id = $2 FOR UPDATE",
                &[&m.tenant, &link.run_id],
            )
            .await?;
            let Some(row) = state else {
                return Ok(InsertOutcome::RunNotActive(None));
            };
            let state = RunState::from_name(col(&row, 0)?).ok_or_else(|| corrupt("run state"))?;
            if state != RunState::Started {
                return Ok(InsertOutcome::RunNotActive(Some(state)));
            }
            Some(link.run_id.as_str())
        }
        _ => None,
    };
    if let Some(dedup) = &m.dedup {
        // Forget a few expired ids on the way, so that the table stays small.
        exec(
            tx,
            "DELETE FROM dedup WHERE ctid = ANY(ARRAY(SELECT ctid FROM dedup WHERE until <= $1 \
             LIMIT 8 FOR UPDATE SKIP LOCKED))",
            &[&now_i],
        )
        .await?;
        // Another transaction may have taken the id since it was read: the upsert decides.
        let taken = opt(
            tx,
            "INSERT INTO dedup (tenant, dedup_id, message_id, until) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (tenant, dedup_id) DO UPDATE \
             SET message_id = EXCLUDED.message_id, until = EXCLUDED.until \
             WHERE dedup.until <= $5 RETURNING 1",
            &[&m.tenant, &dedup.id, &m.id, &int(dedup.until)?, &now_i],
        )
        .await?;
        if taken.is_none() {
            let row = one(
                tx,
                "SELECT message_id FROM dedup WHERE tenant = $1 AND dedup_id = $2",
                &[&m.tenant, &dedup.id],
            )
            .await?;
            return Ok(InsertOutcome::Deduplicated {
                existing_id: col(&row, 0)?,
            });
        }
    }
    let labels = encode_labels(&m.labels)?;
    let run_id = m.run.as_ref().map(|r| r.run_id.as_str());
    let run_step = m.run.as_ref().is_some_and(|r| r.step);
    let flow = flow_columns(m.flow_limits)?;
    let inserted = opt(
        tx,
        "INSERT INTO messages (tenant, id, destination, method, headers, body, created_at, \
         first_due_at, due_at, max_retries, state, lease_ms, labels, dedup_id, dedup_until, \
         flow_key, extra, run_id, run_step, flow_parallelism, flow_rate, flow_period_ms) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8, $9, 'PENDING', $10, $11, $12, $13, $14, $15, \
         $16, $17, $18, $19, $20) ON CONFLICT (id) DO NOTHING RETURNING 1",
        &[
            &m.tenant,
            &m.id,
            &m.destination,
            &m.method,
            &encode_headers(&m.headers),
            &m.body,
            &int(m.created_at)?,
            &int(m.due_at)?,
            &i64::from(m.max_retries),
            &int(m.lease_ms)?,
            &labels,
            &m.dedup.as_ref().map(|d| d.id.as_str()),
            &m.dedup.as_ref().map(|d| int(d.until)).transpose()?,
            &m.flow_key,
            &m.extra,
            &run_id,
            &run_step,
            &flow.0,
            &flow.1,
            &flow.2,
        ],
    )
    .await?;
    if inserted.is_none() {
        return Err(StoreError::Invalid(format!(
            "message id {} exists already",
            m.id
        )));
    }
    if let Some(key) = &m.flow_key {
        let mut keys = FlowKeys::default();
        keys.add(&m.tenant, key, m.flow_limits);
        keys.register(tx).await?;
    }
    if let Some(run_id) = step_run {
        let row = one(
            tx,
            "UPDATE runs SET steps = steps + 1 WHERE tenant = $1 AND run_id = $2 \
             RETURNING steps - 1",
            &[&m.tenant, &run_id],
        )
        .await?;
        let seq: i64 = col(&row, 0)?;
        exec(
            tx,
            "INSERT INTO run_steps (tenant, run_id, seq, message_id, body, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6)",
            &[&m.tenant, &run_id, &seq, &m.id, &m.body, &now_i],
        )
        .await?;
    }
    append_event(
        tx,
        &m.tenant,
        now,
        &m.id,
        "CREATED",
        &m.destination,
        &labels,
        None,
        None,
        None,
    )
    .await?;
    Ok(InsertOutcome::Inserted)
}

async fn insert_all(
    tx: &Transaction<'_>,
    messages: &[NewMessage],
    now: Millis,
) -> Result<Vec<InsertOutcome>> {
    let mut out = Vec::with_capacity(messages.len());
    for m in messages {
        out.push(insert_one(tx, m, now).await?);
    }
    Ok(out)
}

async fn create_run(
    tx: &Transaction<'_>,
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
    let created = opt(
        tx,
        "INSERT INTO runs (tenant, run_id, workflow_url, created_at, initial_body, labels, \
         config, state) VALUES ($1, $2, $3, $4, $5, $6, $7, 'RUN_STARTED') \
         ON CONFLICT (tenant, run_id) DO NOTHING RETURNING 1",
        &[
            &run.tenant,
            &run.run_id,
            &run.workflow_url,
            &int(run.created_at)?,
            &run.initial_body,
            &encode_labels(&run.labels)?,
            &run.config,
        ],
    )
    .await?;
    if created.is_none() {
        return match get_run(tx, &run.tenant, &run.run_id).await? {
            Some(existing) => Ok(CreateRunOutcome::Exists(existing)),
            None => Err(closed("the run was removed while it was created")),
        };
    }
    if !steps.is_empty() {
        let count = i64::try_from(steps.len())
            .map_err(|_| StoreError::Invalid("too many steps".to_string()))?;
        let seqs: Vec<i64> = (0..count).collect();
        let ids: Vec<&str> = steps.iter().map(|s| s.message_id.as_str()).collect();
        let bodies: Vec<&[u8]> = steps.iter().map(|s| s.body.as_slice()).collect();
        let created_at = steps
            .iter()
            .map(|s| int(s.created_at))
            .collect::<Result<Vec<_>>>()?;
        exec(
            tx,
            "INSERT INTO run_steps (tenant, run_id, seq, message_id, body, created_at) \
             SELECT $1, $2, t.seq, t.message_id, t.body, t.created_at \
             FROM UNNEST($3::int8[], $4::text[], $5::bytea[], $6::int8[]) \
             AS t(seq, message_id, body, created_at)",
            &[&run.tenant, &run.run_id, &seqs, &ids, &bodies, &created_at],
        )
        .await?;
        exec(
            tx,
            "UPDATE runs SET steps = $3 WHERE tenant = $1 AND run_id = $2",
            &[&run.tenant, &run.run_id, &count],
        )
        .await?;
    }
    match insert_one(tx, first, now).await? {
        InsertOutcome::Inserted => Ok(CreateRunOutcome::Created),
        // Both or neither: the transaction rolls back with this error.
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

/// Ends a started run and cancels its pending messages, except `except` (the message whose
/// finish ends the run).
async fn end_run(
    tx: &Transaction<'_>,
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
    let row = opt(
        tx,
        "SELECT state FROM runs WHERE tenant = $1 AND run_id = $2 FOR UPDATE",
        &[&tenant, &run_id],
    )
    .await?;
    let Some(row) = row else {
        return Ok(EndRunOutcome::NotFound);
    };
    let state = RunState::from_name(col(&row, 0)?).ok_or_else(|| corrupt("run state"))?;
    if state != RunState::Started {
        return Ok(EndRunOutcome::AlreadyEnded(state));
    }
    exec(
        tx,
        "UPDATE runs SET state = $3, ended_at = $4, response = $5, reason = $6 \
         WHERE tenant = $1 AND run_id = $2",
        &[
            &tenant,
            &run_id,
            &end.state.as_str(),
            &int(now)?,
            &end.response,
            &end.reason,
        ],
    )
    .await?;
    let cancelled = rows(
        tx,
        "WITH c AS (SELECT seq FROM messages WHERE tenant = $1 AND run_id = $2 \
         AND state = 'PENDING' AND id IS DISTINCT FROM $3 ORDER BY seq FOR UPDATE) \
         UPDATE messages m SET state = 'CANCELLED', claim_open = FALSE, finished_at = $4 FROM c \
         WHERE m.seq = c.seq RETURNING m.seq, m.id, m.destination, m.labels",
        &[&tenant, &run_id, &except, &int(now)?],
    )
    .await?;
    let mut cancelled = cancelled
        .iter()
        .map(|row| {
            Ok((
                col::<i64>(row, 0)?,
                col::<String>(row, 1)?,
                col::<String>(row, 2)?,
                col::<String>(row, 3)?,
            ))
        })
        .collect::<Result<Vec<_>>>()?;
    cancelled.sort_by_key(|c| c.0);
    let mut ev = EventColumns::default();
    for (_, id, url, labels) in &cancelled {
        ev.push(tenant, now, id, "CANCELLED", url, labels, None, None, None)?;
    }
    ev.insert(tx).await?;
    Ok(EndRunOutcome::Ended)
}

/// The smallest page the claim scan reads after the first one (which is `limit` long, so that
/// a store without held-back messages reads exactly what it claims).
const MIN_SCAN_PAGE: usize = 256;

/// A due message as the claim scan sees it: `(seq, due_at, tenant, flow_key)`.
type DueRow = (i64, i64, String, Option<String>);

/// A page of due messages, earliest due first, after `(due_at, seq)` when given; with `lock`,
/// locked for this transaction, skipping those another one holds.
async fn due_page<C: GenericClient>(
    c: &C,
    now: Millis,
    after: Option<(i64, i64)>,
    limit: usize,
    lock: bool,
) -> Result<Vec<DueRow>> {
    let limit = i64::try_from(limit).unwrap_or(i64::MAX);
    let now = int(now)?;
    let lock = if lock { " FOR UPDATE SKIP LOCKED" } else { "" };
    let found = match after {
        None => {
            let sql = format!(
                "SELECT seq, due_at, tenant, flow_key FROM messages \
                 WHERE state = 'PENDING' AND due_at <= $1 ORDER BY due_at, seq LIMIT $2{lock}"
            );
            rows(c, &sql, &[&now, &limit]).await?
        }
        Some((due, seq)) => {
            let sql = format!(
                "SELECT seq, due_at, tenant, flow_key FROM messages \
                 WHERE state = 'PENDING' AND due_at <= $1 AND (due_at, seq) > ($3, $4) \
                 ORDER BY due_at, seq LIMIT $2{lock}"
            );
            rows(c, &sql, &[&now, &limit, &due, &seq]).await?
        }
    };
    found
        .iter()
        .map(|row| Ok((col(row, 0)?, col(row, 1)?, col(row, 2)?, col(row, 3)?)))
        .collect()
}

async fn claim_due(tx: &Transaction<'_>, now: Millis, limit: usize) -> Result<Vec<Claimed>> {
    // A claim need not wait for its WAL flush: a database crash that loses it only makes the
    // attempt claimable again (at least once holds), and any later synchronous commit (a
    // finish) flushes the WAL past it, so a finish on disk implies its claim is.
    tx.batch_execute("SET LOCAL synchronous_commit TO OFF")
        .await
        .map_err(pg)?;
    let mut keys = KeyStates::default();
    let mut chosen: Vec<i64> = Vec::new();
    let mut after = None;
    let mut page_len = limit;
    'scan: loop {
        let page = due_page(tx, now, after, page_len, true).await?;
        let full = page.len() == page_len;
        keys.load(tx, page.iter().map(|r| (&r.2, r.3.as_ref())), now, true)
            .await?;
        for (seq, _, tenant, key) in &page {
            if let Some(key) = key {
                match keys.get(tenant, key) {
                    Some(state) if state.hold(now) == Hold::Free => state.start(now),
                    // Held back, or another claim holds the key now: left for a later claim.
                    _ => continue,
                }
            }
            chosen.push(*seq);
            if chosen.len() == limit {
                break 'scan;
            }
        }
        // Held-back messages stay in the range: look further, past the last one seen.
        match page.last() {
            Some(last) if full => after = Some((last.1, last.0)),
            _ => break,
        }
        page_len = limit.max(MIN_SCAN_PAGE);
    }
    keys.save(tx).await?;
    if chosen.is_empty() {
        return Ok(Vec::new());
    }
    // One statement claims them, in the order chosen, and appends their ACTIVE events.
    let sql = format!(
        "WITH k AS (SELECT seq, n FROM UNNEST($2::int8[]) WITH ORDINALITY AS k(seq, n)), \
         u AS (UPDATE messages m SET claim = m.claim + 1, claim_open = TRUE, \
         due_at = $1 + m.lease_ms FROM k WHERE m.seq = k.seq RETURNING k.n, {MSG_COLS}), \
         e AS (INSERT INTO events (tenant, time, message_id, state, url, labels) \
         SELECT u.tenant, $1, u.id, 'ACTIVE', u.destination, u.labels FROM u ORDER BY u.n) \
         SELECT * FROM u ORDER BY n"
    );
    let found = rows(tx, &sql, &[&int(now)?, &chosen]).await?;
    found
        .iter()
        .map(|row| {
            let message = decode_message(row, 1)?;
            Ok(Claimed {
                claim: message.claim,
                lease_until: message.due_at,
                message,
            })
        })
        .collect()
}

/// [`Store::next_due`]: the earliest time a claim may find something, held-back messages
/// counted at the end of their rate window or not at all.
async fn next_due<C: GenericClient>(c: &C, now: Millis) -> Result<Option<Millis>> {
    let first = opt(
        c,
        "SELECT due_at, flow_key FROM messages WHERE state = 'PENDING' \
         ORDER BY due_at LIMIT 1",
        &[],
    )
    .await?;
    let Some(first) = first else {
        return Ok(None);
    };
    let due = uint(col(&first, 0)?)?;
    if due > now || col::<Option<String>>(&first, 1)?.is_none() {
        return Ok(Some(due));
    }
    // Something with a key is due: look for the first due message that is not held back.
    let later = one(
        c,
        "SELECT min(due_at) FROM messages WHERE state = 'PENDING' AND due_at > $1",
        &[&int(now)?],
    )
    .await?;
    let mut best = opt_uint(col(&later, 0)?)?;
    let mut keys = KeyStates::default();
    let mut after = None;
    loop {
        let page = due_page(c, now, after, MIN_SCAN_PAGE, false).await?;
        keys.load(c, page.iter().map(|r| (&r.2, r.3.as_ref())), now, false)
            .await?;
        for (_, due, tenant, key) in &page {
            let hold = match key {
                Some(key) => keys.get(tenant, key).map_or(Hold::Free, |s| s.hold(now)),
                None => Hold::Free,
            };
            match hold {
                Hold::Free => return Ok(Some(uint(*due)?)),
                Hold::Parallelism => {}
                Hold::RateUntil(end) => best = Some(best.map_or(end, |b| b.min(end))),
            }
        }
        match page.last() {
            Some(last) if page.len() == MIN_SCAN_PAGE => after = Some((last.1, last.0)),
            _ => return Ok(best),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Flow control.

/// The keys an insert registers, with the limits that replace theirs (the last message's that
/// carries limits), in key order (the order their rows are locked in).
#[derive(Default)]
struct FlowKeys(BTreeMap<(String, String), Option<FlowLimits>>);

impl FlowKeys {
    fn add(&mut self, tenant: &str, key: &str, limits: Option<FlowLimits>) {
        let entry = self
            .0
            .entry((tenant.to_string(), key.to_string()))
            .or_insert(None);
        if limits.is_some() {
            *entry = limits;
        }
    }

    /// Registers the keys; those with limits get them (the open rate window is kept).
    async fn register(&self, tx: &Transaction<'_>) -> Result<()> {
        let (mut plain_t, mut plain_k) = (Vec::new(), Vec::new());
        let (mut t, mut k, mut p, mut r, mut period) =
            (Vec::new(), Vec::new(), Vec::new(), Vec::new(), Vec::new());
        for ((tenant, key), limits) in &self.0 {
            match limits {
                Some(l) => {
                    t.push(tenant.as_str());
                    k.push(key.as_str());
                    p.push(l.parallelism.map(i64::from));
                    r.push(l.rate.map(i64::from));
                    period.push(int(l.period_ms)?);
                }
                None => {
                    plain_t.push(tenant.as_str());
                    plain_k.push(key.as_str());
                }
            }
        }
        if !t.is_empty() {
            exec(
                tx,
                // Keys whose limits are already these are left alone: an upsert would lock
                // their rows, and claims skip a locked key (a key published to all the time
                // would never be claimed).
                "INSERT INTO flow_keys (tenant, key, parallelism, rate, period_ms) \
                 SELECT w.tenant, w.key, w.parallelism, w.rate, w.period_ms \
                 FROM UNNEST($1::text[], $2::text[], $3::int8[], $4::int8[], $5::int8[]) \
                 AS w(tenant, key, parallelism, rate, period_ms) \
                 WHERE NOT EXISTS (SELECT 1 FROM flow_keys f WHERE f.tenant = w.tenant \
                 AND f.key = w.key AND f.parallelism IS NOT DISTINCT FROM w.parallelism \
                 AND f.rate IS NOT DISTINCT FROM w.rate AND f.period_ms = w.period_ms) \
                 ON CONFLICT (tenant, key) DO UPDATE SET \
                 parallelism = EXCLUDED.parallelism, rate = EXCLUDED.rate, \
                 period_ms = EXCLUDED.period_ms",
                &[&t, &k, &p, &r, &period],
            )
            .await?;
        }
        if !plain_t.is_empty() {
            exec(
                tx,
                "INSERT INTO flow_keys (tenant, key) \
                 SELECT * FROM UNNEST($1::text[], $2::text[]) ON CONFLICT DO NOTHING",
                &[&plain_t, &plain_k],
            )
            .await?;
        }
        Ok(())
    }
}

/// The keys one transaction has looked at, by `(tenant, key)`; `None` for a key whose row
/// another claim holds (or that does not exist).
#[derive(Default)]
struct KeyStates(HashMap<(String, String), Option<KeyState>>);

impl KeyStates {
    fn get(&mut self, tenant: &str, key: &str) -> Option<&mut KeyState> {
        self.0
            .get_mut(&(tenant.to_string(), key.to_string()))
            .and_then(Option::as_mut)
    }

    /// Loads the keys of `messages` not seen yet: their limits, windows and attempts in flight
    /// at `now`; with `lock`, their rows are locked (in key order), skipping those another
    /// transaction holds.
    async fn load<'a, C: GenericClient>(
        &mut self,
        c: &C,
        messages: impl Iterator<Item = (&'a String, Option<&'a String>)>,
        now: Millis,
        lock: bool,
    ) -> Result<()> {
        let mut wanted = std::collections::BTreeSet::new();
        for (tenant, key) in messages {
            if let Some(key) = key
                && !self.0.contains_key(&(tenant.clone(), key.clone()))
            {
                wanted.insert((tenant.clone(), key.clone()));
            }
        }
        if wanted.is_empty() {
            return Ok(());
        }
        let tenants: Vec<&str> = wanted.iter().map(|(t, _)| t.as_str()).collect();
        let names: Vec<&str> = wanted.iter().map(|(_, k)| k.as_str()).collect();
        let lock = if lock {
            " FOR UPDATE OF f SKIP LOCKED"
        } else {
            ""
        };
        let sql = format!(
            "SELECT f.tenant, f.key, f.parallelism, f.rate, f.period_ms, f.window_start, \
             f.window_count FROM flow_keys f \
             JOIN UNNEST($1::text[], $2::text[]) AS w(tenant, key) \
             ON f.tenant = w.tenant AND f.key = w.key ORDER BY f.tenant, f.key{lock}"
        );
        let found = rows(c, &sql, &[&tenants, &names]).await?;
        let counts = rows(
            c,
            "SELECT m.tenant, m.flow_key, count(*) FROM messages m \
             JOIN UNNEST($1::text[], $2::text[]) AS w(tenant, key) \
             ON m.tenant = w.tenant AND m.flow_key = w.key \
             WHERE m.state = 'PENDING' AND m.flow_key IS NOT NULL AND m.claim_open \
             AND m.due_at > $3 GROUP BY m.tenant, m.flow_key",
            &[&tenants, &names, &int(now)?],
        )
        .await?;
        let mut in_flight: HashMap<(String, String), u64> = HashMap::new();
        for row in &counts {
            in_flight.insert((col(row, 0)?, col(row, 1)?), uint(col(row, 2)?)?);
        }
        for id in wanted {
            self.0.insert(id, None);
        }
        for row in &found {
            let id: (String, String) = (col(row, 0)?, col(row, 1)?);
            let state = KeyState {
                parallelism: opt_uint(col(row, 2)?)?,
                rate: opt_uint(col(row, 3)?)?,
                period_ms: uint(col(row, 4)?)?.max(1),
                window_start: uint(col(row, 5)?)?,
                window_count: uint(col(row, 6)?)?,
                in_flight: in_flight.get(&id).copied().unwrap_or(0),
                dirty: false,
            };
            self.0.insert(id, Some(state));
        }
        Ok(())
    }

    /// Writes the changed windows back.
    async fn save(self, tx: &Transaction<'_>) -> Result<()> {
        let (mut t, mut k, mut start, mut count) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
        for ((tenant, key), state) in self.0 {
            let Some(state) = state.filter(|s| s.dirty) else {
                continue;
            };
            t.push(tenant);
            k.push(key);
            start.push(int(state.window_start)?);
            count.push(int(state.window_count)?);
        }
        if t.is_empty() {
            return Ok(());
        }
        exec(
            tx,
            "UPDATE flow_keys f SET window_start = w.start, window_count = w.count \
             FROM UNNEST($1::text[], $2::text[], $3::int8[], $4::int8[]) \
             AS w(tenant, key, start, count) WHERE f.tenant = w.tenant AND f.key = w.key",
            &[&t, &k, &start, &count],
        )
        .await?;
        Ok(())
    }
}

/// The live state of some keys of a tenant at `now`, in key order; unknown keys are left out.
async fn flow_infos<C: GenericClient>(
    c: &C,
    tenant: &str,
    keys: &[String],
    now: Millis,
) -> Result<Vec<FlowControlInfo>> {
    let tenant_s = tenant.to_string();
    let mut states = KeyStates::default();
    states
        .load(c, keys.iter().map(|k| (&tenant_s, Some(k))), now, false)
        .await?;
    let waiting = rows(
        c,
        "SELECT flow_key, count(*) FROM messages WHERE tenant = $1 AND flow_key = ANY($2) \
         AND state = 'PENDING' AND due_at <= $3 GROUP BY flow_key",
        &[&tenant, &keys, &int(now)?],
    )
    .await?;
    let mut waits: HashMap<String, u64> = HashMap::new();
    for row in &waiting {
        waits.insert(col(row, 0)?, uint(col(row, 1)?)?);
    }
    let mut out = Vec::new();
    let mut sorted: Vec<&String> = keys.iter().collect();
    sorted.sort();
    sorted.dedup();
    for key in sorted {
        let Some(state) = states.get(tenant, key) else {
            continue;
        };
        let open = state.window_open(now);
        out.push(FlowControlInfo {
            key: key.clone(),
            wait_list_size: waits.get(key).copied().unwrap_or(0),
            parallelism_max: state
                .parallelism
                .map(|p| u32::try_from(p).unwrap_or(u32::MAX)),
            parallelism_count: state.in_flight,
            rate_max: state.rate.map(|r| u32::try_from(r).unwrap_or(u32::MAX)),
            rate_count: if open { state.window_count } else { 0 },
            rate_period_ms: state.period_ms,
            rate_period_start: open.then_some(state.window_start),
        });
    }
    Ok(out)
}

// ---------------------------------------------------------------------------------------------
// Waiters.

async fn register_waiter(
    tx: &Transaction<'_>,
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
    let outcome = insert_one(tx, m, now).await?;
    if outcome == InsertOutcome::Inserted {
        exec(
            tx,
            "INSERT INTO waiters (tenant, event_id, message_id) VALUES ($1, $2, $3)",
            &[&m.tenant, &event_id, &m.id],
        )
        .await?;
    }
    Ok(outcome)
}

async fn list_waiters<C: GenericClient>(
    c: &C,
    tenant: &str,
    event_id: &str,
    run_id: Option<&str>,
) -> Result<Vec<Waiter>> {
    let sql = format!(
        "SELECT {MSG_COLS} FROM waiters w JOIN messages m ON m.id = w.message_id \
         WHERE w.tenant = $1 AND w.event_id = $2 AND m.tenant = w.tenant \
         AND m.state = 'PENDING' AND m.claim = 0 AND ($3::text IS NULL OR m.run_id = $3) \
         ORDER BY w.seq"
    );
    let found = rows(c, &sql, &[&tenant, &event_id, &run_id]).await?;
    found
        .iter()
        .map(|row| {
            Ok(Waiter {
                event_id: event_id.to_string(),
                message: decode_message(row, 0)?,
            })
        })
        .collect()
}

/// Releases a waiter; the message's row lock makes it exclude the claim of its timeout.
async fn release_waiter(
    tx: &Transaction<'_>,
    tenant: &str,
    message_id: &str,
    body: &[u8],
    now: Millis,
) -> Result<bool> {
    let found = opt(
        tx,
        "SELECT m.seq, m.run_id FROM waiters w JOIN messages m ON m.id = w.message_id \
         WHERE w.tenant = $1 AND w.message_id = $2 AND m.tenant = w.tenant \
         AND m.state = 'PENDING' AND m.claim = 0 FOR UPDATE OF m",
        &[&tenant, &message_id],
    )
    .await?;
    let Some(row) = found else {
        return Ok(false);
    };
    let seq: i64 = col(&row, 0)?;
    let run_id: Option<String> = col(&row, 1)?;
    exec(
        tx,
        "UPDATE messages SET body = $2, due_at = $3 WHERE seq = $1",
        &[&seq, &body, &int(now)?],
    )
    .await?;
    if let Some(run_id) = run_id {
        exec(
            tx,
            "UPDATE run_steps SET body = $4 WHERE tenant = $1 AND run_id = $2 AND message_id = $3",
            &[&tenant, &run_id, &message_id, &body],
        )
        .await?;
    }
    exec(
        tx,
        "DELETE FROM waiters WHERE message_id = $1",
        &[&message_id],
    )
    .await?;
    Ok(true)
}

/// Applies one finish; in the second place, when other processes should look for due work:
/// the earliest due time of the pending messages it stored (a retry, a spawned one), or `now`
/// when it freed a flow-control key's place.
async fn finish_one(tx: &Transaction<'_>, f: &Finish) -> Result<(FinishOutcome, Option<Millis>)> {
    // Lock order: the run before its messages, as `end_run` takes them.
    if let Some((run_id, _)) = &f.end_run {
        opt(
            tx,
            "SELECT 1 FROM runs WHERE tenant = $1 AND run_id = $2 FOR UPDATE",
            &[&f.tenant, run_id],
        )
        .await?;
    }
    let (state, retried, due_at) = match f.transition {
        Transition::Delivered => ("DELIVERED", 0i64, None),
        Transition::Failed => ("FAILED", 0, None),
        Transition::Retry { at } => ("PENDING", 1, Some(int(at)?)),
    };
    let (has_response, last_status, last_headers, last_body) = match &f.response {
        Some(r) => (
            true,
            r.status.map(i32::from),
            Some(encode_headers(&r.headers)),
            Some(r.body.as_slice()),
        ),
        None => (false, None, None, None),
    };
    let next = f.event.next_delivery_time.map(int).transpose()?;
    let event_status = f.event.response_status.map(i32::from);
    // A claim is finished at most once: a finish closes it. The event is appended by the same
    // statement, only when the update applies.
    let updated = opt(
        tx,
        "WITH u AS (UPDATE messages SET state = $4, retried = retried + $5, \
         due_at = coalesce($6, due_at), claim_open = FALSE, \
         finished_at = CASE WHEN $4 = 'PENDING' THEN NULL ELSE $11::BIGINT END, \
         last_status = CASE WHEN $7 THEN $8 ELSE last_status END, \
         last_headers = CASE WHEN $7 THEN $9 ELSE last_headers END, \
         last_body = CASE WHEN $7 THEN $10 ELSE last_body END \
         WHERE id = $1 AND tenant = $2 AND claim = $3 AND claim_open AND state = 'PENDING' \
         RETURNING destination, labels, flow_key), \
         e AS (INSERT INTO events (tenant, time, message_id, state, url, labels, \
         response_status, error, next_delivery_time) \
         SELECT $2, $11, $1, $12, u.destination, u.labels, $13, $14, $15 FROM u) \
         SELECT flow_key FROM u",
        &[
            &f.message_id,
            &f.tenant,
            &int(f.claim)?,
            &state,
            &retried,
            &due_at,
            &has_response,
            &last_status,
            &last_headers,
            &last_body,
            &int(f.now)?,
            &f.event.state,
            &event_status,
            &f.event.error,
            &next,
        ],
    )
    .await?;
    let Some(updated) = updated else {
        return Ok((FinishOutcome::Stale, None));
    };
    // A finished attempt of a key frees its place: other processes may claim the key's next.
    let keyed = col::<Option<String>>(&updated, 0)?.is_some();
    // A run has one ending: when it had ended already, what this finish would spawn for its
    // end (the failure callback) is not inserted.
    let spawn = match &f.end_run {
        Some((run_id, end)) => !matches!(
            end_run(tx, &f.tenant, run_id, end, f.now, Some(&f.message_id)).await?,
            EndRunOutcome::AlreadyEnded(_)
        ),
        None => true,
    };
    let mut wake = match f.transition {
        Transition::Retry { at } => Some(at),
        _ => None,
    };
    if keyed {
        wake = earliest(wake, Some(f.now));
    }
    if spawn {
        for message in &f.spawn {
            if insert_one(tx, message, f.now).await? == InsertOutcome::Inserted {
                wake = earliest(wake, Some(message.due_at));
            }
        }
    }
    if let Some(dlq) = &f.dlq {
        insert_dlq(tx, &f.tenant, &f.message_id, dlq).await?;
    }
    if let Some((dlq_id, state)) = &f.dlq_callback_state {
        exec(
            tx,
            "UPDATE dlq SET failure_callback_state = $3 WHERE dlq_id = $1 AND tenant = $2",
            &[dlq_id, &f.tenant, state],
        )
        .await?;
    }
    Ok((FinishOutcome::Applied, wake))
}

async fn insert_dlq(
    tx: &Transaction<'_>,
    tenant: &str,
    message_id: &str,
    dlq: &NewDlq,
) -> Result<()> {
    let inserted = opt(
        tx,
        "INSERT INTO dlq (dlq_id, tenant, message_id, created_at, response_status, \
         response_headers, response_body, failure_callback) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (dlq_id) DO NOTHING RETURNING 1",
        &[
            &dlq.dlq_id,
            &tenant,
            &message_id,
            &int(dlq.created_at)?,
            &dlq.response.status.map(i32::from),
            &encode_headers(&dlq.response.headers),
            &dlq.response.body,
            &dlq.failure_callback,
        ],
    )
    .await?;
    match inserted {
        Some(_) => Ok(()),
        None => Err(StoreError::Invalid(format!(
            "dead letter id {} exists already",
            dlq.dlq_id
        ))),
    }
}

async fn cancel(
    tx: &Transaction<'_>,
    tenant: &str,
    id: &str,
    now: Millis,
) -> Result<CancelOutcome> {
    let current = opt(
        tx,
        "SELECT state, destination, labels FROM messages WHERE id = $1 AND tenant = $2 \
         FOR UPDATE",
        &[&id, &tenant],
    )
    .await?;
    let Some(row) = current else {
        return Ok(CancelOutcome::NotFound);
    };
    let state = MessageState::from_name(col(&row, 0)?).ok_or_else(|| corrupt("state"))?;
    if state.is_final() {
        return Ok(CancelOutcome::AlreadyFinal(state));
    }
    let url: String = col(&row, 1)?;
    let labels: String = col(&row, 2)?;
    exec(
        tx,
        "UPDATE messages SET state = 'CANCELLED', claim_open = FALSE, finished_at = $2 \
         WHERE id = $1",
        &[&id, &int(now)?],
    )
    .await?;
    for event in ["CANCEL_REQUESTED", "CANCELLED"] {
        append_event(tx, tenant, now, id, event, &url, &labels, None, None, None).await?;
    }
    Ok(CancelOutcome::Cancelled)
}

async fn read_keys<C: GenericClient>(c: &C) -> Result<Option<SigningKeys>> {
    tenant_keys::read_pair(c, KEY_CURRENT, KEY_NEXT, "signing keys").await
}

async fn write_keys(tx: &Transaction<'_>, keys: &SigningKeys) -> Result<()> {
    tenant_keys::write_pair(tx, KEY_CURRENT, KEY_NEXT, keys).await
}

/// Serializes the transactions that read and write the signing keys of this schema.
async fn lock_keys(tx: &Transaction<'_>) -> Result<()> {
    exec(
        tx,
        "SELECT pg_advisory_xact_lock($1, hashtext(current_schema() || ':keys') + $2)",
        &[&LOCK_KEY, &KEYS_LOCK],
    )
    .await?;
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Reads.

/// Builds a statement's parameters as it grows.
struct Params<'a> {
    values: Vec<&'a (dyn ToSql + Sync)>,
}

impl<'a> Params<'a> {
    fn new() -> Self {
        Params { values: Vec::new() }
    }

    /// Adds a value and returns its placeholder (`$n`).
    fn add(&mut self, value: &'a (dyn ToSql + Sync)) -> String {
        self.values.push(value);
        format!("${}", self.values.len())
    }
}

async fn list_events<C: GenericClient>(
    c: &C,
    tenant: &str,
    filter: &EventFilter,
    cursor: Option<u64>,
    count: usize,
) -> Result<Page<Event>> {
    let count = count.max(1);
    let cursor = cursor_value(cursor);
    let limit = page_limit(count);
    let needle = filter.label.as_deref().map(label_needle);
    let mut p = Params::new();
    let mut sql = format!(
        "SELECT {EVENT_COLS} FROM events WHERE tenant = {} AND id < {}",
        p.add(&tenant),
        p.add(&cursor)
    );
    if let Some(message_id) = &filter.message_id {
        sql.push_str(&format!(" AND message_id = {}", p.add(message_id)));
    }
    if let Some(state) = &filter.state {
        sql.push_str(&format!(" AND state = {}", p.add(state)));
    }
    if let Some(url) = &filter.url {
        sql.push_str(&format!(" AND url = {}", p.add(url)));
    }
    if let Some(needle) = &needle {
        sql.push_str(&format!(" AND strpos(labels, {}) > 0", p.add(needle)));
    }
    sql.push_str(&format!(" ORDER BY id DESC LIMIT {}", p.add(&limit)));
    let found = rows(c, &sql, &p.values).await?;
    let mut items = found.iter().map(decode_event).collect::<Result<Vec<_>>>()?;
    let next = if items.len() > count {
        items.truncate(count);
        items.last().map(|e| e.id)
    } else {
        None
    };
    Ok(Page { items, next })
}

async fn list_dlq<C: GenericClient>(
    c: &C,
    tenant: &str,
    filter: &DlqFilter,
    cursor: Option<u64>,
    count: usize,
) -> Result<Page<DlqEntry>> {
    let count = count.max(1);
    let cursor = cursor_value(cursor);
    let limit = page_limit(count);
    let needle = filter.label.as_deref().map(label_needle);
    let status = filter.response_status.map(i32::from);
    let mut p = Params::new();
    let mut sql = format!(
        "SELECT {DLQ_COLS}, {MSG_COLS} FROM dlq d \
         JOIN messages m ON m.id = d.message_id AND m.tenant = d.tenant \
         WHERE d.tenant = {} AND d.seq < {}",
        p.add(&tenant),
        p.add(&cursor)
    );
    if let Some(url) = &filter.url {
        sql.push_str(&format!(" AND m.destination = {}", p.add(url)));
    }
    if let Some(needle) = &needle {
        sql.push_str(&format!(" AND strpos(m.labels, {}) > 0", p.add(needle)));
    }
    if let Some(status) = &status {
        sql.push_str(&format!(" AND d.response_status = {}", p.add(status)));
    }
    match filter.workflow {
        Some(true) => sql.push_str(" AND m.run_id IS NOT NULL"),
        Some(false) => sql.push_str(" AND m.run_id IS NULL"),
        None => {}
    }
    sql.push_str(&format!(" ORDER BY d.seq DESC LIMIT {}", p.add(&limit)));
    let found = rows(c, &sql, &p.values).await?;
    let mut items = found.iter().map(decode_dlq).collect::<Result<Vec<_>>>()?;
    let next = if items.len() > count {
        items.truncate(count);
        items.last().map(|e| e.seq)
    } else {
        None
    };
    Ok(Page { items, next })
}

async fn run_steps<C: GenericClient>(
    c: &C,
    tenant: &str,
    run_id: &str,
    up_to: Option<&str>,
) -> Result<Vec<RunStep>> {
    let last = match up_to {
        Some(message_id) => {
            let seq = opt(
                c,
                "SELECT seq FROM run_steps WHERE tenant = $1 AND message_id = $2 AND run_id = $3",
                &[&tenant, &message_id, &run_id],
            )
            .await?;
            match seq {
                Some(row) => col::<i64>(&row, 0)?,
                None => return Ok(Vec::new()),
            }
        }
        None => i64::MAX,
    };
    let found = rows(
        c,
        "SELECT seq, message_id, body, created_at FROM run_steps \
         WHERE tenant = $1 AND run_id = $2 AND seq <= $3 ORDER BY seq",
        &[&tenant, &run_id, &last],
    )
    .await?;
    found
        .iter()
        .map(|row| {
            Ok(RunStep {
                seq: uint(col(row, 0)?)?,
                message_id: col(row, 1)?,
                body: col(row, 2)?,
                created_at: uint(col(row, 3)?)?,
            })
        })
        .collect()
}

async fn list_runs<C: GenericClient>(
    c: &C,
    tenant: &str,
    filter: &RunFilter,
    cursor: Option<u64>,
    count: usize,
) -> Result<Page<StoredRun>> {
    let count = count.max(1);
    let cursor = cursor_value(cursor);
    let limit = page_limit(count);
    let needle = filter.label.as_deref().map(label_needle);
    let state = filter.state.map(RunState::as_str);
    let mut p = Params::new();
    let mut sql = format!(
        "SELECT {RUN_COLS} FROM runs r WHERE r.tenant = {} AND r.seq < {}",
        p.add(&tenant),
        p.add(&cursor)
    );
    if let Some(run_id) = &filter.run_id {
        sql.push_str(&format!(" AND r.run_id = {}", p.add(run_id)));
    }
    if let Some(url) = &filter.workflow_url {
        sql.push_str(&format!(" AND r.workflow_url = {}", p.add(url)));
    }
    if let Some(state) = &state {
        sql.push_str(&format!(" AND r.state = {}", p.add(state)));
    }
    if let Some(needle) = &needle {
        sql.push_str(&format!(" AND strpos(r.labels, {}) > 0", p.add(needle)));
    }
    sql.push_str(&format!(" ORDER BY r.seq DESC LIMIT {}", p.add(&limit)));
    let found = rows(c, &sql, &p.values).await?;
    let mut items = found.iter().map(decode_run).collect::<Result<Vec<_>>>()?;
    let next = if items.len() > count {
        items.truncate(count);
        items.last().map(|r| r.seq)
    } else {
        None
    };
    Ok(Page { items, next })
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
            "SELECT count(*) FROM messages WHERE state = 'PENDING' AND due_at <= $1",
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
        in_tx!(self, |tx| end_run(&tx, tenant, run_id, &end, now, None)
            .await?)
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
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_kinds_come_from_sqlstate_codes() {
        let cases = [
            (SqlState::T_R_DEADLOCK_DETECTED, StoreErrorKind::Busy),
            (SqlState::T_R_SERIALIZATION_FAILURE, StoreErrorKind::Busy),
            (SqlState::DISK_FULL, StoreErrorKind::Full),
            (SqlState::DATA_CORRUPTED, StoreErrorKind::Corrupt),
            (SqlState::INDEX_CORRUPTED, StoreErrorKind::Corrupt),
            (SqlState::UNIQUE_VIOLATION, StoreErrorKind::Invalid),
            (SqlState::DIVISION_BY_ZERO, StoreErrorKind::Invalid),
            (SqlState::ADMIN_SHUTDOWN, StoreErrorKind::Unavailable),
            (SqlState::UNDEFINED_TABLE, StoreErrorKind::Unavailable),
        ];
        for (code, kind) in cases {
            assert_eq!(sqlstate_kind(&code), kind, "{}", code.code());
        }
        let busy = StoreError::Backend {
            kind: StoreErrorKind::Busy,
            message: "a deadlock".to_string(),
            source: Arc::new(std::io::Error::other("x")),
        };
        assert!(is_transient(&busy));
        // A message that merely looks like a deadlock's is not one.
        assert!(!is_transient(&StoreError::Unavailable(
            "deadlock detected (40P01)".to_string()
        )));
    }

    #[test]
    fn schema_names() {
        assert!(check_schema_name("qstash_test_1").is_ok());
        assert!(check_schema_name("").is_err());
        assert!(check_schema_name("1abc").is_err());
        assert!(check_schema_name("a\"b").is_err());
        assert!(check_schema_name("a b").is_err());
        assert!(check_schema_name("Upper").is_err());
        assert!(check_schema_name(&"a".repeat(51)).is_err());
    }

    #[test]
    fn headers_and_labels_round_trip() {
        let headers = vec![
            ("A".to_string(), "1".to_string()),
            ("Empty".to_string(), String::new()),
            ("Long".to_string(), "x".repeat(300)),
        ];
        assert_eq!(decode_headers(&encode_headers(&headers)).unwrap(), headers);
        assert!(decode_headers(&[0xff; 12]).is_err());
        let labels = vec!["a%b".to_string(), "_".to_string(), String::new()];
        assert_eq!(
            decode_labels(&encode_labels(&labels).unwrap()).unwrap(),
            labels
        );
    }
}
