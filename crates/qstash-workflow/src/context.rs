//! [`Context`]: what a workflow function sees, and the replay that turns its step calls into
//! memoised outputs or the next step to hand to the server.
//!
//! Each request runs the workflow function from the start against the steps the server
//! recorded. A step call whose position has a recorded step returns its memoised output
//! (after checking that the name and kind agree); the first step call past the recorded ones
//! is executed and handed to the server, and the workflow stops there with an
//! [`ErrorKind::Suspended`] error. Step calls started together (`tokio::join!`,
//! `try_join!`) form one parallel group, as `Promise.all` does with the official SDK: each
//! step call waits one poll before resolving, so every step of the join is registered first.

use std::collections::BTreeMap;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Poll, Waker};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::call::{CallRequest, CallResponse};
use crate::error::{Error, ErrorKind};
use crate::invoke::{InvokeRequest, Invoked};
use crate::wire::{OutgoingMessage, RunHeaders, Step, decode_base64};

/// The handle a workflow function gets: the run's payload and its step calls.
///
/// Every step call returns `Result`: propagate its error with `?`. When a step was handed to
/// the server the error is [`ErrorKind::Suspended`]: the request's work is done, and the
/// workflow continues from the next delivery.
pub struct Context<P> {
    /// The run's initial payload.
    pub payload: P,
    pub(crate) exec: Arc<Executor>,
}

impl<P: fmt::Debug> fmt::Debug for Context<P> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Context")
            .field("payload", &self.payload)
            .field("run_id", &self.exec.run.run_id)
            .field("url", &self.exec.run.url)
            .finish()
    }
}

/// What a step of kind `Wait` ended with.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct WaitEvent {
    /// True when the wait ended by its timeout, without an event.
    pub timeout: bool,
    /// The event's data (JSON when it was JSON, else a string); `None` on timeout.
    pub event_data: Option<Value>,
}

impl WaitEvent {
    /// The event's data as `T`.
    ///
    /// # Errors
    /// [`ErrorKind::Serde`] when there is no data or it is not a `T`.
    pub fn data<T: DeserializeOwned>(&self) -> Result<T, Error> {
        Ok(T::deserialize(
            self.event_data.clone().unwrap_or(Value::Null),
        )?)
    }
}

/// The run a request is about.
#[derive(Debug, Clone, Default)]
pub(crate) struct RunInfo {
    pub run_id: String,
    pub url: String,
    pub retried: u32,
    pub created_at: Option<u64>,
    /// Template of the headers of the run's step messages (retries, flow control, …).
    pub headers: RunHeaders,
}

/// Something a request hands to the server.
#[derive(Debug, Clone, PartialEq)]
pub enum Outgoing {
    /// `POST /v2/batch` with these messages.
    Batch(Vec<OutgoingMessage>),
    /// `POST /v2/wait/{event_id}` with these headers and this JSON body.
    Wait {
        /// The event waited for.
        event_id: String,
        /// The request's headers (the step message's headers).
        headers: BTreeMap<String, String>,
        /// The wait request: `{url, timeout, timeoutUrl, timeoutHeaders, step}`.
        body: Value,
    },
    /// `POST /v2/publish/{url}` with these headers and this body (`context.invoke`).
    Publish {
        /// The invoked workflow's URL.
        url: String,
        /// The message's headers.
        headers: BTreeMap<String, String>,
        /// The invoke request: `{body, headers, workflowRunId, workflowUrl, step}`.
        body: String,
    },
}

/// How a workflow's request ended, apart from the function's own return value.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Outcome {
    Send(Vec<Outgoing>),
    Discard,
    Cancel,
}

#[derive(Debug, Clone)]
pub(crate) enum LazyKind {
    Run,
    SleepFor(u64),
    SleepUntil(u64),
    Call(Box<CallRequest>),
    Wait { event_id: String, timeout: String },
    Invoke(Box<InvokeRequest>),
}

#[derive(Debug, Clone)]
pub(crate) struct Lazy {
    name: String,
    kind: LazyKind,
}

impl Lazy {
    fn step_type(&self) -> &'static str {
        match self.kind {
            LazyKind::Run => "Run",
            LazyKind::SleepFor(_) => "SleepFor",
            LazyKind::SleepUntil(_) => "SleepUntil",
            LazyKind::Call(_) => "Call",
            LazyKind::Wait { .. } => "Wait",
            LazyKind::Invoke(_) => "Invoke",
        }
    }

    /// The step as planned in a parallel group (`stepId` 0, `targetStep`).
    fn plan_step(&self, concurrent: u64, target: u64) -> Step {
        let mut step = self.base(0, concurrent);
        step.target_step = Some(target);
        step
    }

    /// The step with its kind's fields and no output.
    fn base(&self, step_id: u64, concurrent: u64) -> Step {
        let mut step = Step {
            step_id,
            step_name: self.name.clone(),
            step_type: self.step_type().to_owned(),
            concurrent,
            ..Step::default()
        };
        match &self.kind {
            LazyKind::SleepFor(s) => step.sleep_for = Some(Value::from(*s)),
            LazyKind::SleepUntil(t) => step.sleep_until = Some(*t),
            LazyKind::Wait { event_id, timeout } => {
                step.wait_event_id = Some(event_id.clone());
                step.timeout = Some(timeout.clone());
            }
            LazyKind::Run | LazyKind::Call(_) | LazyKind::Invoke(_) => {}
        }
        step
    }
}

/// How a step call of a group resolved.
enum Resolved {
    Memo(Box<Step>),
    /// Run the step's code as step `step_id` of a group of `concurrent`.
    Execute {
        step_id: u64,
        concurrent: u64,
    },
    /// Another step of the group runs: wait until it is done, then stop.
    AwaitGroup,
}

struct Group {
    members: Vec<Lazy>,
    resolution: Option<Vec<Result<Resolved, Error>>>,
    /// The step of the group that runs has finished.
    settled: bool,
    waiting: Vec<Waker>,
}

struct State {
    /// The recorded steps, the initial one first.
    steps: Vec<Step>,
    non_plan_count: usize,
    step_count: usize,
    plan_step_count: usize,
    open: Option<usize>,
    groups: Vec<Group>,
    executing: Option<String>,
    outcome: Option<Outcome>,
    /// A step's code failed (kept for the request's answer whatever the workflow does).
    failure: Option<Error>,
}

/// The replay of one request: the recorded steps, the step calls made so far and what is to
/// be handed to the server.
pub(crate) struct Executor {
    pub(crate) run: RunInfo,
    state: Mutex<State>,
}

fn lock(m: &Mutex<State>) -> MutexGuard<'_, State> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// Ready on the second poll, waking itself on the first: lets every step call of a join
/// register before the group resolves.
#[derive(Default)]
struct YieldOnce(bool);

impl Future for YieldOnce {
    type Output = ();
    fn poll(mut self: Pin<&mut Self>, cx: &mut std::task::Context<'_>) -> Poll<()> {
        if self.0 {
            Poll::Ready(())
        } else {
            self.0 = true;
            Waker::wake_by_ref(cx.waker());
            Poll::Pending
        }
    }
}

impl Executor {
    pub(crate) fn new(run: RunInfo, steps: Vec<Step>) -> Executor {
        let non_plan_count = steps
            .iter()
            .filter(|s| s.target_step.unwrap_or(0) == 0)
            .count();
        Executor {
            run,
            state: Mutex::new(State {
                steps,
                non_plan_count,
                step_count: 0,
                plan_step_count: 0,
                open: None,
                groups: Vec::new(),
                executing: None,
                outcome: None,
                failure: None,
            }),
        }
    }

    pub(crate) fn take_outcome(&self) -> Option<Outcome> {
        lock(&self.state).outcome.take()
    }

    pub(crate) fn take_failure(&self) -> Option<Error> {
        lock(&self.state).failure.take()
    }

    /// The running step of `group` is done: the others of the group stop now.
    fn settle(&self, group: usize) {
        let wakers = {
            let mut st = lock(&self.state);
            let g = &mut st.groups[group];
            g.settled = true;
            std::mem::take(&mut g.waiting)
        };
        for w in wakers {
            w.wake();
        }
    }

    /// Waits until the running step of `group` is done.
    async fn await_group(&self, group: usize) {
        std::future::poll_fn(|cx| {
            let mut st = lock(&self.state);
            let g = &mut st.groups[group];
            if g.settled {
                Poll::Ready(())
            } else {
                g.waiting.push(cx.waker().clone());
                Poll::Pending
            }
        })
        .await;
    }

    fn register(&self, lazy: Lazy) -> Result<(usize, usize), Error> {
        if lazy.name.is_empty() {
            return Err(Error::new(
                ErrorKind::Workflow,
                "a workflow step name cannot be empty",
            ));
        }
        let mut st = lock(&self.state);
        if let Some(outer) = &st.executing {
            return Err(Error::new(
                ErrorKind::NestedStep,
                format!(
                    "a step can not be run inside another step: tried to run '{}' inside '{outer}'",
                    lazy.name
                ),
            ));
        }
        if st.outcome.is_some() {
            return Err(Error::suspended());
        }
        st.step_count += 1;
        let group = match st.open {
            Some(g) => g,
            None => {
                st.groups.push(Group {
                    members: Vec::new(),
                    resolution: None,
                    settled: false,
                    waiting: Vec::new(),
                });
                let g = st.groups.len() - 1;
                st.open = Some(g);
                g
            }
        };
        let members = &mut st.groups[group].members;
        members.push(lazy);
        Ok((group, members.len() - 1))
    }

    fn resolve(&self, (group, index): (usize, usize)) -> Result<Resolved, Error> {
        let mut st = lock(&self.state);
        if st.groups[group].resolution.is_none() {
            if st.open == Some(group) {
                st.open = None;
            }
            let members = st.groups[group].members.clone();
            let resolution = if members.len() == 1 {
                vec![self.run_single(&mut st, &members[0])]
            } else {
                let r = self.run_parallel(&mut st, &members);
                st.plan_step_count += members.len();
                r
            };
            st.groups[group].resolution = Some(resolution);
        }
        let slot = st.groups[group]
            .resolution
            .as_mut()
            .and_then(|r| r.get_mut(index))
            .ok_or_else(|| Error::new(ErrorKind::Protocol, "a step call lost its group"))?;
        std::mem::replace(slot, Err(Error::suspended()))
    }

    fn run_single(&self, st: &mut State, lazy: &Lazy) -> Result<Resolved, Error> {
        if st.step_count < st.non_plan_count {
            let step = st
                .steps
                .get(st.step_count + st.plan_step_count)
                .ok_or_else(|| {
                    Error::new(ErrorKind::Protocol, "the recorded steps end too early")
                })?;
            validate(lazy, step)?;
            return Ok(Resolved::Memo(Box::new(step.clone())));
        }
        let step_id = st.step_count as u64;
        self.execute(st, lazy, step_id, 1)
    }

    /// A new step: a `Run` is executed by its caller; any other kind is handed over now.
    fn execute(
        &self,
        st: &mut State,
        lazy: &Lazy,
        step_id: u64,
        concurrent: u64,
    ) -> Result<Resolved, Error> {
        if let LazyKind::Run = lazy.kind {
            return Ok(Resolved::Execute {
                step_id,
                concurrent,
            });
        }
        let step = lazy.base(step_id, concurrent);
        let outgoing = self.result_outgoing(lazy, &step, concurrent != 1)?;
        push_outgoing(st, outgoing);
        Err(Error::suspended())
    }

    fn run_parallel(&self, st: &mut State, members: &[Lazy]) -> Vec<Result<Resolved, Error>> {
        let len = members.len();
        let all = |e: Error| (0..len).map(|_| Err(e.clone())).collect::<Vec<_>>();
        let initial = st.step_count - (len - 1);
        let remaining: Vec<&Step> = st
            .steps
            .iter()
            .filter(|s| s.order_id() as usize >= initial)
            .collect();
        let mut sorted = st.steps.clone();
        sorted.sort_by_key(Step::order_id);
        let planned = sorted
            .get(initial + st.plan_step_count)
            .map(|s| s.concurrent);
        if remaining.is_empty() {
            // First: plan every step of the group as its own message.
            let messages = members
                .iter()
                .enumerate()
                .map(|(i, lazy)| {
                    let plan = lazy.plan_step(len as u64, (initial + i) as u64);
                    let mut headers = self.step_headers(false);
                    headers.insert("upstash-method".into(), "POST".into());
                    if let Some(Value::Number(n)) = &plan.sleep_for {
                        headers.insert("upstash-delay".into(), format!("{n}s"));
                    }
                    if let Some(t) = plan.sleep_until {
                        headers.insert("upstash-not-before".into(), t.to_string());
                    }
                    OutgoingMessage {
                        destination: self.run.url.clone(),
                        headers,
                        body: Some(serde_json::to_string(&plan).unwrap_or_default()),
                    }
                })
                .collect();
            push_outgoing(st, Outgoing::Batch(messages));
            return all(Error::suspended());
        }
        if planned != Some(len as u64) {
            return all(Error::new(
                ErrorKind::ReplayMismatch,
                format!(
                    "incompatible number of parallel steps: expected {len}, got {} from the request",
                    planned.map_or_else(|| "none".to_owned(), |p| p.to_string())
                ),
            ));
        }
        if remaining.len() >= 2 * len {
            // Last: every result is recorded.
            let results: Vec<Step> = sorted
                .iter()
                .filter(|s| s.step_id as usize >= initial)
                .take(len)
                .cloned()
                .collect();
            let mut out = Vec::with_capacity(len);
            for (i, lazy) in members.iter().enumerate() {
                match results.get(i) {
                    Some(step) => match validate(lazy, step) {
                        Ok(()) => out.push(Ok(Resolved::Memo(Box::new(step.clone())))),
                        Err(e) => return all(parallel_mismatch(e, members, &results)),
                    },
                    None => {
                        return all(Error::new(
                            ErrorKind::Protocol,
                            "a parallel step has no recorded result",
                        ));
                    }
                }
            }
            return out;
        }
        let last = remaining.last().map(|s| (*s).clone()).unwrap_or_default();
        match last.target_step.filter(|t| *t != 0) {
            Some(target) => {
                // Partial: run the step this plan message targets.
                let Some(index) = (target as usize).checked_sub(initial).filter(|i| *i < len)
                else {
                    return all(Error::new(
                        ErrorKind::Protocol,
                        format!("a plan step targets step {target}, outside its group"),
                    ));
                };
                let lazy = &members[index];
                if let Err(e) = validate(lazy, &last) {
                    return all(e);
                }
                let mut out = all(Error::suspended());
                out[index] = self.execute(st, lazy, target, len as u64);
                if let Ok(Resolved::Execute { .. }) = out[index] {
                    for (i, slot) in out.iter_mut().enumerate() {
                        if i != index {
                            *slot = Ok(Resolved::AwaitGroup);
                        }
                    }
                }
                out
            }
            None => {
                // Discard: a result arrived while others are still running.
                if st.outcome.is_none() {
                    st.outcome = Some(Outcome::Discard);
                }
                all(Error::suspended())
            }
        }
    }

    /// The headers of the run's step messages.
    pub(crate) fn step_headers(&self, call: bool) -> BTreeMap<String, String> {
        let mut h = self.run.headers.clone();
        h.init = false;
        h.call = call;
        // The run's failure callback is the one its Init message carries.
        h.failure_url = None;
        h.run_id.clone_from(&self.run.run_id);
        h.url.clone_from(&self.run.url);
        h.build()
    }

    /// What hands a new step's result to the server.
    fn result_outgoing(&self, lazy: &Lazy, step: &Step, parallel: bool) -> Result<Outgoing, Error> {
        let message = |mut headers: BTreeMap<String, String>, body: String| {
            headers.insert("upstash-method".into(), "POST".into());
            OutgoingMessage {
                destination: self.run.url.clone(),
                headers,
                body: Some(body),
            }
        };
        Ok(match &lazy.kind {
            LazyKind::Run => Outgoing::Batch(vec![message(
                self.step_headers(false),
                serde_json::to_string(step)?,
            )]),
            LazyKind::SleepFor(secs) => {
                let mut h = self.step_headers(false);
                if !parallel {
                    h.insert("upstash-delay".into(), format!("{secs}s"));
                }
                Outgoing::Batch(vec![message(h, serde_json::to_string(step)?)])
            }
            LazyKind::SleepUntil(at) => {
                let mut h = self.step_headers(false);
                if !parallel {
                    h.insert("upstash-not-before".into(), at.to_string());
                }
                Outgoing::Batch(vec![message(h, serde_json::to_string(step)?)])
            }
            LazyKind::Call(call) => Outgoing::Batch(vec![call.message(self, step)]),
            LazyKind::Invoke(invoke) => {
                let (url, headers, body) = invoke.publish(self, step)?;
                Outgoing::Publish { url, headers, body }
            }
            LazyKind::Wait { event_id, timeout } => {
                let mut headers = self.step_headers(false);
                headers.insert("upstash-workflow-calltype".into(), "step".into());
                let mut timeout_headers: serde_json::Map<String, Value> = headers
                    .iter()
                    .map(|(k, v)| (k.clone(), Value::from(vec![v.clone()])))
                    .collect();
                timeout_headers.insert("upstash-workflow-init".into(), Value::from(vec!["false"]));
                let mut wait_step = serde_json::json!({
                    "stepId": step.step_id,
                    "stepType": "Wait",
                    "stepName": step.step_name,
                    "concurrent": step.concurrent,
                });
                if let Some(t) = step.target_step {
                    wait_step["targetStep"] = Value::from(t);
                }
                Outgoing::Wait {
                    event_id: event_id.clone(),
                    headers,
                    body: serde_json::json!({
                        "url": self.run.url,
                        "timeout": timeout,
                        "timeoutUrl": self.run.url,
                        "timeoutHeaders": timeout_headers,
                        "step": wait_step,
                    }),
                }
            }
        })
    }

    fn finish_run(&self, lazy: &Lazy, step: &Step) -> Result<(), Error> {
        let outgoing = self.result_outgoing(lazy, step, step.concurrent != 1)?;
        push_outgoing(&mut lock(&self.state), outgoing);
        Ok(())
    }

    fn set_executing(&self, name: Option<String>) {
        lock(&self.state).executing = name;
    }

    fn cancel(&self) {
        let mut st = lock(&self.state);
        if st.outcome.is_none() {
            st.outcome = Some(Outcome::Cancel);
        }
    }

    /// One step call: registers it, lets the rest of its group register, and resolves;
    /// returns its group too.
    async fn step(&self, lazy: Lazy) -> Result<(usize, Resolved), Error> {
        let ticket = self.register(lazy)?;
        YieldOnce::default().await;
        match self.resolve(ticket)? {
            Resolved::AwaitGroup => {
                self.await_group(ticket.0).await;
                Err(Error::suspended())
            }
            other => Ok((ticket.0, other)),
        }
    }
}

fn push_outgoing(st: &mut State, outgoing: Outgoing) {
    match &mut st.outcome {
        Some(Outcome::Send(list)) => list.push(outgoing),
        _ => st.outcome = Some(Outcome::Send(vec![outgoing])),
    }
}

/// The official SDK's check that a replayed step is the recorded one.
fn validate(lazy: &Lazy, recorded: &Step) -> Result<(), Error> {
    if lazy.name != recorded.step_name {
        return Err(Error::new(
            ErrorKind::ReplayMismatch,
            format!(
                "Incompatible step name. Expected '{}', got '{}' from the request",
                lazy.name, recorded.step_name
            ),
        ));
    }
    if lazy.step_type() != recorded.step_type {
        return Err(Error::new(
            ErrorKind::ReplayMismatch,
            format!(
                "Incompatible step type. Expected '{}', got '{}' from the request",
                lazy.step_type(),
                recorded.step_type
            ),
        ));
    }
    Ok(())
}

fn parallel_mismatch(e: Error, members: &[Lazy], recorded: &[Step]) -> Error {
    let names = |it: Vec<&str>| serde_json::to_string(&it).unwrap_or_default();
    Error::new(
        ErrorKind::ReplayMismatch,
        format!(
            "Incompatible steps detected in parallel execution: {}\n  > Step Names from the request: {}\n    Step Types from the request: {}\n  > Step Names expected: {}\n    Step Types expected: {}",
            e.message(),
            names(recorded.iter().map(|s| s.step_name.as_str()).collect()),
            names(recorded.iter().map(|s| s.step_type.as_str()).collect()),
            names(members.iter().map(|l| l.name.as_str()).collect()),
            names(members.iter().map(Lazy::step_type).collect()),
        ),
    )
}

/// A payload or output text as `T`: JSON, else the text itself as a JSON string, else (when
/// empty) `null`, as the official SDK parses them.
pub(crate) fn parse_payload<T: DeserializeOwned>(raw: &[u8]) -> Result<T, Error> {
    match serde_json::from_slice::<T>(raw) {
        Ok(v) => Ok(v),
        Err(json_error) => {
            let text = String::from_utf8_lossy(raw);
            let fallback = if text.is_empty() {
                Value::Null
            } else {
                Value::String(text.into_owned())
            };
            T::deserialize(fallback).map_err(|_| Error::from(json_error))
        }
    }
}

/// A memoised `Run` output as `T`.
fn parse_out<T: DeserializeOwned>(step: &Step) -> Result<T, Error> {
    match &step.out {
        None | Some(Value::Null) => Ok(T::deserialize(Value::Null)?),
        Some(Value::String(s)) => parse_payload(s.as_bytes()),
        Some(other) => Ok(T::deserialize(other.clone())?),
    }
}

impl<P> Context<P> {
    /// The run's id (`wfr_…`).
    pub fn run_id(&self) -> &str {
        &self.exec.run.run_id
    }

    /// The workflow's URL.
    pub fn url(&self) -> &str {
        &self.exec.run.url
    }

    /// How many times the server retried this delivery (`Upstash-Retried`).
    pub fn retried(&self) -> u32 {
        self.exec.run.retried
    }

    /// When the run was created (Unix milliseconds), when the server says.
    pub fn created_at(&self) -> Option<u64> {
        self.exec.run.created_at
    }

    /// Step `name`: runs `f` once for the run and memoises its output (JSON through serde);
    /// on replay returns the memoised output without running `f`. An `Err` from `f` fails
    /// this delivery (answered 500 with `Upstash-Error-Step-Name`), so the server retries
    /// the step as the workflow's retries allow.
    ///
    /// # Errors
    /// [`ErrorKind::Suspended`] once the output was handed to the server; [`ErrorKind::Step`]
    /// when `f` failed; [`ErrorKind::ReplayMismatch`] when the recorded step at this position
    /// is another one.
    pub async fn run<T, F, Fut, E>(&self, name: &str, f: F) -> Result<T, Error>
    where
        T: Serialize + DeserializeOwned,
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<T, E>>,
        E: fmt::Display,
    {
        let lazy = Lazy {
            name: name.to_owned(),
            kind: LazyKind::Run,
        };
        match self.exec.step(lazy.clone()).await? {
            (_, Resolved::Memo(step)) => parse_out(&step).map_err(|e| e.with_step(name)),
            (
                group,
                Resolved::Execute {
                    step_id,
                    concurrent,
                },
            ) => {
                self.exec.set_executing(Some(name.to_owned()));
                let result = f().await;
                self.exec.set_executing(None);
                let done = match result {
                    Ok(value) => serde_json::to_string(&value)
                        .map_err(Error::from)
                        .and_then(|out| {
                            let mut step = lazy.base(step_id, concurrent);
                            step.out = Some(Value::String(out));
                            self.exec.finish_run(&lazy, &step)
                        })
                        .map_err(|e| e.with_step(name)),
                    Err(e) => Err(Error::new(ErrorKind::Step, e.to_string()).with_step(name)),
                };
                if let Err(e) = &done {
                    lock(&self.exec.state).failure = Some(e.clone());
                }
                self.exec.settle(group);
                done?;
                Err(Error::suspended())
            }
            (_, Resolved::AwaitGroup) => Err(Error::suspended()),
        }
    }

    /// Step `name`: the run pauses for `duration` (whole seconds) and goes on in a later
    /// delivery.
    ///
    /// # Errors
    /// As [`run`](Self::run).
    pub async fn sleep(&self, name: &str, duration: Duration) -> Result<(), Error> {
        self.simple(name, LazyKind::SleepFor(duration.as_secs()))
            .await
    }

    /// Step `name`: the run pauses until `at` (whole seconds).
    ///
    /// # Errors
    /// As [`run`](Self::run).
    pub async fn sleep_until(&self, name: &str, at: SystemTime) -> Result<(), Error> {
        let secs = at.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
        self.simple(name, LazyKind::SleepUntil(secs)).await
    }

    async fn simple(&self, name: &str, kind: LazyKind) -> Result<(), Error> {
        let lazy = Lazy {
            name: name.to_owned(),
            kind,
        };
        match self.exec.step(lazy).await?.1 {
            Resolved::Memo(_) => Ok(()),
            Resolved::Execute { .. } | Resolved::AwaitGroup => Err(Error::suspended()),
        }
    }

    /// Step `name`: the server makes the HTTP request (with its own retries) and the run goes
    /// on with its answer: status, headers and body.
    ///
    /// # Errors
    /// As [`run`](Self::run).
    pub async fn call(&self, name: &str, request: CallRequest) -> Result<CallResponse, Error> {
        request.check().map_err(|e| e.with_step(name))?;
        let lazy = Lazy {
            name: name.to_owned(),
            kind: LazyKind::Call(Box::new(request)),
        };
        match self.exec.step(lazy).await?.1 {
            Resolved::Memo(step) => CallResponse::from_step(&step).map_err(|e| e.with_step(name)),
            Resolved::Execute { .. } | Resolved::AwaitGroup => Err(Error::suspended()),
        }
    }

    /// Step `name`: the run waits until `event_id` is notified
    /// (`qstash_client::Client::notify`) or `timeout` passes.
    ///
    /// # Errors
    /// As [`run`](Self::run).
    pub async fn wait_for_event(
        &self,
        name: &str,
        event_id: impl Into<String>,
        timeout: Duration,
    ) -> Result<WaitEvent, Error> {
        let lazy = Lazy {
            name: name.to_owned(),
            kind: LazyKind::Wait {
                event_id: event_id.into(),
                timeout: format!("{}s", timeout.as_secs().max(1)),
            },
        };
        match self.exec.step(lazy).await?.1 {
            Resolved::Memo(step) => {
                let event_data = match &step.out {
                    Some(Value::String(s)) => {
                        let bytes = decode_base64(s)?;
                        Some(parse_payload::<Value>(&bytes)?)
                    }
                    _ => None,
                };
                Ok(WaitEvent {
                    timeout: step.wait_timeout.unwrap_or(false),
                    event_data,
                })
            }
            Resolved::Execute { .. } | Resolved::AwaitGroup => Err(Error::suspended()),
        }
    }

    /// Step `name`: starts a run of another workflow (`request`) and goes on when it ends,
    /// with its return value as `T` (`None` when it failed or was cancelled), as the official
    /// SDK's `context.invoke`.
    ///
    /// # Errors
    /// As [`run`](Self::run).
    pub async fn invoke<T: DeserializeOwned>(
        &self,
        name: &str,
        request: InvokeRequest,
    ) -> Result<Invoked<T>, Error> {
        request.check().map_err(|e| e.with_step(name))?;
        let lazy = Lazy {
            name: name.to_owned(),
            kind: LazyKind::Invoke(Box::new(request)),
        };
        match self.exec.step(lazy).await?.1 {
            Resolved::Memo(step) => Invoked::from_step(&step).map_err(|e| e.with_step(name)),
            Resolved::Execute { .. } | Resolved::AwaitGroup => Err(Error::suspended()),
        }
    }

    /// Cancels the run (`DELETE /v2/workflows/runs/{id}?cancel=true`): nothing after this
    /// runs.
    ///
    /// # Errors
    /// Always [`ErrorKind::Suspended`], to stop the workflow with `?`.
    pub fn cancel(&self) -> Result<(), Error> {
        self.exec.cancel();
        Err(Error::suspended())
    }
}
