#![no_main]
//! Arbitrary bytes through `PublishBatch::from_json`; see `checks/batch_decode.rs` for what
//! is asserted.

#[path = "../checks/batch_decode.rs"]
mod check;

libfuzzer_sys::fuzz_target!(|data: &[u8]| check::check(data));
