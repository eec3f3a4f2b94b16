//! Publishing (`POST /v2/publish/{destination}`, `POST /v2/batch`) and managing messages
//! (`GET`/`DELETE /v2/messages/{id}`).

use std::time::Duration;

use axum::Json;
use axum::body::{Body, Bytes};
use axum::extract::{Path, Request, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use qstash_protocol::{Message, PublishBatch, PublishRequest, PublishResponse};
use qstash_store::{
    CancelOutcome, CreateRunOutcome, Dedup, EndRun, InsertOutcome, Millis, NewMessage, RunState,
    RunToCreate, StoredMessage,
};
use sha2::{Digest, Sha256};

use super::{AppState, Tenant};
use crate::engine::envelope::{Envelope, header_pairs};
use crate::error::{ApiError, ApiResult};
use crate::ids::{message_id, now_ms};
use crate::workflow::{self, RunConfig, RunHeaders};

/// Reads a request body of at most `limit` bytes; a larger one is a 413 naming the limit.
pub(crate) async fn read_body(body: Body, limit: usize) -> ApiResult<Bytes> {
    axum::body::to_bytes(body, limit).await.map_err(|_| {
        ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!("the request body is larger than the limit of {limit} bytes"),
        )
    })
}

pub(crate) async fn publish(
    State(state): State<AppState>,
    Tenant(tenant): Tenant,
    req: Request,
) -> ApiResult<Response> {
    let limits = *state.limits();
    let (parts, body) = req.into_parts();
    let body = read_body(body, limits.max_body).await?;
    let request = http::Request::from_parts(parts, body);
    let decoded =
        PublishRequest::from_http(&request).map_err(|e| ApiError::bad_request(e.to_string()))?;
    let now = now_ms();
    let (status, answer) = accept(&state, &tenant, &decoded, now, None).await?;
    Ok((status, Json(answer)).into_response())
}

/// A published message checked and ready to store, or the answer it gets without a write.
pub(crate) enum Prepared {
    /// Nothing to store: the answer (an Init message of a run that continues already).
    Answer(StatusCode, PublishResponse),
    /// A message that starts a workflow run (an Init message of a run not yet known).
    Run(RunToCreate),
    /// A message to store (a plain message, or a step or call of a started run).
    Message(NewMessage),
}

/// Checks one published message (limits, destination policy, its run's rules) without
/// storing anything, except when it is a step beyond the run's step cap: the run is then
/// ended and the answer says so.
pub(crate) async fn prepare(
    state: &AppState,
    tenant: &str,
    req: &PublishRequest,
    now: Millis,
    waiter: Option<&str>,
) -> ApiResult<Prepared> {
    let mut message = new_message(state, tenant, req, now)?;
    super::check_destinations(state, &message).await?;
    let store = &state.engine().store;
    let id = message.id.clone();
    let run_headers = RunHeaders::of(req);
    if waiter.is_some() && !run_headers.as_ref().is_some_and(|h| !h.init && h.is_step()) {
        return Err(ApiError::bad_request(
            "a wait must carry Upstash-Workflow-RunId of a started run, as a step \
             (Upstash-Workflow-Init: false)",
        ));
    }
    let Some(h) = run_headers else {
        return Ok(Prepared::Message(message));
    };
    let mut envelope = Envelope::decode(&message.extra);
    match store.get_run(tenant, &h.run_id).await? {
        None if h.init => {
            let url = message.destination.clone();
            workflow::link(&mut message, &mut envelope, &h, &url, now);
            message.extra = envelope.encode();
            let run = workflow::init_run(tenant, &h, &message);
            Ok(Prepared::Run(RunToCreate {
                run,
                steps: Vec::new(),
                first: message,
            }))
        }
        None => Err(ApiError::bad_request(format!(
            "workflow run {} does not exist",
            h.run_id
        ))),
        Some(run) if run.state != RunState::Started => Err(ApiError::bad_request(format!(
            "workflow run {} has ended ({})",
            h.run_id,
            run.state.as_str()
        ))),
        Some(run) => {
            if h.init {
                // An Init message continues a run only as the answer to its trigger
                // delivery, and only once.
                let steps = store.run_steps(tenant, &h.run_id, None).await?;
                if !h.trigger_by_sdk || !steps.is_empty() {
                    let first = steps.first().map_or(id, |s| s.message_id.clone());
                    return Ok(Prepared::Answer(StatusCode::ACCEPTED, deduplicated(first)));
                }
            }
            if h.is_step() && !h.init {
                check_step_body(&message.body)?;
            }
            if h.is_step() {
                check_step_cap(state, tenant, &run.run.run_id, now).await?;
            }
            RunConfig::decode(&run.run.config).apply(
                &mut message,
                &mut envelope,
                &run.run.run_id,
                &run.run.workflow_url,
            );
            workflow::link(
                &mut message,
                &mut envelope,
                &h,
                &run.run.workflow_url,
                run.run.created_at,
            );
            message.extra = envelope.encode();
            Ok(Prepared::Message(message))
        }
    }
}

/// Accepts one published message: a plain message, or a message of a workflow run. With
/// `waiter` (an event id), the message is a run's wait for that event (`POST /v2/wait`): it must
/// be a step of a started run, and it is stored as a waiter.
pub(crate) async fn accept(
    state: &AppState,
    tenant: &str,
    req: &PublishRequest,
    now: Millis,
    waiter: Option<&str>,
) -> ApiResult<(StatusCode, PublishResponse)> {
    let message = match prepare(state, tenant, req, now, waiter).await? {
        Prepared::Answer(status, answer) => return Ok((status, answer)),
        Prepared::Run(run) => {
            let id = run.first.id.clone();
            let outcome = state
                .engine()
                .create_run(run.run, run.steps, run.first, now)
                .await?;
            return Ok(match outcome {
                CreateRunOutcome::Created => (StatusCode::CREATED, PublishResponse::new(id)),
                CreateRunOutcome::Exists(_) => (StatusCode::ACCEPTED, deduplicated(id)),
            });
        }
        Prepared::Message(message) => message,
    };
    let id = message.id.clone();
    let outcome = match waiter {
        Some(event_id) => vec![
            state
                .engine()
                .register_waiter(event_id, message, now)
                .await?,
        ],
        None => state.engine().accept(vec![message], now).await?,
    };
    match outcome.into_iter().next() {
        Some(InsertOutcome::Deduplicated { existing_id }) => {
            Ok((StatusCode::ACCEPTED, deduplicated(existing_id)))
        }
        Some(InsertOutcome::RunNotActive(s)) => Err(ApiError::bad_request(format!(
            "the workflow run has ended ({})",
            s.map_or("not found", RunState::as_str)
        ))),
        _ => Ok((StatusCode::CREATED, PublishResponse::new(id))),
    }
}

/// Accepts a batch that holds messages of workflow runs: every entry is checked first (a bad
/// one refuses the batch with nothing stored), then the runs its Init messages start and all
/// its messages are stored in one transaction. The answer has one entry per message, in
/// order; a step whose run ended between the check and the commit is not stored and its entry
/// says so.
async fn batch_with_runs(
    state: &AppState,
    tenant: &str,
    batch: &PublishBatch,
    now: Millis,
) -> ApiResult<Response> {
    enum Slot {
        Answer(PublishResponse),
        Run(String),
        Message(String),
    }
    let mut slots = Vec::with_capacity(batch.entries().len());
    let mut runs = Vec::new();
    let mut messages = Vec::new();
    for (i, entry) in batch.entries().iter().enumerate() {
        let prepared = prepare(state, tenant, entry, now, None)
            .await
            .map_err(|e| e.prefixed(&format!("entry {i}: ")))?;
        slots.push(match prepared {
            Prepared::Answer(_, answer) => Slot::Answer(answer),
            Prepared::Run(run) => {
                let id = run.first.id.clone();
                runs.push(run);
                Slot::Run(id)
            }
            Prepared::Message(m) => {
                let id = m.id.clone();
                messages.push(m);
                Slot::Message(id)
            }
        });
    }
    let out = state.engine().write_batch(runs, messages, now).await?;
    let mut run_outcomes = out.runs.into_iter();
    let mut message_outcomes = out.messages.into_iter();
    let mut answers = Vec::with_capacity(slots.len());
    for slot in slots {
        let answer = match slot {
            Slot::Answer(a) => serde_json::to_value(a),
            Slot::Run(id) => match run_outcomes.next() {
                Some(CreateRunOutcome::Exists(_)) => serde_json::to_value(deduplicated(id)),
                _ => serde_json::to_value(PublishResponse::new(id)),
            },
            Slot::Message(id) => match message_outcomes.next() {
                Some(InsertOutcome::Deduplicated { existing_id }) => {
                    serde_json::to_value(deduplicated(existing_id))
                }
                Some(InsertOutcome::RunNotActive(s)) => Ok(serde_json::json!({
                    "error": format!(
                        "the workflow run has ended ({}); this message was not stored",
                        s.map_or("not found", RunState::as_str)
                    )
                })),
                _ => serde_json::to_value(PublishResponse::new(id)),
            },
        };
        answers.push(answer.unwrap_or_default());
    }
    Ok((StatusCode::CREATED, Json(answers)).into_response())
}

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
    if batch.entries().len() > limits.max_batch {
        return Err(ApiError::bad_request(format!(
            "a batch holds at most {} messages, this one has {}",
            limits.max_batch,
            batch.entries().len()
        )));
    }
    let now = now_ms();
    if batch.entries().iter().any(|e| RunHeaders::of(e).is_some()) {
        // Messages of workflow runs each follow their run's rules.
        return batch_with_runs(&state, &tenant, &batch, now).await;
    }
    let mut messages = Vec::with_capacity(batch.entries().len());
    for (i, entry) in batch.entries().iter().enumerate() {
        let m = new_message(&state, &tenant, entry, now)
            .map_err(|e| e.prefixed(&format!("entry {i}: ")))?;
        if m.body.len() > limits.max_body {
            return Err(ApiError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                format!(
                    "entry {i}: the body is larger than the limit of {} bytes",
                    limits.max_body
                ),
            ));
        }
        super::check_destinations(&state, &m)
            .await
            .map_err(|e| e.prefixed(&format!("entry {i}: ")))?;
        messages.push(m);
    }
    let ids: Vec<String> = messages.iter().map(|m| m.id.clone()).collect();
    let outcomes = state.engine().accept(messages, now).await?;
    let answers: Vec<PublishResponse> = outcomes
        .into_iter()
        .zip(ids)
        .map(|(o, id)| match o {
            InsertOutcome::Deduplicated { existing_id } => deduplicated(existing_id),
            InsertOutcome::Inserted | InsertOutcome::RunNotActive(_) => PublishResponse::new(id),
        })
        .collect();
    Ok((StatusCode::CREATED, Json(answers)).into_response())
}

/// A step message's body must be a step: a JSON object with a numeric `stepId` (the SDK reads
/// every step of the run on each delivery, so one malformed step would break all of them).
fn check_step_body(body: &[u8]) -> ApiResult<()> {
    let ok = serde_json::from_slice::<serde_json::Value>(body)
        .ok()
        .is_some_and(|v| v.get("stepId").is_some_and(serde_json::Value::is_u64));
    if ok {
        Ok(())
    } else {
        Err(ApiError::bad_request(
            "a workflow step message's body must be a JSON object with a numeric stepId",
        ))
    }
}

/// Fails a run that has as many steps as [`Limits::max_run_steps`](crate::Limits) allows (a
/// workflow that never ends): the step message is refused with 400, which the SDK reads as
/// "the run has ended", and the run ends `RUN_FAILED` with the reason.
async fn check_step_cap(
    state: &AppState,
    tenant: &str,
    run_id: &str,
    now: Millis,
) -> ApiResult<()> {
    let cap = state.limits().max_run_steps;
    let store = &state.engine().store;
    // Step 0 is the initial payload; the cap counts the steps after it.
    let steps = store.run_steps(tenant, run_id, None).await?.len();
    if steps.saturating_sub(1) < cap {
        return Ok(());
    }
    let reason = format!("the run reached the limit of {cap} steps per run");
    store
        .end_run(
            tenant,
            run_id,
            EndRun {
                state: RunState::Failed,
                response: None,
                reason: Some(reason.clone()),
            },
            now,
        )
        .await?;
    Err(ApiError::bad_request(format!(
        "workflow run {run_id} failed: {reason}; the run was ended (RUN_FAILED) and this step \
         was not stored"
    )))
}

fn deduplicated(existing_id: String) -> PublishResponse {
    let mut r = PublishResponse::new(existing_id);
    r.deduplicated = true;
    r
}

/// What every message needs, whatever endpoint made it.
pub(crate) struct Basics<'a> {
    pub destination: &'a str,
    pub method: &'a str,
    pub body: &'a [u8],
    pub retries: Option<u32>,
    pub delay: Option<qstash_delay::Delay>,
    pub not_before: Option<u64>,
    pub timeout: Option<qstash_delay::Delay>,
}

/// A message from its basics, after the server's limits; its envelope says only the timeout
/// and not-before time so far.
pub(crate) fn base_message(
    state: &AppState,
    tenant: &str,
    b: &Basics<'_>,
    now: Millis,
) -> ApiResult<(NewMessage, Envelope)> {
    let limits = state.limits();
    let delivery = state.engine().config();
    let retries = b.retries.unwrap_or(3);
    if retries > limits.max_retries {
        return Err(ApiError::bad_request(format!(
            "Upstash-Retries: {retries} is more than the maximum of {}",
            limits.max_retries
        )));
    }
    if b.body.len() > limits.max_body {
        return Err(ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!(
                "the body is larger than the limit of {} bytes",
                limits.max_body
            ),
        ));
    }
    let max_delay_ms = limits.max_delay.as_millis() as u64;
    let due_at = if let Some(secs) = b.not_before {
        let at = secs.saturating_mul(1000);
        if at > now.saturating_add(max_delay_ms) {
            return Err(ApiError::bad_request(format!(
                "Upstash-Not-Before: {secs} is further ahead than the maximum delay of {}",
                human(limits.max_delay)
            )));
        }
        at
    } else if let Some(delay) = b.delay {
        let d: Duration = delay.into();
        if d > limits.max_delay {
            return Err(ApiError::bad_request(format!(
                "Upstash-Delay: {delay} is longer than the maximum of {}",
                human(limits.max_delay)
            )));
        }
        now.saturating_add(d.as_millis() as u64)
    } else {
        now
    };
    let timeout: Option<Duration> = b.timeout.map(Into::into);
    let lease = timeout.unwrap_or(delivery.timeout) + delivery.lease_grace;
    let envelope = Envelope {
        timeout_ms: timeout.map(|t| t.as_millis() as u64),
        not_before: b.not_before.map(|s| s.saturating_mul(1000)).unwrap_or(0),
        ..Envelope::default()
    };
    let message = NewMessage {
        id: message_id(),
        tenant: tenant.to_owned(),
        destination: b.destination.to_owned(),
        method: b.method.to_owned(),
        headers: Vec::new(),
        body: b.body.to_vec(),
        created_at: now,
        due_at,
        max_retries: retries,
        lease_ms: lease.as_millis() as u64,
        labels: Vec::new(),
        dedup: None,
        flow_key: None,
        flow_limits: None,
        extra: Vec::new(),
        run: None,
    };
    Ok((message, envelope))
}

/// The message to store for a decoded publish request, after the server's limits.
pub(crate) fn new_message(
    state: &AppState,
    tenant: &str,
    req: &PublishRequest,
    now: Millis,
) -> ApiResult<NewMessage> {
    let basics = Basics {
        destination: req.destination().as_str(),
        method: req.method().as_str(),
        body: req.body(),
        retries: req.retries(),
        delay: req.delay(),
        not_before: req.not_before(),
        timeout: req.timeout(),
    };
    let (mut message, mut envelope) = base_message(state, tenant, &basics, now)?;
    envelope.forward = header_pairs(req.forwarded().iter());
    envelope.content_type = req
        .content_type()
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    envelope.retry_delay = req.retry_delay().map(|r| r.as_str().to_owned());
    if let Some(c) = req.callback() {
        envelope.callback = Some(c.url().as_str().to_owned());
        envelope.callback_forward = header_pairs(c.forwarded().iter());
    }
    if let Some(c) = req.failure_callback() {
        envelope.failure_callback = Some(c.url().as_str().to_owned());
        envelope.failure_callback_forward = header_pairs(c.forwarded().iter());
    }
    message.headers = req
        .headers()
        .iter()
        .map(|(n, v)| {
            (
                qstash_protocol::header::canonical(n)
                    .map(str::to_owned)
                    .unwrap_or_else(|| n.as_str().to_owned()),
                String::from_utf8_lossy(v.as_bytes()).into_owned(),
            )
        })
        .collect();
    let dedup_until = now.saturating_add(state.limits().dedup_window.as_millis() as u64);
    // Workflow headers meant for the callbacks (`Upstash-Callback-Workflow-RunId`, …).
    if envelope.callback.is_some() {
        workflow::add_callback_workflow_headers(
            &message.headers,
            "upstash-callback-",
            &mut envelope.callback_forward,
        );
    }
    if envelope.failure_callback.is_some() {
        workflow::add_callback_workflow_headers(
            &message.headers,
            "upstash-failure-callback-",
            &mut envelope.failure_callback_forward,
        );
    }
    message.dedup = match (
        req.deduplication_id(),
        req.content_based_deduplication().unwrap_or(false),
    ) {
        (Some(id), _) => Some(Dedup {
            id: id.as_str().to_owned(),
            until: dedup_until,
        }),
        (None, true) => Some(Dedup {
            id: content_hash(req.destination().as_str(), req.body(), &message.headers),
            until: dedup_until,
        }),
        (None, false) => None,
    };
    message.labels = req.labels().iter().map(|l| l.as_str().to_owned()).collect();
    if let Some((key, value)) = req.flow_control() {
        message.flow_key = Some(key.as_str().to_owned());
        message.flow_limits = Some(workflow::flow_limits(value));
    }
    message.extra = envelope.encode();
    Ok(message)
}

/// The content-based deduplication id: a hash of the destination, the body and the headers.
fn content_hash(destination: &str, body: &[u8], headers: &[(String, String)]) -> String {
    let mut h = Sha256::new();
    let mut field = |b: &[u8]| {
        h.update((b.len() as u64).to_be_bytes());
        h.update(b);
    };
    field(destination.as_bytes());
    field(body);
    let mut sorted: Vec<&(String, String)> = headers.iter().collect();
    sorted.sort();
    for (n, v) in sorted {
        field(n.to_ascii_lowercase().as_bytes());
        field(v.as_bytes());
    }
    let digest = h.finalize();
    let mut out = String::with_capacity(68);
    out.push_str("cbd_");
    for b in digest.iter() {
        out.push_str(&format!("{b:02x}"));
    }
    out
}

fn human(d: Duration) -> String {
    qstash_delay::Delay::try_from(d)
        .map(|d| d.to_string())
        .unwrap_or_else(|_| format!("{}s", d.as_secs()))
}

pub(crate) async fn get_message(
    State(state): State<AppState>,
    Tenant(tenant): Tenant,
    Path(id): Path<String>,
) -> ApiResult<Json<Message>> {
    let stored = state
        .engine()
        .store
        .get_message(&tenant, &id)
        .await?
        .ok_or_else(|| ApiError::not_found("message"))?;
    Ok(Json(message_view(&stored)))
}

/// A stored message as the API shows it.
pub(crate) fn message_view(stored: &StoredMessage) -> Message {
    let m = &stored.message;
    let envelope = Envelope::decode(&m.extra);
    let mut out = Message::new(m.id.clone(), m.destination.clone(), m.created_at);
    out.method = Some(m.method.clone());
    out.header = super::header_lists(&m.headers);
    out.set_body(&m.body);
    out.max_retries = Some(m.max_retries);
    out.retry_delay_expression = envelope.retry_delay;
    out.not_before = (envelope.not_before > 0).then_some(envelope.not_before);
    out.callback = envelope.callback;
    out.failure_callback = envelope.failure_callback;
    out.flow_control_key = m.flow_key.clone();
    out.set_labels(m.labels.iter().cloned());
    out
}

pub(crate) async fn cancel(
    State(state): State<AppState>,
    Tenant(tenant): Tenant,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    match state
        .engine()
        .store
        .cancel_message(&tenant, &id, now_ms())
        .await?
    {
        CancelOutcome::Cancelled => Ok(StatusCode::OK.into_response()),
        CancelOutcome::AlreadyFinal(s) => Err(ApiError::bad_request(format!(
            "message {id} cannot be cancelled: it is {}",
            s.as_str().to_ascii_lowercase()
        ))),
        CancelOutcome::NotFound => Err(ApiError::not_found("message")),
    }
}
