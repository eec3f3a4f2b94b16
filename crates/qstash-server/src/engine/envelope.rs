//! What the engine keeps with a message beyond what the store indexes: the decoded parts of
//! its request that every attempt needs, so that an attempt never decodes headers again.

use serde::{Deserialize, Serialize};

/// A message's kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum Kind {
    /// A message a user published.
    #[default]
    Message,
    /// The callback of another message's attempt.
    Callback,
    /// The failure callback of a message that failed for good.
    FailureCallback,
}

/// The engine's bookkeeping of one message, stored as JSON in the store's `extra` column.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Envelope {
    #[serde(default)]
    pub kind: Kind,
    /// For a failure callback: the dead letter it reports on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dlq_id: Option<String>,
    /// Headers sent to the destination as they are (prefix already removed), in order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub forward: Vec<(String, String)>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content_type: Option<String>,
    /// The attempt timeout the message asked for, in milliseconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout_ms: Option<u64>,
    /// The retry-delay expression, as given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry_delay: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub callback: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub callback_forward: Vec<(String, String)>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failure_callback: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub failure_callback_forward: Vec<(String, String)>,
    /// The not-before time the message asked for, in milliseconds (0: none).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub not_before: u64,
    /// For a message a schedule's tick published: the schedule (sent as
    /// `Upstash-Schedule-Id`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub schedule_id: Option<String>,
    /// For a message published to a URL group: the group.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub topic_name: Option<String>,
    /// For a message published to a URL group: its endpoint's name, if it has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub endpoint_name: Option<String>,
    /// For a message of a workflow run: how to deliver it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub workflow: Option<WorkflowInfo>,
}

/// How a message of a workflow run is delivered.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct WorkflowInfo {
    /// The run.
    pub run_id: String,
    /// The workflow endpoint.
    pub url: String,
    /// When the run was created (ms).
    pub created_at: u64,
    /// `Upstash-Feature-Set` as the SDK gave it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub feature_set: Option<String>,
    /// What the delivery is.
    #[serde(default)]
    pub role: WorkflowRole,
}

/// What a workflow run's delivery is.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum WorkflowRole {
    /// A step message: the delivery's body is the run's steps up to this one.
    #[default]
    Step,
    /// The first delivery of a run started by `/v2/trigger` (the unknown-SDK form): its
    /// stored body is the delivery body.
    Trigger,
    /// Another message of the run (a failure callback, a call): delivered as stored, with the
    /// run's headers.
    Other,
}

fn is_zero(v: &u64) -> bool {
    *v == 0
}

impl Envelope {
    /// The envelope as stored.
    pub(crate) fn encode(&self) -> Vec<u8> {
        // Serialising plain strings and numbers into a Vec cannot fail.
        serde_json::to_vec(self).unwrap_or_default()
    }

    /// The envelope of a stored message; an unreadable one is treated as a plain message
    /// with nothing to forward (and logged), never a reason to stop delivering.
    pub(crate) fn decode(bytes: &[u8]) -> Envelope {
        if bytes.is_empty() {
            return Envelope::default();
        }
        serde_json::from_slice(bytes).unwrap_or_else(|e| {
            tracing::warn!(error = %e, "unreadable message envelope");
            Envelope::default()
        })
    }
}

/// Forwarded headers (name without prefix, value) as an envelope keeps them; a value that is
/// not UTF-8 is converted lossily.
pub(crate) fn header_pairs<'a>(
    iter: impl Iterator<Item = (&'a str, &'a http::HeaderValue)>,
) -> Vec<(String, String)> {
    iter.map(|(n, v)| {
        (
            n.to_owned(),
            String::from_utf8_lossy(v.as_bytes()).into_owned(),
        )
    })
    .collect()
}
