//! A minimal workflow endpoint that speaks the step protocol the way `@upstash/workflow` 1.3's
//! `serve()` does (SERVER.md §9, workflow-sdk-traffic.md), written in Rust so that tests and the
//! runs benchmark can drive many runs without Node.
//!
//! Shared by the server's tests, the CLI's crash test and the `runs` benchmark through this
//! crate; it is not part of any published crate's API.
//!
//! The workflow, run on the input `{"n": N}` (optional `"sleep": S` seconds, `"hold": ms`):
//! 1. `context.run("double")` returns `2N`;
//! 2. only with `"sleep"`: `context.sleep("pause", S)`;
//! 3. `context.run("increment")` returns the memoized `double` plus one (with `"hold"`, the
//!    endpoint then waits that many ms before publishing its step message, so that a test can
//!    catch deliveries in flight);
//! 4. `context.run("describe")` returns the string `"N -> <increment>"`;
//!
//! and the run ends with `{"n": N, "result": <increment>, "text": <describe>}`.
//!
//! What the endpoint does per request, as the SDK does:
//! * no `Upstash-Workflow-Sdk-Version: 1`: a trigger. With `Upstash-Workflow-Unknown-Sdk` (a
//!   server-side trigger) the body is the step array and element 0 the payload; otherwise the
//!   body is the payload and the run id is new. It publishes the Init message through
//!   `POST /v2/batch` (`Upstash-Workflow-Trigger-By-Sdk: true` for the former) with every
//!   incoming header forwarded, then answers 200.
//! * `Upstash-Workflow-Sdk-Version: 1`: a step delivery. An empty body is fetched from
//!   `GET /v2/workflows/runs/{id}` (404: `workflow-already-ended`). A last step that repeats an
//!   earlier step id is `duplicate-step` (nothing runs); otherwise steps are de-duplicated by
//!   step id, checked against the workflow, and the next step runs and is published as one
//!   step message, or, when all ran, the run ends with
//!   `DELETE /v2/workflows/runs/{id}?cancel=false` and the result as the body.
//! * Publishing answered 400: `workflow-was-finished` (200); any other failure: 500, so that the
//!   server retries the delivery.
#![allow(dead_code)]

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, Request, Response, StatusCode};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde_json::{Value, json};
use tokio::sync::Notify;

/// The feature set `@upstash/workflow` 1.3 puts on its messages.
pub const FEATURES: &str = "LazyFetch,InitialBody,WF_DetectTrigger,WF_TriggerOnConfig";

/// One step of the workflow, as planned from the input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Planned {
    /// `context.run(name)`.
    Run(&'static str),
    /// `context.sleep(name, seconds)`.
    Sleep(&'static str, u64),
}

impl Planned {
    /// The step's name.
    pub fn name(&self) -> &'static str {
        match self {
            Planned::Run(n) | Planned::Sleep(n, _) => n,
        }
    }

    fn step_type(&self) -> &'static str {
        match self {
            Planned::Run(_) => "Run",
            Planned::Sleep(..) => "SleepFor",
        }
    }
}

/// The steps the workflow takes on `input`.
pub fn plan(input: &Value) -> Vec<Planned> {
    let mut steps = vec![Planned::Run("double")];
    if let Some(s) = input["sleep"].as_u64() {
        steps.push(Planned::Sleep("pause", s));
    }
    steps.push(Planned::Run("increment"));
    steps.push(Planned::Run("describe"));
    steps
}

/// The input of a run with `n` (and a sleep of `sleep` seconds).
pub fn input(n: u64, sleep: Option<u64>) -> Value {
    match sleep {
        Some(s) => json!({"n": n, "sleep": s}),
        None => json!({"n": n}),
    }
}

/// What each `context.run` step of a run on `{"n": n}` returns, in order: `(name, out)`.
pub fn expected_outs(n: u64) -> Vec<(&'static str, Value)> {
    vec![
        ("double", json!(2 * n)),
        ("increment", json!(2 * n + 1)),
        ("describe", json!(format!("{n} -> {}", 2 * n + 1))),
    ]
}

/// The value a run on `{"n": n}` ends with.
pub fn expected_result(n: u64) -> Value {
    json!({"n": n, "result": 2 * n + 1, "text": format!("{n} -> {}", 2 * n + 1)})
}

/// Runs step `name` on `input`, given the memoized outputs of the steps before it.
fn run_step(name: &str, input: &Value, memo: &HashMap<String, Value>) -> Result<Value, String> {
    let n = input["n"].as_u64().ok_or("the input has no n")?;
    match name {
        "double" => Ok(json!(2 * n)),
        "increment" => {
            let d = memo
                .get("double")
                .and_then(Value::as_u64)
                .ok_or("no memoized double")?;
            Ok(json!(d + 1))
        }
        "describe" => {
            let i = memo
                .get("increment")
                .and_then(Value::as_u64)
                .ok_or("no memoized increment")?;
            Ok(json!(format!("{n} -> {i}")))
        }
        other => Err(format!("unknown step {other}")),
    }
}

/// The workflow's return value, from the memoized outputs.
fn result_of(input: &Value, memo: &HashMap<String, Value>) -> Value {
    json!({
        "n": input["n"],
        "result": memo.get("increment").cloned().unwrap_or(Value::Null),
        "text": memo.get("describe").cloned().unwrap_or(Value::Null),
    })
}

/// What the endpoint saw, for the tests' and the benchmark's checks.
#[derive(Debug, Default, Clone)]
pub struct Log {
    /// Requests received (triggers and step deliveries).
    pub requests: u64,
    /// How many times each `(run id, step id)` was executed (a `context.run` ran or a sleep was
    /// published).
    pub executed: HashMap<(String, u32), u32>,
    /// How many times each `Upstash-Message-Id` arrived.
    pub message_ids: HashMap<String, u32>,
    /// Deliveries that arrived with `Upstash-Retried` above 0.
    pub retried: u64,
    /// `duplicate-step` answers.
    pub duplicate_steps: u64,
    /// When each run's trigger delivery first arrived.
    pub triggered_at: HashMap<String, Instant>,
    /// When each run's first step first ran.
    pub first_step_at: HashMap<String, Instant>,
    /// The result each ended run was ended with (the body of the last accepted `DELETE`), and
    /// how many `DELETE`s the server accepted for it.
    pub ended: HashMap<String, (Value, u32)>,
    /// When each run was first ended.
    pub ended_at: HashMap<String, Instant>,
    /// The last 100 requests answered 500, with why, oldest first.
    pub errors: Vec<String>,
}

struct Inner {
    server: String,
    token: String,
    http: reqwest::Client,
    log: Mutex<Log>,
    ended: AtomicU64,
    notify: Notify,
}

/// The endpoint: clone it freely; every clone shares the log.
#[derive(Clone)]
pub struct Endpoint {
    inner: Arc<Inner>,
    /// `http://127.0.0.1:PORT` once started with [`Endpoint::start`].
    pub url: String,
}

impl Endpoint {
    /// An endpoint that talks to the server at `server` (`http://host:port`) as `token`.
    pub fn new(server: &str, token: &str, http: reqwest::Client) -> Endpoint {
        Endpoint {
            inner: Arc::new(Inner {
                server: server.trim_end_matches('/').to_owned(),
                token: token.to_owned(),
                http,
                log: Mutex::default(),
                ended: AtomicU64::new(0),
                notify: Notify::new(),
            }),
            url: String::new(),
        }
    }

    /// Serves the endpoint on 127.0.0.1 (a task of the current runtime).
    pub async fn start(server: &str, token: &str, http: reqwest::Client) -> Endpoint {
        let mut ep = Endpoint::new(server, token, http);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind 127.0.0.1:0");
        ep.url = format!("http://{}", listener.local_addr().expect("a local address"));
        let app = ep.router();
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        ep
    }

    /// The endpoint as a router (every path is the same workflow).
    pub fn router(&self) -> Router {
        Router::new()
            .fallback(handle)
            .with_state(self.inner.clone())
    }

    /// What the endpoint saw so far.
    pub fn log(&self) -> MutexGuard<'_, Log> {
        lock(&self.inner.log)
    }

    /// How many runs were ended.
    pub fn ended_count(&self) -> u64 {
        self.inner.ended.load(Ordering::Relaxed)
    }

    /// Waits until every run of `run_ids` was ended; on timeout, the runs still going.
    pub async fn wait_ended(
        &self,
        run_ids: &[String],
        within: Duration,
    ) -> Result<(), Vec<String>> {
        let deadline = Instant::now() + within;
        loop {
            let notified = self.inner.notify.notified();
            let missing: Vec<String> = {
                let log = self.log();
                run_ids
                    .iter()
                    .filter(|r| !log.ended.contains_key(*r))
                    .cloned()
                    .collect()
            };
            if missing.is_empty() {
                return Ok(());
            }
            if tokio::time::timeout_at(deadline.into(), notified)
                .await
                .is_err()
            {
                return Err(missing);
            }
        }
    }

    /// Waits until the log satisfies `done` (false on timeout).
    pub async fn wait_until(&self, within: Duration, done: impl Fn(&Log) -> bool) -> bool {
        let deadline = Instant::now() + within;
        loop {
            let notified = self.inner.notify.notified();
            if done(&self.log()) {
                return true;
            }
            if tokio::time::timeout_at(deadline.into(), notified)
                .await
                .is_err()
            {
                return done(&self.log());
            }
        }
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

fn header<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

/// The endpoint's answer: a JSON `{"workflowRunId", "finishCondition"}` with the SDK's headers.
fn answer(status: StatusCode, run_id: &str, condition: &str) -> Response<Body> {
    let body = if status.is_success() {
        json!({"workflowRunId": run_id, "finishCondition": condition})
    } else {
        json!({"error": "Error", "message": condition})
    };
    let mut r = Response::new(Body::from(body.to_string()));
    *r.status_mut() = status;
    let h = r.headers_mut();
    h.insert(
        "content-type",
        "text/plain;charset=UTF-8".parse().expect("a header value"),
    );
    h.insert(
        "upstash-workflow-sdk-version",
        "1".parse().expect("a header value"),
    );
    h.insert(
        "upstash-workflow-sdk",
        "v1.3.2".parse().expect("a header value"),
    );
    r
}

/// Why a request was answered 500 (or, for `Finished`, 200 `workflow-was-finished`).
enum Failure {
    Finished,
    Error(String),
}

impl From<String> for Failure {
    fn from(s: String) -> Failure {
        Failure::Error(s)
    }
}

impl From<&str> for Failure {
    fn from(s: &str) -> Failure {
        Failure::Error(s.to_owned())
    }
}

/// Handles a request in a task of its own: like the SDK's handler, it goes on when the server
/// hangs up (a SIGKILLed server does), so that what it started is not cut off half-way.
async fn handle(State(ep): State<Arc<Inner>>, req: Request<Body>) -> Response<Body> {
    match tokio::spawn(handle_request(ep, req)).await {
        Ok(response) => response,
        Err(e) => answer(StatusCode::INTERNAL_SERVER_ERROR, "", &e.to_string()),
    }
}

async fn handle_request(ep: Arc<Inner>, req: Request<Body>) -> Response<Body> {
    let (parts, body) = req.into_parts();
    let body = match axum::body::to_bytes(body, 16 << 20).await {
        Ok(b) => b,
        Err(e) => return answer(StatusCode::BAD_REQUEST, "", &e.to_string()),
    };
    let headers = &parts.headers;
    lock(&ep.log).requests += 1;
    let run_id = header(headers, "upstash-workflow-runid")
        .unwrap_or_default()
        .to_owned();
    let outcome = if header(headers, "upstash-workflow-sdk-version") == Some("1") {
        step_delivery(&ep, headers, &body).await
    } else {
        let path = parts.uri.path_and_query().map_or("/", |p| p.as_str());
        trigger(&ep, headers, path, &body).await
    };
    let response = match outcome {
        Ok((run_id, condition)) => answer(StatusCode::OK, &run_id, condition),
        Err(Failure::Finished) => answer(StatusCode::OK, &run_id, "workflow-was-finished"),
        Err(Failure::Error(why)) => {
            let mut log = lock(&ep.log);
            if log.errors.len() == 100 {
                log.errors.remove(0);
            }
            log.errors.push(format!("{run_id}: {why}"));
            answer(StatusCode::INTERNAL_SERVER_ERROR, &run_id, &why)
        }
    };
    ep.notify.notify_waiters();
    response
}

/// A trigger: publish the Init message of the run.
async fn trigger(
    ep: &Inner,
    headers: &HeaderMap,
    path: &str,
    body: &[u8],
) -> Result<(String, &'static str), Failure> {
    let host = header(headers, "host").ok_or("a trigger without Host")?;
    let url = format!("http://{host}{path}");
    let unknown_sdk = header(headers, "upstash-workflow-unknown-sdk").is_some();
    let (run_id, payload) = if unknown_sdk {
        let run_id = header(headers, "upstash-workflow-runid")
            .ok_or("Couldn't get workflow id from header when handling unknown sdk request")?
            .to_owned();
        let steps = parse_steps(body)?;
        let (_, payload) = steps.into_iter().next().ok_or("an empty step array")?;
        (run_id, payload)
    } else {
        (new_run_id(), body.to_vec())
    };
    lock(&ep.log)
        .triggered_at
        .entry(run_id.clone())
        .or_insert_with(Instant::now);
    let mut h = message_headers(&run_id, &url, true);
    if let Some(ct) = header(headers, "content-type") {
        h["content-type"] = json!(ct);
    }
    if unknown_sdk {
        h["upstash-workflow-trigger-by-sdk"] = json!("true");
    }
    for (name, value) in headers {
        let name = name.as_str();
        if name.starts_with("upstash-workflow-")
            || name == "upstash-region"
            || name.starts_with("x-vercel-")
            || name.starts_with("x-forwarded-")
        {
            continue;
        }
        if let Ok(v) = value.to_str() {
            h[format!("upstash-forward-{name}")] = json!(v);
        }
    }
    let payload = String::from_utf8_lossy(&payload).into_owned();
    publish(
        ep,
        json!({"destination": url, "headers": h, "body": payload}),
    )
    .await?;
    Ok((run_id, "success"))
}

fn new_run_id() -> String {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    format!(
        "wfr_rs{:x}{:x}{:x}",
        std::process::id(),
        nanos,
        NEXT.fetch_add(1, Ordering::Relaxed)
    )
}

/// The headers of a message of the run, as the SDK writes them (lower-case).
fn message_headers(run_id: &str, url: &str, init: bool) -> Value {
    json!({
        "content-type": "application/json",
        "upstash-feature-set": FEATURES,
        "upstash-forward-upstash-workflow-sdk-version": "1",
        "upstash-method": "POST",
        "upstash-workflow-init": if init { "true" } else { "false" },
        "upstash-workflow-runid": run_id,
        "upstash-workflow-sdk-version": "1",
        "upstash-workflow-url": url,
    })
}

/// `POST /v2/batch` with one entry; 400 means the run has ended.
async fn publish(ep: &Inner, entry: Value) -> Result<(), Failure> {
    let body = serde_json::to_vec(&json!([entry])).map_err(|e| e.to_string())?;
    let resp = ep
        .http
        .post(format!("{}/v2/batch", ep.server))
        .bearer_auth(&ep.token)
        .header("content-type", "application/json")
        .body(body)
        .send()
        .await
        .map_err(|e| format!("publish: {e}"))?;
    let status = resp.status();
    let text = resp.bytes().await.map_err(|e| format!("publish: {e}"))?;
    if status == StatusCode::BAD_REQUEST {
        return Err(Failure::Finished);
    }
    if !status.is_success() {
        return Err(format!(
            "publish answered {status}: {}",
            String::from_utf8_lossy(&text)
        )
        .into());
    }
    match serde_json::from_slice::<Value>(&text) {
        Ok(Value::Array(_)) => Ok(()),
        _ => Err(format!("publish answered {}", String::from_utf8_lossy(&text)).into()),
    }
}

/// A delivery body: `(messageId, decoded body)` of each `callType: "step"` element.
fn parse_steps(body: &[u8]) -> Result<Vec<(String, Vec<u8>)>, String> {
    let v: Value = serde_json::from_slice(body).map_err(|e| format!("step array: {e}"))?;
    let items = v.as_array().ok_or("the body is not a step array")?;
    let mut out = Vec::with_capacity(items.len());
    for (i, item) in items.iter().enumerate() {
        // Element 0 is the initial payload; later ones count only as steps.
        if i > 0 && item["callType"].as_str().unwrap_or("step") != "step" {
            continue;
        }
        let id = item["messageId"].as_str().unwrap_or_default().to_owned();
        let body = STANDARD
            .decode(item["body"].as_str().unwrap_or_default())
            .map_err(|e| format!("step {i} body: {e}"))?;
        out.push((id, body));
    }
    Ok(out)
}

/// A step message of the run, decoded.
struct Done {
    step_id: u32,
    name: String,
    step_type: String,
    out: Option<Value>,
}

async fn step_delivery(
    ep: &Inner,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<(String, &'static str), Failure> {
    let run_id = header(headers, "upstash-workflow-runid")
        .ok_or("a step delivery without Upstash-Workflow-RunId")?
        .to_owned();
    let url = header(headers, "upstash-workflow-url")
        .ok_or("a step delivery without Upstash-Workflow-Url")?
        .to_owned();
    let message_id = header(headers, "upstash-message-id").unwrap_or_default();
    {
        let mut log = lock(&ep.log);
        *log.message_ids.entry(message_id.to_owned()).or_default() += 1;
        if header(headers, "upstash-retried").is_some_and(|r| r != "0") {
            log.retried += 1;
        }
    }
    let steps = if body.is_empty() {
        // LazyFetch: the server keeps the steps.
        let resp = ep
            .http
            .get(format!("{}/v2/workflows/runs/{run_id}", ep.server))
            .bearer_auth(&ep.token)
            .send()
            .await
            .map_err(|e| format!("lazy fetch: {e}"))?;
        if resp.status() == StatusCode::NOT_FOUND {
            return Ok((run_id, "workflow-already-ended"));
        }
        let bytes = resp.bytes().await.map_err(|e| format!("lazy fetch: {e}"))?;
        let mut steps = parse_steps(&bytes)?;
        if let Some(at) = steps.iter().position(|(id, _)| id == message_id) {
            steps.truncate(at + 1);
        }
        steps
    } else {
        parse_steps(body)?
    };
    let mut steps = steps.into_iter();
    let (_, payload) = steps.next().ok_or("an empty step array")?;
    let input: Value = serde_json::from_slice(&payload).map_err(|e| format!("payload: {e}"))?;
    let mut done = Vec::new();
    for (_, body) in steps {
        let v: Value = serde_json::from_slice(&body).map_err(|e| format!("step: {e}"))?;
        done.push(Done {
            step_id: v["stepId"].as_u64().ok_or("a step without stepId")? as u32,
            name: v["stepName"].as_str().unwrap_or_default().to_owned(),
            step_type: v["stepType"].as_str().unwrap_or_default().to_owned(),
            out: match v.get("out") {
                Some(Value::String(s)) => {
                    Some(serde_json::from_str(s).map_err(|e| format!("out: {e}"))?)
                }
                Some(other) => Some(other.clone()),
                None => None,
            },
        });
    }
    if let Some(last) = done.last()
        && done[..done.len() - 1]
            .iter()
            .any(|d| d.step_id == last.step_id)
    {
        lock(&ep.log).duplicate_steps += 1;
        return Ok((run_id, "duplicate-step"));
    }
    let mut seen = Vec::new();
    done.retain(|d| {
        let new = !seen.contains(&d.step_id);
        seen.push(d.step_id);
        new
    });
    let plan = plan(&input);
    let mut memo = HashMap::new();
    for (i, d) in done.iter().enumerate() {
        let want = plan.get(i).ok_or("more steps than the workflow has")?;
        if d.step_id as usize != i + 1 || d.name != want.name() || d.step_type != want.step_type() {
            return Err(format!(
                "incompatible step {i}: got {} {} {}, want {:?}",
                d.step_id, d.name, d.step_type, want
            )
            .into());
        }
        if let Some(out) = &d.out {
            memo.insert(d.name.clone(), out.clone());
        }
    }
    let Some(next) = plan.get(done.len()) else {
        return end(ep, &run_id, &result_of(&input, &memo)).await;
    };
    let step_id = done.len() as u32 + 1;
    let mut h = message_headers(&run_id, &url, false);
    let step = match *next {
        Planned::Run(name) => {
            let out = run_step(name, &input, &memo)?;
            json!({"stepId": step_id, "stepName": name, "stepType": "Run",
                   "out": out.to_string(), "concurrent": 1})
        }
        Planned::Sleep(name, seconds) => {
            h["upstash-delay"] = json!(format!("{seconds}s"));
            json!({"stepId": step_id, "stepName": name, "stepType": "SleepFor",
                   "sleepFor": seconds, "concurrent": 1})
        }
    };
    {
        let mut log = lock(&ep.log);
        *log.executed.entry((run_id.clone(), step_id)).or_default() += 1;
        if step_id == 1 {
            log.first_step_at
                .entry(run_id.clone())
                .or_insert_with(Instant::now);
        }
    }
    if *next == Planned::Run("increment")
        && let Some(ms) = input["hold"].as_u64()
    {
        ep.notify.notify_waiters();
        tokio::time::sleep(Duration::from_millis(ms)).await;
    }
    publish(
        ep,
        json!({"destination": url, "headers": h, "body": step.to_string()}),
    )
    .await?;
    Ok((run_id, "success"))
}

/// The end of the run: `DELETE /v2/workflows/runs/{id}?cancel=false` with the result.
async fn end(ep: &Inner, run_id: &str, result: &Value) -> Result<(String, &'static str), Failure> {
    let resp = ep
        .http
        .delete(format!(
            "{}/v2/workflows/runs/{run_id}?cancel=false",
            ep.server
        ))
        .bearer_auth(&ep.token)
        .header("content-type", "text/plain;charset=UTF-8")
        .body(result.to_string())
        .send()
        .await
        .map_err(|e| format!("end: {e}"))?;
    let status = resp.status();
    if status.is_success() || status == StatusCode::BAD_REQUEST {
        let mut log = lock(&ep.log);
        let entry = log
            .ended
            .entry(run_id.to_owned())
            .or_insert_with(|| (result.clone(), 0));
        entry.1 += 1;
        let first = entry.1 == 1;
        if first {
            log.ended_at.insert(run_id.to_owned(), Instant::now());
            ep.ended.fetch_add(1, Ordering::Relaxed);
        }
        Ok((run_id.to_owned(), "workflow-finished"))
    } else {
        Err(format!("end answered {status}").into())
    }
}
