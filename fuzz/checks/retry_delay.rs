//! The property the `retry_delay` fuzz target asserts, shared with the corpus replay test in
//! `crates/qstash-retry-delay/tests/fuzz_corpus.rs` so that stable CI checks the same thing.

use qstash_retry_delay::{EvalError, RetryDelay};

/// Compiles `data`; on success every `retried` in `0..=64` must give a delay within the cap
/// or the NaN error, and the display (the source) must compile to a program that evaluates
/// to the same bits; on failure the error must point inside the input.
pub fn check(data: &[u8]) {
    match RetryDelay::compile_bytes(data) {
        Ok(program) => {
            let shown = program.to_string();
            assert_eq!(shown.as_bytes(), data, "display is the source");
            let again = RetryDelay::compile(&shown).expect("the display compiles");
            assert_eq!(again, program);
            for retried in 0..=64u32 {
                let value = program.eval(retried);
                let other = again.eval(retried);
                assert!(
                    value.to_bits() == other.to_bits() || (value.is_nan() && other.is_nan()),
                    "{shown:?} at {retried}: {value} vs {other}"
                );
                match program.delay(retried) {
                    Ok(delay) => {
                        assert!(!value.is_nan());
                        assert!(delay <= RetryDelay::DEFAULT_CAP, "{shown:?} at {retried}");
                    }
                    Err(EvalError::NotANumber { retried: at }) => {
                        assert!(value.is_nan(), "{shown:?} at {retried}");
                        assert_eq!(at, retried);
                    }
                    Err(other) => panic!("unexpected error {other}"),
                }
            }
        }
        Err(err) => {
            assert!(err.offset() <= data.len(), "offset past the end: {err}");
            assert!(err.span().end <= data.len(), "span past the end: {err}");
            assert!(!err.to_string().is_empty());
        }
    }
}
