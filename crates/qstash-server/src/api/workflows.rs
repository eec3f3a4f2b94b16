//! Workflow runs: `POST /v2/trigger/{url}`, `POST /v2/batch/trigger`, the runs API the SDK
//! uses (`GET`/`DELETE /v2/workflows/runs/{id}`), bulk cancel, logs and the workflow DLQ's
//! restart and resume.

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, RawQuery, Request, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use qstash_protocol::{
    BatchResponseEntry, BulkCancel, BulkCancelResponse, LogsQuery, LogsResponse, RunId,
    TriggerBatch, TriggerRequest, TriggerResponse,
};
use serde_json::{Value, json};

use super::messages::read_body;
use super::{AppState, Tenant};
use crate::error::{ApiError, ApiResult};
use crate::ids::now_ms;
use crate::service::dlq::{Again, RunOverrides};
use crate::service::runs::RunEnd;

pub(crate) async fn trigger(
    State(state): State<AppState>,
    Tenant(tenant): Tenant,
    req: Request,
) -> ApiResult<Json<TriggerResponse>> {
    let (parts, body) = req.into_parts();
    let body = read_body(body, state.limits().max_body).await?;
    let req = TriggerRequest::from_http(&http::Request::from_parts(parts, body))
        .map_err(|e| ApiError::bad_request(e.to_string()))?;
    Ok(Json(state.service().trigger(&tenant, req, now_ms()).await?))
}

pub(crate) async fn batch_trigger(
    State(state): State<AppState>,
    Tenant(tenant): Tenant,
    req: Request,
) -> ApiResult<Json<Vec<BatchResponseEntry>>> {
    let (parts, body) = req.into_parts();
    let body = read_body(body, state.limits().max_body.saturating_mul(4)).await?;
    let batch = TriggerBatch::from_http(&http::Request::from_parts(parts, body))
        .map_err(|e| ApiError::bad_request(e.to_string()))?;
    Ok(Json(
        state
            .service()
            .trigger_batch(&tenant, batch, now_ms())
            .await?,
    ))
}

/// `GET /v2/workflows/runs/{id}`: the run's steps (the SDK's lazy fetch); 404 once it ended.
pub(crate) async fn get_run(
    State(state): State<AppState>,
    Tenant(tenant): Tenant,
    Path(run_id): Path<String>,
) -> ApiResult<Response> {
    let body = state.service().run_steps_body(&tenant, &run_id).await?;
    Ok(([(http::header::CONTENT_TYPE, "application/json")], body).into_response())
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
        RunEnd::Cancel
    } else {
        RunEnd::Success(body.to_vec())
    };
    state
        .service()
        .end_run(&tenant, &run_id, end, now_ms())
        .await?;
    Ok(StatusCode::OK)
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
    let cancelled = state.service().cancel_runs(&tenant, &q, now_ms()).await?;
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
    Ok(Json(state.service().run_logs(&tenant, &q).await?))
}

/// Runs a dead letter's workflow again: `{"workflowRunId", "workflowCreatedAt"}`.
async fn run_again(
    state: &AppState,
    tenant: &str,
    dlq_id: &str,
    how: Again,
    headers: &HeaderMap,
) -> ApiResult<Json<TriggerResponse>> {
    let overrides = run_overrides(headers)?;
    let (run_id, created_at) = state
        .service()
        .run_again(tenant, dlq_id, how, &overrides, now_ms())
        .await?;
    Ok(Json(TriggerResponse::new(run_id, created_at)))
}

/// `POST /v2/workflows/dlq/restart/{dlqId}`: a new run of the same workflow from the start,
/// with the same initial payload and configuration → `{"workflowRunId", "workflowCreatedAt"}`.
pub(crate) async fn dlq_restart(
    State(state): State<AppState>,
    Tenant(tenant): Tenant,
    Path(dlq_id): Path<String>,
    headers: HeaderMap,
) -> ApiResult<Json<TriggerResponse>> {
    run_again(&state, &tenant, &dlq_id, Again::Restart, &headers).await
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
    run_again(&state, &tenant, &dlq_id, Again::Resume, &headers).await
}

async fn run_again_many(
    state: &AppState,
    tenant: &str,
    query: Option<&str>,
    how: Again,
    headers: &HeaderMap,
) -> ApiResult<Json<Value>> {
    let ids = dlq_ids(query)?;
    let overrides = run_overrides(headers)?;
    let runs: Vec<Value> = state
        .service()
        .run_again_many(tenant, &ids, how, &overrides, now_ms())
        .await?
        .into_iter()
        .map(|(run_id, created_at)| {
            json!({"workflowRunId": run_id.as_str(), "workflowCreatedAt": created_at})
        })
        .collect();
    Ok(Json(json!({ "workflowRuns": runs })))
}

/// The overrides a restart or resume gives in its headers.
fn run_overrides(headers: &HeaderMap) -> ApiResult<RunOverrides> {
    let mut o = RunOverrides {
        run_id: match headers.get("upstash-workflow-runid") {
            None => None,
            Some(_) => Some(new_run_id(headers)?),
        },
        ..RunOverrides::default()
    };
    overrides(headers, &mut o)?;
    Ok(o)
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
fn overrides(headers: &HeaderMap, config: &mut RunOverrides) -> ApiResult<()> {
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
        config.label = Some(label.to_owned());
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
