//! Shared test parts: the server on a real SQLite file, a loopback destination that records
//! what it receives, and an API client.
#![allow(dead_code)]

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use qstash_server::{DeliveryConfig, Limits, RunningServer, Server};
use qstash_store::sqlite::SqliteStore;
use tokio::sync::Notify;

pub const TOKEN: &str = "token-a";
pub const OTHER_TOKEN: &str = "token-b";
pub const CURRENT_KEY: &str = "sig_testcurrentkey000000000000";
pub const NEXT_KEY: &str = "sig_testnextkey0000000000000000";

/// One request the destination received.
#[derive(Debug, Clone)]
pub struct Received {
    pub method: String,
    /// Path and query.
    pub target: String,
    pub headers: HeaderMap,
    pub body: Bytes,
    pub at: Instant,
}

impl Received {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

/// A loopback destination. What it answers depends on the path:
/// `/ok…` 200, `/wf…` 200 with `Upstash-Workflow-Sdk-Version: 1` (a workflow endpoint), `/fail…` 500, `/nonretryable` 489 with `Upstash-NonRetryable-Error: true`,
/// `/retry-after` 503 with `Retry-After: 1`, `/slow` never answers, `/second` waits 1 s and answers 200, `/huge` 200 with a 1 MiB
/// body, `/flaky` 500 on the first request and 200 after.
#[derive(Clone)]
pub struct Sink {
    pub url: String,
    log: Arc<Mutex<Vec<Received>>>,
    notify: Arc<Notify>,
}

impl Sink {
    pub async fn start() -> Sink {
        let log = Arc::new(Mutex::new(Vec::new()));
        let notify = Arc::new(Notify::new());
        let sink = Sink {
            url: String::new(),
            log,
            notify,
        };
        let app = Router::new().fallback(record).with_state(sink.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        Sink {
            url: format!("http://{addr}"),
            ..sink
        }
    }

    pub fn received(&self) -> Vec<Received> {
        self.log.lock().unwrap().clone()
    }

    /// The requests whose path and query start with `prefix`.
    pub fn to(&self, prefix: &str) -> Vec<Received> {
        self.received()
            .into_iter()
            .filter(|r| r.target.starts_with(prefix))
            .collect()
    }

    /// Waits until at least `n` requests to `prefix` arrived (panics after `within`).
    pub async fn wait_for(&self, prefix: &str, n: usize, within: Duration) -> Vec<Received> {
        let deadline = Instant::now() + within;
        loop {
            let notified = self.notify.notified();
            let got = self.to(prefix);
            if got.len() >= n {
                return got;
            }
            if tokio::time::timeout_at(deadline.into(), notified)
                .await
                .is_err()
            {
                panic!(
                    "waited {within:?} for {n} requests to {prefix}, got {}",
                    self.to(prefix).len()
                );
            }
        }
    }
}

async fn record(State(sink): State<Sink>, req: Request) -> Response {
    let (parts, body) = req.into_parts();
    let body = axum::body::to_bytes(body, 16 << 20)
        .await
        .unwrap_or_default();
    let target = parts
        .uri
        .path_and_query()
        .map(|p| p.as_str().to_owned())
        .unwrap_or_default();
    let count = {
        let mut log = sink.log.lock().unwrap();
        log.push(Received {
            method: parts.method.to_string(),
            target: target.clone(),
            headers: parts.headers.clone(),
            body,
            at: Instant::now(),
        });
        log.iter().filter(|r| r.target == target).count()
    };
    sink.notify.notify_waiters();
    let path = parts.uri.path();
    if path.starts_with("/ok") {
        StatusCode::OK.into_response()
    } else if path.starts_with("/wf") {
        // Answers as a workflow endpoint of the official SDK does.
        (
            StatusCode::OK,
            [("Upstash-Workflow-Sdk-Version", "1")],
            "{}",
        )
            .into_response()
    } else if path.starts_with("/fail") {
        (StatusCode::INTERNAL_SERVER_ERROR, "broken").into_response()
    } else if path.starts_with("/nonretryable") {
        (
            StatusCode::from_u16(489).unwrap(),
            [("Upstash-NonRetryable-Error", "true")],
            "no",
        )
            .into_response()
    } else if path.starts_with("/retry-after") {
        (
            StatusCode::SERVICE_UNAVAILABLE,
            [("Retry-After", "1")],
            "later",
        )
            .into_response()
    } else if path.starts_with("/slow") {
        // A destination that hangs: the attempt must end by its own timeout.
        std::future::pending::<Response>().await
    } else if path.starts_with("/second") {
        tokio::time::sleep(Duration::from_secs(1)).await;
        StatusCode::OK.into_response()
    } else if path.starts_with("/huge") {
        (StatusCode::OK, vec![b'x'; 1 << 20]).into_response()
    } else if path.starts_with("/flaky") {
        if count == 1 {
            (StatusCode::INTERNAL_SERVER_ERROR, "first time").into_response()
        } else {
            StatusCode::OK.into_response()
        }
    } else {
        StatusCode::NOT_FOUND.into_response()
    }
}

/// A plain HTTP client for the tests (reqwest is built without a process-wide TLS provider).
pub fn http_client() -> reqwest::Client {
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::new()
}

/// A server on a fresh SQLite file, with two tenants.
pub struct TestServer {
    pub server: RunningServer,
    pub url: String,
    pub http: reqwest::Client,
    pub dir: tempfile::TempDir,
}

pub async fn start() -> TestServer {
    start_with(Limits::default(), DeliveryConfig::default()).await
}

pub async fn start_with(limits: Limits, delivery: DeliveryConfig) -> TestServer {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(dir.path().join("qstash.db")).unwrap();
    let server = Server::builder(Arc::new(store))
        .token(TOKEN)
        .unwrap()
        .token(OTHER_TOKEN)
        .unwrap()
        .signing_keys(CURRENT_KEY, NEXT_KEY)
        .limits(limits)
        .delivery(delivery)
        .shutdown_grace(Duration::from_secs(2))
        .start()
        .await
        .unwrap();
    TestServer {
        url: server.url(),
        server,
        http: http_client(),
        dir,
    }
}

impl TestServer {
    pub fn post(&self, path: &str) -> reqwest::RequestBuilder {
        self.http
            .post(format!("{}{path}", self.url))
            .bearer_auth(TOKEN)
    }

    pub fn get(&self, path: &str) -> reqwest::RequestBuilder {
        self.http
            .get(format!("{}{path}", self.url))
            .bearer_auth(TOKEN)
    }

    pub fn delete(&self, path: &str) -> reqwest::RequestBuilder {
        self.http
            .delete(format!("{}{path}", self.url))
            .bearer_auth(TOKEN)
    }

    /// Publishes `body` to `destination` with extra headers; returns the message id.
    pub async fn publish(&self, destination: &str, headers: &[(&str, &str)], body: &str) -> String {
        let mut req = self
            .post(&format!("/v2/publish/{destination}"))
            .body(body.to_owned());
        for (n, v) in headers {
            req = req.header(*n, *v);
        }
        let resp = req.send().await.unwrap();
        let status = resp.status();
        let text = resp.text().await.unwrap();
        assert!(status.is_success(), "publish answered {status}: {text}");
        let v: serde_json::Value = serde_json::from_str(&text).unwrap();
        v["messageId"].as_str().unwrap().to_owned()
    }

    /// Polls the events of `message_id` until one in `state` shows up.
    pub async fn wait_event(
        &self,
        message_id: &str,
        state: &str,
        within: Duration,
    ) -> serde_json::Value {
        let deadline = Instant::now() + within;
        loop {
            let v: serde_json::Value = self
                .get(&format!("/v2/events?messageId={message_id}&state={state}"))
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            if let Some(e) = v["events"].as_array().and_then(|a| a.first()) {
                return e.clone();
            }
            assert!(
                Instant::now() < deadline,
                "no {state} event for {message_id} within {within:?}"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}
