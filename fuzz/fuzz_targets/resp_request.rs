//! libFuzzer entry for the `resp_request` target (logic in vigil_fuzz::resp_request).
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| vigil_fuzz::resp_request(data));
