//! The dead-letter queue: `GET`/`DELETE /v2/dlq`, `GET`/`DELETE /v2/dlq/{id}`,
//! `POST /v2/dlq/retry/{id}` (and the workflow DLQ's list, read and delete).

use axum::Json;
use axum::extract::{Path, RawQuery, State};
use axum::http::HeaderMap;
use axum::http::StatusCode;
use qstash_protocol::{
    DlqBulkRetryResponse, DlqDeleteResponse, DlqListResponse, DlqMessage, DlqQuery,
    DlqRetryOverrides, DlqRetryResponse,
};

use super::{AppState, Tenant};
use crate::error::{ApiError, ApiResult};
use crate::ids::now_ms;

/// `GET /v2/dlq` (`source=workflow`: the dead letters of workflow runs only).
pub(crate) async fn list(
    State(state): State<AppState>,
    tenant: Tenant,
    RawQuery(query): RawQuery,
) -> ApiResult<Json<DlqListResponse>> {
    list_filtered(state, tenant, query, false).await
}

/// `GET /v2/workflows/dlq`: the dead letters of workflow runs.
pub(crate) async fn list_workflow(
    State(state): State<AppState>,
    tenant: Tenant,
    RawQuery(query): RawQuery,
) -> ApiResult<Json<DlqListResponse>> {
    list_filtered(state, tenant, query, true).await
}

async fn list_filtered(
    state: AppState,
    Tenant(tenant): Tenant,
    query: Option<String>,
    workflow_only: bool,
) -> ApiResult<Json<DlqListResponse>> {
    let q = DlqQuery::from_query(query.as_deref().unwrap_or(""))
        .map_err(|e| ApiError::bad_request(e.to_string()))?;
    let workflow = (workflow_only || q.workflow).then_some(true);
    Ok(Json(state.service().list_dlq(&tenant, &q, workflow).await?))
}

pub(crate) async fn get_one(
    State(state): State<AppState>,
    Tenant(tenant): Tenant,
    Path(id): Path<String>,
) -> ApiResult<Json<DlqMessage>> {
    Ok(Json(state.service().get_dlq(&tenant, &id).await?))
}

pub(crate) async fn delete_one(
    State(state): State<AppState>,
    Tenant(tenant): Tenant,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    state.service().delete_dlq(&tenant, id).await?;
    Ok(StatusCode::OK)
}

/// `DELETE /v2/dlq`: the dead letters named by `dlqIds`, or a page of those matching the
/// filters (`count`, `cursor`): `{"deleted": n, "cursor"?}`.
pub(crate) async fn delete_many(
    State(state): State<AppState>,
    tenant: Tenant,
    RawQuery(query): RawQuery,
) -> ApiResult<Json<DlqDeleteResponse>> {
    delete_selected(state, tenant, query, false).await
}

/// `DELETE /v2/workflows/dlq`: as `DELETE /v2/dlq`, among the dead letters of workflow runs.
pub(crate) async fn delete_many_workflow(
    State(state): State<AppState>,
    tenant: Tenant,
    RawQuery(query): RawQuery,
) -> ApiResult<Json<DlqDeleteResponse>> {
    delete_selected(state, tenant, query, true).await
}

async fn delete_selected(
    state: AppState,
    Tenant(tenant): Tenant,
    query: Option<String>,
    workflow_only: bool,
) -> ApiResult<Json<DlqDeleteResponse>> {
    let q = DlqQuery::from_query(query.as_deref().unwrap_or(""))
        .map_err(|e| ApiError::bad_request(e.to_string()))?;
    let workflow = (workflow_only || q.workflow).then_some(true);
    let (deleted, cursor) = state
        .service()
        .delete_dlq_selected(&tenant, &q, workflow)
        .await?;
    let mut out = DlqDeleteResponse::new(deleted);
    out.cursor = cursor;
    Ok(Json(out))
}

/// `POST /v2/dlq/retry/{id}`: a new message with the dead letter's request (and the override
/// headers), the dead letter removed: `{"messageId"}`.
pub(crate) async fn retry(
    State(state): State<AppState>,
    Tenant(tenant): Tenant,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> ApiResult<Json<DlqRetryResponse>> {
    let overrides = DlqRetryOverrides::from_headers(&headers)
        .map_err(|e| ApiError::bad_request(e.to_string()))?;
    let new_id = state
        .service()
        .retry_dlq(&tenant, &id, &overrides, now_ms())
        .await?;
    Ok(Json(DlqRetryResponse::new(new_id)))
}

/// `POST /v2/dlq/retry?dlqIds=…` (or filters with `count`/`cursor`): every selected dead
/// letter retried and removed, all or none: `{"responses": [{"messageId"}], "cursor"?}`.
pub(crate) async fn retry_many(
    State(state): State<AppState>,
    Tenant(tenant): Tenant,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> ApiResult<Json<DlqBulkRetryResponse>> {
    let q = DlqQuery::from_query(query.as_deref().unwrap_or(""))
        .map_err(|e| ApiError::bad_request(e.to_string()))?;
    let overrides = DlqRetryOverrides::from_headers(&headers)
        .map_err(|e| ApiError::bad_request(e.to_string()))?;
    let (ids, cursor) = state
        .service()
        .retry_dlq_selected(&tenant, &q, &overrides, now_ms())
        .await?;
    Ok(Json(DlqBulkRetryResponse::new(
        ids.into_iter().map(DlqRetryResponse::new).collect(),
        cursor,
    )))
}
