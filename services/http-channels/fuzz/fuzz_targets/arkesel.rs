//! Fuzz target for the `arkesel` callback parser (the channel of `tests/fixtures/arkesel.json`):
//! `cargo fuzz run --fuzz-dir services/http-channels/fuzz arkesel`. See `common.rs`.
#![no_main]

mod common;

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    common::check(include_str!("../../tests/fixtures/arkesel.json"), data);
});
