//! Unit tests of the backend's private parts: encodings, query plans, migrating an old file.

use super::schema::MIGRATIONS;
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
        "SELECT rowid FROM messages WHERE state = 'PENDING' AND held = 0 AND due_at <= 5 \
             ORDER BY due_at, rowid LIMIT 10",
    );
    assert!(claim.contains("messages_due"), "{claim}");
    assert!(!claim.contains("TEMP B-TREE"), "{claim}");
    let next = plan(
        &conn,
        "SELECT due_at FROM messages WHERE state = 'PENDING' AND held = 0 ORDER BY due_at LIMIT 1",
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
             AND state = 'PENDING' AND held = 0 AND claim_open = 1 AND due_at > 5",
    );
    assert!(in_flight.contains("messages_flow"), "{in_flight}");
    assert!(in_flight.contains("due_at>?"), "{in_flight}");
    let waiting = plan(
        &conn,
        "SELECT COUNT(*) FROM messages WHERE tenant = 't' AND flow_key = 'k' \
             AND state = 'PENDING' AND held = 0 AND claim_open IN (0, 1) AND due_at <= 5",
    );
    assert!(waiting.contains("messages_flow"), "{waiting}");
    assert!(waiting.contains("due_at<?"), "{waiting}");
    // A key's wait list is read in order from its own index, never sorted.
    let head = plan(
        &conn,
        "SELECT rowid FROM messages WHERE tenant = 't' AND flow_key = 'k' \
             AND state = 'PENDING' AND held = 1 ORDER BY due_at, rowid LIMIT 3",
    );
    assert!(head.contains("messages_held"), "{head}");
    assert!(!head.contains("TEMP B-TREE"), "{head}");
    let wake = plan(
        &conn,
        "SELECT tenant, key FROM flow_keys WHERE wake_at <= 5 ORDER BY wake_at LIMIT 9",
    );
    assert!(wake.contains("flow_keys_wake"), "{wake}");
    assert!(!wake.contains("TEMP B-TREE"), "{wake}");
    let min_wake = plan(
        &conn,
        "SELECT min(wake_at) FROM flow_keys WHERE wake_at IS NOT NULL",
    );
    assert!(min_wake.contains("flow_keys_wake"), "{min_wake}");
    let same_due = plan(
        &conn,
        "SELECT rowid, due_at, tenant, flow_key FROM messages \
             WHERE state = 'PENDING' AND held = 0 AND due_at = 3 AND rowid > 9 \
             ORDER BY rowid LIMIT 10",
    );
    assert!(same_due.contains("due_at=? AND rowid>?"), "{same_due}");
    assert!(!same_due.contains("TEMP B-TREE"), "{same_due}");
    let later = plan(
        &conn,
        "SELECT rowid, due_at, tenant, flow_key FROM messages \
             WHERE state = 'PENDING' AND held = 0 AND due_at > 3 AND due_at <= 5 \
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
    assert_eq!(SCHEMA_VERSION, 7);
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

/// Behind a key's backlog of 10 000, the claim scan's range (the due index up to now) holds
/// only what may start: after one claim has sorted the backlog into the key's wait list, a
/// claim of one reads the one message it claims.
#[cfg(feature = "conformance")]
#[tokio::test]
async fn a_claim_behind_a_backlog_reads_what_it_claims() {
    use crate::conformance::{T0, keyed, message};
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("backlog.db");
    let store = SqliteStore::open(&path).unwrap();
    let batch: Vec<_> = (0..10_000)
        .map(|i| {
            keyed(
                message("t1", &format!("msg_{i}"), T0),
                "hot",
                Some(1),
                None,
                1000,
            )
        })
        .collect();
    store.insert_messages(batch, T0).await.unwrap();
    let now = T0 + 10;
    let first = store.claim_due(now, 1).await.unwrap();
    assert_eq!(first[0].message.message.id, "msg_0");
    let conn = Connection::open(&path).unwrap();
    let in_range = |conn: &Connection| -> i64 {
        conn.query_row(
            "SELECT count(*) FROM messages WHERE state = 'PENDING' AND held = 0 AND due_at <= ?1",
            [int(now).unwrap()],
            |row| row.get(0),
        )
        .unwrap()
    };
    assert_eq!(in_range(&conn), 9_999, "not sorted yet");
    assert!(store.claim_due(now, 1).await.unwrap().is_empty());
    assert_eq!(in_range(&conn), 0, "the backlog left the due index, once");
    store
        .insert_messages(vec![message("t1", "msg_plain", now)], now)
        .await
        .unwrap();
    assert_eq!(in_range(&conn), 1);
    let plain = store.claim_due(now, 1).await.unwrap();
    assert_eq!(plain[0].message.message.id, "msg_plain");
    assert_eq!(in_range(&conn), 0);
    let waiting: i64 = conn
        .query_row(
            "SELECT waiting FROM flow_keys WHERE tenant = 't1' AND key = 'hot'",
            [],
            |row| row.get(0),
        )
        .unwrap();
    assert_eq!(waiting, 9_999, "the key counts its wait list");
    store.close().await;
}
