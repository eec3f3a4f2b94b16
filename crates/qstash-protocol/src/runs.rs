//! Run management (§1, upstream): cancel one run, cancel runs in bulk, query the logs.

use std::fmt;
use std::str::FromStr;

use bytes::Bytes;
use http::{Method, Request, Uri};
use serde::{Deserialize, Serialize};

use crate::error::{
    BuildError, BuildErrorKind, DecodeError, DecodeErrorKind, ValueError, ValueErrorKind,
};
use crate::uri::{decode_component, join, push_encoded, query_pairs};
use crate::values::{Label, RunId, WorkflowUrl, parse_u64};

/// The path of the runs collection: `DELETE /v2/workflows/runs[/{workflowRunId}]`.
pub const RUNS_PATH: &str = "/v2/workflows/runs";
/// The path of the logs: `GET /v2/workflows/logs`.
pub const LOGS_PATH: &str = "/v2/workflows/logs";

pub(crate) fn check_method(req: &Request<Bytes>, method: &Method) -> Result<(), DecodeError> {
    if req.method() == method {
        Ok(())
    } else {
        Err(DecodeError::new(DecodeErrorKind::Method)
            .with_detail(format!("expected {method}, found {}", req.method())))
    }
}

pub(crate) fn wrong_path(expected: &str, found: &str) -> DecodeError {
    DecodeError::new(DecodeErrorKind::Path).with_detail(format!(
        "expected {expected}, found \"{}\"",
        found.escape_debug()
    ))
}

pub(crate) fn request(method: Method, base: &Uri, tail: String) -> Request<Bytes> {
    let mut req = Request::new(Bytes::new());
    *req.method_mut() = method;
    *req.uri_mut() = join(base, tail);
    req
}

/// Cancels one run: `DELETE /v2/workflows/runs/{workflowRunId}`.
///
/// The id is percent-encoded in the path (generated ids need no escape).
///
/// ```
/// use http::Uri;
/// use qstash_protocol::{CancelRun, RunId};
///
/// let cancel = CancelRun::new(RunId::new("wfr_a/b")?);
/// let http = cancel.to_http(&Uri::from_static("https://qstash.upstash.io"));
/// assert_eq!(http.method(), "DELETE");
/// assert_eq!(http.uri().path(), "/v2/workflows/runs/wfr_a%2Fb");
/// assert_eq!(CancelRun::from_http(&http)?, cancel);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct CancelRun {
    run_id: RunId,
}

impl CancelRun {
    /// Cancels the run `run_id`.
    #[must_use]
    pub fn new(run_id: RunId) -> CancelRun {
        CancelRun { run_id }
    }

    /// The run to cancel.
    #[must_use]
    pub fn run_id(&self) -> &RunId {
        &self.run_id
    }

    /// Encodes `DELETE {base}/v2/workflows/runs/{workflowRunId}` with an empty body.
    #[must_use]
    pub fn to_http(&self, base: &Uri) -> Request<Bytes> {
        let mut tail = String::with_capacity(RUNS_PATH.len() + 1 + self.run_id.as_str().len());
        tail.push_str(RUNS_PATH);
        tail.push('/');
        push_encoded(&mut tail, self.run_id.as_str());
        request(Method::DELETE, base, tail)
    }

    /// Decodes `DELETE /v2/workflows/runs/{workflowRunId}`.
    ///
    /// # Errors
    /// A [`DecodeError`] for another method or path, or an invalid run id.
    pub fn from_http(req: &Request<Bytes>) -> Result<CancelRun, DecodeError> {
        check_method(req, &Method::DELETE)?;
        let path = req.uri().path();
        let segment = path
            .strip_prefix(RUNS_PATH)
            .and_then(|rest| rest.strip_prefix('/'))
            .ok_or_else(|| wrong_path("/v2/workflows/runs/{workflowRunId}", path))?;
        let id = decode_component("run id", segment)
            .and_then(RunId::new)
            .map_err(|e| DecodeError::invalid("workflowRunId", e))?;
        Ok(CancelRun::new(id))
    }
}

/// Cancels the runs matching filters:
/// `DELETE /v2/workflows/runs?workflowRunIds=…&workflowUrl=…&label=…`.
///
/// At least one filter is required, so that an empty filter can never cancel every run.
/// Run ids travel comma-separated in one parameter; values are percent-encoded.
///
/// ```
/// use http::Uri;
/// use qstash_protocol::{BulkCancel, Label, RunId};
///
/// let cancel = BulkCancel::new(
///     [RunId::new("wfr_a")?, RunId::new("wfr_b")?],
///     None,
///     Some(Label::new("nightly")?),
/// )?;
/// let http = cancel.to_http(&Uri::from_static("https://qstash.upstash.io"));
/// assert_eq!(
///     http.uri().path_and_query().unwrap().as_str(),
///     "/v2/workflows/runs?workflowRunIds=wfr_a,wfr_b&label=nightly"
/// );
/// assert_eq!(BulkCancel::from_http(&http)?, cancel);
/// assert!(BulkCancel::new([], None, None).is_err());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct BulkCancel {
    run_ids: Vec<RunId>,
    workflow_url: Option<WorkflowUrl>,
    label: Option<Label>,
    workflow_url_exact: bool,
    all: bool,
}

impl BulkCancel {
    /// Cancels the runs that match every given filter.
    ///
    /// # Errors
    /// [`BuildErrorKind::MissingFilter`] when no run id, URL or label is given.
    pub fn new(
        run_ids: impl IntoIterator<Item = RunId>,
        workflow_url: Option<WorkflowUrl>,
        label: Option<Label>,
    ) -> Result<BulkCancel, BuildError> {
        let run_ids: Vec<RunId> = run_ids.into_iter().collect();
        if run_ids.is_empty() && workflow_url.is_none() && label.is_none() {
            return Err(BuildError::new(BuildErrorKind::MissingFilter, None));
        }
        Ok(BulkCancel {
            run_ids,
            workflow_url,
            label,
            workflow_url_exact: true,
            all: false,
        })
    }

    /// Whether the URL filter matches whole (`workflowUrlExactMatch=true`, and always for a
    /// filter built with [`new`](Self::new)); otherwise it is a prefix, as the SDK's
    /// `workflowUrlStartingWith` sends it.
    #[must_use]
    pub fn workflow_url_exact(&self) -> bool {
        self.workflow_url_exact
    }

    /// Whether the request cancels every run the other filters match, none of them given
    /// (the SDK's `{all: true}` sends `count` alone).
    #[must_use]
    pub fn all(&self) -> bool {
        self.all
    }

    /// The run ids filter (empty when not filtering by id).
    #[must_use]
    pub fn run_ids(&self) -> &[RunId] {
        &self.run_ids
    }

    /// The workflow URL filter.
    #[must_use]
    pub fn workflow_url(&self) -> Option<&WorkflowUrl> {
        self.workflow_url.as_ref()
    }

    /// The label filter.
    #[must_use]
    pub fn label(&self) -> Option<&Label> {
        self.label.as_ref()
    }

    /// Encodes `DELETE {base}/v2/workflows/runs?…` with an empty body.
    #[must_use]
    pub fn to_http(&self, base: &Uri) -> Request<Bytes> {
        let mut q = Query::new(RUNS_PATH);
        if !self.run_ids.is_empty() {
            q.key("workflowRunIds");
            for (i, id) in self.run_ids.iter().enumerate() {
                if i > 0 {
                    q.0.push(',');
                }
                push_encoded(&mut q.0, id.as_str());
            }
        }
        if let Some(url) = &self.workflow_url {
            q.pair("workflowUrl", url.as_str());
            if self.workflow_url_exact {
                q.pair("workflowUrlExactMatch", "true");
            }
        }
        if let Some(label) = &self.label {
            q.pair("label", label.as_str());
        }
        if self.all {
            q.pair("count", "100");
        }
        request(Method::DELETE, base, q.0)
    }

    /// Decodes `DELETE /v2/workflows/runs?…`: run ids repeated (`workflowRunIds=a&workflowRunIds=b`)
    /// or comma-separated, `workflowUrl` (a prefix unless `workflowUrlExactMatch=true`),
    /// `label`, or `count` alone for every run; an unknown parameter is an error naming it.
    ///
    /// # Errors
    /// A [`DecodeError`] for another method or path, a parameter given twice, an invalid
    /// value, or no filter at all ([`DecodeErrorKind::MissingFilter`]).
    pub fn from_http(req: &Request<Bytes>) -> Result<BulkCancel, DecodeError> {
        check_method(req, &Method::DELETE)?;
        if req.uri().path() != RUNS_PATH {
            return Err(wrong_path(RUNS_PATH, req.uri().path()));
        }
        let mut run_ids: Option<Vec<RunId>> = None;
        let mut workflow_url = None;
        let mut label = None;
        let mut exact = false;
        let mut all = false;
        for (key, value) in query_pairs(req.uri().query().unwrap_or("")) {
            let key = decode_component("query parameter", key)
                .map_err(|e| DecodeError::invalid("query parameter", e))?;
            match key.as_str() {
                "workflowRunIds" | "workflowRunId" => {
                    let mut more = None;
                    param(&mut more, "workflowRunIds", value, |s| {
                        s.split(',').map(RunId::new).collect::<Result<Vec<_>, _>>()
                    })?;
                    run_ids
                        .get_or_insert_with(Vec::new)
                        .extend(more.unwrap_or_default());
                }
                "workflowUrl" => param(&mut workflow_url, "workflowUrl", value, WorkflowUrl::new)?,
                "workflowUrlExactMatch" => exact = value == "true",
                "label" => param(&mut label, "label", value, Label::new)?,
                "count" | "cursor" => all = true,
                _ if value.is_empty() => {}
                other => {
                    return Err(DecodeError::at(
                        DecodeErrorKind::UnknownParameter,
                        other.to_owned(),
                    ));
                }
            }
        }
        let run_ids = run_ids.unwrap_or_default();
        // Without a URL the flag means nothing: kept as `new` sets it.
        let exact = exact || workflow_url.is_none();
        if all && run_ids.is_empty() && workflow_url.is_none() && label.is_none() {
            return Ok(BulkCancel {
                run_ids,
                workflow_url,
                label,
                workflow_url_exact: exact,
                all: true,
            });
        }
        let mut out = BulkCancel::new(run_ids, workflow_url, label)
            .map_err(|_| DecodeError::new(DecodeErrorKind::MissingFilter))?;
        out.workflow_url_exact = exact;
        Ok(out)
    }
}

/// The query of `DELETE /v2/workflows/runs/{workflowRunId}`: `?cancel=false` ends the run as
/// a success with the request body as its result (the SDK's last call); `?cancel=true`, or no
/// `cancel`, cancels it.
///
/// ```
/// use qstash_protocol::RunEndQuery;
///
/// assert!(!RunEndQuery::from_query("cancel=false")?.cancel);
/// assert!(RunEndQuery::from_query("")?.cancel);
/// assert!(RunEndQuery::from_query("?cancel=yes").is_err());
/// # Ok::<(), qstash_protocol::DecodeError>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub struct RunEndQuery {
    /// Whether the run is cancelled (else it ends as a success).
    pub cancel: bool,
}

impl RunEndQuery {
    /// Decodes a query string (with or without a leading `?`); other parameters are ignored.
    ///
    /// # Errors
    /// A [`DecodeError`] naming `cancel` when it is not `true` or `false`, or is repeated.
    pub fn from_query(query: &str) -> Result<RunEndQuery, DecodeError> {
        let mut cancel = None;
        for (key, value) in query_pairs(query.strip_prefix('?').unwrap_or(query)) {
            if key == "cancel" {
                param(&mut cancel, "cancel", value, |v| {
                    crate::decode::parse_bool(v.as_bytes())
                })?;
            }
        }
        Ok(RunEndQuery {
            cancel: cancel.unwrap_or(true),
        })
    }
}

/// Stores a decoded query parameter, failing when it was already set.
pub(crate) fn param<T>(
    slot: &mut Option<T>,
    name: &'static str,
    raw: &str,
    parse: impl FnOnce(String) -> Result<T, ValueError>,
) -> Result<(), DecodeError> {
    if slot.is_some() {
        return Err(DecodeError::at(DecodeErrorKind::Duplicate, name));
    }
    let value = decode_component(name, raw)
        .and_then(parse)
        .map_err(|e| DecodeError::invalid(name, e))?;
    *slot = Some(value);
    Ok(())
}

/// A path with a query being built.
pub(crate) struct Query(pub(crate) String);

impl Query {
    pub(crate) fn new(path: &str) -> Query {
        let mut s = String::with_capacity(path.len() + 64);
        s.push_str(path);
        Query(s)
    }

    pub(crate) fn key(&mut self, key: &str) {
        self.0.push(if self.0.contains('?') { '&' } else { '?' });
        self.0.push_str(key);
        self.0.push('=');
    }

    pub(crate) fn pair(&mut self, key: &str, value: &str) {
        self.key(key);
        push_encoded(&mut self.0, value);
    }
}

/// The response of a bulk cancel: `{"cancelled": n}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[non_exhaustive]
pub struct BulkCancelResponse {
    /// How many runs were cancelled.
    pub cancelled: u64,
}

impl BulkCancelResponse {
    /// `{"cancelled": n}`.
    #[must_use]
    pub fn new(cancelled: u64) -> BulkCancelResponse {
        BulkCancelResponse { cancelled }
    }
}

/// The state of a run, as the logs report and filter it (upstream names).
///
/// More states may come, so matches need a wildcard arm.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[non_exhaustive]
pub enum RunState {
    /// `RUN_STARTED`: running.
    #[serde(rename = "RUN_STARTED")]
    Started,
    /// `RUN_SUCCESS`: finished successfully.
    #[serde(rename = "RUN_SUCCESS")]
    Success,
    /// `RUN_FAILED`: failed after its retries.
    #[serde(rename = "RUN_FAILED")]
    Failed,
    /// `RUN_CANCELED`: cancelled.
    #[serde(rename = "RUN_CANCELED")]
    Canceled,
}

impl RunState {
    /// Every state.
    pub const ALL: [RunState; 4] = [
        RunState::Started,
        RunState::Success,
        RunState::Failed,
        RunState::Canceled,
    ];

    /// The wire name (`RUN_SUCCESS`).
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            RunState::Started => "RUN_STARTED",
            RunState::Success => "RUN_SUCCESS",
            RunState::Failed => "RUN_FAILED",
            RunState::Canceled => "RUN_CANCELED",
        }
    }
}

impl fmt::Display for RunState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for RunState {
    type Err = ValueError;

    /// The wire name, case-sensitive.
    fn from_str(s: &str) -> Result<RunState, ValueError> {
        RunState::ALL
            .into_iter()
            .find(|st| st.as_str() == s)
            .ok_or_else(|| {
                ValueError::new(
                    "run state",
                    ValueErrorKind::UnknownValue,
                    s.as_bytes(),
                    0,
                    s.len(),
                )
            })
    }
}

/// A logs query: `GET /v2/workflows/logs?workflowRunId=…&cursor=…&count=…&state=…&label=…`.
///
/// Every field is an optional filter; `cursor` is the opaque value of the previous page's
/// [`LogsResponse::cursor`].
///
/// ```
/// use http::Uri;
/// use qstash_protocol::{LogsQuery, RunState};
///
/// let query = LogsQuery::new().with_count(10).with_state(RunState::Failed);
/// let http = query.to_http(&Uri::from_static("https://qstash.upstash.io"));
/// assert_eq!(http.method(), "GET");
/// assert_eq!(
///     http.uri().path_and_query().unwrap().as_str(),
///     "/v2/workflows/logs?count=10&state=RUN_FAILED"
/// );
/// assert_eq!(LogsQuery::from_http(&http)?, query);
/// # Ok::<(), qstash_protocol::DecodeError>(())
/// ```
///
/// More filters may come: build one with [`LogsQuery::new`] (or `Default`) and the `with_*`
/// setters, or set the public fields.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
pub struct LogsQuery {
    /// Only this run.
    pub run_id: Option<RunId>,
    /// Where the previous page stopped.
    pub cursor: Option<String>,
    /// How many runs per page.
    pub count: Option<u32>,
    /// Only runs in this state.
    pub state: Option<RunState>,
    /// Only runs with this label.
    pub label: Option<Label>,
}

impl LogsQuery {
    /// No filter: every run, the server's page size.
    #[must_use]
    pub fn new() -> LogsQuery {
        LogsQuery::default()
    }

    /// Only the run `id`.
    #[must_use]
    pub fn with_run_id(mut self, id: RunId) -> LogsQuery {
        self.run_id = Some(id);
        self
    }

    /// Starts where the previous page stopped.
    #[must_use]
    pub fn with_cursor(mut self, cursor: impl Into<String>) -> LogsQuery {
        self.cursor = Some(cursor.into());
        self
    }

    /// `count` runs per page.
    #[must_use]
    pub fn with_count(mut self, count: u32) -> LogsQuery {
        self.count = Some(count);
        self
    }

    /// Only runs in `state`.
    #[must_use]
    pub fn with_state(mut self, state: RunState) -> LogsQuery {
        self.state = Some(state);
        self
    }

    /// Only runs with `label`.
    #[must_use]
    pub fn with_label(mut self, label: Label) -> LogsQuery {
        self.label = Some(label);
        self
    }

    /// Encodes `GET {base}/v2/workflows/logs?…` with the parameters that are set, in the
    /// order of the fields.
    #[must_use]
    pub fn to_http(&self, base: &Uri) -> Request<Bytes> {
        let mut q = Query::new(LOGS_PATH);
        if let Some(id) = &self.run_id {
            q.pair("workflowRunId", id.as_str());
        }
        if let Some(cursor) = &self.cursor {
            q.pair("cursor", cursor);
        }
        if let Some(count) = self.count {
            q.pair("count", &count.to_string());
        }
        if let Some(state) = self.state {
            q.pair("state", state.as_str());
        }
        if let Some(label) = &self.label {
            q.pair("label", label.as_str());
        }
        request(Method::GET, base, q.0)
    }

    /// Decodes `GET /v2/workflows/logs?…`; unknown parameters are ignored.
    ///
    /// # Errors
    /// A [`DecodeError`] for another method or path, a parameter given twice, or an invalid
    /// value.
    pub fn from_http(req: &Request<Bytes>) -> Result<LogsQuery, DecodeError> {
        check_method(req, &Method::GET)?;
        if req.uri().path() != LOGS_PATH {
            return Err(wrong_path(LOGS_PATH, req.uri().path()));
        }
        let mut out = LogsQuery::default();
        for (key, value) in query_pairs(req.uri().query().unwrap_or("")) {
            let key = decode_component("query parameter", key)
                .map_err(|e| DecodeError::invalid("query parameter", e))?;
            match key.as_str() {
                "workflowRunId" => param(&mut out.run_id, "workflowRunId", value, RunId::new)?,
                "cursor" => param(&mut out.cursor, "cursor", value, Ok)?,
                "count" => param(&mut out.count, "count", value, |s| {
                    let n = parse_u64("count", s.as_bytes(), u64::from(u32::MAX))?;
                    Ok(u32::try_from(n).unwrap_or(u32::MAX))
                })?,
                "state" => param(&mut out.state, "state", value, |s| s.parse())?,
                "label" => param(&mut out.label, "label", value, Label::new)?,
                _ => {}
            }
        }
        Ok(out)
    }
}

/// The logs response: `{"cursor": …, "runs": […]}`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[non_exhaustive]
pub struct LogsResponse {
    /// Where the next page starts; absent or empty on the last page.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cursor: Option<String>,
    /// The runs of this page.
    #[serde(default)]
    pub runs: Vec<RunLog>,
}

impl LogsResponse {
    /// A page of runs and the cursor of the next one.
    #[must_use]
    pub fn new(runs: Vec<RunLog>, cursor: Option<String>) -> LogsResponse {
        LogsResponse { cursor, runs }
    }
}

/// One run of a [`LogsResponse`]. The fields named here are typed; every other field of the
/// server's object is kept in [`other`](Self::other).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct RunLog {
    /// The run's id.
    pub workflow_run_id: RunId,
    /// The workflow's URL.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub workflow_url: Option<String>,
    /// The run's state, as sent (see [`RunLog::state`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub workflow_state: Option<String>,
    /// When the run was created, in milliseconds since the unix epoch.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub workflow_run_created_at: Option<u64>,
    /// When the run completed, in milliseconds since the unix epoch.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub workflow_run_completed_at: Option<u64>,
    /// Every other field, as sent.
    #[serde(flatten)]
    pub other: serde_json::Map<String, serde_json::Value>,
}

impl RunLog {
    /// The run `workflow_run_id`, every other field absent.
    #[must_use]
    pub fn new(workflow_run_id: RunId) -> RunLog {
        RunLog {
            workflow_run_id,
            workflow_url: None,
            workflow_state: None,
            workflow_run_created_at: None,
            workflow_run_completed_at: None,
            other: serde_json::Map::new(),
        }
    }

    /// The state, when it is one of the known ones.
    #[must_use]
    pub fn state(&self) -> Option<RunState> {
        self.workflow_state.as_deref().and_then(|s| s.parse().ok())
    }
}
