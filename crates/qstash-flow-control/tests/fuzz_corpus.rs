//! Replays `fuzz/corpus/flow_control` through the fuzz target's own check, on stable.

#[path = "../../../fuzz/checks/flow_control.rs"]
mod check;
#[path = "../../../fuzz/checks/replay.rs"]
mod replay;

#[test]
fn flow_control_corpus_replays_clean() {
    let n = replay::replay("flow_control", 20, check::check);
    assert!(n >= 20);
}
