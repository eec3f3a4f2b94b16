//! The endpoint process is killed with SIGKILL while a run sleeps and is started again on
//! the same port: the run completes from what the server recorded, and every step's side
//! effect happened once.
//!
//! The endpoint is this test binary run again as a child process (`endpoint_process` below,
//! which does nothing unless `QSTASH_WORKFLOW_TEST_ENDPOINT_PORT` is set); each side effect
//! appends a line to a file, which outlives the process.

mod common;

use std::io::Write as _;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::{CURRENT_KEY, NEXT_KEY, TOKEN, start_server};
use qstash_workflow::{Context, Error, Options};
use serde_json::{Value, json};

const PORT_VAR: &str = "QSTASH_WORKFLOW_TEST_ENDPOINT_PORT";
const SERVER_VAR: &str = "QSTASH_WORKFLOW_TEST_SERVER";
const EFFECTS_VAR: &str = "QSTASH_WORKFLOW_TEST_EFFECTS";

/// Appends `what` to the effects file.
fn effect(file: &str, what: &str) {
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(file)
        .unwrap();
    writeln!(f, "{what}").unwrap();
    f.sync_all().unwrap();
}

fn effects(file: &Path) -> Vec<String> {
    std::fs::read_to_string(file)
        .unwrap_or_default()
        .lines()
        .map(str::to_owned)
        .collect()
}

/// The endpoint, when this binary runs as the child process; otherwise returns at once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn endpoint_process() {
    let Ok(port) = std::env::var(PORT_VAR) else {
        return;
    };
    let server = std::env::var(SERVER_VAR).unwrap();
    let file = std::env::var(EFFECTS_VAR).unwrap();
    let route = qstash_workflow::serve(
        move |ctx: Context<Value>| {
            let file = file.clone();
            async move {
                let n = ctx.payload["n"].as_i64().unwrap_or(0);
                let a = ctx
                    .run("a", || async {
                        effect(&file, "a");
                        Ok::<_, Error>(n + 1)
                    })
                    .await?;
                let b = ctx
                    .run("b", || async {
                        effect(&file, "b");
                        Ok::<_, Error>(a * 10)
                    })
                    .await?;
                ctx.sleep("nap", Duration::from_secs(3)).await?;
                let c = ctx
                    .run("c", || async {
                        effect(&file, "c");
                        Ok::<_, Error>(format!("{a}/{b}"))
                    })
                    .await?;
                Ok(json!({"a": a, "b": b, "c": c}))
            }
        },
        Options::new(server, TOKEN).signing_keys(CURRENT_KEY, NEXT_KEY),
    );
    let app = axum::Router::new().route("/wf", route);
    let listener = tokio::net::TcpListener::bind(format!("127.0.0.1:{port}"))
        .await
        .unwrap();
    axum::serve(listener, app).await.unwrap();
}

fn spawn_endpoint(port: u16, server: &str, file: &Path) -> Child {
    let mut cmd = Command::new(std::env::current_exe().unwrap());
    for (name, _) in std::env::vars() {
        if name.starts_with("QSTASH_") || name.starts_with("UPSTASH_") {
            cmd.env_remove(name);
        }
    }
    cmd.args([
        "endpoint_process",
        "--exact",
        "--nocapture",
        "--test-threads=1",
    ])
    .env(PORT_VAR, port.to_string())
    .env(SERVER_VAR, server)
    .env(EFFECTS_VAR, file)
    .stdout(Stdio::null())
    .stderr(Stdio::null())
    .spawn()
    .unwrap()
}

/// Waits until the endpoint answers on `port`.
async fn wait_listening(port: u16) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .is_err()
    {
        assert!(Instant::now() < deadline, "the endpoint did not start");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_survives_sigkill_of_its_endpoint() {
    let ts = start_server().await;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("effects");
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut child = spawn_endpoint(port, &ts.url, &file);
    wait_listening(port).await;
    let run = ts
        .client
        .trigger_url(format!("http://127.0.0.1:{port}/wf").as_str())
        .json(&json!({"n": 4}))
        .unwrap()
        .send()
        .await
        .unwrap();
    // Kill once steps a and b are recorded and the run sleeps.
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let logs = ts
            .client
            .logs(&qstash_client::LogsQuery::new().with_run_id(run.workflow_run_id.clone()))
            .await
            .unwrap();
        let log = logs
            .runs
            .first()
            .map(|r| serde_json::to_value(&r.other).unwrap())
            .unwrap_or_default();
        if log.to_string().contains("\"SleepFor\"") {
            break;
        }
        assert!(Instant::now() < deadline, "the run did not reach its sleep");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    assert_eq!(effects(&file), ["a", "b"], "killed during the sleep");
    let mut child = spawn_endpoint(port, &ts.url, &file);
    wait_listening(port).await;
    let (state, log) = ts
        .wait_run(&run.workflow_run_id, Duration::from_secs(60))
        .await;
    child.kill().unwrap();
    child.wait().unwrap();
    assert_eq!(state, "RUN_SUCCESS", "{log:#}");
    let result: Value = serde_json::from_str(log["workflowRunResponse"].as_str().unwrap()).unwrap();
    assert_eq!(result, json!({"a": 5, "b": 50, "c": "5/50"}));
    assert_eq!(effects(&file), ["a", "b", "c"], "each side effect once");
    ts.server.shutdown().await;
}
