//! Fuzz target for the `nalo` callback parser (the channel of `tests/fixtures/nalo.json`):
//! `cargo fuzz run --fuzz-dir services/http-channels/fuzz nalo`. See `common.rs`.
#![no_main]

mod common;

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    common::check(include_str!("../../tests/fixtures/nalo.json"), data);
});
