//! Replays `fuzz/corpus/trigger_decode` through the fuzz target's own check, on stable.

#[path = "../../../fuzz/checks/trigger_decode.rs"]
mod check;
#[path = "../../../fuzz/checks/replay.rs"]
mod replay;

#[test]
fn trigger_decode_corpus_replays_clean() {
    let n = replay::replay("trigger_decode", 20, check::check);
    assert!(n >= 20);
}

/// The seeds exercise both outcomes: requests that decode and requests that do not.
#[test]
fn corpus_holds_valid_and_invalid_requests() {
    let dir = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../fuzz/corpus/trigger_decode"
    );
    let (mut ok, mut err) = (0, 0);
    for entry in std::fs::read_dir(dir).unwrap() {
        let data = std::fs::read(entry.unwrap().path()).unwrap();
        match check::request(&data).map(|r| qstash_protocol::TriggerRequest::from_http(&r)) {
            Some(Ok(_)) => ok += 1,
            _ => err += 1,
        }
    }
    assert!(ok >= 8, "{ok} seeds decode");
    assert!(err >= 8, "{err} seeds fail");
}
