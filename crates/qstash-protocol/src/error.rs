//! Errors: a value that is not valid ([`ValueError`]), a request that cannot be built
//! ([`BuildError`]) and an HTTP request that does not decode ([`DecodeError`]).

use std::fmt;

/// How many bytes of the input a [`ValueError`] keeps for its message.
const QUOTE_LIMIT: usize = 128;

/// What is wrong with a value.
///
/// The set of kinds may grow, so matches need a wildcard arm.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ValueErrorKind {
    /// The value is empty where at least one byte is required.
    Empty,
    /// The value is longer than its limit; the offset is the first byte past the limit.
    TooLong,
    /// A byte that the value cannot contain (a control character, whitespace, `,` in a run id).
    InvalidByte,
    /// Leading or trailing whitespace, which HTTP strips from header values in transit.
    SurroundingWhitespace,
    /// A URL that does not start with `http://` or `https://`.
    NotHttpUrl,
    /// A URL without a host after the scheme.
    MissingHost,
    /// A number with a byte that is not an ASCII digit (signs and whitespace included).
    NotADigit,
    /// A number above the largest value of its type.
    Overflow,
    /// A `%` that is not followed by two hexadecimal digits, or escapes that do not decode to
    /// UTF-8.
    BadEscape,
    /// A word that is not one of the accepted values (a run state).
    UnknownValue,
    /// A dot segment (`.`, `..`, `%2e`, …) in the path of a destination, which a URL parser
    /// would resolve.
    DotSegment,
}

impl ValueErrorKind {
    /// A short, lowercase description of the kind, without the input.
    #[must_use]
    pub const fn description(self) -> &'static str {
        match self {
            ValueErrorKind::Empty => "empty",
            ValueErrorKind::TooLong => "too long",
            ValueErrorKind::InvalidByte => "invalid byte",
            ValueErrorKind::SurroundingWhitespace => "leading or trailing whitespace",
            ValueErrorKind::NotHttpUrl => "not an http(s) URL",
            ValueErrorKind::MissingHost => "missing host",
            ValueErrorKind::NotADigit => "not a digit",
            ValueErrorKind::Overflow => "overflow",
            ValueErrorKind::BadEscape => "bad percent-escape",
            ValueErrorKind::UnknownValue => "unknown value",
            ValueErrorKind::DotSegment => "dot segment",
        }
    }
}

impl fmt::Display for ValueErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.description())
    }
}

/// A value that does not satisfy its type's rules: a run id, a label, a URL, a number or a
/// header value.
///
/// It says what was being read ([`what`](Self::what)), what is wrong ([`kind`](Self::kind)) and
/// where ([`offset`](Self::offset), [`span`](Self::span)); the message quotes the input:
///
/// ```
/// use qstash_protocol::{RunId, ValueErrorKind};
///
/// let err = RunId::new("run 1").unwrap_err();
/// assert_eq!(err.kind(), ValueErrorKind::InvalidByte);
/// assert_eq!(err.offset(), 3);
/// assert_eq!(err.to_string(), r#"invalid run id "run 1": space is not allowed at byte 3"#);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValueError {
    what: &'static str,
    kind: ValueErrorKind,
    offset: usize,
    len: usize,
    /// The byte at fault, for [`ValueErrorKind::InvalidByte`] and [`ValueErrorKind::NotADigit`].
    byte: Option<u8>,
    /// A limit, for [`ValueErrorKind::TooLong`] and [`ValueErrorKind::Overflow`].
    limit: u64,
    input: Box<str>,
    input_truncated: bool,
}

impl ValueError {
    #[cold]
    #[inline(never)]
    pub(crate) fn new(
        what: &'static str,
        kind: ValueErrorKind,
        input: &[u8],
        offset: usize,
        len: usize,
    ) -> ValueError {
        let head = input.get(..QUOTE_LIMIT).unwrap_or(input);
        let byte = match kind {
            ValueErrorKind::InvalidByte | ValueErrorKind::NotADigit => input.get(offset).copied(),
            _ => None,
        };
        ValueError {
            what,
            kind,
            offset,
            len,
            byte,
            limit: 0,
            input: String::from_utf8_lossy(head).into(),
            input_truncated: head.len() < input.len(),
        }
    }

    #[cold]
    pub(crate) fn with_limit(mut self, limit: u64) -> ValueError {
        self.limit = limit;
        self
    }

    /// What was being read: `"run id"`, `"label"`, `"workflow URL"`, `"header value"`, …
    #[must_use]
    pub fn what(&self) -> &'static str {
        self.what
    }

    /// What is wrong.
    #[must_use]
    pub fn kind(&self) -> ValueErrorKind {
        self.kind
    }

    /// The byte offset in the input where the problem starts (the input's length when
    /// something is missing at the end).
    #[must_use]
    pub fn offset(&self) -> usize {
        self.offset
    }

    /// The byte range of the input at fault (empty when something is missing).
    #[must_use]
    pub fn span(&self) -> std::ops::Range<usize> {
        self.offset..self.offset.saturating_add(self.len)
    }

    /// The same error, saying it was read as `what`: a [`WorkflowUrl`](crate::WorkflowUrl)
    /// that is a message's destination reports an `"invalid destination URL"`.
    ///
    /// ```
    /// use qstash_protocol::WorkflowUrl;
    ///
    /// let err = WorkflowUrl::new("example.com/hook").unwrap_err().read_as("destination URL");
    /// assert!(err.to_string().starts_with(r#"invalid destination URL "example.com/hook""#));
    /// ```
    #[must_use]
    pub fn read_as(mut self, what: &'static str) -> ValueError {
        self.what = what;
        self
    }
}

/// Names a byte for a message: `"x"`, `space`, `line feed (0x0A)`.
fn describe_byte(f: &mut fmt::Formatter<'_>, b: u8) -> fmt::Result {
    match b {
        b' ' => f.write_str("space"),
        b'\t' => f.write_str("tab (0x09)"),
        b'\n' => f.write_str("line feed (0x0A)"),
        b'\r' => f.write_str("carriage return (0x0D)"),
        0 => f.write_str("NUL (0x00)"),
        b'\'' => f.write_str("\"'\""),
        0x21..=0x7E => write!(f, "\"{}\"", char::from(b).escape_debug()),
        _ => write!(f, "byte 0x{b:02X}"),
    }
}

impl fmt::Display for ValueError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let ellipsis = if self.input_truncated { "…" } else { "" };
        write!(
            f,
            "invalid {} \"{}{ellipsis}\": ",
            self.what,
            self.input.escape_debug()
        )?;
        match self.kind {
            ValueErrorKind::Empty => return f.write_str("empty"),
            ValueErrorKind::TooLong => write!(f, "longer than {} bytes", self.limit)?,
            ValueErrorKind::InvalidByte => {
                match self.byte {
                    Some(b) => describe_byte(f, b)?,
                    None => f.write_str("a byte")?,
                }
                f.write_str(" is not allowed")?;
            }
            ValueErrorKind::SurroundingWhitespace => {
                f.write_str("leading or trailing whitespace (HTTP strips it in transit)")?;
            }
            ValueErrorKind::NotHttpUrl => {
                f.write_str("expected an absolute URL starting with http:// or https://")?;
            }
            ValueErrorKind::MissingHost => f.write_str("missing host")?,
            ValueErrorKind::NotADigit => {
                match self.byte {
                    Some(b) => describe_byte(f, b)?,
                    None => f.write_str("a byte")?,
                }
                f.write_str(" is not a decimal digit")?;
            }
            ValueErrorKind::Overflow => write!(f, "above the maximum of {}", self.limit)?,
            ValueErrorKind::BadEscape => {
                f.write_str("bad percent-escape (expected %XX decoding to UTF-8)")?;
            }
            ValueErrorKind::UnknownValue => f.write_str("not one of the accepted values")?,
            ValueErrorKind::DotSegment => {
                // Destinations are ASCII, so the quoted input holds the segment's bytes.
                match self
                    .input
                    .get(self.offset..self.offset.saturating_add(self.len))
                {
                    Some(seg) if !self.input_truncated || self.offset + self.len <= QUOTE_LIMIT => {
                        write!(f, "dot segment \"{seg}\" is not allowed")?;
                    }
                    _ => f.write_str("a dot segment is not allowed")?,
                }
            }
        }
        write!(f, " at byte {}", self.offset)
    }
}

impl std::error::Error for ValueError {}

/// The parser's error behind a malformed header or query parameter.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum HeaderError {
    /// `Upstash-Delay` is not a §2 delay.
    Delay(qstash_delay::ParseError),
    /// `Upstash-Retry-Delay` is not a §3 expression.
    RetryDelay(qstash_retry_delay::CompileError),
    /// `Upstash-Flow-Control-Value` is not a §4 value.
    FlowControl(qstash_flow_control::ParseError),
    /// `Upstash-Flow-Control-Key` is not a valid key.
    FlowControlKey(qstash_flow_control::KeyError),
    /// Any other value: a run id, a label, a URL, a number, a forwarded value.
    Value(ValueError),
}

impl HeaderError {
    fn as_error(&self) -> &(dyn std::error::Error + 'static) {
        match self {
            HeaderError::Delay(e) => e,
            HeaderError::RetryDelay(e) => e,
            HeaderError::FlowControl(e) => e,
            HeaderError::FlowControlKey(e) => e,
            HeaderError::Value(e) => e,
        }
    }
}

impl fmt::Display for HeaderError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self.as_error(), f)
    }
}

impl std::error::Error for HeaderError {
    /// The parser's error is this error's message, so the chain goes on with its cause.
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.as_error().source()
    }
}

impl From<ValueError> for HeaderError {
    fn from(e: ValueError) -> HeaderError {
        HeaderError::Value(e)
    }
}

/// Why an HTTP request is not a valid QStash request.
///
/// The set of kinds may grow, so matches need a wildcard arm.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum DecodeErrorKind {
    /// The method is not the one of the endpoint (`POST` for a trigger).
    Method,
    /// The path is not the endpoint's (`/v2/trigger/{workflowUrl}` for a trigger).
    Path,
    /// The destination rebuilt from path and query is not an absolute `http(s)` URL.
    WorkflowUrl,
    /// A known header or query parameter whose value is malformed; see
    /// [`DecodeError::header_error`] for the parser's error.
    InvalidValue,
    /// A header name that is not a valid HTTP header name (batch entries only).
    InvalidHeaderName,
    /// A single-valued header or query parameter sent more than once.
    Duplicate,
    /// `Upstash-Forward-` or `Upstash-Failure-Callback-Forward-` with nothing after the prefix.
    EmptyForwardName,
    /// `Upstash-Flow-Control-Key` without `Upstash-Flow-Control-Value`.
    FlowControlKeyWithoutValue,
    /// `Upstash-Flow-Control-Value` without `Upstash-Flow-Control-Key`.
    FlowControlValueWithoutKey,
    /// `Upstash-Failure-Callback-Forward-*` without `Upstash-Failure-Callback`.
    CallbackForwardWithoutCallback,
    /// More forwarded headers than [`MAX_FORWARDED_HEADERS`](crate::MAX_FORWARDED_HEADERS).
    TooManyForwardedHeaders,
    /// A batch body that is not the JSON array of entries.
    Json,
    /// A bulk cancel without any filter.
    MissingFilter,
    /// A message batch with more entries than
    /// [`MAX_BATCH_ENTRIES`](crate::MAX_BATCH_ENTRIES).
    TooManyEntries,
    /// A query parameter the endpoint does not support (never ignored).
    UnknownParameter,
}

/// An HTTP request that is not a valid QStash request.
///
/// It says what is wrong ([`kind`](Self::kind)), which header or query parameter is at fault
/// ([`field`](Self::field)), which batch entry ([`entry`](Self::entry)), and carries the
/// parser's error for a malformed value ([`header_error`](Self::header_error), also the
/// [`source`](std::error::Error::source)).
///
/// ```
/// use bytes::Bytes;
/// use qstash_protocol::{DecodeErrorKind, HeaderError, TriggerRequest};
///
/// let req = http::Request::post("/v2/trigger/https://example.com/wf")
///     .header("Upstash-Delay", "1d10x")
///     .body(Bytes::new())
///     .unwrap();
/// let err = TriggerRequest::from_http(&req).unwrap_err();
/// assert_eq!(err.kind(), DecodeErrorKind::InvalidValue);
/// assert_eq!(err.field(), Some("Upstash-Delay"));
/// assert!(matches!(err.header_error(), Some(HeaderError::Delay(_))));
/// assert_eq!(
///     err.to_string(),
///     r#"invalid Upstash-Delay: invalid delay "1d10x": unknown unit "x" at byte 4"#
/// );
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DecodeError {
    kind: DecodeErrorKind,
    entry: Option<usize>,
    field: Option<Box<str>>,
    detail: Option<Box<str>>,
    source: Option<Box<HeaderError>>,
}

impl DecodeError {
    #[cold]
    pub(crate) fn new(kind: DecodeErrorKind) -> DecodeError {
        DecodeError {
            kind,
            entry: None,
            field: None,
            detail: None,
            source: None,
        }
    }

    #[cold]
    pub(crate) fn at(kind: DecodeErrorKind, field: impl Into<Box<str>>) -> DecodeError {
        DecodeError {
            field: Some(field.into()),
            ..DecodeError::new(kind)
        }
    }

    #[cold]
    pub(crate) fn invalid(
        field: impl Into<Box<str>>,
        source: impl Into<HeaderError>,
    ) -> DecodeError {
        DecodeError {
            source: Some(Box::new(source.into())),
            ..DecodeError::at(DecodeErrorKind::InvalidValue, field)
        }
    }

    #[cold]
    pub(crate) fn into_kind(mut self, kind: DecodeErrorKind) -> DecodeError {
        self.kind = kind;
        self
    }

    #[cold]
    pub(crate) fn with_detail(mut self, detail: impl Into<Box<str>>) -> DecodeError {
        self.detail = Some(detail.into());
        self
    }

    #[cold]
    pub(crate) fn in_entry(mut self, index: usize) -> DecodeError {
        self.entry = Some(index);
        self
    }

    /// What is wrong.
    #[must_use]
    pub fn kind(&self) -> DecodeErrorKind {
        self.kind
    }

    /// The header (canonical spelling for known headers, such as `Upstash-Delay`) or query
    /// parameter at fault, when one is.
    #[must_use]
    pub fn field(&self) -> Option<&str> {
        self.field.as_deref()
    }

    /// The index of the batch entry at fault, for a batch.
    #[must_use]
    pub fn entry(&self) -> Option<usize> {
        self.entry
    }

    /// The parser's error for [`DecodeErrorKind::InvalidValue`].
    #[must_use]
    pub fn header_error(&self) -> Option<&HeaderError> {
        self.source.as_deref()
    }
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(i) = self.entry {
            write!(f, "batch entry {i}: ")?;
        }
        let field = self.field.as_deref().unwrap_or("value");
        match self.kind {
            DecodeErrorKind::Method => f.write_str("wrong method")?,
            DecodeErrorKind::Path => f.write_str("wrong path")?,
            DecodeErrorKind::WorkflowUrl => f.write_str("invalid destination")?,
            DecodeErrorKind::InvalidValue => write!(f, "invalid {field}")?,
            DecodeErrorKind::InvalidHeaderName => {
                write!(f, "invalid header name \"{}\"", field.escape_debug())?
            }
            DecodeErrorKind::Duplicate => write!(f, "{field} sent more than once")?,
            DecodeErrorKind::EmptyForwardName => {
                write!(f, "{field} has no header name after the prefix")?;
            }
            DecodeErrorKind::FlowControlKeyWithoutValue => f.write_str(
                "Upstash-Flow-Control-Key without Upstash-Flow-Control-Value (both or neither)",
            )?,
            DecodeErrorKind::FlowControlValueWithoutKey => f.write_str(
                "Upstash-Flow-Control-Value without Upstash-Flow-Control-Key (both or neither)",
            )?,
            DecodeErrorKind::CallbackForwardWithoutCallback => {
                let needed = if field.starts_with(crate::header::CALLBACK_FORWARD_PREFIX_CANONICAL)
                {
                    "Upstash-Callback"
                } else {
                    "Upstash-Failure-Callback"
                };
                write!(f, "{field} is only valid with {needed}, which is absent")?;
            }
            DecodeErrorKind::TooManyForwardedHeaders => write!(
                f,
                "more than {} forwarded headers",
                crate::MAX_FORWARDED_HEADERS
            )?,
            DecodeErrorKind::Json => f.write_str("invalid batch body")?,
            DecodeErrorKind::UnknownParameter => write!(
                f,
                "query parameter {field} is not supported by this endpoint of this server"
            )?,
            DecodeErrorKind::MissingFilter if field == "messageIds" => f.write_str(
                "name the messages (messageIds), give a filter, or pass count to cancel all",
            )?,
            DecodeErrorKind::MissingFilter if field == "dlqIds" => {
                f.write_str("at least one dlqIds parameter is needed")?;
            }
            DecodeErrorKind::MissingFilter => f.write_str(
                "bulk cancel needs at least one of workflowRunIds, workflowUrl or label",
            )?,
            DecodeErrorKind::TooManyEntries => write!(
                f,
                "a batch holds at most {} entries",
                crate::MAX_BATCH_ENTRIES
            )?,
        }
        if let Some(detail) = &self.detail {
            write!(f, ": {detail}")?;
        }
        if let Some(source) = &self.source {
            write!(f, ": {source}")?;
        }
        Ok(())
    }
}

impl std::error::Error for DecodeError {
    /// The message already ends with the header's error ([`header_error`](Self::header_error)),
    /// so the chain goes on with that error's cause: each cause is printed once.
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.source
            .as_deref()
            .and_then(|e| std::error::Error::source(e.as_error()))
    }
}

/// Why a request cannot be built.
///
/// The set of kinds may grow, so matches need a wildcard arm.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum BuildErrorKind {
    /// A value that a header cannot carry (see [`BuildError::value_error`]).
    InvalidValue,
    /// A forwarded header name that is empty or not a valid HTTP header name.
    InvalidHeaderName,
    /// Failure-callback forwarded headers without a failure callback.
    CallbackForwardWithoutCallback,
    /// More forwarded headers than [`MAX_FORWARDED_HEADERS`](crate::MAX_FORWARDED_HEADERS).
    TooManyForwardedHeaders,
    /// A batch entry whose body or a header value is not UTF-8 (a JSON string must be).
    NotUtf8,
    /// A batch entry that repeats a forwarded header (a JSON object has one value per name).
    RepeatedHeader,
    /// A bulk cancel without any filter.
    MissingFilter,
    /// A message batch with more entries than
    /// [`MAX_BATCH_ENTRIES`](crate::MAX_BATCH_ENTRIES).
    TooManyEntries,
    /// An extra header (`PublishRequestBuilder::extra_header`) whose name is not an
    /// `Upstash-*` name, or is one of the headers the request models.
    NotAnExtraHeader,
}

/// A request that cannot be built: a value a header cannot carry, an invalid forwarded name,
/// or a combination the protocol forbids.
///
/// ```
/// use qstash_protocol::{BuildErrorKind, TriggerRequest, WorkflowUrl};
///
/// let url = WorkflowUrl::new("https://example.com/wf")?;
/// let err = TriggerRequest::builder(url)
///     .forward("X-Trace", "a\r\nInjected: yes")
///     .build()
///     .unwrap_err();
/// assert_eq!(err.kind(), BuildErrorKind::InvalidValue);
/// assert_eq!(
///     err.to_string(),
///     r#"invalid Upstash-Forward-x-trace: invalid header value "a\r\nInjected: yes": carriage return (0x0D) is not allowed at byte 1"#
/// );
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BuildError {
    kind: BuildErrorKind,
    entry: Option<usize>,
    field: Option<Box<str>>,
    source: Option<ValueError>,
}

impl BuildError {
    #[cold]
    pub(crate) fn new(kind: BuildErrorKind, field: Option<Box<str>>) -> BuildError {
        BuildError {
            kind,
            entry: None,
            field,
            source: None,
        }
    }

    #[cold]
    pub(crate) fn value(field: impl Into<Box<str>>, source: ValueError) -> BuildError {
        BuildError {
            kind: BuildErrorKind::InvalidValue,
            entry: None,
            field: Some(field.into()),
            source: Some(source),
        }
    }

    #[cold]
    pub(crate) fn name(field: impl Into<Box<str>>, source: ValueError) -> BuildError {
        BuildError {
            kind: BuildErrorKind::InvalidHeaderName,
            ..BuildError::value(field, source)
        }
    }

    #[cold]
    pub(crate) fn in_entry(mut self, index: usize) -> BuildError {
        self.entry = Some(index);
        self
    }

    /// What is wrong.
    #[must_use]
    pub fn kind(&self) -> BuildErrorKind {
        self.kind
    }

    /// The header or parameter at fault, when one is.
    #[must_use]
    pub fn field(&self) -> Option<&str> {
        self.field.as_deref()
    }

    /// The index of the batch entry at fault, for a batch.
    #[must_use]
    pub fn entry(&self) -> Option<usize> {
        self.entry
    }

    /// The value's error, for [`BuildErrorKind::InvalidValue`] and
    /// [`BuildErrorKind::InvalidHeaderName`].
    #[must_use]
    pub fn value_error(&self) -> Option<&ValueError> {
        self.source.as_ref()
    }
}

impl fmt::Display for BuildError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(i) = self.entry {
            write!(f, "batch entry {i}: ")?;
        }
        let field = self.field.as_deref().unwrap_or("value");
        match self.kind {
            BuildErrorKind::InvalidValue => write!(f, "invalid {field}")?,
            BuildErrorKind::InvalidHeaderName => write!(f, "invalid name for {field}")?,
            BuildErrorKind::CallbackForwardWithoutCallback if field == "Upstash-Callback" => {
                f.write_str("callback forwarded headers need a callback (Upstash-Callback)")?;
            }
            BuildErrorKind::CallbackForwardWithoutCallback => f.write_str(
                "failure-callback forwarded headers need a failure callback (a URL or the failure function)",
            )?,
            BuildErrorKind::TooManyForwardedHeaders => write!(
                f,
                "more than {} forwarded headers",
                crate::MAX_FORWARDED_HEADERS
            )?,
            BuildErrorKind::NotUtf8 => write!(f, "{field} is not UTF-8, which a JSON batch entry needs")?,
            BuildErrorKind::RepeatedHeader => write!(
                f,
                "{field} has several values, which a JSON batch entry cannot carry"
            )?,
            BuildErrorKind::MissingFilter if field == "dlqIds" => {
                f.write_str("at least one DLQ id is needed")?;
            }
            BuildErrorKind::MissingFilter => f.write_str(
                "bulk cancel needs at least one of run ids, workflow URL or label",
            )?,
            BuildErrorKind::TooManyEntries => write!(
                f,
                "a batch holds at most {} entries",
                crate::MAX_BATCH_ENTRIES
            )?,
            BuildErrorKind::NotAnExtraHeader => write!(
                f,
                "{field} cannot be an extra header: only unknown Upstash-* headers can"
            )?,
        }
        if let Some(source) = &self.source {
            write!(f, ": {source}")?;
        }
        Ok(())
    }
}

impl std::error::Error for BuildError {
    /// The message already ends with the value's error ([`value_error`](Self::value_error)),
    /// so the chain goes on with that error's cause.
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.source.as_ref().and_then(std::error::Error::source)
    }
}
