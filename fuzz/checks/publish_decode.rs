//! The property the `publish_decode` fuzz target asserts, shared with the corpus replay test in
//! `crates/qstash-protocol/tests/fuzz_corpus.rs` so that stable CI checks the same thing.
//!
//! Input format, as for `trigger_decode` (so that seeds can be written by hand): the first line
//! is the request target (path and query); each following line up to an empty line or the end
//! is a header `name:value` (one space after the colon is dropped); whatever follows the empty
//! line is the body. Lines `http` refuses as a header are skipped; a target it refuses ends the
//! case.

use bytes::Bytes;
use http::{HeaderName, HeaderValue, Request, Uri};
use qstash_protocol::{PublishBatch, PublishRequest};

/// Splits `data` into a `POST` request, or `None` when `http` refuses the target.
pub fn request(data: &[u8]) -> Option<Request<Bytes>> {
    let mut rest = data;
    let mut next_line = || -> Option<&[u8]> {
        if rest.is_empty() {
            return None;
        }
        let end = rest.iter().position(|&b| b == b'\n').unwrap_or(rest.len());
        let line = &rest[..end];
        rest = rest.get(end + 1..).unwrap_or_default();
        Some(line)
    };
    let target = next_line()?;
    let mut builder = Request::post(Uri::try_from(target).ok()?);
    while let Some(line) = next_line() {
        if line.is_empty() {
            break;
        }
        let colon = line.iter().position(|&b| b == b':').unwrap_or(line.len());
        let name = &line[..colon];
        let mut value = line.get(colon + 1..).unwrap_or_default();
        if let Some(v) = value.strip_prefix(b" ") {
            value = v;
        }
        if let (Ok(n), Ok(v)) = (HeaderName::from_bytes(name), HeaderValue::from_bytes(value)) {
            builder = builder.header(n, v);
        }
    }
    builder.body(Bytes::copy_from_slice(rest)).ok()
}

/// Everything that makes two encoded requests identical, header order included.
fn snapshot(req: &Request<Bytes>) -> (String, String, Vec<(String, Vec<u8>)>, Bytes) {
    (
        req.method().to_string(),
        req.uri().to_string(),
        req.headers()
            .iter()
            .map(|(n, v)| (n.as_str().to_owned(), v.as_bytes().to_vec()))
            .collect(),
        req.body().clone(),
    )
}

/// Decodes the request; on success, re-encoding must decode to the same value (through HTTP
/// and through `from_parts`), encoding must be stable, and a batch of it must round-trip when
/// JSON can carry it. On failure the error must have a message.
pub fn check(data: &[u8]) {
    let Some(req) = request(data) else {
        return;
    };
    match PublishRequest::from_http(&req) {
        Ok(decoded) => {
            let base = Uri::from_static("https://qstash.upstash.io");
            let http = decoded.to_http(&base);
            let again = PublishRequest::from_http(&http).expect("an encoded request decodes");
            assert_eq!(again, decoded, "re-encoding changed the request");
            assert_eq!(
                snapshot(&again.to_http(&base)),
                snapshot(&http),
                "encoding is not stable"
            );
            let parts = PublishRequest::from_parts(
                decoded.destination().as_str(),
                &decoded.headers(),
                decoded.body().clone(),
            );
            assert_eq!(parts.as_ref(), Ok(&decoded), "from_parts disagrees");
            if let Ok(batch) = PublishBatch::new(vec![decoded]) {
                let json = batch.to_json();
                assert_eq!(PublishBatch::from_json(&json).as_ref(), Ok(&batch));
            }
        }
        Err(err) => assert!(!err.to_string().is_empty()),
    }
}
