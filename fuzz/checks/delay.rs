//! The property the `delay` fuzz target asserts, shared with the corpus replay test in
//! `crates/qstash-delay/tests/fuzz_corpus.rs` so that stable CI checks the same thing.

use qstash_delay::Delay;

/// Parses `data`; on success the canonical form must parse back to the same value and be
/// stable, and on failure the error must point inside the input.
pub fn check(data: &[u8]) {
    match Delay::parse(data) {
        Ok(delay) => {
            let shown = delay.to_string();
            let again = Delay::parse(shown.as_bytes()).expect("canonical form parses");
            assert_eq!(again, delay, "display of {data:?} is {shown:?}");
            assert_eq!(again.to_string(), shown, "canonical form is stable");
        }
        Err(err) => {
            assert!(err.offset() <= data.len(), "offset past the end: {err}");
            assert!(err.span().end <= data.len(), "span past the end: {err}");
            assert!(!err.to_string().is_empty());
        }
    }
}
