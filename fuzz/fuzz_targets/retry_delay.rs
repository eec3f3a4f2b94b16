#![no_main]
//! Arbitrary bytes through `RetryDelay::compile_bytes`; see `checks/retry_delay.rs` for what is
//! asserted.

#[path = "../checks/retry_delay.rs"]
mod check;

libfuzzer_sys::fuzz_target!(|data: &[u8]| check::check(data));
