//! Decoding the headers of a trigger.

use bytes::Bytes;
use http::HeaderMap;
use qstash_delay::Delay;
use qstash_flow_control::{FlowControl, FlowControlKey};
use qstash_retry_delay::RetryDelay;

use crate::decode::{decode_forward, once};
use crate::error::{DecodeError, DecodeErrorKind, HeaderError};
use crate::forward::{ForwardedHeaders, MAX_FORWARDED_HEADERS};
use crate::header::{ForwardPrefix, Known};
use crate::values::{
    CallbackUrl, RunId, WorkflowUrl, check_header_value, parse_label_list, parse_u64,
};

use super::builder::forwarded_count;
use super::{FailureCallback, FailureTarget, TriggerRequest};

/// Decodes the headers of a trigger (or of a batch entry) into a request.
pub(crate) fn decode_headers(
    headers: &HeaderMap,
    url: WorkflowUrl,
    body: Bytes,
) -> Result<TriggerRequest, DecodeError> {
    let mut content_type = None;
    let mut run_id = None;
    let mut forwarded = ForwardedHeaders::new(ForwardPrefix::Destination);
    let mut retries = None;
    let mut delay = None;
    let mut not_before = None;
    let mut labels = Vec::new();
    let mut flow_key = None;
    let mut flow_value = None;
    let mut callback = None;
    let mut callback_forwarded = ForwardedHeaders::new(ForwardPrefix::Failure);
    let mut first_callback_forward: Option<&str> = None;
    let mut retry_delay = None;

    for (name, value) in headers {
        let v = value.as_bytes();
        let Some(known) = Known::from_name(name.as_str()) else {
            if let Some((prefix, bare)) = ForwardPrefix::split(name.as_str()) {
                match prefix {
                    ForwardPrefix::Destination => {
                        decode_forward(&mut forwarded, prefix, name, bare, value)?;
                    }
                    ForwardPrefix::Failure => {
                        decode_forward(&mut callback_forwarded, prefix, name, bare, value)?;
                        if first_callback_forward.is_none() {
                            first_callback_forward = Some(bare);
                        }
                    }
                    // A message's callback: unknown to a trigger, ignored.
                    _ => {}
                }
            }
            // Any other header is unknown and ignored.
            continue;
        };
        let k = known;
        match known {
            Known::ContentType => once(&mut content_type, k, || {
                check_header_value("header value", v)?;
                Ok(value.clone())
            })?,
            Known::WorkflowRunId => once(&mut run_id, k, || Ok(RunId::parse(v)?))?,
            Known::Retries => once(&mut retries, k, || {
                let n = parse_u64("retries", v, u64::from(u32::MAX))?;
                Ok(u32::try_from(n).unwrap_or(u32::MAX))
            })?,
            Known::Delay => once(&mut delay, k, || {
                Delay::parse(v).map_err(HeaderError::Delay)
            })?,
            Known::NotBefore => once(&mut not_before, k, || {
                Ok(parse_u64("unix time", v, u64::MAX)?)
            })?,
            Known::Label => parse_label_list(v, &mut labels)
                .map_err(|e| DecodeError::invalid(k.canonical(), e))?,
            Known::FlowControlKey => once(&mut flow_key, k, || {
                FlowControlKey::parse(v).map_err(HeaderError::FlowControlKey)
            })?,
            Known::FlowControlValue => once(&mut flow_value, k, || {
                FlowControl::parse(v).map_err(HeaderError::FlowControl)
            })?,
            Known::FailureCallback => once(&mut callback, k, || {
                if v.is_empty() {
                    Ok(FailureTarget::FailureFunction)
                } else {
                    Ok(FailureTarget::Url(CallbackUrl::parse(v)?))
                }
            })?,
            Known::RetryDelay => once(&mut retry_delay, k, || {
                check_header_value("header value", v)?;
                RetryDelay::compile_bytes(v).map_err(HeaderError::RetryDelay)
            })?,
            // A message's header (`Scope::Message`): unknown to a trigger, ignored.
            _ => {}
        }
    }

    let flow_control = match (flow_key, flow_value) {
        (Some(k), Some(v)) => Some((k, v)),
        (None, None) => None,
        (Some(_), None) => {
            return Err(DecodeError::at(
                DecodeErrorKind::FlowControlKeyWithoutValue,
                Known::FlowControlKey.canonical(),
            ));
        }
        (None, Some(_)) => {
            return Err(DecodeError::at(
                DecodeErrorKind::FlowControlValueWithoutKey,
                Known::FlowControlValue.canonical(),
            ));
        }
    };
    let failure_callback = match (callback, first_callback_forward) {
        (Some(target), _) => Some(FailureCallback {
            target,
            forwarded: callback_forwarded,
        }),
        (None, None) => None,
        (None, Some(name)) => {
            return Err(DecodeError::at(
                DecodeErrorKind::CallbackForwardWithoutCallback,
                format!("{}{}", ForwardPrefix::Failure.canonical(), name),
            ));
        }
    };
    let req = TriggerRequest {
        url,
        body,
        content_type,
        run_id,
        forwarded,
        retries,
        delay,
        not_before,
        labels,
        flow_control,
        failure_callback,
        retry_delay,
    };
    if forwarded_count(&req) > MAX_FORWARDED_HEADERS {
        return Err(DecodeError::new(DecodeErrorKind::TooManyForwardedHeaders));
    }
    Ok(req)
}
