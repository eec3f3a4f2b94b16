//! `qstash serve` as an operator leaves it running: finished work goes once older than
//! `--retention` (on both stores), and a process whose engine died exits non-zero.

mod common;

use std::io::Read as _;
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use common::{Schema, database_url, free_port, qstash};

const TOKEN: &str = "retention-token";

/// `qstash serve` on `database_url` with a clean environment and `extra` arguments (its
/// stderr piped when `stderr`, else dropped); returns the child and its base URL once it
/// listens.
fn serve(database_url: &str, extra: &[&str], stderr: bool) -> (Child, String) {
    let port = free_port();
    let mut command = qstash();
    command
        .args([
            "serve",
            "--listen",
            &format!("127.0.0.1:{port}"),
            "--tokens",
            TOKEN,
            "--database-url",
            database_url,
            "--pool-size",
            "4",
            "--allow-destination",
            "127.0.0.0/8",
        ])
        .args(extra)
        .stdout(Stdio::null())
        .stderr(if stderr {
            Stdio::piped()
        } else {
            Stdio::null()
        });
    let child = command.spawn().expect("the qstash binary starts");
    let url = format!("http://127.0.0.1:{port}");
    let deadline = Instant::now() + Duration::from_secs(20);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "serve did not start listening");
        std::thread::sleep(Duration::from_millis(50));
    }
    (child, url)
}

/// A loopback destination that answers 200.
async fn destination() -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let app = axum::Router::new().fallback(|| async { "ok" });
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    format!("http://{addr}")
}

fn client() -> reqwest::Client {
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::new()
}

async fn publish(http: &reqwest::Client, url: &str, to: &str) -> String {
    let resp = http
        .post(format!("{url}/v2/publish/{to}"))
        .bearer_auth(TOKEN)
        .body("hello")
        .send()
        .await
        .unwrap();
    assert!(resp.status().is_success(), "publish: {}", resp.status());
    let v: serde_json::Value = resp.json().await.unwrap();
    v["messageId"].as_str().unwrap().to_owned()
}

async fn wait_delivered(http: &reqwest::Client, url: &str, id: &str) {
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let v: serde_json::Value = http
            .get(format!("{url}/v2/events?messageId={id}&state=DELIVERED"))
            .bearer_auth(TOKEN)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        if !v["events"].as_array().unwrap().is_empty() {
            return;
        }
        assert!(Instant::now() < deadline, "{id} was not delivered");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn status_of(http: &reqwest::Client, url: &str, path: &str) -> u16 {
    http.get(format!("{url}{path}"))
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

/// With `--retention 2s`, a delivered message, its events and a cancelled run are gone (404)
/// a little after 2 s; a message delivered later is still there.
async fn old_work_goes_recent_stays(database_url: &str) {
    let to = destination().await;
    let (mut child, url) = serve(
        database_url,
        &["--retention", "2s", "--retention-interval", "200ms"],
        false,
    );
    let http = client();
    let old = publish(&http, &url, &format!("{to}/old")).await;
    wait_delivered(&http, &url, &old).await;
    let trigger: serde_json::Value = http
        .post(format!("{url}/v2/trigger/{to}/wf"))
        .bearer_auth(TOKEN)
        .header("Upstash-Delay", "1d")
        .body("{}")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let run_id = trigger["workflowRunId"].as_str().unwrap().to_owned();
    let cancel = http
        .delete(format!("{url}/v2/workflows/runs/{run_id}"))
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap();
    assert!(cancel.status().is_success(), "cancel: {}", cancel.status());

    tokio::time::sleep(Duration::from_millis(2_500)).await;
    let recent = publish(&http, &url, &format!("{to}/recent")).await;
    wait_delivered(&http, &url, &recent).await;

    let deadline = Instant::now() + Duration::from_secs(10);
    while status_of(&http, &url, &format!("/v2/messages/{old}")).await != 404 {
        assert!(Instant::now() < deadline, "the old message is still there");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let events: serde_json::Value = http
        .get(format!("{url}/v2/events?messageId={old}"))
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(events["events"].as_array().unwrap().is_empty(), "{events}");
    assert_eq!(
        status_of(&http, &url, &format!("/v2/workflows/runs/{run_id}")).await,
        404
    );
    assert_eq!(
        status_of(&http, &url, &format!("/v2/messages/{recent}")).await,
        200
    );
    let _ = child.kill();
    let _ = child.wait();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retention_removes_old_finished_work_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    old_work_goes_recent_stays(&format!("sqlite://{}/q.db", dir.path().display())).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs PostgreSQL: set QSTASH_TEST_DATABASE_URL (.ci/run starts one)"]
async fn retention_removes_old_finished_work_postgres() {
    let base = database_url();
    let schema = Schema::new(&base).await;
    old_work_goes_recent_stays(&schema.url).await;
    schema.drop_schema().await;
}

/// A process whose engine died exits non-zero, saying why, instead of accepting work it
/// would never deliver.
#[test]
fn serve_exits_non_zero_when_its_engine_dies() {
    let dir = tempfile::tempdir().unwrap();
    let (mut child, _url) = serve(
        &format!("sqlite://{}/q.db", dir.path().display()),
        &["--test-stop-engine-after", "500ms"],
        true,
    );
    let deadline = Instant::now() + Duration::from_secs(20);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("serve kept running with a dead engine");
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let mut stderr = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut stderr)
        .unwrap();
    assert_eq!(status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("scheduler stopped"), "{stderr}");
}
