//! `qstash serve --database-url postgres://…`: the real binary on a real PostgreSQL, two
//! processes sharing one database.
//!
//! The database comes from `QSTASH_TEST_DATABASE_URL` (`.ci/pg start DIR` starts one); each
//! test works in a schema of its own. The tests are `#[ignore]`d, so that a plain `cargo test`
//! reports them as not run; `--include-ignored` runs them (as `.ci/run` does), and then a
//! missing variable fails them.

use std::collections::HashSet;
use std::process::Child;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::State;
use axum::http::HeaderMap;

mod common;

use common::{Schema, database_url, free_port};

const TOKEN: &str = "pg-serve-test-token";

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

/// Starts `qstash serve` on `url` and waits for its banner; returns it and its base URL.
fn serve(url: &str) -> (Child, String) {
    serve_with(url, &[])
}

/// [`serve`] with more arguments.
fn serve_with(url: &str, extra: &[&str]) -> (Child, String) {
    common::serve(url, TOKEN, extra)
}

fn http() -> reqwest::Client {
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::new()
}

async fn publish(http: &reqwest::Client, base: &str, dest: &str, delay: &str) -> String {
    let r = http
        .post(format!("{base}/v2/publish/{dest}"))
        .bearer_auth(TOKEN)
        .header("Upstash-Delay", delay)
        .body("hi")
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success(), "{}", r.status());
    let body: serde_json::Value = r.json().await.unwrap();
    body["messageId"].as_str().unwrap().to_owned()
}

async fn wait_seen(seen: &Seen, id: &str, within: Duration) {
    let deadline = Instant::now() + within;
    while !seen.lock().unwrap().contains(id) {
        assert!(Instant::now() < deadline, "{id} was not delivered");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Two servers share one database: each delivers what it accepts, and a delayed message
/// accepted by a server killed before it is due is delivered by the other one, which was idle
/// and learns of the message from the database's notification.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs PostgreSQL: set QSTASH_TEST_DATABASE_URL (.ci/run starts one)"]
async fn two_servers_share_a_postgres_store() {
    let base = database_url();
    let schema = Schema::new(&base).await;
    let (dest, seen) = sink().await;
    let http = http();
    let (mut a, a_url) = serve(&schema.url);
    let (mut b, b_url) = serve(&schema.url);

    let id = publish(&http, &a_url, &format!("{dest}/now"), "0s").await;
    wait_seen(&seen, &id, Duration::from_secs(20)).await;
    // The other server sees the message and its events.
    let r = http
        .get(format!("{b_url}/v2/messages/{id}"))
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success(), "{}", r.status());

    // Accepted by A, due in 2 s; A dies at once. B slept with nothing due: only the
    // notification tells it about the message before its hour of sleep ends.
    let id = publish(&http, &a_url, &format!("{dest}/later"), "2s").await;
    a.kill().unwrap();
    a.wait().unwrap();
    wait_seen(&seen, &id, Duration::from_secs(20)).await;

    b.kill().unwrap();
    b.wait().unwrap();
    schema.drop_schema().await;
}

#[test]
fn an_unreachable_postgres_is_reported_without_the_password() {
    let port = free_port();
    let out = common::qstash()
        .args(["serve", "--tokens", TOKEN, "--listen"])
        .arg(format!("127.0.0.1:{}", free_port()))
        .env(
            "QSTASH_DATABASE_URL",
            format!("postgres://qstash:hunter2-secret@127.0.0.1:{port}/qstash"),
        )
        .env_remove("QSTASH_TOKEN")
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{err}");
    assert!(err.contains("PostgreSQL"), "{err}");
    assert!(!err.contains("hunter2-secret"), "{err}");
    let help = common::qstash()
        .args(["serve", "--help"])
        .env(
            "QSTASH_DATABASE_URL",
            "postgres://qstash:hunter2-secret@127.0.0.1/qstash",
        )
        .output()
        .unwrap();
    let help = String::from_utf8_lossy(&help.stdout);
    assert!(help.contains("--pool-size"), "{help}");
    assert!(!help.contains("hunter2-secret"), "{help}");
}

// ---------------------------------------------------------------------------------------------
// Faults: processes killed mid-delivery, a database that goes away, parallelism across
// processes.

/// One attempt as the destination saw it.
#[derive(Debug, Clone)]
struct Attempt {
    start: Instant,
    /// When the destination answered; `None` while in flight or when the caller went away.
    end: Option<Instant>,
}

/// What the recording destination saw.
#[derive(Debug, Default)]
struct Record {
    /// Every attempt per message id.
    attempts: std::collections::HashMap<String, Vec<Attempt>>,
    /// Attempts in flight per message id.
    in_flight: std::collections::HashMap<String, usize>,
    /// Message ids that were being attempted twice at once.
    overlaps: Vec<String>,
    /// Attempts in flight per flow-control key, and the most there ever were.
    key_in_flight: std::collections::HashMap<String, usize>,
    key_max: std::collections::HashMap<String, usize>,
}

impl Record {
    fn answered(&self, id: &str) -> bool {
        self.attempts
            .get(id)
            .is_some_and(|a| a.iter().any(|a| a.end.is_some()))
    }

    fn started(&self) -> usize {
        self.attempts.values().map(Vec::len).sum()
    }

    fn running(&self) -> usize {
        self.in_flight.values().sum()
    }
}

type Recorded = Arc<Mutex<Record>>;

/// A destination that holds every request for `hold`, recording attempts per message id and
/// the attempts in flight per message id and per `X-Key` header (the flow-control key, which
/// the publisher forwards).
async fn recorder(hold: Duration) -> (String, Recorded) {
    struct Leave {
        record: Recorded,
        id: String,
        key: Option<String>,
        index: usize,
        answered: bool,
    }
    impl Drop for Leave {
        fn drop(&mut self) {
            let mut r = self.record.lock().unwrap();
            *r.in_flight.get_mut(&self.id).unwrap() -= 1;
            if let Some(key) = &self.key {
                *r.key_in_flight.get_mut(key).unwrap() -= 1;
            }
            if self.answered {
                r.attempts.get_mut(&self.id).unwrap()[self.index].end = Some(Instant::now());
            }
        }
    }
    async fn record(
        State((record, hold)): State<(Recorded, Duration)>,
        headers: HeaderMap,
    ) -> &'static str {
        let id = headers
            .get("upstash-message-id")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_owned();
        let key = headers
            .get("x-key")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let mut leave = {
            let mut r = record.lock().unwrap();
            let attempts = r.attempts.entry(id.clone()).or_default();
            attempts.push(Attempt {
                start: Instant::now(),
                end: None,
            });
            let index = attempts.len() - 1;
            let n = r.in_flight.entry(id.clone()).or_default();
            *n += 1;
            if *n > 1 {
                r.overlaps.push(id.clone());
            }
            if let Some(key) = &key {
                let n = r.key_in_flight.entry(key.clone()).or_default();
                *n += 1;
                let n = *n;
                let max = r.key_max.entry(key.clone()).or_default();
                *max = (*max).max(n);
            }
            Leave {
                record: record.clone(),
                id,
                key,
                index,
                answered: false,
            }
        };
        tokio::time::sleep(hold).await;
        leave.answered = true;
        "ok"
    }
    let recorded: Recorded = Arc::default();
    let app = Router::new()
        .fallback(record)
        .with_state((recorded.clone(), hold));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (url, recorded)
}

/// Waits until `done` holds of the record, failing with `what` after `within`.
async fn wait_record(
    record: &Recorded,
    within: Duration,
    what: &str,
    done: impl Fn(&Record) -> bool,
) {
    let deadline = Instant::now() + within;
    loop {
        {
            let r = record.lock().unwrap();
            if done(&r) {
                return;
            }
            assert!(Instant::now() < deadline, "{what}: {r:?}");
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Publishes `body` with `headers`; the message id when the server acknowledged it, else the
/// status (or `None` when the request itself failed).
async fn try_publish(
    http: &reqwest::Client,
    base: &str,
    dest: &str,
    headers: &[(&str, &str)],
) -> Result<String, Option<reqwest::StatusCode>> {
    let mut req = http
        .post(format!("{base}/v2/publish/{dest}"))
        .bearer_auth(TOKEN)
        .timeout(Duration::from_secs(20))
        .body("hi");
    for (name, value) in headers {
        req = req.header(*name, *value);
    }
    let r = req.send().await.map_err(|_| None)?;
    if !r.status().is_success() {
        return Err(Some(r.status()));
    }
    let body: serde_json::Value = r.json().await.map_err(|_| None)?;
    Ok(body["messageId"].as_str().unwrap().to_owned())
}

/// The lease of the fault tests' servers: the attempt's timeout plus the grace, as
/// [`short_leases`] sets them.
const LEASE: Duration = Duration::from_secs(3);

fn short_leases() -> [&'static str; 4] {
    ["--delivery-timeout", "2s", "--lease-grace", "1s"]
}

/// Two servers on one database, messages published to both; one server is killed with SIGKILL
/// while it makes attempts. Every acknowledged message reaches the destination, no message is
/// ever attempted twice at once, and the attempts the dead server had claimed are made again by
/// the other one (same message id) once their lease has ended, not before.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs PostgreSQL: set QSTASH_TEST_DATABASE_URL (.ci/run starts one)"]
async fn a_server_killed_mid_delivery_leaves_its_attempts_to_the_other() {
    let base = database_url();
    let schema = Schema::new(&base).await;
    let (dest, record) = recorder(Duration::from_millis(400)).await;
    let http = http();
    let (mut a, a_url) = serve_with(&schema.url, &short_leases());
    let (mut b, b_url) = serve_with(&schema.url, &short_leases());

    let mut acked = Vec::new();
    for i in 0..200 {
        let server = if i % 2 == 0 { &a_url } else { &b_url };
        let id = try_publish(&http, server, &format!("{dest}/m/{i}"), &[])
            .await
            .expect("both servers accept");
        acked.push(id);
    }
    // Both servers are making attempts (each held 400 ms by the destination): kill A.
    wait_record(&record, Duration::from_secs(20), "attempts started", |r| {
        r.running() >= 8
    })
    .await;
    a.kill().unwrap();
    let killed = Instant::now();
    a.wait().unwrap();

    // B, alive, accepts more meanwhile.
    for i in 0..20 {
        let id = try_publish(&http, &b_url, &format!("{dest}/after/{i}"), &[])
            .await
            .expect("the survivor accepts");
        acked.push(id);
    }
    wait_record(
        &record,
        Duration::from_secs(60),
        "every acknowledged message is answered",
        |r| acked.iter().all(|id| r.answered(id)),
    )
    .await;

    let check = |r: &Record| {
        assert!(
            r.overlaps.is_empty(),
            "attempted twice at once: {:?}",
            r.overlaps
        );
        // The attempts A was making when it died were made again by B: the same message id,
        // attempted a second time, not before the first claim's lease had ended.
        let again: Vec<(&String, &Vec<Attempt>)> =
            r.attempts.iter().filter(|(_, a)| a.len() > 1).collect();
        assert!(
            !again.is_empty(),
            "no attempt of the killed server was made again (it was making some)"
        );
        for (id, attempts) in &again {
            // (The first attempt may reach the destination a moment after the kill: A sent it
            // before it died.)
            let first = attempts[0].start;
            for later in &attempts[1..] {
                assert!(later.start > killed, "{id}: made twice before the kill");
                // The first attempt started a moment after its claim; allow for that.
                assert!(
                    later.start + Duration::from_millis(300) >= first + LEASE,
                    "{id}: made again {:?} after the first attempt, within the lease",
                    later.start - first
                );
            }
        }
    };
    check(&record.lock().unwrap());

    b.kill().unwrap();
    b.wait().unwrap();
    schema.drop_schema().await;
}

/// A TCP proxy between the servers and PostgreSQL that can cut every connection and refuse
/// new ones (an outage), then let them through again.
struct Proxy {
    /// The URL that connects through the proxy.
    url: String,
    open: tokio::sync::watch::Sender<bool>,
}

impl Proxy {
    /// A proxy to the host and port of `url` (`postgres://…@HOST:PORT/…`).
    async fn new(url: &str) -> Proxy {
        let after_scheme = url.find("://").map_or(0, |i| i + 3);
        let start = url[after_scheme..]
            .find('@')
            .map_or(after_scheme, |i| after_scheme + i + 1);
        let end = url[start..].find('/').map_or(url.len(), |i| start + i);
        let upstream = url[start..end].to_owned();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let proxied = format!(
            "{}{}{}",
            &url[..start],
            listener.local_addr().unwrap(),
            &url[end..]
        );
        let (open, _) = tokio::sync::watch::channel(true);
        let watch = open.clone();
        tokio::spawn(async move {
            loop {
                let Ok((mut client, _)) = listener.accept().await else {
                    return;
                };
                let mut gate = watch.subscribe();
                if !*gate.borrow_and_update() {
                    drop(client); // refused: the database is away
                    continue;
                }
                let upstream = upstream.clone();
                tokio::spawn(async move {
                    let Ok(mut server) = tokio::net::TcpStream::connect(&upstream).await else {
                        return;
                    };
                    tokio::select! {
                        _ = tokio::io::copy_bidirectional(&mut client, &mut server) => {}
                        _ = gate.wait_for(|open| !*open) => {}
                    }
                    // Both sides are dropped here: every connection through the proxy is cut.
                });
            }
        });
        Proxy { url: proxied, open }
    }

    fn set_open(&self, open: bool) {
        self.open.send_replace(open);
    }
}

async fn health(http: &reqwest::Client, base: &str) -> Option<reqwest::StatusCode> {
    http.get(format!("{base}/health"))
        .timeout(Duration::from_secs(20))
        .send()
        .await
        .ok()
        .map(|r| r.status())
}

async fn wait_health(http: &reqwest::Client, base: &str, want: reqwest::StatusCode) {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let got = health(http, base).await;
        if got == Some(want) {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "/health answers {got:?}, not {want}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The database goes away for a few seconds (every connection cut, new ones refused) and comes
/// back, while the server keeps running: meanwhile accepts answer 503 and `/health` 503 (never
/// a 2xx for what was not stored); afterwards every message acknowledged before, including
/// ones that came due during the outage, and after is delivered, with no restart of the server.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs PostgreSQL: set QSTASH_TEST_DATABASE_URL (.ci/run starts one)"]
async fn a_database_outage_pauses_the_server_and_it_resumes() {
    let base = database_url();
    let schema = Schema::new(&base).await;
    let proxy = Proxy::new(&schema.url).await;
    let (dest, record) = recorder(Duration::from_millis(20)).await;
    let http = http();
    let (mut server, url) = serve_with(&proxy.url, &short_leases());
    wait_health(&http, &url, reqwest::StatusCode::OK).await;

    // Before: some delivered at once, some due in the middle of the outage.
    let mut acked = Vec::new();
    for i in 0..20 {
        let delay = if i % 2 == 0 { "0s" } else { "2s" };
        let id = try_publish(
            &http,
            &url,
            &format!("{dest}/before/{i}"),
            &[("Upstash-Delay", delay)],
        )
        .await
        .expect("accepted before the outage");
        acked.push(id);
    }
    let now: Vec<String> = acked.iter().step_by(2).cloned().collect();
    wait_record(&record, Duration::from_secs(20), "delivered before", |r| {
        now.iter().all(|id| r.answered(id))
    })
    .await;

    // The outage.
    proxy.set_open(false);
    let outage = Instant::now();
    wait_health(&http, &url, reqwest::StatusCode::SERVICE_UNAVAILABLE).await;
    let mut refused = 0;
    while outage.elapsed() < Duration::from_secs(3) {
        match try_publish(&http, &url, &format!("{dest}/during"), &[]).await {
            Ok(id) => panic!("{id} acknowledged while the database was away"),
            Err(status) => {
                assert_eq!(status, Some(reqwest::StatusCode::SERVICE_UNAVAILABLE));
                refused += 1;
            }
        }
        assert_eq!(
            health(&http, &url).await,
            Some(reqwest::StatusCode::SERVICE_UNAVAILABLE)
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(refused > 0);

    // Back: the same process picks up where it was.
    proxy.set_open(true);
    let back = Instant::now();
    {
        // Nothing is claimed while the database is away (an attempt claimed just before the
        // cut may start a moment after it).
        let r = record.lock().unwrap();
        let during: Vec<&String> = r
            .attempts
            .iter()
            .filter(|(_, a)| {
                a.iter()
                    .any(|a| a.start > outage + Duration::from_millis(500) && a.start < back)
            })
            .map(|(id, _)| id)
            .collect();
        assert!(
            during.is_empty(),
            "attempted while the database was away: {during:?}"
        );
    }
    wait_health(&http, &url, reqwest::StatusCode::OK).await;
    for i in 0..20 {
        let id = try_publish(&http, &url, &format!("{dest}/after/{i}"), &[])
            .await
            .expect("accepted after the outage");
        acked.push(id);
    }
    wait_record(
        &record,
        Duration::from_secs(60),
        "every acknowledged message is delivered after the outage",
        |r| acked.iter().all(|id| r.answered(id)),
    )
    .await;
    assert!(
        server.try_wait().unwrap().is_none(),
        "the server exited during the outage"
    );
    assert!(record.lock().unwrap().overlaps.is_empty());

    server.kill().unwrap();
    server.wait().unwrap();
    schema.drop_schema().await;
}

/// Two servers on one database deliver messages of three flow-control keys of parallelism 2;
/// one server is killed with SIGKILL in the middle. The destination never sees more than two
/// attempts of a key at once (the dead server's claims keep their places until their lease
/// ends), and every acknowledged message is delivered.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs PostgreSQL: set QSTASH_TEST_DATABASE_URL (.ci/run starts one)"]
async fn two_servers_never_exceed_a_keys_parallelism_together() {
    let base = database_url();
    let schema = Schema::new(&base).await;
    let (dest, record) = recorder(Duration::from_millis(250)).await;
    let http = http();
    let (mut a, a_url) = serve_with(&schema.url, &short_leases());
    let (mut b, b_url) = serve_with(&schema.url, &short_leases());

    let mut acked = Vec::new();
    for i in 0..60 {
        let server = if i % 2 == 0 { &a_url } else { &b_url };
        let key = format!("key-{}", i % 3);
        let id = try_publish(
            &http,
            server,
            &format!("{dest}/k/{i}"),
            &[
                ("Upstash-Flow-Control-Key", &key),
                ("Upstash-Flow-Control-Value", "parallelism=2"),
                ("Upstash-Forward-X-Key", &key),
            ],
        )
        .await
        .expect("both servers accept");
        acked.push(id);
    }
    wait_record(&record, Duration::from_secs(20), "attempts started", |r| {
        r.started() >= 12
    })
    .await;
    a.kill().unwrap();
    a.wait().unwrap();

    wait_record(
        &record,
        Duration::from_secs(90),
        "every acknowledged message is delivered",
        |r| acked.iter().all(|id| r.answered(id)),
    )
    .await;
    let check = |r: &Record| {
        assert!(
            r.overlaps.is_empty(),
            "attempted twice at once: {:?}",
            r.overlaps
        );
        assert_eq!(r.key_max.len(), 3, "{:?}", r.key_max);
        for (key, max) in &r.key_max {
            assert!(*max <= 2, "{key}: {max} attempts at once, parallelism 2");
        }
        assert!(
            r.key_max.values().any(|&max| max == 2),
            "no key ever had two attempts at once: {:?}",
            r.key_max
        );
    };
    check(&record.lock().unwrap());

    b.kill().unwrap();
    b.wait().unwrap();
    schema.drop_schema().await;
}
