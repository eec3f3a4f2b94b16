//! `context.invoke` of the official workflow SDKs: one run starting another and waiting for
//! its end.
//!
//! The invoking endpoint publishes the invoked workflow's Init message with
//! `Upstash-Workflow-Invoke: true` and, as its body, `{"body", "headers", "workflowRunId",
//! "workflowRunCreatedAt", "workflowUrl", "step"}`: the invoked run's payload, and what the
//! server needs to answer the invoker. The server starts the invoked run with `body` as its
//! payload and keeps the rest with the run ([`Invoker`]). When the invoked run ends (success,
//! cancel or failure) the server publishes the invoker's `Invoke` step to the invoker's
//! workflow URL with the invoker's headers: the step with `out` =
//! `{"body": <the invoked run's result>, "isFailed", "isCanceled"}` as JSON text.

use bytes::Bytes;
use http::{HeaderMap, HeaderName, HeaderValue};
use qstash_protocol::PublishRequest;
use qstash_store::{Millis, NewMessage, NewRun, RunState, StoredRun};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use super::{Error, Result, Service};
use crate::workflow::RunConfig;

/// The header that marks an Init message as a `context.invoke`.
const INVOKE_HEADER: &str = "upstash-workflow-invoke";

/// The invoking run, kept with the invoked run's configuration.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Invoker {
    /// The invoking run's id.
    pub run_id: String,
    /// The invoking workflow's URL: where the `Invoke` step goes.
    pub url: String,
    /// When the invoking run was created (Unix ms).
    #[serde(default)]
    pub created_at: u64,
    /// The headers of the `Invoke` step message (the invoking run's workflow headers).
    #[serde(default)]
    pub headers: Vec<(String, String)>,
    /// The `Invoke` step without its output (JSON text).
    pub step: String,
}

/// The body of an invoking Init message.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct InvokeRequest {
    #[serde(default)]
    body: Option<String>,
    #[serde(default)]
    headers: Map<String, Value>,
    workflow_run_id: String,
    #[serde(default)]
    workflow_run_created_at: Option<u64>,
    workflow_url: String,
    step: Map<String, Value>,
}

/// Whether a published message is the Init message of an invoke.
pub(crate) fn is_invoke(req: &PublishRequest) -> bool {
    req.extra_header(INVOKE_HEADER)
        .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"true"))
}

/// Turns the Init message of an invoke and the run it starts into the invoked run: the
/// payload is the request's `body`, and the invoker is kept with the run.
pub(crate) fn take_invoke(message: &mut NewMessage, run: &mut NewRun) -> Result<()> {
    let req: InvokeRequest = serde_json::from_slice(&message.body).map_err(|e| {
        Error::invalid(format!(
            "the body of a message with Upstash-Workflow-Invoke: true must be the invoke \
             request {{\"body\", \"headers\", \"workflowRunId\", \"workflowUrl\", \"step\"}}: {e}"
        ))
    })?;
    let mut headers: Vec<(String, String)> = Vec::new();
    for (name, values) in &req.headers {
        // Credentials never travel with the run.
        if name.eq_ignore_ascii_case("authorization") {
            continue;
        }
        let value = match values {
            Value::Array(a) => a.first().and_then(Value::as_str),
            Value::String(s) => Some(s.as_str()),
            _ => None,
        };
        let Some(value) = value else { continue };
        match headers
            .iter_mut()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
        {
            Some(existing) => existing.1 = value.to_owned(),
            None => headers.push((name.clone(), value.to_owned())),
        }
    }
    let invoker = Invoker {
        run_id: req.workflow_run_id,
        url: req.workflow_url,
        created_at: req.workflow_run_created_at.unwrap_or(0),
        headers,
        step: Value::Object(req.step).to_string(),
    };
    let body = req.body.unwrap_or_default().into_bytes();
    message.body.clone_from(&body);
    run.initial_body = body;
    let mut config = RunConfig::decode(&run.config);
    config.invoker = Some(invoker);
    run.config = config.encode();
    Ok(())
}

/// The invoker's `Invoke` step for an invoked run that ended.
fn result_step(invoker: &Invoker, run: &StoredRun) -> Vec<u8> {
    let mut step: Map<String, Value> = serde_json::from_str(&invoker.step).unwrap_or_default();
    let mut out = Map::new();
    if run.state == RunState::Success {
        let body = run
            .response
            .as_deref()
            .map(|r| String::from_utf8_lossy(r).into_owned())
            .unwrap_or_default();
        out.insert("body".into(), Value::String(body));
    }
    out.insert("isFailed".into(), json!(run.state == RunState::Failed));
    out.insert("isCanceled".into(), json!(run.state == RunState::Canceled));
    step.insert("out".into(), Value::String(Value::Object(out).to_string()));
    serde_json::to_vec(&step).unwrap_or_default()
}

impl Service {
    /// Answers the invoker of run `run_id` (when it was invoked and has ended): publishes the
    /// invoker's `Invoke` step. Safe to repeat (the step message carries a deduplication id);
    /// an invoker whose run has ended meanwhile is left alone.
    pub(crate) async fn answer_invoker(
        &self,
        tenant: &str,
        run_id: &str,
        now: Millis,
    ) -> Result<()> {
        let Some(run) = self.engine().store.get_run(tenant, run_id).await? else {
            return Ok(());
        };
        if run.state == RunState::Started {
            return Ok(());
        }
        let Some(invoker) = RunConfig::decode(&run.run.config).invoker else {
            return Ok(());
        };
        let mut headers = HeaderMap::new();
        for (name, value) in &invoker.headers {
            let (Ok(n), Ok(v)) = (
                HeaderName::from_bytes(name.to_ascii_lowercase().as_bytes()),
                HeaderValue::from_str(value),
            ) else {
                continue;
            };
            headers.insert(n, v);
        }
        if let Ok(v) = HeaderValue::from_str(&format!("invoke-result-{run_id}")) {
            headers.insert(qstash_protocol::header::DEDUPLICATION_ID, v);
        }
        let req = PublishRequest::from_parts(
            &invoker.url,
            &headers,
            Bytes::from(result_step(&invoker, &run)),
        )
        .map_err(|e| {
            Error::Internal(format!(
                "the invoker of run {run_id} cannot be answered: {e}"
            ))
        })?;
        // Boxed: publishing a step can end a run (the step cap), which answers its invoker.
        match Box::pin(self.publish(tenant, &req, now, None)).await {
            Ok(_) => Ok(()),
            Err(Error::Invalid(reason)) => {
                tracing::info!(
                    run_id,
                    invoker = invoker.run_id,
                    reason,
                    "the invoking run was not answered"
                );
                Ok(())
            }
            Err(e) => Err(e),
        }
    }
}
