//! Fuzz target for the `generic_form` callback parser (the channel of `tests/fixtures/generic_form.json`):
//! `cargo fuzz run --fuzz-dir services/http-channels/fuzz generic_form`. See `common.rs`.
#![no_main]

mod common;

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    common::check(include_str!("../../tests/fixtures/generic_form.json"), data);
});
