//! Workflow runs: `POST /v2/trigger/{url}`, `POST /v2/batch/trigger`, the runs API the SDK
//! uses (`GET`/`DELETE /v2/workflows/runs/{id}`), bulk cancel, logs and the workflow DLQ.

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, RawQuery, Request, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use qstash_protocol::{
    BatchResponseEntry, BulkCancel, BulkCancelResponse, LogsQuery, LogsResponse, RunId, RunLog,
    TriggerBatch, TriggerRequest, TriggerResponse,
};
use qstash_store::{
    CreateRunOutcome, EndRun, EndRunOutcome, Millis, NewRun, RunFilter, RunLink, RunState,
    RunToCreate, StoredRun,
};
use serde_json::{Value, json};

use super::messages::{Basics, base_message, read_body};
use super::{AppState, Tenant, page_size, parse_cursor};
use crate::engine::envelope::{Envelope, WorkflowInfo, WorkflowRole};
use crate::error::{ApiError, ApiResult};
use crate::ids::now_ms;
use crate::workflow::{self, RunConfig};

/// A run from a decoded trigger, checked and ready to store: `(run id, the run)`.
async fn prepare_trigger(
    state: &AppState,
    tenant: &str,
    mut req: TriggerRequest,
    now: Millis,
) -> ApiResult<(RunId, RunToCreate)> {
    let run_id = req.ensure_run_id().clone();
    let config = RunConfig::from_trigger(&req);
    let basics = Basics {
        destination: req.url().as_str(),
        method: "POST",
        body: req.body(),
        retries: req.retries(),
        delay: req.delay(),
        not_before: req.not_before(),
        timeout: None,
    };
    let run = prepare(state, tenant, &run_id, &basics, &config, now).await?;
    Ok((run_id, run))
}

/// A run and its first delivery, checked (limits, destination policy) and ready to store.
async fn prepare(
    state: &AppState,
    tenant: &str,
    run_id: &RunId,
    basics: &Basics<'_>,
    config: &RunConfig,
    now: Millis,
) -> ApiResult<RunToCreate> {
    let first = base_message(state, tenant, basics, now)?;
    let (run, first) = workflow::trigger_run(
        tenant,
        run_id.as_str(),
        basics.destination,
        basics.body,
        config,
        first,
        now,
    );
    super::check_destinations(state, &first).await?;
    Ok(RunToCreate {
        run,
        steps: Vec::new(),
        first,
    })
}

/// Stores prepared runs in one transaction, all or nothing: `(run id, created at, whether it
/// is new)` of each, in order. A run id used before (a client's retry) answers the run it
/// already started.
async fn commit_runs(
    state: &AppState,
    runs: Vec<(RunId, RunToCreate)>,
    now: Millis,
) -> ApiResult<Vec<(RunId, Millis, bool)>> {
    let (ids, runs): (Vec<RunId>, Vec<RunToCreate>) = runs.into_iter().unzip();
    let out = state.engine().write_batch(runs, Vec::new(), now).await?;
    Ok(ids
        .into_iter()
        .zip(out.runs)
        .map(|(id, o)| match o {
            CreateRunOutcome::Created => (id, now, true),
            CreateRunOutcome::Exists(existing) => (id, existing.run.created_at, false),
        })
        .collect())
}

/// Stores one prepared run: `(run id, created at, whether it is new)`.
async fn commit_run(
    state: &AppState,
    run_id: RunId,
    run: RunToCreate,
    now: Millis,
) -> ApiResult<(RunId, Millis, bool)> {
    match state
        .engine()
        .create_run(run.run, run.steps, run.first, now)
        .await?
    {
        CreateRunOutcome::Created => Ok((run_id, now, true)),
        CreateRunOutcome::Exists(existing) => Ok((run_id, existing.run.created_at, false)),
    }
}

pub(crate) async fn trigger(
    State(state): State<AppState>,
    Tenant(tenant): Tenant,
    req: Request,
) -> ApiResult<Json<TriggerResponse>> {
    let (parts, body) = req.into_parts();
    let body = read_body(body, state.limits().max_body).await?;
    let req = TriggerRequest::from_http(&http::Request::from_parts(parts, body))
        .map_err(|e| ApiError::bad_request(e.to_string()))?;
    let now = now_ms();
    let (run_id, run) = prepare_trigger(&state, &tenant, req, now).await?;
    let (run_id, created_at, _) = commit_run(&state, run_id, run, now).await?;
    Ok(Json(TriggerResponse::new(run_id, created_at)))
}

pub(crate) async fn batch_trigger(
    State(state): State<AppState>,
    Tenant(tenant): Tenant,
    req: Request,
) -> ApiResult<Json<Vec<BatchResponseEntry>>> {
    let limits = *state.limits();
    let (parts, body) = req.into_parts();
    let body = read_body(body, limits.max_body.saturating_mul(4)).await?;
    let batch = TriggerBatch::from_http(&http::Request::from_parts(parts, body))
        .map_err(|e| ApiError::bad_request(e.to_string()))?;
    if batch.entries().len() > limits.max_batch {
        return Err(ApiError::bad_request(format!(
            "a batch holds at most {} triggers, this one has {}",
            limits.max_batch,
            batch.entries().len()
        )));
    }
    let now = now_ms();
    // Every entry is checked before anything is stored; then all are stored in one
    // transaction, or none.
    let mut runs = Vec::with_capacity(batch.entries().len());
    for (i, req) in batch.into_entries().into_iter().enumerate() {
        runs.push(
            prepare_trigger(&state, &tenant, req, now)
                .await
                .map_err(|e| e.prefixed(&format!("entry {i}: ")))?,
        );
    }
    let out = commit_runs(&state, runs, now)
        .await?
        .into_iter()
        .map(|(run_id, created_at, created)| BatchResponseEntry::new(run_id, created_at, !created))
        .collect();
    Ok(Json(out))
}

/// `GET /v2/workflows/runs/{id}`: the run's steps (the SDK's lazy fetch); 404 once it ended.
pub(crate) async fn get_run(
    State(state): State<AppState>,
    Tenant(tenant): Tenant,
    Path(run_id): Path<String>,
) -> ApiResult<Response> {
    let store = &state.engine().store;
    match store.get_run(&tenant, &run_id).await? {
        Some(run) if run.state == RunState::Started => {
            let steps = store.run_steps(&tenant, &run_id, None).await?;
            Ok((
                [(http::header::CONTENT_TYPE, "application/json")],
                workflow::steps_body(&steps),
            )
                .into_response())
        }
        _ => Err(ApiError::new(
            StatusCode::NOT_FOUND,
            "workflow run not found",
        )),
    }
}

/// `DELETE /v2/workflows/runs/{id}`: `?cancel=false` ends the run with the body as its result
/// (the SDK's last call); otherwise it cancels the run. A repeat answers 200 as well.
pub(crate) async fn end_run(
    State(state): State<AppState>,
    Tenant(tenant): Tenant,
    Path(run_id): Path<String>,
    RawQuery(query): RawQuery,
    body: Bytes,
) -> ApiResult<StatusCode> {
    let cancel = !matches!(query.as_deref(), Some(q) if q.split('&').any(|p| p == "cancel=false"));
    let end = if cancel {
        EndRun {
            state: RunState::Canceled,
            response: None,
            reason: Some("cancelled".into()),
        }
    } else {
        EndRun {
            state: RunState::Success,
            response: Some(body.to_vec()),
            reason: None,
        }
    };
    match state
        .engine()
        .store
        .end_run(&tenant, &run_id, end, now_ms())
        .await?
    {
        EndRunOutcome::Ended | EndRunOutcome::AlreadyEnded(_) => Ok(StatusCode::OK),
        EndRunOutcome::NotFound => Err(ApiError::new(
            StatusCode::NOT_FOUND,
            "workflow run not found",
        )),
    }
}

/// `DELETE /v2/workflows/runs?workflowRunIds=…&workflowUrl=…&label=…`.
pub(crate) async fn bulk_cancel(
    State(state): State<AppState>,
    Tenant(tenant): Tenant,
    req: Request,
) -> ApiResult<Json<BulkCancelResponse>> {
    let (parts, _) = req.into_parts();
    let q = BulkCancel::from_http(&http::Request::from_parts(parts, Bytes::new()))
        .map_err(|e| ApiError::bad_request(e.to_string()))?;
    let store = &state.engine().store;
    let now = now_ms();
    let mut ids: Vec<String> = q.run_ids().iter().map(|r| r.as_str().to_owned()).collect();
    if ids.is_empty() {
        // Every started run matching the URL and label filters.
        let filter = RunFilter {
            run_id: None,
            workflow_url: q.workflow_url().map(|u| u.as_str().to_owned()),
            state: Some(RunState::Started),
            label: q.label().map(|l| l.as_str().to_owned()),
        };
        let mut cursor = None;
        loop {
            let page = store.list_runs(&tenant, &filter, cursor, 1000).await?;
            ids.extend(page.items.into_iter().map(|r| r.run.run_id));
            match page.next {
                Some(c) => cursor = Some(c),
                None => break,
            }
        }
    }
    let mut matching = Vec::with_capacity(ids.len());
    for id in ids {
        let matches = match store.get_run(&tenant, &id).await? {
            Some(run) => {
                q.workflow_url()
                    .is_none_or(|u| u.as_str() == run.run.workflow_url)
                    && q.label()
                        .is_none_or(|l| run.run.labels.iter().any(|x| x == l.as_str()))
            }
            None => false,
        };
        if matches {
            matching.push(id);
        }
    }
    let end = EndRun {
        state: RunState::Canceled,
        response: None,
        reason: Some("cancelled".into()),
    };
    // One transaction: every matching run is cancelled, or (on an error) none.
    let cancelled = store
        .end_runs(&tenant, &matching, end, now)
        .await?
        .iter()
        .filter(|o| **o == EndRunOutcome::Ended)
        .count() as u64;
    Ok(Json(BulkCancelResponse::new(cancelled)))
}

/// `GET /v2/workflows/logs` (and `/v2/workflows/events?groupBy=workflowRunId`).
pub(crate) async fn logs(
    State(state): State<AppState>,
    Tenant(tenant): Tenant,
    req: Request,
) -> ApiResult<Json<LogsResponse>> {
    let (mut parts, _) = req.into_parts();
    // The decoder reads the logs path; the events alias carries the same query.
    let pq = format!(
        "/v2/workflows/logs?{}",
        parts.uri.query().unwrap_or_default()
    );
    parts.uri = pq
        .parse()
        .map_err(|_| ApiError::bad_request("malformed query"))?;
    let q = LogsQuery::from_http(&http::Request::from_parts(parts, Bytes::new()))
        .map_err(|e| ApiError::bad_request(e.to_string()))?;
    let filter = RunFilter {
        run_id: q.run_id.as_ref().map(|r| r.as_str().to_owned()),
        workflow_url: None,
        state: q.state.and_then(|s| RunState::from_name(s.as_str())),
        label: q.label.as_ref().map(|l| l.as_str().to_owned()),
    };
    let store = &state.engine().store;
    let page = store
        .list_runs(
            &tenant,
            &filter,
            parse_cursor(q.cursor.as_deref())?,
            page_size(q.count),
        )
        .await?;
    let mut runs = Vec::with_capacity(page.items.len());
    for run in page.items {
        let steps = store.run_steps(&tenant, &run.run.run_id, None).await?;
        runs.push(run_log(&run, &steps)?);
    }
    Ok(Json(LogsResponse::new(
        runs,
        page.next.map(|c| c.to_string()),
    )))
}

/// A run as the logs show it, with its steps (`stepName`, `stepType`, `out`, `state`).
///
/// The plan steps of parallel steps (`stepId` 0 after the initial payload) are the SDK's
/// bookkeeping and are not shown; results of steps that ran in parallel (`concurrent` > 1) are
/// grouped as `{"type": "parallel", "steps": [...]}`. A `Wait` step shows its event's data as
/// `out` (decoded) and its timeout as `waitTimeoutDuration`.
fn run_log(run: &StoredRun, steps: &[qstash_store::RunStep]) -> ApiResult<RunLog> {
    let mut groups: Vec<Value> = Vec::with_capacity(steps.len());
    // How many more results the open parallel group takes.
    let mut parallel_left = 0u64;
    for step in steps {
        let mut entry = if step.seq == 0 {
            json!({
                "stepId": 0,
                "stepName": "init",
                "stepType": "Initial",
                "out": String::from_utf8_lossy(&step.body),
            })
        } else {
            serde_json::from_slice::<Value>(&step.body)
                .unwrap_or_else(|_| json!({"out": String::from_utf8_lossy(&step.body)}))
        };
        if step.seq > 0 && entry["stepId"] == 0 && entry.get("targetStep").is_some() {
            continue;
        }
        if let Value::Object(map) = &mut entry {
            if map.get("stepType").and_then(Value::as_str) == Some("Wait") {
                if let Some(t) = map.remove("timeout") {
                    map.insert("waitTimeoutDuration".into(), t);
                }
                let decoded = map
                    .get("out")
                    .and_then(Value::as_str)
                    .and_then(|o| STANDARD.decode(o).ok())
                    .map(|b| String::from_utf8_lossy(&b).into_owned());
                if let Some(d) = decoded {
                    map.insert("out".into(), Value::String(d));
                }
            }
            map.insert("messageId".into(), Value::String(step.message_id.clone()));
            map.insert("state".into(), Value::String("STEP_SUCCESS".into()));
            map.insert("createdAt".into(), Value::from(step.created_at));
        }
        let concurrent = entry["concurrent"].as_u64().unwrap_or(1);
        if concurrent > 1 && parallel_left > 0 {
            if let Some(Value::Array(group)) = groups.last_mut().and_then(|g| g.get_mut("steps")) {
                group.push(entry);
            }
            parallel_left -= 1;
        } else if concurrent > 1 {
            groups.push(json!({"type": "parallel", "steps": [entry]}));
            parallel_left = concurrent - 1;
        } else {
            parallel_left = 0;
            groups.push(json!({"type": "sequential", "steps": [entry]}));
        }
    }
    let mut other = serde_json::Map::new();
    other.insert("steps".into(), Value::Array(groups));
    if let Some(resp) = &run.response {
        other.insert(
            "workflowRunResponse".into(),
            Value::String(String::from_utf8_lossy(resp).into_owned()),
        );
    }
    if let Some(reason) = &run.reason {
        other.insert("reason".into(), Value::String(reason.clone()));
    }
    if !run.run.labels.is_empty() {
        other.insert("labels".into(), json!(run.run.labels));
    }
    let run_id = RunId::new(run.run.run_id.clone())
        .map_err(|_| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "corrupt run id"))?;
    let mut log = RunLog::new(run_id);
    log.workflow_url = Some(run.run.workflow_url.clone());
    log.workflow_state = Some(run.state.as_str().to_owned());
    log.workflow_run_created_at = Some(run.run.created_at);
    log.workflow_run_completed_at = run.ended_at;
    log.other = other;
    Ok(log)
}

/// How a dead letter of a run runs again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Again {
    /// A new run from the start, with the same initial payload and configuration.
    Restart,
    /// A new run that keeps the failed run's completed steps and goes on from the failed one.
    Resume,
}

/// The run id a restart or resume asks for (`Upstash-Workflow-RunId`), else a new one.
fn new_run_id(headers: &HeaderMap) -> ApiResult<RunId> {
    match headers.get("upstash-workflow-runid") {
        None => Ok(RunId::generate()),
        Some(v) => v
            .to_str()
            .ok()
            .map(str::trim)
            .and_then(|s| RunId::new(s).ok())
            .ok_or_else(|| ApiError::bad_request("Upstash-Workflow-RunId is not a valid run id")),
    }
}

/// What a restart or resume may change: `Upstash-Retries`, `Upstash-Retry-Delay`,
/// `Upstash-Flow-Control-Key` and `Upstash-Label` (the SDK's `retries` and `flowControl`
/// options, and upstream's other overrides).
fn overrides(headers: &HeaderMap, config: &mut RunConfig) -> ApiResult<()> {
    if let Some(v) = headers.get("upstash-retry-delay") {
        let expr = v
            .to_str()
            .ok()
            .map(str::trim)
            .filter(|e| qstash_retry_delay::RetryDelay::compile(e).is_ok())
            .ok_or_else(|| {
                ApiError::bad_request("Upstash-Retry-Delay is not a valid expression")
            })?;
        config.retry_delay = Some(expr.to_owned());
    }
    if let Some(v) = headers.get("upstash-label") {
        let label = v
            .to_str()
            .ok()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .ok_or_else(|| ApiError::bad_request("Upstash-Label must not be empty"))?;
        config.labels = vec![label.to_owned()];
    }
    if let Some(v) = headers.get("upstash-retries") {
        let retries = v
            .to_str()
            .ok()
            .and_then(|s| s.trim().parse::<u32>().ok())
            .ok_or_else(|| ApiError::bad_request("Upstash-Retries must be a number"))?;
        config.retries = Some(retries);
    }
    if let Some(v) = headers.get("upstash-flow-control-key") {
        let key = v
            .to_str()
            .ok()
            .map(str::trim)
            .filter(|k| !k.is_empty())
            .ok_or_else(|| ApiError::bad_request("Upstash-Flow-Control-Key must not be empty"))?;
        config.flow_key = Some(key.to_owned());
    }
    Ok(())
}

/// A new run of a dead letter's workflow, checked and ready to store: `(new run id, the run)`.
async fn prepare_again(
    state: &AppState,
    tenant: &str,
    dlq_id: &str,
    how: Again,
    headers: &HeaderMap,
    now: Millis,
) -> ApiResult<(RunId, RunToCreate)> {
    let store = &state.engine().store;
    let entry = super::dlq::find(state, tenant, dlq_id).await?;
    let failed = entry.message.message;
    let link = failed
        .run
        .clone()
        .ok_or_else(|| ApiError::bad_request("this dead letter is not of a workflow run"))?;
    let run = store
        .get_run(tenant, &link.run_id)
        .await?
        .ok_or_else(|| ApiError::not_found("workflow run"))?;
    let mut config = RunConfig::decode(&run.run.config);
    overrides(headers, &mut config)?;
    // The completed steps: up to the failed step message, or all of them when the failed
    // message is not a step (a call, the trigger's delivery).
    let copied = match how {
        Again::Restart => Vec::new(),
        Again::Resume if link.step => {
            store
                .run_steps(tenant, &link.run_id, Some(&failed.id))
                .await?
        }
        Again::Resume => store.run_steps(tenant, &link.run_id, None).await?,
    };
    let basics = Basics {
        destination: &run.run.workflow_url,
        method: "POST",
        body: &run.run.initial_body,
        retries: config.retries,
        delay: None,
        not_before: None,
        timeout: None,
    };
    let run_id = new_run_id(headers)?;
    if copied.is_empty() {
        // Nothing completed: a resume is a restart.
        let run = prepare(state, tenant, &run_id, &basics, &config, now).await?;
        return Ok((run_id, run));
    }
    let (mut first, mut envelope) = base_message(state, tenant, &basics, now)?;
    let old = Envelope::decode(&failed.extra);
    envelope.forward = old.forward.clone();
    envelope.content_type = old.content_type.clone();
    config.apply(
        &mut first,
        &mut envelope,
        run_id.as_str(),
        &run.run.workflow_url,
    );
    envelope.workflow = Some(WorkflowInfo {
        run_id: run_id.as_str().to_owned(),
        url: run.run.workflow_url.clone(),
        created_at: now,
        feature_set: old.workflow.as_ref().and_then(|w| w.feature_set.clone()),
        role: WorkflowRole::Step,
    });
    // Not a step itself: its delivery carries the copied steps as they are.
    first.body = workflow::steps_body(&copied);
    first.extra = envelope.encode();
    first.run = Some(RunLink {
        run_id: run_id.as_str().to_owned(),
        step: false,
    });
    let new_run = NewRun {
        tenant: tenant.to_owned(),
        run_id: run_id.as_str().to_owned(),
        workflow_url: run.run.workflow_url.clone(),
        created_at: now,
        initial_body: run.run.initial_body.clone(),
        labels: config.labels.clone(),
        config: config.encode(),
    };
    super::check_destinations(state, &first).await?;
    Ok((
        run_id,
        RunToCreate {
            run: new_run,
            steps: copied,
            first,
        },
    ))
}

/// Runs a dead letter's workflow again: `(new run id, created at)`.
async fn run_again(
    state: &AppState,
    tenant: &str,
    dlq_id: &str,
    how: Again,
    headers: &HeaderMap,
) -> ApiResult<(RunId, Millis)> {
    let now = now_ms();
    let (run_id, run) = prepare_again(state, tenant, dlq_id, how, headers, now).await?;
    let (run_id, created_at, _) = commit_run(state, run_id, run, now).await?;
    Ok((run_id, created_at))
}

/// `POST /v2/workflows/dlq/restart/{dlqId}`: a new run of the same workflow from the start,
/// with the same initial payload and configuration → `{"workflowRunId", "workflowCreatedAt"}`.
pub(crate) async fn dlq_restart(
    State(state): State<AppState>,
    Tenant(tenant): Tenant,
    Path(dlq_id): Path<String>,
    headers: HeaderMap,
) -> ApiResult<Json<TriggerResponse>> {
    let (run_id, created_at) =
        run_again(&state, &tenant, &dlq_id, Again::Restart, &headers).await?;
    Ok(Json(TriggerResponse::new(run_id, created_at)))
}

/// `POST /v2/workflows/dlq/resume/{dlqId}`: a new run that keeps the failed run's completed
/// steps (copied, not run again) and goes on from the failed step →
/// `{"workflowRunId", "workflowCreatedAt"}`.
pub(crate) async fn dlq_resume(
    State(state): State<AppState>,
    Tenant(tenant): Tenant,
    Path(dlq_id): Path<String>,
    headers: HeaderMap,
) -> ApiResult<Json<TriggerResponse>> {
    let (run_id, created_at) = run_again(&state, &tenant, &dlq_id, Again::Resume, &headers).await?;
    Ok(Json(TriggerResponse::new(run_id, created_at)))
}

/// The `dlqIds` of a query (`dlqIds=a&dlqIds=b`, or comma-separated).
fn dlq_ids(query: Option<&str>) -> ApiResult<Vec<String>> {
    let mut ids = Vec::new();
    for pair in query.unwrap_or("").split('&') {
        let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
        if name == "dlqIds" || name == "dlqIds%5B%5D" || name == "dlqIds[]" {
            let value = percent_decode(value);
            ids.extend(
                value
                    .split(',')
                    .map(str::trim)
                    .filter(|s| !s.is_empty())
                    .map(str::to_owned),
            );
        }
    }
    if ids.is_empty() {
        return Err(ApiError::bad_request(
            "give the dead letters as dlqIds=<id>&dlqIds=<id> (filters are not supported here)",
        ));
    }
    Ok(ids)
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| (b as char).to_digit(16);
        match bytes[i] {
            b'%' if i + 2 < bytes.len() => match (hex(bytes[i + 1]), hex(bytes[i + 2])) {
                (Some(h), Some(l)) => {
                    out.push((h * 16 + l) as u8);
                    i += 3;
                    continue;
                }
                _ => out.push(b'%'),
            },
            b'+' => out.push(b' '),
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

async fn run_again_many(
    state: &AppState,
    tenant: &str,
    query: Option<&str>,
    how: Again,
    headers: &HeaderMap,
) -> ApiResult<Json<Value>> {
    let ids = dlq_ids(query)?;
    if ids.len() > 1 && headers.contains_key("upstash-workflow-runid") {
        return Err(ApiError::bad_request(
            "Upstash-Workflow-RunId names one run: give it with one dead letter only",
        ));
    }
    // Every dead letter is checked before anything is stored; then every new run is stored in
    // one transaction, or none.
    let now = now_ms();
    let mut prepared = Vec::with_capacity(ids.len());
    for id in ids {
        prepared.push(
            prepare_again(state, tenant, &id, how, headers, now)
                .await
                .map_err(|e| e.prefixed(&format!("{id}: ")))?,
        );
    }
    let runs: Vec<Value> = commit_runs(state, prepared, now)
        .await?
        .into_iter()
        .map(|(run_id, created_at, _)| {
            json!({"workflowRunId": run_id.as_str(), "workflowCreatedAt": created_at})
        })
        .collect();
    Ok(Json(json!({ "workflowRuns": runs })))
}

/// `POST /v2/workflows/dlq/restart?dlqIds=…` (the SDK's `client.dlq.restart`) →
/// `{"workflowRuns": [{"workflowRunId", "workflowCreatedAt"}, …]}`.
pub(crate) async fn dlq_restart_many(
    State(state): State<AppState>,
    Tenant(tenant): Tenant,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> ApiResult<Json<Value>> {
    run_again_many(&state, &tenant, query.as_deref(), Again::Restart, &headers).await
}

/// `POST /v2/workflows/dlq/resume?dlqIds=…` (the SDK's `client.dlq.resume`) →
/// `{"workflowRuns": [{"workflowRunId", "workflowCreatedAt"}, …]}`.
pub(crate) async fn dlq_resume_many(
    State(state): State<AppState>,
    Tenant(tenant): Tenant,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> ApiResult<Json<Value>> {
    run_again_many(&state, &tenant, query.as_deref(), Again::Resume, &headers).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dlq_ids_of_a_query() {
        assert_eq!(
            dlq_ids(Some("dlqIds=a&count=3&dlqIds=b%2Cc&dlqIds%5B%5D=d")).unwrap(),
            ["a", "b", "c", "d"]
        );
        assert_eq!(dlq_ids(Some("dlqIds=dlq_%41+x")).unwrap(), ["dlq_A x"]);
        assert!(dlq_ids(Some("label=x")).is_err());
        assert!(dlq_ids(None).is_err());
        assert_eq!(percent_decode("%zz%4"), "%zz%4");
    }
}
