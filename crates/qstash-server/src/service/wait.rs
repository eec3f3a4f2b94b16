//! A run's wait for an event (`context.waitForEvent`) and its release (`notify`).
//!
//! A wait is a step message of its run (`stepType: "Wait"`) stored as a waiter, due when the
//! wait times out with the body `{…, "waitTimeout": true}`. A notify releases every waiter of
//! the tenant with that event id: the store swaps the body for `{…, "out": <standard base64 of
//! the event data>, "waitTimeout": false}` and makes it due now, in one transaction that
//! excludes the timeout's delivery, so that a wait ends with exactly one delivery.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use bytes::Bytes;
use http::HeaderMap;
use qstash_protocol::PublishRequest;
use qstash_store::{Millis, Waiter};
use serde::Deserialize;
use serde_json::{Map, Value, json};

use super::{Error, Result, Service};
use crate::engine::outcome::header_lists;

/// The body of `POST /v2/wait/{eventId}` (the SDK's `WaitRequest`).
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct WaitRequest {
    /// The workflow URL the event's step is delivered to.
    url: String,
    /// How long to wait (`"7d"`, `"20s"`); the SDK always sends one.
    timeout: Option<Value>,
    /// Where the timeout is delivered (the SDK sends the workflow URL).
    #[serde(default)]
    timeout_url: Option<String>,
    /// The step being waited on: `stepId`, `stepName`, `stepType`, `concurrent`, `targetStep`.
    step: Map<String, Value>,
}

/// Headers of the wait request that are about the request itself, not the message.
const NOT_FORWARDED: [&str; 6] = [
    "authorization",
    "content-length",
    "host",
    qstash_protocol::header::Known::Delay.as_str(),
    qstash_protocol::header::Known::NotBefore.as_str(),
    "connection",
];

impl Service {
    /// Registers a run's wait for `event_id` from the wait request's headers and JSON body;
    /// returns the id of the waiting step message.
    pub(crate) async fn wait(
        &self,
        tenant: &str,
        event_id: &str,
        headers: &HeaderMap,
        body: &[u8],
        now: Millis,
    ) -> Result<String> {
        let req: WaitRequest = serde_json::from_slice(body)
            .map_err(|e| Error::invalid(format!("a wait request must be JSON: {e}")))?;
        let timeout = match &req.timeout {
            Some(Value::String(s)) if !s.trim().is_empty() => s.trim().to_owned(),
            Some(Value::Number(n)) => format!("{n}s"),
            None => "7d".to_owned(),
            Some(other) => {
                return Err(Error::invalid(format!(
                    "timeout: {other} is not a duration"
                )));
            }
        };
        let step = wait_step(&req.step, event_id, &timeout)?;
        let mut message_headers = HeaderMap::new();
        for (name, value) in headers {
            if !NOT_FORWARDED.contains(&name.as_str()) {
                message_headers.append(name.clone(), value.clone());
            }
        }
        let delay = http::HeaderValue::from_str(&timeout)
            .map_err(|_| Error::invalid(format!("timeout: {timeout:?} is not a duration")))?;
        message_headers.insert(qstash_protocol::header::DELAY, delay);
        let destination = req.timeout_url.as_deref().unwrap_or(&req.url);
        let mut timed_out = step;
        timed_out.insert("waitTimeout".into(), Value::Bool(true));
        let publish = PublishRequest::from_parts(
            destination,
            &message_headers,
            Bytes::from(serde_json::to_vec(&timed_out).unwrap_or_default()),
        )
        .map_err(|e| Error::invalid(e.to_string()))?;
        let accepted = self.publish(tenant, &publish, now, Some(event_id)).await?;
        Ok(accepted.response.message_id)
    }

    /// Releases every waiter of the tenant with this event id (of one run, with `run_id`),
    /// with `event` as the event's data; returns the waiters notified (empty when none).
    pub(crate) async fn notify(
        &self,
        tenant: &str,
        event_id: &str,
        run_id: Option<&str>,
        event: &[u8],
        now: Millis,
    ) -> Result<Vec<Value>> {
        let store = &self.engine().store;
        let waiters = store.list_waiters(tenant, event_id, run_id).await?;
        let mut out = Vec::with_capacity(waiters.len());
        for waiter in &waiters {
            let body = released_body(waiter, event);
            // A waiter that timed out or was released by another notify meanwhile is skipped.
            if store
                .release_waiter(tenant, &waiter.message.message.id, body, now)
                .await?
            {
                out.push(json!({
                    "waiter": waiter_view(waiter),
                    "messageId": waiter.message.message.id,
                    "error": "",
                }));
            }
        }
        if !out.is_empty() {
            self.made_due();
        }
        Ok(out)
    }

    /// The tenant's waiters of this event that can still be notified, as upstream shows them.
    pub(crate) async fn waiters(&self, tenant: &str, event_id: &str) -> Result<Vec<Value>> {
        let waiters = self
            .engine()
            .store
            .list_waiters(tenant, event_id, None)
            .await?;
        Ok(waiters.iter().map(waiter_view).collect())
    }
}

/// The step a wait stores: the SDK's step with its wait fields, checked.
fn wait_step(
    step: &Map<String, Value>,
    event_id: &str,
    timeout: &str,
) -> Result<Map<String, Value>> {
    if !step.get("stepId").is_some_and(Value::is_u64) {
        return Err(Error::invalid("step.stepId must be a number"));
    }
    if !step.get("stepName").is_some_and(Value::is_string) {
        return Err(Error::invalid("step.stepName must be a string"));
    }
    let mut out = step.clone();
    out.entry("stepType")
        .or_insert_with(|| Value::String("Wait".into()));
    out.entry("concurrent").or_insert_with(|| Value::from(1));
    out.insert("waitEventId".into(), Value::String(event_id.to_owned()));
    out.insert("timeout".into(), Value::String(timeout.to_owned()));
    out.remove("out");
    out.remove("waitTimeout");
    Ok(out)
}

/// The step body a released waiter is delivered with: its step with the event's data.
fn released_body(waiter: &Waiter, event: &[u8]) -> Vec<u8> {
    let mut step: Map<String, Value> =
        serde_json::from_slice(&waiter.message.message.body).unwrap_or_default();
    step.insert("out".into(), Value::String(STANDARD.encode(event)));
    step.insert("waitTimeout".into(), Value::Bool(false));
    serde_json::to_vec(&step).unwrap_or_default()
}

/// A waiter as upstream shows it: `{url, deadline, headers, timeoutUrl, timeoutBody,
/// timeoutHeaders}` (the deadline in unix seconds).
fn waiter_view(waiter: &Waiter) -> Value {
    let m = &waiter.message.message;
    // The wait's own headers, without the delay this server added for the timeout.
    let kept: Vec<(String, String)> = m
        .headers
        .iter()
        .filter(|(n, _)| !n.eq_ignore_ascii_case(qstash_protocol::header::DELAY.as_str()))
        .cloned()
        .collect();
    let headers = header_lists(&kept);
    json!({
        "url": m.destination,
        "deadline": waiter.message.due_at / 1000,
        "headers": headers,
        "timeoutUrl": m.destination,
        "timeoutBody": Value::Null,
        "timeoutHeaders": headers,
    })
}
