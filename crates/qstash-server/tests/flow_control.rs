//! Flow control over real HTTP (`SERVER.md` §8): a loopback destination measures how many
//! attempts of a key overlap and when they start.
//!
//! Each check is a function of the store the server runs on, so that the same checks run on
//! any backend: the `#[tokio::test]`s below run them on a fresh SQLite file, and on PostgreSQL
//! (each in a schema of its own; `#[ignore]`d, run with `--include-ignored` and
//! `QSTASH_TEST_DATABASE_URL` naming a test database), where
//! two servers sharing one database also share a key's parallelism.

mod common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::{Request, State};
use axum::http::StatusCode;
use common::{CURRENT_KEY, NEXT_KEY, OTHER_TOKEN, TOKEN, http_client};
use qstash_server::{RunningServer, Server};
use qstash_store::Store;
use qstash_store::sqlite::SqliteStore;
use serde_json::{Value, json};
use tokio::sync::{Notify, watch};

/// The fields of a key's JSON, upstream's names.
const FIELDS: [&str; 8] = [
    "flowControlKey",
    "waitListSize",
    "parallelismMax",
    "parallelismCount",
    "rateMax",
    "rateCount",
    "ratePeriod",
    "ratePeriodStart",
];

/// One request the destination received.
#[derive(Debug, Clone)]
struct Start {
    path: String,
    at: Instant,
    retried: Option<String>,
}

/// A loopback destination that counts the requests it is answering at once. `/hold/{ms}/…`
/// answers 200 after `ms` milliseconds; `/gate/…` answers 200 once the gate is opened.
#[derive(Clone)]
struct Meter {
    url: String,
    active: Arc<AtomicUsize>,
    max_active: Arc<AtomicUsize>,
    starts: Arc<Mutex<Vec<Start>>>,
    done: Arc<Mutex<Vec<String>>>,
    notify: Arc<Notify>,
    gate: watch::Sender<bool>,
}

impl Meter {
    async fn start() -> Meter {
        let meter = Meter {
            url: String::new(),
            active: Arc::default(),
            max_active: Arc::default(),
            starts: Arc::default(),
            done: Arc::default(),
            notify: Arc::default(),
            gate: watch::channel(false).0,
        };
        let app = Router::new().fallback(answer).with_state(meter.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        Meter {
            url: format!("http://{addr}"),
            ..meter
        }
    }

    fn starts(&self, prefix: &str) -> Vec<Start> {
        let starts = self.starts.lock().unwrap();
        starts
            .iter()
            .filter(|s| s.path.starts_with(prefix))
            .cloned()
            .collect()
    }

    fn done(&self, prefix: &str) -> usize {
        let done = self.done.lock().unwrap();
        done.iter().filter(|p| p.starts_with(prefix)).count()
    }

    fn max_active(&self) -> usize {
        self.max_active.load(Ordering::SeqCst)
    }

    fn open_gate(&self) {
        self.gate.send_replace(true);
    }

    /// Waits until `cond` holds (checked after each request starts or ends).
    async fn wait(&self, what: &str, within: Duration, mut cond: impl FnMut(&Meter) -> bool) {
        let deadline = Instant::now() + within;
        loop {
            let notified = self.notify.notified();
            if cond(self) {
                return;
            }
            if tokio::time::timeout_at(deadline.into(), notified)
                .await
                .is_err()
            {
                assert!(cond(self), "waited {within:?} for {what}");
                return;
            }
        }
    }
}

async fn answer(State(m): State<Meter>, req: Request) -> StatusCode {
    let path = req.uri().path().to_owned();
    let now = m.active.fetch_add(1, Ordering::SeqCst) + 1;
    m.max_active.fetch_max(now, Ordering::SeqCst);
    m.starts.lock().unwrap().push(Start {
        path: path.clone(),
        at: Instant::now(),
        retried: req
            .headers()
            .get("Upstash-Retried")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned),
    });
    m.notify.notify_waiters();
    if let Some(rest) = path.strip_prefix("/hold/") {
        let ms: u64 = rest.split('/').next().unwrap().parse().unwrap();
        tokio::time::sleep(Duration::from_millis(ms)).await;
    } else if path.starts_with("/gate/") {
        let mut open = m.gate.subscribe();
        let _ = open.wait_for(|o| *o).await;
    }
    m.active.fetch_sub(1, Ordering::SeqCst);
    m.done.lock().unwrap().push(path);
    m.notify.notify_waiters();
    StatusCode::OK
}

/// A server with two tenants on `store`.
struct Api {
    server: RunningServer,
    url: String,
    http: reqwest::Client,
}

impl Api {
    async fn start(store: Arc<dyn Store>) -> Api {
        let server = Server::builder(store)
            .token(TOKEN)
            .unwrap()
            .token(OTHER_TOKEN)
            .unwrap()
            .signing_keys(CURRENT_KEY, NEXT_KEY)
            .shutdown_grace(Duration::from_secs(1))
            .start()
            .await
            .unwrap();
        Api {
            url: server.url(),
            server,
            http: http_client(),
        }
    }

    async fn publish(&self, token: &str, destination: &str, key: &str, value: &str) -> String {
        let resp = self
            .http
            .post(format!("{}/v2/publish/{destination}", self.url))
            .bearer_auth(token)
            .header("Upstash-Flow-Control-Key", key)
            .header("Upstash-Flow-Control-Value", value)
            .body("x")
            .send()
            .await
            .unwrap();
        let status = resp.status();
        let v: Value = resp.json().await.unwrap();
        assert!(status.is_success(), "publish answered {status}: {v}");
        v["messageId"].as_str().unwrap().to_owned()
    }

    /// Publishes `n` messages with one flow-control value in one batch.
    async fn batch(&self, n: usize, destination: &str, key: &str, value: &str) {
        self.batch_values(destination, key, &vec![value; n]).await;
    }

    /// Publishes one message per value in one batch, to `{destination}/{i}`.
    async fn batch_values(&self, destination: &str, key: &str, values: &[&str]) {
        let entries: Vec<Value> = values
            .iter()
            .enumerate()
            .map(|(i, value)| {
                json!({
                    "destination": format!("{destination}/{i}"),
                    "headers": {
                        "Upstash-Flow-Control-Key": key,
                        "Upstash-Flow-Control-Value": value,
                    },
                    "body": "x",
                })
            })
            .collect();
        let resp = self
            .http
            .post(format!("{}/v2/batch", self.url))
            .bearer_auth(TOKEN)
            .json(&entries)
            .send()
            .await
            .unwrap();
        assert!(resp.status().is_success(), "batch: {}", resp.status());
    }

    /// `GET /v2/flowControl/{key}`: the status and the body.
    async fn key(&self, token: &str, key: &str) -> (u16, Value) {
        let resp = self
            .http
            .get(format!("{}/v2/flowControl/{key}", self.url))
            .bearer_auth(token)
            .send()
            .await
            .unwrap();
        (resp.status().as_u16(), resp.json().await.unwrap())
    }

    /// `GET /v2/flowControl`.
    async fn keys(&self, token: &str) -> Vec<Value> {
        let resp = self
            .http
            .get(format!("{}/v2/flowControl", self.url))
            .bearer_auth(token)
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 200);
        resp.json().await.unwrap()
    }
}

fn sqlite() -> (Arc<dyn Store>, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(dir.path().join("qstash.db")).unwrap();
    (Arc::new(store), dir)
}

/// parallelism=2: 20 messages, never more than 2 at the destination at once.
pub async fn parallelism_caps_overlap(store: Arc<dyn Store>) {
    let api = Api::start(store).await;
    let meter = Meter::start().await;
    api.batch(
        20,
        &format!("{}/hold/60/p", meter.url),
        "p2",
        "parallelism=2",
    )
    .await;
    meter
        .wait("20 deliveries", Duration::from_secs(20), |m| {
            m.done("/hold/60/p") == 20
        })
        .await;
    assert_eq!(meter.max_active(), 2, "two at once, never more");
    assert_eq!(meter.starts("/hold/60/p").len(), 20, "each attempted once");
    api.server.shutdown().await;
}

/// rate=5 per 1 s: 15 messages due at once start in three bursts of 5, a period apart.
pub async fn rate_caps_starts_per_window(store: Arc<dyn Store>) {
    let api = Api::start(store).await;
    let meter = Meter::start().await;
    api.batch(
        15,
        &format!("{}/hold/0/r", meter.url),
        "r5",
        "rate=5, period=1s",
    )
    .await;
    meter
        .wait("the first window", Duration::from_secs(5), |m| {
            m.starts("/hold/0/r").len() >= 5
        })
        .await;
    let (status, info) = api.key(TOKEN, "r5").await;
    assert_eq!(status, 200);
    assert_eq!(
        (info["rateMax"].as_u64(), info["ratePeriod"].as_u64()),
        (Some(5), Some(1))
    );
    assert!(info["rateCount"].as_u64().unwrap() >= 1, "{info}");
    assert!(
        info["ratePeriodStart"].as_u64().unwrap() > 1_700_000_000,
        "{info}"
    );
    meter
        .wait("15 deliveries", Duration::from_secs(10), |m| {
            m.done("/hold/0/r") == 15
        })
        .await;
    let mut at: Vec<Instant> = meter.starts("/hold/0/r").iter().map(|s| s.at).collect();
    at.sort();
    assert_eq!(at.len(), 15, "each attempted once");
    // Any six consecutive starts span two windows: at least a period apart (less a margin
    // for the time between a claim and its request's arrival).
    for i in 0..at.len() - 5 {
        let span = at[i + 5] - at[i];
        assert!(
            span >= Duration::from_millis(900),
            "starts {i}..={} within {span:?}",
            i + 5
        );
    }
    api.server.shutdown().await;
}

/// A message that waits for its key consumes no retry: every attempt is a first one.
pub async fn waiting_consumes_no_retry(store: Arc<dyn Store>) {
    let api = Api::start(store).await;
    let meter = Meter::start().await;
    api.batch(
        6,
        &format!("{}/hold/40/w", meter.url),
        "w1",
        "parallelism=1",
    )
    .await;
    meter
        .wait("6 deliveries", Duration::from_secs(10), |m| {
            m.done("/hold/40/w") == 6
        })
        .await;
    let starts = meter.starts("/hold/40/w");
    assert_eq!(starts.len(), 6, "each attempted once");
    for s in &starts {
        assert_eq!(s.retried.as_deref(), Some("0"), "{s:?}");
    }
    assert_eq!(meter.max_active(), 1);
    let events: Value = api
        .http
        .get(format!("{}/v2/events?state=RETRY", api.url))
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(events["events"].as_array().unwrap().len(), 0, "{events}");
    api.server.shutdown().await;
}

/// The endpoints report the live counters in upstream's shape; an idle key stays listed with
/// zero counts; an unknown key is 404; the most recent value applies.
pub async fn endpoints_report_live_counters(store: Arc<dyn Store>) {
    let api = Api::start(store).await;
    let meter = Meter::start().await;
    let (status, body) = api.key(TOKEN, "e").await;
    assert_eq!(status, 404, "{body}");
    assert!(body["error"].is_string());
    assert!(api.keys(TOKEN).await.is_empty());
    // The most recent value applies to every message of the key: the fifth message's.
    let mut values = vec!["parallelism=3"; 4];
    values.push("parallelism=2, rate=100, period=1m");
    api.batch_values(&format!("{}/gate/e", meter.url), "e", &values)
        .await;
    meter
        .wait("two in flight", Duration::from_secs(5), |m| {
            m.starts("/gate/e").len() >= 2
        })
        .await;
    let (status, info) = api.key(TOKEN, "e").await;
    assert_eq!(status, 200);
    let mut names: Vec<&str> = info
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    names.sort_unstable();
    let mut expected = FIELDS.to_vec();
    expected.sort_unstable();
    assert_eq!(names, expected, "{info}");
    assert_eq!(info["flowControlKey"], "e");
    assert_eq!(info["parallelismMax"], 2);
    assert!(info["parallelismCount"].as_u64().unwrap() <= 2, "{info}");
    assert_eq!(info["rateMax"], 100);
    assert_eq!(info["ratePeriod"], 60);
    assert_eq!(
        info["parallelismCount"].as_u64().unwrap() + info["waitListSize"].as_u64().unwrap(),
        5 - meter.done("/gate/e") as u64,
        "{info}"
    );
    // Nothing more starts while the gate holds the two.
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(meter.starts("/gate/e").len(), 2);
    let (_, info) = api.key(TOKEN, "e").await;
    assert_eq!(
        (
            info["parallelismCount"].as_u64(),
            info["waitListSize"].as_u64()
        ),
        (Some(2), Some(3))
    );
    assert_eq!(info["rateCount"].as_u64(), Some(2), "{info}");
    let listed = api.keys(TOKEN).await;
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0]["flowControlKey"], "e");
    meter.open_gate();
    meter
        .wait("5 deliveries", Duration::from_secs(10), |m| {
            m.done("/gate/e") == 5
        })
        .await;
    assert_eq!(meter.max_active(), 2);
    // Idle: still listed, nothing in flight or waiting (the finish is committed a moment
    // after the destination answered).
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let (_, info) = api.key(TOKEN, "e").await;
        if info["parallelismCount"] == 0 && info["waitListSize"] == 0 {
            break;
        }
        assert!(Instant::now() < deadline, "still busy: {info}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(api.keys(TOKEN).await.len(), 1, "an idle key stays listed");
    let (status, _) = api.key(OTHER_TOKEN, "e").await;
    assert_eq!(status, 404, "another tenant's key");
    assert!(api.keys(OTHER_TOKEN).await.is_empty());
    api.server.shutdown().await;
}

/// Keys are per tenant: two tenants with the same key name each get their own parallelism.
pub async fn tenants_have_their_own_keys(store: Arc<dyn Store>) {
    let api = Api::start(store).await;
    let meter = Meter::start().await;
    for token in [TOKEN, OTHER_TOKEN] {
        for i in 0..3 {
            api.publish(
                token,
                &format!("{}/gate/t/{token}/{i}", meter.url),
                "shared",
                "parallelism=1",
            )
            .await;
        }
    }
    meter
        .wait("one of each tenant", Duration::from_secs(5), |m| {
            m.starts("/gate/t").len() >= 2
        })
        .await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(meter.starts("/gate/t").len(), 2, "one in flight per tenant");
    for token in [TOKEN, OTHER_TOKEN] {
        assert_eq!(meter.starts(&format!("/gate/t/{token}")).len(), 1);
        let (status, info) = api.key(token, "shared").await;
        assert_eq!(status, 200);
        assert_eq!(
            (
                info["parallelismCount"].as_u64(),
                info["waitListSize"].as_u64()
            ),
            (Some(1), Some(2))
        );
    }
    meter.open_gate();
    meter
        .wait("6 deliveries", Duration::from_secs(10), |m| {
            m.done("/gate/t") == 6
        })
        .await;
    assert_eq!(meter.max_active(), 2);
    api.server.shutdown().await;
}

/// A trigger's flow control belongs to its run: the key and its limits are known.
pub async fn a_triggered_run_carries_its_flow_control(store: Arc<dyn Store>) {
    let api = Api::start(store).await;
    let meter = Meter::start().await;
    let resp = api
        .http
        .post(format!("{}/v2/trigger/{}/hold/0/wf", api.url, meter.url))
        .bearer_auth(TOKEN)
        .header("Upstash-Flow-Control-Key", "wf-key")
        .header("Upstash-Flow-Control-Value", "parallelism=4, rate=9")
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200, "{}", resp.text().await.unwrap());
    let (status, info) = api.key(TOKEN, "wf-key").await;
    assert_eq!(status, 200, "{info}");
    assert_eq!(
        (info["parallelismMax"].as_u64(), info["rateMax"].as_u64()),
        (Some(4), Some(9))
    );
    meter
        .wait("the run's first delivery", Duration::from_secs(5), |m| {
            m.done("/hold/0/wf") == 1
        })
        .await;
    api.server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn parallelism_two_never_overlaps_more_than_two() {
    let (store, _dir) = sqlite();
    parallelism_caps_overlap(store).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rate_five_per_second_starts_at_most_five_per_window() {
    let (store, _dir) = sqlite();
    rate_caps_starts_per_window(store).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_waiting_message_is_not_retried() {
    let (store, _dir) = sqlite();
    waiting_consumes_no_retry(store).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_endpoints_report_the_live_counters() {
    let (store, _dir) = sqlite();
    endpoints_report_live_counters(store).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_tenants_have_their_own_keys() {
    let (store, _dir) = sqlite();
    tenants_have_their_own_keys(store).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_trigger_passes_its_flow_control_to_the_run() {
    let (store, _dir) = sqlite();
    a_triggered_run_carries_its_flow_control(store).await;
}

// ---------------------------------------------------------------------------------------------
// PostgreSQL: the same checks, and two servers on one database.

/// The test database's URL. These tests are `#[ignore]`d: they run only when asked
/// (`--include-ignored`, as `.ci/run` does), and then a missing URL is a failure, never a pass.
fn database_url() -> String {
    match std::env::var("QSTASH_TEST_DATABASE_URL") {
        Ok(url) if !url.trim().is_empty() => url,
        _ => panic!(
            "QSTASH_TEST_DATABASE_URL is not set: the PostgreSQL tests need a database (start \
             one with `.ci/pg start DIR` and export the URL it prints)"
        ),
    }
}

/// A schema of its own on the test database, dropped at the end.
struct Schema {
    url: String,
    name: String,
}

impl Schema {
    fn new(url: &str) -> Schema {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        Schema {
            url: url.to_owned(),
            name: format!(
                "qfc_{}_{}",
                std::process::id(),
                NEXT.fetch_add(1, Ordering::SeqCst)
            ),
        }
    }

    async fn store(&self) -> Arc<dyn Store> {
        let options = qstash_store::postgres::PgOptions {
            schema: Some(self.name.clone()),
            pool_size: 8,
            ..Default::default()
        };
        Arc::new(
            qstash_store::postgres::PgStore::connect(&self.url, options)
                .await
                .unwrap(),
        )
    }

    async fn drop_schema(self) {
        let (client, connection) = tokio_postgres::connect(&self.url, tokio_postgres::NoTls)
            .await
            .unwrap();
        tokio::spawn(connection);
        client
            .batch_execute(&format!("DROP SCHEMA IF EXISTS \"{}\" CASCADE", self.name))
            .await
            .unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs PostgreSQL: set QSTASH_TEST_DATABASE_URL (.ci/run starts one)"]
async fn the_checks_on_postgres() {
    let url = database_url();
    let schema = Schema::new(&url);
    parallelism_caps_overlap(schema.store().await).await;
    schema.drop_schema().await;
    let schema = Schema::new(&url);
    rate_caps_starts_per_window(schema.store().await).await;
    schema.drop_schema().await;
    let schema = Schema::new(&url);
    waiting_consumes_no_retry(schema.store().await).await;
    schema.drop_schema().await;
    let schema = Schema::new(&url);
    endpoints_report_live_counters(schema.store().await).await;
    schema.drop_schema().await;
    let schema = Schema::new(&url);
    tenants_have_their_own_keys(schema.store().await).await;
    schema.drop_schema().await;
    let schema = Schema::new(&url);
    a_triggered_run_carries_its_flow_control(schema.store().await).await;
    schema.drop_schema().await;
}

/// Two servers (as two processes would) on one PostgreSQL database: together they never have
/// more than the key's parallelism in flight, and they share the work.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs PostgreSQL: set QSTASH_TEST_DATABASE_URL (.ci/run starts one)"]
async fn two_servers_on_postgres_share_a_keys_parallelism() {
    let url = database_url();
    let schema = Schema::new(&url);
    let a = Api::start(schema.store().await).await;
    let b = Api::start(schema.store().await).await;
    let meter = Meter::start().await;
    // Half the messages through each server.
    a.batch(
        10,
        &format!("{}/hold/60/two/a", meter.url),
        "two",
        "parallelism=2",
    )
    .await;
    b.batch(
        10,
        &format!("{}/hold/60/two/b", meter.url),
        "two",
        "parallelism=2",
    )
    .await;
    meter
        .wait("20 deliveries", Duration::from_secs(30), |m| {
            m.done("/hold/60/two") == 20
        })
        .await;
    assert_eq!(
        meter.max_active(),
        2,
        "two at once across both servers, never more"
    );
    assert_eq!(
        meter.starts("/hold/60/two").len(),
        20,
        "each attempted once"
    );
    let (status, info) = b.key(TOKEN, "two").await;
    assert_eq!(status, 200);
    assert_eq!(info["parallelismMax"], 2);
    a.server.shutdown().await;
    b.server.shutdown().await;
    schema.drop_schema().await;
}
