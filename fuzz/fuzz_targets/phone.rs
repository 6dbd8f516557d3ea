//! `PhoneNumber::parse` and `parse_lenient` on any text: see `glide_fuzz::check_phone`.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|input: &str| {
    glide_fuzz::check_phone(input);
});
