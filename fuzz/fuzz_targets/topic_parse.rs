//! Topic and pattern parsing and matching on arbitrary bytes (see
//! `verify/src/topic_fuzz.rs` for what is checked).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| evlatch_fuzz::topic_parse::run(data));
