//! The step protocol's data as it travels: the step JSON, the delivery's step array, the
//! headers of a run's messages and the messages handed to `POST /v2/batch`
//! (SERVER.md §9, workflow-sdk-traffic.md).

use std::collections::BTreeMap;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::error::{Error, ErrorKind};

/// `Upstash-Workflow-Sdk-Version`: the protocol version spoken.
pub(crate) const PROTOCOL_VERSION: &str = "1";
/// The feature set `@upstash/workflow` 1.3 puts on a run's messages.
pub(crate) const FEATURES: &str = "LazyFetch,InitialBody,WF_DetectTrigger,WF_TriggerOnConfig";
/// The SDK version the endpoint answers with (`Upstash-Workflow-Sdk`), as the official SDK.
pub(crate) const SDK_ANSWER_VERSION: &str = "v1.3.2";
/// `Upstash-Telemetry-Sdk` of this crate's messages.
pub(crate) const TELEMETRY_SDK: &str = concat!("qstash-workflow@v", env!("CARGO_PKG_VERSION"));

/// One step as recorded by the server: what a step message's body holds.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Step {
    /// The step's position (1-based); 0 for a parallel group's plan step.
    pub step_id: u64,
    /// The name given to the step.
    pub step_name: String,
    /// `Initial`, `Run`, `SleepFor`, `SleepUntil`, `Call`, `Wait`, `Notify`, …
    pub step_type: String,
    /// The memoised output: a JSON text (or, for a `Wait`, the base64 of the event data).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub out: Option<Value>,
    /// A `SleepFor`'s seconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sleep_for: Option<Value>,
    /// A `SleepUntil`'s Unix second.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sleep_until: Option<u64>,
    /// A `Wait`'s event id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub wait_event_id: Option<String>,
    /// A `Wait`'s timeout (`"1h"`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout: Option<String>,
    /// How many steps run in parallel with this one (1 when alone).
    pub concurrent: u64,
    /// A plan step's target step id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target_step: Option<u64>,
    /// A `Wait` that ended by its timeout.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub wait_timeout: Option<bool>,
}

impl Step {
    /// The id this step sorts by: its target for a plan step, else its id.
    pub(crate) fn order_id(&self) -> u64 {
        self.target_step.filter(|t| *t != 0).unwrap_or(self.step_id)
    }
}

/// One element of a delivery's step array.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct RawStep {
    #[serde(default)]
    pub message_id: String,
    #[serde(default)]
    pub body: String,
    #[serde(default)]
    pub call_type: Option<String>,
}

/// Decodes standard base64 (as `atob` does: padding optional).
pub(crate) fn decode_base64(s: &str) -> Result<Vec<u8>, Error> {
    let trimmed = s.trim_end_matches('=');
    base64::engine::general_purpose::STANDARD_NO_PAD
        .decode(trimmed)
        .map_err(|e| {
            Error::new(
                ErrorKind::Protocol,
                format!("a step body is not base64: {e}"),
            )
        })
}

/// Encodes standard base64.
pub(crate) fn encode_base64(bytes: &[u8]) -> String {
    STANDARD.encode(bytes)
}

/// A delivery's step array, decoded: the initial payload and the steps after it (only those
/// with `callType` `step`), the initial one first as a step of type `Initial`.
pub(crate) fn process_raw_steps(raw: &[RawStep]) -> Result<(Vec<u8>, Vec<Step>), Error> {
    let (first, rest) = raw
        .split_first()
        .ok_or_else(|| Error::new(ErrorKind::Protocol, "the step array is empty"))?;
    let payload = decode_base64(&first.body)?;
    let mut steps = vec![Step {
        step_id: 0,
        step_name: "init".into(),
        step_type: "Initial".into(),
        out: Some(Value::String(
            String::from_utf8_lossy(&payload).into_owned(),
        )),
        concurrent: 1,
        ..Step::default()
    }];
    for (i, item) in rest.iter().enumerate() {
        if item.call_type.as_deref().unwrap_or("step") != "step" {
            continue;
        }
        let body = decode_base64(&item.body)?;
        let step: Step = serde_json::from_slice(&body).map_err(|e| {
            Error::new(
                ErrorKind::Protocol,
                format!("step {} of the step array is not a step: {e}", i + 1),
            )
        })?;
        steps.push(step);
    }
    Ok((payload, steps))
}

/// True when the last step repeats an earlier one (same id and target): a duplicate
/// delivery, answered `duplicate-step` without running anything.
pub(crate) fn last_is_duplicate(steps: &[Step]) -> bool {
    let Some((last, earlier)) = steps.split_last() else {
        return false;
    };
    steps.len() >= 2
        && earlier
            .iter()
            .any(|s| s.step_id == last.step_id && s.target_step == last.target_step)
}

/// The steps without repeats: plan steps by target, others by id; first one kept.
pub(crate) fn deduplicate(steps: Vec<Step>) -> Vec<Step> {
    let mut targets = Vec::new();
    let mut ids = Vec::new();
    let mut out = Vec::with_capacity(steps.len());
    for step in steps {
        if step.step_id == 0 {
            let t = step.target_step.unwrap_or(0);
            if !targets.contains(&t) {
                targets.push(t);
                out.push(step);
            }
        } else if !ids.contains(&step.step_id) {
            ids.push(step.step_id);
            out.push(step);
        }
    }
    out
}

/// One message handed to `POST /v2/batch`: `{"destination", "headers", "body"}` with the
/// headers lower-case and sorted, as the official SDK's client sends them.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct OutgoingMessage {
    /// Where the server delivers it.
    pub destination: String,
    /// The message's headers (`upstash-*` ones configure the message, the rest are sent).
    pub headers: BTreeMap<String, String>,
    /// The message body.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub body: Option<String>,
}

/// The headers every message of a run carries (the SDK's `getHeaders`), lower-case.
#[derive(Debug, Clone, Default)]
pub(crate) struct RunHeaders {
    pub init: bool,
    pub run_id: String,
    pub url: String,
    /// Retries, retry delay and flow control of the workflow's messages.
    pub retries: Option<u32>,
    pub retry_delay: Option<String>,
    pub flow_control: Option<(String, String)>,
    /// The failure function's callback URL (the workflow URL) when there is one.
    pub failure_url: Option<String>,
    /// Headers to forward on the run's deliveries (`Upstash-Forward-*`).
    pub user_headers: Vec<(String, String)>,
    /// The content type (default `application/json`).
    pub content_type: Option<String>,
    /// A `context.call` step: the workflow headers go to the callback.
    pub call: bool,
    /// How deep in a chain of `context.invoke` the run is (`Upstash-Workflow-Invoke-Count`).
    pub invoke_count: u32,
}

impl RunHeaders {
    pub(crate) fn build(&self) -> BTreeMap<String, String> {
        let mut h = BTreeMap::new();
        let mut put = |k: &str, v: &str| {
            h.insert(k.to_ascii_lowercase(), v.to_owned());
        };
        put(
            "upstash-workflow-init",
            if self.init { "true" } else { "false" },
        );
        put("upstash-workflow-runid", &self.run_id);
        put("upstash-workflow-url", &self.url);
        put("upstash-feature-set", FEATURES);
        put("upstash-workflow-sdk-version", PROTOCOL_VERSION);
        put("upstash-telemetry-sdk", TELEMETRY_SDK);
        put("upstash-telemetry-framework", "axum");
        put("upstash-telemetry-runtime", "rust");
        if !self.call {
            put(
                "upstash-forward-upstash-workflow-sdk-version",
                PROTOCOL_VERSION,
            );
        }
        let prefix = if self.call {
            "upstash-callback-"
        } else {
            "upstash-"
        };
        let mut workflow: Vec<(String, String)> = Vec::new();
        let mut failure: Vec<(String, String)> = Vec::new();
        let has_failure = self.failure_url.is_some();
        if let Some(r) = self.retries.filter(|r| *r != 3) {
            workflow.push(("retries".into(), r.to_string()));
            if has_failure {
                failure.push(("retries".into(), r.to_string()));
            }
        }
        if let Some(d) = self.retry_delay.as_ref().filter(|d| !d.is_empty()) {
            workflow.push(("retry-delay".into(), d.clone()));
            if has_failure {
                failure.push(("retry-delay".into(), d.clone()));
            }
        }
        if let Some((k, v)) = &self.flow_control {
            workflow.push(("flow-control-key".into(), k.clone()));
            workflow.push(("flow-control-value".into(), v.clone()));
            if has_failure {
                failure.push(("flow-control-key".into(), k.clone()));
                failure.push(("flow-control-value".into(), v.clone()));
            }
        }
        for (k, v) in &self.user_headers {
            workflow.push((format!("forward-{k}"), v.clone()));
            if has_failure {
                failure.push((format!("forward-{k}"), v.clone()));
            }
        }
        if self.invoke_count > 0 {
            let n = self.invoke_count.to_string();
            workflow.push(("forward-upstash-workflow-invoke-count".into(), n.clone()));
            if has_failure {
                failure.push(("forward-upstash-workflow-invoke-count".into(), n.clone()));
            }
            if self.call {
                put("upstash-forward-upstash-workflow-invoke-count", &n);
            }
        }
        if let Some(url) = &self.failure_url {
            workflow.push(("failure-callback".into(), url.clone()));
            failure.push(("forward-upstash-workflow-is-failure".into(), "true".into()));
            failure.push((
                "forward-upstash-workflow-failure-callback".into(),
                "true".into(),
            ));
            failure.push(("workflow-runid".into(), self.run_id.clone()));
            failure.push(("workflow-init".into(), "false".into()));
            failure.push(("workflow-url".into(), url.clone()));
            failure.push(("workflow-calltype".into(), "failureCall".into()));
            failure.push(("feature-set".into(), FEATURES.into()));
        }
        put(
            "content-type",
            self.content_type.as_deref().unwrap_or("application/json"),
        );
        for (k, v) in workflow {
            put(&format!("{prefix}{k}"), &v);
        }
        for (k, v) in &failure {
            put(&format!("upstash-failure-callback-{k}"), v);
        }
        if self.call {
            for (k, v) in &failure {
                put(&format!("upstash-callback-failure-callback-{k}"), v);
            }
        }
        h
    }
}

/// A JSON text without the whitespace between its tokens (key order and numbers kept as
/// written), as `JSON.stringify(JSON.parse(text))` gives for ordinary JSON.
pub(crate) fn compact_json(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut in_string = false;
    let mut escaped = false;
    for c in text.chars() {
        if in_string {
            out.push(c);
            if escaped {
                escaped = false;
            } else if c == '\\' {
                escaped = true;
            } else if c == '"' {
                in_string = false;
            }
        } else if c == '"' {
            in_string = true;
            out.push(c);
        } else if !c.is_whitespace() {
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compact_json_keeps_strings_and_order() {
        assert_eq!(
            compact_json("{ \"b\" : 1,\n \"a\": \"x y\\\" z\" }"),
            "{\"b\":1,\"a\":\"x y\\\" z\"}"
        );
    }

    #[test]
    fn duplicates_and_dedup() {
        let s = |id, t: Option<u64>| Step {
            step_id: id,
            target_step: t,
            ..Step::default()
        };
        let steps = vec![s(0, None), s(1, None), s(0, Some(2)), s(1, None)];
        assert!(last_is_duplicate(&steps));
        assert_eq!(deduplicate(steps).len(), 3);
    }

    #[test]
    fn run_step_json_has_the_sdk_field_order() {
        let step = Step {
            step_id: 1,
            step_name: "a".into(),
            step_type: "Run".into(),
            out: Some(Value::String("2".into())),
            concurrent: 1,
            ..Step::default()
        };
        assert_eq!(
            serde_json::to_string(&step).unwrap(),
            r#"{"stepId":1,"stepName":"a","stepType":"Run","out":"2","concurrent":1}"#
        );
    }
}
