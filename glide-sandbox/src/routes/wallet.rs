//! `GET /sandbox/wallet.js`: makes `navigator.credentials.get({digital})` answer from the sandbox.

use axum::http::header::{CACHE_CONTROL, CONTENT_TYPE};
use axum::response::IntoResponse;

const WALLET_JS: &str = r#"(function () {
  "use strict";
  var script = document.currentScript;
  var base = script && script.src ? new URL(script.src).origin : location.origin;
  var creds = navigator.credentials;
  if (!creds) { return; }
  var original = creds.get ? creds.get.bind(creds) : null;
  creds.get = async function (options) {
    if (!options || !options.digital) {
      if (original) { return original(options); }
      throw new DOMException("credentials.get is not available", "NotSupportedError");
    }
    var requests = options.digital.requests || [];
    var request = requests[0] || {};
    var data = request.data || {};
    if (typeof data === "string") { try { data = JSON.parse(data); } catch (e) { data = {}; } }
    var nonce = data.nonce;
    var query = (data.dcql_query && data.dcql_query.credentials) || [];
    var id = (query[0] && query[0].id) || "glide";
    var response = await fetch(base + "/sandbox/ts43/credential", {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ nonce: nonce, origin: location.origin })
    });
    var body = {};
    try { body = await response.json(); } catch (e) { body = {}; }
    if (!response.ok) {
      if (body.code === "USER_DENIED") {
        throw new DOMException("The user denied the request", "NotAllowedError");
      }
      throw new DOMException(body.message || "The sandbox wallet failed", "InvalidStateError");
    }
    var token = {};
    token[id] = [body.credential];
    return { protocol: request.protocol || "openid4vp-v1-unsigned", data: { vp_token: token } };
  };
  window.__glideSandboxWallet = true;
})();
"#;

pub(crate) async fn wallet_js() -> impl IntoResponse {
    (
        [
            (CONTENT_TYPE, "application/javascript; charset=utf-8"),
            (CACHE_CONTROL, "no-store"),
        ],
        WALLET_JS,
    )
}
