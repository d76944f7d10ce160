//! A `fetches.csv`, loaded and analysed as `slowlane analyze` does.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    slowlane::fuzzing::fetches(data, None);
});
