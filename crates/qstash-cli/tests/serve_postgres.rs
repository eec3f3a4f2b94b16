//! `qstash serve --database-url postgres://…`: the real binary on a real PostgreSQL, two
//! processes sharing one database.
//!
//! The database comes from `QSTASH_TEST_DATABASE_URL` (`.ci/pg start DIR` starts one); each
//! test works in a schema of its own. Without the variable the tests pass after saying on
//! stderr that they did not run, unless `QSTASH_REQUIRE_POSTGRES=1`, where they fail.

use std::collections::HashSet;
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::State;
use axum::http::HeaderMap;
use tokio_postgres::NoTls;

const TOKEN: &str = "pg-serve-test-token";

fn database_url() -> Option<String> {
    match std::env::var("QSTASH_TEST_DATABASE_URL") {
        Ok(url) if !url.trim().is_empty() => Some(url),
        _ => {
            assert!(
                std::env::var("QSTASH_REQUIRE_POSTGRES").as_deref() != Ok("1"),
                "QSTASH_REQUIRE_POSTGRES=1 but QSTASH_TEST_DATABASE_URL is not set: the \
                 PostgreSQL tests must run (start a server with `.ci/pg start DIR` and export \
                 the URL it prints)"
            );
            // Straight to the stream: the test harness would capture eprintln!.
            use std::io::Write as _;
            let _ = writeln!(
                std::io::stderr(),
                "qstash-cli: the PostgreSQL serve tests did not run: QSTASH_TEST_DATABASE_URL is \
                 not set (see the README, \"PostgreSQL backend\")"
            );
            None
        }
    }
}

/// A fresh schema, and the URL whose connections use it; the schema is dropped at the end.
struct Schema {
    admin: tokio_postgres::Client,
    name: String,
    url: String,
}

impl Schema {
    async fn new(base: &str) -> Schema {
        let (admin, connection) = tokio_postgres::connect(base, NoTls)
            .await
            .expect("connect to the test database");
        tokio::spawn(connection);
        let name = format!("qc_{}_{}", std::process::id(), free_port());
        admin
            .batch_execute(&format!("CREATE SCHEMA \"{name}\""))
            .await
            .unwrap();
        let sep = if base.contains('?') { '&' } else { '?' };
        let url = format!("{base}{sep}options=-csearch_path%3D{name}");
        Schema { admin, name, url }
    }

    async fn drop_schema(self) {
        self.admin
            .batch_execute(&format!("DROP SCHEMA \"{}\" CASCADE", self.name))
            .await
            .unwrap();
    }
}

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

/// Starts `qstash serve` on `url` and waits for its banner; returns it and its base URL.
fn serve(url: &str) -> (Child, String) {
    let port = free_port();
    let mut child = Command::new(env!("CARGO_BIN_EXE_qstash"))
        .args([
            "serve",
            "--listen",
            &format!("127.0.0.1:{port}"),
            "--tokens",
            TOKEN,
            "--pool-size",
            "4",
        ])
        .env("QSTASH_DATABASE_URL", url)
        .env_remove("QSTASH_TOKEN")
        .env_remove("QSTASH_SERVER_TOKENS")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("the qstash binary starts");
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    match lines.next() {
        Some(Ok(line)) if line.contains("qstash server on") => {}
        other => {
            let _ = child.kill();
            panic!("serve did not start: {other:?}");
        }
    }
    (child, format!("http://127.0.0.1:{port}"))
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
async fn two_servers_share_a_postgres_store() {
    let Some(base) = database_url() else { return };
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
    let out = Command::new(env!("CARGO_BIN_EXE_qstash"))
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
    let help = Command::new(env!("CARGO_BIN_EXE_qstash"))
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
