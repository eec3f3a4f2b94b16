//! Replays `fuzz/corpus/retry_delay` through the fuzz target's own check, on stable.

#[path = "../../../fuzz/checks/retry_delay.rs"]
mod check;
#[path = "../../../fuzz/checks/replay.rs"]
mod replay;

#[test]
fn retry_delay_corpus_replays_clean() {
    let n = replay::replay("retry_delay", 20, check::check);
    assert!(n >= 20);
}
