//! `qstash serve` with several tenants (SERVER.md §2, §11.1, §11.2), as an operator runs it:
//! each tenant's own signing keys (checked with the official `@upstash/qstash` `Receiver`, run
//! by Node from `examples/workflow`), the shared-key flags, where the tenants come from, and
//! who may read `/metrics`.
//!
//! The example's packages come from `npm ci` (`.ci/run` does it; these tests do it too when
//! `node_modules` is missing).

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use qstash_test_support::node::{example_workflow_dir, npm_ci};
use serde_json::{Value, json};

mod common;

use common::{Schema, database_url, free_port, qstash};

const A: &str = "tenant-a-token";
const B: &str = "tenant-b-token";
const WAIT: Duration = Duration::from_secs(30);

/// A running server; killed when dropped.
struct Running {
    child: Child,
    base: String,
    /// The banner's lines after the first.
    banner: Vec<String>,
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts `qstash serve` on the store `url` with `args` and `env`, waits for its banner.
fn serve(url: &str, args: &[&str], env: &[(&str, &str)]) -> Running {
    let port = free_port();
    let mut child = qstash()
        .args(["serve", "--listen", &format!("127.0.0.1:{port}")])
        .args(["--pool-size", "4", "--database-url", url])
        .args(["--allow-destination", "127.0.0.0/8"])
        .args(args)
        .envs(env.iter().copied())
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
    let mut banner = Vec::new();
    if args.contains(&"--metrics-listen") {
        banner.push(lines.next().unwrap().unwrap());
    }
    Running {
        child,
        base: format!("http://127.0.0.1:{port}"),
        banner,
    }
}

fn http() -> reqwest::Client {
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::new()
}

/// `(current, next)` of the tenant of `token`.
async fn keys(http: &reqwest::Client, base: &str, token: &str) -> (String, String) {
    let r = http
        .get(format!("{base}/v2/keys"))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "GET /v2/keys");
    let v: Value = r.json().await.unwrap();
    (
        v["current"].as_str().unwrap().to_owned(),
        v["next"].as_str().unwrap().to_owned(),
    )
}

async fn rotate(http: &reqwest::Client, base: &str, token: &str) -> (String, String) {
    let r = http
        .post(format!("{base}/v2/keys/rotate"))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "POST /v2/keys/rotate");
    let v: Value = r.json().await.unwrap();
    (
        v["current"].as_str().unwrap().to_owned(),
        v["next"].as_str().unwrap().to_owned(),
    )
}

async fn publish(
    http: &reqwest::Client,
    base: &str,
    token: &str,
    dest: &str,
    body: &str,
    headers: &[(&str, &str)],
) {
    let mut req = http
        .post(format!("{base}/v2/publish/{dest}"))
        .bearer_auth(token)
        .body(body.to_owned());
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let r = req.send().await.unwrap();
    assert_eq!(
        r.status(),
        201,
        "publish to {dest}: {}",
        r.text().await.unwrap()
    );
}

/// One request the sink received.
#[derive(Debug, Clone)]
struct Delivery {
    url: String,
    signature: String,
    body: String,
}

/// A loopback HTTP endpoint that answers 200 to every request and hands each one over.
fn sink() -> (String, mpsc::Receiver<Delivery>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let (tx, rx) = mpsc::channel();
    let origin = base.clone();
    std::thread::spawn(move || {
        for conn in listener.incoming() {
            let Ok(mut conn) = conn else { continue };
            let tx = tx.clone();
            let origin = origin.clone();
            std::thread::spawn(move || {
                let mut reader = BufReader::new(conn.try_clone().unwrap());
                let mut line = String::new();
                reader.read_line(&mut line).unwrap();
                let path = line.split(' ').nth(1).unwrap_or("/").to_owned();
                let (mut signature, mut length) = (String::new(), 0usize);
                loop {
                    let mut h = String::new();
                    reader.read_line(&mut h).unwrap();
                    let h = h.trim_end();
                    if h.is_empty() {
                        break;
                    }
                    let (name, value) = h.split_once(':').unwrap();
                    match name.to_ascii_lowercase().as_str() {
                        "upstash-signature" => signature = value.trim().to_owned(),
                        "content-length" => length = value.trim().parse().unwrap(),
                        _ => {}
                    }
                }
                let mut body = vec![0; length];
                reader.read_exact(&mut body).unwrap();
                conn.write_all(
                    b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok",
                )
                .unwrap();
                let _ = tx.send(Delivery {
                    url: format!("{origin}{path}"),
                    signature,
                    body: String::from_utf8(body).unwrap(),
                });
            });
        }
    });
    (base, rx)
}

/// The next delivery to `path` (others are skipped), within [`WAIT`].
fn next_to(rx: &mpsc::Receiver<Delivery>, path: &str) -> Delivery {
    let deadline = Instant::now() + WAIT;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let d = rx
            .recv_timeout(left)
            .unwrap_or_else(|_| panic!("no delivery to {path} within {WAIT:?}"));
        if d.url.ends_with(path) {
            return d;
        }
    }
}

const VERIFY: &str = r#"
const { Receiver } = require("@upstash/qstash");
let input = "";
process.stdin.on("data", (chunk) => (input += chunk));
process.stdin.on("end", async () => {
  const results = [];
  for (const c of JSON.parse(input)) {
    const receiver = new Receiver({ currentSigningKey: c.current, nextSigningKey: c.next });
    try {
      results.push(await receiver.verify({ signature: c.signature, body: c.body, url: c.url }) === true);
    } catch (e) {
      results.push(false);
    }
  }
  process.stdout.write(JSON.stringify(results));
});
"#;

/// Whether the official `Receiver` with keys `(current, next)` accepts each delivery.
fn receiver_accepts(cases: &[(&Delivery, &(String, String))]) -> Vec<bool> {
    let input: Vec<Value> = cases
        .iter()
        .map(|(d, (current, next))| {
            json!({"signature": d.signature, "body": d.body, "url": d.url,
                   "current": current, "next": next})
        })
        .collect();
    let mut child = Command::new("node")
        .args(["-e", VERIFY])
        .env("NODE_PATH", node_modules())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("node must be installed to run the signing-key tests");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(serde_json::to_string(&input).unwrap().as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "node failed");
    serde_json::from_slice(&out.stdout).expect("node printed the results")
}

/// Two tenants on one `serve` (tokens given as `--tokens A --tokens B`): different keys, each
/// kept across reads; B's rotation leaves A's alone; A's deliveries and callbacks verify with
/// A's keys through the official receiver and fail with B's, and B's the other way round, also
/// after B's rotation.
async fn two_tenants_have_their_own_keys(store_url: &str) {
    let http = http();
    let server = serve(store_url, &["--tokens", A, "--tokens", B], &[]);
    let base = &server.base;
    let keys_a = keys(&http, base, A).await;
    let keys_b = keys(&http, base, B).await;
    assert_ne!(keys_a.0, keys_b.0, "tenants must not share a current key");
    assert_ne!(keys_a.1, keys_b.1, "tenants must not share a next key");
    assert_eq!(
        keys(&http, base, A).await,
        keys_a,
        "a tenant's pair is kept"
    );

    let rotated_b = rotate(&http, base, B).await;
    assert_eq!(rotated_b.0, keys_b.1, "rotation makes next current");
    assert_ne!(rotated_b.1, keys_b.1, "rotation makes a new next key");
    assert_eq!(keys(&http, base, B).await, rotated_b);
    assert_eq!(
        keys(&http, base, A).await,
        keys_a,
        "B's rotation must leave A's keys alone"
    );

    let (sink, rx) = sink();
    publish(
        &http,
        base,
        A,
        &format!("{sink}/a"),
        "from a",
        &[("Upstash-Callback", &format!("{sink}/a-callback"))],
    )
    .await;
    let from_a = next_to(&rx, "/a");
    let callback_a = next_to(&rx, "/a-callback");
    publish(&http, base, B, &format!("{sink}/b"), "from b", &[]).await;
    let from_b = next_to(&rx, "/b");
    assert_eq!(from_a.body, "from a");
    let verdicts = receiver_accepts(&[
        (&from_a, &keys_a),
        (&callback_a, &keys_a),
        (&from_b, &rotated_b),
        (&from_a, &keys_b),
        (&from_a, &rotated_b),
        (&callback_a, &rotated_b),
        (&from_b, &keys_a),
    ]);
    assert_eq!(
        verdicts,
        [true, true, true, false, false, false, false],
        "A's delivery and callback verify with A's keys only, B's delivery with B's keys only"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn two_tenants_have_their_own_keys_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}/q.db", dir.path().display());
    two_tenants_have_their_own_keys(&url).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn tenant_keys_survive_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}/q.db", dir.path().display());
    let http = http();
    let server = serve(&url, &["--tokens", &format!("{A},{B}")], &[]);
    let before = (
        keys(&http, &server.base, A).await,
        keys(&http, &server.base, B).await,
    );
    drop(server);
    let server = serve(&url, &["--tokens", &format!("{B},{A}")], &[]);
    let after = (
        keys(&http, &server.base, A).await,
        keys(&http, &server.base, B).await,
    );
    assert_eq!(before, after, "each tenant's pair is kept in the store");
}

#[tokio::test(flavor = "multi_thread")]
async fn shared_key_flags_give_every_tenant_one_pair() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}/q.db", dir.path().display());
    let http = http();
    let (current, next) = (
        "sig_sharedCurrent0000000000000",
        "sig_sharedNext000000000000000000",
    );
    let server = serve(
        &url,
        &[
            "--tokens",
            &format!("{A},{B}"),
            "--current-signing-key",
            current,
        ],
        &[("QSTASH_NEXT_SIGNING_KEY", next)],
    );
    let shared = (current.to_owned(), next.to_owned());
    assert_eq!(keys(&http, &server.base, A).await, shared);
    assert_eq!(keys(&http, &server.base, B).await, shared);
    let (sink, rx) = sink();
    publish(&http, &server.base, B, &format!("{sink}/b"), "b", &[]).await;
    let from_b = next_to(&rx, "/b");
    assert_eq!(receiver_accepts(&[(&from_b, &shared)]), [true]);
}

/// The tenants are the tokens of `--tokens` (repeated or comma-separated) and
/// `QSTASH_SERVER_TOKENS`, compared whole; the client's `QSTASH_TOKEN` is not one.
#[tokio::test(flavor = "multi_thread")]
async fn tenants_come_only_from_the_server_tokens() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}/q.db", dir.path().display());
    let http = http();
    let status = |base: String, token: &'static str| {
        let http = http.clone();
        async move {
            http.get(format!("{base}/v2/keys"))
                .bearer_auth(token)
                .send()
                .await
                .unwrap()
                .status()
                .as_u16()
        }
    };
    let server = serve(
        &url,
        &["--tokens", A, "--tokens", "c1,c2"],
        &[("QSTASH_TOKEN", B)],
    );
    for (token, expected) in [
        (A, 200),
        ("c1", 200),
        ("c2", 200),
        (B, 401),
        ("c1,c2", 401),
        ("tenant-a-toke", 401),
        ("tenant-a-tokenx", 401),
    ] {
        assert_eq!(
            status(server.base.clone(), token).await,
            expected,
            "token {token:?}"
        );
    }
    drop(server);
    let server = serve(&url, &[], &[("QSTASH_SERVER_TOKENS", "c1, c2")]);
    assert_eq!(status(server.base.clone(), "c2").await, 200);
    assert_eq!(status(server.base.clone(), A).await, 401);
    drop(server);
    // Only the client's token: refused at start, naming the flag.
    let out = qstash()
        .args(["serve", "--database-url", &url])
        .env("QSTASH_TOKEN", A)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("--tokens"), "{err}");
    assert!(!err.contains(A), "the error must not show the token: {err}");
}

async fn get_metrics(http: &reqwest::Client, url: &str, token: Option<&str>) -> (u16, String) {
    let mut req = http.get(url);
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    let r = req.send().await.unwrap();
    (r.status().as_u16(), r.text().await.unwrap())
}

/// `/metrics` on the API listener needs `--metrics-token` (401 otherwise, and not served at
/// all without the flag); `--metrics-listen` serves it openly on its own address; tenants
/// appear in its labels only as hashes.
#[tokio::test(flavor = "multi_thread")]
async fn metrics_are_scoped() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}/q.db", dir.path().display());
    let http = http();

    let server = serve(&url, &["--tokens", A], &[]);
    let (status, _) = get_metrics(&http, &format!("{}/metrics", server.base), None).await;
    assert_eq!(
        status, 404,
        "no /metrics on the API listener without --metrics-token"
    );
    let (status, _) = get_metrics(&http, &format!("{}/metrics", server.base), Some(A)).await;
    assert_eq!(status, 404, "a tenant's token does not open /metrics");
    drop(server);

    let metrics_port = free_port();
    let metrics_addr = format!("127.0.0.1:{metrics_port}");
    let server = serve(
        &url,
        &[
            "--tokens",
            A,
            "--metrics-token",
            "scrape-secret",
            "--metrics-listen",
            &metrics_addr,
        ],
        &[],
    );
    assert!(
        server.banner[0].contains(&metrics_addr),
        "the banner names the metrics address: {:?}",
        server.banner
    );
    // Accepts connections and never answers: the key's one place stays taken.
    let hang = TcpListener::bind("127.0.0.1:0").unwrap();
    let hang_url = format!("http://{}/flow", hang.local_addr().unwrap());
    for body in ["1", "2"] {
        publish(
            &http,
            &server.base,
            A,
            &hang_url,
            body,
            &[
                ("Upstash-Flow-Control-Key", "team-a-key"),
                ("Upstash-Flow-Control-Value", "parallelism=1"),
            ],
        )
        .await;
    }
    let api = format!("{}/metrics", server.base);
    for token in [None, Some(A), Some("scrape-secre"), Some("scrape-secretx")] {
        let (status, body) = get_metrics(&http, &api, token).await;
        assert_eq!(status, 401, "token {token:?}");
        assert!(!body.contains("qstash_"), "no metrics without the token");
    }
    let (status, body) = get_metrics(&http, &api, Some("scrape-secret")).await;
    assert_eq!(status, 200);
    assert!(body.contains("qstash_messages_accepted_total 2"), "{body}");
    let deadline = Instant::now() + WAIT;
    let open = loop {
        let (status, open) =
            get_metrics(&http, &format!("http://{metrics_addr}/metrics"), None).await;
        assert_eq!(status, 200, "the metrics listener needs no token");
        assert!(open.contains("qstash_messages_accepted_total 2"), "{open}");
        if open.contains("qstash_flow_control_in_flight{") {
            break open;
        }
        assert!(Instant::now() < deadline, "no flow-control gauge in {open}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let (status, _) = get_metrics(&http, &format!("http://{metrics_addr}/v2/keys"), Some(A)).await;
    assert_eq!(status, 404, "the metrics listener serves nothing else");
    // The flow-control key's gauges name the tenant by a hash, never by its token.
    let line = open
        .lines()
        .find(|l| l.starts_with("qstash_flow_control_in_flight{"))
        .unwrap_or_else(|| panic!("no flow-control gauge in {open}"));
    assert!(line.contains("key=\"team-a-key\""), "{line}");
    let tenant = line
        .split("tenant=\"")
        .nth(1)
        .and_then(|r| r.split('"').next())
        .unwrap();
    assert!(
        tenant.starts_with("t_") && tenant[2..].chars().all(|c| c.is_ascii_hexdigit()),
        "the tenant label is a hash: {tenant}"
    );
    assert!(!open.contains(A), "the token must not appear in /metrics");
    drop(hang);
}

#[test]
fn dev_serves_metrics_openly() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let mut child = qstash()
        .args(["dev", "--port", &port.to_string(), "--data-dir"])
        .arg(dir.path())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let first = lines.next().unwrap().unwrap();
    assert!(first.contains("qstash dev server on"), "{first}");
    let status = tokio::runtime::Runtime::new().unwrap().block_on(async {
        http()
            .get(format!("http://127.0.0.1:{port}/metrics"))
            .send()
            .await
            .unwrap()
            .status()
    });
    let _ = child.kill();
    let _ = child.wait();
    assert_eq!(status, 200);
}

/// Two `serve` processes sharing one PostgreSQL schema: each tenant's pair is the same through
/// both; a rotation through one reaches the other's `GET /v2/keys` at once and its deliveries
/// within seconds (the keys are read again after 5 s).
#[tokio::test(flavor = "multi_thread")]
#[ignore = "needs PostgreSQL: set QSTASH_TEST_DATABASE_URL (.ci/run starts one)"]
async fn tenants_keys_on_postgres() {
    let base_url = database_url();
    let schema = Schema::new(&base_url).await;
    two_tenants_have_their_own_keys(&schema.url).await;

    let http = http();
    let tokens = format!("{A},{B}");
    let one = serve(&schema.url, &["--tokens", &tokens], &[]);
    let two = serve(&schema.url, &["--tokens", &tokens], &[]);
    let keys_a = keys(&http, &one.base, A).await;
    assert_eq!(
        keys(&http, &two.base, A).await,
        keys_a,
        "one pair per tenant in the store"
    );
    // Both processes sign B's deliveries with B's current key now.
    let (sink, rx) = sink();
    for base in [&one.base, &two.base] {
        publish(&http, base, B, &format!("{sink}/warm"), "w", &[]).await;
        next_to(&rx, "/warm");
    }
    let rotated_b = rotate(&http, &one.base, B).await;
    let rotated_at = Instant::now();
    assert_eq!(
        keys(&http, &two.base, B).await,
        rotated_b,
        "the other process sees it"
    );
    assert_eq!(
        keys(&http, &two.base, A).await,
        keys_a,
        "A's pair is untouched"
    );
    // After the refresh period every delivery of B is signed with its new current key, whichever
    // process makes it. (A receiver holding only the new pair refuses the old current key.)
    tokio::time::sleep(Duration::from_secs(7).saturating_sub(rotated_at.elapsed())).await;
    let mut seen = Vec::new();
    for i in 0..6 {
        let base = if i % 2 == 0 { &one.base } else { &two.base };
        publish(&http, base, B, &format!("{sink}/late{i}"), "late", &[]).await;
        seen.push(next_to(&rx, &format!("/late{i}")));
    }
    let cases: Vec<_> = seen.iter().map(|d| (d, &rotated_b)).collect();
    assert_eq!(receiver_accepts(&cases), vec![true; 6]);
    drop(one);
    drop(two);
    schema.drop_schema().await;
}

/// The example endpoint of `examples/workflow` (the official `@upstash/workflow` `serve()`),
/// verifying every request with the keys it is given; killed when dropped.
struct Endpoint(Child);

impl Drop for Endpoint {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A workflow run of tenant A on `serve` without key flags completes through the official SDK
/// endpoint that holds A's keys: every step, and the run's `context.call`, is signed with A's
/// current key.
#[tokio::test(flavor = "multi_thread")]
async fn a_tenants_workflow_steps_are_signed_with_its_keys() {
    let modules = node_modules();
    let example = modules.parent().unwrap().to_path_buf();
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}/q.db", dir.path().display());
    let http = http();
    let server = serve(&url, &["--tokens", &format!("{A},{B}")], &[]);
    let keys_a = keys(&http, &server.base, A).await;
    assert_ne!(keys(&http, &server.base, B).await, keys_a);

    let port = free_port();
    let _endpoint = Endpoint(
        Command::new("node")
            .arg("server.mjs")
            .current_dir(&example)
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("PORT", port.to_string())
            .env("QSTASH_URL", &server.base)
            .env("QSTASH_TOKEN", A)
            .env("QSTASH_CURRENT_SIGNING_KEY", &keys_a.0)
            .env("QSTASH_NEXT_SIGNING_KEY", &keys_a.1)
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("node must be installed to run the signing-key tests"),
    );
    let endpoint = format!("http://127.0.0.1:{port}");
    let deadline = Instant::now() + WAIT;
    loop {
        if let Ok(r) = http.get(format!("{endpoint}/health")).send().await
            && r.status().is_success()
        {
            break;
        }
        assert!(Instant::now() < deadline, "the node endpoint did not start");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    let r = http
        .post(format!("{}/v2/trigger/{endpoint}/workflow", server.base))
        .bearer_auth(A)
        .header("Content-Type", "application/json")
        .body(r#"{"n": 3, "tag": "tenant-a"}"#)
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success(), "trigger: {}", r.status());
    let run: Value = r.json().await.unwrap();
    let run_id = run["workflowRunId"].as_str().unwrap().to_owned();
    let deadline = Instant::now() + WAIT;
    let log = loop {
        let v: Value = http
            .get(format!(
                "{}/v2/workflows/logs?workflowRunId={run_id}",
                server.base
            ))
            .bearer_auth(A)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let log = v["runs"][0].clone();
        if log["workflowState"].is_string() && log["workflowState"] != "RUN_STARTED" {
            break log;
        }
        assert!(
            Instant::now() < deadline,
            "run {run_id} did not end: {log:#}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(log["workflowState"], "RUN_SUCCESS", "{log:#}");
}

/// The `node_modules` of `examples/workflow` (with `@upstash/qstash`), installed with `npm ci`
/// when missing.
fn node_modules() -> PathBuf {
    let dir = example_workflow_dir();
    npm_ci(&dir, "@upstash/qstash/package.json");
    dir.join("node_modules")
}
