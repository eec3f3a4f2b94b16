//! Flow control across real processes that die: `qstash serve` processes on one PostgreSQL
//! database never have more than a key's parallelism in flight together, even when one of
//! them is killed holding an attempt (its attempt counts until its lease ends, then the place
//! is free again).
//!
//! The database comes from `QSTASH_TEST_DATABASE_URL` (`.ci/pg start DIR` starts one); the
//! test works in a schema of its own. It is `#[ignore]`d, so that a plain `cargo test` reports
//! it as not run; `--include-ignored` runs it (as `.ci/run` does), and then a missing variable
//! fails it.

use std::process::Child;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::{Request, State};

mod common;

use common::{Schema, database_url};

const TOKEN: &str = "flow-crash-test-token";

/// `qstash serve` on `url` with a 3 s lease (2 s attempt timeout + 1 s grace).
fn serve(url: &str) -> (Child, String) {
    common::serve(
        url,
        TOKEN,
        &["--delivery-timeout", "2s", "--lease-grace", "1s"],
    )
}

/// What the destination saw.
#[derive(Default)]
struct Seen {
    /// Requests being answered now, and the most at once (the hanging one not counted).
    active: usize,
    max_active: usize,
    /// Arrivals: path and time.
    arrivals: Vec<(String, Instant)>,
    /// Requests answered.
    done: usize,
}

type Shared = Arc<Mutex<Seen>>;

/// `/hang-first/…` never answers the first request and answers 200 after; `/hold/…` answers
/// 200 after 100 ms.
async fn destination(State(seen): State<Shared>, req: Request) -> &'static str {
    let path = req.uri().path().to_owned();
    let first_hang = {
        let mut s = seen.lock().unwrap();
        let first = path.starts_with("/hang-first") && !s.arrivals.iter().any(|(p, _)| *p == path);
        s.arrivals.push((path.clone(), Instant::now()));
        if !first {
            s.active += 1;
            s.max_active = s.max_active.max(s.active);
        }
        first
    };
    if first_hang {
        std::future::pending::<()>().await;
    }
    if path.starts_with("/hold") {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let mut s = seen.lock().unwrap();
    s.active -= 1;
    s.done += 1;
    "ok"
}

async fn publish(http: &reqwest::Client, base: &str, dest: &str) {
    let r = http
        .post(format!("{base}/v2/publish/{dest}"))
        .bearer_auth(TOKEN)
        .header("Upstash-Flow-Control-Key", "crash-key")
        .header("Upstash-Flow-Control-Value", "parallelism=1")
        .body("x")
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success(), "{}", r.status());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs PostgreSQL: set QSTASH_TEST_DATABASE_URL (.ci/run starts one)"]
async fn a_killed_process_holds_its_place_until_its_lease_ends() {
    let base = database_url();
    let schema = Schema::new(&base).await;
    let seen: Shared = Arc::default();
    let app = Router::new().fallback(destination).with_state(seen.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let dest = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    let _ = rustls::crypto::ring::default_provider().install_default();
    let http = reqwest::Client::new();

    // A takes the key's one place and dies holding it.
    let (mut a, a_url) = serve(&schema.url);
    publish(&http, &a_url, &format!("{dest}/hang-first/m1")).await;
    let deadline = Instant::now() + Duration::from_secs(20);
    while seen.lock().unwrap().arrivals.is_empty() {
        assert!(
            Instant::now() < deadline,
            "the first attempt did not arrive"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let claimed_at = seen.lock().unwrap().arrivals[0].1;
    a.kill().unwrap();
    a.wait().unwrap();

    // Two live processes (B, and A started again) with four more messages of the key.
    let (mut b, b_url) = serve(&schema.url);
    let (mut a2, a2_url) = serve(&schema.url);
    for i in 0..4 {
        let base = if i % 2 == 0 { &b_url } else { &a2_url };
        publish(&http, base, &format!("{dest}/hold/{i}")).await;
    }
    // The dead attempt's lease (3 s) ends, then its message and the four go one at a time.
    let deadline = Instant::now() + Duration::from_secs(30);
    while seen.lock().unwrap().done < 5 {
        assert!(Instant::now() < deadline, "not everything was delivered");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    {
        let s = seen.lock().unwrap();
        assert_eq!(s.max_active, 1, "parallelism=1 across the processes");
        let first_hold = s
            .arrivals
            .iter()
            .filter(|(p, _)| p.starts_with("/hold"))
            .map(|(_, at)| *at)
            .min()
            .unwrap();
        let waited = first_hold - claimed_at;
        assert!(
            waited >= Duration::from_millis(2500),
            "the dead process's attempt stopped counting after {waited:?}, before its lease ended"
        );
        let retried = s
            .arrivals
            .iter()
            .filter(|(p, _)| p == "/hang-first/m1")
            .count();
        assert_eq!(retried, 2, "the dead process's attempt was made again");
    }

    for child in [&mut b, &mut a2] {
        child.kill().unwrap();
        child.wait().unwrap();
    }
    schema.drop_schema().await;
}
