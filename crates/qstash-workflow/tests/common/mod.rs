//! Shared test parts: the server in-process on a real SQLite file and loopback port, a
//! workflow endpoint on another loopback port, a client, and a log of side effects.
#![allow(dead_code)]

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use qstash_client::{Client, LogsQuery, RunId};
use qstash_server::{RunningServer, Server};
use qstash_store::sqlite::SqliteStore;
use qstash_workflow::Options;

pub const TOKEN: &str = "token-workflow";
pub const CURRENT_KEY: &str = "sig_workflowcurrentkey00000000";
pub const NEXT_KEY: &str = "sig_workflownextkey00000000000";

pub struct TestServer {
    pub server: RunningServer,
    pub url: String,
    pub client: Client,
    _dir: tempfile::TempDir,
}

/// The server on a fresh SQLite file, signing deliveries with the test keys.
pub async fn start_server() -> TestServer {
    let _ = tracing_subscriber::fmt()
        .with_test_writer()
        .with_max_level(tracing::Level::WARN)
        .try_init();
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(dir.path().join("qstash.db")).unwrap();
    let server = Server::builder(Arc::new(store))
        .listen("127.0.0.1:0".parse().unwrap())
        .token(TOKEN)
        .unwrap()
        .signing_keys(CURRENT_KEY, NEXT_KEY)
        .shutdown_grace(Duration::from_secs(1))
        .start()
        .await
        .unwrap();
    let url = server.url();
    let client = Client::builder()
        .token(TOKEN)
        .base_url(url.clone())
        .build()
        .unwrap();
    TestServer {
        server,
        url,
        client,
        _dir: dir,
    }
}

impl TestServer {
    /// Options for an endpoint of this server that verifies signatures.
    pub fn options(&self) -> Options {
        Options::new(self.url.clone(), TOKEN).signing_keys(CURRENT_KEY, NEXT_KEY)
    }

    /// Waits until the run reaches a final state; returns the state and the run's log.
    pub async fn wait_run(&self, run_id: &RunId, within: Duration) -> (String, serde_json::Value) {
        let deadline = Instant::now() + within;
        loop {
            let logs = self
                .client
                .logs(&LogsQuery::new().with_run_id(run_id.clone()))
                .await
                .unwrap();
            if let Some(run) = logs.runs.first() {
                let state = run.workflow_state.clone().unwrap_or_default();
                if matches!(
                    state.as_str(),
                    "RUN_SUCCESS" | "RUN_FAILED" | "RUN_CANCELED"
                ) {
                    let log = serde_json::to_value(&run.other).unwrap();
                    return (state, log);
                }
            }
            assert!(
                Instant::now() < deadline,
                "run {run_id:?} did not end within {within:?}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

/// Serves `app` on a loopback port; returns `http://127.0.0.1:PORT`.
pub async fn serve(app: axum::Router) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    url
}

/// How many times each side effect happened.
#[derive(Clone, Default)]
pub struct Effects(Arc<Mutex<HashMap<String, u32>>>);

impl Effects {
    pub fn hit(&self, what: &str) -> u32 {
        let mut m = self.0.lock().unwrap();
        let n = m.entry(what.to_owned()).or_default();
        *n += 1;
        *n
    }

    pub fn count(&self, what: &str) -> u32 {
        self.0.lock().unwrap().get(what).copied().unwrap_or(0)
    }

    pub fn all(&self) -> HashMap<String, u32> {
        self.0.lock().unwrap().clone()
    }

    /// Waits until `what` happened at least `n` times.
    pub async fn wait(&self, what: &str, n: u32, within: Duration) {
        let deadline = Instant::now() + within;
        while self.count(what) < n {
            assert!(
                Instant::now() < deadline,
                "{what} happened {} times, not {n}, within {within:?}: {:?}",
                self.count(what),
                self.all()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}
