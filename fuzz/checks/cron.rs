//! The property the `cron` fuzz target asserts, shared with the corpus replay test in
//! `crates/qstash-cron/tests/fuzz_corpus.rs` so that stable CI checks the same thing.

use qstash_cron::Cron;

/// Parses `data` (as UTF-8, lossily); on success the canonical form must parse back to the
/// same schedule and be stable, and the next ticks must increase; on failure the error must
/// point inside the input.
pub fn check(data: &[u8]) {
    // The first 8 bytes pick the instant; the rest is the expression.
    let (when, text) = data.split_at(data.len().min(8));
    let mut instant = [0u8; 8];
    instant[..when.len()].copy_from_slice(when);
    // Up to about the year 2500, so that a search stays short.
    let after = u64::from_le_bytes(instant) % 16_725_225_600_000;
    let text = String::from_utf8_lossy(text);
    match Cron::parse(&text) {
        Ok(cron) => {
            let shown = cron.to_string();
            let again = Cron::parse(&shown).expect("canonical form parses");
            assert_eq!(again, cron, "display of {text:?} is {shown:?}");
            assert_eq!(again.to_string(), shown, "canonical form is stable");
            let mut last = after;
            for tick in cron.ticks_after(after).take(3) {
                assert!(tick > last, "{shown}: tick {tick} not after {last}");
                assert_eq!(tick % 1_000, 0, "{shown}: tick {tick} not on a second");
                last = tick;
            }
        }
        Err(err) => {
            assert!(err.offset() <= text.len(), "offset past the end: {err}");
            assert!(err.span().end <= text.len(), "span past the end: {err}");
            assert!(!err.to_string().is_empty());
        }
    }
}
