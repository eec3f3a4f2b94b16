//! `kill -9` loses nothing that was acknowledged: the real binary, a real SQLite file, a burst
//! of publishes (some delayed) to a loopback destination, SIGKILL in the middle, a restart on
//! the same data, and every acknowledged message id must reach the destination.

use std::collections::HashSet;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::State;
use axum::http::HeaderMap;

const TOKEN: &str = "crash-test-token";

type Seen = Arc<Mutex<HashSet<String>>>;

async fn sink() -> (String, Seen) {
    async fn record(State(seen): State<Seen>, headers: HeaderMap) -> &'static str {
        if let Some(id) = headers
            .get("upstash-message-id")
            .and_then(|v| v.to_str().ok())
        {
            seen.lock().unwrap().insert(id.to_owned());
        }
        "ok"
    }
    let seen: Seen = Arc::default();
    let app = Router::new().fallback(record).with_state(seen.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (url, seen)
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn spawn_server(port: u16, db: &std::path::Path) -> Child {
    Command::new(env!("CARGO_BIN_EXE_qstash"))
        .args([
            "serve",
            "--listen",
            &format!("127.0.0.1:{port}"),
            "--database-url",
            &format!("sqlite://{}", db.display()),
            "--tokens",
            TOKEN,
            // short leases, so that attempts claimed at the kill are made again quickly
            "--delivery-timeout",
            "2s",
            "--lease-grace",
            "1s",
        ])
        .env_remove("QSTASH_TOKEN")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("the qstash binary starts")
}

async fn wait_healthy(http: &reqwest::Client, base: &str) {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        if let Ok(r) = http.get(format!("{base}/health")).send().await
            && r.status().is_success()
        {
            return;
        }
        assert!(Instant::now() < deadline, "the server did not come up");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_mid_burst_loses_no_acknowledged_message() {
    let (sink_url, seen) = sink().await;
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("qstash.db");
    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");
    let _ = rustls::crypto::ring::default_provider().install_default();
    let http = reqwest::Client::new();
    let mut child = spawn_server(port, &db);
    wait_healthy(&http, &base).await;

    // 16 publishers; every third message is delayed by 1 or 2 seconds.
    let acked: Arc<Mutex<Vec<String>>> = Arc::default();
    let mut publishers = Vec::new();
    for p in 0..16 {
        let (http, base, sink_url, acked) =
            (http.clone(), base.clone(), sink_url.clone(), acked.clone());
        publishers.push(tokio::spawn(async move {
            for i in 0..400 {
                let mut req = http
                    .post(format!("{base}/v2/publish/{sink_url}/m/{p}/{i}"))
                    .bearer_auth(TOKEN)
                    .body(format!("{p}-{i}"));
                if i % 3 == 0 {
                    req = req.header("Upstash-Delay", format!("{}s", 1 + i % 2));
                }
                match req.send().await {
                    Ok(r) if r.status().is_success() => {
                        let v: serde_json::Value = match r.json().await {
                            Ok(v) => v,
                            Err(_) => break,
                        };
                        acked
                            .lock()
                            .unwrap()
                            .push(v["messageId"].as_str().unwrap().to_owned());
                    }
                    // refused or cut off by the kill: not acknowledged, nothing promised
                    _ => break,
                }
            }
        }));
    }
    // kill in the middle of the burst
    let deadline = Instant::now() + Duration::from_secs(60);
    while acked.lock().unwrap().len() < 1500 {
        assert!(Instant::now() < deadline, "the burst did not get going");
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    child.kill().expect("SIGKILL"); // Child::kill sends SIGKILL on Unix
    child.wait().unwrap();
    for p in publishers {
        p.await.unwrap();
    }
    let acked: Vec<String> = acked.lock().unwrap().clone();
    let delivered_before = seen.lock().unwrap().len();
    assert!(
        delivered_before < acked.len(),
        "the kill came after everything was delivered; the test proves nothing"
    );

    let mut child = spawn_server(port, &db);
    wait_healthy(&http, &base).await;
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let missing: Vec<String> = {
            let seen = seen.lock().unwrap();
            acked
                .iter()
                .filter(|id| !seen.contains(*id))
                .cloned()
                .collect()
        };
        if missing.is_empty() {
            break;
        }
        if Instant::now() > deadline {
            child.kill().unwrap();
            panic!(
                "{} of {} acknowledged messages never arrived, e.g. {:?}",
                missing.len(),
                acked.len(),
                &missing[..missing.len().min(5)]
            );
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    child.kill().unwrap();
    child.wait().unwrap();
}
