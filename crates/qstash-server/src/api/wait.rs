//! A run's wait for an event (`context.waitForEvent`) and its release (`notify`):
//! `POST /v2/wait/{eventId}`, `POST /v2/notify/{eventId}`, `POST /v2/notify/{runId}/{eventId}`
//! and `GET /v2/waiters/{eventId}` (the rules: `crate::service::wait`).

use axum::Json;
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use serde_json::{Value, json};

use super::messages::read_body;
use super::{AppState, Tenant};
use crate::error::ApiResult;
use crate::ids::now_ms;

/// `POST /v2/wait/{eventId}`: registers the run's wait; answers `{"messageId"}`.
pub(crate) async fn wait(
    State(state): State<AppState>,
    Tenant(tenant): Tenant,
    Path(event_id): Path<String>,
    headers: HeaderMap,
    body: axum::body::Body,
) -> ApiResult<Json<Value>> {
    let body = read_body(body, state.limits().max_body).await?;
    let message_id = state
        .service()
        .wait(&tenant, &event_id, &headers, &body, now_ms())
        .await?;
    Ok(Json(json!({ "messageId": message_id })))
}

/// `POST /v2/notify/{eventId}`: releases every waiter of the tenant with this event id, with
/// the body as the event's data; answers the list of waiters notified (empty when none).
pub(crate) async fn notify(
    State(state): State<AppState>,
    Tenant(tenant): Tenant,
    Path(event_id): Path<String>,
    body: axum::body::Body,
) -> ApiResult<Json<Vec<Value>>> {
    let body = read_body(body, state.limits().max_body).await?;
    let out = state
        .service()
        .notify(&tenant, &event_id, None, &body, now_ms())
        .await?;
    Ok(Json(out))
}

/// `POST /v2/notify/{runId}/{eventId}`: as [`notify`], for the waiters of one run.
pub(crate) async fn notify_run(
    State(state): State<AppState>,
    Tenant(tenant): Tenant,
    Path((run_id, event_id)): Path<(String, String)>,
    body: axum::body::Body,
) -> ApiResult<Json<Vec<Value>>> {
    let body = read_body(body, state.limits().max_body).await?;
    let out = state
        .service()
        .notify(&tenant, &event_id, Some(&run_id), &body, now_ms())
        .await?;
    Ok(Json(out))
}

/// `GET /v2/waiters/{eventId}`: the tenant's waiters of this event that can still be notified.
pub(crate) async fn waiters(
    State(state): State<AppState>,
    Tenant(tenant): Tenant,
    Path(event_id): Path<String>,
) -> ApiResult<Json<Vec<Value>>> {
    Ok(Json(state.service().waiters(&tenant, &event_id).await?))
}
