//! Overload and limits (SERVER.md §11.4–§11.5): a full write queue answers 503 with
//! `Retry-After` and loses nothing that got a 2xx; slow or oversized request heads are cut off;
//! a dead engine shows in `/health`; finished work goes once older than the retention.

mod common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use common::*;
use qstash_server::{HttpLimits, Retention, RunningServer, Server};
use qstash_store::sqlite::{SqliteOptions, SqliteStore};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

async fn start_on(
    store: Arc<SqliteStore>,
    http: HttpLimits,
    retention: Retention,
) -> RunningServer {
    Server::builder(store)
        .token(TOKEN)
        .unwrap()
        .signing_keys(CURRENT_KEY, NEXT_KEY)
        .http_limits(http)
        .retention(retention)
        .shutdown_grace(Duration::from_secs(2))
        .start()
        .await
        .unwrap()
}

/// The store's writer is held (a slow disk), so that accepts pile up: beyond the queue's
/// bound publishes and triggers answer 503 with `Retry-After: 1` and a JSON error; once the
/// store moves again, every publish that got a 2xx is stored, and only those.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_full_write_queue_answers_503_and_loses_nothing_accepted() {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(
        SqliteStore::open_with(
            dir.path().join("qstash.db"),
            SqliteOptions::default().max_queued(8),
        )
        .unwrap(),
    );
    let server = start_on(store.clone(), HttpLimits::default(), Retention::default()).await;
    let url = server.url();
    let http = http_client();
    let hold = store.hold_writer_for_tests().await.unwrap();

    let mut publishes = Vec::new();
    for i in 0..40 {
        let (http, url) = (http.clone(), url.clone());
        publishes.push(tokio::spawn(async move {
            let resp = http
                .post(format!("{url}/v2/publish/https://example.com/{i}"))
                .bearer_auth(TOKEN)
                .header("Upstash-Delay", "1d")
                .body(format!("message {i}"))
                .send()
                .await
                .unwrap();
            let status = resp.status().as_u16();
            let retry_after = resp
                .headers()
                .get("retry-after")
                .map(|v| v.to_str().unwrap().to_owned());
            let body: serde_json::Value = resp.json().await.unwrap();
            (status, retry_after, body)
        }));
    }
    // The refused ones answer while the writer is still held.
    let deadline = Instant::now() + Duration::from_secs(20);
    while publishes.iter().filter(|p| p.is_finished()).count() < 32 {
        assert!(
            Instant::now() < deadline,
            "the refused publishes did not answer"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let trigger = http
        .post(format!("{url}/v2/trigger/https://example.com/wf"))
        .bearer_auth(TOKEN)
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(trigger.status().as_u16(), 503);
    assert_eq!(trigger.headers()["retry-after"], "1");
    drop(hold);

    let mut accepted = Vec::new();
    let mut refused = 0;
    for p in publishes {
        let (status, retry_after, body) = p.await.unwrap();
        match status {
            201 | 200 => accepted.push(body["messageId"].as_str().unwrap().to_owned()),
            503 => {
                refused += 1;
                assert_eq!(retry_after.as_deref(), Some("1"));
                let error = body["error"].as_str().unwrap();
                assert!(error.contains("overloaded"), "{error}");
            }
            other => panic!("unexpected status {other}: {body}"),
        }
    }
    assert!(refused >= 32, "{refused} refused");
    assert!(!accepted.is_empty(), "the queued publishes were accepted");
    for id in &accepted {
        let resp = http
            .get(format!("{url}/v2/messages/{id}"))
            .bearer_auth(TOKEN)
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status().as_u16(), 200, "accepted {id} is stored");
    }
    // Only the accepted ones: one CREATED event each.
    let events: serde_json::Value = http
        .get(format!("{url}/v2/events?state=CREATED&count=1000"))
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(events["events"].as_array().unwrap().len(), accepted.len());
    server.shutdown().await;
}

/// A client that sends half a request head is disconnected after the header read timeout; a
/// body that stalls is refused; a head larger than the bound is answered 431.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_and_oversized_heads_are_cut_off() {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(SqliteStore::open(dir.path().join("qstash.db")).unwrap());
    let limits = HttpLimits::default()
        .header_read_timeout(Duration::from_secs(1))
        .body_read_timeout(Duration::from_secs(1))
        .max_header_bytes(16 * 1024);
    let server = start_on(store, limits, Retention::default()).await;

    let mut slow = tokio::net::TcpStream::connect(server.local_addr())
        .await
        .unwrap();
    slow.write_all(b"POST /v2/publish/https://example.com HTTP/1.1\r\nHost: x\r\n")
        .await
        .unwrap();
    let started = Instant::now();
    let mut buf = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(10), slow.read_to_end(&mut buf)).await;
    assert!(read.is_ok(), "the connection is still open after 10 s");
    let waited = started.elapsed();
    assert!(
        waited >= Duration::from_millis(900),
        "closed after {waited:?}"
    );

    // A body that stalls: refused, nothing accepted.
    let mut stalled = tokio::net::TcpStream::connect(server.local_addr())
        .await
        .unwrap();
    stalled
        .write_all(
            format!(
                "POST /v2/publish/https://example.com/stalled HTTP/1.1\r\nHost: x\r\n\
                 Authorization: Bearer {TOKEN}\r\nUpstash-Delay: 1d\r\n\
                 Content-Length: 100\r\n\r\nhalf"
            )
            .as_bytes(),
        )
        .await
        .unwrap();
    let mut answer = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(10), stalled.read_to_end(&mut answer)).await;
    let answer = String::from_utf8_lossy(&answer);
    assert!(answer.starts_with("HTTP/1.1 4"), "{answer}");

    // An oversized head.
    let mut big = tokio::net::TcpStream::connect(server.local_addr())
        .await
        .unwrap();
    let head = format!(
        "GET /health HTTP/1.1\r\nHost: x\r\nX-Big: {}\r\n\r\n",
        "a".repeat(64 * 1024)
    );
    let _ = big.write_all(head.as_bytes()).await;
    let mut answer = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(10), big.read_to_end(&mut answer)).await;
    let answer = String::from_utf8_lossy(&answer);
    assert!(answer.starts_with("HTTP/1.1 431"), "{answer}");

    // Other clients are served meanwhile and after.
    let resp = http_client()
        .get(format!("{}/health", server.url()))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 200);
    server.shutdown().await;
}

/// When the engine's scheduler dies, `/health` answers 503 with the reason and
/// `engine_stopped` resolves.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dead_engine_shows_in_health() {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(SqliteStore::open(dir.path().join("qstash.db")).unwrap());
    let server = start_on(store, HttpLimits::default(), Retention::default()).await;
    let http = http_client();
    let health = format!("{}/health", server.url());
    assert_eq!(
        http.get(&health).send().await.unwrap().status().as_u16(),
        200
    );

    server.stop_engine_for_tests();
    let reason = tokio::time::timeout(Duration::from_secs(10), server.engine_stopped())
        .await
        .expect("engine_stopped resolves");
    assert!(reason.contains("cancelled"), "{reason}");
    let resp = http.get(&health).send().await.unwrap();
    assert_eq!(resp.status().as_u16(), 503);
    let body: serde_json::Value = resp.json().await.unwrap();
    let error = body["error"].as_str().unwrap();
    assert!(error.contains("scheduler is not running"), "{error}");
    server.shutdown().await;
}

/// With a short retention, delivered messages, their events and finished runs go (404), and
/// recent ones stay.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn old_finished_work_goes_recent_work_stays() {
    let sink = Sink::start().await;
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(SqliteStore::open(dir.path().join("qstash.db")).unwrap());
    let retention = Retention::default()
        .finished(Duration::from_secs(2))
        .interval(Duration::from_millis(200));
    let server = start_on(store, HttpLimits::default(), retention).await;
    let t = TestServer {
        url: server.url(),
        server,
        http: http_client(),
        dir,
    };
    let old = t.publish(&format!("{}/ok-old", sink.url), &[], "old").await;
    t.wait_event(&old, "DELIVERED", Duration::from_secs(10))
        .await;
    // A run that ends at once (cancelled).
    let trigger: serde_json::Value = t
        .post(&format!("/v2/trigger/{}/wf", sink.url))
        .header("Upstash-Delay", "1d")
        .body("{}")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let run_id = trigger["workflowRunId"].as_str().unwrap().to_owned();
    let cancelled = t
        .delete(&format!("/v2/workflows/runs/{run_id}"))
        .send()
        .await
        .unwrap();
    assert!(cancelled.status().is_success());

    // Old enough after 2 s; the sweep runs every 200 ms.
    tokio::time::sleep(Duration::from_millis(2_500)).await;
    let recent = t.publish(&format!("{}/ok-new", sink.url), &[], "new").await;
    t.wait_event(&recent, "DELIVERED", Duration::from_secs(10))
        .await;

    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let status = t
            .get(&format!("/v2/messages/{old}"))
            .send()
            .await
            .unwrap()
            .status()
            .as_u16();
        if status == 404 {
            break;
        }
        assert!(Instant::now() < deadline, "the old message is still there");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let events: serde_json::Value = t
        .get(&format!("/v2/events?messageId={old}"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(events["events"].as_array().unwrap().is_empty(), "{events}");
    let run = t
        .get(&format!("/v2/workflows/runs/{run_id}"))
        .send()
        .await
        .unwrap();
    assert_eq!(run.status().as_u16(), 404, "the cancelled run is gone");
    // The recent one stays, with its events.
    let resp = t
        .get(&format!("/v2/messages/{recent}"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 200);
    t.wait_event(&recent, "CREATED", Duration::from_secs(1))
        .await;
    t.server.shutdown().await;
}
