//! The dead-letter queue: `GET`/`DELETE /v2/dlq`, `GET`/`DELETE /v2/dlq/{id}`,
//! `POST /v2/dlq/retry/{id}`.

use axum::Json;
use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use qstash_protocol::{
    CallbackState, DlqDelete, DlqDeleteResponse, DlqListResponse, DlqMessage, DlqQuery,
    DlqRetryResponse, FailureCallbackInfo,
};
use qstash_store::{DlqEntry, DlqFilter};

use super::{AppState, Tenant, page_size, parse_cursor};
use crate::engine::envelope::Envelope;
use crate::error::{ApiError, ApiResult};
use crate::ids::{message_id, now_ms};

pub(crate) async fn list(
    State(state): State<AppState>,
    tenant: Tenant,
    RawQuery(query): RawQuery,
) -> ApiResult<Json<DlqListResponse>> {
    // `source=workflow` lists the dead letters of workflow runs only.
    let workflow = query
        .as_deref()
        .is_some_and(|q| q.split('&').any(|p| p == "source=workflow"))
        .then_some(true);
    list_filtered(state, tenant, query, workflow).await
}

/// `GET /v2/workflows/dlq`: the dead letters of workflow runs.
pub(crate) async fn list_workflow(
    State(state): State<AppState>,
    tenant: Tenant,
    RawQuery(query): RawQuery,
) -> ApiResult<Json<DlqListResponse>> {
    list_filtered(state, tenant, query, Some(true)).await
}

async fn list_filtered(
    state: AppState,
    Tenant(tenant): Tenant,
    query: Option<String>,
    workflow: Option<bool>,
) -> ApiResult<Json<DlqListResponse>> {
    let q = DlqQuery::from_query(query.as_deref().unwrap_or(""))
        .map_err(|e| ApiError::bad_request(e.to_string()))?;
    let filter = DlqFilter {
        url: q.url.clone(),
        label: q.label.as_ref().map(|l| l.as_str().to_owned()),
        response_status: q.response_status,
        workflow,
    };
    let page = state
        .engine()
        .store
        .list_dlq(
            &tenant,
            &filter,
            parse_cursor(q.cursor.as_deref())?,
            page_size(q.count),
        )
        .await?;
    Ok(Json(DlqListResponse::new(
        page.items.iter().map(view).collect(),
        page.next.map(|c| c.to_string()),
    )))
}

pub(crate) async fn get_one(
    State(state): State<AppState>,
    Tenant(tenant): Tenant,
    Path(id): Path<String>,
) -> ApiResult<Json<DlqMessage>> {
    let entry = find(&state, &tenant, &id).await?;
    Ok(Json(view(&entry)))
}

pub(crate) async fn delete_one(
    State(state): State<AppState>,
    Tenant(tenant): Tenant,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    match state.engine().store.delete_dlq(&tenant, &[id]).await? {
        0 => Err(ApiError::not_found("dead letter")),
        _ => Ok(StatusCode::OK),
    }
}

pub(crate) async fn delete_many(
    State(state): State<AppState>,
    Tenant(tenant): Tenant,
    RawQuery(query): RawQuery,
) -> ApiResult<Json<DlqDeleteResponse>> {
    let q = DlqDelete::from_query(query.as_deref().unwrap_or(""))
        .map_err(|e| ApiError::bad_request(e.to_string()))?;
    let deleted = state
        .engine()
        .store
        .delete_dlq(&tenant, q.dlq_ids())
        .await?;
    Ok(Json(DlqDeleteResponse::new(deleted)))
}

/// A new message with the dead letter's request, due now.
pub(crate) async fn retry(
    State(state): State<AppState>,
    Tenant(tenant): Tenant,
    Path(id): Path<String>,
) -> ApiResult<Json<DlqRetryResponse>> {
    let entry = find(&state, &tenant, &id).await?;
    let now = now_ms();
    let mut message = entry.message.message;
    message.id = message_id();
    message.created_at = now;
    message.due_at = now;
    message.dedup = None;
    let new_id = message.id.clone();
    super::check_destinations(&state, &message).await?;
    state.engine().accept(vec![message], now).await?;
    Ok(Json(DlqRetryResponse::new(new_id)))
}

/// One dead letter of the tenant, or a 404.
pub(crate) async fn find(state: &AppState, tenant: &str, id: &str) -> ApiResult<DlqEntry> {
    state
        .engine()
        .store
        .get_dlq(tenant, id)
        .await?
        .ok_or_else(|| ApiError::not_found("dead letter"))
}

/// A dead letter as the API shows it.
fn view(entry: &DlqEntry) -> DlqMessage {
    let m = &entry.message.message;
    let envelope = Envelope::decode(&m.extra);
    let mut out = DlqMessage::new(
        entry.dlq_id.clone(),
        m.id.clone(),
        m.destination.clone(),
        entry.created_at,
    );
    out.method = Some(m.method.clone());
    out.header = super::header_lists(&m.headers);
    out.set_body(&m.body);
    out.max_retries = Some(m.max_retries);
    out.not_before = (envelope.not_before > 0).then_some(envelope.not_before);
    out.callback = envelope.callback;
    out.failure_callback = entry.failure_callback.clone();
    out.set_labels(m.labels.iter().cloned());
    out.response_status = entry.response.status;
    out.response_header = super::header_lists(&entry.response.headers);
    out.set_response_body(&entry.response.body);
    out.failure_callback_state = match entry.failure_callback_state.as_deref() {
        Some("CALLBACK_SUCCESS") => Some(CallbackState::Success),
        Some("CALLBACK_FAIL") => Some(CallbackState::Fail),
        _ => None,
    };
    if let Some(wf) = &envelope.workflow {
        // A message of a workflow run: the run's fields, as upstream's workflow DLQ lists them.
        out.workflow_run_id = Some(wf.run_id.clone());
        out.workflow_url = Some(wf.url.clone());
        out.workflow_created_at = Some(wf.created_at);
        if out.failure_callback.is_some() {
            out.failure_callback_info = Some(FailureCallbackInfo::new(out.failure_callback_state));
        }
    } else if let Some(run) = &m.run {
        out.workflow_run_id = Some(run.run_id.clone());
    }
    out
}
