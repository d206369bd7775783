//! libFuzzer entry for the `rdb` target (logic in vigil_fuzz::rdb).
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| vigil_fuzz::rdb(data));
