//! Joining a base URL with an endpoint path, and percent-encoding of path segments and query
//! parameters.

use bytes::Bytes;
use http::Uri;
use http::uri::{Parts, PathAndQuery};

use crate::error::{ValueError, ValueErrorKind};

/// `base` (scheme, authority and path, without its query) followed by `tail`, which starts
/// with `/` and holds only bytes a request target carries verbatim.
pub(crate) fn join(base: &Uri, tail: String) -> Uri {
    let base_path = base.path();
    let prefix = base_path.strip_suffix('/').unwrap_or(base_path);
    let target = if prefix.is_empty() {
        tail
    } else {
        let mut s = String::with_capacity(prefix.len() + tail.len());
        s.push_str(prefix);
        s.push_str(&tail);
        s
    };
    let mut parts = Parts::default();
    if let (Some(scheme), Some(authority)) = (base.scheme(), base.authority()) {
        parts.scheme = Some(scheme.clone());
        parts.authority = Some(authority.clone());
    }
    // Both the base's path and `tail` are valid request-target bytes, so neither step fails;
    // the fallback only keeps the encoders infallible.
    match PathAndQuery::from_maybe_shared(Bytes::from(target)) {
        Ok(pq) => parts.path_and_query = Some(pq),
        Err(_) => return Uri::default(),
    }
    Uri::from_parts(parts).unwrap_or_default()
}

/// Whether `b` is an RFC 3986 unreserved byte, which is never escaped.
const fn is_unreserved(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~')
}

const HEX: &[u8; 16] = b"0123456789ABCDEF";

/// Appends `s` with every byte but the unreserved ones escaped as `%XX`.
pub(crate) fn push_encoded(out: &mut String, s: &str) {
    for &b in s.as_bytes() {
        if is_unreserved(b) {
            out.push(char::from(b));
        } else {
            out.push('%');
            for nibble in [b >> 4, b & 15] {
                out.push(char::from(
                    HEX.get(usize::from(nibble)).copied().unwrap_or(b'0'),
                ));
            }
        }
    }
}

fn hex_value(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

/// Decodes `%XX` escapes (`+` stays `+`); the result must be UTF-8.
pub(crate) fn decode_component(what: &'static str, s: &str) -> Result<String, ValueError> {
    let bytes = s.as_bytes();
    if !bytes.contains(&b'%') {
        return Ok(s.to_owned());
    }
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while let Some(&b) = bytes.get(i) {
        if b == b'%' {
            let hi = bytes.get(i + 1).copied().and_then(hex_value);
            let lo = bytes.get(i + 2).copied().and_then(hex_value);
            match (hi, lo) {
                (Some(hi), Some(lo)) => out.push(hi << 4 | lo),
                _ => {
                    let len = bytes.len().min(i + 3) - i;
                    return Err(ValueError::new(
                        what,
                        ValueErrorKind::BadEscape,
                        bytes,
                        i,
                        len,
                    ));
                }
            }
            i += 3;
        } else {
            out.push(b);
            i += 1;
        }
    }
    String::from_utf8(out)
        .map_err(|_| ValueError::new(what, ValueErrorKind::BadEscape, bytes, 0, bytes.len()))
}

/// The `key=value` pairs of a query, raw (still escaped); empty pieces are skipped and a
/// piece without `=` has an empty value.
pub(crate) fn query_pairs(query: &str) -> impl Iterator<Item = (&str, &str)> {
    query
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| p.split_once('=').unwrap_or((p, "")))
}
