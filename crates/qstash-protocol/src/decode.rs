//! Decoding helpers shared by every request: single-valued headers, booleans and forwarded
//! headers.

use http::{HeaderName, HeaderValue};

use crate::error::{DecodeError, DecodeErrorKind, HeaderError, ValueError, ValueErrorKind};
use crate::forward::ForwardedHeaders;
use crate::header::{ForwardPrefix, Known};
use crate::values::check_header_value;

/// Stores a single-valued header, failing when it was already set.
pub(crate) fn once<T>(
    slot: &mut Option<T>,
    header: Known,
    parse: impl FnOnce() -> Result<T, HeaderError>,
) -> Result<(), DecodeError> {
    if slot.is_some() {
        return Err(DecodeError::at(
            DecodeErrorKind::Duplicate,
            header.canonical(),
        ));
    }
    *slot = Some(parse().map_err(|e| DecodeError::invalid(header.canonical(), e))?);
    Ok(())
}

/// Adds one forwarded header of a decoded request.
pub(crate) fn decode_forward(
    map: &mut ForwardedHeaders,
    prefix: ForwardPrefix,
    full: &HeaderName,
    bare: &str,
    value: &HeaderValue,
) -> Result<(), DecodeError> {
    let prefix_canonical = prefix.canonical();
    if bare.is_empty() {
        return Err(DecodeError::at(
            DecodeErrorKind::EmptyForwardName,
            prefix_canonical,
        ));
    }
    // `bare` is the tail of a valid header name, hence a valid one too.
    check_header_value("header value", value.as_bytes())
        .map_err(|e| DecodeError::invalid(format!("{prefix_canonical}{bare}"), e))?;
    map.push(full.clone(), value.clone());
    Ok(())
}

/// Parses a boolean header (`Upstash-Content-Based-Deduplication`, `Upstash-Workflow-Init`):
/// `true` or `false`, in any case.
pub(crate) fn parse_bool(v: &[u8]) -> Result<bool, ValueError> {
    if v.eq_ignore_ascii_case(b"true") {
        Ok(true)
    } else if v.eq_ignore_ascii_case(b"false") {
        Ok(false)
    } else if v.is_empty() {
        Err(ValueError::new("boolean", ValueErrorKind::Empty, v, 0, 0))
    } else {
        Err(ValueError::new(
            "boolean",
            ValueErrorKind::UnknownValue,
            v,
            0,
            v.len(),
        ))
    }
}
