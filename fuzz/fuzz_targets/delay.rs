#![no_main]
//! Arbitrary bytes through `Delay::parse`; see `checks/delay.rs` for what is asserted.

#[path = "../checks/delay.rs"]
mod check;

libfuzzer_sys::fuzz_target!(|data: &[u8]| check::check(data));
