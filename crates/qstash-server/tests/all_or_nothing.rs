//! Calls that write several things answer an error only when nothing of them was stored
//! (SERVER.md §11.6): a `/v2/batch` whose last entry fails on commit leaves nothing behind, on
//! SQLite and on PostgreSQL.

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use common::{Sink, TOKEN, http_client};
use qstash_server::Server;
use qstash_store::Store;
use qstash_store::sqlite::SqliteStore;
use serde_json::{Value, json};

async fn a_batch_failing_on_commit_leaves_nothing(store: Arc<dyn Store>) {
    let sink = Sink::start().await;
    let server = Server::builder(store)
        .token(TOKEN)
        .unwrap()
        .signing_keys(common::CURRENT_KEY, common::NEXT_KEY)
        .shutdown_grace(Duration::from_secs(1))
        .start()
        .await
        .unwrap();
    let http = http_client();
    let url = server.url();
    let post = |path: &str| http.post(format!("{url}{path}")).bearer_auth(TOKEN);
    // A message that takes the deduplication id "taken".
    let resp = post(&format!("/v2/publish/{}/ok-first", sink.url))
        .header("Upstash-Deduplication-Id", "taken")
        .header("Upstash-Delay", "1h")
        .body("first")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 201);
    let first: Value = resp.json().await.unwrap();
    let first = first["messageId"].as_str().unwrap().to_owned();

    // The last entry starts a run whose first message is a duplicate: only the commit finds
    // it, after the first entry was written in the same transaction.
    let batch = |dedup: &str, run_id: &str| {
        json!([
            {"destination": format!("{}/ok-a", sink.url), "headers": {"Upstash-Delay": "1h"}, "body": "a"},
            {"destination": format!("{}/wf", sink.url), "headers": {
                "Upstash-Workflow-RunId": run_id,
                "Upstash-Workflow-Init": "true",
                "Upstash-Deduplication-Id": dedup,
                "Upstash-Delay": "1h",
            }, "body": "{}"},
        ])
    };
    let resp = post("/v2/batch")
        .json(&batch("taken", "wfr_batch"))
        .send()
        .await
        .unwrap();
    let status = resp.status();
    let text = resp.text().await.unwrap();
    assert_eq!(status, 400, "{text}");
    assert!(text.contains("duplicate"), "{text}");
    let get = |path: String| {
        let http = http.clone();
        let url = url.clone();
        async move {
            http.get(format!("{url}{path}"))
                .bearer_auth(TOKEN)
                .send()
                .await
                .unwrap()
        }
    };
    let events: Value = get("/v2/events".into()).await.json().await.unwrap();
    let events = events["events"].as_array().unwrap();
    assert!(
        !events.is_empty() && events.iter().all(|e| e["messageId"] == first.as_str()),
        "only the first message has events: {events:?}"
    );
    let run = get("/v2/workflows/runs/wfr_batch".into()).await;
    assert_eq!(run.status(), 404, "the run was not created");

    // The same batch with a free id is stored whole.
    let resp = post("/v2/batch")
        .json(&batch("free", "wfr_batch"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 201);
    let answers: Value = resp.json().await.unwrap();
    assert_eq!(answers.as_array().unwrap().len(), 2, "{answers}");
    let events: Value = get("/v2/events?state=CREATED".into())
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(events["events"].as_array().unwrap().len(), 3, "{events}");
    let run = get("/v2/workflows/runs/wfr_batch".into()).await;
    assert_eq!(run.status(), 200, "the run was created");
    server.shutdown().await;
}

/// `/v2/batch/trigger` checks every entry before it stores any: a bad last entry leaves the
/// first entry's run uncreated.
#[tokio::test]
async fn a_trigger_batch_with_a_bad_last_entry_starts_no_run() {
    let sink = Sink::start().await;
    let s = common::start().await;
    let entry = |run: &str, retries: &str| {
        json!({
            "destination": format!("{}/wf", sink.url),
            "headers": {
                "Content-Type": "application/json",
                "Upstash-Workflow-RunId": run,
                "Upstash-Retries": retries,
                "Upstash-Delay": "1h",
            },
            "body": "{}",
        })
    };
    let resp = s
        .post("/v2/batch/trigger")
        .json(&json!([entry("wfr_t0", "1"), entry("wfr_t1", "99")]))
        .send()
        .await
        .unwrap();
    let status = resp.status();
    let text = resp.text().await.unwrap();
    assert_eq!(status, 400, "{text}");
    assert!(text.contains("entry 1"), "{text}");
    for run in ["wfr_t0", "wfr_t1"] {
        let resp = s
            .get(&format!("/v2/workflows/runs/{run}"))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 404, "{run} was not created");
    }
    let resp = s
        .post("/v2/batch/trigger")
        .json(&json!([entry("wfr_t0", "1"), entry("wfr_t1", "2")]))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    for run in ["wfr_t0", "wfr_t1"] {
        let resp = s
            .get(&format!("/v2/workflows/runs/{run}"))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 200, "{run} was created");
    }
    s.server.shutdown().await;
}

/// Bulk cancel ends every matching started run in one call and counts them; unknown and
/// another tenant's runs are left out.
#[tokio::test]
async fn bulk_cancel_ends_the_matching_runs() {
    let sink = Sink::start().await;
    let s = common::start().await;
    let entries: Vec<Value> = ["wfr_c0", "wfr_c1", "wfr_c2"]
        .iter()
        .map(|run| {
            json!({
                "destination": format!("{}/wf", sink.url),
                "headers": {"Upstash-Workflow-RunId": run, "Upstash-Delay": "1h"},
                "body": "{}",
            })
        })
        .collect();
    let resp = s
        .post("/v2/batch/trigger")
        .json(&entries)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let other = s
        .http
        .delete(format!(
            "{}/v2/workflows/runs?workflowRunIds=wfr_c0,wfr_c1",
            s.url
        ))
        .bearer_auth(common::OTHER_TOKEN)
        .send()
        .await
        .unwrap();
    let v: Value = other.json().await.unwrap();
    assert_eq!(v["cancelled"], 0, "another tenant cancels nothing: {v}");
    let resp = s
        .delete("/v2/workflows/runs?workflowRunIds=wfr_c0,wfr_nope,wfr_c2")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let v: Value = resp.json().await.unwrap();
    assert_eq!(v["cancelled"], 2, "{v}");
    for (run, status) in [("wfr_c0", 404), ("wfr_c1", 200), ("wfr_c2", 404)] {
        let resp = s
            .get(&format!("/v2/workflows/runs/{run}"))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), status, "{run}");
    }
    s.server.shutdown().await;
}

#[tokio::test]
async fn a_batch_failing_on_commit_leaves_nothing_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(dir.path().join("qstash.db")).unwrap();
    a_batch_failing_on_commit_leaves_nothing(Arc::new(store)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs PostgreSQL: set QSTASH_TEST_DATABASE_URL (.ci/run starts one)"]
async fn a_batch_failing_on_commit_leaves_nothing_on_postgres() {
    let url = database_url();
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    let schema = format!(
        "qaon_{}_{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::SeqCst)
    );
    let options = qstash_store::postgres::PgOptions {
        schema: Some(schema.clone()),
        pool_size: 4,
        ..Default::default()
    };
    let store = qstash_store::postgres::PgStore::connect(&url, options)
        .await
        .unwrap();
    a_batch_failing_on_commit_leaves_nothing(Arc::new(store)).await;
    let (client, connection) = tokio_postgres::connect(&url, tokio_postgres::NoTls)
        .await
        .unwrap();
    tokio::spawn(connection);
    client
        .batch_execute(&format!("DROP SCHEMA IF EXISTS \"{schema}\" CASCADE"))
        .await
        .unwrap();
}

/// The test database's URL; a PostgreSQL test run without one fails saying so.
fn database_url() -> String {
    match std::env::var("QSTASH_TEST_DATABASE_URL") {
        Ok(url) if !url.trim().is_empty() => url,
        _ => panic!(
            "QSTASH_TEST_DATABASE_URL is not set: the PostgreSQL tests need a database (start \
             one with `.ci/pg start DIR` and export the URL it prints)"
        ),
    }
}
