//! The two assets the middleware serves: the Link completion page and `glide.js`.

/// The completion page, posting to `complete_path` (a same-origin relative path checked when the
/// engine was built).
pub(super) fn completion_page(complete_path: &str) -> String {
    let literal = serde_json::Value::String(complete_path.to_owned()).to_string();
    include_str!("assets/complete.html").replace("__COMPLETE_PATH__", &literal)
}

/// The browser helper.
pub(super) const GLIDE_JS: &str = include_str!("assets/glide.js");

/// Headers of the completion page: no caching, no framing, no referrer, a CSP.
pub(super) const COMPLETION_HEADERS: [(&str, &str); 6] = [
    ("content-type", "text/html; charset=utf-8"),
    ("cache-control", "no-store"),
    ("x-content-type-options", "nosniff"),
    ("x-frame-options", "DENY"),
    ("referrer-policy", "no-referrer"),
    (
        "content-security-policy",
        "default-src 'self'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; connect-src 'self'; frame-ancestors 'none'",
    ),
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn completion_page_embeds_the_path_as_a_string_literal() {
        let page = completion_page("/api/magical-auth/complete");
        assert!(page.contains("var COMPLETE_PATH = \"/api/magical-auth/complete\";"));
        assert!(page.contains("glide_signal_"));
        assert!(page.contains("history.replaceState"));
        assert!(!page.contains("__COMPLETE_PATH__"));
    }
}
