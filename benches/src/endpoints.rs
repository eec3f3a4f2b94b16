//! `runs --endpoints`: the same three-step workflow served by the Rust example endpoint
//! (`examples/workflow-rust`, made with `qstash-workflow`) and by the Node example endpoint
//! (`examples/workflow`, made with `@upstash/workflow` 1.3.3), each in its own process,
//! against one `qstash` server in the same run.
//!
//! For each endpoint in turn: `--endpoint-runs` runs are triggered at once (at most 64
//! triggers in flight) and counted as they end (`GET /v2/workflows/logs?state=…`); the figure
//! is completed runs per second from the first trigger to the last end, with the endpoint
//! process's CPU time (`/proc/PID/stat`) per step (three steps per run) and per request it
//! answers (five per run: the trigger, the Init message, three steps).

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use qstash_test_support::workflow_endpoint::{expected_result, input};
use serde_json::Value;

use crate::server::{Result, TOKEN, clock_ticks, proc_cpu_ticks};

/// One endpoint's figures.
pub struct Figures {
    pub name: &'static str,
    pub runs: u64,
    pub rate: f64,
    pub cpu_us_per_step: f64,
    pub cpu_us_per_request: f64,
}

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn free_port() -> Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}

fn spawn(mut cmd: Command, port: u16, server: &str) -> Result<Child> {
    for (k, _) in std::env::vars_os() {
        let k = k.to_string_lossy().into_owned();
        if k.starts_with("QSTASH_") || k.starts_with("UPSTASH_") {
            cmd.env_remove(k);
        }
    }
    Ok(cmd
        .env("PORT", port.to_string())
        .env("QSTASH_URL", server)
        .env("QSTASH_TOKEN", TOKEN)
        .env("RUST_LOG", "warn")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()?)
}

async fn wait_port(port: u16) -> Result<()> {
    let deadline = Instant::now() + Duration::from_secs(30);
    while tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .is_err()
    {
        if Instant::now() > deadline {
            return Err(format!("no endpoint listening on port {port} within 30 s").into());
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    Ok(())
}

/// How many runs of the server are in `state`.
async fn count(http: &reqwest::Client, server: &str, state: &str) -> Result<u64> {
    let mut n = 0;
    let mut cursor: Option<String> = None;
    loop {
        let mut url = format!("{server}/v2/workflows/logs?state={state}&count=1000");
        if let Some(c) = &cursor {
            url.push_str(&format!("&cursor={c}"));
        }
        let bytes = http
            .get(url)
            .bearer_auth(TOKEN)
            .send()
            .await?
            .bytes()
            .await?;
        let v: Value = serde_json::from_slice(&bytes)?;
        n += v["runs"].as_array().map_or(0, Vec::len) as u64;
        match v["cursor"].as_str().filter(|c| !c.is_empty()) {
            Some(c) => cursor = Some(c.to_owned()),
            None => return Ok(n),
        }
    }
}

/// `runs` runs against the endpoint at `url` (process `pid`).
async fn measure(
    http: &reqwest::Client,
    server: &str,
    name: &'static str,
    url: &str,
    pid: u32,
    runs: u64,
) -> Result<Figures> {
    let done0 = count(http, server, "RUN_SUCCESS").await?;
    let failed0 = count(http, server, "RUN_FAILED").await?;
    let cpu0 = proc_cpu_ticks(pid)?;
    let t0 = Instant::now();
    let permits = Arc::new(tokio::sync::Semaphore::new(64));
    let mut tasks = Vec::new();
    for n in 0..runs {
        let permit = permits.clone().acquire_owned().await?;
        let (http, server, url) = (http.clone(), server.to_owned(), url.to_owned());
        tasks.push(tokio::spawn(async move {
            let r = http
                .post(format!("{server}/v2/trigger/{url}"))
                .bearer_auth(TOKEN)
                .header("content-type", "application/json")
                .body(input(n, None).to_string())
                .send()
                .await;
            drop(permit);
            r.map(|r| r.status().is_success()).unwrap_or(false)
        }));
    }
    for t in tasks {
        if !t.await? {
            return Err(format!("{name}: a trigger failed").into());
        }
    }
    let deadline = Instant::now() + Duration::from_secs(300);
    loop {
        let done = count(http, server, "RUN_SUCCESS").await? - done0;
        let failed = count(http, server, "RUN_FAILED").await? - failed0;
        if failed > 0 {
            return Err(format!("{name}: {failed} runs failed").into());
        }
        if done >= runs {
            break;
        }
        if Instant::now() > deadline {
            return Err(format!("{name}: {done} of {runs} runs ended within 300 s").into());
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let secs = t0.elapsed().as_secs_f64();
    let cpu_us = (proc_cpu_ticks(pid)? - cpu0) as f64 * 1e6 / clock_ticks() as f64;
    Ok(Figures {
        name,
        runs,
        rate: runs as f64 / secs,
        cpu_us_per_step: cpu_us / (3 * runs) as f64,
        cpu_us_per_request: cpu_us / (5 * runs) as f64,
    })
}

/// Checks one run's result on `url`: the endpoint serves the benchmark's workflow.
async fn check(http: &reqwest::Client, server: &str, url: &str) -> Result<()> {
    let bytes = http
        .post(format!("{server}/v2/trigger/{url}"))
        .bearer_auth(TOKEN)
        .header("content-type", "application/json")
        .body(input(7, None).to_string())
        .send()
        .await?
        .bytes()
        .await?;
    let r: Value = serde_json::from_slice(&bytes)?;
    let id = r["workflowRunId"].as_str().ok_or("no workflowRunId")?;
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let bytes = http
            .get(format!("{server}/v2/workflows/logs?workflowRunId={id}"))
            .bearer_auth(TOKEN)
            .send()
            .await?
            .bytes()
            .await?;
        let v: Value = serde_json::from_slice(&bytes)?;
        let run = &v["runs"][0];
        if run["workflowState"] == "RUN_SUCCESS" {
            let got: Value =
                serde_json::from_str(run["workflowRunResponse"].as_str().unwrap_or("null"))?;
            if got != expected_result(7) {
                return Err(format!("{url} returned {got}, not {}", expected_result(7)).into());
            }
            return Ok(());
        }
        if Instant::now() > deadline || run["workflowState"] == "RUN_FAILED" {
            return Err(format!("the check run on {url} did not succeed: {run}").into());
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Both endpoints against the server at `server`, Rust first.
pub async fn run(http: &reqwest::Client, server: &str, runs: u64) -> Result<Vec<Figures>> {
    let root = repo();
    let rust_bin = root.join("target/release/workflow-rust");
    if !rust_bin.exists() {
        return Err(format!(
            "{} is missing: cargo build --release -p workflow-rust-example",
            rust_bin.display()
        )
        .into());
    }
    let node_dir = root.join("examples/workflow");
    if !node_dir.join("node_modules/@upstash/workflow").exists() {
        return Err(
            "examples/workflow/node_modules is missing: npm ci in examples/workflow".into(),
        );
    }
    let mut out = Vec::new();
    for name in ["rust", "node"] {
        let port = free_port()?;
        let mut child = if name == "rust" {
            spawn(Command::new(&rust_bin), port, server)?
        } else {
            let mut cmd = Command::new("node");
            cmd.arg("server.mjs").current_dir(&node_dir);
            spawn(cmd, port, server)?
        };
        let result = async {
            wait_port(port).await?;
            let url = format!("http://127.0.0.1:{port}/three");
            check(http, server, &url).await?;
            measure(
                http,
                server,
                if name == "rust" {
                    "Rust (qstash-workflow)"
                } else {
                    "Node (@upstash/workflow 1.3.3)"
                },
                &url,
                child.id(),
                runs,
            )
            .await
        }
        .await;
        let _ = child.kill();
        let _ = child.wait();
        out.push(result?);
    }
    Ok(out)
}
