//! Accepting messages: one published message (`POST /v2/publish`, and the message a wait
//! stores), a batch (`POST /v2/batch`), and the rules a message of a workflow run follows
//! (its run's configuration, the step body, the step cap). Also what every new message is
//! built from ([`Basics`]), which triggers and dead-letter restarts use too.

use std::time::Duration;

use qstash_protocol::{PublishBatch, PublishRequest, PublishResponse, RunMessage};
use qstash_store::{
    CreateRunOutcome, Dedup, EndRun, InsertOutcome, Millis, NewMessage, RunState, RunToCreate,
};
use serde::Serialize;
use sha2::{Digest, Sha256};

use super::{Error, Result, Service};
use crate::engine::envelope::{Envelope, header_pairs};
use crate::ids::message_id;
use crate::workflow::{self, RunConfig};

/// What accepting one message did.
#[derive(Debug)]
pub(crate) struct Accepted {
    /// The answer: the message's id, or the id of the message it duplicates.
    pub response: PublishResponse,
    /// Whether a new message (or run) was stored; `false` for a duplicate or a repeat.
    pub new: bool,
}

impl Accepted {
    fn new(id: String) -> Accepted {
        Accepted {
            response: PublishResponse::new(id),
            new: true,
        }
    }

    fn duplicate(existing_id: String) -> Accepted {
        Accepted {
            response: deduplicated(existing_id),
            new: false,
        }
    }
}

/// One entry of a batch's answer, in the batch's order.
#[derive(Debug, Serialize)]
#[serde(untagged)]
pub(crate) enum BatchEntry {
    /// The message was stored (or duplicates a stored one).
    Published(PublishResponse),
    /// The message was not stored (a step whose run ended before the commit): why.
    NotStored {
        /// What happened.
        error: String,
    },
}

/// A published message checked and ready to store, or the answer it gets without a write.
enum Prepared {
    /// Nothing to store: the answer (an Init message of a run that continues already).
    Answer(PublishResponse),
    /// A message that starts a workflow run (an Init message of a run not yet known).
    Run(RunToCreate),
    /// A message to store (a plain message, or a step or call of a started run).
    Message(NewMessage),
}

impl Service {
    /// Accepts one published message: a plain message, or a message of a workflow run. With
    /// `waiter` (an event id), the message is a run's wait for that event (`POST /v2/wait`):
    /// it must be a step of a started run, and it is stored as a waiter.
    pub(crate) async fn publish(
        &self,
        tenant: &str,
        req: &PublishRequest,
        now: Millis,
        waiter: Option<&str>,
    ) -> Result<Accepted> {
        let message = match self.prepare(tenant, req, now, waiter).await? {
            Prepared::Answer(response) => {
                return Ok(Accepted {
                    response,
                    new: false,
                });
            }
            Prepared::Run(run) => {
                let id = run.first.id.clone();
                let outcome = self.store_run(run.run, run.steps, run.first, now).await?;
                return Ok(match outcome {
                    CreateRunOutcome::Created => Accepted::new(id),
                    CreateRunOutcome::Exists(_) => Accepted::duplicate(id),
                });
            }
            Prepared::Message(message) => message,
        };
        let id = message.id.clone();
        let outcome = match waiter {
            Some(event_id) => self.store_waiter(event_id, message, now).await?,
            None => self
                .store_messages(vec![message], now)
                .await?
                .into_iter()
                .next()
                .unwrap_or(InsertOutcome::Inserted),
        };
        match outcome {
            InsertOutcome::Deduplicated { existing_id } => Ok(Accepted::duplicate(existing_id)),
            InsertOutcome::RunNotActive(s) => Err(Error::invalid(format!(
                "the workflow run has ended ({})",
                s.map_or("not found", RunState::as_str)
            ))),
            InsertOutcome::Inserted => Ok(Accepted::new(id)),
        }
    }

    /// Accepts a batch: every entry is checked first (a bad one refuses the batch with nothing
    /// stored), then all are stored in one transaction. The answer has one entry per message,
    /// in order.
    pub(crate) async fn publish_batch(
        &self,
        tenant: &str,
        batch: &PublishBatch,
        now: Millis,
    ) -> Result<Vec<BatchEntry>> {
        let limits = self.limits();
        if batch.entries().len() > limits.max_batch {
            return Err(Error::invalid(format!(
                "a batch holds at most {} messages, this one has {}",
                limits.max_batch,
                batch.entries().len()
            )));
        }
        if batch.entries().iter().any(RunMessage::present) {
            // Messages of workflow runs each follow their run's rules.
            return self.batch_with_runs(tenant, batch, now).await;
        }
        let mut messages = Vec::with_capacity(batch.entries().len());
        for (i, entry) in batch.entries().iter().enumerate() {
            let m = self
                .new_message(tenant, entry, now)
                .map_err(|e| e.prefixed(&format!("entry {i}: ")))?;
            if m.body.len() > limits.max_body {
                return Err(Error::TooLarge(format!(
                    "entry {i}: the body is larger than the limit of {} bytes",
                    limits.max_body
                )));
            }
            self.check_destinations(&m)
                .await
                .map_err(|e| e.prefixed(&format!("entry {i}: ")))?;
            messages.push(m);
        }
        let ids: Vec<String> = messages.iter().map(|m| m.id.clone()).collect();
        let outcomes = self.store_messages(messages, now).await?;
        Ok(outcomes
            .into_iter()
            .zip(ids)
            .map(|(o, id)| {
                BatchEntry::Published(match o {
                    InsertOutcome::Deduplicated { existing_id } => deduplicated(existing_id),
                    InsertOutcome::Inserted | InsertOutcome::RunNotActive(_) => {
                        PublishResponse::new(id)
                    }
                })
            })
            .collect())
    }

    /// Checks one published message (limits, destination policy, its run's rules) without
    /// storing anything, except when it is a step beyond the run's step cap: the run is then
    /// ended and the answer says so.
    async fn prepare(
        &self,
        tenant: &str,
        req: &PublishRequest,
        now: Millis,
        waiter: Option<&str>,
    ) -> Result<Prepared> {
        let mut message = self.new_message(tenant, req, now)?;
        self.check_destinations(&message).await?;
        let store = &self.engine().store;
        let id = message.id.clone();
        let run_headers = RunMessage::of(req).map_err(|e| Error::invalid(e.to_string()))?;
        if waiter.is_some()
            && !run_headers
                .as_ref()
                .is_some_and(|h| !h.init() && h.is_step())
        {
            return Err(Error::invalid(
                "a wait must carry Upstash-Workflow-RunId of a started run, as a step \
                 (Upstash-Workflow-Init: false)",
            ));
        }
        let Some(h) = run_headers else {
            return Ok(Prepared::Message(message));
        };
        let mut envelope = Envelope::decode(&message.extra);
        let run_id = h.run_id().as_str();
        match store.get_run(tenant, run_id).await? {
            None if h.init() => {
                let url = message.destination.clone();
                workflow::link(&mut message, &mut envelope, &h, &url, now);
                message.extra = envelope.encode();
                let mut run = workflow::init_run(tenant, &h, &message);
                if super::invoke::is_invoke(req) {
                    super::invoke::take_invoke(&mut message, &mut run)?;
                }
                Ok(Prepared::Run(RunToCreate {
                    run,
                    steps: Vec::new(),
                    first: message,
                }))
            }
            None => Err(Error::invalid(format!(
                "workflow run {run_id} does not exist"
            ))),
            Some(run) if run.state != RunState::Started => Err(Error::invalid(format!(
                "workflow run {run_id} has ended ({})",
                run.state.as_str()
            ))),
            Some(run) => {
                if h.init() {
                    // An Init message continues a run only as the answer to its trigger
                    // delivery, and only once.
                    let steps = store.run_steps(tenant, run_id, None).await?;
                    if !h.trigger_by_sdk() || !steps.is_empty() {
                        let first = steps.first().map_or(id, |s| s.message_id.clone());
                        return Ok(Prepared::Answer(deduplicated(first)));
                    }
                }
                if h.is_step() && !h.init() {
                    check_step_body(&message.body)?;
                }
                if h.is_step() {
                    self.check_step_cap(tenant, &run.run.run_id, now).await?;
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

    /// Accepts a batch that holds messages of workflow runs: every entry is checked first (a
    /// bad one refuses the batch with nothing stored), then the runs its Init messages start
    /// and all its messages are stored in one transaction. The answer has one entry per
    /// message, in order; a step whose run ended between the check and the commit is not
    /// stored and its entry says so.
    async fn batch_with_runs(
        &self,
        tenant: &str,
        batch: &PublishBatch,
        now: Millis,
    ) -> Result<Vec<BatchEntry>> {
        enum Slot {
            Answer(PublishResponse),
            Run(String),
            Message(String),
        }
        let mut slots = Vec::with_capacity(batch.entries().len());
        let mut runs = Vec::new();
        let mut messages = Vec::new();
        for (i, entry) in batch.entries().iter().enumerate() {
            let prepared = self
                .prepare(tenant, entry, now, None)
                .await
                .map_err(|e| e.prefixed(&format!("entry {i}: ")))?;
            slots.push(match prepared {
                Prepared::Answer(answer) => Slot::Answer(answer),
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
        let out = self.store_batch(runs, messages, now).await?;
        let mut run_outcomes = out.runs.into_iter();
        let mut message_outcomes = out.messages.into_iter();
        let mut answers = Vec::with_capacity(slots.len());
        for slot in slots {
            answers.push(match slot {
                Slot::Answer(a) => BatchEntry::Published(a),
                Slot::Run(id) => BatchEntry::Published(match run_outcomes.next() {
                    Some(CreateRunOutcome::Exists(_)) => deduplicated(id),
                    _ => PublishResponse::new(id),
                }),
                Slot::Message(id) => match message_outcomes.next() {
                    Some(InsertOutcome::Deduplicated { existing_id }) => {
                        BatchEntry::Published(deduplicated(existing_id))
                    }
                    Some(InsertOutcome::RunNotActive(s)) => BatchEntry::NotStored {
                        error: format!(
                            "the workflow run has ended ({}); this message was not stored",
                            s.map_or("not found", RunState::as_str)
                        ),
                    },
                    _ => BatchEntry::Published(PublishResponse::new(id)),
                },
            });
        }
        Ok(answers)
    }

    /// Fails a run that has as many steps as [`Limits::max_run_steps`](crate::Limits) allows
    /// (a workflow that never ends): the step message is refused, which the SDK reads as "the
    /// run has ended", and the run ends `RUN_FAILED` with the reason.
    async fn check_step_cap(&self, tenant: &str, run_id: &str, now: Millis) -> Result<()> {
        let cap = self.limits().max_run_steps;
        let store = &self.engine().store;
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
        if let Err(e) = self.answer_invoker(tenant, run_id, now).await {
            tracing::warn!(run_id, error = ?e, "the invoking run was not answered");
        }
        Err(Error::invalid(format!(
            "workflow run {run_id} failed: {reason}; the run was ended (RUN_FAILED) and this \
             step was not stored"
        )))
    }

    /// A message from its basics, after the server's limits; its envelope says only the
    /// timeout and not-before time so far.
    pub(crate) fn base_message(
        &self,
        tenant: &str,
        b: &Basics<'_>,
        now: Millis,
    ) -> Result<(NewMessage, Envelope)> {
        let limits = self.limits();
        let delivery = self.engine().config();
        let retries = b.retries.unwrap_or(3);
        if retries > limits.max_retries {
            return Err(Error::invalid(format!(
                "Upstash-Retries: {retries} is more than the maximum of {}",
                limits.max_retries
            )));
        }
        if b.body.len() > limits.max_body {
            return Err(Error::TooLarge(format!(
                "the body is larger than the limit of {} bytes",
                limits.max_body
            )));
        }
        let max_delay_ms = limits.max_delay.as_millis() as u64;
        let due_at = if let Some(secs) = b.not_before {
            let at = secs.saturating_mul(1000);
            if at > now.saturating_add(max_delay_ms) {
                return Err(Error::invalid(format!(
                    "Upstash-Not-Before: {secs} is further ahead than the maximum delay of {}",
                    human(limits.max_delay)
                )));
            }
            at
        } else if let Some(delay) = b.delay {
            let d: Duration = delay.into();
            if d > limits.max_delay {
                return Err(Error::invalid(format!(
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
    pub(super) fn new_message(
        &self,
        tenant: &str,
        req: &PublishRequest,
        now: Millis,
    ) -> Result<NewMessage> {
        let basics = Basics {
            destination: req.destination().as_str(),
            method: req.method().as_str(),
            body: req.body(),
            retries: req.retries(),
            delay: req.delay(),
            not_before: req.not_before(),
            timeout: req.timeout(),
        };
        let (mut message, mut envelope) = self.base_message(tenant, &basics, now)?;
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
        let dedup_until = now.saturating_add(self.limits().dedup_window.as_millis() as u64);
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
}

/// A step message's body must be a step: a JSON object with a numeric `stepId` (the SDK reads
/// every step of the run on each delivery, so one malformed step would break all of them).
fn check_step_body(body: &[u8]) -> Result<()> {
    let ok = serde_json::from_slice::<serde_json::Value>(body)
        .ok()
        .is_some_and(|v| v.get("stepId").is_some_and(serde_json::Value::is_u64));
    if ok {
        Ok(())
    } else {
        Err(Error::invalid(
            "a workflow step message's body must be a JSON object with a numeric stepId",
        ))
    }
}

/// The answer for a message that duplicates `existing_id`.
fn deduplicated(existing_id: String) -> PublishResponse {
    let mut r = PublishResponse::new(existing_id);
    r.deduplicated = true;
    r
}

/// What every message needs, whatever operation made it.
pub(crate) struct Basics<'a> {
    /// The URL it is delivered to.
    pub destination: &'a str,
    /// The HTTP method of its deliveries.
    pub method: &'a str,
    /// Its body.
    pub body: &'a [u8],
    /// How many retries it gets (default 3).
    pub retries: Option<u32>,
    /// How long to wait before the first attempt.
    pub delay: Option<qstash_delay::Delay>,
    /// The earliest first attempt, in unix seconds (wins over `delay`).
    pub not_before: Option<u64>,
    /// The attempt timeout it asked for.
    pub timeout: Option<qstash_delay::Delay>,
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
