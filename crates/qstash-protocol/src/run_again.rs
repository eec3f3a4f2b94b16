//! Running a workflow run's dead letter again (`POST /v2/workflows/dlq/restart/{dlqId}`,
//! `…/resume/{dlqId}`, and the bulk forms `…/restart?dlqIds=…` and `…/resume?dlqIds=…`, the
//! SDK's `client.dlq.restart` and `client.dlq.resume`): the headers that override the run's
//! configuration ([`RunAgainOverrides`]) and the `dlqIds` query ([`RunAgainQuery`]).
//!
//! ```
//! use http::HeaderMap;
//! use qstash_protocol::{RunAgainOverrides, RunAgainQuery};
//!
//! let mut h = HeaderMap::new();
//! h.insert("upstash-retries", "2".parse()?);
//! h.insert("upstash-flow-control-key", "tenant-7".parse()?);
//! h.insert("upstash-flow-control-value", "parallelism=1".parse()?);
//! let o = RunAgainOverrides::from_headers(&h)?;
//! assert_eq!(o.retries, Some(2));
//! assert_eq!(o.flow_control_key.unwrap().as_str(), "tenant-7");
//!
//! let q = RunAgainQuery::from_query("dlqIds=dlq_a&dlqIds=dlq_b%2Cdlq_c")?;
//! assert_eq!(q.dlq_ids(), ["dlq_a", "dlq_b", "dlq_c"]);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use http::HeaderMap;
use qstash_flow_control::{FlowControl, FlowControlKey};
use qstash_retry_delay::RetryDelay;

use crate::decode::once;
use crate::error::{DecodeError, DecodeErrorKind, HeaderError};
use crate::header::Known;
use crate::uri::{decode_component, query_pairs};
use crate::values::{Label, RunId, check_header_value, check_token, parse_u64};

/// What a restart or resume may change, from its headers: `Upstash-Workflow-RunId` (the new
/// run's id), `Upstash-Retries`, `Upstash-Retry-Delay`, `Upstash-Flow-Control-Key` with
/// `Upstash-Flow-Control-Value`, and `Upstash-Label` (one label). Other headers are ignored;
/// an absent one keeps the failed run's setting.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct RunAgainOverrides {
    /// The new run's id (else a new one is made).
    pub run_id: Option<RunId>,
    /// The retries of the new run's messages.
    pub retries: Option<u32>,
    /// The retry-delay expression of the new run's messages.
    pub retry_delay: Option<RetryDelay>,
    /// The flow-control key of the new run's messages.
    pub flow_control_key: Option<FlowControlKey>,
    /// The flow-control value the SDK sends with the key. A key may come without it (the
    /// key's limits then stay as the run had them).
    pub flow_control_value: Option<FlowControl>,
    /// The new run's label.
    pub label: Option<Label>,
}

impl RunAgainOverrides {
    /// Reads the overrides of a restart or resume request.
    ///
    /// # Errors
    /// A [`DecodeError`] naming the header that is malformed or sent more than once, or
    /// `Upstash-Flow-Control-Value` without `Upstash-Flow-Control-Key`.
    pub fn from_headers(headers: &HeaderMap) -> Result<RunAgainOverrides, DecodeError> {
        let mut out = RunAgainOverrides::default();
        for (name, value) in headers {
            let v = value.as_bytes();
            let Some(k) = Known::from_name(name.as_str()) else {
                continue;
            };
            match k {
                Known::WorkflowRunId => once(&mut out.run_id, k, || Ok(RunId::parse(v)?))?,
                Known::Retries => once(&mut out.retries, k, || {
                    let n = parse_u64("retries", v, u64::from(u32::MAX))?;
                    Ok(u32::try_from(n).unwrap_or(u32::MAX))
                })?,
                Known::RetryDelay => once(&mut out.retry_delay, k, || {
                    check_header_value("header value", v)?;
                    RetryDelay::compile_bytes(v).map_err(HeaderError::RetryDelay)
                })?,
                Known::FlowControlKey => once(&mut out.flow_control_key, k, || {
                    FlowControlKey::parse(v).map_err(HeaderError::FlowControlKey)
                })?,
                Known::FlowControlValue => once(&mut out.flow_control_value, k, || {
                    FlowControl::parse(v).map_err(HeaderError::FlowControl)
                })?,
                Known::Label => once(&mut out.label, k, || Ok(Label::parse(v)?))?,
                _ => {}
            }
        }
        if out.flow_control_value.is_some() && out.flow_control_key.is_none() {
            return Err(DecodeError::at(
                DecodeErrorKind::FlowControlValueWithoutKey,
                Known::FlowControlValue.canonical(),
            ));
        }
        Ok(out)
    }
}

/// The dead letters a bulk restart or resume names: `dlqIds=a&dlqIds=b`, comma-separated
/// lists (`dlqIds=a,b`) and `dlqIds[]=a` too. Spaces around an id and empty pieces are
/// skipped; each id is a token (visible ASCII, no `,`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunAgainQuery {
    dlq_ids: Vec<String>,
}

impl RunAgainQuery {
    /// Reads the query (with or without the leading `?`).
    ///
    /// # Errors
    /// A [`DecodeError`] naming `dlqIds` for a bad escape or an invalid id, or
    /// [`DecodeErrorKind::MissingFilter`] at `dlqIds` when there is no id.
    pub fn from_query(query: &str) -> Result<RunAgainQuery, DecodeError> {
        let mut dlq_ids = Vec::new();
        for (key, value) in query_pairs(query.strip_prefix('?').unwrap_or(query)) {
            let key = decode_component("query parameter", key)
                .map_err(|e| DecodeError::invalid("query parameter", e))?;
            if key != "dlqIds" && key != "dlqIds[]" {
                continue;
            }
            let value =
                decode_component("DLQ id", value).map_err(|e| DecodeError::invalid("dlqIds", e))?;
            for id in value.split(',').map(str::trim).filter(|s| !s.is_empty()) {
                check_token("DLQ id", id).map_err(|e| DecodeError::invalid("dlqIds", e))?;
                dlq_ids.push(id.to_owned());
            }
        }
        if dlq_ids.is_empty() {
            return Err(DecodeError::at(DecodeErrorKind::MissingFilter, "dlqIds"));
        }
        Ok(RunAgainQuery { dlq_ids })
    }

    /// The dead letters, in the query's order.
    #[must_use]
    pub fn dlq_ids(&self) -> &[String] {
        &self.dlq_ids
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (n, v) in pairs {
            h.append(*n, v.parse().unwrap());
        }
        h
    }

    #[test]
    fn no_header_overrides_nothing() {
        let o = RunAgainOverrides::from_headers(&headers(&[("x-other", "1")])).unwrap();
        assert_eq!(o, RunAgainOverrides::default());
    }

    #[test]
    fn every_override_decodes() {
        let o = RunAgainOverrides::from_headers(&headers(&[
            ("upstash-workflow-runid", "wfr_again"),
            ("upstash-retries", "4"),
            ("upstash-retry-delay", "1000 * retried"),
            ("upstash-flow-control-key", "k"),
            ("upstash-flow-control-value", "rate=2"),
            ("upstash-label", "billing"),
        ]))
        .unwrap();
        assert_eq!(o.run_id.unwrap().as_str(), "wfr_again");
        assert_eq!(o.retries, Some(4));
        assert_eq!(o.retry_delay.unwrap().as_str(), "1000 * retried");
        assert_eq!(o.flow_control_key.unwrap().as_str(), "k");
        assert!(o.flow_control_value.is_some());
        assert_eq!(o.label.unwrap().as_str(), "billing");
    }

    #[test]
    fn a_key_alone_is_accepted() {
        let o = RunAgainOverrides::from_headers(&headers(&[("upstash-flow-control-key", "k")]))
            .unwrap();
        assert_eq!(o.flow_control_key.unwrap().as_str(), "k");
        assert!(o.flow_control_value.is_none());
    }

    #[test]
    fn bad_overrides_are_named() {
        let cases: [(&[(&'static str, &str)], &str); 6] = [
            (&[("upstash-retries", "-1")], "Upstash-Retries"),
            (&[("upstash-retry-delay", "pow(")], "Upstash-Retry-Delay"),
            (&[("upstash-label", "")], "Upstash-Label"),
            (
                &[("upstash-flow-control-key", "")],
                "Upstash-Flow-Control-Key",
            ),
            (
                &[("upstash-workflow-runid", "a,b")],
                "Upstash-Workflow-RunId",
            ),
            (
                &[("upstash-flow-control-value", "rate=1")],
                "Upstash-Flow-Control-Value",
            ),
        ];
        for (pairs, header) in cases {
            let e = RunAgainOverrides::from_headers(&headers(pairs)).unwrap_err();
            assert!(e.to_string().contains(header), "{e} should name {header}");
        }
        let e = RunAgainOverrides::from_headers(&headers(&[
            ("upstash-retries", "1"),
            ("upstash-retries", "2"),
        ]))
        .unwrap_err();
        assert_eq!(e.kind(), DecodeErrorKind::Duplicate);
    }

    #[test]
    fn dlq_ids_of_a_query() {
        let q =
            RunAgainQuery::from_query("dlqIds=a&count=3&dlqIds=b%2Cc&dlqIds%5B%5D=d&dlqIds[]=e")
                .unwrap();
        assert_eq!(q.dlq_ids(), ["a", "b", "c", "d", "e"]);
        let q = RunAgainQuery::from_query("?dlqIds=dlq_%41,,%20x").unwrap();
        assert_eq!(q.dlq_ids(), ["dlq_A", "x"]);
        for bad in ["label=x", "", "dlqIds=", "dlqIds=%zz", "dlqIds=a%0Ab"] {
            let e = RunAgainQuery::from_query(bad).unwrap_err();
            assert!(e.to_string().contains("dlqIds"), "{bad}: {e}");
        }
        assert_eq!(
            RunAgainQuery::from_query("label=x").unwrap_err().kind(),
            DecodeErrorKind::MissingFilter
        );
    }
}
