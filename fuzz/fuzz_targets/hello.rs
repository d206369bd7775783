//! libFuzzer entry for the `hello` target (logic in vigil_fuzz::hello).
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| vigil_fuzz::hello(data));
