//! A batch of messages: `POST /v2/batch` with a JSON array of entries.

use std::cell::Cell;
use std::fmt;

use bytes::Bytes;
use http::header::CONTENT_TYPE;
use http::{HeaderValue, Method, Request, Uri};
use serde::de::{DeserializeSeed, SeqAccess, Visitor};

use crate::batch::{BatchRequestEntry, JsonSink, entry_headers};
use crate::error::{BuildError, BuildErrorKind, DecodeError, DecodeErrorKind};
use crate::header::{self, ForwardPrefix};
use crate::publish::PublishRequest;
use crate::uri::join;

/// The path of a batch of messages: `POST {base}/v2/batch`.
pub const BATCH_PATH: &str = "/v2/batch";

/// The most entries a batch of messages may hold: a policy of this crate (the upstream
/// service documents no limit), so that one request cannot enqueue an unbounded number of
/// messages. A decoder stops reading at the first entry past it.
pub const MAX_BATCH_ENTRIES: usize = 1000;

/// A batch of messages (`POST /v2/batch`): a JSON array of
/// `{"destination": url, "headers": {name: value}, "body": string?}` entries, each carrying
/// the headers of a single [`PublishRequest`]. Other fields of an entry (`queue`, …) are
/// ignored. The answer is a JSON array of [`PublishResponse`](crate::PublishResponse).
///
/// JSON restricts what an entry can carry, which [`PublishBatch::new`] checks: the body and
/// every header value must be UTF-8, and a header name cannot have several values.
///
/// ```
/// use qstash_protocol::{PublishBatch, PublishRequest, WorkflowUrl};
///
/// let a = PublishRequest::builder(WorkflowUrl::new("https://example.com/a")?)
///     .body("hello")
///     .retries(1)
///     .build()?;
/// let b = PublishRequest::builder(WorkflowUrl::new("https://example.com/b")?).build()?;
/// let batch = PublishBatch::new(vec![a, b])?;
/// let json = batch.to_json();
/// assert_eq!(
///     std::str::from_utf8(&json)?,
///     r#"[{"destination":"https://example.com/a","body":"hello","headers":{"Upstash-Retries":"1"}},{"destination":"https://example.com/b"}]"#
/// );
/// assert_eq!(PublishBatch::from_json(&json)?, batch);
///
/// let err = PublishBatch::from_json(
///     br#"[{"destination":"https://example.com/a"},
///          {"destination":"https://example.com/b","headers":{"Upstash-Delay":"5x"}}]"#,
/// )
/// .unwrap_err();
/// assert_eq!(err.entry(), Some(1));
/// assert!(err.to_string().starts_with("batch entry 1: invalid Upstash-Delay: "));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct PublishBatch(Vec<PublishRequest>);

impl PublishBatch {
    /// Checks that the batch can travel in JSON.
    ///
    /// # Errors
    /// [`BuildErrorKind::TooManyEntries`] for more than [`MAX_BATCH_ENTRIES`] entries; a
    /// [`BuildError`] naming the entry whose body or a header value is not UTF-8
    /// ([`BuildErrorKind::NotUtf8`]) or which repeats a header
    /// ([`BuildErrorKind::RepeatedHeader`]).
    pub fn new(entries: Vec<PublishRequest>) -> Result<PublishBatch, BuildError> {
        if entries.len() > MAX_BATCH_ENTRIES {
            return Err(BuildError::new(BuildErrorKind::TooManyEntries, None));
        }
        for (i, req) in entries.iter().enumerate() {
            check_entry(req).map_err(|e| e.in_entry(i))?;
        }
        Ok(PublishBatch(entries))
    }

    /// The entries.
    #[must_use]
    pub fn entries(&self) -> &[PublishRequest] {
        &self.0
    }

    /// The entries, owned.
    #[must_use]
    pub fn into_entries(self) -> Vec<PublishRequest> {
        self.0
    }

    /// The entries in their JSON form, headers with their canonical names (extras lowercase).
    #[must_use]
    pub fn to_entries(&self) -> Vec<BatchRequestEntry> {
        self.0
            .iter()
            .map(|req| {
                let mut sink = JsonSink(Vec::new());
                req.encode(&mut sink);
                BatchRequestEntry {
                    destination: req.destination().as_str().to_owned(),
                    body: (!req.body().is_empty())
                        .then(|| String::from_utf8_lossy(req.body()).into_owned()),
                    headers: sink.0,
                }
            })
            .collect()
    }

    /// The JSON body.
    #[must_use]
    pub fn to_json(&self) -> Vec<u8> {
        // Serialising strings into a `Vec` cannot fail.
        serde_json::to_vec(&self.to_entries()).unwrap_or_default()
    }

    /// Decodes a JSON body: an array of at most [`MAX_BATCH_ENTRIES`] entries, each decoded as
    /// [`PublishRequest::from_parts`] would, except that a header name given twice (in any
    /// case) is always an error.
    ///
    /// # Errors
    /// [`DecodeErrorKind::Json`] for a body that is not an array of entries,
    /// [`DecodeErrorKind::TooManyEntries`], or the error of the first invalid entry, naming
    /// it ([`DecodeError::entry`]).
    pub fn from_json(json: &[u8]) -> Result<PublishBatch, DecodeError> {
        let too_many = Cell::new(false);
        let mut de = serde_json::Deserializer::from_slice(json);
        let parsed = Bounded(&too_many)
            .deserialize(&mut de)
            .and_then(|entries| de.end().map(|()| entries));
        let entries = match parsed {
            Ok(entries) => entries,
            Err(_) if too_many.get() => {
                return Err(DecodeError::new(DecodeErrorKind::TooManyEntries));
            }
            Err(e) => {
                return Err(DecodeError::new(DecodeErrorKind::Json).with_detail(e.to_string()));
            }
        };
        PublishBatch::from_entries(&entries)
    }

    /// Decodes entries from their JSON form; see [`from_json`](Self::from_json).
    ///
    /// # Errors
    /// As [`from_json`](Self::from_json).
    pub fn from_entries(entries: &[BatchRequestEntry]) -> Result<PublishBatch, DecodeError> {
        if entries.len() > MAX_BATCH_ENTRIES {
            return Err(DecodeError::new(DecodeErrorKind::TooManyEntries));
        }
        entries
            .iter()
            .enumerate()
            .map(|(i, e)| decode_entry(e).map_err(|err| err.in_entry(i)))
            .collect::<Result<Vec<_>, _>>()
            .map(PublishBatch)
    }

    /// Encodes the batch as `POST {base}/v2/batch` with its JSON body and
    /// `Content-Type: application/json`.
    #[must_use]
    pub fn to_http(&self, base: &Uri) -> Request<Bytes> {
        let mut req = Request::new(Bytes::from(self.to_json()));
        *req.method_mut() = Method::POST;
        *req.uri_mut() = join(base, BATCH_PATH.to_owned());
        req.headers_mut()
            .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        req
    }

    /// Decodes `POST …/v2/batch`; the `Content-Type` is not checked.
    ///
    /// # Errors
    /// A [`DecodeError`] for another method or path, or as [`from_json`](Self::from_json).
    pub fn from_http(req: &Request<Bytes>) -> Result<PublishBatch, DecodeError> {
        if req.method() != Method::POST {
            return Err(DecodeError::new(DecodeErrorKind::Method)
                .with_detail(format!("expected POST, found {}", req.method())));
        }
        if req.uri().path() != BATCH_PATH {
            return Err(DecodeError::new(DecodeErrorKind::Path).with_detail(format!(
                "expected {BATCH_PATH}, found \"{}\"",
                req.uri().path().escape_debug()
            )));
        }
        PublishBatch::from_json(req.body())
    }
}

impl TryFrom<Vec<PublishRequest>> for PublishBatch {
    type Error = BuildError;

    fn try_from(entries: Vec<PublishRequest>) -> Result<PublishBatch, BuildError> {
        PublishBatch::new(entries)
    }
}

fn decode_entry(entry: &BatchRequestEntry) -> Result<PublishRequest, DecodeError> {
    let map = entry_headers(&entry.headers)?;
    let body = entry
        .body
        .as_ref()
        .map_or_else(Bytes::new, |b| Bytes::copy_from_slice(b.as_bytes()));
    PublishRequest::from_parts(&entry.destination, &map, body)
}

fn check_entry(req: &PublishRequest) -> Result<(), BuildError> {
    let not_utf8 = |field: &str| BuildError::new(BuildErrorKind::NotUtf8, Some(field.into()));
    if std::str::from_utf8(req.body()).is_err() {
        return Err(not_utf8("body"));
    }
    if let Some(ct) = req.content_type()
        && std::str::from_utf8(ct.as_bytes()).is_err()
    {
        return Err(not_utf8(header::CONTENT_TYPE_CANONICAL));
    }
    let maps = [
        Some((ForwardPrefix::Destination.canonical(), req.forwarded())),
        req.callback()
            .map(|cb| (ForwardPrefix::Callback.canonical(), cb.forwarded())),
        req.failure_callback()
            .map(|cb| (ForwardPrefix::Failure.canonical(), cb.forwarded())),
    ];
    for (prefix, map) in maps.into_iter().flatten() {
        if let Some(repeated) = map.repeated_name() {
            return Err(BuildError::new(
                BuildErrorKind::RepeatedHeader,
                Some(format!("{prefix}{repeated}").into()),
            ));
        }
        for (name, value) in map.iter() {
            if std::str::from_utf8(value.as_bytes()).is_err() {
                return Err(not_utf8(&format!("{prefix}{name}")));
            }
        }
    }
    let extra = req.extra_headers();
    for (i, (name, value)) in extra.iter().enumerate() {
        // Extras are grouped by name, so a repeated name has two neighbours.
        if i > 0 && extra.get(i - 1).is_some_and(|(prev, _)| prev == name) {
            return Err(BuildError::new(
                BuildErrorKind::RepeatedHeader,
                Some(name.as_str().into()),
            ));
        }
        if std::str::from_utf8(value.as_bytes()).is_err() {
            return Err(not_utf8(name.as_str()));
        }
    }
    Ok(())
}

/// Reads a JSON array of entries, failing at the first entry past [`MAX_BATCH_ENTRIES`] and
/// recording why in the flag.
struct Bounded<'a>(&'a Cell<bool>);

impl<'de> DeserializeSeed<'de> for Bounded<'_> {
    type Value = Vec<BatchRequestEntry>;

    fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_seq(self)
    }
}

impl<'de> Visitor<'de> for Bounded<'_> {
    type Value = Vec<BatchRequestEntry>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an array of batch entries")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let mut out = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(64));
        while let Some(entry) = seq.next_element::<BatchRequestEntry>()? {
            if out.len() == MAX_BATCH_ENTRIES {
                self.0.set(true);
                return Err(serde::de::Error::custom("too many entries"));
            }
            out.push(entry);
        }
        Ok(out)
    }
}
