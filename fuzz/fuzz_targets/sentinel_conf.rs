//! libFuzzer entry for the `sentinel_conf` target (logic in vigil_fuzz::sentinel_conf).
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| vigil_fuzz::sentinel_conf(data));
