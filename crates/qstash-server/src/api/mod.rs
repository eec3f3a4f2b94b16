//! The HTTP API (axum): routes, authentication, and the handlers.

mod dlq;
mod events;
mod flow_control;
mod keys;
mod messages;
mod metrics_access;
mod wait;
mod workflows;

pub(crate) use crate::engine::outcome::header_lists;
pub(crate) use metrics_access::metrics_router;

use std::sync::Arc;

use axum::Router;
use axum::extract::{FromRequestParts, State};
use axum::http::StatusCode;
use axum::http::request::Parts;
use axum::response::IntoResponse;
use axum::routing::{get, post};

use crate::config::Limits;
use crate::engine::Engine;
use crate::error::ApiError;

/// What every handler shares.
#[derive(Clone)]
pub(crate) struct AppState {
    inner: Arc<Inner>,
}

struct Inner {
    engine: Arc<Engine>,
    /// The tenants: each token's SHA-256 digest and its tenant id.
    tenants: Vec<([u8; 32], String)>,
    limits: Limits,
    /// Who may read `/metrics` on the API listener.
    metrics: crate::config::MetricsAccess,
}

impl AppState {
    pub(crate) fn new(
        engine: Arc<Engine>,
        tenants: Vec<([u8; 32], String)>,
        limits: Limits,
        metrics: crate::config::MetricsAccess,
    ) -> AppState {
        AppState {
            inner: Arc::new(Inner {
                engine,
                tenants,
                limits,
                metrics,
            }),
        }
    }

    pub(crate) fn engine(&self) -> &Engine {
        &self.inner.engine
    }

    pub(crate) fn limits(&self) -> &Limits {
        &self.inner.limits
    }
}

/// Checks every URL a message will call (its destination, callback and failure callback)
/// against the destination policy: a refused one is a 400 naming the range and the flag that
/// opens it. Nothing is written before this passes.
pub(crate) async fn check_destinations(
    state: &AppState,
    message: &qstash_store::NewMessage,
) -> Result<(), ApiError> {
    let guard = &state.engine().guard;
    if guard.is_open() {
        return Ok(());
    }
    let envelope = crate::engine::envelope::Envelope::decode(&message.extra);
    let urls = [
        ("the destination", Some(message.destination.as_str())),
        ("Upstash-Callback", envelope.callback.as_deref()),
        (
            "Upstash-Failure-Callback",
            envelope.failure_callback.as_deref(),
        ),
    ];
    for (what, url) in urls {
        if let Some(url) = url {
            guard
                .check_url(url)
                .await
                .map_err(|e| ApiError::bad_request(format!("{what}: {e}")))?;
        }
    }
    Ok(())
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
        .route(
            "/v2/messages/{id}",
            get(messages::get_message).delete(messages::cancel),
        )
        .route("/v2/events", get(events::list))
        .route("/v2/logs", get(events::list))
        .route("/v2/dlq", get(dlq::list).delete(dlq::delete_many))
        .route("/v2/dlq/{id}", get(dlq::get_one).delete(dlq::delete_one))
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
            get(dlq::list_workflow).delete(dlq::delete_many),
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
        .route("/v2/keys", get(keys::get))
        .route("/v2/keys/rotate", post(keys::rotate))
        .fallback(not_found)
        .with_state(state)
}

async fn health(State(state): State<AppState>) -> impl IntoResponse {
    if let Some(reason) = state.engine().stopped_reason() {
        return (
            StatusCode::SERVICE_UNAVAILABLE,
            axum::Json(serde_json::json!({
                "status": "engine stopped",
                "error": format!("the engine's scheduler is not running: {reason}"),
            })),
        );
    }
    match state.engine().store.ping().await {
        Ok(()) => (
            StatusCode::OK,
            axum::Json(serde_json::json!({"status": "ok"})),
        ),
        Err(_) => (
            StatusCode::SERVICE_UNAVAILABLE,
            axum::Json(serde_json::json!({"status": "store unavailable"})),
        ),
    }
}

/// `GET /metrics`: the Prometheus text exposition (who may read it: see [`metrics_access`]).
/// Tenants appear in its labels only as their ids, hashes of their tokens.
async fn metrics(State(state): State<AppState>) -> impl IntoResponse {
    let engine = state.engine();
    let now = crate::ids::now_ms();
    let due = match engine.store.due_count(now).await {
        Ok(n) => Some(n),
        Err(e) => {
            tracing::warn!(error = %e, "reading the due backlog for /metrics failed");
            None
        }
    };
    let mut tenants: Vec<&String> = state.inner.tenants.iter().map(|(_, t)| t).collect();
    tenants.sort();
    tenants.dedup();
    let mut flow = Vec::new();
    let mut flow_ok = true;
    for tenant in tenants {
        match engine.store.list_flow_control(tenant, now).await {
            Ok(keys) => flow.extend(keys.into_iter().map(|k| (tenant.clone(), k))),
            Err(e) => {
                tracing::warn!(error = %e, "reading flow-control keys for /metrics failed");
                flow_ok = false;
                break;
            }
        }
    }
    let body = engine
        .metrics
        .render(engine.in_flight(), due, flow_ok.then_some(flow.as_slice()));
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

/// The default and the largest page of a list.
const DEFAULT_PAGE: usize = 100;
const MAX_PAGE: usize = 1000;

fn page_size(count: Option<u32>) -> usize {
    count.map_or(DEFAULT_PAGE, |c| (c as usize).clamp(1, MAX_PAGE))
}

/// A list cursor: the position of the last item of the previous page.
fn parse_cursor(cursor: Option<&str>) -> Result<Option<u64>, ApiError> {
    cursor
        .map(|c| {
            c.parse::<u64>().map_err(|_| {
                ApiError::bad_request(format!("cursor: {c:?} is not a cursor this server gave"))
            })
        })
        .transpose()
}
