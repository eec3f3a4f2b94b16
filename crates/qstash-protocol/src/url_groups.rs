//! URL groups (upstream: topics, `/v2/topics`): the group object, the bodies that add and
//! remove endpoints, and the answer to a publish to a group, as the official SDK reads them
//! (`@upstash/qstash` `UrlGroup`, `Endpoint`).

use serde::{Deserialize, Serialize};

/// The path of the URL groups API.
pub const URL_GROUPS_PATH: &str = "/v2/topics";

/// One endpoint of a URL group.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Endpoint {
    /// Its name, if it has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Its URL.
    pub url: String,
}

/// An endpoint as a removal names it: by name, by URL, or both.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EndpointRef {
    /// Its name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Its URL.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
}

/// The body of `POST /v2/topics/{name}/endpoints` (add) and of `DELETE` on the same path
/// (remove; an entry then needs a name or a URL).
///
/// ```
/// let b: qstash_protocol::EndpointsRequest =
///     serde_json::from_str(r#"{"endpoints":[{"url":"https://a.example"},{"name":"b","url":"https://b.example"}]}"#)?;
/// assert_eq!(b.endpoints[1].name.as_deref(), Some("b"));
/// # Ok::<(), serde_json::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EndpointsRequest {
    /// The endpoints.
    pub endpoints: Vec<EndpointRef>,
}

/// A URL group, as `GET /v2/topics/{name}` answers it.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct UrlGroup {
    /// When it was created (unix milliseconds).
    pub created_at: u64,
    /// When its endpoints last changed (unix milliseconds).
    pub updated_at: u64,
    /// Its name.
    pub name: String,
    /// Its endpoints, in the order they were added.
    pub endpoints: Vec<Endpoint>,
}

/// One entry of the answer to a publish to a URL group: a message per endpoint.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GroupPublishResponse {
    /// The message's id.
    pub message_id: String,
    /// The endpoint's URL.
    pub url: String,
    /// Whether the message duplicates an earlier one (absent when not).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub deduplicated: bool,
}
