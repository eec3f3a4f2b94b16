#![no_main]
//! Arbitrary bytes through `FlowControl::parse` and `FlowControlKey::parse`; see
//! `checks/flow_control.rs` for what is asserted.

#[path = "../checks/flow_control.rs"]
mod check;

libfuzzer_sys::fuzz_target!(|data: &[u8]| check::check(data));
