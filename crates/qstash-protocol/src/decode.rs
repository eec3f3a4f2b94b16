//! Decoding helpers shared by every request: single-valued headers and forwarded headers.

use http::{HeaderName, HeaderValue};

use crate::error::{DecodeError, DecodeErrorKind, HeaderError};
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
