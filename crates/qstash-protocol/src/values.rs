//! Validated newtypes: [`RunId`], [`Label`], [`WorkflowUrl`], [`CallbackUrl`], and the shared
//! checks for numbers and header values.

use std::fmt;
use std::str::FromStr;

use crate::error::{ValueError, ValueErrorKind};

/// The longest run id or label, in bytes.
pub const MAX_ID_LEN: usize = 256;

/// The longest workflow or callback URL, in bytes.
///
/// A policy of this crate, not of the upstream API: it keeps every request line far below the
/// 64 KiB that `http::Uri` can hold, whatever base URL it is joined to.
pub const MAX_URL_LEN: usize = 16 * 1024;

/// Checks a run id or label: 1..=256 bytes of visible ASCII without `,`.
fn check_id(what: &'static str, s: &[u8]) -> Result<(), ValueError> {
    if s.is_empty() {
        return Err(ValueError::new(what, ValueErrorKind::Empty, s, 0, 0));
    }
    let head = s.get(..MAX_ID_LEN).unwrap_or(s);
    if let Some(i) = first_not(head, |b| (0x21..=0x7E).contains(&b) && b != b',') {
        return Err(ValueError::new(what, ValueErrorKind::InvalidByte, s, i, 1));
    }
    if s.len() > MAX_ID_LEN {
        return Err(ValueError::new(
            what,
            ValueErrorKind::TooLong,
            s,
            MAX_ID_LEN,
            s.len() - MAX_ID_LEN,
        )
        .with_limit(MAX_ID_LEN as u64));
    }
    Ok(())
}

/// Turns bytes already checked to be ASCII into a `String`.
fn ascii_string(s: &[u8]) -> String {
    // The callers only pass checked ASCII, which is UTF-8.
    std::str::from_utf8(s)
        .map(str::to_owned)
        .unwrap_or_default()
}

macro_rules! string_newtype_impls {
    ($ty:ident, $what:literal) => {
        impl $ty {
            /// The value as a string, exactly as given.
            #[must_use]
            #[inline]
            pub fn as_str(&self) -> &str {
                &self.0
            }

            /// The value as a `String`.
            #[must_use]
            #[inline]
            pub fn into_string(self) -> String {
                self.0.into()
            }
        }

        impl fmt::Display for $ty {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl fmt::Debug for $ty {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}({:?})", stringify!($ty), &*self.0)
            }
        }

        impl AsRef<str> for $ty {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }

        impl FromStr for $ty {
            type Err = ValueError;

            fn from_str(s: &str) -> Result<$ty, ValueError> {
                $ty::parse(s.as_bytes())
            }
        }

        impl TryFrom<&str> for $ty {
            type Error = ValueError;

            fn try_from(s: &str) -> Result<$ty, ValueError> {
                $ty::parse(s.as_bytes())
            }
        }

        impl TryFrom<String> for $ty {
            type Error = ValueError;

            fn try_from(s: String) -> Result<$ty, ValueError> {
                $ty::new(s)
            }
        }

        impl From<$ty> for String {
            fn from(v: $ty) -> String {
                v.0.into()
            }
        }

        impl PartialEq<str> for $ty {
            fn eq(&self, other: &str) -> bool {
                &*self.0 == other
            }
        }

        impl PartialEq<&str> for $ty {
            fn eq(&self, other: &&str) -> bool {
                &*self.0 == *other
            }
        }

        impl serde::Serialize for $ty {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(&self.0)
            }
        }

        impl<'de> serde::Deserialize<'de> for $ty {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<$ty, D::Error> {
                struct V;
                impl serde::de::Visitor<'_> for V {
                    type Value = $ty;
                    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                        f.write_str(concat!("a ", $what, " string"))
                    }
                    fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<$ty, E> {
                        $ty::parse(v.as_bytes()).map_err(E::custom)
                    }
                }
                d.deserialize_str(V)
            }
        }
    };
}

/// A workflow run id (`Upstash-Workflow-RunId`): 1..=256 bytes of visible ASCII, without
/// whitespace or `,`.
///
/// ```
/// use qstash_protocol::RunId;
///
/// let id = RunId::new("wfr_order-1234")?;
/// assert_eq!(id.as_str(), "wfr_order-1234");
/// assert!(RunId::new("a,b").is_err());
///
/// let generated = RunId::generate();
/// assert!(generated.as_str().starts_with("wfr_"));
/// assert_eq!(generated.as_str().len(), 25);
/// # Ok::<(), qstash_protocol::ValueError>(())
/// ```
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct RunId(Box<str>);

/// The alphabet of generated run ids: URL-safe base64.
const RUN_ID_ALPHABET: &[u8; 64] =
    b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/// How many random characters a generated run id has after `wfr_`.
pub const GENERATED_RUN_ID_CHARS: usize = 21;

impl RunId {
    /// Checks `s` and wraps it.
    ///
    /// # Errors
    /// A [`ValueError`] when `s` is empty, longer than 256 bytes, or holds a byte outside
    /// visible ASCII or a `,`.
    pub fn new(s: impl Into<String>) -> Result<RunId, ValueError> {
        let s = s.into();
        check_id("run id", s.as_bytes())?;
        Ok(RunId(s.into_boxed_str()))
    }

    /// Checks the bytes of a header value and copies them.
    ///
    /// # Errors
    /// As [`RunId::new`].
    pub fn parse(s: &[u8]) -> Result<RunId, ValueError> {
        check_id("run id", s)?;
        Ok(RunId(ascii_string(s).into_boxed_str()))
    }

    /// A fresh id: `wfr_` followed by 21 URL-safe random characters (`A-Z a-z 0-9 - _`),
    /// 126 bits from the operating system's random source.
    ///
    /// Should that source fail, the bits come from the standard library's per-process
    /// randomised hasher keys mixed with the time and a counter, so that the call never fails.
    #[must_use]
    pub fn generate() -> RunId {
        let mut random = [0u8; GENERATED_RUN_ID_CHARS];
        if getrandom::fill(&mut random).is_err() {
            fallback_random(&mut random);
        }
        let mut s = String::with_capacity(4 + GENERATED_RUN_ID_CHARS);
        s.push_str("wfr_");
        for b in random {
            let c = RUN_ID_ALPHABET
                .get(usize::from(b & 63))
                .copied()
                .unwrap_or(b'_');
            s.push(char::from(c));
        }
        RunId(s.into_boxed_str())
    }
}

/// Fills `out` from std's randomly keyed hasher, the time and a process-wide counter.
#[cold]
fn fallback_random(out: &mut [u8]) {
    use std::hash::{BuildHasher, Hasher};
    use std::sync::atomic::{AtomicU64, Ordering};
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or_default();
    for (i, chunk) in out.chunks_mut(8).enumerate() {
        let mut h = std::collections::hash_map::RandomState::new().build_hasher();
        h.write_u128(now);
        h.write_u64(COUNTER.fetch_add(1, Ordering::Relaxed));
        h.write_usize(i);
        let bytes = h.finish().to_le_bytes();
        for (dst, src) in chunk.iter_mut().zip(bytes) {
            *dst = src;
        }
    }
}

string_newtype_impls!(RunId, "run id");

/// A label (`Upstash-Label`, one item of its comma-separated list): 1..=256 bytes of visible
/// ASCII without `,`.
///
/// ```
/// use qstash_protocol::Label;
///
/// assert_eq!(Label::new("checkout")?.as_str(), "checkout");
/// assert!(Label::new("a b").is_err());
/// # Ok::<(), qstash_protocol::ValueError>(())
/// ```
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Label(Box<str>);

impl Label {
    /// Checks `s` and wraps it.
    ///
    /// # Errors
    /// A [`ValueError`] when `s` is empty, longer than 256 bytes, or holds a byte outside
    /// visible ASCII or a `,`.
    pub fn new(s: impl Into<String>) -> Result<Label, ValueError> {
        let s = s.into();
        check_id("label", s.as_bytes())?;
        Ok(Label(s.into_boxed_str()))
    }

    /// Checks bytes and copies them.
    ///
    /// # Errors
    /// As [`Label::new`].
    pub fn parse(s: &[u8]) -> Result<Label, ValueError> {
        check_id("label", s)?;
        Ok(Label(ascii_string(s).into_boxed_str()))
    }

    /// Parses an `Upstash-Label` value: one or more labels separated by `,`, with optional
    /// spaces or tabs around each comma.
    ///
    /// ```
    /// use qstash_protocol::Label;
    ///
    /// let labels = Label::parse_list(b"checkout, eu")?;
    /// assert_eq!(labels, [Label::new("checkout")?, Label::new("eu")?]);
    /// assert!(Label::parse_list(b"a,,b").is_err());
    /// # Ok::<(), qstash_protocol::ValueError>(())
    /// ```
    ///
    /// # Errors
    /// A [`ValueError`] for an empty item or an invalid label; its offset is in `list`.
    pub fn parse_list(list: &[u8]) -> Result<Vec<Label>, ValueError> {
        let mut out = Vec::new();
        parse_label_list(list, &mut out)?;
        Ok(out)
    }
}

/// Appends the labels of one `Upstash-Label` value to `out`.
pub(crate) fn parse_label_list(list: &[u8], out: &mut Vec<Label>) -> Result<(), ValueError> {
    let mut start = 0;
    loop {
        let end = list
            .get(start..)
            .and_then(|rest| rest.iter().position(|&b| b == b','))
            .map_or(list.len(), |p| start + p);
        let mut a = start;
        let mut b = end;
        while a < b && matches!(list.get(a), Some(b' ' | b'\t')) {
            a += 1;
        }
        while b > a && matches!(list.get(b - 1), Some(b' ' | b'\t')) {
            b -= 1;
        }
        let item = list.get(a..b).unwrap_or_default();
        match check_id("label", item) {
            Ok(()) => out.push(Label(ascii_string(item).into_boxed_str())),
            Err(e) => {
                // Report the offset in the whole list, quoting the whole list.
                let len = e.span().len();
                let err = ValueError::new("label", e.kind(), list, a + e.offset(), len);
                return Err(if e.kind() == ValueErrorKind::TooLong {
                    err.with_limit(MAX_ID_LEN as u64)
                } else {
                    err
                });
            }
        }
        if end >= list.len() {
            return Ok(());
        }
        start = end + 1;
    }
}

string_newtype_impls!(Label, "label");

/// The scheme and authority checks shared by both URL types; returns the offset where the
/// authority ends.
fn check_http_url(what: &'static str, s: &[u8]) -> Result<usize, ValueError> {
    if s.is_empty() {
        return Err(ValueError::new(what, ValueErrorKind::Empty, s, 0, 0));
    }
    if s.len() > MAX_URL_LEN {
        return Err(ValueError::new(
            what,
            ValueErrorKind::TooLong,
            s,
            MAX_URL_LEN,
            s.len() - MAX_URL_LEN,
        )
        .with_limit(MAX_URL_LEN as u64));
    }
    let scheme_len = if starts_with_ignore_case(s, b"https://") {
        8
    } else if starts_with_ignore_case(s, b"http://") {
        7
    } else {
        let len = s.iter().position(|&b| b == b'/').unwrap_or(s.len());
        return Err(ValueError::new(what, ValueErrorKind::NotHttpUrl, s, 0, len));
    };
    let rest = s.get(scheme_len..).unwrap_or_default();
    let host_len = rest
        .iter()
        .position(|&b| matches!(b, b'/' | b'?' | b'#'))
        .unwrap_or(rest.len());
    if host_len == 0 {
        return Err(ValueError::new(
            what,
            ValueErrorKind::MissingHost,
            s,
            scheme_len,
            0,
        ));
    }
    Ok(scheme_len + host_len)
}

fn starts_with_ignore_case(s: &[u8], prefix: &[u8]) -> bool {
    s.get(..prefix.len())
        .is_some_and(|head| head.eq_ignore_ascii_case(prefix))
}

/// Whether a destination may hold `b` before its query: what `http::uri::PathAndQuery`
/// keeps verbatim in a path (visible ASCII but `#`, `<`, `>`, `?` and `` ` ``), less what a
/// WHATWG URL parser would re-escape or read as a slash (`"`, `{`, `}`, `\`), and `'`.
#[inline]
const fn is_path_byte(b: u8) -> bool {
    b >= 0x21
        && b <= 0x7E
        && !matches!(
            b,
            b'#' | b'<' | b'>' | b'?' | b'`' | b'"' | b'{' | b'}' | b'\\' | b'\''
        )
}

/// Whether a destination may hold `b` in its query: what `http::uri::PathAndQuery` keeps
/// verbatim in a query (visible ASCII but `"`, `#`, `<` and `>`), less `'` (which a WHATWG
/// URL parser escapes in the query of an `http(s)` URL), `{`, `}` and `\`.
#[inline]
const fn is_query_byte(b: u8) -> bool {
    b >= 0x21 && b <= 0x7E && !matches!(b, b'"' | b'#' | b'<' | b'>' | b'\'' | b'{' | b'}' | b'\\')
}

/// The offset of the first byte of `s` that is not `ok`.
///
/// The common case, no such byte, runs as a branch-free scan that the compiler vectorises.
#[inline]
pub(crate) fn first_not(s: &[u8], ok: impl Fn(u8) -> bool + Copy) -> Option<usize> {
    if s.iter().fold(true, |all, &b| all & ok(b)) {
        None
    } else {
        s.iter().position(|&b| !ok(b))
    }
}

/// The destination of a trigger or of a message: an absolute `http`/`https` URL, kept byte for
/// byte.
///
/// It travels verbatim in the request target (`/v2/trigger/https://example.com/wf?x=1`) and
/// must survive every HTTP stack unchanged (`SPEC.md` §1), so besides being an `http(s)` URL
/// with a host it may only hold visible ASCII, without a fragment (`#`), `<`, `>`, `"`, `{`,
/// `}`, `'` or a backslash, nor `` ` `` before the query; and its path has no dot segment
/// (`.` or `..`, also spelled `%2e`), which a URL parser would resolve. Percent-encode such
/// bytes first. Percent-escapes are kept exactly as given and never decoded. At most
/// [`MAX_URL_LEN`] bytes.
///
/// ```
/// use qstash_protocol::WorkflowUrl;
///
/// let url = WorkflowUrl::new("https://example.com/api/wf?user=a%20b")?;
/// assert_eq!(url.as_str(), "https://example.com/api/wf?user=a%20b");
/// assert!(WorkflowUrl::new("ftp://example.com").is_err());
/// assert!(WorkflowUrl::new("https://example.com/#top").is_err());
/// let err = WorkflowUrl::new("https://example.com/a/../b").unwrap_err();
/// assert_eq!(
///     err.to_string(),
///     r#"invalid workflow URL "https://example.com/a/../b": dot segment ".." is not allowed at byte 22"#
/// );
/// let err = WorkflowUrl::new("https://example.com/{id}").unwrap_err();
/// assert_eq!(
///     err.to_string(),
///     r#"invalid workflow URL "https://example.com/{id}": "{" is not allowed at byte 20"#
/// );
/// # Ok::<(), qstash_protocol::ValueError>(())
/// ```
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct WorkflowUrl(Box<str>);

impl WorkflowUrl {
    /// Checks `s` and wraps it.
    ///
    /// # Errors
    /// A [`ValueError`] when `s` is not an absolute `http(s)` URL with a host, holds a byte a
    /// request target cannot carry verbatim, or is longer than [`MAX_URL_LEN`].
    pub fn new(s: impl Into<String>) -> Result<WorkflowUrl, ValueError> {
        let s = s.into();
        check_workflow_url(s.as_bytes())?;
        Ok(WorkflowUrl(s.into_boxed_str()))
    }

    /// Checks bytes and copies them.
    ///
    /// # Errors
    /// As [`WorkflowUrl::new`].
    pub fn parse(s: &[u8]) -> Result<WorkflowUrl, ValueError> {
        check_workflow_url(s)?;
        Ok(WorkflowUrl(ascii_string(s).into_boxed_str()))
    }

    /// The part before the first `?`.
    #[must_use]
    pub fn path_part(&self) -> &str {
        self.0.split_once('?').map_or(&self.0, |(p, _)| p)
    }

    /// The part after the first `?`, if there is one (possibly empty).
    #[must_use]
    pub fn query_part(&self) -> Option<&str> {
        self.0.split_once('?').map(|(_, q)| q)
    }
}

fn check_workflow_url(s: &[u8]) -> Result<(), ValueError> {
    const WHAT: &str = "workflow URL";
    let authority_end = check_http_url(WHAT, s)?;
    // The first `?` starts the query, for `http` as for us; it ends the authority too, so it
    // comes after the scheme.
    let query_start = s.iter().position(|&b| b == b'?').unwrap_or(s.len());
    let (path, query) = s.split_at(query_start);
    let bad = match first_not(path, is_path_byte) {
        Some(i) => Some(i),
        None => first_not(query.get(1..).unwrap_or_default(), is_query_byte)
            .map(|i| query_start + 1 + i),
    };
    if let Some(i) = bad {
        return Err(ValueError::new(WHAT, ValueErrorKind::InvalidByte, s, i, 1));
    }
    // Dot segments of the path: `.`, `..`, and their spellings with `%2e`.
    let mut start = authority_end;
    for segment in path
        .get(authority_end..)
        .unwrap_or_default()
        .split(|&b| b == b'/')
    {
        if is_dot_segment(segment) {
            return Err(ValueError::new(
                WHAT,
                ValueErrorKind::DotSegment,
                s,
                start,
                segment.len(),
            ));
        }
        start += segment.len() + 1;
    }
    Ok(())
}

/// Whether a path segment is `.` or `..` to a WHATWG URL parser (`%2e` counts as a dot).
fn is_dot_segment(segment: &[u8]) -> bool {
    let rest = match segment.first() {
        Some(b'.') => segment.get(1..),
        Some(b'%')
            if segment
                .get(1..3)
                .is_some_and(|h| h.eq_ignore_ascii_case(b"2e")) =>
        {
            segment.get(3..)
        }
        _ => return false,
    };
    match rest {
        Some([]) | None => true,
        Some([b'.']) => true,
        Some(r) => r.eq_ignore_ascii_case(b"%2e"),
    }
}

string_newtype_impls!(WorkflowUrl, "workflow URL");

/// The URL of a failure callback (`Upstash-Failure-Callback`): an absolute `http`/`https`
/// URL of visible ASCII, at most [`MAX_URL_LEN`] bytes, kept byte for byte.
///
/// ```
/// use qstash_protocol::CallbackUrl;
///
/// let url = CallbackUrl::new("https://example.com/on-failure")?;
/// assert_eq!(url.to_string(), "https://example.com/on-failure");
/// assert!(CallbackUrl::new("example.com/on-failure").is_err());
/// # Ok::<(), qstash_protocol::ValueError>(())
/// ```
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct CallbackUrl(Box<str>);

impl CallbackUrl {
    /// Checks `s` and wraps it.
    ///
    /// # Errors
    /// A [`ValueError`] when `s` is not an absolute `http(s)` URL with a host, holds a byte
    /// outside visible ASCII, or is longer than [`MAX_URL_LEN`].
    pub fn new(s: impl Into<String>) -> Result<CallbackUrl, ValueError> {
        let s = s.into();
        check_callback_url(s.as_bytes())?;
        Ok(CallbackUrl(s.into_boxed_str()))
    }

    /// Checks bytes and copies them.
    ///
    /// # Errors
    /// As [`CallbackUrl::new`].
    pub fn parse(s: &[u8]) -> Result<CallbackUrl, ValueError> {
        check_callback_url(s)?;
        Ok(CallbackUrl(ascii_string(s).into_boxed_str()))
    }
}

fn check_callback_url(s: &[u8]) -> Result<(), ValueError> {
    const WHAT: &str = "failure callback URL";
    check_http_url(WHAT, s)?;
    match first_not(s, |b| (0x21..=0x7E).contains(&b)) {
        Some(i) => Err(ValueError::new(WHAT, ValueErrorKind::InvalidByte, s, i, 1)),
        None => Ok(()),
    }
}

string_newtype_impls!(CallbackUrl, "failure callback URL");

/// Parses a decimal number: ASCII digits only (no sign, no whitespace), leading zeros allowed.
pub(crate) fn parse_u64(what: &'static str, s: &[u8], max: u64) -> Result<u64, ValueError> {
    if s.is_empty() {
        return Err(ValueError::new(what, ValueErrorKind::Empty, s, 0, 0));
    }
    let mut n: u64 = 0;
    for (i, &b) in s.iter().enumerate() {
        if !b.is_ascii_digit() {
            return Err(ValueError::new(what, ValueErrorKind::NotADigit, s, i, 1));
        }
        n = match n
            .checked_mul(10)
            .and_then(|n| n.checked_add(u64::from(b - b'0')))
        {
            Some(n) if n <= max => n,
            _ => {
                return Err(
                    ValueError::new(what, ValueErrorKind::Overflow, s, 0, s.len()).with_limit(max),
                );
            }
        };
    }
    Ok(n)
}

/// Checks that `value` can travel as an HTTP header value unchanged: no control byte other
/// than tab, no DEL, and no leading or trailing space or tab.
pub(crate) fn check_header_value(what: &'static str, value: &[u8]) -> Result<(), ValueError> {
    if let Some(i) = first_not(value, |b| (b >= 0x20 || b == b'\t') && b != 0x7F) {
        return Err(ValueError::new(
            what,
            ValueErrorKind::InvalidByte,
            value,
            i,
            1,
        ));
    }
    if matches!(value.first(), Some(b' ' | b'\t')) {
        return Err(ValueError::new(
            what,
            ValueErrorKind::SurroundingWhitespace,
            value,
            0,
            1,
        ));
    }
    if matches!(value.last(), Some(b' ' | b'\t')) {
        let at = value.len() - 1;
        return Err(ValueError::new(
            what,
            ValueErrorKind::SurroundingWhitespace,
            value,
            at,
            1,
        ));
    }
    Ok(())
}

/// Whether `b` may appear in an HTTP header name (an RFC 9110 `tchar`).
pub(crate) const fn is_tchar(b: u8) -> bool {
    matches!(b,
        b'!' | b'#' | b'$' | b'%' | b'&' | b'\'' | b'*' | b'+' | b'-' | b'.' | b'^' | b'_' | b'`'
        | b'|' | b'~' | b'0'..=b'9' | b'a'..=b'z' | b'A'..=b'Z')
}

/// A message's deduplication id (`Upstash-Deduplication-Id`): 1..=256 bytes of visible
/// ASCII without `,`, the rules of a [`RunId`].
///
/// ```
/// use qstash_protocol::DeduplicationId;
///
/// assert_eq!(DeduplicationId::new("order-42")?.as_str(), "order-42");
/// assert!(DeduplicationId::new("").is_err());
/// assert!(DeduplicationId::new("a b").is_err());
/// # Ok::<(), qstash_protocol::ValueError>(())
/// ```
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct DeduplicationId(Box<str>);

impl DeduplicationId {
    /// Checks `s` and wraps it.
    ///
    /// # Errors
    /// A [`ValueError`] when `s` is empty, longer than 256 bytes, or holds a byte outside
    /// visible ASCII or a `,`.
    pub fn new(s: impl Into<String>) -> Result<DeduplicationId, ValueError> {
        let s = s.into();
        check_id("deduplication id", s.as_bytes())?;
        Ok(DeduplicationId(s.into_boxed_str()))
    }

    /// Checks bytes and copies them.
    ///
    /// # Errors
    /// As [`DeduplicationId::new`].
    pub fn parse(s: &[u8]) -> Result<DeduplicationId, ValueError> {
        check_id("deduplication id", s)?;
        Ok(DeduplicationId(ascii_string(s).into_boxed_str()))
    }
}

string_newtype_impls!(DeduplicationId, "deduplication id");

/// Checks an opaque identifier read from a query (a cursor, a DLQ id): 1..=256 bytes of
/// visible ASCII without `,`.
pub(crate) fn check_token(what: &'static str, s: &str) -> Result<(), ValueError> {
    check_id(what, s.as_bytes())
}
