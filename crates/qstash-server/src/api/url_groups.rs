//! URL groups (`/v2/topics`): add and remove endpoints (`POST`/`DELETE
//! /v2/topics/{name}/endpoints`), list, get and delete groups, and a publish to a group
//! (`POST /v2/publish/{name}`, answered with one `{"messageId", "url"}` per endpoint).

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use qstash_protocol::{EndpointsRequest, UrlGroup};

use super::{AppState, Tenant};
use crate::error::{ApiError, ApiResult};
use crate::ids::now_ms;

fn endpoints_of(body: &[u8]) -> ApiResult<EndpointsRequest> {
    serde_json::from_slice(body).map_err(|e| {
        ApiError::bad_request(format!(
            "the body must be {{\"endpoints\": [{{\"name\"?, \"url\"}}]}}: {e}"
        ))
    })
}

/// `POST /v2/topics/{name}/endpoints`.
pub(crate) async fn add(
    State(state): State<AppState>,
    Tenant(tenant): Tenant,
    Path(name): Path<String>,
    body: Bytes,
) -> ApiResult<Response> {
    let req = endpoints_of(&body)?;
    state
        .service()
        .add_endpoints(&tenant, &name, &req, now_ms())
        .await?;
    Ok(StatusCode::OK.into_response())
}

/// `DELETE /v2/topics/{name}/endpoints`.
pub(crate) async fn remove(
    State(state): State<AppState>,
    Tenant(tenant): Tenant,
    Path(name): Path<String>,
    body: Bytes,
) -> ApiResult<Response> {
    let req = endpoints_of(&body)?;
    state
        .service()
        .remove_endpoints(&tenant, &name, &req, now_ms())
        .await?;
    Ok(StatusCode::OK.into_response())
}

/// `GET /v2/topics`.
pub(crate) async fn list(
    State(state): State<AppState>,
    Tenant(tenant): Tenant,
) -> ApiResult<Json<Vec<UrlGroup>>> {
    Ok(Json(state.service().list_url_groups(&tenant).await?))
}

/// `GET /v2/topics/{name}`.
pub(crate) async fn get_one(
    State(state): State<AppState>,
    Tenant(tenant): Tenant,
    Path(name): Path<String>,
) -> ApiResult<Json<UrlGroup>> {
    Ok(Json(state.service().get_url_group(&tenant, &name).await?))
}

/// `DELETE /v2/topics/{name}`.
pub(crate) async fn delete(
    State(state): State<AppState>,
    Tenant(tenant): Tenant,
    Path(name): Path<String>,
) -> ApiResult<Response> {
    state.service().delete_url_group(&tenant, &name).await?;
    Ok(StatusCode::OK.into_response())
}

/// `POST /v2/publish/{name}` for a group name: 201 with one answer per endpoint.
pub(crate) async fn publish(
    state: &AppState,
    tenant: &str,
    name: &str,
    headers: &HeaderMap,
    body: Bytes,
) -> ApiResult<Response> {
    let answers = state
        .service()
        .publish_to_group(tenant, name, headers, body, now_ms())
        .await?;
    Ok((StatusCode::CREATED, Json(answers)).into_response())
}
