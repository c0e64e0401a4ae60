//! Fuzz target for the `hubtel` callback parser (the channel of `tests/fixtures/hubtel.json`):
//! `cargo fuzz run --fuzz-dir services/http-channels/fuzz hubtel`. See `common.rs`.
#![no_main]

mod common;

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    common::check(include_str!("../../tests/fixtures/hubtel.json"), data);
});
