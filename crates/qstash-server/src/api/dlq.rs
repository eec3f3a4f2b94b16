//! The dead-letter queue: `GET`/`DELETE /v2/dlq`, `GET`/`DELETE /v2/dlq/{id}`,
//! `POST /v2/dlq/retry/{id}` (and the workflow DLQ's list, read and delete).

use axum::Json;
use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use qstash_protocol::{
    DlqDelete, DlqDeleteResponse, DlqListResponse, DlqMessage, DlqQuery, DlqRetryResponse,
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

pub(crate) async fn delete_many(
    State(state): State<AppState>,
    Tenant(tenant): Tenant,
    RawQuery(query): RawQuery,
) -> ApiResult<Json<DlqDeleteResponse>> {
    let q = DlqDelete::from_query(query.as_deref().unwrap_or(""))
        .map_err(|e| ApiError::bad_request(e.to_string()))?;
    let deleted = state.service().delete_dlq_many(&tenant, &q).await?;
    Ok(Json(DlqDeleteResponse::new(deleted)))
}

/// A new message with the dead letter's request, due now.
pub(crate) async fn retry(
    State(state): State<AppState>,
    Tenant(tenant): Tenant,
    Path(id): Path<String>,
) -> ApiResult<Json<DlqRetryResponse>> {
    let new_id = state.service().retry_dlq(&tenant, &id, now_ms()).await?;
    Ok(Json(DlqRetryResponse::new(new_id)))
}
