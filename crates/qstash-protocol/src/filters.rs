//! The list filters the SDKs send as query parameters (`SERVER.md` §15): repeated keys and
//! comma lists (of ids, labels, states, statuses; never of URLs or keys) are lists, a value matches when it equals any of them, and separate filters
//! must all match. Shared by the message logs and the DLQ queries.

use crate::error::{DecodeError, DecodeErrorKind, ValueError};
use crate::events::{EventState, token};
use crate::message::CallbackState;
use crate::uri::decode_component;
use crate::values::{Label, parse_u64};

/// The filters of a list query; an empty list filters nothing.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
pub struct ListFilter {
    /// `messageId`/`messageIds`: only these messages.
    pub message_ids: Vec<String>,
    /// `dlqIds`: only these dead letters.
    pub dlq_ids: Vec<String>,
    /// `state`: only events in these states.
    pub states: Vec<EventState>,
    /// `url`: only messages to exactly one of these URLs.
    pub urls: Vec<String>,
    /// `label`: only messages with one of these labels.
    pub labels: Vec<Label>,
    /// `flowControlKey`: only messages with one of these keys.
    pub flow_control_keys: Vec<String>,
    /// `responseStatus`: only dead letters whose last response had one of these statuses.
    pub response_statuses: Vec<u16>,
    /// `fromDate`: only at or after this time (milliseconds since the unix epoch).
    pub from_date: Option<u64>,
    /// `toDate`: only at or before this time (milliseconds since the unix epoch).
    pub to_date: Option<u64>,
    /// `workflowRunId`/`workflowRunIds`: only messages of these runs.
    pub workflow_run_ids: Vec<String>,
    /// `workflowUrl`: only messages to URLs starting with this one.
    pub workflow_url: Option<String>,
    /// `workflowUrlExactMatch=true`: `workflow_url` must match whole.
    pub workflow_url_exact_match: bool,
    /// `failureCallbackState` (or the workflow SDK's `failureFunctionState`).
    pub failure_callback_states: Vec<CallbackState>,
}

/// Which filter keys an endpoint takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Keys {
    /// The message logs.
    Events,
    /// The DLQ (list, delete, retry).
    Dlq,
    /// The bulk cancel of messages.
    Messages,
}

/// Filter keys the SDKs may send that this server does not apply: a 400 naming them.
const UNSUPPORTED: &[&str] = &[
    "callerIp",
    "topicName",
    "urlGroup",
    "scheduleId",
    "queueName",
    "host",
    "path",
    "api",
    "workflowCreatedAt",
];

fn list<T>(
    out: &mut Vec<T>,
    name: &'static str,
    raw: &str,
    parse: impl Fn(String) -> Result<T, ValueError>,
) -> Result<(), DecodeError> {
    let value = decode_component(name, raw).map_err(|e| DecodeError::invalid(name, e))?;
    for part in value.split(',').filter(|p| !p.is_empty()) {
        out.push(parse(part.to_owned()).map_err(|e| DecodeError::invalid(name, e))?);
    }
    Ok(())
}

/// One value per key, kept whole (a URL or a key may contain commas).
fn whole(out: &mut Vec<String>, name: &'static str, raw: &str) -> Result<(), DecodeError> {
    out.push(decode_component(name, raw).map_err(|e| DecodeError::invalid(name, e))?);
    Ok(())
}

fn date(slot: &mut Option<u64>, name: &'static str, raw: &str) -> Result<(), DecodeError> {
    if slot.is_some() {
        return Err(DecodeError::at(DecodeErrorKind::Duplicate, name));
    }
    let value = decode_component(name, raw)
        .and_then(|s| parse_u64(name, s.as_bytes(), u64::MAX))
        .map_err(|e| DecodeError::invalid(name, e))?;
    *slot = Some(value);
    Ok(())
}

fn status(s: String) -> Result<u16, ValueError> {
    let n = parse_u64("status", s.as_bytes(), 599)?;
    Ok(u16::try_from(n).unwrap_or(599))
}

fn callback_state(s: String) -> Result<CallbackState, ValueError> {
    serde_json::from_value(serde_json::Value::String(s.clone())).map_err(|_| {
        ValueError::new(
            "failure callback state",
            crate::error::ValueErrorKind::UnknownValue,
            s.as_bytes(),
            0,
            s.len(),
        )
    })
}

impl ListFilter {
    /// No filter.
    #[must_use]
    pub fn new() -> ListFilter {
        ListFilter::default()
    }

    /// Whether no filter is set.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        *self == ListFilter::default()
    }

    /// Takes one query pair (`key` decoded, `raw` still percent-encoded) when `key` is a
    /// filter of `keys`.
    ///
    /// # Errors
    /// An invalid value, or [`DecodeErrorKind::UnknownParameter`] for a key that is neither
    /// one of `keys`' filters nor `also` (the caller's own parameters).
    pub(crate) fn take(&mut self, key: &str, raw: &str, keys: Keys) -> Result<(), DecodeError> {
        let dlq = keys == Keys::Dlq;
        match key {
            "messageId" | "messageIds" => list(&mut self.message_ids, "messageIds", raw, |s| {
                token("message id", s)
            }),
            "url" => whole(&mut self.urls, "url", raw),
            "label" => list(&mut self.labels, "label", raw, Label::new),
            "flowControlKey" => whole(&mut self.flow_control_keys, "flowControlKey", raw),
            "fromDate" => date(&mut self.from_date, "fromDate", raw),
            "toDate" => date(&mut self.to_date, "toDate", raw),
            "state" if keys == Keys::Events => list(&mut self.states, "state", raw, |s| s.parse()),
            "dlqIds" | "dlqIds[]" if dlq => {
                list(&mut self.dlq_ids, "dlqIds", raw, |s| token("DLQ id", s))
            }
            "responseStatus" if dlq => {
                list(&mut self.response_statuses, "responseStatus", raw, status)
            }
            "workflowRunId" | "workflowRunIds" if dlq => {
                list(&mut self.workflow_run_ids, "workflowRunId", raw, |s| {
                    token("workflow run id", s)
                })
            }
            "workflowUrl" if dlq => {
                let v = decode_component("workflowUrl", raw)
                    .map_err(|e| DecodeError::invalid("workflowUrl", e))?;
                if self.workflow_url.replace(v).is_some() {
                    return Err(DecodeError::at(DecodeErrorKind::Duplicate, "workflowUrl"));
                }
                Ok(())
            }
            "workflowUrlExactMatch" if dlq => {
                self.workflow_url_exact_match = raw == "true";
                Ok(())
            }
            "failureCallbackState" | "failureFunctionState" if dlq => list(
                &mut self.failure_callback_states,
                "failureCallbackState",
                raw,
                callback_state,
            ),
            other => {
                let what = if UNSUPPORTED.contains(&other) {
                    "a filter this server does not apply"
                } else {
                    "unknown"
                };
                Err(
                    DecodeError::at(DecodeErrorKind::UnknownParameter, other.to_owned())
                        .with_detail(what),
                )
            }
        }
    }
}

/// The bulk cancel of messages: `DELETE /v2/messages?messageIds=a&messageIds=b`, with filters
/// (`url`, `label`, `flowControlKey`, `fromDate`, `toDate`), or every message (`count` alone,
/// as the SDKs' `{all: true}` sends it); also a JSON body `{"messageIds": [...]}`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
pub struct MessageCancelQuery {
    /// The messages to cancel: those that match every filter.
    pub filter: ListFilter,
    /// `count` was given (upstream ignores its value): with no filter, cancel every message.
    pub all: bool,
}

impl MessageCancelQuery {
    /// Decodes the query string (with or without `?`) and the body (empty, or JSON with
    /// `messageIds`).
    ///
    /// # Errors
    /// A [`DecodeError`] naming an invalid or unknown parameter, or
    /// [`DecodeErrorKind::MissingFilter`] when nothing names the messages.
    pub fn decode(query: &str, body: &[u8]) -> Result<MessageCancelQuery, DecodeError> {
        let mut out = MessageCancelQuery::default();
        for (key, value) in crate::uri::query_pairs(query.strip_prefix('?').unwrap_or(query)) {
            if value.is_empty() {
                continue;
            }
            let key = decode_component("query parameter", key)
                .map_err(|e| DecodeError::invalid("query parameter", e))?;
            match key.as_str() {
                "count" | "cursor" => out.all = true,
                other => out.filter.take(other, value, Keys::Messages)?,
            }
        }
        if !body.iter().all(u8::is_ascii_whitespace) {
            #[derive(serde::Deserialize)]
            #[serde(rename_all = "camelCase")]
            struct Body {
                #[serde(default)]
                message_ids: Vec<String>,
            }
            let b: Body = serde_json::from_slice(body).map_err(|_| {
                DecodeError::at(DecodeErrorKind::InvalidValue, "body")
                    .with_detail("expected {\"messageIds\": [...]}")
            })?;
            for id in b.message_ids {
                out.filter.message_ids.push(
                    token("message id", id).map_err(|e| DecodeError::invalid("messageIds", e))?,
                );
            }
        }
        if out.filter.is_empty() && !out.all {
            return Err(DecodeError::at(
                DecodeErrorKind::MissingFilter,
                "messageIds",
            ));
        }
        Ok(out)
    }
}
