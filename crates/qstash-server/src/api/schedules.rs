//! Schedules (`/v2/schedules`): create or replace (`POST /v2/schedules/{destination}`), list,
//! get, delete, and `PATCH /v2/schedules/{id}/pause` and `/resume`.
//!
//! One route takes everything under `/v2/schedules/`, since a destination is a URL with slashes
//! and an id is one segment; the method and the last segment tell them apart.

use axum::Json;
use axum::extract::{Path, Request, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use qstash_protocol::{Schedule, ScheduleCreated};

use super::messages::read_body;
use super::{AppState, Tenant};
use crate::error::{ApiError, ApiResult};
use crate::ids::now_ms;

/// `POST /v2/schedules/{destination}`: 201 with `{"scheduleId"}`.
pub(crate) async fn create(
    State(state): State<AppState>,
    Tenant(tenant): Tenant,
    req: Request,
) -> ApiResult<Response> {
    let (parts, body) = req.into_parts();
    let body = read_body(body, state.limits().max_body).await?;
    // The destination as received (as a publish reads it), query included.
    let path = parts.uri.path();
    let destination = path.strip_prefix("/v2/schedules/").unwrap_or(path);
    let destination = match parts.uri.query() {
        Some(q) => format!("{destination}?{q}"),
        None => destination.to_owned(),
    };
    let schedule_id = state
        .service()
        .create_schedule(&tenant, &destination, &parts.headers, body, now_ms())
        .await?;
    Ok((StatusCode::CREATED, Json(ScheduleCreated { schedule_id })).into_response())
}

/// `GET /v2/schedules`.
pub(crate) async fn list(
    State(state): State<AppState>,
    Tenant(tenant): Tenant,
) -> ApiResult<Json<Vec<Schedule>>> {
    Ok(Json(state.service().list_schedules(&tenant).await?))
}

/// `GET /v2/schedules/{id}`.
pub(crate) async fn get_one(
    State(state): State<AppState>,
    Tenant(tenant): Tenant,
    Path(id): Path<String>,
) -> ApiResult<Json<Schedule>> {
    let id = one_segment(&id)?;
    Ok(Json(state.service().get_schedule(&tenant, id).await?))
}

/// `DELETE /v2/schedules/{id}`.
pub(crate) async fn delete(
    State(state): State<AppState>,
    Tenant(tenant): Tenant,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    let id = one_segment(&id)?;
    state.service().delete_schedule(&tenant, id).await?;
    Ok(StatusCode::OK.into_response())
}

/// `PATCH /v2/schedules/{id}/pause` and `PATCH /v2/schedules/{id}/resume`.
pub(crate) async fn pause_or_resume(
    State(state): State<AppState>,
    Tenant(tenant): Tenant,
    Path(rest): Path<String>,
) -> ApiResult<Response> {
    let service = state.service();
    match rest.rsplit_once('/') {
        Some((id, "pause")) => service.pause_schedule(&tenant, one_segment(id)?).await?,
        Some((id, "resume")) => {
            service
                .resume_schedule(&tenant, one_segment(id)?, now_ms())
                .await?
        }
        _ => {
            return Err(ApiError::new(
                StatusCode::NOT_FOUND,
                "no such endpoint (PATCH /v2/schedules/{id}/pause or /resume)",
            ));
        }
    }
    Ok(StatusCode::OK.into_response())
}

/// A schedule id: one path segment.
fn one_segment(id: &str) -> ApiResult<&str> {
    let id = id.trim_start_matches('/');
    if id.is_empty() || id.contains('/') {
        return Err(ApiError::new(
            StatusCode::NOT_FOUND,
            format!("schedule {id} not found"),
        ));
    }
    Ok(id)
}
