//! Decoding the headers of a message.

use bytes::Bytes;
use http::{HeaderMap, Method};
use qstash_delay::Delay;
use qstash_flow_control::{FlowControl, FlowControlKey};
use qstash_retry_delay::RetryDelay;

use crate::decode::{decode_forward, once, parse_bool};
use crate::error::{DecodeError, DecodeErrorKind, HeaderError, ValueError, ValueErrorKind};
use crate::forward::{ForwardedHeaders, MAX_FORWARDED_HEADERS};
use crate::header::{ForwardPrefix, Known};
use crate::values::{
    CallbackUrl, DeduplicationId, WorkflowUrl, check_header_value, first_not, is_tchar,
    parse_label_list, parse_u64,
};

use super::{MessageCallback, PublishRequest};

/// What a header name (lowercase) is to a message, read from the tables in [`header`].
pub(super) enum Kind<'a> {
    /// Not an `Upstash-*` header, nor `Content-Type`: ignored.
    Other,
    /// A known header a message carries.
    Known(Known),
    /// A forwarded header: its prefix and the name after it.
    Forward(ForwardPrefix, &'a str),
    /// Any other `Upstash-*` header (a trigger's included): kept.
    Extra,
}

pub(super) fn classify(name: &str) -> Kind<'_> {
    if let Some(k) = Known::from_name(name)
        && k.scope().message()
    {
        return Kind::Known(k);
    }
    if let Some((prefix, bare)) = ForwardPrefix::split(name)
        && prefix.scope().message()
    {
        return Kind::Forward(prefix, bare);
    }
    if name.starts_with("upstash-") {
        Kind::Extra
    } else {
        Kind::Other
    }
}

/// Parses `Upstash-Method`: a non-empty method token (RFC 9110), case kept.
fn parse_method(v: &[u8]) -> Result<Method, ValueError> {
    const WHAT: &str = "method";
    if v.is_empty() {
        return Err(ValueError::new(WHAT, ValueErrorKind::Empty, v, 0, 0));
    }
    if let Some(i) = first_not(v, is_tchar) {
        return Err(ValueError::new(WHAT, ValueErrorKind::InvalidByte, v, i, 1));
    }
    Method::from_bytes(v)
        .map_err(|_| ValueError::new(WHAT, ValueErrorKind::InvalidByte, v, 0, v.len()))
}

/// Decodes the headers of a message into a request.
pub(super) fn decode_publish_headers(
    headers: &HeaderMap,
    destination: WorkflowUrl,
    body: Bytes,
) -> Result<PublishRequest, DecodeError> {
    let mut content_type = None;
    let mut method = None;
    let mut forwarded = ForwardedHeaders::new(ForwardPrefix::Destination);
    let mut retries = None;
    let mut delay = None;
    let mut not_before = None;
    let mut timeout = None;
    let mut retry_delay = None;
    let mut labels = Vec::new();
    let mut flow_key = None;
    let mut flow_value = None;
    let mut callback = None;
    let mut failure = None;
    let mut callback_forwarded = ForwardedHeaders::new(ForwardPrefix::Callback);
    let mut failure_forwarded = ForwardedHeaders::new(ForwardPrefix::Failure);
    let mut first_callback_forward: Option<&str> = None;
    let mut first_failure_forward: Option<&str> = None;
    let mut deduplication_id = None;
    let mut content_based = None;
    let mut extra = Vec::new();

    for (name, value) in headers {
        let v = value.as_bytes();
        match classify(name.as_str()) {
            Kind::Other => {}
            Kind::Extra => extra.push((name.clone(), value.clone())),
            Kind::Forward(prefix, bare) => {
                let (map, first) = match prefix {
                    ForwardPrefix::Callback => {
                        (&mut callback_forwarded, Some(&mut first_callback_forward))
                    }
                    ForwardPrefix::Failure => {
                        (&mut failure_forwarded, Some(&mut first_failure_forward))
                    }
                    _ => (&mut forwarded, None),
                };
                decode_forward(map, prefix, name, bare, value)?;
                if let Some(first) = first
                    && first.is_none()
                {
                    *first = Some(bare);
                }
            }
            Kind::Known(k) => match k {
                Known::ContentType => once(&mut content_type, k, || {
                    check_header_value("header value", v)?;
                    Ok(value.clone())
                })?,
                Known::Method => once(&mut method, k, || Ok(parse_method(v)?))?,
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
                Known::Timeout => once(&mut timeout, k, || {
                    Delay::parse(v).map_err(HeaderError::Delay)
                })?,
                Known::RetryDelay => once(&mut retry_delay, k, || {
                    check_header_value("header value", v)?;
                    RetryDelay::compile_bytes(v).map_err(HeaderError::RetryDelay)
                })?,
                Known::Label => parse_label_list(v, &mut labels)
                    .map_err(|e| DecodeError::invalid(k.canonical(), e))?,
                Known::FlowControlKey => once(&mut flow_key, k, || {
                    FlowControlKey::parse(v).map_err(HeaderError::FlowControlKey)
                })?,
                Known::FlowControlValue => once(&mut flow_value, k, || {
                    FlowControl::parse(v).map_err(HeaderError::FlowControl)
                })?,
                Known::Callback => once(&mut callback, k, || Ok(CallbackUrl::parse(v)?))?,
                Known::FailureCallback => once(&mut failure, k, || Ok(CallbackUrl::parse(v)?))?,
                Known::DeduplicationId => {
                    once(&mut deduplication_id, k, || Ok(DeduplicationId::parse(v)?))?
                }
                Known::ContentBasedDeduplication => {
                    once(&mut content_based, k, || Ok(parse_bool(v)?))?;
                }
                // `classify` only returns the headers a message carries.
                _ => {}
            },
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
    let callback = pair_callback(
        callback,
        callback_forwarded,
        first_callback_forward,
        ForwardPrefix::Callback,
    )?;
    let failure_callback = pair_callback(
        failure,
        failure_forwarded,
        first_failure_forward,
        ForwardPrefix::Failure,
    )?;
    let req = PublishRequest {
        destination,
        body,
        content_type,
        method,
        forwarded,
        retries,
        delay,
        not_before,
        timeout,
        retry_delay,
        labels,
        flow_control,
        callback,
        failure_callback,
        deduplication_id,
        content_based_deduplication: content_based,
        extra,
    };
    if req.free_header_count() > MAX_FORWARDED_HEADERS {
        return Err(DecodeError::new(DecodeErrorKind::TooManyForwardedHeaders));
    }
    Ok(req)
}

fn pair_callback(
    url: Option<CallbackUrl>,
    forwarded: ForwardedHeaders,
    first_forward: Option<&str>,
    prefix: ForwardPrefix,
) -> Result<Option<MessageCallback>, DecodeError> {
    match (url, first_forward) {
        (Some(url), _) => Ok(Some(MessageCallback { url, forwarded })),
        (None, None) => Ok(None),
        (None, Some(name)) => Err(DecodeError::at(
            DecodeErrorKind::CallbackForwardWithoutCallback,
            format!("{}{name}", prefix.canonical()),
        )),
    }
}
