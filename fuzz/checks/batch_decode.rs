//! The property the `batch_decode` fuzz target asserts, shared with the corpus replay test in
//! `crates/qstash-protocol/tests/fuzz_corpus.rs` so that stable CI checks the same thing.
//!
//! Input: the raw body of `POST /v2/batch`.

use qstash_protocol::PublishBatch;

/// Decodes the body; on success, encoding must decode to the same batch and be stable. On
/// failure the error must have a message.
pub fn check(data: &[u8]) {
    match PublishBatch::from_json(data) {
        Ok(batch) => {
            let json = batch.to_json();
            let again = PublishBatch::from_json(&json).expect("an encoded batch decodes");
            assert_eq!(again, batch, "re-encoding changed the batch");
            assert_eq!(again.to_json(), json, "encoding is not stable");
        }
        Err(err) => assert!(!err.to_string().is_empty()),
    }
}
