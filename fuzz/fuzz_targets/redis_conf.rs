//! libFuzzer entry for the `redis_conf` target (logic in vigil_fuzz::redis_conf).
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| vigil_fuzz::redis_conf(data));
