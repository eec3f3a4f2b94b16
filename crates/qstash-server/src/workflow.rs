//! Workflow runs (the step protocol of the official workflow SDKs): what a trigger stores,
//! how the messages of a run are recognised and recorded, and the body a step delivery carries.
//!
//! A run lives in the store ([`NewRun`]) with its ordered step list. The SDK's endpoint is
//! called once per step with every step so far; it answers by publishing the next step message
//! (`Upstash-Workflow-RunId` and friends) and, at the end, `DELETE /v2/workflows/runs/{id}`.

use qstash_protocol::{FailureTarget, RunMessage, TriggerRequest};
use qstash_store::{FlowLimits, Millis, NewMessage, NewRun, RunLink, RunStep};
use serde::{Deserialize, Serialize};

use crate::engine::envelope::{Envelope, Kind, WorkflowInfo, WorkflowRole, header_pairs};
pub(crate) use crate::engine::steps::steps_body;

/// The configuration a trigger gave its run, applied to every later message of the run
/// (upstream feature `WF_TriggerOnConfig`). Stored as JSON with the run.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct RunConfig {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retries: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry_delay: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub flow_key: Option<String>,
    /// The limits sent with the run's flow-control key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub flow_limits: Option<RunFlowLimits>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub labels: Vec<String>,
    /// Headers forwarded to the workflow on every delivery of the run.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub forward: Vec<(String, String)>,
    /// The run's failure callback URL.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failure_callback: Option<String>,
    /// The run's failure callback is the workflow's own failure function.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub failure_function: bool,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub failure_callback_forward: Vec<(String, String)>,
    /// The run that invoked this one (`context.invoke`), answered when this one ends.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub invoker: Option<crate::service::invoke::Invoker>,
}

/// The store's form of an `Upstash-Flow-Control-Value`.
pub(crate) fn flow_limits(value: qstash_flow_control::FlowControl) -> FlowLimits {
    FlowLimits {
        parallelism: value.parallelism().map(|n| n.get()),
        rate: value.rate().map(|n| n.get()),
        // The grammar keeps a period above zero; a sub-millisecond one counts as 1 ms.
        period_ms: value.period().as_millis().max(1),
    }
}

/// [`FlowLimits`] as a run's configuration keeps them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct RunFlowLimits {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parallelism: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rate: Option<u32>,
    pub period_ms: u64,
}

impl From<FlowLimits> for RunFlowLimits {
    fn from(l: FlowLimits) -> Self {
        RunFlowLimits {
            parallelism: l.parallelism,
            rate: l.rate,
            period_ms: l.period_ms,
        }
    }
}

impl From<RunFlowLimits> for FlowLimits {
    fn from(l: RunFlowLimits) -> Self {
        FlowLimits {
            parallelism: l.parallelism,
            rate: l.rate,
            period_ms: l.period_ms,
        }
    }
}

impl RunConfig {
    pub(crate) fn decode(bytes: &[u8]) -> RunConfig {
        serde_json::from_slice(bytes).unwrap_or_default()
    }

    pub(crate) fn encode(&self) -> Vec<u8> {
        serde_json::to_vec(self).unwrap_or_default()
    }

    /// The configuration of a run started by `/v2/trigger`.
    pub(crate) fn from_trigger(req: &TriggerRequest) -> RunConfig {
        let mut config = RunConfig {
            retries: req.retries(),
            retry_delay: req.retry_delay().map(|r| r.as_str().to_owned()),
            flow_key: req.flow_control().map(|(k, _)| k.as_str().to_owned()),
            flow_limits: req.flow_control().map(|(_, v)| flow_limits(v).into()),
            labels: req.labels().iter().map(|l| l.as_str().to_owned()).collect(),
            forward: header_pairs(req.forwarded().iter()),
            ..RunConfig::default()
        };
        if let Some(fc) = req.failure_callback() {
            config.failure_callback_forward = header_pairs(fc.forwarded().iter());
            match fc.target() {
                FailureTarget::Url(u) => config.failure_callback = Some(u.as_str().to_owned()),
                FailureTarget::FailureFunction => config.failure_function = true,
            }
        }
        config
    }

    /// Applies the run's configuration to one of its messages: what the trigger set wins.
    pub(crate) fn apply(
        &self,
        message: &mut NewMessage,
        envelope: &mut Envelope,
        run_id: &str,
        workflow_url: &str,
    ) {
        if let Some(r) = self.retries {
            message.max_retries = r;
        }
        if self.retry_delay.is_some() {
            envelope.retry_delay.clone_from(&self.retry_delay);
        }
        if self.flow_key.is_some() {
            message.flow_key.clone_from(&self.flow_key);
            message.flow_limits = self.flow_limits.map(Into::into);
        }
        if !self.labels.is_empty() {
            message.labels.clone_from(&self.labels);
        }
        for (n, v) in &self.forward {
            if !envelope
                .forward
                .iter()
                .any(|(m, _)| m.eq_ignore_ascii_case(n))
            {
                envelope.forward.push((n.clone(), v.clone()));
            }
        }
        if self.failure_function {
            // The SDK's failure function: a callback to the workflow itself that says what it
            // is.
            envelope.failure_callback = Some(workflow_url.to_owned());
            let mut forward = self.failure_callback_forward.clone();
            forward.extend(failure_function_headers(run_id, workflow_url));
            envelope.failure_callback_forward = forward;
        } else if self.failure_callback.is_some() {
            envelope.failure_callback.clone_from(&self.failure_callback);
            envelope
                .failure_callback_forward
                .clone_from(&self.failure_callback_forward);
        }
    }
}

/// The headers of a failure callback that reaches the SDK's failure function.
fn failure_function_headers(run_id: &str, url: &str) -> Vec<(String, String)> {
    vec![
        ("Upstash-Workflow-Is-Failure".into(), "true".into()),
        ("Upstash-Workflow-Failure-Callback".into(), "true".into()),
        ("Upstash-Workflow-RunId".into(), run_id.into()),
        ("Upstash-Workflow-Url".into(), url.into()),
        ("Upstash-Workflow-Init".into(), "false".into()),
        ("Upstash-Workflow-Calltype".into(), "failureCall".into()),
    ]
}

/// Marks a message as a message of `run_id` and says how it is delivered.
pub(crate) fn link(
    message: &mut NewMessage,
    envelope: &mut Envelope,
    headers: &RunMessage,
    run_url: &str,
    run_created_at: Millis,
) {
    let step = headers.is_step();
    envelope.workflow = Some(WorkflowInfo {
        run_id: headers.run_id().as_str().to_owned(),
        url: headers
            .url()
            .map_or_else(|| run_url.to_owned(), |u| u.as_str().to_owned()),
        created_at: run_created_at,
        feature_set: headers.feature_set().map(|f| f.as_str().to_owned()),
        role: if step {
            WorkflowRole::Step
        } else {
            WorkflowRole::Other
        },
    });
    message.run = Some(RunLink {
        run_id: headers.run_id().as_str().to_owned(),
        step,
    });
}

/// The run a trigger creates, and its first message: a delivery in the unknown-SDK form whose
/// body is `[{"messageId": <this message>, "body": <base64 of the trigger body>, "callType":
/// "step"}]`.
pub(crate) fn trigger_run(
    tenant: &str,
    run_id: &str,
    workflow_url: &str,
    initial_body: &[u8],
    config: &RunConfig,
    (mut first, mut envelope): (NewMessage, Envelope),
    now: Millis,
) -> (NewRun, NewMessage) {
    envelope.kind = Kind::Message;
    envelope.content_type = Some("application/json".into());
    config.apply(&mut first, &mut envelope, run_id, workflow_url);
    envelope.workflow = Some(WorkflowInfo {
        run_id: run_id.to_owned(),
        url: workflow_url.to_owned(),
        created_at: now,
        feature_set: None,
        role: WorkflowRole::Trigger,
    });
    first.body = steps_body(&[RunStep {
        seq: 0,
        message_id: first.id.clone(),
        body: initial_body.to_vec(),
        created_at: now,
    }]);
    first.extra = envelope.encode();
    first.run = Some(RunLink {
        run_id: run_id.to_owned(),
        step: false,
    });
    let run = NewRun {
        tenant: tenant.to_owned(),
        run_id: run_id.to_owned(),
        workflow_url: workflow_url.to_owned(),
        created_at: now,
        initial_body: initial_body.to_vec(),
        labels: config.labels.clone(),
        config: config.encode(),
    };
    (run, first)
}

/// The run an Init message starts when no trigger created it (the SDK's own `Client.trigger`,
/// or a plain POST to a `serve()` endpoint). What the Init message configured (retries, retry
/// delay, flow control, labels, failure callback) belongs to the run, as a trigger's would
/// (`WF_TriggerOnConfig`): the SDK's later step messages do not repeat it.
pub(crate) fn init_run(tenant: &str, headers: &RunMessage, message: &NewMessage) -> NewRun {
    let envelope = Envelope::decode(&message.extra);
    let gave_retries = message
        .headers
        .iter()
        .any(|(n, _)| n.eq_ignore_ascii_case(qstash_protocol::header::RETRIES.as_str()));
    let config = RunConfig {
        retries: gave_retries.then_some(message.max_retries),
        retry_delay: envelope.retry_delay.clone(),
        flow_key: message.flow_key.clone(),
        flow_limits: message.flow_limits.map(Into::into),
        labels: message.labels.clone(),
        failure_callback: envelope.failure_callback.clone(),
        failure_callback_forward: envelope.failure_callback_forward.clone(),
        ..RunConfig::default()
    };
    NewRun {
        tenant: tenant.to_owned(),
        run_id: headers.run_id().as_str().to_owned(),
        workflow_url: headers
            .url()
            .map_or_else(|| message.destination.clone(), |u| u.as_str().to_owned()),
        created_at: message.created_at,
        initial_body: message.body.clone(),
        labels: message.labels.clone(),
        config: config.encode(),
    }
}

/// Adds to a callback's forwarded headers the workflow headers a message gives it:
/// `{prefix}Workflow-*` and `{prefix}Feature-Set` (with `prefix` `Upstash-Callback-` or
/// `Upstash-Failure-Callback-`) are sent to the callback as `Upstash-Workflow-*` and
/// `Upstash-Feature-Set` (upstream). The SDK sets them on `context.call` (its call result needs
/// the run id) and through `Client.trigger` (its failure function needs it). A header the
/// callback already forwards is kept as it is.
pub(crate) fn add_callback_workflow_headers(
    headers: &[(String, String)],
    prefix: &str,
    forward: &mut Vec<(String, String)>,
) {
    for (name, value) in headers {
        let Some(rest) = name
            .get(..prefix.len())
            .filter(|p| p.eq_ignore_ascii_case(prefix))
            .and_then(|_| name.get(prefix.len()..))
        else {
            continue;
        };
        let lower = rest.to_ascii_lowercase();
        if !(lower.starts_with("workflow-") || lower == "feature-set") {
            continue;
        }
        let target = format!("Upstash-{rest}");
        if !forward.iter().any(|(n, _)| n.eq_ignore_ascii_case(&target)) {
            forward.push((target, value.clone()));
        }
    }
}
