//! The client against a broken or hostile server on loopback: a body that never ends, a
//! declared length far over the limit, and a server that trickles one byte at a time. Every
//! call must end soon, having read a bounded amount, with an error that says why.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use qstash_client::{Client, ErrorKind, RetryPolicy};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::{TcpListener, TcpStream};

/// What the server does after reading a request's head.
#[derive(Clone, Copy)]
enum Behaviour {
    /// `status`, chunked, then chunks of JSON whitespace until the client goes away.
    Endless { status: u16 },
    /// `200` declaring a 10 GB body, then nothing.
    HugeLength,
    /// `200` with a body of 1000 bytes, one byte every `every`.
    Trickle { every: Duration },
}

/// Starts the server; returns its URL and the count of body bytes it wrote.
async fn serve(behaviour: Behaviour) -> (String, Arc<AtomicU64>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let written = Arc::new(AtomicU64::new(0));
    let count = written.clone();
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                return;
            };
            tokio::spawn(answer(stream, behaviour, count.clone()));
        }
    });
    (url, written)
}

async fn answer(mut stream: TcpStream, behaviour: Behaviour, written: Arc<AtomicU64>) {
    // Read the request up to the end of its head; the bodies of these tests are small and
    // follow in the same reads, which is all that is needed here.
    let mut head = Vec::new();
    let mut buf = [0u8; 4096];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") {
        match stream.read(&mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(n) => head.extend_from_slice(&buf[..n]),
        }
    }
    match behaviour {
        Behaviour::Endless { status } => {
            let head = format!(
                "HTTP/1.1 {status} X\r\ncontent-type: application/json\r\ntransfer-encoding: chunked\r\n\r\n"
            );
            if stream.write_all(head.as_bytes()).await.is_err() {
                return;
            }
            let chunk = [b' '; 64 * 1024];
            let framed = [format!("{:x}\r\n", chunk.len()).as_bytes(), &chunk, b"\r\n"].concat();
            while stream.write_all(&framed).await.is_ok() {
                written.fetch_add(chunk.len() as u64, Ordering::Relaxed);
            }
        }
        Behaviour::HugeLength => {
            let head = "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 10000000000\r\n\r\n";
            let _ = stream.write_all(head.as_bytes()).await;
            // Hold the connection open without sending the body.
            let _ = stream.read(&mut buf).await;
        }
        Behaviour::Trickle { every } => {
            let head =
                "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 1000\r\n\r\n";
            if stream.write_all(head.as_bytes()).await.is_err() {
                return;
            }
            for _ in 0..1000 {
                tokio::time::sleep(every).await;
                if stream.write_all(b" ").await.is_err() {
                    return;
                }
                written.fetch_add(1, Ordering::Relaxed);
            }
        }
    }
}

/// A trigger through `client`, which must fail; the error and how long the call took.
async fn failed_trigger(client: &Client) -> (qstash_client::Error, Duration) {
    let started = Instant::now();
    let err = client
        .trigger_url("https://example.com/wf")
        .send()
        .await
        .unwrap_err();
    (err, started.elapsed())
}

/// Starts a server that trickles one byte a second, and a trigger through it with the given
/// per-attempt timeout and policy under a 300 ms deadline.
async fn trickled(timeout: Duration, policy: RetryPolicy) -> (qstash_client::Error, Duration, u64) {
    let (url, written) = serve(Behaviour::Trickle {
        every: Duration::from_secs(1),
    })
    .await;
    let client = client(&url)
        .timeout(Some(timeout))
        .retry_policy(
            policy
                .with_initial_backoff(Duration::ZERO)
                .with_jitter(false),
        )
        .total_timeout(Some(Duration::from_millis(300)))
        .build()
        .unwrap();
    let (err, took) = failed_trigger(&client).await;
    (err, took, written.load(Ordering::Relaxed))
}

fn client(url: &str) -> qstash_client::ClientBuilder {
    Client::builder()
        .token("hostile-test-token")
        .base_url(url)
        .retry_policy(RetryPolicy::none())
}

#[tokio::test]
async fn an_endless_body_is_cut_at_the_limit() {
    let (url, written) = serve(Behaviour::Endless { status: 200 }).await;
    let client = client(&url).max_response_size(1024 * 1024).build().unwrap();
    let (err, took) = failed_trigger(&client).await;
    assert_eq!(err.kind(), ErrorKind::UnexpectedResponse, "{err}");
    assert_eq!(err.status().map(|s| s.as_u16()), Some(200));
    assert!(
        err.to_string()
            .contains("longer than the client's limit of 1048576 bytes"),
        "{err}"
    );
    assert!(took < Duration::from_secs(10), "{took:?}");
    // The server could write the limit plus what the sockets buffer, no more.
    let sent = written.load(Ordering::Relaxed);
    assert!(sent < 64 * 1024 * 1024, "the server wrote {sent} bytes");
}

#[tokio::test]
async fn an_endless_error_body_still_gives_the_status() {
    let (url, _) = serve(Behaviour::Endless { status: 503 }).await;
    let client = client(&url).build().unwrap();
    let (err, _) = failed_trigger(&client).await;
    assert_eq!(err.kind(), ErrorKind::Server, "{err}");
    assert_eq!(err.status().map(|s| s.as_u16()), Some(503));
    // Only whitespace came: no message.
    assert_eq!(err.message(), None);
}

#[tokio::test]
async fn a_declared_length_over_the_limit_fails_at_once() {
    let (url, _) = serve(Behaviour::HugeLength).await;
    let client = client(&url).build().unwrap();
    let (err, _) = failed_trigger(&client).await;
    assert_eq!(err.kind(), ErrorKind::UnexpectedResponse, "{err}");
    let limit = qstash_client::DEFAULT_MAX_RESPONSE_SIZE;
    assert!(
        err.to_string().contains(&format!("limit of {limit} bytes")),
        "{err}"
    );
}

#[tokio::test]
async fn a_trickling_server_meets_the_calls_deadline() {
    // Each attempt alone may take 30 s and ten are allowed: only the deadline ends the call.
    let (err, took, written) = trickled(Duration::from_secs(30), RetryPolicy::new(10)).await;
    assert_eq!(err.kind(), ErrorKind::Timeout, "{err}");
    assert!(err.to_string().contains("total timeout of 300ms"), "{err}");
    assert_eq!(err.attempts(), 1);
    assert!(
        took >= Duration::from_millis(300) && took < Duration::from_secs(3),
        "{took:?}"
    );
    assert_eq!(written, 0);
}

#[tokio::test]
async fn attempts_that_time_out_stop_at_the_deadline() {
    // 100 ms per attempt, ten attempts, no backoff: the 300 ms deadline ends it after a few.
    let (err, took, _) = trickled(Duration::from_millis(100), RetryPolicy::new(10)).await;
    assert_eq!(err.kind(), ErrorKind::Timeout, "{err}");
    assert!((2..10).contains(&err.attempts()), "{err}");
    assert!(took < Duration::from_secs(2), "{took:?}");
}
