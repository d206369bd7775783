//! libFuzzer entry for the `resp_reply` target (logic in vigil_fuzz::resp_reply).
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| vigil_fuzz::resp_reply(data));
