//! `GET /v2/flowControl` and `GET /v2/flowControl/{key}`: the live counters of the tenant's
//! flow-control keys (`SERVER.md` §8).

use axum::Json;
use axum::extract::{Path, Query, State};
use qstash_protocol::FlowControlInfo;
use serde::Deserialize;

use super::{AppState, Tenant};
use crate::error::ApiResult;
use crate::ids::now_ms;

/// The filter of the list (upstream `search`): keys that contain it.
#[derive(Debug, Deserialize)]
pub(crate) struct ListQuery {
    search: Option<String>,
}

pub(crate) async fn list(
    State(state): State<AppState>,
    Tenant(tenant): Tenant,
    Query(query): Query<ListQuery>,
) -> ApiResult<Json<Vec<FlowControlInfo>>> {
    let search = query.search.as_deref().unwrap_or("");
    Ok(Json(
        state
            .service()
            .flow_control_keys(&tenant, search, now_ms())
            .await?,
    ))
}

pub(crate) async fn get_one(
    State(state): State<AppState>,
    Tenant(tenant): Tenant,
    Path(key): Path<String>,
) -> ApiResult<Json<FlowControlInfo>> {
    Ok(Json(
        state
            .service()
            .flow_control_key(&tenant, &key, now_ms())
            .await?,
    ))
}
