//! Running a workflow in memory, without a server: [`replay`] runs it once against a recorded
//! step list and says what it would hand to the server; [`run_to_end`] plays the server's
//! part (steps recorded, sleeps over at once, waits answered from a table or timed out) until
//! the workflow returns.
//!
//! ```
//! use qstash_workflow::{Context, Error, testing};
//! use std::time::Duration;
//!
//! async fn order(ctx: Context<u32>) -> Result<u32, Error> {
//!     let doubled = ctx.run("double", || async { Ok::<_, Error>(ctx.payload * 2) }).await?;
//!     ctx.sleep("pause", Duration::from_secs(30)).await?;
//!     ctx.run("add", || async { Ok::<_, Error>(doubled + 1) }).await
//! }
//!
//! # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
//! // The first delivery runs "double" and hands its output to the server.
//! let next = testing::replay(order, 4, vec![]).await?;
//! assert_eq!(next.steps()[0].step_name, "double");
//! assert_eq!(next.steps()[0].out, Some(serde_json::json!("8")));
//!
//! // The whole run, with the server's part played in memory.
//! let end = testing::run_to_end(order, 4, &testing::Events::default()).await?;
//! assert_eq!(end.result, serde_json::json!(9));
//! assert_eq!(end.steps.len(), 3);
//! # Ok::<(), Error>(())
//! # }).unwrap();
//! ```

use std::collections::HashMap;
use std::future::Future;

use serde::Serialize;
use serde_json::Value;

use crate::context::{Context, Outcome, Outgoing, RunInfo};
use crate::error::{Error, ErrorKind};
use crate::serve::{boxed, run_workflow};
use crate::wire::{RunHeaders, Step, encode_base64};

/// The run id of in-memory runs.
pub const RUN_ID: &str = "wfr_testing";
/// The workflow URL of in-memory runs.
pub const URL: &str = "http://workflow.test/workflow";

/// What one delivery of a workflow did.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum Next {
    /// It handed these requests to the server (one step, or a parallel group's plan).
    Send(Vec<Outgoing>),
    /// The workflow returned this value: the run ends.
    Finished(Value),
    /// A parallel step's result arrived while others still run: nothing to do.
    Discarded,
    /// The workflow cancelled the run.
    Cancelled,
}

impl Next {
    /// The steps the handed-over messages carry (a wait's step included), in order.
    pub fn steps(&self) -> Vec<Step> {
        let Next::Send(outgoing) = self else {
            return Vec::new();
        };
        let mut steps = Vec::new();
        for o in outgoing {
            match o {
                Outgoing::Batch(messages) => {
                    for m in messages {
                        if let Some(step) = m
                            .body
                            .as_deref()
                            .and_then(|b| serde_json::from_str::<Step>(b).ok())
                        {
                            steps.push(step);
                        }
                    }
                }
                Outgoing::Publish { body, .. } => {
                    if let Ok(step) = serde_json::from_value::<Step>(
                        serde_json::from_str::<Value>(body).unwrap_or_default()["step"].clone(),
                    ) {
                        steps.push(step);
                    }
                }
                Outgoing::Wait { body, event_id, .. } => {
                    if let Ok(mut step) = serde_json::from_value::<Step>(body["step"].clone()) {
                        step.wait_event_id = Some(event_id.clone());
                        step.timeout = body["timeout"].as_str().map(str::to_owned);
                        steps.push(step);
                    }
                }
            }
        }
        steps
    }
}

/// Runs `workflow` once, as one delivery whose recorded steps are `recorded` (without the
/// initial step: it is made from `payload`).
///
/// # Errors
/// The workflow's own error (a step that failed, a replay mismatch, …).
pub async fn replay<P, F, Fut, R>(
    workflow: F,
    payload: P,
    recorded: Vec<Step>,
) -> Result<Next, Error>
where
    P: Serialize,
    F: Fn(Context<P>) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<R, Error>> + Send + 'static,
    R: Serialize,
{
    let f = boxed(workflow);
    replay_boxed(&f, payload, recorded).await
}

async fn replay_boxed<P: Serialize>(
    f: &crate::serve::WorkflowFn<P>,
    payload: P,
    recorded: Vec<Step>,
) -> Result<Next, Error> {
    let initial = Step {
        step_id: 0,
        step_name: "init".into(),
        step_type: "Initial".into(),
        out: Some(Value::String(serde_json::to_string(&payload)?)),
        concurrent: 1,
        ..Step::default()
    };
    let mut steps = vec![initial];
    steps.extend(recorded);
    let run = RunInfo {
        run_id: RUN_ID.into(),
        url: URL.into(),
        headers: RunHeaders {
            run_id: RUN_ID.into(),
            url: URL.into(),
            ..RunHeaders::default()
        },
        ..RunInfo::default()
    };
    match run_workflow(f, run, steps, payload).await {
        (Some(Outcome::Send(o)), _) => Ok(Next::Send(o)),
        (Some(Outcome::Discard), _) => Ok(Next::Discarded),
        (Some(Outcome::Cancel), _) => Ok(Next::Cancelled),
        (None, Ok(v)) => Ok(Next::Finished(v)),
        (None, Err(e)) if e.is_suspended() => Ok(Next::Discarded),
        (None, Err(e)) => Err(e),
    }
}

/// The events [`run_to_end`] answers waits with: event id → data. A wait for an event not
/// listed times out.
#[derive(Debug, Clone, Default)]
pub struct Events(pub HashMap<String, Value>);

/// A run played to its end in memory.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Finished {
    /// The workflow's return value.
    pub result: Value,
    /// The steps recorded, in order (plan steps included).
    pub steps: Vec<Step>,
    /// How many deliveries it took.
    pub deliveries: usize,
}

/// Plays a whole run in memory: every step handed over is recorded as the server would
/// (sleeps end at once, waits get the data of [`Events`] or time out, parallel plan steps are
/// delivered one by one) and the workflow is delivered again, until it returns.
///
/// # Errors
/// The workflow's own error; [`ErrorKind::Protocol`] for a `context.call` (it needs a server:
/// use [`replay`] with a recorded `Call` step) or a run of more than 10 000 deliveries.
pub async fn run_to_end<P, F, Fut, R>(
    workflow: F,
    payload: P,
    events: &Events,
) -> Result<Finished, Error>
where
    P: Serialize + Clone,
    F: Fn(Context<P>) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<R, Error>> + Send + 'static,
    R: Serialize,
{
    let f = boxed(workflow);
    let mut recorded: Vec<Step> = Vec::new();
    // Deliveries still to make: the recorded steps up to and including this many.
    let mut queue: Vec<usize> = vec![0];
    let mut deliveries = 0;
    while let Some(upto) = queue.pop() {
        deliveries += 1;
        if deliveries > 10_000 {
            return Err(Error::new(
                ErrorKind::Protocol,
                "the run took more than 10 000 deliveries",
            ));
        }
        let view = recorded[..upto].to_vec();
        match replay_boxed(&f, payload.clone(), view).await? {
            Next::Finished(result) => {
                return Ok(Finished {
                    result,
                    steps: recorded,
                    deliveries,
                });
            }
            Next::Discarded | Next::Cancelled => {}
            Next::Send(outgoing) => {
                let mut new = Vec::new();
                for o in &outgoing {
                    match o {
                        Outgoing::Batch(messages) => {
                            for m in messages {
                                if m.destination != URL {
                                    return Err(Error::new(
                                        ErrorKind::Protocol,
                                        "context.call needs a server: use testing::replay with a recorded Call step",
                                    ));
                                }
                                let body = m.body.as_deref().unwrap_or_default();
                                new.push(serde_json::from_str::<Step>(body)?);
                            }
                        }
                        Outgoing::Publish { .. } => {
                            return Err(Error::new(
                                ErrorKind::Protocol,
                                "context.invoke needs a server: use testing::replay with a recorded Invoke step",
                            ));
                        }
                        Outgoing::Wait { .. } => {
                            let mut step = Next::Send(vec![o.clone()]).steps().remove(0);
                            let event = step
                                .wait_event_id
                                .as_deref()
                                .and_then(|id| events.0.get(id));
                            match event {
                                Some(data) => {
                                    let bytes = match data {
                                        Value::String(s) => s.clone().into_bytes(),
                                        other => other.to_string().into_bytes(),
                                    };
                                    step.out = Some(Value::String(encode_base64(&bytes)));
                                    step.wait_timeout = Some(false);
                                }
                                None => step.wait_timeout = Some(true),
                            }
                            new.push(step);
                        }
                    }
                }
                // Each recorded message is delivered with the steps up to it; the last one
                // first is how the server's order works out for a single step.
                for step in new {
                    recorded.push(step);
                    queue.insert(0, recorded.len());
                }
            }
        }
    }
    Err(Error::new(
        ErrorKind::Protocol,
        "the run stopped without returning",
    ))
}
