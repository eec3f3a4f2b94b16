//! `kill -9` loses nothing that was acknowledged: the real binary, a real SQLite file, a burst
//! of publishes (some delayed) to a loopback destination, SIGKILL in the middle, a restart on
//! the same data, and every acknowledged message id must reach the destination; and every
//! workflow run caught mid-way (sleeping, or with a step delivery in flight) still completes.

mod common;

use common::free_port;

use std::collections::HashSet;
use std::process::{Child, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::State;
use axum::http::HeaderMap;

const TOKEN: &str = "crash-test-token";

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

fn spawn_server(port: u16, db: &std::path::Path) -> Child {
    spawn_server_with(port, db, "2s")
}

fn spawn_server_with(port: u16, db: &std::path::Path, delivery_timeout: &str) -> Child {
    common::qstash()
        .args([
            "serve",
            "--listen",
            &format!("127.0.0.1:{port}"),
            "--database-url",
            &format!("sqlite://{}", db.display()),
            "--tokens",
            TOKEN,
            // short leases, so that attempts claimed at the kill are made again quickly
            "--delivery-timeout",
            delivery_timeout,
            "--lease-grace",
            "1s",
            // the receivers are on loopback, which serve refuses by default
            "--allow-private-destinations",
        ])
        .env_remove("QSTASH_TOKEN")
        .env_remove("QSTASH_ALLOW_DESTINATIONS")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("the qstash binary starts")
}

async fn wait_healthy(http: &reqwest::Client, base: &str) {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        if let Ok(r) = http.get(format!("{base}/health")).send().await
            && r.status().is_success()
        {
            return;
        }
        assert!(Instant::now() < deadline, "the server did not come up");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_mid_burst_loses_no_acknowledged_message() {
    let (sink_url, seen) = sink().await;
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("qstash.db");
    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");
    let _ = rustls::crypto::ring::default_provider().install_default();
    let http = reqwest::Client::new();
    let mut child = spawn_server(port, &db);
    wait_healthy(&http, &base).await;

    // 16 publishers; every third message is delayed by 1 or 2 seconds.
    let acked: Arc<Mutex<Vec<String>>> = Arc::default();
    let mut publishers = Vec::new();
    for p in 0..16 {
        let (http, base, sink_url, acked) =
            (http.clone(), base.clone(), sink_url.clone(), acked.clone());
        publishers.push(tokio::spawn(async move {
            for i in 0..400 {
                let mut req = http
                    .post(format!("{base}/v2/publish/{sink_url}/m/{p}/{i}"))
                    .bearer_auth(TOKEN)
                    .body(format!("{p}-{i}"));
                if i % 3 == 0 {
                    req = req.header("Upstash-Delay", format!("{}s", 1 + i % 2));
                }
                match req.send().await {
                    Ok(r) if r.status().is_success() => {
                        let v: serde_json::Value = match r.json().await {
                            Ok(v) => v,
                            Err(_) => break,
                        };
                        acked
                            .lock()
                            .unwrap()
                            .push(v["messageId"].as_str().unwrap().to_owned());
                    }
                    // refused or cut off by the kill: not acknowledged, nothing promised
                    _ => break,
                }
            }
        }));
    }
    // kill in the middle of the burst
    let deadline = Instant::now() + Duration::from_secs(60);
    while acked.lock().unwrap().len() < 1500 {
        assert!(Instant::now() < deadline, "the burst did not get going");
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    child.kill().expect("SIGKILL"); // Child::kill sends SIGKILL on Unix
    child.wait().unwrap();
    for p in publishers {
        p.await.unwrap();
    }
    let acked: Vec<String> = acked.lock().unwrap().clone();
    let delivered_before = seen.lock().unwrap().len();
    assert!(
        delivered_before < acked.len(),
        "the kill came after everything was delivered; the test proves nothing"
    );

    let mut child = spawn_server(port, &db);
    wait_healthy(&http, &base).await;
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let missing: Vec<String> = {
            let seen = seen.lock().unwrap();
            acked
                .iter()
                .filter(|id| !seen.contains(*id))
                .cloned()
                .collect()
        };
        if missing.is_empty() {
            break;
        }
        if Instant::now() > deadline {
            child.kill().unwrap();
            panic!(
                "{} of {} acknowledged messages never arrived, e.g. {:?}",
                missing.len(),
                acked.len(),
                &missing[..missing.len().min(5)]
            );
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    child.kill().unwrap();
    child.wait().unwrap();
}

/// The `(stepName, out)` of each step of a run's log, in order, the init step first (a sleep's
/// `out` is null).
fn logged_steps(run: &serde_json::Value) -> Vec<(String, serde_json::Value)> {
    run["steps"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|g| g["steps"].as_array().unwrap().iter())
        .map(|s| {
            let out = match &s["out"] {
                serde_json::Value::String(text) => {
                    serde_json::from_str(text).unwrap_or(serde_json::json!(text))
                }
                other => other.clone(),
            };
            (s["stepName"].as_str().unwrap().to_owned(), out)
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_mid_run_every_workflow_run_still_completes() {
    use qstash_test_support::workflow_endpoint::{Endpoint, expected_outs, expected_result, plan};

    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("qstash.db");
    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");
    let _ = rustls::crypto::ring::default_provider().install_default();
    let http = reqwest::Client::new();
    // Attempts answer within the endpoint's 2 s hold; a claim cut off by the kill is made
    // again 5 s + 1 s after it was taken.
    let mut child = spawn_server_with(port, &db, "5s");
    wait_healthy(&http, &base).await;
    // The endpoint lives in this process: it outlives the server.
    let ep = Endpoint::start(&base, TOKEN, http.clone()).await;
    let wf = format!("{}/wf/crash", ep.url);

    // 15 runs that sleep 3 s after their first step, 15 whose second step holds its delivery
    // open for 2 s, 15 plain ones.
    let mut runs: Vec<(String, u64, serde_json::Value)> = Vec::new();
    for n in 0..45u64 {
        let input = match n % 3 {
            0 => serde_json::json!({"n": n, "sleep": 3}),
            1 => serde_json::json!({"n": n, "hold": 2000}),
            _ => serde_json::json!({"n": n}),
        };
        let r = http
            .post(format!("{base}/v2/trigger/{wf}"))
            .bearer_auth(TOKEN)
            .header("content-type", "application/json")
            .body(input.to_string())
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        let v: serde_json::Value = r.json().await.unwrap();
        runs.push((v["workflowRunId"].as_str().unwrap().to_owned(), n, input));
    }
    let sleeping: Vec<String> = runs
        .iter()
        .filter(|r| r.1 % 3 == 0)
        .map(|r| r.0.clone())
        .collect();
    let holding: Vec<String> = runs
        .iter()
        .filter(|r| r.1 % 3 == 1)
        .map(|r| r.0.clone())
        .collect();

    // Kill once every sleeping run has published its sleep (step 2) and every holding run is
    // inside its held delivery (step 2 ran, its message not yet published).
    let (s2, h2) = (sleeping.clone(), holding.clone());
    let caught = ep
        .wait_until(Duration::from_secs(30), move |log| {
            s2.iter()
                .chain(h2.iter())
                .all(|r| log.executed.contains_key(&(r.clone(), 2)))
        })
        .await;
    assert!(
        caught,
        "the runs did not reach their second step: {:?}",
        ep.log().errors
    );
    child.kill().expect("SIGKILL");
    child.wait().unwrap();
    {
        // Under a heavy load the first runs may have got through; what matters is that runs
        // of both kinds were cut off mid-way.
        let log = ep.log();
        let going = |runs: &[String]| runs.iter().filter(|r| !log.ended.contains_key(*r)).count();
        assert!(
            going(&sleeping) > 0 && going(&holding) > 0,
            "every sleeping or every holding run ended before the kill; the test proves nothing"
        );
    }

    let mut child = spawn_server_with(port, &db, "5s");
    wait_healthy(&http, &base).await;
    // Every run ends: the server's logs are the judge (the endpoint may not have heard the
    // answer to a DELETE the kill cut off).
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let v: serde_json::Value = http
            .get(format!("{base}/v2/workflows/logs?count=1000"))
            .bearer_auth(TOKEN)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let going: Vec<serde_json::Value> = v["runs"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|r| r["workflowState"] != "RUN_SUCCESS")
            .cloned()
            .collect();
        if going.is_empty() && v["runs"].as_array().unwrap().len() == runs.len() {
            break;
        }
        if Instant::now() > deadline {
            let errors: Vec<String> = ep.log().errors.iter().rev().take(5).cloned().collect();
            child.kill().unwrap();
            child.wait().unwrap();
            panic!(
                "{} runs not RUN_SUCCESS 60 s after the restart, e.g. {:#}; the endpoint's last \
                 errors: {errors:?}",
                going.len(),
                going[0]
            );
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    {
        let log = ep.log();
        for (id, n, _) in &runs {
            if let Some((result, _)) = log.ended.get(id) {
                assert_eq!(*result, expected_result(*n), "run {id}");
            }
        }
        eprintln!(
            "after the restart: {} deliveries retried, {} steps run twice, {} duplicate-step \
             answers, {} of {} ends heard by the endpoint",
            log.retried,
            log.executed.values().filter(|c| **c > 1).count(),
            log.duplicate_steps,
            log.ended.len(),
            runs.len()
        );
    }

    // The server's logs: every run RUN_SUCCESS with its result; its steps, each step id once
    // (a step the kill cut off may have been recorded twice, with the same output), are the
    // workflow's, with the right outputs.
    for (id, n, input) in &runs {
        let v: serde_json::Value = http
            .get(format!("{base}/v2/workflows/logs?workflowRunId={id}"))
            .bearer_auth(TOKEN)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let run = &v["runs"][0];
        assert_eq!(run["workflowState"], "RUN_SUCCESS", "{run:#}");
        let response: serde_json::Value =
            serde_json::from_str(run["workflowRunResponse"].as_str().unwrap()).unwrap();
        assert_eq!(response, expected_result(*n), "run {id}");
        let mut steps = logged_steps(run);
        assert_eq!(steps[0].0, "init");
        assert_eq!(steps[0].1, *input);
        // A step recorded twice (a delivery cut off by the kill, made again) is the same step
        // with the same output; the SDK keeps the first of each.
        let mut first: Vec<(String, serde_json::Value)> = Vec::new();
        for step in steps.drain(1..) {
            match first.iter().find(|s| s.0 == step.0) {
                Some(seen) => assert_eq!(*seen, step, "run {id}: {run:#}"),
                None => first.push(step),
            }
        }
        steps.extend(first);
        let names: Vec<&str> = steps[1..].iter().map(|s| s.0.as_str()).collect();
        let want: Vec<&str> = plan(input).iter().map(|p| p.name()).collect();
        assert_eq!(names, want, "run {id}: {run:#}");
        let outs: Vec<(String, serde_json::Value)> = steps[1..]
            .iter()
            .filter(|s| s.0 != "pause")
            .cloned()
            .collect();
        let want: Vec<(String, serde_json::Value)> = expected_outs(*n)
            .into_iter()
            .map(|(name, out)| (name.to_owned(), out))
            .collect();
        assert_eq!(outs, want, "run {id}");
    }
    child.kill().unwrap();
    child.wait().unwrap();
}
