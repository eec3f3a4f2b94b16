//! Accepts, claims and finishes N messages on a PostgreSQL store and prints the rates: inserts
//! from 64 concurrent tasks (one message per call, as the API makes them), then claims of
//! batches of 256 from 4 tasks, each batch finished as delivered in one call, then N more as the
//! engine makes them: one claimer, each attempt finished on its own, at most 256 at once.
//!
//! ```text
//! QSTASH_TEST_DATABASE_URL=postgres://… \
//!   cargo run --release -p qstash-store --features postgres --example pg_rate -- [N]
//! ```
//!
//! `N` defaults to 20 000. It works in a schema of its own, dropped at the end.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

use qstash_store::postgres::{PgOptions, PgStore};
use qstash_store::{EventDetail, Finish, InsertOutcome, NewMessage, Store, Transition};

const TASKS: usize = 64;
const CLAIMERS: usize = 4;
const T0: u64 = 1_767_225_600_000;

fn message(n: usize) -> NewMessage {
    NewMessage {
        id: format!("msg_{n:012}"),
        tenant: "bench".to_string(),
        destination: "https://example.com/hook?x=1".to_string(),
        method: "POST".to_string(),
        headers: vec![("Content-Type".to_string(), "application/json".to_string())],
        body: format!("{{\"n\":{n},\"pad\":\"0123456789012345678901234567890123456789\"}}")
            .into_bytes(),
        created_at: T0,
        due_at: T0 + (n as u64 % 1000),
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
    let n: usize = std::env::args()
        .nth(1)
        .map(|a| a.parse())
        .transpose()?
        .unwrap_or(20_000);
    let url = std::env::var("QSTASH_TEST_DATABASE_URL")
        .map_err(|_| "set QSTASH_TEST_DATABASE_URL to a PostgreSQL URL")?;
    let schema = format!("qstash_bench_{}", std::process::id());
    let options = PgOptions {
        schema: Some(schema.clone()),
        ..PgOptions::default()
    };
    let store = Arc::new(PgStore::connect(&url, options).await?);

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
    let stats = store.group_stats();
    println!(
        "{n} inserts from {TASKS} tasks in {:.2} s: {:.0} inserts/s, {} commits ({:.1} calls per commit)",
        elapsed.as_secs_f64(),
        n as f64 / elapsed.as_secs_f64(),
        stats.commits,
        stats.calls as f64 / stats.commits.max(1) as f64,
    );

    let start = Instant::now();
    let mut tasks = Vec::with_capacity(CLAIMERS);
    for _ in 0..CLAIMERS {
        let store = Arc::clone(&store);
        tasks.push(tokio::spawn(async move {
            let mut done = 0usize;
            loop {
                let claimed = store.claim_due(T0 + 1000, 256).await?;
                if claimed.is_empty() {
                    return Ok::<_, qstash_store::StoreError>(done);
                }
                let finishes = claimed
                    .iter()
                    .map(|c| Finish {
                        tenant: c.message.message.tenant.clone(),
                        message_id: c.message.message.id.clone(),
                        claim: c.claim,
                        now: T0 + 1001,
                        transition: Transition::Delivered,
                        response: None,
                        event: EventDetail {
                            state: "DELIVERED".to_string(),
                            response_status: Some(200),
                            ..EventDetail::default()
                        },
                        spawn: Vec::new(),
                        dlq: None,
                        dlq_callback_state: None,
                        end_run: None,
                    })
                    .collect();
                done += store.finish(finishes).await?.len();
            }
        }));
    }
    let mut done = 0;
    for task in tasks {
        done += task.await??;
    }
    let elapsed = start.elapsed();
    println!(
        "{done} claimed and finished by {CLAIMERS} tasks in {:.2} s: {:.0} attempts/s",
        elapsed.as_secs_f64(),
        done as f64 / elapsed.as_secs_f64(),
    );

    // As the engine does: one claimer, each attempt finished on its own, 256 at once.
    let batch: Vec<_> = (0..n).map(|i| message(n + i)).collect();
    for chunk in batch.chunks(1000) {
        store.insert_messages(chunk.to_vec(), T0).await?;
    }
    let start = Instant::now();
    let permits = Arc::new(tokio::sync::Semaphore::new(256));
    let mut finishing = tokio::task::JoinSet::new();
    let mut done = 0;
    loop {
        let room = permits.available_permits().max(1);
        let claimed = store.claim_due(T0 + 1000, room).await?;
        if claimed.is_empty() {
            if finishing.is_empty() {
                break;
            }
            if let Some(r) = finishing.join_next().await {
                done += r??;
            }
            continue;
        }
        for c in claimed {
            let permit = Arc::clone(&permits).acquire_owned().await?;
            let store = Arc::clone(&store);
            finishing.spawn(async move {
                let f = Finish {
                    tenant: c.message.message.tenant.clone(),
                    message_id: c.message.message.id.clone(),
                    claim: c.claim,
                    now: T0 + 1001,
                    transition: Transition::Delivered,
                    response: None,
                    event: EventDetail {
                        state: "DELIVERED".to_string(),
                        response_status: Some(200),
                        ..EventDetail::default()
                    },
                    spawn: Vec::new(),
                    dlq: None,
                    dlq_callback_state: None,
                    end_run: None,
                };
                let out = store.finish(vec![f]).await?.len();
                drop(permit);
                Ok::<_, qstash_store::StoreError>(out)
            });
        }
        while let Some(r) = finishing.try_join_next() {
            done += r??;
        }
    }
    let elapsed = start.elapsed();
    println!(
        "{done} claimed in batches and finished one by one (256 at once) in {:.2} s: {:.0} attempts/s",
        elapsed.as_secs_f64(),
        done as f64 / elapsed.as_secs_f64(),
    );

    drop(store);
    let (client, connection) = tokio_postgres::connect(&url, tokio_postgres::NoTls).await?;
    tokio::spawn(connection);
    client
        .batch_execute(&format!("DROP SCHEMA \"{schema}\" CASCADE"))
        .await?;
    Ok(())
}
