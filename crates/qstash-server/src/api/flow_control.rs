//! `GET /v2/flowControl` and `GET /v2/flowControl/{key}`: the live counters of the tenant's
//! flow-control keys (`SERVER.md` §8).

use axum::Json;
use axum::extract::{Path, Query, State};
use qstash_protocol::FlowControlInfo;
use serde::Deserialize;

use super::{AppState, Tenant};
use crate::error::{ApiError, ApiResult};
use crate::ids::now_ms;

/// The wire form of the store's counters: limits that are not set are 0, the period and the
/// window's start are in seconds (upstream).
fn to_wire(info: qstash_store::FlowControlInfo) -> FlowControlInfo {
    let mut out = FlowControlInfo::new(info.key);
    out.wait_list_size = info.wait_list_size;
    out.parallelism_max = info.parallelism_max.map_or(0, u64::from);
    out.parallelism_count = info.parallelism_count;
    out.rate_max = info.rate_max.map_or(0, u64::from);
    out.rate_count = info.rate_count;
    // A period under a second shows as 1 s rather than as no period at all.
    out.rate_period = info.rate_period_ms.div_ceil(1000);
    out.rate_period_start = info.rate_period_start.map_or(0, |ms| ms / 1000);
    out
}

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
    let keys = state
        .engine()
        .store
        .list_flow_control(&tenant, now_ms())
        .await?;
    let search = query.search.as_deref().unwrap_or("");
    Ok(Json(
        keys.into_iter()
            .filter(|k| k.key.contains(search))
            .map(to_wire)
            .collect(),
    ))
}

pub(crate) async fn get_one(
    State(state): State<AppState>,
    Tenant(tenant): Tenant,
    Path(key): Path<String>,
) -> ApiResult<Json<FlowControlInfo>> {
    match state
        .engine()
        .store
        .flow_control(&tenant, &key, now_ms())
        .await?
    {
        Some(info) => Ok(Json(to_wire(info))),
        None => Err(ApiError::not_found("flow-control key")),
    }
}
