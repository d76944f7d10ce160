//! A `[[list]]` file (Citizen Lab CSV).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    slowlane::fuzzing::list(data);
});
