//! Publishing (`POST /v2/publish/{destination}`, to a URL group when it is a name, `POST
//! /v2/batch`) and managing messages (`GET`/`DELETE /v2/messages/{id}`, `DELETE /v2/messages`).

use axum::Json;
use axum::body::{Body, Bytes};
use axum::extract::{Path, RawQuery, Request, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use qstash_protocol::{
    BulkCancelResponse, Message, MessageCancelQuery, PublishBatch, PublishRequest,
};

use super::{AppState, Tenant};
use crate::error::{ApiError, ApiResult};
use crate::ids::now_ms;

/// Reads a request body of at most `limit` bytes; a larger one is a 413 naming the limit.
pub(crate) async fn read_body(body: Body, limit: usize) -> ApiResult<Bytes> {
    axum::body::to_bytes(body, limit).await.map_err(|_| {
        ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!("the request body is larger than the limit of {limit} bytes"),
        )
    })
}

/// `POST /v2/publish/{destination}`: 201 with `{"messageId"}`, or 202 for a duplicate.
pub(crate) async fn publish(
    State(state): State<AppState>,
    Tenant(tenant): Tenant,
    req: Request,
) -> ApiResult<Response> {
    let (parts, body) = req.into_parts();
    let body = read_body(body, state.limits().max_body).await?;
    // A name instead of a URL: a publish to that URL group.
    if let Some(name) = parts
        .uri
        .path()
        .strip_prefix("/v2/publish/")
        .filter(|d| parts.uri.query().is_none() && crate::service::url_groups::is_group_name(d))
    {
        return super::url_groups::publish(&state, &tenant, name, &parts.headers, body).await;
    }
    let request = http::Request::from_parts(parts, body);
    let decoded =
        PublishRequest::from_http(&request).map_err(|e| ApiError::bad_request(e.to_string()))?;
    let accepted = state
        .service()
        .publish(&tenant, &decoded, now_ms(), None)
        .await?;
    let status = if accepted.new {
        StatusCode::CREATED
    } else {
        StatusCode::ACCEPTED
    };
    Ok((status, Json(accepted.response)).into_response())
}

/// `POST /v2/batch`: 201 with one answer per message, in order.
pub(crate) async fn batch(
    State(state): State<AppState>,
    Tenant(tenant): Tenant,
    body: Body,
) -> ApiResult<Response> {
    let limits = *state.limits();
    // A batch may carry up to `max_batch` bodies of the largest size; the JSON adds framing.
    let limit = limits.max_body.saturating_mul(4).max(limits.max_body);
    let body = read_body(body, limit).await?;
    let batch = PublishBatch::from_json(&body).map_err(|e| ApiError::bad_request(e.to_string()))?;
    let answers = state
        .service()
        .publish_batch(&tenant, &batch, now_ms())
        .await?;
    Ok((StatusCode::CREATED, Json(answers)).into_response())
}

/// `GET /v2/messages/{id}`.
pub(crate) async fn get_message(
    State(state): State<AppState>,
    Tenant(tenant): Tenant,
    Path(id): Path<String>,
) -> ApiResult<Json<Message>> {
    Ok(Json(state.service().get_message(&tenant, &id).await?))
}

/// `DELETE /v2/messages/{id}`: `{"cancelled": 1}` (upstream).
pub(crate) async fn cancel(
    State(state): State<AppState>,
    Tenant(tenant): Tenant,
    Path(id): Path<String>,
) -> ApiResult<Json<BulkCancelResponse>> {
    state
        .service()
        .cancel_message(&tenant, &id, now_ms())
        .await?;
    Ok(Json(BulkCancelResponse::new(1)))
}

/// `DELETE /v2/messages`: cancels the messages named (`messageIds`, query or JSON body), those
/// matching the filters, or all (`count` alone), in one transaction: `{"cancelled": n}`.
pub(crate) async fn cancel_many(
    State(state): State<AppState>,
    Tenant(tenant): Tenant,
    RawQuery(query): RawQuery,
    body: Body,
) -> ApiResult<Json<BulkCancelResponse>> {
    let body = read_body(body, state.limits().max_body).await?;
    let q = MessageCancelQuery::decode(query.as_deref().unwrap_or(""), &body)
        .map_err(|e| ApiError::bad_request(e.to_string()))?;
    let cancelled = state
        .service()
        .cancel_messages(&tenant, &q, now_ms())
        .await?;
    Ok(Json(BulkCancelResponse::new(cancelled)))
}
