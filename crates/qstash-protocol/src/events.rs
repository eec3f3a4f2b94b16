//! Message logs (`SERVER.md` §7): `GET /v2/events` (and `/v2/logs`) with its query, the
//! answer and its events.

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::error::{DecodeError, ValueError, ValueErrorKind};
use crate::filters::{Keys, ListFilter};
use crate::runs::{Query, param};
use crate::uri::{decode_component, query_pairs};
use crate::values::{Label, check_token, parse_u64};

/// The path of the message logs: `GET {base}/v2/events`.
pub const EVENTS_PATH: &str = "/v2/events";
/// Another path of the same logs: `GET {base}/v2/logs`.
pub const LOGS_V2_PATH: &str = "/v2/logs";

/// The state of a message an event reports (`SERVER.md` §7).
///
/// Serialised and displayed as the wire names (`CANCEL_REQUESTED`); parsing also accepts
/// upstream's spelling `CANCELED` for [`Cancelled`](Self::Cancelled).
///
/// ```
/// use qstash_protocol::EventState;
///
/// assert_eq!("RETRY".parse::<EventState>()?, EventState::Retry);
/// assert_eq!(EventState::CancelRequested.to_string(), "CANCEL_REQUESTED");
/// assert_eq!("CANCELED".parse::<EventState>()?, EventState::Cancelled);
/// assert!("retry".parse::<EventState>().is_err());
/// # Ok::<(), qstash_protocol::ValueError>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum EventState {
    /// `CREATED`: accepted.
    Created,
    /// `ACTIVE`: an attempt is in flight.
    Active,
    /// `RETRY`: an attempt failed and another one is scheduled.
    Retry,
    /// `ERROR`: an attempt failed.
    Error,
    /// `DELIVERED`: an attempt succeeded.
    Delivered,
    /// `FAILED`: the last attempt failed; the message is in the DLQ.
    Failed,
    /// `CANCEL_REQUESTED`: a cancel was asked for.
    CancelRequested,
    /// `CANCELLED`: cancelled.
    Cancelled,
}

impl EventState {
    /// Every state.
    pub const ALL: [EventState; 8] = [
        EventState::Created,
        EventState::Active,
        EventState::Retry,
        EventState::Error,
        EventState::Delivered,
        EventState::Failed,
        EventState::CancelRequested,
        EventState::Cancelled,
    ];

    /// The wire name (`DELIVERED`).
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            EventState::Created => "CREATED",
            EventState::Active => "ACTIVE",
            EventState::Retry => "RETRY",
            EventState::Error => "ERROR",
            EventState::Delivered => "DELIVERED",
            EventState::Failed => "FAILED",
            EventState::CancelRequested => "CANCEL_REQUESTED",
            EventState::Cancelled => "CANCELLED",
        }
    }
}

impl fmt::Display for EventState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for EventState {
    type Err = ValueError;

    /// The wire name, case-sensitive; `CANCELED` is read as `CANCELLED`.
    fn from_str(s: &str) -> Result<EventState, ValueError> {
        if s == "CANCELED" {
            return Ok(EventState::Cancelled);
        }
        EventState::ALL
            .into_iter()
            .find(|st| st.as_str() == s)
            .ok_or_else(|| {
                ValueError::new(
                    "event state",
                    ValueErrorKind::UnknownValue,
                    s.as_bytes(),
                    0,
                    s.len(),
                )
            })
    }
}

impl Serialize for EventState {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for EventState {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<EventState, D::Error> {
        struct V;
        impl serde::de::Visitor<'_> for V {
            type Value = EventState;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an event state")
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<EventState, E> {
                v.parse().map_err(E::custom)
            }
        }
        d.deserialize_str(V)
    }
}

/// One event of the message logs (upstream names, `Log` of `@upstash/qstash`).
///
/// ```
/// use qstash_protocol::{Event, EventState};
///
/// let mut e = Event::new(1_767_225_600_000, "msg_1", EventState::Error, "https://example.com/hook");
/// e.response_status = Some(500);
/// e.error = Some("Internal Server Error".into());
/// let json = serde_json::to_string(&e)?;
/// assert_eq!(
///     json,
///     r#"{"time":1767225600000,"messageId":"msg_1","state":"ERROR","url":"https://example.com/hook","responseStatus":500,"error":"Internal Server Error"}"#
/// );
/// assert_eq!(serde_json::from_str::<Event>(&json)?, e);
/// # Ok::<(), serde_json::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct Event {
    /// When it happened, in milliseconds since the unix epoch.
    pub time: u64,
    /// The message.
    pub message_id: String,
    /// The message's state.
    pub state: EventState,
    /// The message's destination.
    pub url: String,
    /// The status of the attempt's response, when there was one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub response_status: Option<u16>,
    /// What went wrong, for `ERROR`, `RETRY` and `FAILED`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// When the next attempt is due, in milliseconds since the unix epoch.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_delivery_time: Option<u64>,
    /// The message's headers (upstream shows one value per name).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub header: Option<BTreeMap<String, String>>,
    /// The message's body, base64 (upstream).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body: Option<String>,
    /// The first label (upstream's deprecated single label).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub label: Option<String>,
    /// Every label.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub labels: Vec<String>,
}

impl Event {
    /// An event with its time (ms), message, state and destination; every other field
    /// absent.
    #[must_use]
    pub fn new(
        time: u64,
        message_id: impl Into<String>,
        state: EventState,
        url: impl Into<String>,
    ) -> Event {
        Event {
            time,
            message_id: message_id.into(),
            state,
            url: url.into(),
            response_status: None,
            error: None,
            next_delivery_time: None,
            header: None,
            body: None,
            label: None,
            labels: Vec::new(),
        }
    }
}

/// The answer of the message logs: `{"cursor": …, "events": […]}`, newest first.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[non_exhaustive]
pub struct EventsResponse {
    /// Where the next page starts; absent on the last page.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cursor: Option<String>,
    /// The events of this page.
    #[serde(default)]
    pub events: Vec<Event>,
}

impl EventsResponse {
    /// A page of events and the cursor of the next one.
    #[must_use]
    pub fn new(events: Vec<Event>, cursor: Option<String>) -> EventsResponse {
        EventsResponse { cursor, events }
    }
}

/// The query of the message logs: `GET /v2/events?cursor=…&count=…&messageId=…&state=…&url=…&label=…`.
///
/// Every field is an optional filter; values are percent-encoded. An empty parameter
/// (`cursor=`) reads as absent; a repeated key or a comma list is a list of values (any
/// matches); an unknown parameter is an error naming it.
///
/// ```
/// use qstash_protocol::{EventState, EventsQuery};
///
/// let q = EventsQuery::new()
///     .with_count(50)
///     .with_state(EventState::Failed)
///     .with_url("https://example.com/a b");
/// let qs = q.to_query_string();
/// assert_eq!(qs, "count=50&state=FAILED&url=https%3A%2F%2Fexample.com%2Fa%20b");
/// assert_eq!(EventsQuery::from_query(&qs)?, q);
///
/// let err = EventsQuery::from_query("count=ten").unwrap_err();
/// assert_eq!(err.field(), Some("count"));
/// # Ok::<(), qstash_protocol::DecodeError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
pub struct EventsQuery {
    /// Where the previous page stopped ([`EventsResponse::cursor`]).
    pub cursor: Option<String>,
    /// How many events per page.
    pub count: Option<u32>,
    /// Only this message's events.
    pub message_id: Option<String>,
    /// Only events in this state.
    pub state: Option<EventState>,
    /// Only events of messages to this destination.
    pub url: Option<String>,
    /// Only events of messages with this label.
    pub label: Option<Label>,
    /// Every filter as lists (repeated keys, comma lists, dates); the single fields above
    /// hold the first value of theirs.
    pub filter: ListFilter,
}

impl EventsQuery {
    /// No filter.
    #[must_use]
    pub fn new() -> EventsQuery {
        EventsQuery::default()
    }

    /// Starts where the previous page stopped.
    #[must_use]
    pub fn with_cursor(mut self, cursor: impl Into<String>) -> EventsQuery {
        self.cursor = Some(cursor.into());
        self
    }

    /// `count` events per page.
    #[must_use]
    pub fn with_count(mut self, count: u32) -> EventsQuery {
        self.count = Some(count);
        self
    }

    /// Only the events of the message `id`.
    #[must_use]
    pub fn with_message_id(mut self, id: impl Into<String>) -> EventsQuery {
        let id = id.into();
        self.filter.message_ids.push(id.clone());
        self.message_id = Some(id);
        self
    }

    /// Only events in `state`.
    #[must_use]
    pub fn with_state(mut self, state: EventState) -> EventsQuery {
        self.filter.states.push(state);
        self.state = Some(state);
        self
    }

    /// Only events of messages to `url`.
    #[must_use]
    pub fn with_url(mut self, url: impl Into<String>) -> EventsQuery {
        let url = url.into();
        self.filter.urls.push(url.clone());
        self.url = Some(url);
        self
    }

    /// Only events of messages with `label`.
    #[must_use]
    pub fn with_label(mut self, label: Label) -> EventsQuery {
        self.filter.labels.push(label.clone());
        self.label = Some(label);
        self
    }

    /// The query string (without `?`) of the parameters that are set, in the order of the
    /// fields; empty when none is.
    #[must_use]
    pub fn to_query_string(&self) -> String {
        let mut q = Query::new("");
        if let Some(c) = &self.cursor {
            q.pair("cursor", c);
        }
        if let Some(n) = self.count {
            q.pair("count", &n.to_string());
        }
        if let Some(id) = &self.message_id {
            q.pair("messageId", id);
        }
        if let Some(s) = self.state {
            q.pair("state", s.as_str());
        }
        if let Some(u) = &self.url {
            q.pair("url", u);
        }
        if let Some(l) = &self.label {
            q.pair("label", l.as_str());
        }
        strip_question_mark(q.0)
    }

    /// Decodes a query string (with or without a leading `?`).
    ///
    /// # Errors
    /// A [`DecodeError`] naming the parameter that is repeated or malformed: a `count` that
    /// is not a `u32`, an unknown `state`, a `cursor` or `messageId` that is not 1..=256
    /// bytes of visible ASCII without `,`, an invalid `label`, a bad percent-escape.
    pub fn from_query(query: &str) -> Result<EventsQuery, DecodeError> {
        let mut out = EventsQuery::default();
        for (key, value) in query_pairs(query.strip_prefix('?').unwrap_or(query)) {
            if value.is_empty() {
                continue;
            }
            let key = decode_component("query parameter", key)
                .map_err(|e| DecodeError::invalid("query parameter", e))?;
            match key.as_str() {
                "cursor" => param(&mut out.cursor, "cursor", value, |s| token("cursor", s))?,
                "count" => param(&mut out.count, "count", value, parse_count)?,
                other => out.filter.take(other, value, Keys::Events)?,
            }
        }
        out.message_id = out.filter.message_ids.first().cloned();
        out.state = out.filter.states.first().copied();
        out.url = out.filter.urls.first().cloned();
        out.label = out.filter.labels.first().cloned();
        Ok(out)
    }
}

/// Checks an opaque token read from a query.
pub(crate) fn token(what: &'static str, s: String) -> Result<String, ValueError> {
    check_token(what, &s)?;
    Ok(s)
}

/// Parses a `count` parameter.
pub(crate) fn parse_count(s: String) -> Result<u32, ValueError> {
    let n = parse_u64("count", s.as_bytes(), u64::from(u32::MAX))?;
    Ok(u32::try_from(n).unwrap_or(u32::MAX))
}

/// A query built by [`Query`] from an empty path, without its leading `?`.
pub(crate) fn strip_question_mark(s: String) -> String {
    match s.strip_prefix('?') {
        Some(rest) => rest.to_owned(),
        None => s,
    }
}
