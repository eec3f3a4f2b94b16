//! The workflow step protocol at its edges (SERVER.md §9), spoken by hand to a real server on a
//! SQLite file, with a loopback destination in place of the SDK's endpoint.

mod common;

use std::time::{Duration, Instant};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use common::*;
use serde_json::{Value, json};

const WAIT: Duration = Duration::from_secs(10);
const FEATURES: &str = "LazyFetch,InitialBody,WF_DetectTrigger,WF_TriggerOnConfig";

/// Triggers a run of `workflow_url` as `token`; returns its run id.
async fn trigger(
    s: &TestServer,
    token: &str,
    workflow_url: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> String {
    let mut req = s
        .http
        .post(format!("{}/v2/trigger/{workflow_url}", s.url))
        .bearer_auth(token)
        .body(body.to_owned());
    for (n, v) in headers {
        req = req.header(*n, *v);
    }
    let resp = req.send().await.unwrap();
    let status = resp.status();
    let text = resp.text().await.unwrap();
    assert_eq!(status, 200, "trigger answered {status}: {text}");
    let v: Value = serde_json::from_str(&text).unwrap();
    v["workflowRunId"].as_str().unwrap().to_owned()
}

/// A message of a run as the SDK publishes it through `/v2/batch`.
fn run_message(url: &str, run_id: &str, init: bool, extra: &[(&str, &str)], body: &str) -> Value {
    let mut headers = json!({
        "content-type": "application/json",
        "upstash-feature-set": FEATURES,
        "upstash-forward-upstash-workflow-sdk-version": "1",
        "upstash-method": "POST",
        "upstash-workflow-init": if init { "true" } else { "false" },
        "upstash-workflow-runid": run_id,
        "upstash-workflow-sdk-version": "1",
        "upstash-workflow-url": url,
    });
    for (n, v) in extra {
        headers[*n] = json!(v);
    }
    json!({"destination": url, "headers": headers, "body": body})
}

/// `POST /v2/batch` with one entry, as `token`: the status and the answer.
async fn batch(s: &TestServer, token: &str, entry: Value) -> (u16, Value) {
    let resp = s
        .http
        .post(format!("{}/v2/batch", s.url))
        .bearer_auth(token)
        .json(&json!([entry]))
        .send()
        .await
        .unwrap();
    let status = resp.status().as_u16();
    let body: Value = resp.json().await.unwrap_or(Value::Null);
    (status, body)
}

/// A delivery's body, decoded: `(messageId, body)` of each element.
fn steps_of(r: &Received) -> Vec<(String, String)> {
    let v: Value = serde_json::from_slice(&r.body).unwrap();
    v.as_array()
        .unwrap()
        .iter()
        .map(|e| {
            assert_eq!(e["callType"], "step", "{e}");
            let body = STANDARD.decode(e["body"].as_str().unwrap()).unwrap();
            (
                e["messageId"].as_str().unwrap().to_owned(),
                String::from_utf8(body).unwrap(),
            )
        })
        .collect()
}

async fn run_log(s: &TestServer, token: &str, run_id: &str) -> Option<Value> {
    let v: Value = s
        .http
        .get(format!(
            "{}/v2/workflows/logs?workflowRunId={run_id}",
            s.url
        ))
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    v["runs"].as_array().and_then(|r| r.first()).cloned()
}

async fn wait_state(s: &TestServer, token: &str, run_id: &str, state: &str) -> Value {
    let deadline = Instant::now() + WAIT;
    loop {
        let log = run_log(s, token, run_id).await;
        if let Some(l) = &log
            && l["workflowState"] == state
        {
            return l.clone();
        }
        assert!(
            Instant::now() < deadline,
            "run {run_id} not {state} within {WAIT:?}: {log:#?}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn status_of(req: reqwest::RequestBuilder) -> u16 {
    req.send().await.unwrap().status().as_u16()
}

#[tokio::test]
async fn trigger_is_delivered_in_the_unknown_sdk_form() {
    let sink = Sink::start().await;
    let s = start().await;
    let wf = format!("{}/wf/unknown", sink.url);
    let run_id = trigger(
        &s,
        TOKEN,
        &wf,
        &[
            ("Content-Type", "text/plain"),
            ("Upstash-Forward-X-Custom", "hello"),
        ],
        r#"{"n":1}"#,
    )
    .await;
    assert!(run_id.starts_with("wfr_"), "{run_id}");
    let got = sink.wait_for("/wf/unknown", 1, WAIT).await;
    let r = &got[0];
    assert_eq!(r.method, "POST");
    assert_eq!(r.header("upstash-workflow-runid"), Some(run_id.as_str()));
    assert_eq!(r.header("upstash-workflow-unknown-sdk"), Some("true"));
    assert_eq!(r.header("content-type"), Some("application/json"));
    assert_eq!(r.header("x-custom"), Some("hello"));
    assert_eq!(r.header("upstash-workflow-sdk-version"), None);
    let message_id = r.header("upstash-message-id").unwrap().to_owned();
    let body: Value = serde_json::from_slice(&r.body).unwrap();
    assert_eq!(
        body,
        json!([{"messageId": message_id, "body": STANDARD.encode(r#"{"n":1}"#), "callType": "step"}])
    );
    // The destination answered as a workflow endpoint: the run goes on.
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(
        run_log(&s, TOKEN, &run_id).await.unwrap()["workflowState"],
        "RUN_STARTED"
    );
}

#[tokio::test]
async fn a_run_from_trigger_to_end_through_the_step_protocol() {
    let sink = Sink::start().await;
    let s = start().await;
    let wf = format!("{}/wf/steps", sink.url);
    let run_id = trigger(&s, TOKEN, &wf, &[], r#"{"n":1}"#).await;
    sink.wait_for("/wf/steps", 1, WAIT).await;

    // The SDK answers the trigger delivery with its Init message: the same run goes on.
    let (status, answer) = batch(
        &s,
        TOKEN,
        run_message(
            &wf,
            &run_id,
            true,
            &[("upstash-workflow-trigger-by-sdk", "true")],
            r#"{"n":1}"#,
        ),
    )
    .await;
    assert!((200..300).contains(&status), "{status} {answer}");
    let init_id = answer[0]["messageId"].as_str().unwrap().to_owned();
    assert_ne!(answer[0]["deduplicated"], true, "{answer}");
    let got = sink.wait_for("/wf/steps", 2, WAIT).await;
    let d = &got[1];
    assert_eq!(d.header("upstash-workflow-runid"), Some(run_id.as_str()));
    assert_eq!(d.header("upstash-workflow-sdk-version"), Some("1"));
    assert_eq!(d.header("upstash-workflow-url"), Some(wf.as_str()));
    assert_eq!(d.header("upstash-feature-set"), Some(FEATURES));
    assert_eq!(d.header("upstash-workflow-unknown-sdk"), None);
    let created: u64 = d
        .header("upstash-workflow-createdat")
        .unwrap()
        .parse()
        .unwrap();
    let log = run_log(&s, TOKEN, &run_id).await.unwrap();
    assert_eq!(log["workflowRunCreatedAt"], created);
    assert_eq!(d.header("upstash-message-id"), Some(init_id.as_str()));
    assert_eq!(steps_of(d), [(init_id.clone(), r#"{"n":1}"#.to_owned())]);

    // A second Init message of the run (not the trigger's answer) starts nothing.
    let (status, again) = batch(&s, TOKEN, run_message(&wf, &run_id, true, &[], "{}")).await;
    assert!((200..300).contains(&status), "{status} {again}");
    assert_eq!(again[0]["deduplicated"], true, "{again}");

    // A step message: delivered with [init, step] in order.
    let step = r#"{"stepId":1,"stepName":"a","stepType":"Run","out":"2","concurrent":1}"#;
    let (status, answer) = batch(&s, TOKEN, run_message(&wf, &run_id, false, &[], step)).await;
    assert!((200..300).contains(&status), "{status} {answer}");
    let step_id = answer[0]["messageId"].as_str().unwrap().to_owned();
    let got = sink.wait_for("/wf/steps", 3, WAIT).await;
    let d = &got[2];
    assert_eq!(d.header("upstash-message-id"), Some(step_id.as_str()));
    assert_eq!(
        steps_of(d),
        [
            (init_id.clone(), r#"{"n":1}"#.to_owned()),
            (step_id.clone(), step.to_owned())
        ]
    );

    // The lazy fetch: the same array while the run goes on.
    let resp = s
        .get(&format!("/v2/workflows/runs/{run_id}"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let fetched: Value = resp.json().await.unwrap();
    assert_eq!(fetched, serde_json::from_slice::<Value>(&d.body).unwrap());

    // The SDK's end of the run, twice: 200 both times, the body kept as the response.
    for _ in 0..2 {
        let resp = s
            .delete(&format!("/v2/workflows/runs/{run_id}?cancel=false"))
            .header("content-type", "text/plain;charset=UTF-8")
            .body(r#"{"result":"done"}"#)
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 200);
    }
    let log = wait_state(&s, TOKEN, &run_id, "RUN_SUCCESS").await;
    assert_eq!(log["workflowRunResponse"], r#"{"result":"done"}"#);
    let names: Vec<&str> = log["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| g["steps"][0]["stepName"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["init", "a"], "{log:#?}");

    // Once ended: the lazy fetch is 404 and a step message gets 400.
    assert_eq!(
        status_of(s.get(&format!("/v2/workflows/runs/{run_id}"))).await,
        404
    );
    let step2 = r#"{"stepId":2,"stepName":"b","stepType":"Run","out":"3","concurrent":1}"#;
    let (status, answer) = batch(&s, TOKEN, run_message(&wf, &run_id, false, &[], step2)).await;
    assert_eq!(status, 400, "{answer}");
    assert!(
        answer["error"]
            .as_str()
            .unwrap_or_default()
            .contains("ended"),
        "{answer}"
    );
    // No further delivery came.
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(sink.to("/wf/steps").len(), 3);
}

#[tokio::test]
async fn a_step_message_of_an_unknown_run_is_refused() {
    let sink = Sink::start().await;
    let s = start().await;
    let wf = format!("{}/wf/none", sink.url);
    let step = r#"{"stepId":1,"stepName":"a","stepType":"Run","out":"2","concurrent":1}"#;
    let (status, answer) = batch(&s, TOKEN, run_message(&wf, "wfr_nobody", false, &[], step)).await;
    assert_eq!(status, 400, "{answer}");
    let resp = s
        .post(&format!("/v2/publish/{wf}"))
        .header("Upstash-Workflow-RunId", "wfr_nobody")
        .header("Upstash-Workflow-Init", "false")
        .body(step)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 400);
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert!(sink.to("/wf/none").is_empty());
}

#[tokio::test]
async fn malformed_workflow_headers_are_refused_naming_the_header() {
    let sink = Sink::start().await;
    let s = start().await;
    let wf = format!("{}/wf/malformed", sink.url);
    let cases: [(&[(&str, &str)], &str); 4] = [
        (
            &[
                ("Upstash-Workflow-RunId", "wfr_m"),
                ("Upstash-Workflow-Init", "yes"),
            ],
            "Upstash-Workflow-Init",
        ),
        (
            &[
                ("Upstash-Workflow-RunId", "wfr_m"),
                ("Upstash-Workflow-Init", "true"),
                ("Upstash-Workflow-Url", "not-a-url"),
            ],
            "Upstash-Workflow-Url",
        ),
        (
            &[("Upstash-Workflow-RunId", "a,b")],
            "Upstash-Workflow-RunId",
        ),
        (
            &[
                ("Upstash-Workflow-RunId", "wfr_m"),
                ("Upstash-Workflow-Trigger-By-Sdk", "maybe"),
            ],
            "Upstash-Workflow-Trigger-By-Sdk",
        ),
    ];
    for (headers, named) in cases {
        let mut req = s.post(&format!("/v2/publish/{wf}")).body("{}");
        for (n, v) in headers {
            req = req.header(*n, *v);
        }
        let resp = req.send().await.unwrap();
        assert_eq!(resp.status(), 400, "{headers:?}");
        let body: Value = resp.json().await.unwrap();
        let error = body["error"].as_str().unwrap_or_default();
        assert!(error.contains(named), "{error:?} should name {named}");
    }
    // Nothing was stored: no run, no delivery.
    assert_eq!(status_of(s.get("/v2/workflows/runs/wfr_m")).await, 404);
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert!(sink.to("/wf/malformed").is_empty());
}

#[tokio::test]
async fn malformed_restart_overrides_are_refused_naming_the_header() {
    let s = start().await;
    for (name, value) in [
        ("Upstash-Retries", "many"),
        ("Upstash-Retry-Delay", "pow("),
        ("Upstash-Workflow-RunId", "a,b"),
        ("Upstash-Flow-Control-Value", "rate=1"),
    ] {
        let resp = s
            .post("/v2/workflows/dlq/restart?dlqIds=dlq_any")
            .header(name, value)
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 400, "{name}: {value}");
        let body: Value = resp.json().await.unwrap();
        let error = body["error"].as_str().unwrap_or_default();
        assert!(error.contains(name), "{error:?} should name {name}");
    }
    // A bad id in the query is named too.
    let resp = s
        .post("/v2/workflows/dlq/resume?dlqIds=%zz")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 400);
    let body: Value = resp.json().await.unwrap();
    assert!(
        body["error"]
            .as_str()
            .unwrap_or_default()
            .contains("dlqIds"),
        "{body}"
    );
}

#[tokio::test]
async fn a_destination_that_is_not_a_workflow_endpoint_fails_the_run() {
    let sink = Sink::start().await;
    let s = start().await;
    let run_id = trigger(&s, TOKEN, &format!("{}/ok/plain", sink.url), &[], "{}").await;
    sink.wait_for("/ok/plain", 1, WAIT).await;
    let log = wait_state(&s, TOKEN, &run_id, "RUN_FAILED").await;
    let reason = log["reason"].as_str().unwrap_or_default();
    assert!(
        reason.contains("Upstash-Workflow-Sdk-Version") && reason.contains("not a workflow"),
        "{log:#?}"
    );
}

#[tokio::test]
async fn runs_belong_to_their_tenant() {
    let sink = Sink::start().await;
    let s = start().await;
    let wf = format!("{}/wf/tenant", sink.url);
    let shared = "wfr_shared-id";
    let a = trigger(
        &s,
        TOKEN,
        &wf,
        &[("Upstash-Workflow-RunId", shared)],
        r#"{"who":"a"}"#,
    )
    .await;
    assert_eq!(a, shared);
    sink.wait_for("/wf/tenant", 1, WAIT).await;

    // For the other tenant, the run does not exist.
    let other = |m: reqwest::Method, path: &str| {
        s.http
            .request(m, format!("{}{path}", s.url))
            .bearer_auth(OTHER_TOKEN)
    };
    assert!(run_log(&s, OTHER_TOKEN, shared).await.is_none());
    let all: Value = other(reqwest::Method::GET, "/v2/workflows/logs")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(all["runs"], json!([]), "{all:#?}");
    let run_path = format!("/v2/workflows/runs/{shared}");
    assert_eq!(status_of(other(reqwest::Method::GET, &run_path)).await, 404);
    assert_eq!(
        status_of(other(reqwest::Method::DELETE, &run_path)).await,
        404
    );
    let step = r#"{"stepId":1,"stepName":"a","stepType":"Run","out":"2","concurrent":1}"#;
    let (status, _) = batch(&s, OTHER_TOKEN, run_message(&wf, shared, false, &[], step)).await;
    assert_eq!(status, 400);
    assert_eq!(
        run_log(&s, TOKEN, shared).await.unwrap()["workflowState"],
        "RUN_STARTED"
    );

    // The same run id from the other tenant: a run of its own.
    let b = trigger(
        &s,
        OTHER_TOKEN,
        &wf,
        &[("Upstash-Workflow-RunId", shared)],
        r#"{"who":"b"}"#,
    )
    .await;
    assert_eq!(b, shared);
    let got = sink.wait_for("/wf/tenant", 2, WAIT).await;
    let bodies: Vec<String> = got.iter().map(|r| steps_of(r)[0].1.clone()).collect();
    assert!(bodies.contains(&r#"{"who":"a"}"#.to_owned()), "{bodies:?}");
    assert!(bodies.contains(&r#"{"who":"b"}"#.to_owned()), "{bodies:?}");
    let log_a = run_log(&s, TOKEN, shared).await.unwrap();
    let log_b = run_log(&s, OTHER_TOKEN, shared).await.unwrap();
    assert_eq!(log_a["workflowState"], "RUN_STARTED");
    assert_eq!(log_b["workflowState"], "RUN_STARTED");

    // Cancelling one leaves the other going.
    assert_eq!(
        status_of(other(reqwest::Method::DELETE, &run_path)).await,
        200
    );
    wait_state(&s, OTHER_TOKEN, shared, "RUN_CANCELED").await;
    assert_eq!(
        run_log(&s, TOKEN, shared).await.unwrap()["workflowState"],
        "RUN_STARTED"
    );
    assert_eq!(status_of(s.get(&run_path)).await, 200);
}

/// The SDK's `Client.trigger` publishes the Init message itself, with the run's retries, retry
/// delay and failure callback (its workflow headers as `Upstash-Failure-Callback-Workflow-*`).
/// They apply to the run's later step messages, and the failure callback carries the run id.
#[tokio::test]
async fn an_init_message_configures_its_run() {
    let sink = Sink::start().await;
    let s = start().await;
    let wf = format!("{}/wf/sdk", sink.url);
    let fcb = format!("{}/ok/failure", sink.url);
    let run_id = "wfr_sdk-trigger";
    let (status, answer) = batch(
        &s,
        TOKEN,
        run_message(
            &wf,
            run_id,
            true,
            &[
                ("upstash-retries", "1"),
                ("upstash-retry-delay", "50"),
                ("upstash-failure-callback", &fcb),
                (
                    "upstash-failure-callback-forward-upstash-workflow-failure-callback",
                    "true",
                ),
                (
                    "upstash-failure-callback-forward-upstash-workflow-is-failure",
                    "true",
                ),
                ("upstash-failure-callback-workflow-runid", run_id),
                ("upstash-failure-callback-workflow-url", &wf),
                ("upstash-failure-callback-workflow-calltype", "failureCall"),
                ("upstash-failure-callback-feature-set", FEATURES),
            ],
            r#"{"n":9}"#,
        ),
    )
    .await;
    assert!((200..300).contains(&status), "{status} {answer}");
    sink.wait_for("/wf/sdk", 1, WAIT).await;

    // A step message without retries of its own, to a destination that always fails.
    let step = r#"{"stepId":1,"stepName":"a","stepType":"Run","out":"2","concurrent":1}"#;
    let mut entry = run_message(&wf, run_id, false, &[], step);
    entry["destination"] = json!(format!("{}/fail/step", sink.url));
    let (status, answer) = batch(&s, TOKEN, entry).await;
    assert!((200..300).contains(&status), "{status} {answer}");

    let attempts = sink.wait_for("/fail/step", 2, WAIT).await;
    let gap = attempts[1].at - attempts[0].at;
    assert!(
        gap < Duration::from_secs(1),
        "retry delay 50 ms, got {gap:?}"
    );
    let log = wait_state(&s, TOKEN, run_id, "RUN_FAILED").await;
    let callbacks = sink.wait_for("/ok/failure", 1, WAIT).await;
    let cb = &callbacks[0];
    assert_eq!(cb.header("upstash-workflow-runid"), Some(run_id));
    assert_eq!(cb.header("upstash-workflow-failure-callback"), Some("true"));
    assert_eq!(cb.header("upstash-workflow-is-failure"), Some("true"));
    assert_eq!(cb.header("upstash-workflow-url"), Some(wf.as_str()));
    assert_eq!(cb.header("upstash-feature-set"), Some(FEATURES));
    let body: Value = serde_json::from_slice(&cb.body).unwrap();
    assert_eq!(body["workflowRunId"], run_id);
    assert_eq!(body["status"], 500);
    assert_eq!(
        STANDARD
            .decode(body["sourceBody"].as_str().unwrap())
            .unwrap(),
        br#"{"n":9}"#
    );
    // One retry only, one failure callback only.
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(sink.to("/fail/step").len(), 2, "{log:#?}");
    assert_eq!(sink.to("/ok/failure").len(), 1);
}

/// `context.call`: a message to a third party whose callback goes back to the workflow. The
/// SDK gives the callback its workflow headers as `Upstash-Callback-Workflow-*`; the callback
/// delivery carries them as `Upstash-Workflow-*` (the SDK needs the run id to record the result).
#[tokio::test]
async fn a_call_callback_carries_the_run_headers() {
    let sink = Sink::start().await;
    let s = start().await;
    let wf = format!("{}/wf/call", sink.url);
    let run_id = trigger(&s, TOKEN, &wf, &[], "{}").await;
    sink.wait_for("/wf/call", 1, WAIT).await;
    let third = format!("{}/ok/third", sink.url);
    let mut entry = run_message(
        &wf,
        &run_id,
        false,
        &[
            ("upstash-workflow-calltype", "toCallback"),
            ("upstash-callback", &format!("{}/ok/callback", sink.url)),
            ("upstash-callback-workflow-runid", &run_id),
            ("upstash-callback-workflow-calltype", "fromCallback"),
            ("upstash-callback-workflow-init", "false"),
            ("upstash-callback-workflow-url", &wf),
            ("upstash-callback-feature-set", FEATURES),
            ("upstash-callback-forward-upstash-workflow-callback", "true"),
            ("upstash-callback-forward-upstash-workflow-stepid", "1"),
        ],
        r#"{"q":1}"#,
    );
    entry["destination"] = json!(third);
    let (status, answer) = batch(&s, TOKEN, entry).await;
    assert!((200..300).contains(&status), "{status} {answer}");
    let called = sink.wait_for("/ok/third", 1, WAIT).await;
    assert_eq!(&called[0].body[..], br#"{"q":1}"#);
    let cb = &sink.wait_for("/ok/callback", 1, WAIT).await[0];
    assert_eq!(cb.header("upstash-workflow-runid"), Some(run_id.as_str()));
    assert_eq!(cb.header("upstash-workflow-calltype"), Some("fromCallback"));
    assert_eq!(cb.header("upstash-workflow-url"), Some(wf.as_str()));
    assert_eq!(cb.header("upstash-feature-set"), Some(FEATURES));
    assert_eq!(cb.header("upstash-workflow-callback"), Some("true"));
    assert_eq!(cb.header("upstash-workflow-stepid"), Some("1"));
    let body: Value = serde_json::from_slice(&cb.body).unwrap();
    assert_eq!(body["status"], 200);
    assert_eq!(body["url"], third.as_str());
    // The call is not one of the run's steps.
    let steps: Value = s
        .get(&format!("/v2/workflows/runs/{run_id}"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(steps, json!([]));
}

/// A run of `wf` triggered and continued by its Init message (as the SDK answers the trigger
/// delivery): `(run id, init message id)`.
async fn started_run(s: &TestServer, sink: &Sink, wf: &str, path: &str) -> (String, String) {
    let run_id = trigger(s, TOKEN, wf, &[], r#"{"n":1}"#).await;
    sink.wait_for(path, 1, WAIT).await;
    let (status, answer) = batch(
        s,
        TOKEN,
        run_message(
            wf,
            &run_id,
            true,
            &[("upstash-workflow-trigger-by-sdk", "true")],
            r#"{"n":1}"#,
        ),
    )
    .await;
    assert!((200..300).contains(&status), "{status} {answer}");
    sink.wait_for(path, 2, WAIT).await;
    (run_id, answer[0]["messageId"].as_str().unwrap().to_owned())
}

/// `POST /v2/wait/{event}` as the SDK's `context.waitForEvent` sends it.
fn wait_request(
    s: &TestServer,
    token: &str,
    wf: &str,
    run_id: &str,
    event: &str,
    timeout: &str,
) -> reqwest::RequestBuilder {
    let body = json!({
        "url": wf,
        "timeout": timeout,
        "timeoutUrl": wf,
        "timeoutHeaders": {"Upstash-Workflow-Runid": [run_id]},
        "step": {"stepId": 1, "stepType": "Wait", "stepName": "wait", "concurrent": 1},
    });
    s.http
        .post(format!("{}/v2/wait/{event}", s.url))
        .bearer_auth(token)
        .header("upstash-workflow-runid", run_id)
        .header("upstash-workflow-init", "false")
        .header("upstash-workflow-url", wf)
        .header("upstash-feature-set", FEATURES)
        .header("upstash-forward-upstash-workflow-sdk-version", "1")
        .header("upstash-workflow-calltype", "step")
        .header("content-type", "application/json")
        .body(body.to_string())
}

/// The last step of a delivery, as JSON.
fn last_step(r: &Received) -> Value {
    let steps = steps_of(r);
    serde_json::from_str(&steps.last().unwrap().1).unwrap()
}

#[tokio::test]
async fn a_wait_is_released_by_notify_once_and_its_timeout_never_follows() {
    let sink = Sink::start().await;
    let s = start().await;
    let wf = format!("{}/wf/wait", sink.url);
    let (run_id, _) = started_run(&s, &sink, &wf, "/wf/wait").await;

    let resp = wait_request(&s, TOKEN, &wf, &run_id, "evt-1", "2s")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let wait_id = resp.json::<Value>().await.unwrap()["messageId"]
        .as_str()
        .unwrap()
        .to_owned();
    let waiters: Value = s
        .get("/v2/waiters/evt-1")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(waiters.as_array().unwrap().len(), 1, "{waiters:#?}");
    assert_eq!(waiters[0]["url"], wf.as_str());
    assert!(waiters[0]["deadline"].as_u64().unwrap() > 0);

    // Another tenant neither sees nor releases it.
    let other = |path: &str| {
        s.http
            .request(
                if path.starts_with("/v2/waiters") {
                    reqwest::Method::GET
                } else {
                    reqwest::Method::POST
                },
                format!("{}{path}", s.url),
            )
            .bearer_auth(OTHER_TOKEN)
    };
    let seen: Value = other("/v2/waiters/evt-1")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(seen, json!([]));
    let released: Value = other("/v2/notify/evt-1")
        .body("x")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(released, json!([]));
    // Nor does a notify of another run.
    let released: Value = s
        .post("/v2/notify/wfr_other/evt-1")
        .body("x")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(released, json!([]));

    let released: Value = s
        .post("/v2/notify/evt-1")
        .body(r#"{"paid":true}"#)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(released.as_array().unwrap().len(), 1, "{released:#?}");
    assert_eq!(released[0]["messageId"], wait_id.as_str());
    assert_eq!(released[0]["waiter"]["url"], wf.as_str());
    let got = sink.wait_for("/wf/wait", 3, WAIT).await;
    let d = &got[2];
    assert_eq!(d.header("upstash-message-id"), Some(wait_id.as_str()));
    assert_eq!(d.header("upstash-workflow-sdk-version"), Some("1"));
    let step = last_step(d);
    assert_eq!(step["stepType"], "Wait", "{step}");
    assert_eq!(step["waitEventId"], "evt-1");
    assert_eq!(step["waitTimeout"], false);
    assert_eq!(
        STANDARD.decode(step["out"].as_str().unwrap()).unwrap(),
        br#"{"paid":true}"#
    );

    // Released once: a second notify reaches nobody, and the timeout never comes.
    let again: Value = s
        .post("/v2/notify/evt-1")
        .body("late")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(again, json!([]));
    tokio::time::sleep(Duration::from_millis(2500)).await;
    assert_eq!(sink.to("/wf/wait").len(), 3, "one delivery of the wait");
    let _ = run_id;
}

#[tokio::test]
async fn a_wait_nobody_notifies_times_out() {
    let sink = Sink::start().await;
    let s = start().await;
    let wf = format!("{}/wf/timeout", sink.url);
    let (run_id, _) = started_run(&s, &sink, &wf, "/wf/timeout").await;
    let resp = wait_request(&s, TOKEN, &wf, &run_id, "evt-never", "1s")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let started = Instant::now();
    let got = sink.wait_for("/wf/timeout", 3, WAIT).await;
    assert!(started.elapsed() >= Duration::from_millis(900));
    let step = last_step(&got[2]);
    assert_eq!(step["waitTimeout"], true, "{step}");
    assert_eq!(step["timeout"], "1s");
    assert!(step.get("out").is_none(), "{step}");
    // Timed out: no longer waiting, a notify reaches nobody.
    let released: Value = s
        .post("/v2/notify/evt-never")
        .body("late")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(released, json!([]));
}

#[tokio::test]
async fn bad_waits_are_refused() {
    let sink = Sink::start().await;
    let s = start().await;
    let wf = format!("{}/wf/badwait", sink.url);
    // A run that does not exist, or that belongs to another tenant.
    let status = status_of(wait_request(&s, TOKEN, &wf, "wfr_nobody", "e", "10s")).await;
    assert_eq!(status, 400);
    let (run_id, _) = started_run(&s, &sink, &wf, "/wf/badwait").await;
    let status = status_of(wait_request(&s, OTHER_TOKEN, &wf, &run_id, "e", "10s")).await;
    assert_eq!(status, 400);
    // Not JSON, no step, a timeout that is not a duration, no run id.
    for body in [
        "not json".to_owned(),
        json!({"url": wf, "timeout": "10s"}).to_string(),
        json!({"url": wf, "timeout": "10s", "step": {"stepName": "w"}}).to_string(),
        json!({"url": wf, "timeout": "soon", "step": {"stepId": 1, "stepName": "w"}}).to_string(),
        json!({"url": wf, "timeout": "99999d", "step": {"stepId": 1, "stepName": "w"}}).to_string(),
    ] {
        let status =
            status_of(wait_request(&s, TOKEN, &wf, &run_id, "e", "10s").body(body.clone())).await;
        assert_eq!(status, 400, "{body}");
    }
    let status = status_of(
        s.post("/v2/wait/e")
            .header("content-type", "application/json")
            .body(json!({"url": wf, "step": {"stepId": 1, "stepName": "w"}}).to_string()),
    )
    .await;
    assert_eq!(status, 400, "a wait without a run");
    let waiters: Value = s
        .get("/v2/waiters/e")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(waiters, json!([]));
}

#[tokio::test]
async fn a_run_that_never_ends_fails_at_the_step_cap() {
    let sink = Sink::start().await;
    let mut limits = qstash_server::Limits::default();
    limits.max_run_steps = 3;
    let s = start_with(limits, qstash_server::DeliveryConfig::default()).await;
    let wf = format!("{}/wf/forever", sink.url);
    let (run_id, _) = started_run(&s, &sink, &wf, "/wf/forever").await;
    for i in 1..=3 {
        let step = json!({"stepId": i, "stepName": format!("s{i}"), "stepType": "Run", "out": "1", "concurrent": 1});
        let (status, answer) = batch(
            &s,
            TOKEN,
            run_message(&wf, &run_id, false, &[], &step.to_string()),
        )
        .await;
        assert!((200..300).contains(&status), "step {i}: {status} {answer}");
    }
    let step = r#"{"stepId":4,"stepName":"s4","stepType":"Run","out":"1","concurrent":1}"#;
    let (status, answer) = batch(&s, TOKEN, run_message(&wf, &run_id, false, &[], step)).await;
    assert_eq!(status, 400, "{answer}");
    let log = wait_state(&s, TOKEN, &run_id, "RUN_FAILED").await;
    let reason = log["reason"].as_str().unwrap_or_default();
    assert!(reason.contains("limit of 3 steps"), "{log:#?}");
}

#[tokio::test]
async fn parallel_steps_are_each_delivered_with_the_steps_so_far() {
    let sink = Sink::start().await;
    let s = start().await;
    let wf = format!("{}/wf/parallel", sink.url);
    let (run_id, init_id) = started_run(&s, &sink, &wf, "/wf/parallel").await;
    // The SDK's plan steps of a Promise.all of two context.run, in one batch.
    let plan = |target: u32| {
        json!({"stepId": 0, "stepName": format!("p{target}"), "stepType": "Run", "concurrent": 2, "targetStep": target})
            .to_string()
    };
    let resp = s
        .post("/v2/batch")
        .json(&json!([
            run_message(&wf, &run_id, false, &[], &plan(1)),
            run_message(&wf, &run_id, false, &[], &plan(2)),
        ]))
        .send()
        .await
        .unwrap();
    assert!(resp.status().is_success(), "{}", resp.status());
    let ids: Vec<String> = resp
        .json::<Value>()
        .await
        .unwrap()
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["messageId"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(ids.len(), 2);
    let got = sink.wait_for("/wf/parallel", 4, WAIT).await;
    // Each plan step is delivered with the steps up to and including itself.
    for d in &got[2..] {
        let id = d.header("upstash-message-id").unwrap().to_owned();
        let steps = steps_of(d);
        let at = ids.iter().position(|i| *i == id).unwrap();
        assert_eq!(steps.len(), 2 + at, "{steps:?}");
        assert_eq!(steps[0].0, init_id);
        assert_eq!(steps.last().unwrap().0, id);
    }
}

#[tokio::test]
async fn resume_from_the_dlq_keeps_the_completed_steps() {
    let sink = Sink::start().await;
    let s = start().await;
    let wf = format!("{}/wf/resume", sink.url);
    let (run_id, init_id) = started_run(&s, &sink, &wf, "/wf/resume").await;
    // A step message whose delivery fails for good (its destination answers 500, no retries).
    let step = r#"{"stepId":1,"stepName":"a","stepType":"Run","out":"2","concurrent":1}"#;
    let mut entry = run_message(&wf, &run_id, false, &[("upstash-retries", "0")], step);
    entry["destination"] = json!(format!("{}/fail/resume", sink.url));
    let (status, answer) = batch(&s, TOKEN, entry).await;
    assert!((200..300).contains(&status), "{status} {answer}");
    let step_id = answer[0]["messageId"].as_str().unwrap().to_owned();
    wait_state(&s, TOKEN, &run_id, "RUN_FAILED").await;

    let deadline = Instant::now() + WAIT;
    let dead = loop {
        let dlq: Value = s
            .get("/v2/workflows/dlq")
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        if let Some(m) = dlq["messages"].as_array().unwrap().first() {
            break m.clone();
        }
        assert!(Instant::now() < deadline, "no dead letter: {dlq:#?}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert_eq!(dead["workflowRunId"], run_id.as_str(), "{dead:#?}");
    assert_eq!(dead["workflowUrl"], wf.as_str());
    assert!(dead["workflowCreatedAt"].as_u64().unwrap() > 0);
    let dlq_id = dead["dlqId"].as_str().unwrap().to_owned();

    // Another tenant cannot resume it.
    let status = status_of(
        s.http
            .post(format!("{}/v2/workflows/dlq/resume/{dlq_id}", s.url))
            .bearer_auth(OTHER_TOKEN),
    )
    .await;
    assert_eq!(status, 404);

    let resumed: Value = s
        .post(&format!("/v2/workflows/dlq/resume/{dlq_id}"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let new_run = resumed["workflowRunId"].as_str().unwrap().to_owned();
    assert_ne!(new_run, run_id);
    assert!(resumed["workflowCreatedAt"].as_u64().unwrap() > 0);
    // The new run's first delivery carries the completed steps, as a step delivery.
    let got = sink.wait_for("/wf/resume", 3, WAIT).await;
    let d = &got[2];
    assert_eq!(d.header("upstash-workflow-runid"), Some(new_run.as_str()));
    assert_eq!(d.header("upstash-workflow-sdk-version"), Some("1"));
    assert_eq!(
        steps_of(d),
        [
            (init_id, r#"{"n":1}"#.to_owned()),
            (step_id, step.to_owned())
        ]
    );
    let log = run_log(&s, TOKEN, &new_run).await.unwrap();
    assert_eq!(log["workflowState"], "RUN_STARTED");

    // The SDK's query form: {"workflowRuns": [...]}.
    let again: Value = s
        .post(&format!("/v2/workflows/dlq/restart?dlqIds={dlq_id}"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        again["workflowRuns"].as_array().unwrap().len(),
        1,
        "{again:#?}"
    );
    assert_eq!(
        status_of(s.post("/v2/workflows/dlq/resume")).await,
        400,
        "no dlqIds"
    );
    // Several dead letters, one unknown: refused whole, and no run is started for the others.
    let runs = |v: Value| v["runs"].as_array().map_or(0, Vec::len);
    let logs = || async {
        s.get("/v2/workflows/logs?count=1000")
            .send()
            .await
            .unwrap()
            .json::<Value>()
            .await
            .unwrap()
    };
    let before = runs(logs().await);
    assert_eq!(
        status_of(s.post(&format!(
            "/v2/workflows/dlq/restart?dlqIds={dlq_id}&dlqIds=dlq_nope"
        )))
        .await,
        404
    );
    assert_eq!(runs(logs().await), before, "no run was started");
    // Overrides: the new run's id, and retries within the limits.
    let chosen: Value = s
        .post(&format!("/v2/workflows/dlq/resume/{dlq_id}"))
        .header("Upstash-Workflow-RunId", "wfr_chosen")
        .header("Upstash-Retries", "2")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(chosen["workflowRunId"], "wfr_chosen", "{chosen:#?}");
    let status = status_of(
        s.post(&format!("/v2/workflows/dlq/restart/{dlq_id}"))
            .header("Upstash-Retries", "99"),
    )
    .await;
    assert_eq!(status, 400, "more retries than the limit");
}

#[tokio::test]
async fn a_malformed_step_is_refused_and_the_run_goes_on() {
    let sink = Sink::start().await;
    let s = start().await;
    let wf = format!("{}/wf/malformed", sink.url);
    let (run_id, _) = started_run(&s, &sink, &wf, "/wf/malformed").await;
    for body in [
        "not json",
        "[1,2]",
        r#"{"stepName":"a"}"#,
        r#"{"stepId":"one"}"#,
    ] {
        let (status, answer) = batch(&s, TOKEN, run_message(&wf, &run_id, false, &[], body)).await;
        assert_eq!(status, 400, "{body}: {answer}");
        assert!(
            answer["error"]
                .as_str()
                .unwrap_or_default()
                .contains("stepId"),
            "{answer}"
        );
    }
    // Nothing was recorded; a good step still goes through.
    let step = r#"{"stepId":1,"stepName":"a","stepType":"Run","out":"2","concurrent":1}"#;
    let (status, answer) = batch(&s, TOKEN, run_message(&wf, &run_id, false, &[], step)).await;
    assert!((200..300).contains(&status), "{status} {answer}");
    let got = sink.wait_for("/wf/malformed", 3, WAIT).await;
    assert_eq!(steps_of(&got[2]).len(), 2);
}
