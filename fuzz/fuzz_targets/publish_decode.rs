#![no_main]
//! Arbitrary path, headers and body through `PublishRequest::from_http`; see
//! `checks/publish_decode.rs` for the input format and what is asserted.

#[path = "../checks/publish_decode.rs"]
mod check;

libfuzzer_sys::fuzz_target!(|data: &[u8]| check::check(data));
