//! Replays `fuzz/corpus/cron` through the fuzz target's own check, on stable.

#[path = "../../../fuzz/checks/cron.rs"]
mod check;
#[path = "../../../fuzz/checks/replay.rs"]
mod replay;

#[test]
fn cron_corpus_replays_clean() {
    let n = replay::replay("cron", 10, check::check);
    assert!(n >= 10);
}
