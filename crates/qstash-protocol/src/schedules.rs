//! Schedules (`/v2/schedules`): the schedule object and the answer to a create, as the
//! official SDK reads them (`@upstash/qstash` `Schedule`).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::HeaderLists;

/// The path of the schedules API.
pub const SCHEDULES_PATH: &str = "/v2/schedules";

/// The header that carries a schedule's cron expression on a create.
pub const CRON_HEADER: &str = "Upstash-Cron";

/// The header that names the schedule to create or replace, and that a tick's delivery carries.
pub const SCHEDULE_ID_HEADER: &str = "Upstash-Schedule-Id";

/// A schedule, as `GET /v2/schedules/{id}` answers it.
///
/// ```
/// let json = r#"{"scheduleId":"scd_1","cron":"* * * * *","createdAt":1,"destination":"https://example.com","method":"POST","retries":3,"isPaused":false}"#;
/// let s: qstash_protocol::Schedule = serde_json::from_str(json)?;
/// assert_eq!(s.cron, "* * * * *");
/// assert!(!s.is_paused);
/// # Ok::<(), serde_json::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct Schedule {
    /// The schedule's id.
    pub schedule_id: String,
    /// The cron expression, as given.
    pub cron: String,
    /// When it was created (unix milliseconds).
    pub created_at: u64,
    /// Where each tick publishes to: a URL or a URL group's name.
    pub destination: String,
    /// The HTTP method of the published messages.
    pub method: String,
    /// The headers published with each message.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub header: HeaderLists,
    /// The body, when it is UTF-8.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body: Option<String>,
    /// The body in base64, when it is not UTF-8.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body_base64: Option<String>,
    /// The retries each message gets.
    pub retries: u32,
    /// The delay of each message after its tick, in seconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delay: Option<u64>,
    /// The callback URL.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub callback: Option<String>,
    /// The failure callback URL.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failure_callback: Option<String>,
    /// Whether it is paused.
    pub is_paused: bool,
    /// The queue its messages are enqueued to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub queue_name: Option<String>,
    /// The time of the last tick that published (unix milliseconds).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_schedule_time: Option<u64>,
    /// The time of the next tick (unix milliseconds), absent while paused or when there is none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_schedule_time: Option<u64>,
    /// The states of the last tick's messages, by message id.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub last_schedule_states: BTreeMap<String, String>,
}

/// The answer to `POST /v2/schedules/{destination}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ScheduleCreated {
    /// The schedule's id (the one asked for, or a new one).
    pub schedule_id: String,
}
