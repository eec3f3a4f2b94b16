//! Workflow runs: `POST /v2/trigger/{url}`, `POST /v2/batch/trigger`, the runs API the SDK
//! uses (`GET`/`DELETE /v2/workflows/runs/{id}`), bulk cancel, logs and the workflow DLQ's
//! restart and resume.

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, RawQuery, Request, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use qstash_protocol::{
    BatchResponseEntry, BulkCancel, BulkCancelResponse, DecodeErrorKind, LogsQuery, LogsResponse,
    RunAgainOverrides, RunAgainQuery, RunEndQuery, TriggerBatch, TriggerRequest, TriggerResponse,
};
use serde_json::{Value, json};

use super::messages::read_body;
use super::{AppState, Tenant};
use crate::error::{ApiError, ApiResult};
use crate::ids::now_ms;
use crate::service::dlq::Again;
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
    let q = RunEndQuery::from_query(query.as_deref().unwrap_or(""))
        .map_err(|e| ApiError::bad_request(e.to_string()))?;
    let end = if q.cancel {
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
        .run_again_many(tenant, ids.dlq_ids(), how, &overrides, now_ms())
        .await?
        .into_iter()
        .map(|(run_id, created_at)| {
            json!({"workflowRunId": run_id.as_str(), "workflowCreatedAt": created_at})
        })
        .collect();
    Ok(Json(json!({ "workflowRuns": runs })))
}

/// The overrides of a restart or resume, from its headers.
fn run_overrides(headers: &HeaderMap) -> ApiResult<RunAgainOverrides> {
    RunAgainOverrides::from_headers(headers).map_err(|e| ApiError::bad_request(e.to_string()))
}

/// The `dlqIds` of a bulk restart or resume.
fn dlq_ids(query: Option<&str>) -> ApiResult<RunAgainQuery> {
    RunAgainQuery::from_query(query.unwrap_or("")).map_err(|e| {
        if e.kind() == DecodeErrorKind::MissingFilter {
            ApiError::bad_request(
                "give the dead letters as dlqIds=<id>&dlqIds=<id> (filters are not supported here)",
            )
        } else {
            ApiError::bad_request(e.to_string())
        }
    })
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
