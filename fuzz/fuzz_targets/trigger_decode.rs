#![no_main]
//! Arbitrary path, headers and body through `TriggerRequest::from_http`; see
//! `checks/trigger_decode.rs` for the input format and what is asserted.

#[path = "../checks/trigger_decode.rs"]
mod check;

libfuzzer_sys::fuzz_target!(|data: &[u8]| check::check(data));
