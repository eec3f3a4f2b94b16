//! The HTTP API (axum): routes, authentication, and the handlers.

mod dlq;
mod events;
mod flow_control;
mod keys;
mod messages;
pub(crate) mod metrics_access;
mod schedules;
mod url_groups;
mod wait;
mod workflows;

pub(crate) use metrics_access::metrics_router;

use std::sync::Arc;

use axum::Router;
use axum::extract::{FromRequestParts, State};
use axum::http::StatusCode;
use axum::http::request::Parts;
use axum::response::IntoResponse;
use axum::routing::{get, post};

use crate::config::Limits;
use crate::error::ApiError;
use crate::service::Service;
use crate::service::reads::Health;

/// What every handler shares.
#[derive(Clone)]
pub(crate) struct AppState {
    inner: Arc<Inner>,
}

struct Inner {
    service: Service,
    /// The tenants: each token's SHA-256 digest and its tenant id.
    tenants: Vec<([u8; 32], String)>,
    /// Who may read `/metrics` on the API listener.
    metrics: crate::config::MetricsAccess,
}

impl AppState {
    pub(crate) fn new(
        service: Service,
        tenants: Vec<([u8; 32], String)>,
        metrics: crate::config::MetricsAccess,
    ) -> AppState {
        AppState {
            inner: Arc::new(Inner {
                service,
                tenants,
                metrics,
            }),
        }
    }

    /// The operations the handlers call.
    pub(crate) fn service(&self) -> &Service {
        &self.inner.service
    }

    pub(crate) fn limits(&self) -> &Limits {
        self.inner.service.limits()
    }

    /// How many tenants (tokens) the server serves; for the operator only.
    pub(crate) fn tenant_count(&self) -> usize {
        self.inner.tenants.len()
    }
}

/// The tenant of the request's bearer token; a missing or unknown token is a 401.
pub(crate) struct Tenant(pub String);

impl FromRequestParts<AppState> for Tenant {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Tenant, ApiError> {
        let header = parts
            .headers
            .get(axum::http::header::AUTHORIZATION)
            .ok_or_else(|| ApiError::unauthorized("missing Authorization: Bearer <token>"))?;
        let token = header
            .to_str()
            .ok()
            .and_then(|v| v.strip_prefix("Bearer "))
            .map(str::trim)
            .ok_or_else(|| {
                ApiError::unauthorized("the Authorization header must be Bearer <token>")
            })?;
        tenant_of(&state.inner.tenants, token)
            .map(Tenant)
            .ok_or_else(|| ApiError::unauthorized("unknown token"))
    }
}

/// The tenant of `token`, comparing its digest with every tenant's in constant time (the time
/// taken says nothing about how much of a token matched, nor which tenant it is).
fn tenant_of(tenants: &[([u8; 32], String)], token: &str) -> Option<String> {
    use sha2::{Digest, Sha256};
    use subtle::ConstantTimeEq;
    let digest: [u8; 32] = Sha256::digest(token.as_bytes()).into();
    let mut found = None;
    for (d, tenant) in tenants {
        if bool::from(d.ct_eq(&digest)) {
            found = Some(tenant);
        }
    }
    found.cloned()
}

/// The API's routes.
pub(crate) fn router(state: AppState) -> Router {
    Router::new()
        .route("/health", get(health))
        .route("/metrics", get(metrics_access::on_api))
        .route("/v2/publish/{*destination}", post(messages::publish))
        .route("/v2/batch", post(messages::batch))
        .route("/v2/messages", axum::routing::delete(messages::cancel_many))
        .route(
            "/v2/messages/{id}",
            get(messages::get_message).delete(messages::cancel),
        )
        .route("/v2/events", get(events::list))
        .route("/v2/logs", get(events::list))
        .route("/v2/dlq", get(dlq::list).delete(dlq::delete_many))
        .route("/v2/dlq/{id}", get(dlq::get_one).delete(dlq::delete_one))
        .route("/v2/dlq/retry", post(dlq::retry_many))
        .route("/v2/dlq/retry/{id}", post(dlq::retry))
        .route("/v2/trigger/{*url}", post(workflows::trigger))
        .route("/v2/batch/trigger", post(workflows::batch_trigger))
        .route(
            "/v2/workflows/runs",
            axum::routing::delete(workflows::bulk_cancel),
        )
        .route(
            "/v2/workflows/runs/{id}",
            get(workflows::get_run).delete(workflows::end_run),
        )
        .route("/v2/workflows/logs", get(workflows::logs))
        .route("/v2/workflows/events", get(workflows::logs))
        .route(
            "/v2/workflows/dlq",
            get(dlq::list_workflow).delete(dlq::delete_many_workflow),
        )
        .route(
            "/v2/workflows/dlq/restart",
            post(workflows::dlq_restart_many),
        )
        .route("/v2/workflows/dlq/resume", post(workflows::dlq_resume_many))
        .route(
            "/v2/workflows/dlq/{id}",
            get(dlq::get_one).delete(dlq::delete_one),
        )
        .route(
            "/v2/workflows/dlq/restart/{id}",
            post(workflows::dlq_restart),
        )
        .route("/v2/flowControl", get(flow_control::list))
        .route("/v2/flowControl/", get(flow_control::list))
        .route("/v2/flowControl/{key}", get(flow_control::get_one))
        .route("/v2/workflows/dlq/resume/{id}", post(workflows::dlq_resume))
        .route("/v2/wait/{event_id}", post(wait::wait))
        .route("/v2/notify/{event_id}", post(wait::notify))
        .route("/v2/notify/{run_id}/{event_id}", post(wait::notify_run))
        .route("/v2/waiters/{event_id}", get(wait::waiters))
        .route("/v2/schedules", get(schedules::list))
        .route(
            "/v2/schedules/{*rest}",
            post(schedules::create)
                .get(schedules::get_one)
                .delete(schedules::delete)
                .patch(schedules::pause_or_resume),
        )
        .route("/v2/topics", get(url_groups::list))
        .route(
            "/v2/topics/{name}",
            get(url_groups::get_one).delete(url_groups::delete),
        )
        .route(
            "/v2/topics/{name}/endpoints",
            post(url_groups::add).delete(url_groups::remove),
        )
        .route("/v2/keys", get(keys::get))
        .route("/v2/keys/rotate", post(keys::rotate))
        .fallback(not_found)
        .with_state(state)
}

async fn health(State(state): State<AppState>) -> impl IntoResponse {
    match state.service().health().await {
        Health::EngineStopped(reason) => (
            StatusCode::SERVICE_UNAVAILABLE,
            axum::Json(serde_json::json!({
                "status": "engine stopped",
                "error": format!("the engine's scheduler is not running: {reason}"),
            })),
        ),
        Health::Ok => (
            StatusCode::OK,
            axum::Json(serde_json::json!({"status": "ok"})),
        ),
        Health::StoreUnavailable => (
            StatusCode::SERVICE_UNAVAILABLE,
            axum::Json(serde_json::json!({"status": "store unavailable"})),
        ),
    }
}

/// `GET /metrics`: the Prometheus text exposition (who may read it: see [`metrics_access`]).
/// Tenants appear in its labels only as their ids, hashes of their tokens.
async fn metrics(State(state): State<AppState>) -> impl IntoResponse {
    let mut tenants: Vec<&String> = state.inner.tenants.iter().map(|(_, t)| t).collect();
    tenants.sort();
    tenants.dedup();
    let body = state
        .service()
        .metrics_text(&tenants, crate::ids::now_ms())
        .await;
    (
        [(
            axum::http::header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        body,
    )
}

async fn not_found() -> ApiError {
    ApiError::new(StatusCode::NOT_FOUND, "no such endpoint")
}
