//! The real server (`qstash-server` in-process on 127.0.0.1, on a SQLite file) and a
//! loopback destination that records its deliveries. Shared by the client's tests and the
//! CLI's (which include this file).
#![allow(dead_code)]

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::extract::{Request, State};
use axum::http::StatusCode;
use qstash_server::{RunningServer, Server};
use qstash_store::sqlite::SqliteStore;

/// The signing keys the server starts with.
pub const CURRENT_KEY: &str = "sig_loopbacktestcurrent0000000";
pub const NEXT_KEY: &str = "sig_loopbacktestnext000000000000";

/// One delivery the destination received.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delivery {
    /// Path and query.
    pub target: String,
    /// `Upstash-Message-Id`.
    pub message_id: String,
    /// The forwarded `X-Tenant`.
    pub tenant: Option<String>,
    pub body: Vec<u8>,
}

pub type Seen = Arc<Mutex<Vec<Delivery>>>;

/// The server (stopped when dropped with its data) and the destination.
pub struct Loopback {
    pub server: RunningServer,
    pub dir: tempfile::TempDir,
    /// The server's base URL.
    pub url: String,
    /// The destination's base URL: it answers 200 under `/ok`, 500 elsewhere.
    pub dest: String,
    pub seen: Seen,
}

impl Loopback {
    pub async fn start(token: &str) -> Loopback {
        let seen: Seen = Arc::default();
        let app = Router::new().fallback(record).with_state(seen.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let dest = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });

        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(dir.path().join("qstash.db")).unwrap();
        let server = Server::builder(Arc::new(store))
            .listen("127.0.0.1:0".parse().unwrap())
            .token(token)
            .unwrap()
            .signing_keys(CURRENT_KEY, NEXT_KEY)
            .shutdown_grace(Duration::from_secs(1))
            .start()
            .await
            .unwrap();
        Loopback {
            url: server.url(),
            server,
            dir,
            dest,
            seen,
        }
    }

    /// The deliveries so far.
    pub fn deliveries(&self) -> Vec<Delivery> {
        self.seen.lock().unwrap().clone()
    }
}

async fn record(State(seen): State<Seen>, req: Request) -> StatusCode {
    let (parts, body) = req.into_parts();
    let body = axum::body::to_bytes(body, 1 << 20).await.unwrap();
    let header = |n: &str| {
        parts
            .headers
            .get(n)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    };
    let target = parts.uri.path_and_query().unwrap().as_str().to_owned();
    let ok = target.starts_with("/ok");
    seen.lock().unwrap().push(Delivery {
        target,
        message_id: header("upstash-message-id").unwrap_or_default(),
        tenant: header("x-tenant"),
        body: body.to_vec(),
    });
    if ok {
        StatusCode::OK
    } else {
        StatusCode::INTERNAL_SERVER_ERROR
    }
}
