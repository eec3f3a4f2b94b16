//! Who may read `GET /metrics` (SERVER.md §11.2): on the API listener as the configured
//! [`MetricsAccess`] says, and on a separate metrics listener to anyone.

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use subtle::ConstantTimeEq;

use super::{AppState, metrics};
use crate::config::MetricsAccess;
use crate::error::ApiError;

/// Whether a request with these headers may read the server-wide numbers: `/metrics` on the
/// API listener, and what the console shows only to the operator (the count of tenants).
/// `None` when nobody may (`MetricsAccess::Closed`).
pub(crate) fn is_operator(state: &AppState, headers: &HeaderMap) -> Option<bool> {
    match &state.inner.metrics {
        MetricsAccess::Open => Some(true),
        MetricsAccess::Closed => None,
        MetricsAccess::Bearer(token) => {
            let given = headers
                .get(axum::http::header::AUTHORIZATION)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.strip_prefix("Bearer "))
                .map(str::trim);
            Some(given.is_some_and(|g| {
                use sha2::{Digest, Sha256};
                let digest: [u8; 32] = Sha256::digest(g.as_bytes()).into();
                bool::from(digest.ct_eq(&token.digest()))
            }))
        }
    }
}

/// `GET /metrics` on the API listener.
pub(super) async fn on_api(State(state): State<AppState>, headers: HeaderMap) -> Response {
    match is_operator(&state, &headers) {
        Some(true) => {}
        None => return ApiError::new(StatusCode::NOT_FOUND, "no such endpoint").into_response(),
        Some(false) => {
            return ApiError::unauthorized(
                "/metrics needs Authorization: Bearer <the metrics token>",
            )
            .into_response();
        }
    }
    metrics(State(state)).await.into_response()
}

/// The routes of the separate metrics listener: `GET /metrics`, open to anyone who can reach
/// its address.
pub(crate) fn metrics_router(state: AppState) -> Router {
    Router::new()
        .route("/metrics", get(metrics))
        .fallback(|| async { ApiError::new(StatusCode::NOT_FOUND, "no such endpoint") })
        .with_state(state)
}
