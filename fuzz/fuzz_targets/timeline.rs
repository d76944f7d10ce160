//! A `timeline.csv` next to a fixed, valid `fetches.csv` (the corpus seed),
//! so its windows are actually read into traces.
#![no_main]

const FETCHES: &[u8] = include_bytes!("../../tests/fuzz-corpus/fetches/demo-twitter-2021.csv");

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    slowlane::fuzzing::fetches(FETCHES, Some(data));
});
