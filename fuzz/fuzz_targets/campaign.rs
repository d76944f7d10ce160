//! A campaign file (TOML): parse, validate, prepare every URL, schedule.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    slowlane::fuzzing::campaign(data);
});
