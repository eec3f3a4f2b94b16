//! The conformance suite and PostgreSQL-specific rules, on a real PostgreSQL server.
//!
//! The server's URL comes from `QSTASH_TEST_DATABASE_URL` (`.ci/pg start DIR` starts a private
//! one and prints it). Every check runs in a schema of its own, dropped afterwards, so the
//! tests can run in parallel on one database. The tests are `#[ignore]`d, so that a plain
//! `cargo test` reports them as not run; `--include-ignored` runs them (as `.ci/run` does), and
//! then a missing variable fails them.
#![cfg(feature = "postgres")]

use std::collections::HashMap;
use std::net::TcpListener;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use qstash_store::conformance::{self, LEASE, T0, message};
use qstash_store::postgres::{PgOptions, PgStore, SCHEMA_VERSION};
use qstash_store::{InsertOutcome, Store, StoreError, StoreErrorKind};
use tokio_postgres::NoTls;

/// The test database's URL. These tests are `#[ignore]`d: they run only when asked
/// (`--include-ignored`, as `.ci/run` does), and then a missing URL is a failure, never a pass.
fn database_url() -> String {
    match std::env::var("QSTASH_TEST_DATABASE_URL") {
        Ok(url) if !url.trim().is_empty() => url,
        _ => panic!(
            "QSTASH_TEST_DATABASE_URL is not set: the PostgreSQL tests need a database (start \
             one with `.ci/pg start DIR` and export the URL it prints)"
        ),
    }
}

/// A schema of its own for one check, dropped with the guard.
struct Schema {
    url: String,
    name: String,
}

impl Schema {
    fn new(url: &str) -> Schema {
        static NEXT: AtomicU32 = AtomicU32::new(0);
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .subsec_nanos();
        Schema {
            url: url.to_string(),
            name: format!(
                "qt_{}_{}_{}",
                std::process::id(),
                NEXT.fetch_add(1, Ordering::SeqCst),
                nanos % 1_000_000
            ),
        }
    }

    fn options(&self) -> PgOptions {
        PgOptions {
            schema: Some(self.name.clone()),
            pool_size: 8,
            ..PgOptions::default()
        }
    }
}

impl Drop for Schema {
    fn drop(&mut self) {
        let (url, name) = (self.url.clone(), self.name.clone());
        // The guard is dropped inside a runtime: drop the schema from a thread of its own.
        let dropped = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async {
                let client = admin(&url).await;
                client
                    .batch_execute(&format!("DROP SCHEMA IF EXISTS \"{name}\" CASCADE"))
                    .await
            })
        })
        .join();
        if !matches!(dropped, Ok(Ok(()))) {
            eprintln!("could not drop the test schema {}", self.name);
        }
    }
}

/// A plain connection for the tests' own statements.
async fn admin(url: &str) -> tokio_postgres::Client {
    let (client, connection) = tokio_postgres::connect(url, NoTls)
        .await
        .expect("connect to the test database");
    tokio::spawn(connection);
    client
}

async fn fresh(url: &str) -> (PgStore, Schema) {
    let schema = Schema::new(url);
    let store = PgStore::connect(url, schema.options())
        .await
        .expect("connect the store");
    (store, schema)
}

// One test per conformance check, each on a fresh schema: `conformance_suite::<check>`.
qstash_store::conformance_tests!(
    #[ignore = "needs PostgreSQL: set QSTASH_TEST_DATABASE_URL (.ci/run starts one)"]
    fresh_store = fresh(&database_url())
);

/// Two stores (two processes) on one database, many claimers each: a message is claimed once
/// per lease, and after the lease ends once more, by exactly one claimer.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
#[ignore = "needs PostgreSQL: set QSTASH_TEST_DATABASE_URL (.ci/run starts one)"]
async fn two_stores_never_claim_the_same_message() {
    let url = database_url();
    let schema = Schema::new(&url);
    let a = Arc::new(PgStore::connect(&url, schema.options()).await.unwrap());
    let b = Arc::new(PgStore::connect(&url, schema.options()).await.unwrap());
    const MESSAGES: usize = 300;
    let batch: Vec<_> = (0..MESSAGES)
        .map(|i| message("t1", &format!("msg_{i}"), T0 + (i % 13) as u64))
        .collect();
    a.insert_messages(batch, T0).await.unwrap();

    for (round, now) in [(1u64, T0 + 100), (2, T0 + 100 + LEASE + 100)] {
        let mut tasks = Vec::new();
        for k in 0..12 {
            let store = if k % 2 == 0 {
                Arc::clone(&a)
            } else {
                Arc::clone(&b)
            };
            tasks.push(tokio::spawn(async move {
                let mut mine = Vec::new();
                loop {
                    let claimed = store.claim_due(now, 5).await.expect("claim");
                    if claimed.is_empty() {
                        return mine;
                    }
                    mine.extend(claimed.into_iter().map(|c| (c.message.message.id, c.claim)));
                }
            }));
        }
        let mut seen: HashMap<String, u64> = HashMap::new();
        for task in tasks {
            for (id, claim) in task.await.unwrap() {
                assert_eq!(claim, round, "{id}: one claim per lease");
                assert!(
                    seen.insert(id.clone(), claim).is_none(),
                    "{id} claimed twice"
                );
            }
        }
        assert_eq!(seen.len(), MESSAGES, "round {round}: every message claimed");
    }
}

/// Several stores started at once on a new schema: one migrates, the others wait and find it
/// done; the schema is at the current version once. A newer version is refused.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
#[ignore = "needs PostgreSQL: set QSTASH_TEST_DATABASE_URL (.ci/run starts one)"]
async fn migrations_from_stores_started_at_once() {
    let url = database_url();
    let schema = Schema::new(&url);
    let mut starts = Vec::new();
    for _ in 0..4 {
        let (url, options) = (url.clone(), schema.options());
        starts.push(tokio::spawn(async move {
            PgStore::connect(&url, options).await
        }));
    }
    let mut stores = Vec::new();
    for start in starts {
        stores.push(start.await.unwrap().expect("every store starts"));
    }
    stores[0]
        .insert_messages(vec![message("t1", "msg_a", T0)], T0)
        .await
        .unwrap();
    assert!(
        stores[3]
            .get_message("t1", "msg_a")
            .await
            .unwrap()
            .is_some()
    );

    let client = admin(&url).await;
    let rows = client
        .query(
            &format!(
                "SELECT version FROM \"{}\".qstash_migrations ORDER BY version",
                schema.name
            ),
            &[],
        )
        .await
        .unwrap();
    let versions: Vec<i32> = rows.iter().map(|r| r.get(0)).collect();
    assert_eq!(versions, (1..=SCHEMA_VERSION).collect::<Vec<_>>());

    client
        .batch_execute(&format!(
            "INSERT INTO \"{}\".qstash_migrations (version) VALUES ({})",
            schema.name,
            SCHEMA_VERSION + 1
        ))
        .await
        .unwrap();
    match PgStore::connect(&url, schema.options()).await {
        Err(StoreError::Corrupt(msg)) => assert!(msg.contains("newer"), "{msg}"),
        other => panic!("a newer schema must be refused, got {other:?}"),
    }
}

/// A message stored by one store wakes the other store's scheduler signal, not its own.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs PostgreSQL: set QSTASH_TEST_DATABASE_URL (.ci/run starts one)"]
async fn a_notify_wakes_the_other_store() {
    let url = database_url();
    let schema = Schema::new(&url);
    let a = PgStore::connect(&url, schema.options()).await.unwrap();
    let b = PgStore::connect(&url, schema.options()).await.unwrap();
    let wake_b = b.due_wakeups().expect("the PostgreSQL store has wake-ups");
    assert!(a.due_wakeups().is_some());
    assert_eq!(a.channel(), b.channel());

    let woken = wake_b.notified();
    a.insert_messages(vec![message("t1", "msg_a", T0)], T0)
        .await
        .unwrap();
    tokio::time::timeout(Duration::from_secs(10), woken)
        .await
        .expect("the insert in one store wakes the other");

    // A retry committed by one store wakes the other too (whose scheduler, as the engine's
    // does after each wake-up, asked for its next due time: the claim's lease end).
    let claimed = a.claim_due(T0, 1).await.unwrap().remove(0);
    assert_eq!(b.next_due(T0).await.unwrap(), Some(T0 + LEASE));
    let woken = wake_b.notified();
    a.finish(vec![conformance::finish_of(
        &claimed,
        T0 + 1,
        qstash_store::Transition::Retry { at: T0 + 2 },
        "RETRY",
    )])
    .await
    .unwrap();
    tokio::time::timeout(Duration::from_secs(10), woken)
        .await
        .expect("the retry in one store wakes the other");

    // A finished attempt of a flow-control key frees its place: it wakes the other store too.
    let keyed = conformance::keyed(message("t1", "msg_k", T0), "k", Some(1), None, 1000);
    assert_eq!(b.next_due(T0).await.unwrap(), Some(T0 + 2));
    let woken = wake_b.notified();
    a.insert_messages(vec![keyed], T0).await.unwrap();
    tokio::time::timeout(Duration::from_secs(10), woken)
        .await
        .expect("the insert wakes the other store");
    let claimed = a.claim_due(T0 + 5, 10).await.unwrap();
    let k = claimed
        .iter()
        .find(|c| c.message.message.id == "msg_k")
        .expect("the keyed message is claimed");
    b.next_due(T0 + 5).await.unwrap();
    let woken = wake_b.notified();
    a.finish(vec![conformance::finish_of(
        k,
        T0 + 6,
        qstash_store::Transition::Delivered,
        "DELIVERED",
    )])
    .await
    .unwrap();
    tokio::time::timeout(Duration::from_secs(10), woken)
        .await
        .expect("a keyed finish in one store wakes the other");

    // A store's own notifications do not wake it.
    let wake_a = a.due_wakeups().unwrap();
    let woken_a = wake_a.notified();
    tokio::pin!(woken_a);
    woken_a.as_mut().enable();
    let woken = wake_b.notified();
    a.insert_messages(vec![message("t1", "msg_c", T0)], T0)
        .await
        .unwrap();
    tokio::time::timeout(Duration::from_secs(10), woken)
        .await
        .expect("the other store is woken");
    assert!(
        tokio::time::timeout(Duration::from_millis(200), woken_a)
            .await
            .is_err(),
        "a store is not woken by its own notification"
    );
}

/// A database that cannot be reached is an error, not a panic; a store whose connections are
/// cut answers errors and then recovers with new connections.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs PostgreSQL: set QSTASH_TEST_DATABASE_URL (.ci/run starts one)"]
async fn lost_connections_are_errors() {
    let url = database_url();
    let port = {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    };
    let options = PgOptions {
        connect_timeout: Duration::from_secs(2),
        ..PgOptions::default()
    };
    let closed = PgStore::connect(
        &format!("postgres://qstash:secret-password@127.0.0.1:{port}/qstash"),
        options,
    )
    .await;
    match closed {
        Err(e) if e.kind() == StoreErrorKind::Unavailable => {
            assert!(!e.to_string().contains("secret-password"), "{e}");
            let source = std::error::Error::source(&e).expect("the driver's error is the source");
            assert!(
                source.downcast_ref::<tokio_postgres::Error>().is_some(),
                "{source:?}"
            );
            assert!(
                !format!("{source:?}").contains("secret-password"),
                "{source:?}"
            );
        }
        other => panic!("a closed port is Unavailable, got {other:?}"),
    }
    match PgStore::connect("not a url ://", PgOptions::default()).await {
        Err(StoreError::Invalid(_)) => {}
        other => panic!("a bad URL is Invalid, got {other:?}"),
    }

    let schema = Schema::new(&url);
    let app = format!("qstash_cut_{}", schema.name);
    let sep = if url.contains('?') { '&' } else { '?' };
    let store = PgStore::connect(
        &format!("{url}{sep}application_name={app}"),
        schema.options(),
    )
    .await
    .unwrap();
    store
        .insert_messages(vec![message("t1", "msg_a", T0)], T0)
        .await
        .unwrap();
    let client = admin(&url).await;
    let cut = client
        .query(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = $1",
            &[&app],
        )
        .await
        .unwrap();
    assert!(!cut.is_empty(), "the store's connections were found");
    // Each call is answered (an error while the pool finds its connections cut), and the
    // store works again with new connections.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        match store.get_message("t1", "msg_a").await {
            Ok(found) => {
                assert!(found.is_some());
                break;
            }
            Err(e) if e.kind() == StoreErrorKind::Unavailable => {}
            Err(e) => panic!("a cut connection is Unavailable, got {e:?}"),
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the store did not recover"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    store
        .insert_messages(vec![message("t1", "msg_b", T0)], T0)
        .await
        .unwrap();
}

/// Concurrent accepts share commits, and a call with an id that exists fails alone: the other
/// calls of its group are stored.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
#[ignore = "needs PostgreSQL: set QSTASH_TEST_DATABASE_URL (.ci/run starts one)"]
async fn accepts_share_commits_and_fail_alone() {
    let url = database_url();
    let (store, _schema) = fresh(&url).await;
    let store = Arc::new(store);
    store
        .insert_messages(vec![message("t1", "msg_dup", T0)], T0)
        .await
        .unwrap();
    let before = store.group_stats();
    const CALLS: usize = 200;
    let mut tasks = Vec::new();
    for i in 0..CALLS {
        let store = Arc::clone(&store);
        tasks.push(tokio::spawn(async move {
            let mut batch = vec![message("t1", &format!("msg_{i}"), T0)];
            if i % 10 == 3 {
                batch.push(message("t1", "msg_dup", T0));
            }
            store.insert_messages(batch, T0).await
        }));
    }
    for (i, task) in tasks.into_iter().enumerate() {
        let out = task.await.unwrap();
        let stored = store
            .get_message("t1", &format!("msg_{i}"))
            .await
            .unwrap()
            .is_some();
        if i % 10 == 3 {
            assert!(
                matches!(&out, Err(e) if e.kind() == StoreErrorKind::Invalid),
                "{i}: {out:?}"
            );
            assert!(!stored, "{i}: nothing of a refused call is stored");
        } else {
            assert_eq!(out.unwrap(), [InsertOutcome::Inserted]);
            assert!(stored, "{i}");
        }
    }
    let after = store.group_stats();
    let calls = after.calls - before.calls;
    let commits = after.commits - before.commits;
    assert!(commits < calls, "{commits} commits for {calls} calls");
}

/// The hot queries can be served by their indexes, without sorting (the planner is told to
/// avoid sequential scans, since the tables of a fresh schema are tiny).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs PostgreSQL: set QSTASH_TEST_DATABASE_URL (.ci/run starts one)"]
async fn hot_queries_use_their_indexes() {
    let url = database_url();
    let (_store, schema) = fresh(&url).await;
    let client = admin(&url).await;
    client
        .batch_execute(&format!(
            "SET search_path = \"{}\"; SET enable_seqscan = off; SET enable_bitmapscan = off",
            schema.name
        ))
        .await
        .unwrap();
    let plan = |sql: &'static str| {
        let client = &client;
        async move {
            let rows = client.query(&format!("EXPLAIN {sql}"), &[]).await.unwrap();
            rows.iter()
                .map(|r| r.get::<_, String>(0))
                .collect::<Vec<_>>()
                .join("\n")
        }
    };
    for (sql, index, sorted) in [
        (
            "SELECT seq FROM messages WHERE state = 'PENDING' AND NOT held AND due_at <= 5 \
             ORDER BY due_at, seq LIMIT 10 FOR UPDATE SKIP LOCKED",
            "messages_due",
            true,
        ),
        (
            "SELECT due_at, flow_key FROM messages WHERE state = 'PENDING' AND NOT held \
             ORDER BY due_at, seq LIMIT 1",
            "messages_due",
            true,
        ),
        (
            "SELECT min(due_at) FROM messages WHERE state = 'PENDING' AND NOT held AND due_at > 5",
            "messages_due",
            false,
        ),
        (
            // A key's wait list is read in order from its own index, never sorted.
            "SELECT seq FROM messages WHERE tenant = 't' AND flow_key = 'k' \
             AND state = 'PENDING' AND held ORDER BY due_at, seq LIMIT 3",
            "messages_held",
            true,
        ),
        (
            "SELECT tenant, key FROM flow_keys WHERE wake_at <= 5 ORDER BY wake_at LIMIT 9 \
             FOR UPDATE SKIP LOCKED",
            "flow_keys_wake",
            true,
        ),
        (
            "SELECT min(wake_at) FROM flow_keys WHERE wake_at IS NOT NULL",
            "flow_keys_wake",
            false,
        ),
        (
            "SELECT id FROM events WHERE tenant = 't' AND id < 9 ORDER BY id DESC LIMIT 5",
            "events_tenant",
            true,
        ),
        (
            "SELECT id FROM events WHERE tenant = 't' AND message_id = 'm' AND id < 9 \
             ORDER BY id DESC LIMIT 5",
            "events_message",
            true,
        ),
        (
            "SELECT d.seq FROM dlq d JOIN messages m ON m.id = d.message_id \
             AND m.tenant = d.tenant WHERE d.tenant = 't' AND d.seq < 9 \
             ORDER BY d.seq DESC LIMIT 5",
            "dlq_tenant",
            true,
        ),
        (
            "SELECT seq FROM runs WHERE tenant = 't' AND seq < 9 ORDER BY seq DESC LIMIT 5",
            "runs_tenant",
            true,
        ),
        (
            // On an empty table the planner may as well walk the pending messages' index.
            "SELECT seq FROM messages WHERE tenant = 't' AND run_id = 'r' AND state = 'PENDING'",
            "Index",
            false,
        ),
        (
            "SELECT seq FROM run_steps WHERE tenant = 't' AND message_id = 'm' AND run_id = 'r'",
            "run_steps_message",
            false,
        ),
        (
            "SELECT count(*) FROM messages WHERE tenant = 't' AND flow_key = 'k' \
             AND state = 'PENDING' AND flow_key IS NOT NULL AND NOT held AND claim_open \
             AND due_at > 5",
            // As for messages_run: on an empty table either partial index will do.
            "Index",
            false,
        ),
        (
            "SELECT seq FROM messages WHERE state = 'PENDING' AND NOT held AND due_at <= 9 \
             AND (due_at, seq) > (3, 4) ORDER BY due_at, seq LIMIT 10",
            "messages_due",
            true,
        ),
        (
            "SELECT w.seq FROM waiters w JOIN messages m ON m.id = w.message_id \
             WHERE w.tenant = 't' AND w.event_id = 'e' ORDER BY w.seq",
            "waiters_event",
            true,
        ),
    ] {
        let shown = plan(sql).await;
        assert!(shown.contains(index), "{sql}:\n{shown}");
        if sorted {
            assert!(!shown.contains("Sort"), "{sql} sorts:\n{shown}");
        }
    }
}

/// Two stores (two processes) claiming one key's messages at once: together they never have
/// more attempts in flight than the key's parallelism, and claim each message once.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
#[ignore = "needs PostgreSQL: set QSTASH_TEST_DATABASE_URL (.ci/run starts one)"]
async fn two_stores_respect_a_keys_parallelism() {
    let url = database_url();
    let schema = Schema::new(&url);
    let a = Arc::new(PgStore::connect(&url, schema.options()).await.unwrap());
    let b = Arc::new(PgStore::connect(&url, schema.options()).await.unwrap());
    const MESSAGES: usize = 60;
    const PARALLELISM: u64 = 3;
    let batch: Vec<_> = (0..MESSAGES)
        .map(|i| {
            conformance::keyed(
                message("t1", &format!("msg_{i}"), T0 + (i % 7) as u64),
                "k",
                Some(PARALLELISM as u32),
                None,
                1000,
            )
        })
        .collect();
    a.insert_messages(batch, T0).await.unwrap();
    let in_flight = Arc::new(std::sync::atomic::AtomicU64::new(0));
    let mut tasks = Vec::new();
    for k in 0..8 {
        let store = if k % 2 == 0 {
            Arc::clone(&a)
        } else {
            Arc::clone(&b)
        };
        let in_flight = Arc::clone(&in_flight);
        tasks.push(tokio::spawn(async move {
            let mut mine = Vec::new();
            let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
            let now = T0 + 100;
            loop {
                let claimed = store.claim_due(now, 2).await.expect("claim");
                if claimed.is_empty() {
                    if store.due_count(now).await.expect("due_count") == 0 {
                        return mine;
                    }
                    assert!(tokio::time::Instant::now() < deadline, "claims stalled");
                    tokio::time::sleep(Duration::from_millis(2)).await;
                    continue;
                }
                let n = in_flight.fetch_add(claimed.len() as u64, Ordering::SeqCst);
                assert!(
                    n + claimed.len() as u64 <= PARALLELISM,
                    "{} attempts in flight",
                    n + claimed.len() as u64
                );
                tokio::task::yield_now().await;
                in_flight.fetch_sub(claimed.len() as u64, Ordering::SeqCst);
                let finishes = claimed
                    .iter()
                    .map(|c| {
                        conformance::finish_of(
                            c,
                            now,
                            qstash_store::Transition::Delivered,
                            "DELIVERED",
                        )
                    })
                    .collect();
                store.finish(finishes).await.expect("finish");
                mine.extend(claimed.into_iter().map(|c| c.message.message.id));
            }
        }));
    }
    let mut seen = std::collections::HashSet::new();
    for task in tasks {
        for id in task.await.unwrap() {
            assert!(seen.insert(id.clone()), "{id} claimed twice");
        }
    }
    assert_eq!(seen.len(), MESSAGES);
}

/// A schema at version 1 (before flow control and waiters), with data, migrates at start and
/// keeps its data; a key used before is known.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs PostgreSQL: set QSTASH_TEST_DATABASE_URL (.ci/run starts one)"]
async fn a_version_1_schema_migrates() {
    let url = database_url();
    let schema = Schema::new(&url);
    let client = admin(&url).await;
    client
        .batch_execute(&format!(
            "CREATE SCHEMA \"{name}\"; SET search_path = \"{name}\"; {v1}; \
             CREATE TABLE qstash_migrations (version INTEGER PRIMARY KEY, \
             applied_at TIMESTAMPTZ NOT NULL DEFAULT now()); \
             INSERT INTO qstash_migrations (version) VALUES (1); \
             INSERT INTO messages (tenant, id, destination, method, headers, body, created_at, \
             first_due_at, due_at, max_retries, state, lease_ms, labels, extra, flow_key) \
             VALUES ('t1', 'msg_old', 'https://example.com/old', 'POST', '\\x00', 'hi', 5, 7, 7, \
             3, 'PENDING', 60000, '', '', 'old-key');",
            name = schema.name,
            v1 = qstash_store::postgres::MIGRATIONS[0],
        ))
        .await
        .unwrap();
    let store = PgStore::connect(&url, schema.options()).await.unwrap();
    let old = store.get_message("t1", "msg_old").await.unwrap().unwrap();
    assert_eq!(old.message.body, b"hi");
    assert_eq!(old.message.flow_key.as_deref(), Some("old-key"));
    assert_eq!(old.message.flow_limits, None);
    let keys = store.list_flow_control("t1", 10).await.unwrap();
    assert_eq!(keys.len(), 1);
    assert_eq!(
        (keys[0].key.as_str(), keys[0].wait_list_size),
        ("old-key", 1)
    );
    let claimed = store.claim_due(10, 10).await.unwrap();
    assert_eq!(claimed.len(), 1);
    let rows = client
        .query(
            "SELECT version FROM qstash_migrations ORDER BY version",
            &[],
        )
        .await
        .unwrap();
    let versions: Vec<i32> = rows.iter().map(|r| r.get(0)).collect();
    assert_eq!(versions, (1..=SCHEMA_VERSION).collect::<Vec<_>>());
}

/// Concurrent finishes share commits, and a finish call that fails (its callback reuses an id)
/// fails alone: the other calls of its group apply.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
#[ignore = "needs PostgreSQL: set QSTASH_TEST_DATABASE_URL (.ci/run starts one)"]
async fn finishes_share_commits_and_fail_alone() {
    let url = database_url();
    let (store, _schema) = fresh(&url).await;
    let store = Arc::new(store);
    const CALLS: usize = 150;
    let batch: Vec<_> = (0..CALLS)
        .map(|i| message("t1", &format!("msg_{i}"), T0))
        .chain([message("t1", "msg_dup", T0 + 1_000_000)])
        .collect();
    store.insert_messages(batch, T0).await.unwrap();
    let claimed = store.claim_due(T0, CALLS).await.unwrap();
    assert_eq!(claimed.len(), CALLS);
    let before = store.group_stats();
    let mut tasks = Vec::new();
    for c in claimed {
        let store = Arc::clone(&store);
        tasks.push(tokio::spawn(async move {
            let i: usize = c.message.message.id["msg_".len()..].parse().unwrap();
            let mut f = conformance::finish_of(
                &c,
                T0 + 1,
                qstash_store::Transition::Delivered,
                "DELIVERED",
            );
            if i % 10 == 3 {
                f.spawn = vec![message("t1", "msg_dup", T0)];
            }
            (i, store.finish(vec![f]).await)
        }));
    }
    for task in tasks {
        let (i, out) = task.await.unwrap();
        let state = store
            .get_message("t1", &format!("msg_{i}"))
            .await
            .unwrap()
            .unwrap()
            .state;
        if i % 10 == 3 {
            assert!(
                matches!(&out, Err(e) if e.kind() == StoreErrorKind::Invalid),
                "{i}: {out:?}"
            );
            assert_eq!(state, qstash_store::MessageState::Pending, "{i}");
        } else {
            assert_eq!(out.unwrap(), [qstash_store::FinishOutcome::Applied]);
            assert_eq!(state, qstash_store::MessageState::Delivered, "{i}");
        }
    }
    let after = store.group_stats();
    let (calls, commits) = (after.calls - before.calls, after.commits - before.commits);
    assert!(commits < calls, "{commits} commits for {calls} calls");
}

/// A notification wakes the other store's scheduler only for work due before its plan (the
/// last answer of its `next_due`): a message due later changes nothing, one due earlier does.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs PostgreSQL: set QSTASH_TEST_DATABASE_URL (.ci/run starts one)"]
async fn a_notify_wakes_only_for_earlier_work() {
    let url = database_url();
    let schema = Schema::new(&url);
    let a = PgStore::connect(&url, schema.options()).await.unwrap();
    let b = PgStore::connect(&url, schema.options()).await.unwrap();
    let wake_b = b.due_wakeups().unwrap();
    let woken = wake_b.notified();
    a.insert_messages(vec![message("t1", "msg_a", T0 + 1_000)], T0)
        .await
        .unwrap();
    tokio::time::timeout(Duration::from_secs(10), woken)
        .await
        .expect("a scheduler without a plan is woken");
    // B's scheduler plans to look again at T0 + 1000.
    assert_eq!(b.next_due(T0).await.unwrap(), Some(T0 + 1_000));

    // A message due after the plan, then one due before it: one wake-up, for the second (the
    // notifications arrive in commit order). Had the first woken B, the second would wake it
    // again.
    let woken = wake_b.notified();
    a.insert_messages(vec![message("t1", "msg_later", T0 + 5_000)], T0)
        .await
        .unwrap();
    a.insert_messages(vec![message("t1", "msg_earlier", T0 + 10)], T0)
        .await
        .unwrap();
    tokio::time::timeout(Duration::from_secs(10), woken)
        .await
        .expect("work due before the plan wakes the scheduler");
    assert!(
        tokio::time::timeout(Duration::from_millis(300), wake_b.notified())
            .await
            .is_err(),
        "work due after the plan woke the scheduler"
    );
}

/// A database that does not take writes (a lock held on the messages table) fills the write
/// queue: beyond `max_queued` an accept fails at once with `Overloaded` and stores nothing;
/// the accepts that waited are all stored once the database moves again.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
#[ignore = "needs PostgreSQL: set QSTASH_TEST_DATABASE_URL (.ci/run starts one)"]
async fn accepts_are_refused_when_the_write_queue_is_full() {
    let url = database_url();
    let schema = Schema::new(&url);
    let store = Arc::new(
        PgStore::connect(
            &url,
            PgOptions {
                max_queued: 4,
                ..schema.options()
            },
        )
        .await
        .expect("connect the store"),
    );
    let mut locker = admin(&url).await;
    let lock = locker.transaction().await.unwrap();
    lock.batch_execute(&format!(
        "LOCK TABLE \"{}\".messages IN ACCESS EXCLUSIVE MODE",
        schema.name
    ))
    .await
    .unwrap();
    let mut waiting = Vec::new();
    for i in 0..4 {
        let store = Arc::clone(&store);
        waiting.push(tokio::spawn(async move {
            store
                .insert_messages(vec![message("t1", &format!("msg_{i}"), T0)], T0)
                .await
        }));
    }
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    assert!(
        waiting.iter().all(|t| !t.is_finished()),
        "the accepts wait for the lock"
    );
    match store
        .insert_messages(vec![message("t1", "msg_refused", T0)], T0)
        .await
    {
        Err(StoreError::Overloaded(m)) => assert!(m.contains("4 writes"), "{m}"),
        other => panic!("expected Overloaded, got {other:?}"),
    }
    lock.commit().await.unwrap();
    for task in waiting {
        assert_eq!(
            task.await.unwrap().expect("accepted"),
            vec![InsertOutcome::Inserted]
        );
    }
    assert!(
        store
            .get_message("t1", "msg_refused")
            .await
            .unwrap()
            .is_none()
    );
    store
        .insert_messages(vec![message("t1", "msg_later", T0)], T0)
        .await
        .expect("accepted once there is room");
}

/// Two stores (two processes) on one database fire every tick of a schedule exactly once, with
/// several firing tasks each.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
#[ignore = "needs PostgreSQL: set QSTASH_TEST_DATABASE_URL (.ci/run starts one)"]
async fn two_stores_fire_each_schedule_tick_once() {
    let url = database_url();
    let schema = Schema::new(&url);
    let a = Arc::new(PgStore::connect(&url, schema.options()).await.unwrap());
    let b = Arc::new(PgStore::connect(&url, schema.options()).await.unwrap());
    let s = conformance::schedule("t1", "scd_a");
    a.put_schedule(s.clone()).await.unwrap();
    for round in 0..10u64 {
        let at = T0 + (round + 1) * 60_000;
        let mut tasks = Vec::new();
        for k in 0..6 {
            let store = if k % 2 == 0 {
                Arc::clone(&a)
            } else {
                Arc::clone(&b)
            };
            let tick = conformance::tick_of(&s, at, at, &format!("msg_{round}_{k}"));
            tasks.push(tokio::spawn(async move {
                store.fire_schedule(tick, at).await.unwrap()
            }));
        }
        let mut fired = 0;
        for t in tasks {
            fired += usize::from(t.await.unwrap());
        }
        assert_eq!(fired, 1, "tick {round} fired once across both stores");
    }
    let mut stored = 0;
    for round in 0..10u64 {
        for k in 0..6 {
            let id = format!("msg_{round}_{k}");
            stored += usize::from(b.get_message("t1", &id).await.unwrap().is_some());
        }
    }
    assert_eq!(stored, 10, "one message per tick");
}
