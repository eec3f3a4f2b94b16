#![no_main]
//! Arbitrary bytes through `Cron::parse` and `ticks_after`; see `checks/cron.rs` for what is
//! asserted.

#[path = "../checks/cron.rs"]
mod check;

libfuzzer_sys::fuzz_target!(|data: &[u8]| check::check(data));
