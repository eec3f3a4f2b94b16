//! The destination policy of the real binary: `qstash serve` refuses loopback, link-local and
//! private destinations unless a flag opens them; `qstash dev` calls anything.
//!
//! No test here ever sends a packet outside loopback: refused targets are published with a
//! one-hour `Upstash-Delay`, and the only receivers are on 127.0.0.1.

mod common;

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Bytes;
use common::{free_port, qstash};

const TOKEN: &str = "policy-token";

/// A running server and the directory of its store; killed when dropped.
struct Running {
    child: Child,
    url: String,
    _dir: tempfile::TempDir,
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts `serve` on a fresh SQLite file with `extra` arguments and `env`.
fn serve(extra: &[&str], env: &[(&str, &str)]) -> Running {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let mut cmd = qstash();
    cmd.args(["serve", "--tokens", TOKEN, "--listen"])
        .arg(format!("127.0.0.1:{port}"))
        .arg("--database-url")
        .arg(format!("sqlite://{}", dir.path().join("q.db").display()))
        .args(extra);
    for (k, v) in env {
        cmd.env(k, v);
    }
    started(cmd, port, "qstash server on", dir)
}

/// Starts `dev` on a fresh data directory.
fn dev() -> Running {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let mut cmd = qstash();
    cmd.args(["dev", "--port", &port.to_string(), "--data-dir"])
        .arg(dir.path().join("data"));
    started(cmd, port, "qstash dev server on", dir)
}

fn started(mut cmd: Command, port: u16, banner: &str, dir: tempfile::TempDir) -> Running {
    let mut child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("the qstash binary starts");
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    match lines.next() {
        Some(Ok(l)) if l.contains(banner) => {}
        other => {
            let _ = child.kill();
            panic!("the server did not start: {other:?}");
        }
    }
    // Keep reading the banner so that the server never blocks on a full pipe.
    std::thread::spawn(move || for _ in lines {});
    Running {
        child,
        url: format!("http://127.0.0.1:{port}"),
        _dir: dir,
    }
}

/// A loopback receiver recording the bodies it gets.
async fn receiver() -> (String, Arc<Mutex<Vec<Bytes>>>) {
    let got = Arc::new(Mutex::new(Vec::new()));
    let log = got.clone();
    let app = Router::new().fallback(move |body: Bytes| {
        let log = log.clone();
        async move {
            log.lock().unwrap().push(body);
            "ok"
        }
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (url, got)
}

fn client() -> reqwest::Client {
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::new()
}

async fn publish(
    http: &reqwest::Client,
    server: &str,
    token: &str,
    destination: &str,
    delay: Option<&str>,
) -> (u16, String) {
    let mut req = http
        .post(format!("{server}/v2/publish/{destination}"))
        .bearer_auth(token)
        .body("hello");
    if let Some(d) = delay {
        req = req.header("Upstash-Delay", d);
    }
    let resp = req.send().await.unwrap();
    (resp.status().as_u16(), resp.text().await.unwrap())
}

async fn wait_delivered(got: &Mutex<Vec<Bytes>>) {
    let deadline = Instant::now() + Duration::from_secs(15);
    while got.lock().unwrap().is_empty() {
        assert!(Instant::now() < deadline, "nothing was delivered");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(got.lock().unwrap()[0].as_ref(), b"hello");
}

#[tokio::test]
async fn serve_refuses_loopback_link_local_and_private_destinations() {
    let server = serve(&[], &[]);
    let http = client();
    for (destination, range) in [
        ("http://127.0.0.1:9/x", "127.0.0.0/8"),
        ("http://localhost:9/x", "127.0.0.0/8"),
        ("http://169.254.169.254/latest/meta-data", "169.254.0.0/16"),
        ("http://10.0.0.1/x", "10.0.0.0/8"),
        ("http://[::1]:9/x", "::1/128"),
    ] {
        let (status, body) = publish(&http, &server.url, TOKEN, destination, Some("1h")).await;
        assert_eq!(status, 400, "{destination}: {body}");
        assert!(
            body.contains(range) && body.contains("--allow-destination"),
            "{destination}: {body}"
        );
    }
}

#[tokio::test]
async fn serve_with_an_opened_range_delivers_to_it() {
    let (dest, got) = receiver().await;
    let server = serve(&["--allow-destination", "127.0.0.0/8"], &[]);
    let http = client();
    let (status, body) = publish(&http, &server.url, TOKEN, &format!("{dest}/hook"), None).await;
    assert_eq!(status, 201, "{body}");
    wait_delivered(&got).await;
    // What was opened is only that range.
    let (status, body) = publish(&http, &server.url, TOKEN, "http://10.0.0.1/x", Some("1h")).await;
    assert_eq!(status, 400, "{body}");
}

#[tokio::test]
async fn the_environment_variable_opens_destinations_too() {
    let (dest, got) = receiver().await;
    let server = serve(
        &[],
        &[("QSTASH_ALLOW_DESTINATIONS", "10.0.0.0/8,127.0.0.1")],
    );
    let http = client();
    let (status, body) = publish(&http, &server.url, TOKEN, &format!("{dest}/hook"), None).await;
    assert_eq!(status, 201, "{body}");
    wait_delivered(&got).await;
}

#[tokio::test]
async fn dev_delivers_to_loopback() {
    let (dest, got) = receiver().await;
    let server = dev();
    let http = client();
    let (status, body) = publish(
        &http,
        &server.url,
        qstash_server::DEV_TOKEN,
        &format!("{dest}/hook"),
        None,
    )
    .await;
    assert_eq!(status, 201, "{body}");
    wait_delivered(&got).await;
}

#[test]
fn a_bad_allow_destination_is_refused_at_start_naming_the_flag() {
    let dir = tempfile::tempdir().unwrap();
    for rule in ["10.0.0.0/33", "not a host"] {
        let out = qstash()
            .args(["serve", "--tokens", TOKEN, "--database-url"])
            .arg(format!("sqlite://{}", dir.path().join("q.db").display()))
            .args(["--allow-destination", rule])
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{rule}: {err}");
        assert!(err.contains("--allow-destination"), "{rule}: {err}");
    }
}
