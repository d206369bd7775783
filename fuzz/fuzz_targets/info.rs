//! libFuzzer entry for the `info` target (logic in vigil_fuzz::info).
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| vigil_fuzz::info(data));
