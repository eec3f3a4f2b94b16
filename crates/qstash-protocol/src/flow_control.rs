//! The flow-control endpoints: `GET /v2/flowControl` and `GET /v2/flowControl/{key}`.

use serde::{Deserialize, Serialize};

/// The path of the flow-control endpoints: `GET /v2/flowControl` lists the keys,
/// `GET /v2/flowControl/{key}` shows one.
pub const FLOW_CONTROL_PATH: &str = "/v2/flowControl";

/// The live state of one flow-control key (upstream `FlowControlInfo`): the body of
/// `GET /v2/flowControl/{key}`, and each element of the array `GET /v2/flowControl` answers.
///
/// A limit that is not set is 0, and so are the counts of an idle key. `ratePeriod` is in
/// seconds, `ratePeriodStart` in unix seconds (0 while no rate window is open).
///
/// ```
/// use qstash_protocol::FlowControlInfo;
///
/// let info: FlowControlInfo = serde_json::from_str(
///     r#"{"flowControlKey":"user-42","waitListSize":3,"parallelismMax":2,"parallelismCount":2,
///        "rateMax":10,"rateCount":4,"ratePeriod":60,"ratePeriodStart":1767225600}"#,
/// )?;
/// assert_eq!(info.flow_control_key, "user-42");
/// assert_eq!((info.parallelism_count, info.wait_list_size), (2, 3));
/// # Ok::<(), serde_json::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct FlowControlInfo {
    /// The key.
    pub flow_control_key: String,
    /// How many of the key's messages are due and wait for a place.
    #[serde(default)]
    pub wait_list_size: u64,
    /// The key's parallelism limit (0: none).
    #[serde(default)]
    pub parallelism_max: u64,
    /// How many of the key's attempts are in flight now.
    #[serde(default)]
    pub parallelism_count: u64,
    /// The key's rate limit per period (0: none).
    #[serde(default)]
    pub rate_max: u64,
    /// How many attempts started in the open rate window.
    #[serde(default)]
    pub rate_count: u64,
    /// The rate period, in seconds.
    #[serde(default)]
    pub rate_period: u64,
    /// When the open rate window started, in unix seconds (0: none is open).
    #[serde(default)]
    pub rate_period_start: u64,
}

impl FlowControlInfo {
    /// An idle key without limits: every count 0.
    #[must_use]
    pub fn new(flow_control_key: impl Into<String>) -> FlowControlInfo {
        FlowControlInfo {
            flow_control_key: flow_control_key.into(),
            ..FlowControlInfo::default()
        }
    }
}
