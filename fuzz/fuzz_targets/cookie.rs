//! `cookie_pairs`, `find_cookie`, `parse_binding_cookie` and `stale_binding_cookies` on any
//! `Cookie` header: see `glide_fuzz::check_cookie_header`. The input is `session_key NUL header`;
//! the fixed keys `k1` and Glide's 16-hex shape are tried on every header too.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let (key, header) = glide_fuzz::split_nul(data);
    let key = String::from_utf8_lossy(key);
    let header = String::from_utf8_lossy(header);
    glide_fuzz::check_cookie_header(&header, &key);
    glide_fuzz::check_cookie_header(&header, "k1");
    glide_fuzz::check_cookie_header(&header, "ee25b966c9395f0b");
});
