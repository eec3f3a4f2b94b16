//! Inserts N delayed messages from 64 concurrent tasks into a fresh SQLite store and prints the
//! rate, how the writes were grouped into commits, and the process's resident memory.
//!
//! ```text
//! cargo run --release -p qstash-store --example insert_rate -- [N] [DIR]
//! ```
//!
//! `N` defaults to 100 000; `DIR` to a temporary directory (removed at the end).

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

use qstash_store::sqlite::SqliteStore;
use qstash_store::{InsertOutcome, NewMessage, Store};

const TASKS: usize = 64;
const T0: u64 = 1_767_225_600_000;

fn rss_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

fn message(n: usize) -> NewMessage {
    NewMessage {
        id: format!("msg_{n:012}"),
        tenant: "bench".to_string(),
        destination: "https://example.com/hook?x=1".to_string(),
        method: "POST".to_string(),
        headers: vec![
            ("Content-Type".to_string(), "application/json".to_string()),
            (
                "Upstash-Forward-Authorization".to_string(),
                "Bearer abc".to_string(),
            ),
        ],
        body: format!("{{\"n\":{n},\"pad\":\"0123456789012345678901234567890123456789\"}}")
            .into_bytes(),
        created_at: T0,
        // Spread over a week: delayed work, never due during the run.
        due_at: T0 + 3_600_000 + (n as u64 * 7_919) % (7 * 86_400_000),
        max_retries: 3,
        lease_ms: 60_000,
        labels: vec!["bench".to_string()],
        dedup: None,
        flow_key: None,
        flow_limits: None,
        extra: Vec::new(),
        run: None,
    }
}

#[tokio::main(flavor = "multi_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let n: usize = args
        .next()
        .map(|a| a.parse())
        .transpose()?
        .unwrap_or(100_000);
    let temp = tempfile::tempdir()?;
    let dir = args
        .next()
        .map_or_else(|| temp.path().to_path_buf(), Into::into);
    let store = Arc::new(SqliteStore::open(dir.join("bench.db"))?);

    let next = Arc::new(AtomicUsize::new(0));
    let start = Instant::now();
    let mut tasks = Vec::with_capacity(TASKS);
    for _ in 0..TASKS {
        let (store, next) = (Arc::clone(&store), Arc::clone(&next));
        tasks.push(tokio::spawn(async move {
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= n {
                    return Ok::<_, qstash_store::StoreError>(());
                }
                let out = store.insert_messages(vec![message(i)], T0).await?;
                assert_eq!(out, [InsertOutcome::Inserted]);
            }
        }));
    }
    for task in tasks {
        task.await??;
    }
    let elapsed = start.elapsed();
    let stats = store.stats();
    println!(
        "{n} messages from {TASKS} tasks in {:.2} s: {:.0} inserts/s, {} commits ({:.1} per commit)",
        elapsed.as_secs_f64(),
        n as f64 / elapsed.as_secs_f64(),
        stats.commits,
        stats.commands as f64 / stats.commits.max(1) as f64,
    );
    let claim_start = Instant::now();
    let due = store.next_due(T0).await?;
    let claimed = store.claim_due(T0, 100).await?;
    println!(
        "next_due {:?}, claim of nothing due: {} claimed in {:?}",
        due.map(|d| d - T0),
        claimed.len(),
        claim_start.elapsed()
    );
    if let Some(rss) = rss_kib() {
        println!("resident memory: {:.1} MiB", rss as f64 / 1024.0);
    }
    Arc::try_unwrap(store)
        .map_err(|_| "store still shared")?
        .close()
        .await;
    Ok(())
}
