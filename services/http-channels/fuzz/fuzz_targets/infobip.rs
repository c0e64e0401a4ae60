//! Fuzz target for the `infobip` callback parser (the channel of `tests/fixtures/infobip.json`):
//! `cargo fuzz run --fuzz-dir services/http-channels/fuzz infobip`. See `common.rs`.
#![no_main]

mod common;

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    common::check(include_str!("../../tests/fixtures/infobip.json"), data);
});
