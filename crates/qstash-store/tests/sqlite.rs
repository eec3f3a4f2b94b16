//! The conformance suite and SQLite-specific rules, on real files.

use std::sync::Arc;

use qstash_store::conformance::{self, T0, message};
use qstash_store::sqlite::{SCHEMA_VERSION, SqliteOptions, SqliteStore};
use qstash_store::{
    CancelOutcome, EventFilter, InsertOutcome, MessageState, SigningKeys, Store, StoreError,
    StoreErrorKind, Transition,
};
use tempfile::TempDir;

fn fresh() -> (SqliteStore, TempDir) {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = SqliteStore::open(dir.path().join("data").join("store.db")).expect("open");
    (store, dir)
}

// One test per conformance check, each on a fresh file: `conformance_suite::<check>`.
qstash_store::conformance_tests!(fresh_store = async { fresh() });

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn everything_survives_reopen() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("store.db");
    let store = SqliteStore::open(&path).expect("open");
    store
        .insert_messages(
            vec![message("t1", "msg_a", T0), message("t1", "msg_b", T0 + 5)],
            T0,
        )
        .await
        .expect("insert");
    let claimed = store.claim_due(T0, 1).await.expect("claim").remove(0);
    let mut failed = conformance::finish_of(&claimed, T0 + 1, Transition::Failed, "FAILED");
    failed.dlq = Some(qstash_store::NewDlq {
        dlq_id: "dlq_a".to_string(),
        created_at: T0 + 1,
        response: Default::default(),
        failure_callback: None,
    });
    store.finish(vec![failed]).await.expect("finish");
    let keys = SigningKeys {
        current: "sig_a".to_string(),
        next: "sig_b".to_string(),
    };
    store
        .signing_keys_or_init(keys.clone())
        .await
        .expect("keys");
    let first = conformance::linked(message("t1", "msg_run", T0 + 10), "wfr_a", true);
    store
        .create_run(conformance::new_run("t1", "wfr_a"), first.clone(), T0)
        .await
        .expect("create_run");
    store
        .end_run(
            "t1",
            "wfr_a",
            qstash_store::EndRun {
                state: qstash_store::RunState::Success,
                response: Some(b"42".to_vec()),
                reason: None,
            },
            T0 + 2,
        )
        .await
        .expect("end_run");
    let run_before = store.get_run("t1", "wfr_a").await.expect("get_run");
    let steps_before = store.run_steps("t1", "wfr_a", None).await.expect("steps");
    assert_eq!(steps_before.len(), 1);
    let events_before = store
        .list_events("t1", &EventFilter::default(), None, 100)
        .await
        .expect("events");
    // Not closed: dropped, as a crash would leave it (the commits are on disk already).
    drop(store);

    let store = SqliteStore::open(&path).expect("reopen");
    let a = store
        .get_message("t1", "msg_a")
        .await
        .expect("get")
        .expect("msg_a");
    assert_eq!(a.state, MessageState::Failed);
    let b = store
        .get_message("t1", "msg_b")
        .await
        .expect("get")
        .expect("msg_b");
    assert_eq!(b.state, MessageState::Pending);
    assert!(store.get_dlq("t1", "dlq_a").await.expect("dlq").is_some());
    let other = SigningKeys {
        current: "sig_x".to_string(),
        next: "sig_y".to_string(),
    };
    assert_eq!(store.signing_keys_or_init(other).await.expect("keys"), keys);
    let events_after = store
        .list_events("t1", &EventFilter::default(), None, 100)
        .await
        .expect("events");
    assert_eq!(events_after, events_before);
    assert_eq!(
        store.get_run("t1", "wfr_a").await.expect("get_run"),
        run_before
    );
    assert_eq!(
        store.run_steps("t1", "wfr_a", None).await.expect("steps"),
        steps_before
    );
    let run_message = store
        .get_message("t1", "msg_run")
        .await
        .expect("get")
        .expect("msg_run");
    assert_eq!(run_message.message, first);
    assert_eq!(run_message.state, MessageState::Cancelled);
    assert_eq!(store.next_due(T0).await.expect("next_due"), Some(T0 + 5));
    // Event ids keep increasing after a reopen.
    store
        .insert_messages(vec![message("t1", "msg_c", T0)], T0)
        .await
        .expect("insert");
    let newest = store
        .list_events("t1", &EventFilter::default(), None, 1)
        .await
        .expect("events");
    assert!(newest.items[0].id > events_before.items[0].id);
    store.close().await;
}

#[tokio::test]
async fn migrations_are_idempotent() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("store.db");
    for _ in 0..3 {
        let store = SqliteStore::open(&path).expect("open");
        store.ping().await.expect("ping");
        store.close().await;
    }
    let conn = rusqlite::Connection::open(&path).expect("sqlite");
    let version: i64 = conn
        .query_row("PRAGMA user_version", [], |row| row.get(0))
        .expect("user_version");
    assert_eq!(version, SCHEMA_VERSION);
}

#[tokio::test]
async fn a_newer_schema_is_refused() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("store.db");
    SqliteStore::open(&path).expect("open").close().await;
    let conn = rusqlite::Connection::open(&path).expect("sqlite");
    conn.execute_batch(&format!("PRAGMA user_version = {}", SCHEMA_VERSION + 1))
        .expect("set version");
    drop(conn);
    let err = SqliteStore::open(&path).expect_err("a newer schema is refused");
    assert!(err.kind() == StoreErrorKind::Corrupt, "{err:?}");
    assert!(err.to_string().contains("newer"), "{err}");
}

#[tokio::test]
async fn a_file_that_is_not_a_database_is_refused() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("store.db");
    std::fs::write(&path, vec![b'x'; 8192]).expect("write");
    let err = SqliteStore::open(&path).expect_err("not a database");
    assert!(err.kind() == StoreErrorKind::Corrupt, "{err:?}");
    let source = std::error::Error::source(&err).expect("the driver's error is the source");
    assert!(
        source.downcast_ref::<rusqlite::Error>().is_some(),
        "{source:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_command_does_not_affect_its_group() {
    let (store, _dir) = fresh();
    let store = Arc::new(store);
    store
        .insert_messages(vec![message("t1", "msg_taken", T0)], T0)
        .await
        .expect("insert");
    let before = store.stats();

    // Hold the writer so that every command below waits and then runs in one group.
    let hold = store.hold_writer_for_tests().await.expect("hold");
    let mut tasks = Vec::new();
    for i in 0..30 {
        let store = Arc::clone(&store);
        tasks.push(tokio::spawn(async move {
            let batch = if i % 3 == 0 {
                // Fails: its second message reuses an existing id.
                vec![
                    message("t1", &format!("msg_{i}"), T0),
                    message("t1", "msg_taken", T0),
                ]
            } else {
                vec![message("t1", &format!("msg_{i}"), T0)]
            };
            (i, store.insert_messages(batch, T0).await)
        }));
    }
    let cancel = {
        let store = Arc::clone(&store);
        tokio::spawn(async move { store.cancel_message("t1", "msg_taken", T0 + 1).await })
    };
    // Wait until every command is queued behind the hold.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while store.stats().queued < 31 {
        assert!(
            std::time::Instant::now() < deadline,
            "commands queued: {:?}",
            store.stats()
        );
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
    drop(hold);
    for task in tasks {
        let (i, out) = task.await.expect("task");
        let id = format!("msg_{i}");
        let stored = store.get_message("t1", &id).await.expect("get");
        if i % 3 == 0 {
            let err = out.expect_err("a batch with a taken id fails");
            assert!(err.kind() == StoreErrorKind::Invalid, "{err:?}");
            assert!(
                stored.is_none(),
                "{id}: nothing of a failed batch is stored"
            );
        } else {
            assert_eq!(out.expect("insert"), [InsertOutcome::Inserted]);
            assert!(stored.is_some(), "{id} stored");
        }
    }
    assert_eq!(
        cancel.await.expect("task").expect("cancel"),
        CancelOutcome::Cancelled
    );
    let after = store.stats();
    assert_eq!(
        after.commands - before.commands,
        32,
        "hold + 30 inserts + cancel"
    );
    assert!(
        after.commits - before.commits == 2,
        "the queued commands shared a commit: {before:?} → {after:?}"
    );
    // Only the successful batches left events.
    let created = store
        .list_events(
            "t1",
            &EventFilter {
                states: vec!["CREATED".to_string()],
                ..EventFilter::default()
            },
            None,
            100,
        )
        .await
        .expect("events");
    assert_eq!(created.items.len(), 1 + 20);
}

#[tokio::test]
async fn options_and_close() {
    let dir = tempfile::tempdir().expect("temp dir");
    let options = SqliteOptions::default()
        .readers(1)
        .reader_cache_kib(512)
        .writer_cache_kib(1024)
        .max_group(2);
    let store = SqliteStore::open_with(dir.path().join("a").join("b.db"), options).expect("open");
    assert!(store.path().ends_with("a/b.db"));
    let many: Vec<_> = (0..5)
        .map(|i| store.insert_messages(vec![message("t1", &format!("msg_{i}"), T0)], T0))
        .collect();
    for f in many {
        f.await.expect("insert");
    }
    let page = store
        .list_events("t1", &EventFilter::default(), None, 0)
        .await
        .expect("events");
    assert_eq!(page.items.len(), 1, "a count of 0 reads as 1");
    assert!(page.next.is_some());
    for count in [usize::MAX, i64::MAX as usize] {
        let page = store
            .list_events("t1", &EventFilter::default(), None, count)
            .await
            .expect("events");
        assert_eq!((page.items.len(), page.next), (5, None), "a huge count");
        let dlq = store
            .list_dlq("t1", &Default::default(), Some(u64::MAX), count)
            .await
            .expect("dlq");
        assert!(dlq.items.is_empty());
    }
    store.ping().await.expect("ping");
    store.close().await;
}

/// Writes waiting for the writer are bounded: beyond the bound an accept is refused at once
/// with `Overloaded` (nothing stored), other writes wait for room, and every accept that was
/// answered `Ok` is stored.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn accepts_are_refused_when_the_write_queue_is_full() {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = Arc::new(
        SqliteStore::open_with(
            dir.path().join("store.db"),
            SqliteOptions::default().max_queued(4),
        )
        .expect("open"),
    );
    let hold = store.hold_writer_for_tests().await.expect("hold");
    let mut waiting = Vec::new();
    for i in 0..4 {
        let store = Arc::clone(&store);
        waiting.push(tokio::spawn(async move {
            store
                .insert_messages(vec![message("t1", &format!("msg_{i}"), T0)], T0)
                .await
        }));
    }
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while store.stats().queued < 4 {
        assert!(std::time::Instant::now() < deadline, "{:?}", store.stats());
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
    // The queue is full: an accept is refused at once, before anything is done.
    for accept in [
        store
            .insert_messages(vec![message("t1", "msg_refused", T0)], T0)
            .await
            .map(|_| ()),
        store
            .create_run(
                conformance::new_run("t1", "run_refused"),
                conformance::linked(message("t1", "msg_run", T0), "run_refused", true),
                T0,
            )
            .await
            .map(|_| ()),
    ] {
        match accept {
            Err(StoreError::Overloaded(m)) => assert!(m.contains("4 writes"), "{m}"),
            other => panic!("expected Overloaded, got {other:?}"),
        }
    }
    // Another write waits for room instead.
    let claim = {
        let store = Arc::clone(&store);
        tokio::spawn(async move { store.claim_due(T0, 10).await })
    };
    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    assert!(
        !claim.is_finished(),
        "a claim waits for room, it is not refused"
    );

    drop(hold);
    for task in waiting {
        assert_eq!(
            task.await.expect("task").expect("accepted"),
            vec![InsertOutcome::Inserted]
        );
    }
    let claimed = claim.await.expect("task").expect("claim");
    assert_eq!(
        claimed.len(),
        4,
        "the four accepted messages, and nothing else"
    );
    assert!(
        store
            .get_message("t1", "msg_refused")
            .await
            .expect("get")
            .is_none()
    );
    assert!(
        store
            .get_run("t1", "run_refused")
            .await
            .expect("get")
            .is_none()
    );
    // Room again: accepts go through.
    store
        .insert_messages(vec![message("t1", "msg_later", T0)], T0)
        .await
        .expect("accepted once there is room");
}

/// Under steady load with retention (publish, deliver, purge, again and again), the file stops
/// growing: SQLite reuses the pages that removed rows freed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_file_levels_off_with_retention() {
    const ROUNDS: usize = 10;
    const PER_ROUND: usize = 2_000;
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("store.db");
    let mut sizes = Vec::new();
    let mut now = T0;
    for round in 0..ROUNDS {
        let store = SqliteStore::open(&path).expect("open");
        for chunk in 0..PER_ROUND / 500 {
            let batch = (0..500)
                .map(|i| {
                    let mut m = message("t1", &format!("msg_{round}_{chunk}_{i}"), now);
                    m.body = vec![b'x'; 512];
                    m
                })
                .collect();
            store.insert_messages(batch, now).await.expect("insert");
        }
        now += 1_000;
        let mut delivered = 0;
        loop {
            let claimed = store.claim_due(now, 512).await.expect("claim");
            if claimed.is_empty() {
                break;
            }
            let finishes = claimed
                .iter()
                .map(|c| conformance::finish_of(c, now, Transition::Delivered, "DELIVERED"))
                .collect::<Vec<_>>();
            delivered += finishes.len();
            store.finish(finishes).await.expect("finish");
        }
        assert_eq!(delivered, PER_ROUND);
        // Retention of one second: everything delivered in earlier rounds goes.
        now += 1_000;
        let cutoffs = qstash_store::PurgeCutoffs {
            finished_before: now - 1_000,
            dlq_before: now - 1_000,
            now,
        };
        loop {
            let counts = store.purge(cutoffs, 500).await.expect("purge");
            if !counts.may_have_more(500) {
                break;
            }
        }
        let pending = store
            .list_events("t1", &EventFilter::default(), None, 1)
            .await
            .expect("events");
        assert!(
            !pending.items.is_empty(),
            "the newest round's events are kept"
        );
        // Closing checkpoints the WAL into the file; a checkpoint that met a busy reader at
        // that moment is finished here, so that the size is the whole database's.
        store.close().await;
        let conn = rusqlite::Connection::open(&path).expect("sqlite");
        conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))
            .expect("checkpoint");
        drop(conn);
        sizes.push(std::fs::metadata(&path).expect("size").len());
    }
    eprintln!("file size after each round (bytes): {sizes:?}");
    // Each round holds 2 000 messages of 512 bytes with 3 events each: well over 1 MB.
    assert!(sizes[0] > 1_000_000, "{sizes:?}");
    let (third, last) = (sizes[2], sizes[ROUNDS - 1]);
    assert!(
        last as f64 <= third as f64 * 1.1,
        "the file kept growing: {sizes:?}"
    );
}
