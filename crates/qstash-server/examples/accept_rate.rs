//! A quick loopback figure of the durable accept rate: a server on a temporary SQLite file,
//! `CONNECTIONS` keep-alive clients publishing delayed messages (nothing is delivered) for
//! `SECONDS`, in one process.
//!
//! ```text
//! cargo run --release -p qstash-server --example accept_rate [-- SECONDS CONNECTIONS]
//! ```

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use qstash_server::Server;
use qstash_store::sqlite::SqliteStore;

#[tokio::main(flavor = "multi_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let seconds: u64 = args.next().map(|a| a.parse()).transpose()?.unwrap_or(5);
    let connections: usize = args.next().map(|a| a.parse()).transpose()?.unwrap_or(64);
    let _ = rustls::crypto::ring::default_provider().install_default();

    let dir = tempfile::tempdir()?;
    let store = Arc::new(SqliteStore::open(dir.path().join("qstash.db"))?);
    let server = Server::builder(store).token("bench")?.start().await?;
    let url = format!("{}/v2/publish/https://example.com/hook", server.url());
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(connections)
        .build()?;

    let accepted = Arc::new(AtomicU64::new(0));
    let refused = Arc::new(AtomicU64::new(0));
    // Warm up the connections, then measure.
    let warmup = Instant::now() + Duration::from_millis(500);
    let end = warmup + Duration::from_secs(seconds);
    let mut tasks = Vec::new();
    for _ in 0..connections {
        let (http, url) = (http.clone(), url.clone());
        let (accepted, refused) = (accepted.clone(), refused.clone());
        tasks.push(tokio::spawn(async move {
            loop {
                let now = Instant::now();
                if now >= end {
                    return;
                }
                let resp = http
                    .post(&url)
                    .bearer_auth("bench")
                    .header("Upstash-Delay", "1d")
                    .header("Content-Type", "application/json")
                    .body(r#"{"order":42,"items":["a","b","c"]}"#)
                    .send()
                    .await;
                if now < warmup {
                    continue;
                }
                match resp {
                    Ok(r) if r.status().is_success() => {
                        let _ = r.bytes().await;
                        accepted.fetch_add(1, Ordering::Relaxed);
                    }
                    _ => {
                        refused.fetch_add(1, Ordering::Relaxed);
                    }
                }
            }
        }));
    }
    for t in tasks {
        t.await?;
    }
    let accepted = accepted.load(Ordering::Relaxed);
    println!(
        "{connections} connections, {seconds} s: {accepted} accepted ({:.0}/s), {} refused",
        accepted as f64 / seconds as f64,
        refused.load(Ordering::Relaxed)
    );
    server.shutdown().await;
    Ok(())
}
