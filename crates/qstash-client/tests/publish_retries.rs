//! When a publish (and the other calls that create something) is sent again: never after a
//! failure that may have reached the server, unless the server deduplicates it.

mod server;

use std::time::Duration;

use qstash_client::{Client, ErrorKind, PublishBatch, PublishRequest, RetryPolicy, WorkflowUrl};
use server::{Reply, TestServer};

const OK_PUBLISH: &str = r#"{"messageId":"msg_1"}"#;

fn client(url: String) -> Client {
    Client::builder()
        .token("retry-test-token")
        .base_url(url)
        .timeout(Some(Duration::from_secs(10)))
        .retry_policy(
            RetryPolicy::new(3)
                .with_initial_backoff(Duration::from_millis(1))
                .with_jitter(false),
        )
        .build()
        .unwrap()
}

fn message(dedup: Option<&str>) -> PublishRequest {
    let b = PublishRequest::builder(WorkflowUrl::new("https://example.com/hook").unwrap());
    match dedup {
        Some(id) => b.deduplication_id(id.try_into().unwrap()),
        None => b,
    }
    .build()
    .unwrap()
}

#[tokio::test]
async fn a_publish_without_deduplication_is_not_sent_twice_after_a_5xx() {
    for status in [502, 503, 504] {
        let server =
            TestServer::start([Reply::error(status, "busy")]).always(Reply::json(OK_PUBLISH));
        let err = client(server.url())
            .publish(message(None))
            .await
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Server);
        assert_eq!(err.attempts(), 1, "{status}");
        assert_eq!(server.recorded().len(), 1);
    }
}

#[tokio::test]
async fn a_publish_without_deduplication_is_not_sent_twice_after_a_timeout() {
    let server = TestServer::start([Reply::json(OK_PUBLISH).delayed(Duration::from_secs(5))])
        .always(Reply::json(OK_PUBLISH));
    let client = Client::builder()
        .token("retry-test-token")
        .base_url(server.url())
        .timeout(Some(Duration::from_millis(200)))
        .retry_policy(RetryPolicy::new(3).with_initial_backoff(Duration::from_millis(1)))
        .build()
        .unwrap();
    let err = client.publish(message(None)).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Timeout);
    assert_eq!(err.attempts(), 1);
    assert_eq!(server.recorded().len(), 1);
}

#[tokio::test]
async fn a_publish_with_deduplication_is_retried_like_any_call() {
    let server = TestServer::start([Reply::error(503, "busy"), Reply::error(502, "busy")])
        .always(Reply::json(OK_PUBLISH));
    let sent = client(server.url())
        .publish(message(Some("order-1")))
        .await
        .unwrap();
    assert_eq!(sent.message_id, "msg_1");
    let recorded = server.recorded();
    assert_eq!(recorded.len(), 3);
    assert!(
        recorded
            .iter()
            .all(|r| r.header("upstash-deduplication-id") == "order-1")
    );

    // Content-based deduplication counts too.
    let server = TestServer::start([Reply::error(503, "busy")]).always(Reply::json(OK_PUBLISH));
    client(server.url())
        .publish_url("https://example.com/hook")
        .body("x")
        .content_based_deduplication(true)
        .await
        .unwrap();
    assert_eq!(server.recorded().len(), 2);
}

#[tokio::test]
async fn a_rate_limited_publish_is_retried() {
    let server = TestServer::start([Reply::error(429, "slow down").header("retry-after", "0")])
        .always(Reply::json(OK_PUBLISH));
    client(server.url()).publish(message(None)).await.unwrap();
    assert_eq!(server.recorded().len(), 2);
}

#[tokio::test]
async fn a_batch_is_retried_only_when_every_entry_is_deduplicated() {
    let batch = |ids: [Option<&str>; 2]| PublishBatch::new(ids.map(message).to_vec()).unwrap();
    let entries = format!("[{OK_PUBLISH},{OK_PUBLISH}]");
    let server = TestServer::start([Reply::error(503, "busy")]).always(Reply::json(&entries));
    let err = client(server.url())
        .publish_batch(batch([Some("a"), None]))
        .await
        .unwrap_err();
    assert_eq!(err.attempts(), 1);
    let answers = client(server.url())
        .publish_batch(batch([Some("a"), Some("b")]))
        .await
        .unwrap();
    assert_eq!(answers.len(), 2);
}

#[tokio::test]
async fn dlq_retries_and_key_rotations_are_not_sent_twice() {
    let server = TestServer::start([]).always(Reply::error(503, "busy"));
    let c = client(server.url());
    assert_eq!(c.retry_dlq("dlq_1").await.unwrap_err().attempts(), 1);
    assert_eq!(c.rotate_signing_keys().await.unwrap_err().attempts(), 1);
    // Reads are retried.
    assert_eq!(c.signing_keys().await.unwrap_err().attempts(), 3);
    assert_eq!(c.message("msg_1").await.unwrap_err().attempts(), 3);
    let targets: Vec<String> = server.recorded().into_iter().map(|r| r.target).collect();
    assert_eq!(
        targets[..3],
        ["/v2/dlq/retry/dlq_1", "/v2/keys/rotate", "/v2/keys"]
    );
}

#[tokio::test]
async fn a_publish_that_never_connected_is_retried() {
    // A port that nothing listens on: the request cannot have been received.
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let err = client(format!("http://127.0.0.1:{port}"))
        .publish(message(None))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Transport, "{err:?}");
    assert_eq!(err.attempts(), 3);
}
