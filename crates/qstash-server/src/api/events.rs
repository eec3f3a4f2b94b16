//! `GET /v2/events` and `GET /v2/logs`: a tenant's message log, newest first.

use axum::Json;
use axum::extract::{RawQuery, State};
use qstash_protocol::{EventsQuery, EventsResponse};

use super::{AppState, Tenant};
use crate::error::{ApiError, ApiResult};

pub(crate) async fn list(
    State(state): State<AppState>,
    Tenant(tenant): Tenant,
    RawQuery(query): RawQuery,
) -> ApiResult<Json<EventsResponse>> {
    let q = EventsQuery::from_query(query.as_deref().unwrap_or(""))
        .map_err(|e| ApiError::bad_request(e.to_string()))?;
    Ok(Json(state.service().events(&tenant, &q).await?))
}
