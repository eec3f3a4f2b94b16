//! Many workflow runs at once: a thousand runs of a three-step workflow, against a Rust endpoint
//! that speaks the SDK's step protocol (`qstash-test-support`), on a real server
//! and SQLite file.

mod common;

use std::collections::HashMap;
use std::time::Duration;

use common::*;
use qstash_test_support::workflow_endpoint::{Endpoint, expected_outs, expected_result, input};
use serde_json::{Value, json};

const RUNS: u64 = 1000;
/// How many of them start through `POST /v2/batch/trigger`, 10 per request.
const BATCHED: u64 = 100;

/// Every run of the tenant in the workflow logs, by run id.
async fn all_runs(s: &TestServer) -> HashMap<String, Value> {
    let mut runs = HashMap::new();
    let mut cursor: Option<String> = None;
    loop {
        let mut path = "/v2/workflows/logs?count=1000".to_owned();
        if let Some(c) = &cursor {
            path.push_str(&format!("&cursor={c}"));
        }
        let v: Value = s.get(&path).send().await.unwrap().json().await.unwrap();
        let page = v["runs"].as_array().unwrap();
        for run in page {
            runs.insert(
                run["workflowRunId"].as_str().unwrap().to_owned(),
                run.clone(),
            );
        }
        match v["cursor"].as_str() {
            Some(c) if !page.is_empty() => cursor = Some(c.to_owned()),
            _ => return runs,
        }
    }
}

/// The `(stepName, out)` of each step of a run's log, in order, the init step first.
fn logged_steps(run: &Value) -> Vec<(String, Value)> {
    run["steps"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|g| g["steps"].as_array().unwrap().iter())
        .map(|s| {
            assert_eq!(s["state"], "STEP_SUCCESS", "{s}");
            let out = match &s["out"] {
                Value::String(text) => serde_json::from_str(text).unwrap_or(json!(text)),
                other => other.clone(),
            };
            (s["stepName"].as_str().unwrap().to_owned(), out)
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_thousand_concurrent_runs_each_complete_with_each_step_once() {
    let s = start().await;
    let ep = Endpoint::start(&s.url, TOKEN, http_client()).await;
    let wf = format!("{}/wf/three-steps", ep.url);

    // 900 runs through /v2/trigger from 30 concurrent callers, 100 through /v2/batch/trigger.
    let mut tasks = Vec::new();
    let callers = 30;
    for c in 0..callers {
        let (http, url, wf) = (s.http.clone(), s.url.clone(), wf.clone());
        tasks.push(tokio::spawn(async move {
            let mut started = Vec::new();
            let mut n = c;
            while n < RUNS - BATCHED {
                let resp = http
                    .post(format!("{url}/v2/trigger/{wf}"))
                    .bearer_auth(TOKEN)
                    .header("content-type", "application/json")
                    .body(input(n, None).to_string())
                    .send()
                    .await
                    .unwrap();
                assert_eq!(resp.status(), 200);
                let v: Value = resp.json().await.unwrap();
                started.push((v["workflowRunId"].as_str().unwrap().to_owned(), n));
                n += callers;
            }
            started
        }));
    }
    for b in 0..BATCHED / 10 {
        let (http, url, wf) = (s.http.clone(), s.url.clone(), wf.clone());
        tasks.push(tokio::spawn(async move {
            let ns: Vec<u64> = (0..10).map(|i| RUNS - BATCHED + b * 10 + i).collect();
            let entries: Vec<Value> = ns
                .iter()
                .map(|n| {
                    json!({
                        "destination": wf,
                        "headers": {"Content-Type": "application/json"},
                        "body": input(*n, None).to_string(),
                    })
                })
                .collect();
            let resp = http
                .post(format!("{url}/v2/batch/trigger"))
                .bearer_auth(TOKEN)
                .json(&entries)
                .send()
                .await
                .unwrap();
            assert_eq!(resp.status(), 200);
            let v: Value = resp.json().await.unwrap();
            let answers = v.as_array().unwrap();
            assert_eq!(answers.len(), ns.len(), "{v}");
            answers
                .iter()
                .zip(ns)
                .map(|(a, n)| {
                    assert_ne!(a["deduplicated"], true, "{a}");
                    (a["workflowRunId"].as_str().unwrap().to_owned(), n)
                })
                .collect::<Vec<_>>()
        }));
    }
    let mut runs: HashMap<String, u64> = HashMap::new();
    for t in tasks {
        runs.extend(t.await.unwrap());
    }
    assert_eq!(runs.len() as u64, RUNS, "every run has its own id");

    let ids: Vec<String> = runs.keys().cloned().collect();
    if let Err(missing) = ep.wait_ended(&ids, Duration::from_secs(60)).await {
        let log = ep.log();
        panic!(
            "{} runs not ended within 60 s, e.g. {:?}; endpoint errors: {:?}",
            missing.len(),
            &missing[..missing.len().min(5)],
            &log.errors[..log.errors.len().min(5)]
        );
    }

    // The endpoint's view: each step ran once, each message arrived once, nothing failed.
    {
        let log = ep.log();
        assert!(log.errors.is_empty(), "{:?}", log.errors);
        assert_eq!(log.retried, 0, "no delivery had to be retried");
        assert_eq!(log.duplicate_steps, 0);
        for (id, n) in &runs {
            for step in 1..=3 {
                assert_eq!(
                    log.executed.get(&(id.clone(), step)),
                    Some(&1),
                    "run {id} step {step}"
                );
            }
            assert_eq!(log.executed.get(&(id.clone(), 4)), None, "run {id}");
            let (result, ends) = &log.ended[id];
            assert_eq!(result, &expected_result(*n), "run {id}");
            assert_eq!(*ends, 1, "run {id} ended once");
        }
        assert_eq!(log.executed.len() as u64, 3 * RUNS);
        // One trigger delivery and four step deliveries (Init, three steps) per run.
        assert_eq!(log.message_ids.len() as u64, 4 * RUNS);
        assert!(log.message_ids.values().all(|c| *c == 1));
        assert_eq!(log.requests, 5 * RUNS);
    }

    // The server's view: every run RUN_SUCCESS with the right result and each step once.
    let logged = all_runs(&s).await;
    assert_eq!(logged.len() as u64, RUNS);
    for (id, n) in &runs {
        let run = &logged[id];
        assert_eq!(run["workflowState"], "RUN_SUCCESS", "{run:#}");
        let response: Value =
            serde_json::from_str(run["workflowRunResponse"].as_str().unwrap()).unwrap();
        assert_eq!(response, expected_result(*n), "run {id}");
        let steps = logged_steps(run);
        assert_eq!(steps[0], ("init".to_owned(), input(*n, None)), "run {id}");
        let want: Vec<(String, Value)> = expected_outs(*n)
            .into_iter()
            .map(|(name, out)| (name.to_owned(), out))
            .collect();
        assert_eq!(steps[1..], want[..], "run {id}");
    }
}
