//! The endpoint: [`Workflow`], a `tower::Service` that answers the server's requests for one
//! workflow, and [`serve`], the same as an axum route.
//!
//! Per request, as `@upstash/workflow` 1.3's `serve()` does: verify the signature; then a
//! `context.call` answer (`Upstash-Workflow-Callback`) is recorded as the `Call` step; a
//! failure callback runs the failure function; a request without
//! `Upstash-Workflow-Sdk-Version: 1` starts a run (publishes its Init message); and a step
//! delivery replays the workflow against the recorded steps and hands the next step to the
//! server, or ends the run with the workflow's return value.

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::Poll;

use axum::body::Body;
use axum::routing::MethodRouter;
use http::{HeaderMap, Request, Response, StatusCode};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

use crate::api::{Answer, Api};
use crate::call::CallResponse;
use crate::context::{Context, Executor, Outcome, RunInfo, parse_payload};
use crate::error::{Error, ErrorKind};
use crate::failure::{Failure, FailureContext};
use crate::options::Options;
use crate::wire::{
    self, PROTOCOL_VERSION, RawStep, RunHeaders, SDK_ANSWER_VERSION, Step, compact_json,
    decode_base64,
};

type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send>>;
pub(crate) type WorkflowFn<P> =
    Arc<dyn Fn(Context<P>) -> BoxFuture<Result<Value, Error>> + Send + Sync>;

/// The largest request body read (the step array of a long run).
const MAX_BODY: usize = 64 << 20;

/// Boxes a workflow function into the form the endpoint and [`testing`](crate::testing) run.
pub(crate) fn boxed<P, F, Fut, R>(f: F) -> WorkflowFn<P>
where
    F: Fn(Context<P>) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<R, Error>> + Send + 'static,
    R: Serialize,
{
    Arc::new(move |ctx| {
        let fut = f(ctx);
        Box::pin(async move { Ok(serde_json::to_value(fut.await?)?) })
    })
}

/// A workflow endpoint: a `tower::Service` over HTTP requests, cheap to clone, with no
/// global state.
pub struct Workflow<P> {
    shared: Arc<Shared<P>>,
}

struct Shared<P> {
    f: WorkflowFn<P>,
    options: Options,
    api: Api,
}

impl<P> Clone for Workflow<P> {
    fn clone(&self) -> Self {
        Workflow {
            shared: self.shared.clone(),
        }
    }
}

impl<P> std::fmt::Debug for Workflow<P> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Workflow")
            .field("options", &self.shared.options)
            .finish_non_exhaustive()
    }
}

/// The workflow `f` as an axum route (`POST`): see [`Workflow::new`].
pub fn serve<P, F, Fut, R, S>(f: F, options: Options) -> MethodRouter<S>
where
    P: DeserializeOwned + Send + 'static,
    F: Fn(Context<P>) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<R, Error>> + Send + 'static,
    R: Serialize,
    S: Clone + Send + Sync + 'static,
{
    axum::routing::post_service(Workflow::new(f, options))
}

impl<P: DeserializeOwned + Send + 'static> Workflow<P> {
    /// The endpoint of workflow `f`: `f` gets a [`Context`] whose `payload` is the run's
    /// initial payload (JSON, or the raw text for a `String`), and its return value (JSON)
    /// ends the run.
    pub fn new<F, Fut, R>(f: F, options: Options) -> Workflow<P>
    where
        F: Fn(Context<P>) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<R, Error>> + Send + 'static,
        R: Serialize,
    {
        Workflow {
            shared: Arc::new(Shared {
                f: boxed(f),
                api: Api::new(&options),
                options,
            }),
        }
    }

    /// Answers one request.
    pub async fn handle(&self, request: Request<Body>) -> Response<Body> {
        let (parts, body) = request.into_parts();
        let body = match axum::body::to_bytes(body, MAX_BODY).await {
            Ok(b) => b,
            Err(e) => {
                return error_response(
                    &Error::new(ErrorKind::Protocol, format!("the body: {e}")),
                    None,
                );
            }
        };
        let run_id = header(&parts.headers, "upstash-workflow-runid")
            .unwrap_or_default()
            .to_owned();
        match self.dispatch(&parts.uri, &parts.headers, &body).await {
            Ok(r) => {
                tracing::debug!(run_id, status = %r.status(), "workflow request answered");
                r
            }
            Err(e) => {
                tracing::warn!(run_id, error = %e, "workflow request failed");
                error_response(&e, Some(&run_id))
            }
        }
    }

    async fn dispatch(
        &self,
        uri: &http::Uri,
        headers: &HeaderMap,
        body: &[u8],
    ) -> Result<Response<Body>, Error> {
        let options = &self.shared.options;
        if let Some(receiver) = &options.receiver {
            let Some(sig) = header(headers, "upstash-signature") else {
                return Err(Error::new(
                    ErrorKind::Signature,
                    "the request has no Upstash-Signature",
                ));
            };
            receiver.verify(sig, body, None).map_err(|e| {
                Error::new(
                    ErrorKind::Signature,
                    format!("the Upstash-Signature does not verify: {e}"),
                )
            })?;
        }
        let url = self.workflow_url(uri, headers)?;
        if header(headers, "upstash-workflow-callback").is_some() {
            return self.call_result(headers, body, &url).await;
        }
        if header(headers, "upstash-workflow-unknown-sdk").is_some() {
            let run_id = header(headers, "upstash-workflow-runid").ok_or_else(|| {
                Error::new(
                    ErrorKind::Protocol,
                    "Couldn't get workflow id from header when handling unknown sdk request",
                )
            })?;
            let raw: Vec<RawStep> = serde_json::from_slice(body)
                .map_err(|e| Error::new(ErrorKind::Protocol, format!("the step array: {e}")))?;
            let (payload, _) = wire::process_raw_steps(&raw)?;
            return self
                .trigger(headers, &url, run_id.to_owned(), &payload, true)
                .await;
        }
        if header(headers, "upstash-workflow-failure-callback").is_some()
            || header(headers, "upstash-workflow-is-failure") == Some("true")
        {
            return self.failure(headers, body).await;
        }
        match header(headers, "upstash-workflow-sdk-version") {
            None => self.trigger(headers, &url, new_run_id(), body, false).await,
            Some(PROTOCOL_VERSION) => self.step_delivery(headers, body, &url).await,
            Some(other) => Err(Error::new(
                ErrorKind::Protocol,
                format!(
                    "Incompatible workflow sdk protocol version. Expected {PROTOCOL_VERSION}, got {other} from the request."
                ),
            )),
        }
    }

    fn workflow_url(&self, uri: &http::Uri, headers: &HeaderMap) -> Result<String, Error> {
        let options = &self.shared.options;
        if let Some(url) = &options.url {
            return Ok(url.clone());
        }
        let path = uri.path_and_query().map_or("/", |p| p.as_str());
        if let Some(base) = &options.base_url {
            return Ok(format!("{base}{path}"));
        }
        if uri.scheme().is_some() && uri.authority().is_some() {
            return Ok(uri.to_string());
        }
        let host = header(headers, "host").ok_or_else(|| {
            Error::new(
                ErrorKind::Protocol,
                "the request has no Host: set Options::url",
            )
        })?;
        let scheme = header(headers, "x-forwarded-proto").unwrap_or("http");
        Ok(format!("{scheme}://{host}{path}"))
    }

    fn run_headers(&self, url: &str) -> RunHeaders {
        let o = &self.shared.options;
        RunHeaders {
            url: url.to_owned(),
            retries: o.retries,
            retry_delay: o.retry_delay.clone(),
            flow_control: o.flow_control.clone(),
            ..RunHeaders::default()
        }
    }

    /// A new run: its Init message through `POST /v2/batch`.
    async fn trigger(
        &self,
        headers: &HeaderMap,
        url: &str,
        run_id: String,
        payload: &[u8],
        unknown_sdk: bool,
    ) -> Result<Response<Body>, Error> {
        let mut rh = self.run_headers(url);
        rh.init = true;
        // The failure function: the run's failure callback is this workflow.
        rh.failure_url = self.shared.options.failure.as_ref().map(|_| url.to_owned());
        rh.run_id.clone_from(&run_id);
        rh.user_headers = user_headers(headers);
        rh.content_type = header(headers, "content-type").map(str::to_owned);
        let mut h = rh.build();
        if unknown_sdk {
            h.insert("upstash-workflow-trigger-by-sdk".into(), "true".into());
        }
        let label = header(headers, "upstash-label")
            .map(str::to_owned)
            .or_else(|| self.shared.options.label.clone());
        if let Some(label) = label {
            h.insert("upstash-label".into(), label);
        }
        h.insert("upstash-method".into(), "POST".into());
        let message = wire::OutgoingMessage {
            destination: url.to_owned(),
            headers: h,
            body: init_body(payload),
        };
        let condition = match self
            .shared
            .api
            .batch(std::slice::from_ref(&message))
            .await?
        {
            Answer::Ok(entries)
                if entries
                    .iter()
                    .any(|e| e["deduplicated"] == Value::Bool(true)) =>
            {
                "workflow-run-already-exists"
            }
            Answer::Ok(_) => "success",
            Answer::RunEnded => {
                return Err(Error::new(
                    ErrorKind::Server,
                    "POST /v2/batch answered 400 to the run's Init message",
                ));
            }
        };
        Ok(ok_response(&run_id, condition))
    }

    /// A step delivery: replay the workflow and hand over its next step, or end the run.
    async fn step_delivery(
        &self,
        headers: &HeaderMap,
        body: &[u8],
        url: &str,
    ) -> Result<Response<Body>, Error> {
        let run_id = header(headers, "upstash-workflow-runid")
            .filter(|r| !r.is_empty())
            .ok_or_else(|| Error::new(ErrorKind::Protocol, "Couldn't get workflow id from header"))?
            .to_owned();
        let raw: Vec<RawStep> = if body.is_empty() {
            match self.shared.api.steps(&run_id).await? {
                None => return Ok(ok_response(&run_id, "workflow-already-ended")),
                Some(mut all) => {
                    if all.len() > 1 {
                        let message_id = header(headers, "upstash-message-id").unwrap_or_default();
                        match all.iter().position(|s| s.message_id == message_id) {
                            Some(at) => all.truncate(at + 1),
                            None => all.clear(),
                        }
                    }
                    all
                }
            }
        } else {
            serde_json::from_slice(body)
                .map_err(|e| Error::new(ErrorKind::Protocol, format!("the step array: {e}")))?
        };
        let (payload, steps) = wire::process_raw_steps(&raw)?;
        if wire::last_is_duplicate(&steps) {
            return Ok(ok_response(&run_id, "duplicate-step"));
        }
        let steps = wire::deduplicate(steps);
        tracing::debug!(
            run_id,
            lazy = body.is_empty(),
            steps = ?steps.iter().map(|s| (s.step_id, s.target_step, s.step_name.as_str())).collect::<Vec<_>>(),
            "step delivery"
        );
        let payload: P = parse_payload(&payload).map_err(|e| {
            Error::non_retryable(format!(
                "the run's payload is not the workflow's input type: {e}"
            ))
        })?;
        let mut run_headers = self.run_headers(url);
        run_headers.run_id.clone_from(&run_id);
        run_headers.invoke_count = header(headers, "upstash-workflow-invoke-count")
            .and_then(|n| n.parse().ok())
            .unwrap_or(0);
        let run = RunInfo {
            run_id: run_id.clone(),
            url: url.to_owned(),
            retried: header(headers, "upstash-retried")
                .and_then(|r| r.parse().ok())
                .unwrap_or(0),
            created_at: header(headers, "upstash-workflow-createdat").and_then(|r| r.parse().ok()),
            headers: run_headers,
        };
        let (outcome, result) = run_workflow(&self.shared.f, run, steps, payload).await;
        let api = &self.shared.api;
        match (outcome, result) {
            (Some(Outcome::Send(outgoing)), _) => {
                tracing::debug!(run_id, ?outgoing, "handing over");
                api.send_outgoing(&outgoing).await?;
            }
            (Some(Outcome::Discard), _) => {}
            (Some(Outcome::Cancel), _) => {
                api.end_run(&run_id, true, None).await?;
            }
            (None, Ok(value)) => {
                api.end_run(&run_id, false, Some(value.to_string())).await?;
            }
            (None, Err(e)) if e.is_suspended() => {}
            (None, Err(e)) => return Err(e),
        }
        Ok(ok_response(&run_id, "success"))
    }

    /// The server's answer to a `context.call`: recorded as the run's `Call` step.
    async fn call_result(
        &self,
        headers: &HeaderMap,
        body: &[u8],
        url: &str,
    ) -> Result<Response<Body>, Error> {
        let run_id = header(headers, "upstash-workflow-runid")
            .ok_or_else(|| {
                Error::new(
                    ErrorKind::Protocol,
                    "a call result without Upstash-Workflow-RunId",
                )
            })?
            .to_owned();
        let payload: Vec<u8> = if body.is_empty() {
            let message_id = header(headers, "upstash-message-id").ok_or_else(|| {
                Error::new(
                    ErrorKind::Protocol,
                    "message id missing in context.call lazy fetch.",
                )
            })?;
            let Some(steps) = self.shared.api.steps(&run_id).await? else {
                return Ok(ok_response(&run_id, "workflow-already-ended"));
            };
            let step = steps
                .iter()
                .find(|s| s.message_id == message_id)
                .ok_or_else(|| {
                    Error::new(
                        ErrorKind::Protocol,
                        format!(
                            "Failed to submit the context.call: no step with messageId {message_id}"
                        ),
                    )
                })?;
            decode_base64(&step.body)?
        } else {
            body.to_vec()
        };
        let callback: Value = serde_json::from_slice(&payload)
            .map_err(|e| Error::new(ErrorKind::Protocol, format!("the call result: {e}")))?;
        let status = callback["status"].as_u64().unwrap_or(0);
        let max_retries = callback["maxRetries"].as_u64().unwrap_or(0);
        let retried = callback["retried"].as_u64().unwrap_or(0);
        if !(200..300).contains(&status) && max_retries > 0 && retried != max_retries {
            return Ok(ok_response(&run_id, "call-will-retry"));
        }
        let get = |name: &str| header(headers, name).map(str::to_owned);
        let (Some(step_id), Some(step_name), Some(step_type), Some(concurrent)) = (
            get("upstash-workflow-stepid").and_then(|s| s.parse::<u64>().ok()),
            get("upstash-workflow-stepname"),
            get("upstash-workflow-steptype"),
            get("upstash-workflow-concurrent").and_then(|s| s.parse::<u64>().ok()),
        ) else {
            return Err(Error::new(
                ErrorKind::Protocol,
                "Missing info in callback message source header",
            ));
        };
        let response_body = match callback["body"].as_str() {
            Some(b) => decode_base64(b)?,
            None => Vec::new(),
        };
        let step = Step {
            step_id,
            step_name,
            step_type,
            out: Some(Value::String(CallResponse::output_text(
                status as u16,
                &callback["header"],
                &response_body,
            ))),
            concurrent,
            ..Step::default()
        };
        let mut rh = self.run_headers(url);
        rh.run_id.clone_from(&run_id);
        rh.failure_url = None;
        rh.retries = None;
        rh.retry_delay = None;
        rh.flow_control = None;
        self.shared
            .api
            .publish_json(url, &rh.build(), serde_json::to_string(&step)?)
            .await?;
        Ok(ok_response(&run_id, "fromCallback"))
    }

    /// A failure callback: the failure function, once.
    async fn failure(&self, headers: &HeaderMap, body: &[u8]) -> Result<Response<Body>, Error> {
        let run_id = header(headers, "upstash-workflow-runid")
            .unwrap_or_default()
            .to_owned();
        let Some(f) = &self.shared.options.failure else {
            let mut r = ok_response(&run_id, "failure-callback-undefined");
            r.headers_mut().insert(
                "upstash-workflow-failure-callback-notfound",
                http::HeaderValue::from_static("true"),
            );
            return Ok(r);
        };
        let v: Value = serde_json::from_slice(body).map_err(|e| {
            Error::new(
                ErrorKind::Protocol,
                format!("the failure callback's body: {e}"),
            )
        })?;
        let decoded = match v["body"].as_str() {
            Some(b) => String::from_utf8_lossy(&decode_base64(b)?).into_owned(),
            None => "{}".to_owned(),
        };
        let error_payload: Value = serde_json::from_str(&decoded).unwrap_or(Value::Null);
        let message = match error_payload["message"].as_str() {
            Some(m) if !m.is_empty() => m.to_owned(),
            _ => {
                format!("Couldn't parse 'failResponse' in 'failureFunction', received: '{decoded}'")
            }
        };
        let headers_of_answer: BTreeMap<String, Vec<String>> = v["header"]
            .as_object()
            .map(|o| {
                o.iter()
                    .map(|(k, v)| {
                        let values = v
                            .as_array()
                            .map(|a| {
                                a.iter()
                                    .filter_map(|x| x.as_str().map(str::to_owned))
                                    .collect()
                            })
                            .unwrap_or_default();
                        (k.clone(), values)
                    })
                    .collect()
            })
            .unwrap_or_default();
        let raw_payload = match v["sourceBody"].as_str() {
            Some(b) => String::from_utf8_lossy(&decode_base64(b)?).into_owned(),
            None => String::new(),
        };
        let ctx = FailureContext {
            run_id: v["workflowRunId"]
                .as_str()
                .map_or(run_id.clone(), str::to_owned),
            url: v["url"].as_str().unwrap_or_default().to_owned(),
            raw_payload,
            created_at: v["workflowCreatedAt"].as_u64(),
        };
        let failure = Failure {
            status: v["status"].as_u64().unwrap_or(0) as u16,
            message,
            stack: error_payload["stack"].as_str().map(str::to_owned),
            headers: headers_of_answer,
        };
        let result = f(ctx, failure).await?;
        Ok(json_response(
            StatusCode::OK,
            &json!({ "result": result }),
            &[],
        ))
    }
}

/// Runs the workflow once against `steps`: what to hand over, and the function's result.
pub(crate) async fn run_workflow<P>(
    f: &WorkflowFn<P>,
    run: RunInfo,
    steps: Vec<Step>,
    payload: P,
) -> (Option<Outcome>, Result<Value, Error>) {
    let exec = Arc::new(Executor::new(run, steps));
    let ctx = Context {
        payload,
        exec: exec.clone(),
    };
    let result = match (f(ctx).await, exec.take_failure()) {
        (Err(e), Some(failure)) if e.is_suspended() => Err(failure),
        (result, _) => result,
    };
    (exec.take_outcome(), result)
}

impl<P: DeserializeOwned + Send + 'static> tower::Service<Request<Body>> for Workflow<P> {
    type Response = Response<Body>;
    type Error = Infallible;
    type Future = BoxFuture<Result<Response<Body>, Infallible>>;

    fn poll_ready(&mut self, _: &mut std::task::Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: Request<Body>) -> Self::Future {
        let this = self.clone();
        // In a task of its own: a server that hangs up does not cut a step off half-way.
        Box::pin(async move {
            let handle = tokio::spawn(async move { this.handle(request).await });
            Ok(handle.await.unwrap_or_else(|e| {
                error_response(&Error::msg(format!("the workflow panicked: {e}")), None)
            }))
        })
    }
}

fn header<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

/// The Init message's body: the payload as the SDK re-encodes it.
fn init_body(payload: &[u8]) -> Option<String> {
    if payload.is_empty() {
        return None;
    }
    let text = String::from_utf8_lossy(payload);
    match serde_json::from_str::<Value>(&text) {
        Ok(Value::String(s)) => Some(s),
        Ok(_) => Some(compact_json(&text)),
        Err(_) => Some(text.into_owned()),
    }
}

/// The request's headers that the run forwards on its deliveries (the SDK's
/// `recreateUserHeaders`).
fn user_headers(headers: &HeaderMap) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = Vec::new();
    for (name, value) in headers {
        let n = name.as_str();
        let skip = n == "upstash-region"
            || n.starts_with("upstash-workflow-")
            || n.starts_with("x-vercel-")
            || n.starts_with("x-forwarded-")
            || matches!(
                n,
                "cf-connecting-ip" | "cdn-loop" | "cf-ew-via" | "cf-ray" | "render-proxy-ttl"
            );
        if skip {
            continue;
        }
        let Ok(v) = value.to_str() else { continue };
        match out.iter_mut().find(|(k, _)| k == n) {
            Some((_, existing)) => {
                existing.push_str(", ");
                existing.push_str(v);
            }
            None => out.push((n.to_owned(), v.to_owned())),
        }
    }
    out
}

fn new_run_id() -> String {
    format!("wfr_{}", random_id())
}

/// 21 random characters of the URL-safe alphabet (as `nanoid`).
pub(crate) fn random_id() -> String {
    const CHARS: &[u8] = b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_";
    let mut bytes = [0u8; 21];
    if getrandom::fill(&mut bytes).is_err() {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos());
        for (i, b) in bytes.iter_mut().enumerate() {
            *b = (nanos >> (i % 16 * 8)) as u8 ^ (i as u8).wrapping_mul(37);
        }
    }
    bytes
        .iter()
        .map(|b| char::from(CHARS[usize::from(b & 63)]))
        .collect()
}

fn json_response(
    status: StatusCode,
    body: &Value,
    extra: &[(&'static str, String)],
) -> Response<Body> {
    let mut r = Response::new(Body::from(body.to_string()));
    *r.status_mut() = status;
    let h = r.headers_mut();
    h.insert(
        "content-type",
        http::HeaderValue::from_static("text/plain;charset=UTF-8"),
    );
    h.insert(
        "upstash-workflow-sdk-version",
        http::HeaderValue::from_static(PROTOCOL_VERSION),
    );
    h.insert(
        "upstash-workflow-sdk",
        http::HeaderValue::from_static(SDK_ANSWER_VERSION),
    );
    for (k, v) in extra {
        if let Ok(v) = http::HeaderValue::from_str(v) {
            h.insert(*k, v);
        }
    }
    r
}

fn ok_response(run_id: &str, condition: &str) -> Response<Body> {
    json_response(
        StatusCode::OK,
        &json!({"workflowRunId": run_id, "finishCondition": condition}),
        &[],
    )
}

/// The answer to a failed request: 401 for a bad signature, 489 for a non-retryable error,
/// 429 with `Retry-After`, else 500 (with `Upstash-Error-Step-Name` when a step failed).
fn error_response(e: &Error, _run_id: Option<&str>) -> Response<Body> {
    let (status, name, extra) = match e.kind() {
        ErrorKind::Signature => (StatusCode::UNAUTHORIZED, "WorkflowError", Vec::new()),
        ErrorKind::NonRetryable => (
            StatusCode::from_u16(489).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
            "WorkflowNonRetryableError",
            vec![("upstash-nonretryable-error", "true".to_owned())],
        ),
        ErrorKind::RetryAfter => (
            StatusCode::TOO_MANY_REQUESTS,
            "WorkflowRetryAfterError",
            vec![(
                "retry-after",
                e.retry_after_delay()
                    .map_or(1, |d| d.as_secs().max(1))
                    .to_string(),
            )],
        ),
        ErrorKind::Step | ErrorKind::Workflow => {
            (StatusCode::INTERNAL_SERVER_ERROR, "Error", Vec::new())
        }
        _ => (
            StatusCode::INTERNAL_SERVER_ERROR,
            "WorkflowError",
            Vec::new(),
        ),
    };
    let mut extra = extra;
    if let Some(step) = e.step_name() {
        let clean: String = step
            .chars()
            .map(|c| if c.is_control() { ' ' } else { c })
            .collect();
        extra.push(("upstash-error-step-name", clean.trim().to_owned()));
    }
    json_response(
        status,
        &json!({"error": name, "message": e.message()}),
        &extra,
    )
}
