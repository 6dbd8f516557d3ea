//! The two assets the middleware serves: the Link completion page and `glide.js`.

use bytes::Bytes;
use http::header::{
    HeaderValue, CACHE_CONTROL, CONTENT_SECURITY_POLICY, CONTENT_TYPE, REFERRER_POLICY,
    X_CONTENT_TYPE_OPTIONS, X_FRAME_OPTIONS,
};
use http::{Response, StatusCode};
use sha2::{Digest, Sha256};

use super::io::EndpointResponse;

/// The browser helper.
const GLIDE_JS: &str = include_str!("assets/glide.js");

/// The assets of one engine (the completion page embeds the engine's `complete` path).
#[derive(Debug)]
pub(crate) struct Assets {
    completion_html: Bytes,
    completion_csp: HeaderValue,
}

impl Assets {
    /// The assets, the completion page posting to `complete_path` (a same-origin relative path
    /// checked when the engine was built).
    pub(crate) fn new(complete_path: &str) -> Self {
        let literal = serde_json::Value::String(complete_path.to_owned()).to_string();
        let html = include_str!("assets/complete.html").replace("__COMPLETE_PATH__", &literal);
        let csp = format!(
            "default-src 'self'; script-src {}; style-src 'unsafe-inline'; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'",
            script_hashes(&html)
        );
        Self {
            completion_csp: HeaderValue::from_str(&csp)
                .unwrap_or_else(|_| HeaderValue::from_static("default-src 'none'")),
            completion_html: Bytes::from(html),
        }
    }

    /// `GET {base}/glide.js`
    pub(crate) fn glide_js(&self) -> EndpointResponse {
        let mut response = Response::new(Bytes::from_static(GLIDE_JS.as_bytes()));
        let headers = response.headers_mut();
        headers.insert(
            CONTENT_TYPE,
            HeaderValue::from_static("application/javascript; charset=utf-8"),
        );
        headers.insert(
            CACHE_CONTROL,
            HeaderValue::from_static("public, max-age=300"),
        );
        headers.insert(X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
        response
    }

    /// `GET {completion_path}`: no caching, no framing, no referrer, a CSP that allows exactly
    /// the page's own inline script (by hash).
    pub(crate) fn completion_page(&self) -> EndpointResponse {
        let mut response = Response::new(self.completion_html.clone());
        *response.status_mut() = StatusCode::OK;
        let headers = response.headers_mut();
        headers.insert(
            CONTENT_TYPE,
            HeaderValue::from_static("text/html; charset=utf-8"),
        );
        headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
        headers.insert(X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
        headers.insert(X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
        headers.insert(REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
        headers.insert(CONTENT_SECURITY_POLICY, self.completion_csp.clone());
        response
    }
}

/// `'sha256-…'` sources for every inline `<script>` of a page.
fn script_hashes(html: &str) -> String {
    use base64::Engine as _;
    let mut sources = Vec::new();
    let mut rest = html;
    while let Some(open) = rest.find("<script>") {
        let after = &rest[open + "<script>".len()..];
        let Some(close) = after.find("</script>") else {
            break;
        };
        let digest = Sha256::digest(&after.as_bytes()[..close]);
        sources.push(format!(
            "'sha256-{}'",
            base64::engine::general_purpose::STANDARD.encode(digest)
        ));
        rest = &after[close..];
    }
    if sources.is_empty() {
        "'none'".to_owned()
    } else {
        sources.join(" ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn completion_page_embeds_the_path_and_allows_only_its_own_script() {
        let assets = Assets::new("/api/magical-auth/complete");
        let page = assets.completion_page();
        let html = std::str::from_utf8(page.body()).expect("utf-8");
        assert!(html.contains("var COMPLETE_PATH = \"/api/magical-auth/complete\";"));
        assert!(html.contains("glide_signal_"));
        assert!(html.contains("history.replaceState"));
        assert!(!html.contains("__COMPLETE_PATH__"));
        let csp = page.headers()[CONTENT_SECURITY_POLICY]
            .to_str()
            .expect("ascii");
        assert!(!csp.contains("script-src 'unsafe-inline'"), "{csp}");
        assert!(csp.contains("script-src 'sha256-"), "{csp}");
        assert_eq!(page.headers()[X_FRAME_OPTIONS], "DENY");
        // A different path gives a different script, hence a different hash.
        let other = Assets::new("/other/complete").completion_page();
        assert_ne!(other.headers()[CONTENT_SECURITY_POLICY], csp);
    }
}
