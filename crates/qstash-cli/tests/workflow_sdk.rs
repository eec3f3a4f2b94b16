//! Workflow runs against the real SDK: the server in-process on a SQLite file, and the example
//! endpoint of `examples/workflow` (the official `@upstash/workflow` 1.3.3 `serve()` on
//! `node:http`, signing keys set so that the SDK verifies every request) as a child process.
//!
//! Runs are triggered three ways (`qstash trigger`, the Rust client, the SDK's own
//! `Client.trigger`) and must complete with the right step outputs (a `context.call` included); a run whose step throws is
//! retried, fails, lands in the workflow DLQ and calls the failure function exactly once; a run
//! cancelled during its sleep never runs its next step; `qstash logs` shows the runs. The
//! example's second workflow waits for an event that the SDK's `Client.notify` sends (and for one
//! that times out), runs steps in parallel, and fails until a flag is set, then is resumed from
//! the DLQ by the SDK's `Client.dlq.resume` without running its completed step again.
//!
//! The example's packages come from `npm ci` (`.ci/run` does it; this test does it too when
//! `node_modules` is missing).

mod common;

use common::free_port;

use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use qstash_server::Server;
use qstash_store::sqlite::SqliteStore;
use qstash_test_support::node::{example_workflow_dir, npm_ci};
use serde_json::{Value, json};

const TOKEN: &str = "workflow-sdk-test-token";
const CURRENT_KEY: &str = "sig_e2eCurrentKey00000000000000";
const NEXT_KEY: &str = "sig_e2eNextKey000000000000000000";
const WAIT: Duration = Duration::from_secs(30);

/// The node endpoint; killed when dropped.
struct Endpoint {
    child: Child,
    base: String,
}

impl Drop for Endpoint {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Endpoint {
    fn workflow_url(&self) -> String {
        format!("{}/workflow", self.base)
    }
}

fn http() -> reqwest::Client {
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::new()
}

async fn start_endpoint(dir: &Path, qstash_url: &str, http: &reqwest::Client) -> Endpoint {
    let port = free_port();
    let child = common::clear_qstash_env(&mut Command::new("node"))
        .arg("server.mjs")
        .current_dir(dir)
        .env("PORT", port.to_string())
        .env("QSTASH_URL", qstash_url)
        .env("QSTASH_TOKEN", TOKEN)
        .env("QSTASH_CURRENT_SIGNING_KEY", CURRENT_KEY)
        .env("QSTASH_NEXT_SIGNING_KEY", NEXT_KEY)
        .env_remove("UPSTASH_WORKFLOW_URL")
        .env_remove("QSTASH_DEV")
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("node must be installed to run the workflow SDK test");
    let endpoint = Endpoint {
        child,
        base: format!("http://127.0.0.1:{port}"),
    };
    let deadline = Instant::now() + WAIT;
    loop {
        if let Ok(r) = http.get(format!("{}/health", endpoint.base)).send().await
            && r.status().is_success()
        {
            return endpoint;
        }
        assert!(Instant::now() < deadline, "the node endpoint did not start");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Runs a command to its end off the async threads.
async fn run(mut cmd: Command) -> Output {
    tokio::task::spawn_blocking(move || cmd.output().unwrap())
        .await
        .unwrap()
}

fn qstash(server: &str, args: &[&str]) -> Command {
    let mut c = common::qstash();
    c.args(args)
        .env("QSTASH_URL", server)
        .env("QSTASH_TOKEN", TOKEN);
    c
}

fn ok_stdout(what: &str, out: &Output) -> String {
    assert!(
        out.status.success(),
        "{what} failed ({}): {}{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout.clone()).unwrap()
}

fn run_id_of(what: &str, out: &Output) -> String {
    let v: Value = serde_json::from_str(ok_stdout(what, out).trim()).unwrap();
    v["workflowRunId"].as_str().unwrap().to_owned()
}

struct Api {
    url: String,
    http: reqwest::Client,
}

impl Api {
    async fn get(&self, path: &str) -> Value {
        let resp = self
            .http
            .get(format!("{}{path}", self.url))
            .bearer_auth(TOKEN)
            .send()
            .await
            .unwrap();
        assert!(resp.status().is_success(), "GET {path}: {}", resp.status());
        resp.json().await.unwrap()
    }

    /// The run as `GET /v2/workflows/logs?workflowRunId=` shows it.
    async fn run_log(&self, run_id: &str) -> Option<Value> {
        let v = self
            .get(&format!("/v2/workflows/logs?workflowRunId={run_id}"))
            .await;
        v["runs"].as_array().and_then(|r| r.first()).cloned()
    }

    /// Polls the run's log until `done` holds for it.
    async fn wait_run(&self, run_id: &str, what: &str, done: impl Fn(&Value) -> bool) -> Value {
        let deadline = Instant::now() + WAIT;
        loop {
            let log = self.run_log(run_id).await;
            if let Some(l) = &log
                && done(l)
            {
                return l.clone();
            }
            assert!(
                Instant::now() < deadline,
                "run {run_id}: {what} not reached within {WAIT:?}; last log: {log:#?}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    async fn wait_state(&self, run_id: &str, state: &str) -> Value {
        let log = self
            .wait_run(run_id, state, |l| {
                l["workflowState"] != "RUN_STARTED" && l["workflowState"].is_string()
            })
            .await;
        assert_eq!(log["workflowState"], state, "run {run_id}: {log:#?}");
        log
    }

    /// The endpoint's events of `run_id` of `kind` (`step`, `failure`).
    async fn events(&self, endpoint: &Endpoint, run_id: &str, kind: &str) -> Vec<Value> {
        let all: Vec<Value> = self
            .http
            .get(format!("{}/events", endpoint.base))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        all.into_iter()
            .filter(|e| e["runId"] == run_id && e["type"] == kind)
            .collect()
    }
}

/// `(stepName, out)` of every step in a run's log, in order.
fn steps(log: &Value) -> Vec<(String, Option<String>)> {
    log["steps"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|g| g["steps"].as_array().unwrap().iter())
        .map(|s| {
            (
                s["stepName"].as_str().unwrap_or_default().to_owned(),
                s["out"].as_str().map(str::to_owned),
            )
        })
        .collect()
}

/// A completed run of input `{"n": n, "tag": tag}` has these steps and this result.
fn assert_completed(log: &Value, initial: &Value, n: i64, tag: &str) {
    let got = steps(log);
    let names: Vec<&str> = got.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(
        names,
        ["init", "double", "add-ten", "pause", "describe", "echo"],
        "{log:#?}"
    );
    let init: Value = serde_json::from_str(got[0].1.as_deref().unwrap()).unwrap();
    assert_eq!(&init, initial);
    assert_eq!(got[1].1.as_deref(), Some((n * 2).to_string().as_str()));
    assert_eq!(got[2].1.as_deref(), Some((n * 2 + 10).to_string().as_str()));
    let described = format!("{tag}:{}", n * 2 + 10);
    assert_eq!(
        got[4].1.as_deref(),
        Some(json!(described).to_string().as_str())
    );
    // The context.call: its result as the SDK recorded it.
    let call: Value = serde_json::from_str(got[5].1.as_deref().unwrap()).unwrap();
    assert_eq!(call["status"], 201, "{call:#?}");
    let echoed: Value = serde_json::from_str(call["body"].as_str().unwrap()).unwrap();
    assert_eq!(echoed, json!({"echo": n * 2 + 10}));
    let response: Value =
        serde_json::from_str(log["workflowRunResponse"].as_str().unwrap()).unwrap();
    assert_eq!(
        response,
        json!({"result": described, "echoStatus": 201, "echo": {"echo": n * 2 + 10}})
    );
}

/// A failing run: retried once, failed, in the workflow DLQ, failure function called once.
async fn assert_failed_once(api: &Api, endpoint: &Endpoint, run_id: &str) {
    let log = api.wait_state(run_id, "RUN_FAILED").await;
    let names: Vec<String> = steps(&log).into_iter().map(|(n, _)| n).collect();
    assert_eq!(names, ["init", "double"], "{log:#?}");
    // The DLQ entry of the run, and its failure callback delivered.
    let deadline = Instant::now() + WAIT;
    let entry = loop {
        let dlq = api.get("/v2/workflows/dlq").await;
        let entry =
            dlq["messages"].as_array().unwrap().iter().find(|m| {
                m["header"].as_object().into_iter().flatten().any(|(n, v)| {
                    n.eq_ignore_ascii_case("upstash-workflow-runid") && v[0] == run_id
                }) || m["workflowRunId"] == run_id
            });
        if let Some(e) = entry
            && e["failureCallbackState"] == "CALLBACK_SUCCESS"
        {
            break e.clone();
        }
        assert!(
            Instant::now() < deadline,
            "run {run_id}: no DLQ entry with a delivered failure callback: {dlq:#?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(entry["responseStatus"], 500, "{entry:#?}");
    // add-ten ran twice (the first attempt and one retry), describe never.
    let ran = api.events(endpoint, run_id, "step").await;
    let count = |step: &str| ran.iter().filter(|e| e["step"] == step).count();
    assert_eq!(count("double"), 1, "{ran:#?}");
    assert_eq!(count("add-ten"), 2, "{ran:#?}");
    assert_eq!(count("describe"), 0, "{ran:#?}");
    // The failure function ran once, and again no more after a while.
    let failures = api.events(endpoint, run_id, "failure").await;
    assert_eq!(failures.len(), 1, "{failures:#?}");
    assert_eq!(failures[0]["failStatus"], 500);
    assert!(
        failures[0]["failResponse"]
            .as_str()
            .unwrap()
            .contains("add-ten refuses to run"),
        "{failures:#?}"
    );
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(api.events(endpoint, run_id, "failure").await.len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn real_sdk_endpoint_completes_runs_triggered_three_ways() {
    let dir = example_workflow_dir();
    npm_ci(&dir, "@upstash/workflow/package.json");

    let data = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(data.path().join("qstash.db")).unwrap();
    let server = Server::builder(Arc::new(store))
        .token(TOKEN)
        .unwrap()
        .signing_keys(CURRENT_KEY, NEXT_KEY)
        .shutdown_grace(Duration::from_secs(1))
        .start()
        .await
        .unwrap();
    let url = server.url();
    let api = Api {
        url: url.clone(),
        http: http(),
    };
    let endpoint = start_endpoint(&dir, &url, &api.http).await;
    let wf = endpoint.workflow_url();

    // The SDK verifies signatures: an unsigned call is refused.
    let unsigned = api
        .http
        .post(&wf)
        .header("content-type", "application/json")
        .body(r#"{"n":1}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(
        unsigned.status(),
        500,
        "an unsigned request must be refused"
    );

    // Every run is started first, then each is awaited: the sleeps overlap.
    let cli_input = json!({"n": 1, "tag": "cli"});
    let cli = run(qstash(
        &url,
        &[
            "trigger",
            &wf,
            "--content-type",
            "application/json",
            "--body",
            &cli_input.to_string(),
            "--json",
        ],
    ))
    .await;
    let cli_run = run_id_of("qstash trigger", &cli);

    let client = qstash_client::Client::builder()
        .base_url(url.clone())
        .token(TOKEN)
        .build()
        .unwrap();
    let rust_input = json!({"n": 2, "tag": "rust"});
    let rust_run = client
        .trigger_url(wf.as_str())
        .json(&rust_input)
        .unwrap()
        .send()
        .await
        .unwrap()
        .workflow_run_id
        .as_str()
        .to_owned();

    let sdk_input = json!({"n": 3, "tag": "sdk"});
    let mut sdk_cmd = Command::new("node");
    common::clear_qstash_env(&mut sdk_cmd)
        .args(["trigger.mjs", &wf, &sdk_input.to_string()])
        .current_dir(&dir)
        .env("QSTASH_URL", &url)
        .env("QSTASH_TOKEN", TOKEN);
    let sdk_run = run_id_of("Client.trigger", &run(sdk_cmd).await);

    // Failing runs: through the CLI with the failure function as the failure callback, and
    // through the SDK's Client.trigger (which sets it up itself); one retry, 100 ms apart.
    let fail_input = json!({"n": 4, "fail": true});
    let cli_fail = run(qstash(
        &url,
        &[
            "trigger",
            &wf,
            "--content-type",
            "application/json",
            "--body",
            &fail_input.to_string(),
            "--retries",
            "1",
            "--retry-delay",
            "100",
            "--failure-callback",
            "--json",
        ],
    ))
    .await;
    let cli_fail_run = run_id_of("qstash trigger (failing)", &cli_fail);
    let mut sdk_fail_cmd = Command::new("node");
    common::clear_qstash_env(&mut sdk_fail_cmd)
        .args(["trigger.mjs", &wf, &fail_input.to_string(), "1", "100"])
        .current_dir(&dir)
        .env("QSTASH_URL", &url)
        .env("QSTASH_TOKEN", TOKEN);
    let sdk_fail_run = run_id_of("Client.trigger (failing)", &run(sdk_fail_cmd).await);

    // A run cancelled during its 3 s sleep.
    let cancel_input = json!({"n": 5, "tag": "cancel", "sleep": 3});
    let cancel = run(qstash(
        &url,
        &[
            "trigger",
            &wf,
            "--content-type",
            "application/json",
            "--body",
            &cancel_input.to_string(),
            "--json",
        ],
    ))
    .await;
    let cancel_run = run_id_of("qstash trigger (to cancel)", &cancel);
    let sleeping = api
        .wait_run(&cancel_run, "the sleep step", |l| {
            steps(l).iter().any(|(n, _)| n == "pause")
        })
        .await;
    let sleep_started = Instant::now();
    assert_eq!(sleeping["workflowState"], "RUN_STARTED");
    ok_stdout(
        "qstash cancel",
        &run(qstash(&url, &["cancel", &cancel_run])).await,
    );

    // The three ways complete with the right outputs.
    for (run_id, input, n, tag) in [
        (&cli_run, &cli_input, 1, "cli"),
        (&rust_run, &rust_input, 2, "rust"),
        (&sdk_run, &sdk_input, 3, "sdk"),
    ] {
        let log = api.wait_state(run_id, "RUN_SUCCESS").await;
        assert_completed(&log, input, n, tag);
        let ran = api.events(&endpoint, run_id, "step").await;
        let names: Vec<&str> = ran.iter().map(|e| e["step"].as_str().unwrap()).collect();
        assert_eq!(names, ["double", "add-ten", "describe"], "run {run_id}");
    }

    for run_id in [&cli_fail_run, &sdk_fail_run] {
        assert_failed_once(&api, &endpoint, run_id).await;
    }

    // The cancelled run: cancelled, and its next step never ran, even after the sleep's end.
    let log = api.wait_state(&cancel_run, "RUN_CANCELED").await;
    assert!(
        !steps(&log).iter().any(|(n, _)| n == "describe"),
        "{log:#?}"
    );
    let after_sleep = Duration::from_millis(4500);
    if let Some(rest) = after_sleep.checked_sub(sleep_started.elapsed()) {
        tokio::time::sleep(rest).await;
    }
    let ran = api.events(&endpoint, &cancel_run, "step").await;
    assert!(
        !ran.iter().any(|e| e["step"] == "describe"),
        "a cancelled run ran its next step: {ran:#?}"
    );
    assert_eq!(
        api.run_log(&cancel_run).await.unwrap()["workflowState"],
        "RUN_CANCELED"
    );

    // `qstash logs` shows every run in its state.
    let logs = ok_stdout("qstash logs", &run(qstash(&url, &["logs"])).await);
    for (run_id, state) in [
        (&cli_run, "RUN_SUCCESS"),
        (&rust_run, "RUN_SUCCESS"),
        (&sdk_run, "RUN_SUCCESS"),
        (&cli_fail_run, "RUN_FAILED"),
        (&sdk_fail_run, "RUN_FAILED"),
        (&cancel_run, "RUN_CANCELED"),
    ] {
        assert!(
            logs.lines()
                .any(|l| l.contains(run_id.as_str()) && l.contains(state)),
            "qstash logs does not show {run_id} as {state}:\n{logs}"
        );
    }
    // Each run with its steps as a tree: name, type, state, time since the step before.
    for step in [
        "init  ",
        "double  ",
        "add-ten  ",
        "pause  ",
        "describe  ",
        "echo  ",
    ] {
        assert!(
            logs.lines()
                .any(|l| l.contains(&format!("─ {step}")) && l.contains("STEP_SUCCESS")),
            "qstash logs does not show the step {step:?}:\n{logs}"
        );
    }
    let one = ok_stdout(
        "qstash logs --run-id --json",
        &run(qstash(&url, &["logs", "--run-id", &cli_run, "--json"])).await,
    );
    let one: Value = serde_json::from_str(&one).unwrap();
    assert_eq!(
        one["runs"][0]["workflowRunId"],
        cli_run.as_str(),
        "{one:#?}"
    );
    assert_completed(&one["runs"][0], &cli_input, 1, "cli");

    drop(endpoint);
    server.shutdown().await;
}

impl Api {
    async fn post_endpoint(&self, endpoint: &Endpoint, path: &str, body: Value) -> Value {
        let resp = self
            .http
            .post(format!("{}{path}", endpoint.base))
            .json(&body)
            .send()
            .await
            .unwrap();
        let status = resp.status();
        let text = resp.text().await.unwrap();
        assert!(status.is_success(), "POST {path}: {status} {text}");
        serde_json::from_str(&text).unwrap()
    }

    /// The endpoint's step events of runs with `tag`, as step names.
    async fn steps_of_tag(&self, endpoint: &Endpoint, tag: &str) -> Vec<String> {
        let all: Vec<Value> = self
            .http
            .get(format!("{}/events", endpoint.base))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        all.into_iter()
            .filter(|e| e["type"] == "step" && e["tag"] == tag)
            .map(|e| e["step"].as_str().unwrap().to_owned())
            .collect()
    }

    async fn trigger(&self, url: &str, input: &Value, retries: Option<u32>) -> String {
        let mut args = vec![
            "trigger".to_owned(),
            url.to_owned(),
            "--content-type".into(),
            "application/json".into(),
            "--body".into(),
            input.to_string(),
            "--json".into(),
        ];
        if let Some(r) = retries {
            args.extend(["--retries".into(), r.to_string()]);
        }
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        run_id_of("qstash trigger", &run(qstash(&self.url, &args)).await)
    }

    /// The run's return value.
    async fn result_of(&self, run_id: &str) -> Value {
        let log = self.wait_state(run_id, "RUN_SUCCESS").await;
        serde_json::from_str(log["workflowRunResponse"].as_str().unwrap()).unwrap()
    }
}

/// `context.waitForEvent` released by the SDK's `Client.notify` and by its timeout, parallel
/// `context.run`s, and a failed run resumed from the DLQ with the SDK's `Client.dlq.resume`
/// without running its completed steps again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn real_sdk_waits_for_events_runs_in_parallel_and_resumes() {
    let dir = example_workflow_dir();
    npm_ci(&dir, "@upstash/workflow/package.json");

    let data = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(data.path().join("qstash.db")).unwrap();
    let server = Server::builder(Arc::new(store))
        .token(TOKEN)
        .unwrap()
        .signing_keys(CURRENT_KEY, NEXT_KEY)
        .shutdown_grace(Duration::from_secs(1))
        .start()
        .await
        .unwrap();
    let url = server.url();
    let api = Api {
        url: url.clone(),
        http: http(),
    };
    let endpoint = start_endpoint(&dir, &url, &api.http).await;
    let features = format!("{}/features", endpoint.base);

    // Started together: a run that waits for an event, one whose wait times out, a parallel
    // one, and one whose step fails until a flag is set (no retries: it fails at once).
    let waiting = api
        .trigger(&features, &json!({"tag": "w", "wait": "evt-order-1"}), None)
        .await;
    let timing_out = api
        .trigger(
            &features,
            &json!({"tag": "t", "wait": "evt-never", "waitTimeout": "1s"}),
            None,
        )
        .await;
    let parallel = api
        .trigger(&features, &json!({"tag": "p", "parallel": 3}), None)
        .await;
    let flaky = api
        .trigger(
            &features,
            &json!({"tag": "r", "failUntil": "flag-r"}),
            Some(0),
        )
        .await;

    // The waiter is registered, then released by Client.notify with the event's data.
    let deadline = Instant::now() + WAIT;
    let waiter = loop {
        let waiters = api.get("/v2/waiters/evt-order-1").await;
        if let Some(w) = waiters.as_array().and_then(|w| w.first()) {
            break w.clone();
        }
        assert!(
            Instant::now() < deadline,
            "the run never waited: {waiters:#?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(waiter["url"], features.as_str(), "{waiter:#?}");
    let notified = api
        .post_endpoint(
            &endpoint,
            "/notify",
            json!({"eventId": "evt-order-1", "eventData": {"paid": 42}}),
        )
        .await;
    let notified = notified.as_array().unwrap();
    assert_eq!(notified.len(), 1, "{notified:#?}");
    assert!(notified[0]["messageId"].is_string(), "{notified:#?}");
    assert_eq!(notified[0]["waiter"]["url"], features.as_str());
    // Nobody waits any more: a second notify reaches nobody.
    let again = api
        .post_endpoint(
            &endpoint,
            "/notify",
            json!({"eventId": "evt-order-1", "eventData": "late"}),
        )
        .await;
    assert_eq!(again, json!([]));
    let result = api.result_of(&waiting).await;
    assert_eq!(
        result["waited"],
        json!({"timeout": false, "eventData": {"paid": 42}}),
        "{result:#?}"
    );
    assert_eq!(result["last"], "last:w");
    assert_eq!(api.steps_of_tag(&endpoint, "w").await, ["first", "last"]);
    let log = api.run_log(&waiting).await.unwrap();
    let wait = log["steps"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|g| g["steps"].as_array().unwrap())
        .find(|s| s["stepType"] == "Wait")
        .unwrap_or_else(|| panic!("no Wait step: {log:#?}"))
        .clone();
    assert_eq!(wait["waitEventId"], "evt-order-1", "{wait:#?}");
    assert_eq!(wait["waitTimeoutDuration"], "30s", "{wait:#?}");
    assert_eq!(wait["waitTimeout"], false, "{wait:#?}");
    assert_eq!(wait["out"], r#"{"paid":42}"#, "{wait:#?}");

    // The wait that nobody notifies times out.
    let result = api.result_of(&timing_out).await;
    assert_eq!(result["waited"], json!({"timeout": true}), "{result:#?}");
    assert_eq!(result["last"], "last:t");
    assert!(
        api.get("/v2/waiters/evt-never").await == json!([]),
        "a timed-out waiter is not listed"
    );

    // Parallel steps: each ran once, the results in order.
    let result = api.result_of(&parallel).await;
    assert_eq!(result["parts"], json!([0, 1, 4]), "{result:#?}");
    let mut ran = api.steps_of_tag(&endpoint, "p").await;
    ran.sort();
    assert_eq!(ran, ["first", "last", "part-0", "part-1", "part-2"]);
    // The logs show the three as one parallel group, without the SDK's plan steps.
    let log = api.run_log(&parallel).await.unwrap();
    let groups: Vec<(String, usize)> = log["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| {
            (
                g["type"].as_str().unwrap().to_owned(),
                g["steps"].as_array().unwrap().len(),
            )
        })
        .collect();
    assert_eq!(
        groups,
        [
            ("sequential".to_owned(), 1),
            ("sequential".to_owned(), 1),
            ("parallel".to_owned(), 3),
            ("sequential".to_owned(), 1)
        ],
        "{log:#?}"
    );

    // The flaky run failed and is in the workflow DLQ with its run's fields.
    api.wait_state(&flaky, "RUN_FAILED").await;
    let dlq = api.get("/v2/dlq?source=workflow").await;
    let entry = dlq["messages"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["workflowRunId"] == flaky.as_str())
        .unwrap_or_else(|| panic!("no DLQ entry of {flaky}: {dlq:#?}"))
        .clone();
    assert_eq!(entry["workflowUrl"], features.as_str(), "{entry:#?}");
    assert!(
        entry["workflowCreatedAt"].as_u64().unwrap() > 0,
        "{entry:#?}"
    );
    assert_eq!(entry["responseStatus"], 500, "{entry:#?}");
    assert_eq!(api.steps_of_tag(&endpoint, "r").await, ["first", "flaky"]);

    // Resumed with the flag set: the new run keeps "first" and runs only what is left.
    api.post_endpoint(&endpoint, "/flags/flag-r", json!({}))
        .await;
    let resumed = api
        .post_endpoint(&endpoint, "/resume", json!({"dlqId": entry["dlqId"]}))
        .await;
    let resumed_run = resumed["workflowRunId"].as_str().unwrap().to_owned();
    assert_ne!(resumed_run, flaky);
    assert!(resumed["workflowCreatedAt"].is_number(), "{resumed:#?}");
    let result = api.result_of(&resumed_run).await;
    assert_eq!(
        result,
        json!({"first": "first:r", "flaky": "flaky:r", "last": "last:r"}),
        "{result:#?}"
    );
    assert_eq!(
        api.steps_of_tag(&endpoint, "r").await,
        ["first", "flaky", "flaky", "last"],
        "the completed step ran once"
    );
    let names: Vec<String> = steps(&api.run_log(&resumed_run).await.unwrap())
        .into_iter()
        .map(|(n, _)| n)
        .collect();
    assert_eq!(names, ["init", "first", "flaky", "last"]);

    drop(endpoint);
    server.shutdown().await;
}
