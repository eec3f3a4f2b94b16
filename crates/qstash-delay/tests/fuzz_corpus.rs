//! Replays `fuzz/corpus/delay` through the fuzz target's own check, on stable.

#[path = "../../../fuzz/checks/delay.rs"]
mod check;
#[path = "../../../fuzz/checks/replay.rs"]
mod replay;

#[test]
fn delay_corpus_replays_clean() {
    let n = replay::replay("delay", 20, check::check);
    assert!(n >= 20);
}
