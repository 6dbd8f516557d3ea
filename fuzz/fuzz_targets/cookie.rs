//! Any `Cookie` header through the engine's cookie handling (its jar and the per-flow binding
//! cookies are private, so they are reached through the routes that use them): `POST prepare`
//! carrying the header, then `GET status/{key}` with the binding cookie prepare set followed by
//! the header, with the header alone, and for a fuzzed key. See `glide_fuzz::check_cookie_header`:
//! no panic; at most 8 stale-binding removals, exactly the request's other binding cookies in
//! order, plus the flow's own cookie; an answer linear in size; the binding round trip.
//!
//! Input: `key NUL header` (the key is probed with `status/{key}`); every header is tried on an engine with secure cookies
//! (`__Host-` names) and on one with insecure development cookies.
#![no_main]

use std::sync::OnceLock;

use glide_core::endpoint::GlideAuth;
use libfuzzer_sys::fuzz_target;

fn engines() -> &'static (tokio::runtime::Runtime, GlideAuth, GlideAuth) {
    static ENGINES: OnceLock<(tokio::runtime::Runtime, GlideAuth, GlideAuth)> = OnceLock::new();
    ENGINES.get_or_init(|| {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("a runtime");
        let secure = glide_fuzz::prepare_only_engine(true);
        let dev = glide_fuzz::prepare_only_engine(false);
        (runtime, secure, dev)
    })
}

fuzz_target!(|data: &[u8]| {
    let (runtime, secure, dev) = engines();
    let (key, header) = glide_fuzz::split_nul(data);
    let key = String::from_utf8_lossy(key);
    let header = String::from_utf8_lossy(header);
    glide_fuzz::check_cookie_header(runtime, secure, true, &header, &key);
    glide_fuzz::check_cookie_header(runtime, dev, false, &header, &key);
});
