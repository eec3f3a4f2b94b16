//! The workflow headers of a published message (`SERVER.md` §9): a message whose headers carry
//! `Upstash-Workflow-RunId` belongs to that workflow run, and `Upstash-Workflow-Init`,
//! `Upstash-Workflow-Url`, `Upstash-Workflow-CallType`, `Upstash-Workflow-Trigger-By-Sdk` and
//! `Upstash-Feature-Set` say what it is to the run. The official workflow SDKs send them on
//! every message of a run (`workflow-sdk-traffic.md`); a [`PublishRequest`] keeps them as extra
//! headers and [`RunMessage::of`] reads them.
//!
//! ```
//! use qstash_protocol::{CallType, PublishRequest, RunMessage, WorkflowUrl};
//!
//! let msg = PublishRequest::builder(WorkflowUrl::new("https://example.com/wf")?)
//!     .extra_header("Upstash-Workflow-RunId", "wfr_1")
//!     .extra_header("Upstash-Workflow-Init", "false")
//!     .extra_header("Upstash-Feature-Set", "LazyFetch,InitialBody")
//!     .build()?;
//! let run = RunMessage::of(&msg)?.expect("a message of a run");
//! assert_eq!(run.run_id().as_str(), "wfr_1");
//! assert!(!run.init());
//! assert!(run.is_step());
//! assert!(run.feature_set().unwrap().contains("LazyFetch"));
//! assert_eq!(run.call_type(), None::<&CallType>);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use http::{HeaderName, HeaderValue};

use crate::PublishRequest;
use crate::decode::parse_bool;
use crate::error::{DecodeError, DecodeErrorKind, HeaderError, ValueError, ValueErrorKind};
use crate::header::WORKFLOW_RUN_ID;
use crate::values::{RunId, WorkflowUrl, check_header_value};

/// `Upstash-Workflow-Init`: `true` on the first message of a run.
pub const WORKFLOW_INIT: HeaderName = HeaderName::from_static("upstash-workflow-init");
/// `Upstash-Workflow-Url`: the workflow endpoint of the run.
pub const WORKFLOW_URL: HeaderName = HeaderName::from_static("upstash-workflow-url");
/// `Upstash-Workflow-CallType`: what the message is to the run (absent: a step).
pub const WORKFLOW_CALL_TYPE: HeaderName = HeaderName::from_static("upstash-workflow-calltype");
/// `Upstash-Workflow-Trigger-By-Sdk`: `true` on the SDK's Init message answering a trigger's
/// delivery.
pub const WORKFLOW_TRIGGER_BY_SDK: HeaderName =
    HeaderName::from_static("upstash-workflow-trigger-by-sdk");
/// `Upstash-Feature-Set`: the comma-separated features the SDK uses.
pub const FEATURE_SET: HeaderName = HeaderName::from_static("upstash-feature-set");

/// What a message of a run is to the run (`Upstash-Workflow-CallType`).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum CallType {
    /// `step`: one of the run's steps, recorded in its step list.
    Step,
    /// `toCallback`: a call to a third party (`context.call`).
    ToCallback,
    /// `fromCallback`: the call's result coming back.
    FromCallback,
    /// `failureCall`: a call of the workflow's failure function.
    FailureCall,
    /// Another non-empty value: not a step. Kept so that a newer SDK's call types are
    /// accepted (never a step).
    Other(Box<str>),
}

impl CallType {
    /// Parses a call type: any non-empty header value; the known ones are matched exactly.
    ///
    /// # Errors
    /// A [`ValueError`] for an empty value or one that cannot be carried unchanged.
    pub fn parse(v: &[u8]) -> Result<CallType, ValueError> {
        if v.is_empty() {
            return Err(ValueError::new("call type", ValueErrorKind::Empty, v, 0, 0));
        }
        check_header_value("call type", v)?;
        Ok(match v {
            b"step" => CallType::Step,
            b"toCallback" => CallType::ToCallback,
            b"fromCallback" => CallType::FromCallback,
            b"failureCall" => CallType::FailureCall,
            other => CallType::Other(String::from_utf8_lossy(other).into()),
        })
    }

    /// The value as sent.
    #[must_use]
    pub fn as_str(&self) -> &str {
        match self {
            CallType::Step => "step",
            CallType::ToCallback => "toCallback",
            CallType::FromCallback => "fromCallback",
            CallType::FailureCall => "failureCall",
            CallType::Other(s) => s,
        }
    }
}

/// `Upstash-Feature-Set`: the features an SDK uses, comma-separated (`LazyFetch,InitialBody`).
/// Always a value that can be carried unchanged (it is sent back on deliveries).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct FeatureSet(Box<str>);

impl FeatureSet {
    /// Parses a feature set: a header value without control bytes or surrounding whitespace;
    /// it may be empty (no features).
    ///
    /// # Errors
    /// A [`ValueError`] for a value that cannot be carried unchanged.
    pub fn parse(v: &[u8]) -> Result<FeatureSet, ValueError> {
        check_header_value("feature set", v)?;
        Ok(FeatureSet(String::from_utf8_lossy(v).into()))
    }

    /// The value as sent.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Whether it names `feature` (spaces around commas are allowed).
    #[must_use]
    pub fn contains(&self, feature: &str) -> bool {
        self.0.split(',').any(|f| f.trim() == feature)
    }
}

/// The workflow headers of a message of a run; see the module docs.
///
/// Invariants: the run id is a valid [`RunId`], the URL (when given) a valid [`WorkflowUrl`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunMessage {
    run_id: RunId,
    init: bool,
    trigger_by_sdk: bool,
    url: Option<WorkflowUrl>,
    feature_set: Option<FeatureSet>,
    call_type: Option<CallType>,
}

impl RunMessage {
    /// The workflow headers of `req`, or `None` when it carries no `Upstash-Workflow-RunId`
    /// (a plain message).
    ///
    /// # Errors
    /// A [`DecodeError`] naming the header that is malformed or sent more than once: an empty
    /// or invalid run id, an `Upstash-Workflow-Init` or `Upstash-Workflow-Trigger-By-Sdk` that
    /// is not `true` or `false`, an `Upstash-Workflow-Url` that is not an absolute `http(s)`
    /// URL, an empty call type.
    pub fn of(req: &PublishRequest) -> Result<Option<RunMessage>, DecodeError> {
        RunMessage::from_headers(req.extra_headers().iter().map(|(n, v)| (n, v)))
    }

    /// Whether `req` carries `Upstash-Workflow-RunId` (is meant as a message of a run),
    /// without checking any header.
    #[must_use]
    pub fn present(req: &PublishRequest) -> bool {
        req.extra_headers()
            .iter()
            .any(|(n, _)| *n == WORKFLOW_RUN_ID)
    }

    /// The workflow headers among `headers` (lowercase names, as `http` stores them); see
    /// [`of`](Self::of).
    ///
    /// # Errors
    /// As [`of`](Self::of).
    pub fn from_headers<'a>(
        headers: impl IntoIterator<Item = (&'a HeaderName, &'a HeaderValue)>,
    ) -> Result<Option<RunMessage>, DecodeError> {
        let mut run_id = None;
        let mut init = None;
        let mut trigger_by_sdk = None;
        let mut url = None;
        let mut feature_set = None;
        let mut call_type = None;
        for (name, value) in headers {
            let v = value.as_bytes();
            if *name == WORKFLOW_RUN_ID {
                once(&mut run_id, name, || Ok(RunId::parse(v)?))?;
            } else if *name == WORKFLOW_INIT {
                once(&mut init, name, || Ok(parse_bool(v)?))?;
            } else if *name == WORKFLOW_TRIGGER_BY_SDK {
                once(&mut trigger_by_sdk, name, || Ok(parse_bool(v)?))?;
            } else if *name == WORKFLOW_URL {
                once(&mut url, name, || Ok(WorkflowUrl::parse(v)?))?;
            } else if *name == FEATURE_SET {
                once(&mut feature_set, name, || Ok(FeatureSet::parse(v)?))?;
            } else if *name == WORKFLOW_CALL_TYPE {
                once(&mut call_type, name, || Ok(CallType::parse(v)?))?;
            }
        }
        Ok(run_id.map(|run_id| RunMessage {
            run_id,
            init: init.unwrap_or(false),
            trigger_by_sdk: trigger_by_sdk.unwrap_or(false),
            url,
            feature_set,
            call_type,
        }))
    }

    /// The run (`Upstash-Workflow-RunId`).
    #[must_use]
    pub fn run_id(&self) -> &RunId {
        &self.run_id
    }

    /// Whether it is the run's first message (`Upstash-Workflow-Init: true`).
    #[must_use]
    pub fn init(&self) -> bool {
        self.init
    }

    /// Whether it is the SDK's Init message answering a trigger's delivery
    /// (`Upstash-Workflow-Trigger-By-Sdk: true`).
    #[must_use]
    pub fn trigger_by_sdk(&self) -> bool {
        self.trigger_by_sdk
    }

    /// The workflow endpoint (`Upstash-Workflow-Url`), when given.
    #[must_use]
    pub fn url(&self) -> Option<&WorkflowUrl> {
        self.url.as_ref()
    }

    /// The SDK's features (`Upstash-Feature-Set`), when given.
    #[must_use]
    pub fn feature_set(&self) -> Option<&FeatureSet> {
        self.feature_set.as_ref()
    }

    /// What it is to the run (`Upstash-Workflow-CallType`), when given.
    #[must_use]
    pub fn call_type(&self) -> Option<&CallType> {
        self.call_type.as_ref()
    }

    /// Whether it is one of the run's steps (recorded in its step list): no call type, or
    /// `step`; a call to a third party or another side message is not.
    #[must_use]
    pub fn is_step(&self) -> bool {
        matches!(self.call_type, None | Some(CallType::Step))
    }
}

/// Stores a single-valued workflow header, failing when it was already set.
fn once<T>(
    slot: &mut Option<T>,
    name: &HeaderName,
    parse: impl FnOnce() -> Result<T, HeaderError>,
) -> Result<(), DecodeError> {
    let field = canonical(name);
    if slot.is_some() {
        return Err(DecodeError::at(DecodeErrorKind::Duplicate, field));
    }
    *slot = Some(parse().map_err(|e| DecodeError::invalid(field, e))?);
    Ok(())
}

/// The canonical spelling of a workflow header.
fn canonical(name: &HeaderName) -> &'static str {
    match name.as_str() {
        "upstash-workflow-runid" => "Upstash-Workflow-RunId",
        "upstash-workflow-init" => "Upstash-Workflow-Init",
        "upstash-workflow-trigger-by-sdk" => "Upstash-Workflow-Trigger-By-Sdk",
        "upstash-workflow-url" => "Upstash-Workflow-Url",
        "upstash-feature-set" => "Upstash-Feature-Set",
        "upstash-workflow-calltype" => "Upstash-Workflow-CallType",
        _ => "workflow header",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &str)]) -> Vec<(HeaderName, HeaderValue)> {
        pairs
            .iter()
            .map(|(n, v)| {
                (
                    HeaderName::from_static(n),
                    HeaderValue::from_str(v).unwrap(),
                )
            })
            .collect()
    }

    fn decode(pairs: &[(&'static str, &str)]) -> Result<Option<RunMessage>, DecodeError> {
        let h = headers(pairs);
        RunMessage::from_headers(h.iter().map(|(n, v)| (n, v)))
    }

    #[test]
    fn a_message_without_a_run_id_is_plain() {
        assert_eq!(decode(&[]).unwrap(), None);
        assert_eq!(decode(&[("upstash-workflow-init", "true")]).unwrap(), None);
    }

    #[test]
    fn the_sdk_init_message_decodes() {
        // As `@upstash/workflow` 1.3 sends it (workflow-sdk-traffic.md).
        let m = decode(&[
            (
                "upstash-feature-set",
                "LazyFetch,InitialBody,WF_DetectTrigger,WF_TriggerOnConfig",
            ),
            ("upstash-workflow-init", "true"),
            ("upstash-workflow-runid", "wfr_q47lNYK90oBVyGVFRv4DV"),
            ("upstash-workflow-url", "http://127.0.0.1:13000/wf"),
            ("upstash-workflow-sdk-version", "1"),
        ])
        .unwrap()
        .unwrap();
        assert_eq!(m.run_id().as_str(), "wfr_q47lNYK90oBVyGVFRv4DV");
        assert!(m.init());
        assert!(!m.trigger_by_sdk());
        assert_eq!(m.url().unwrap().as_str(), "http://127.0.0.1:13000/wf");
        assert!(m.feature_set().unwrap().contains("WF_TriggerOnConfig"));
        assert!(!m.feature_set().unwrap().contains("Lazy"));
        assert!(m.is_step());
    }

    #[test]
    fn call_types() {
        let m = |t: &str| {
            let h = headers(&[("upstash-workflow-runid", "wfr_1")]);
            let mut h = h;
            h.push((WORKFLOW_CALL_TYPE, HeaderValue::from_str(t).unwrap()));
            RunMessage::from_headers(h.iter().map(|(n, v)| (n, v)))
        };
        assert!(m("step").unwrap().unwrap().is_step());
        let call = m("toCallback").unwrap().unwrap();
        assert_eq!(call.call_type(), Some(&CallType::ToCallback));
        assert!(!call.is_step());
        let newer = m("somethingNew").unwrap().unwrap();
        assert_eq!(newer.call_type().unwrap().as_str(), "somethingNew");
        assert!(!newer.is_step());
        let e = m("").unwrap_err();
        assert_eq!(e.kind(), DecodeErrorKind::InvalidValue);
        assert!(e.to_string().contains("Upstash-Workflow-CallType"), "{e}");
    }

    #[test]
    fn malformed_headers_are_named() {
        let cases: [(&[(&'static str, &str)], &str); 5] = [
            (&[("upstash-workflow-runid", "")], "Upstash-Workflow-RunId"),
            (
                &[("upstash-workflow-runid", "a,b")],
                "Upstash-Workflow-RunId",
            ),
            (
                &[
                    ("upstash-workflow-runid", "wfr_1"),
                    ("upstash-workflow-init", "yes"),
                ],
                "Upstash-Workflow-Init",
            ),
            (
                &[
                    ("upstash-workflow-runid", "wfr_1"),
                    ("upstash-workflow-url", "/wf"),
                ],
                "Upstash-Workflow-Url",
            ),
            (
                &[
                    ("upstash-workflow-runid", "wfr_1"),
                    ("upstash-workflow-trigger-by-sdk", ""),
                ],
                "Upstash-Workflow-Trigger-By-Sdk",
            ),
        ];
        for (pairs, header) in cases {
            let e = decode(pairs).unwrap_err();
            assert_eq!(e.kind(), DecodeErrorKind::InvalidValue, "{pairs:?}");
            assert!(e.to_string().contains(header), "{e} should name {header}");
        }
    }

    #[test]
    fn a_repeated_header_is_an_error() {
        let e = decode(&[
            ("upstash-workflow-runid", "wfr_1"),
            ("upstash-workflow-runid", "wfr_2"),
        ])
        .unwrap_err();
        assert_eq!(e.kind(), DecodeErrorKind::Duplicate);
        assert!(e.to_string().contains("Upstash-Workflow-RunId"), "{e}");
    }

    #[test]
    fn booleans_are_true_or_false() {
        let m = decode(&[
            ("upstash-workflow-runid", "wfr_1"),
            ("upstash-workflow-init", "false"),
            ("upstash-workflow-trigger-by-sdk", "true"),
        ])
        .unwrap()
        .unwrap();
        assert!(!m.init());
        assert!(m.trigger_by_sdk());
    }
}
