//! Forwarded headers (`Upstash-Forward-<Name>`, `Upstash-Failure-Callback-Forward-<Name>`).

use std::fmt;

use http::{HeaderName, HeaderValue};

use crate::error::{BuildError, ValueError, ValueErrorKind};
use crate::header::ForwardPrefix;
use crate::values::{check_header_value, first_not, is_tchar};

/// The most forwarded header lines a request may carry, counting the workflow's and the
/// failure callback's together.
///
/// A policy of this crate: `http::HeaderMap` holds at most 32 768 distinct names, and a
/// request also needs room for its other headers, so the limit keeps
/// [`TriggerRequest::to_http`](crate::TriggerRequest::to_http) infallible.
pub const MAX_FORWARDED_HEADERS: usize = 16_384;

/// The longest forwarded header name: `http`'s limit for a name less the longest prefix.
pub const MAX_FORWARD_NAME_LEN: usize = (1 << 16) - 1 - ForwardPrefix::Failure.as_str().len();

/// Headers to forward, seen without their `Upstash-…-Forward-` prefix.
///
/// Names are case-insensitive (stored lowercase); a name may have several values, which keep
/// their order. Equality ignores the order between different names, as HTTP does. Every value
/// can travel unchanged: no control byte other than tab, no DEL, no leading or trailing
/// whitespace. Values of `Authorization`, `Proxy-Authorization` and `Cookie` are marked
/// sensitive, so that `Debug` prints `Sensitive` instead of a credential.
#[derive(Clone)]
pub struct ForwardedHeaders {
    /// The length of the prefix of every name in `entries`.
    prefix_len: usize,
    /// Full (prefixed) names, as they travel, with their values, in the order given.
    entries: Vec<(HeaderName, HeaderValue)>,
}

impl ForwardedHeaders {
    /// No headers, for names with `prefix`.
    pub(crate) fn new(prefix: ForwardPrefix) -> ForwardedHeaders {
        ForwardedHeaders {
            prefix_len: prefix.as_str().len(),
            entries: Vec::new(),
        }
    }

    /// How many values there are, counting every value of a repeated name.
    #[must_use]
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether there is no header.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    fn bare<'a>(&self, full: &'a HeaderName) -> &'a str {
        full.as_str().get(self.prefix_len..).unwrap_or_default()
    }

    /// The first value of `name` (case-insensitive), if any.
    #[must_use]
    pub fn get(&self, name: &str) -> Option<&HeaderValue> {
        self.iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v)
    }

    /// Every value of `name` (case-insensitive), in order.
    pub fn get_all<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a HeaderValue> {
        self.iter()
            .filter(move |(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v)
    }

    /// Every `(name, value)` pair in the order given, names lowercase and without prefix.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &HeaderValue)> {
        self.entries.iter().map(|(n, v)| (self.bare(n), v))
    }

    /// The pairs with their full names, as they travel.
    pub(crate) fn wire(&self) -> impl Iterator<Item = (&HeaderName, &str, &HeaderValue)> {
        self.entries.iter().map(|(n, v)| (n, self.bare(n), v))
    }

    /// Appends a checked pair whose `full` name starts with this list's prefix. Credentials
    /// are marked sensitive.
    pub(crate) fn push(&mut self, full: HeaderName, mut value: HeaderValue) {
        if matches!(
            self.bare(&full),
            "authorization" | "proxy-authorization" | "cookie"
        ) {
            value.set_sensitive(true);
        }
        self.entries.push((full, value));
    }

    /// A name that has several values, if any.
    pub(crate) fn repeated_name(&self) -> Option<&str> {
        let mut names: Vec<&str> = self.iter().map(|(n, _)| n).collect();
        names.sort_unstable();
        names.windows(2).find_map(|w| match w {
            [a, b] if a == b => Some(*a),
            _ => None,
        })
    }

    /// The pairs grouped by name (stably, so each name's values keep their order).
    fn grouped(&self) -> Vec<(&str, &[u8])> {
        let mut pairs: Vec<(&str, &[u8])> = self.iter().map(|(n, v)| (n, v.as_bytes())).collect();
        pairs.sort_by(|a, b| a.0.cmp(b.0));
        pairs
    }
}

impl PartialEq for ForwardedHeaders {
    fn eq(&self, other: &ForwardedHeaders) -> bool {
        self.len() == other.len()
            && (self.iter().eq(other.iter()) || self.grouped() == other.grouped())
    }
}

impl Eq for ForwardedHeaders {}

impl fmt::Debug for ForwardedHeaders {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map().entries(self.iter()).finish()
    }
}

/// Checks a forwarded name (without prefix): a non-empty token of at most
/// [`MAX_FORWARD_NAME_LEN`] bytes.
pub(crate) fn check_forward_name(name: &[u8]) -> Result<(), ValueError> {
    const WHAT: &str = "header name";
    if name.is_empty() {
        return Err(ValueError::new(WHAT, ValueErrorKind::Empty, name, 0, 0));
    }
    if name.len() > MAX_FORWARD_NAME_LEN {
        return Err(ValueError::new(
            WHAT,
            ValueErrorKind::TooLong,
            name,
            MAX_FORWARD_NAME_LEN,
            name.len() - MAX_FORWARD_NAME_LEN,
        )
        .with_limit(MAX_FORWARD_NAME_LEN as u64));
    }
    match first_not(name, is_tchar) {
        Some(i) => Err(ValueError::new(
            WHAT,
            ValueErrorKind::InvalidByte,
            name,
            i,
            1,
        )),
        None => Ok(()),
    }
}

/// Checks a free-form header value (a forwarded value, a content type).
pub(crate) fn check_forward_value(value: &[u8]) -> Result<HeaderValue, ValueError> {
    const WHAT: &str = "header value";
    check_header_value(WHAT, value)?;
    HeaderValue::from_bytes(value)
        .map_err(|_| ValueError::new(WHAT, ValueErrorKind::InvalidByte, value, 0, value.len()))
}

/// Checks a forwarded header given to a builder and appends it to `map`.
pub(crate) fn append_forward(
    map: &mut ForwardedHeaders,
    prefix: ForwardPrefix,
    name: &[u8],
    value: &[u8],
) -> Result<(), BuildError> {
    let prefix_canonical = prefix.canonical();
    let field = || format!("{prefix_canonical}{}", String::from_utf8_lossy(name));
    check_forward_name(name).map_err(|e| BuildError::name(field(), e))?;
    let full = [prefix.as_str().as_bytes(), name].concat();
    let full = HeaderName::from_bytes(&full).map_err(|_| {
        BuildError::name(
            field(),
            ValueError::new(
                "header name",
                ValueErrorKind::InvalidByte,
                name,
                0,
                name.len(),
            ),
        )
    })?;
    let field = || {
        format!(
            "{prefix_canonical}{}",
            name.to_ascii_lowercase().escape_ascii()
        )
    };
    let value = check_forward_value(value).map_err(|e| BuildError::value(field(), e))?;
    map.push(full, value);
    Ok(())
}
