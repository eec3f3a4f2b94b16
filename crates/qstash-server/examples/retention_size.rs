//! The store's size under steady load with retention: a server on a temporary SQLite file
//! with a retention of 2 s (swept every 250 ms), `CONNECTIONS` clients publishing messages that
//! are delivered at once to a loopback destination, for `SECONDS`; the file's size (with its
//! WAL) is printed every 3 s.
//!
//! ```text
//! cargo run --release -p qstash-server --example retention_size [-- SECONDS CONNECTIONS]
//! ```

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use qstash_server::{Retention, Server};
use qstash_store::sqlite::SqliteStore;

fn size(db: &Path) -> u64 {
    let wal = db.with_extension("db-wal");
    [db, wal.as_path()]
        .iter()
        .filter_map(|p| std::fs::metadata(p).ok())
        .map(|m| m.len())
        .sum()
}

#[tokio::main(flavor = "multi_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let seconds: u64 = args.next().map(|a| a.parse()).transpose()?.unwrap_or(30);
    let connections: usize = args.next().map(|a| a.parse()).transpose()?.unwrap_or(32);
    let _ = rustls::crypto::ring::default_provider().install_default();

    let sink = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let sink_url = format!("http://{}/hook", sink.local_addr()?);
    let delivered = Arc::new(AtomicU64::new(0));
    let counter = delivered.clone();
    let app = axum::Router::new().fallback(move || {
        let counter = counter.clone();
        async move {
            counter.fetch_add(1, Ordering::Relaxed);
            "ok"
        }
    });
    tokio::spawn(async move { axum::serve(sink, app).await });

    let dir = tempfile::tempdir()?;
    let db = dir.path().join("qstash.db");
    let store = Arc::new(SqliteStore::open(&db)?);
    let retention = Retention::default()
        .finished(Duration::from_secs(2))
        .interval(Duration::from_millis(250));
    let server = Server::builder(store)
        .token("bench")?
        .retention(retention)
        .start()
        .await?;
    let url = format!("{}/v2/publish/{sink_url}", server.url());
    let http = reqwest::Client::new();
    let accepted = Arc::new(AtomicU64::new(0));
    let end = Instant::now() + Duration::from_secs(seconds);
    let mut tasks = Vec::new();
    for _ in 0..connections {
        let (http, url, accepted) = (http.clone(), url.clone(), accepted.clone());
        tasks.push(tokio::spawn(async move {
            while Instant::now() < end {
                if let Ok(r) = http
                    .post(&url)
                    .bearer_auth("bench")
                    .body(vec![b'x'; 512])
                    .send()
                    .await
                    && r.status().is_success()
                {
                    accepted.fetch_add(1, Ordering::Relaxed);
                }
            }
        }));
    }
    let start = Instant::now();
    while Instant::now() < end {
        tokio::time::sleep(Duration::from_secs(3)).await;
        println!(
            "{:>3} s: {:>8} accepted, {:>8} delivered, store {:.1} MiB",
            start.elapsed().as_secs(),
            accepted.load(Ordering::Relaxed),
            delivered.load(Ordering::Relaxed),
            size(&db) as f64 / (1024.0 * 1024.0)
        );
    }
    for t in tasks {
        t.await?;
    }
    server.shutdown().await;
    Ok(())
}
