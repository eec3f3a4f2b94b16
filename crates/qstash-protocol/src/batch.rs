//! Batch trigger: `POST /v2/batch/trigger` with a JSON array of entries.

use bytes::Bytes;
use http::header::CONTENT_TYPE;
use http::{HeaderMap, HeaderName, HeaderValue, Method, Request, Uri};
use serde::{Deserialize, Serialize};

use crate::encode::{Sink, Val};
use crate::error::{
    BuildError, BuildErrorKind, DecodeError, DecodeErrorKind, ValueError, ValueErrorKind,
};
use crate::header::{self, ForwardPrefix, Known};
use crate::trigger::{TriggerRequest, decode_headers};
use crate::uri::join;
use crate::values::WorkflowUrl;

/// The path of a batch trigger.
pub const BATCH_TRIGGER_PATH: &str = "/v2/batch/trigger";

/// One entry of a batch body, as it travels in JSON:
/// `{"destination": url, "body": string?, "headers": {name: value}?}`.
///
/// `headers` keeps the object's order and every pair, duplicates included, so that a decoder
/// can reject a header given twice.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct BatchRequestEntry {
    /// The workflow URL.
    pub destination: String,
    /// The body; absent means empty.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body: Option<String>,
    /// The headers of the entry, the same as those of a single trigger.
    #[serde(default, skip_serializing_if = "Vec::is_empty", with = "header_pairs")]
    pub headers: Vec<(String, String)>,
}

impl BatchRequestEntry {
    /// An entry to `destination`, without body or headers.
    #[must_use]
    pub fn new(destination: impl Into<String>) -> BatchRequestEntry {
        BatchRequestEntry {
            destination: destination.into(),
            body: None,
            headers: Vec::new(),
        }
    }
}

/// Serde for a JSON object read as ordered `(name, value)` pairs.
mod header_pairs {
    use std::fmt;

    use serde::de::{MapAccess, Visitor};
    use serde::ser::SerializeMap;
    use serde::{Deserializer, Serializer};

    pub(super) fn serialize<S: Serializer>(
        pairs: &[(String, String)],
        s: S,
    ) -> Result<S::Ok, S::Error> {
        let mut map = s.serialize_map(Some(pairs.len()))?;
        for (k, v) in pairs {
            map.serialize_entry(k, v)?;
        }
        map.end()
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(
        d: D,
    ) -> Result<Vec<(String, String)>, D::Error> {
        struct Pairs;
        impl<'de> Visitor<'de> for Pairs {
            type Value = Vec<(String, String)>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an object of header names to string values")
            }
            fn visit_unit<E: serde::de::Error>(self) -> Result<Self::Value, E> {
                Ok(Vec::new())
            }
            fn visit_none<E: serde::de::Error>(self) -> Result<Self::Value, E> {
                Ok(Vec::new())
            }
            fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
                d.deserialize_map(Pairs)
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                // The size hint is untrusted input: cap the preallocation.
                let mut out = Vec::with_capacity(map.size_hint().unwrap_or(0).min(64));
                while let Some(pair) = map.next_entry::<String, String>()? {
                    out.push(pair);
                }
                Ok(out)
            }
        }
        d.deserialize_option(Pairs)
    }
}

/// A batch of triggers (`POST /v2/batch/trigger`), each entry carrying the same fields as a
/// single [`TriggerRequest`].
///
/// JSON restricts what an entry can carry, which [`TriggerBatch::new`] checks: the body and
/// every header value must be UTF-8, and a forwarded header cannot have several values.
///
/// ```
/// use http::Uri;
/// use qstash_protocol::{TriggerBatch, TriggerRequest, WorkflowUrl};
///
/// let a = TriggerRequest::builder(WorkflowUrl::new("https://example.com/a")?)
///     .body("hello")
///     .retries(1)
///     .build()?;
/// let b = TriggerRequest::builder(WorkflowUrl::new("https://example.com/b")?).build()?;
/// let batch = TriggerBatch::new(vec![a, b])?;
/// let http = batch.to_http(&Uri::from_static("https://qstash.upstash.io"));
/// assert_eq!(http.uri().path(), "/v2/batch/trigger");
/// assert_eq!(
///     std::str::from_utf8(http.body())?,
///     r#"[{"destination":"https://example.com/a","body":"hello","headers":{"Upstash-Retries":"1"}},{"destination":"https://example.com/b"}]"#
/// );
/// assert_eq!(TriggerBatch::from_http(&http)?, batch);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct TriggerBatch(Vec<TriggerRequest>);

impl TriggerBatch {
    /// Checks that every entry can travel in JSON.
    ///
    /// # Errors
    /// A [`BuildError`] naming the entry whose body or a header value is not UTF-8
    /// ([`BuildErrorKind::NotUtf8`]) or which repeats a forwarded header
    /// ([`BuildErrorKind::RepeatedHeader`]).
    pub fn new(entries: Vec<TriggerRequest>) -> Result<TriggerBatch, BuildError> {
        for (i, req) in entries.iter().enumerate() {
            check_entry(req).map_err(|e| e.in_entry(i))?;
        }
        Ok(TriggerBatch(entries))
    }

    /// The entries.
    #[must_use]
    pub fn entries(&self) -> &[TriggerRequest] {
        &self.0
    }

    /// The entries, owned.
    #[must_use]
    pub fn into_entries(self) -> Vec<TriggerRequest> {
        self.0
    }

    /// Gives every entry without a run id a generated one ([`TriggerRequest::ensure_run_id`]).
    pub fn ensure_run_ids(&mut self) {
        for req in &mut self.0 {
            req.ensure_run_id();
        }
    }

    /// The entries in their JSON form.
    #[must_use]
    pub fn to_entries(&self) -> Vec<BatchRequestEntry> {
        self.0
            .iter()
            .map(|req| {
                let mut sink = JsonSink(Vec::new());
                req.encode(&mut sink);
                BatchRequestEntry {
                    destination: req.url().as_str().to_owned(),
                    body: (!req.body().is_empty())
                        .then(|| String::from_utf8_lossy(req.body()).into_owned()),
                    headers: sink.0,
                }
            })
            .collect()
    }

    /// Decodes entries from their JSON form: each entry's headers decode as those of a
    /// single trigger, except that a name given twice (in any case) is always an error.
    ///
    /// # Errors
    /// A [`DecodeError`] naming the entry ([`DecodeError::entry`]) and what is wrong with it.
    pub fn from_entries(entries: &[BatchRequestEntry]) -> Result<TriggerBatch, DecodeError> {
        entries
            .iter()
            .enumerate()
            .map(|(i, e)| decode_entry(e).map_err(|err| err.in_entry(i)))
            .collect::<Result<Vec<_>, _>>()
            .map(TriggerBatch)
    }

    /// Encodes the batch as `POST {base}/v2/batch/trigger` with a JSON body and
    /// `Content-Type: application/json`.
    #[must_use]
    pub fn to_http(&self, base: &Uri) -> Request<Bytes> {
        // Serialising strings into a `Vec` cannot fail.
        let body = serde_json::to_vec(&self.to_entries()).unwrap_or_default();
        let mut req = Request::new(Bytes::from(body));
        *req.method_mut() = Method::POST;
        *req.uri_mut() = join(base, BATCH_TRIGGER_PATH.to_owned());
        req.headers_mut()
            .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        req
    }

    /// Decodes `POST …/v2/batch/trigger`; the `Content-Type` is not checked.
    ///
    /// # Errors
    /// A [`DecodeError`] for another method or path, a body that is not a JSON array of
    /// entries ([`DecodeErrorKind::Json`]), or an invalid entry.
    pub fn from_http(req: &Request<Bytes>) -> Result<TriggerBatch, DecodeError> {
        if req.method() != Method::POST {
            return Err(DecodeError::new(DecodeErrorKind::Method)
                .with_detail(format!("expected POST, found {}", req.method())));
        }
        if req.uri().path() != BATCH_TRIGGER_PATH {
            return Err(DecodeError::new(DecodeErrorKind::Path).with_detail(format!(
                "expected {BATCH_TRIGGER_PATH}, found \"{}\"",
                req.uri().path().escape_debug()
            )));
        }
        let entries: Vec<BatchRequestEntry> = serde_json::from_slice(req.body())
            .map_err(|e| DecodeError::new(DecodeErrorKind::Json).with_detail(e.to_string()))?;
        TriggerBatch::from_entries(&entries)
    }
}

impl TryFrom<Vec<TriggerRequest>> for TriggerBatch {
    type Error = BuildError;

    fn try_from(entries: Vec<TriggerRequest>) -> Result<TriggerBatch, BuildError> {
        TriggerBatch::new(entries)
    }
}

fn check_entry(req: &TriggerRequest) -> Result<(), BuildError> {
    let not_utf8 = |field: &str| BuildError::new(BuildErrorKind::NotUtf8, Some(field.into()));
    if std::str::from_utf8(req.body()).is_err() {
        return Err(not_utf8("body"));
    }
    if let Some(ct) = req.content_type()
        && std::str::from_utf8(ct.as_bytes()).is_err()
    {
        return Err(not_utf8(header::CONTENT_TYPE_CANONICAL));
    }
    let callback = req.failure_callback().map(|cb| cb.forwarded());
    let maps = [
        Some((ForwardPrefix::Destination.canonical(), req.forwarded())),
        callback.map(|m| (ForwardPrefix::Failure.canonical(), m)),
    ];
    for (prefix, map) in maps.into_iter().flatten() {
        if let Some(repeated) = map.repeated_name() {
            let field = format!("{prefix}{repeated}");
            return Err(BuildError::new(
                BuildErrorKind::RepeatedHeader,
                Some(field.into()),
            ));
        }
        for (name, value) in map.iter() {
            if std::str::from_utf8(value.as_bytes()).is_err() {
                return Err(not_utf8(&format!("{prefix}{name}")));
            }
        }
    }
    Ok(())
}

/// Writes headers as JSON `(name, value)` pairs with canonical names.
pub(crate) struct JsonSink(pub(crate) Vec<(String, String)>);

impl Sink for JsonSink {
    fn known(&mut self, header: Known, value: Val<'_>) {
        let value = match value {
            Val::Str(s) => s.to_owned(),
            Val::Display(d) => d.to_string(),
            Val::Num(n) => n.to_string(),
            Val::Header(v) => String::from_utf8_lossy(v.as_bytes()).into_owned(),
        };
        self.0.push((header.canonical().to_owned(), value));
    }

    fn forwarded(
        &mut self,
        prefix: ForwardPrefix,
        _full: &HeaderName,
        bare: &str,
        value: &HeaderValue,
    ) {
        self.0.push((
            format!("{}{bare}", prefix.canonical()),
            String::from_utf8_lossy(value.as_bytes()).into_owned(),
        ));
    }

    fn extra(&mut self, name: &HeaderName, value: &HeaderValue) {
        self.0.push((
            name.as_str().to_owned(),
            String::from_utf8_lossy(value.as_bytes()).into_owned(),
        ));
    }
}

fn decode_entry(entry: &BatchRequestEntry) -> Result<TriggerRequest, DecodeError> {
    let url = WorkflowUrl::parse(entry.destination.as_bytes()).map_err(|e| {
        DecodeError::invalid("destination", e).into_kind(DecodeErrorKind::WorkflowUrl)
    })?;
    let map = entry_headers(&entry.headers)?;
    let body = entry
        .body
        .as_ref()
        .map_or_else(Bytes::new, |b| Bytes::copy_from_slice(b.as_bytes()));
    decode_headers(&map, url, body)
}

/// The headers of a JSON batch entry as a `HeaderMap`; a name given twice (in any case) is
/// an error.
pub(crate) fn entry_headers(headers: &[(String, String)]) -> Result<HeaderMap, DecodeError> {
    let mut map = HeaderMap::with_capacity(headers.len().min(64));
    for (name, value) in headers {
        let header_name = HeaderName::from_bytes(name.as_bytes())
            .map_err(|_| DecodeError::at(DecodeErrorKind::InvalidHeaderName, name.as_str()))?;
        let field = || header::canonical(&header_name).map_or_else(|| name.clone(), str::to_owned);
        if map.contains_key(&header_name) {
            return Err(DecodeError::at(DecodeErrorKind::Duplicate, field()));
        }
        let value = header_value(value).map_err(|e| DecodeError::invalid(field(), e))?;
        if map.try_append(header_name, value).is_err() {
            return Err(DecodeError::new(DecodeErrorKind::TooManyForwardedHeaders));
        }
    }
    Ok(map)
}

/// A JSON string as a header value: every byte but controls (tab excepted) and DEL.
fn header_value(s: &str) -> Result<HeaderValue, ValueError> {
    let bytes = s.as_bytes();
    if let Some(i) = bytes
        .iter()
        .position(|&b| (b < 0x20 && b != b'\t') || b == 0x7F)
    {
        return Err(ValueError::new(
            "header value",
            ValueErrorKind::InvalidByte,
            bytes,
            i,
            1,
        ));
    }
    HeaderValue::from_str(s).map_err(|_| {
        ValueError::new(
            "header value",
            ValueErrorKind::InvalidByte,
            bytes,
            0,
            bytes.len(),
        )
    })
}
