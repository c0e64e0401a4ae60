//! Fuzz target for the `africastalking` callback parser (the channel of `tests/fixtures/africastalking.json`):
//! `cargo fuzz run --fuzz-dir services/http-channels/fuzz africastalking`. See `common.rs`.
#![no_main]

mod common;

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    common::check(include_str!("../../tests/fixtures/africastalking.json"), data);
});
