//! What a claim costs behind held-back work, on a SQLite store: the latency of a claim that
//! takes one newly due plain message (as the engine's claims do) on an empty store, behind one
//! key's backlog of `N` messages (parallelism 1), and behind `K` keys of 100 messages each; and
//! what a finish that frees the hot key's place plus the claim that takes it cost.
//!
//! ```text
//! cargo run --release -p qstash-store --example claim_backlog -- [N] [K] [SAMPLES]
//! ```
//!
//! `N` defaults to 100 000, `K` to 1 000, `SAMPLES` (timed claims per case) to 300. The first
//! claims after a backlog becomes due sort it into its key's wait list (once, at most 16 384
//! messages a claim); their time is printed apart.

use std::time::{Duration, Instant};

use qstash_store::sqlite::SqliteStore;
use qstash_store::{EventDetail, Finish, FlowLimits, Millis, NewMessage, Store, Transition};

const T0: Millis = 1_767_225_600_000;

fn message(id: String, due_at: Millis, key: Option<&str>) -> NewMessage {
    NewMessage {
        id,
        tenant: "bench".to_string(),
        destination: "https://example.com/hook".to_string(),
        method: "POST".to_string(),
        headers: vec![("Content-Type".to_string(), "application/json".to_string())],
        body: b"{\"pad\":\"0123456789012345678901234567890123456789\"}".to_vec(),
        created_at: T0,
        due_at,
        max_retries: 3,
        lease_ms: 3_600_000,
        labels: Vec::new(),
        dedup: None,
        flow_key: key.map(str::to_string),
        flow_limits: key.map(|_| FlowLimits {
            parallelism: Some(1),
            rate: None,
            period_ms: 1000,
        }),
        extra: Vec::new(),
        run: None,
    }
}

fn percentiles(mut samples: Vec<Duration>) -> String {
    samples.sort();
    let at = |q: f64| samples[((samples.len() - 1) as f64 * q) as usize];
    format!(
        "p50 {:>8.3} ms  p99 {:>8.3} ms",
        at(0.5).as_secs_f64() * 1e3,
        at(0.99).as_secs_f64() * 1e3
    )
}

/// Claims of one newly due plain message each, timed.
async fn plain_claims(
    store: &SqliteStore,
    now: &mut Millis,
    tag: &str,
    samples: usize,
) -> Vec<Duration> {
    let mut out = Vec::with_capacity(samples);
    for i in 0..samples {
        *now += 1;
        store
            .insert_messages(vec![message(format!("plain_{tag}_{i}"), *now, None)], *now)
            .await
            .expect("insert");
        let start = Instant::now();
        let claimed = store.claim_due(*now, 16).await.expect("claim");
        out.push(start.elapsed());
        assert_eq!(claimed.len(), 1, "one plain message claimed");
    }
    out
}

async fn fill(store: &SqliteStore, keys: usize, per_key: usize, now: Millis) {
    let mut batch = Vec::new();
    for k in 0..keys {
        let key = if keys == 1 {
            "hot".to_string()
        } else {
            format!("key_{k}")
        };
        for i in 0..per_key {
            batch.push(message(format!("{key}_{i}"), T0, Some(&key)));
            if batch.len() == 5_000 {
                store
                    .insert_messages(std::mem::take(&mut batch), now)
                    .await
                    .expect("insert");
            }
        }
    }
    if !batch.is_empty() {
        store.insert_messages(batch, now).await.expect("insert");
    }
}

#[tokio::main]
async fn main() {
    let mut args = std::env::args().skip(1);
    let n: usize = args.next().map_or(100_000, |a| a.parse().expect("N"));
    let k: usize = args.next().map_or(1_000, |a| a.parse().expect("K"));
    let samples_n: usize = args.next().map_or(300, |a| a.parse().expect("SAMPLES"));
    let dir = tempfile::tempdir().expect("tempdir");
    let mut now = T0 + 10;

    let empty = SqliteStore::open(dir.path().join("empty.db")).expect("open");
    let samples = plain_claims(&empty, &mut now, "e", samples_n).await;
    println!(
        "empty store                      claim: {}",
        percentiles(samples)
    );
    empty.close().await;

    let hot = SqliteStore::open(dir.path().join("hot.db")).expect("open");
    fill(&hot, 1, n, now).await;
    let start = Instant::now();
    let first = hot.claim_due(now, 16).await.expect("claim");
    let mut passes = 1;
    while hot.next_due(now).await.expect("next_due") <= Some(now) {
        assert!(hot.claim_due(now, 16).await.expect("claim").is_empty());
        passes += 1;
    }
    println!(
        "{n} behind one key: first claims (sort the backlog once, {passes} claims) {:.1} ms",
        start.elapsed().as_secs_f64() * 1e3
    );
    let samples = plain_claims(&hot, &mut now, "h", samples_n).await;
    println!(
        "{n} behind one key             claim: {}",
        percentiles(samples)
    );
    // The hot key's turn: a finish frees its place, the next claim takes its next message.
    let mut current = first.into_iter().next().expect("the key's first message");
    let mut turns = Vec::with_capacity(samples_n);
    for _ in 0..samples_n {
        now += 1;
        let start = Instant::now();
        hot.finish(vec![Finish {
            tenant: "bench".to_string(),
            message_id: current.message.message.id.clone(),
            claim: current.claim,
            now,
            transition: Transition::Delivered,
            response: None,
            event: EventDetail {
                state: "DELIVERED".to_string(),
                response_status: Some(200),
                error: None,
                next_delivery_time: None,
            },
            spawn: Vec::new(),
            dlq: None,
            dlq_callback_state: None,
            end_run: None,
        }])
        .await
        .expect("finish");
        let next = hot.claim_due(now, 16).await.expect("claim");
        turns.push(start.elapsed());
        current = next.into_iter().next().expect("the key's next message");
    }
    println!(
        "{n} behind one key  finish + next claim: {}",
        percentiles(turns)
    );
    hot.close().await;

    let many = SqliteStore::open(dir.path().join("many.db")).expect("open");
    fill(&many, k, 100, now).await;
    let start = Instant::now();
    many.claim_due(now, 16).await.expect("claim");
    let mut passes = 1;
    while many.next_due(now).await.expect("next_due") <= Some(now) {
        many.claim_due(now, 1024).await.expect("claim");
        passes += 1;
    }
    println!(
        "{k} keys x 100: first claims (sort the backlogs once, {passes} claims) {:.1} ms",
        start.elapsed().as_secs_f64() * 1e3
    );
    let samples = plain_claims(&many, &mut now, "m", samples_n).await;
    println!(
        "{k} keys x 100                  claim: {}",
        percentiles(samples)
    );
    many.close().await;
}
