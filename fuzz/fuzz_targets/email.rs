//! `legacy::Email::parse` on any text: see `glide_fuzz::check_email`.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|input: &str| {
    glide_fuzz::check_email(input);
});
