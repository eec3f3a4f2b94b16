//! `GET /v2/keys` and `POST /v2/keys/rotate`: the caller's signing keys (SERVER.md §11.1).

use axum::Json;
use axum::extract::State;
use qstash_protocol::SigningKeysResponse;

use super::{AppState, Tenant};
use crate::error::ApiResult;

pub(crate) async fn get(
    State(state): State<AppState>,
    Tenant(tenant): Tenant,
) -> ApiResult<Json<SigningKeysResponse>> {
    let keys = state.service().signing_keys(&tenant).await?;
    Ok(Json(SigningKeysResponse::new(keys.current, keys.next)))
}

pub(crate) async fn rotate(
    State(state): State<AppState>,
    Tenant(tenant): Tenant,
) -> ApiResult<Json<SigningKeysResponse>> {
    let keys = state.service().rotate_signing_keys(&tenant).await?;
    Ok(Json(SigningKeysResponse::new(keys.current, keys.next)))
}
