//! Replays `fuzz/corpus/{trigger_decode,publish_decode,batch_decode}` through the fuzz targets'
//! own checks, on stable.

#[path = "../../../fuzz/checks/batch_decode.rs"]
mod batch_check;
#[path = "../../../fuzz/checks/trigger_decode.rs"]
mod check;
#[path = "../../../fuzz/checks/publish_decode.rs"]
mod publish_check;
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

#[test]
fn publish_decode_corpus_replays_clean() {
    replay::replay("publish_decode", 10, publish_check::check);
}

/// Every seed named `valid-*` decodes and every `invalid-*` one does not.
#[test]
fn publish_and_batch_seeds_are_what_they_say() {
    for target in ["publish_decode", "batch_decode"] {
        let dir = format!("{}/../../fuzz/corpus/{target}", env!("CARGO_MANIFEST_DIR"));
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            let data = std::fs::read(&path).unwrap();
            let ok = if target == "publish_decode" {
                publish_check::request(&data)
                    .is_some_and(|r| qstash_protocol::PublishRequest::from_http(&r).is_ok())
            } else {
                qstash_protocol::PublishBatch::from_json(&data).is_ok()
            };
            assert_eq!(ok, name.starts_with("valid-"), "{target}/{name}");
        }
    }
}

#[test]
fn batch_decode_corpus_replays_clean() {
    replay::replay("batch_decode", 8, batch_check::check);
}
