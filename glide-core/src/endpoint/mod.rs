//! The engine handle [`GlideAuth`] and the routes it serves.
//!
//! Adapters only translate HTTP: they ask [`GlideAuth::match_route`] whether a request is ours and
//! hand it to [`GlideAuth::serve`] (which reads the body with the one bounded reader, checks the
//! method from the route table and runs the route); every other request gets a
//! [`RequestContext`] from which the `VerifiedPhone` extractor loads the verified session,
//! lazily.
//!
//! Where each route lives: `magical` (prepare, report-invocation, process, complete, status),
//! `codes` (legacy Magic Auth with SMS / e-mail codes, server-side auth), `number_verify`,
//! `sessions` (logout, the sessions of the verified number), `assets` (glide.js, the completion page), `chain` (the verification
//! chain over Magical Auth and the code flows, when configured). The route list itself is
//! `table::ROUTES`. Shared by the flows: `issue` (risk policy, fresh session, cookie) and
//! `swap_checks` (the SIM-swap and device-swap signals of every non-Magical-Auth verification).

mod assets;
mod binding_cookie;
mod chain;
mod codes;
mod config;
mod context;
mod cors;
mod door;
mod hook;
mod io;
mod issue;
mod limits;
mod magical;
mod number_verify;
#[cfg(feature = "openapi")]
mod openapi;
mod records;
mod sessions;
mod step_up;
mod swap_checks;
mod table;

pub use chain::{ChainStep, StepOutcome, VerificationChain, MAX_CHAIN_DEADLINE};
pub use codes::{EmailOnFile, MAX_ATTEMPTS, RESEND_COOLDOWN};
pub use config::{GlideAuthBuilder, RoutePaths};
pub use context::{LookupError, Rejection, RequestContext};
pub use hook::{RevokeCause, VerificationEvent, VerificationHook};
pub use io::{error_response, read_body, EndpointResponse, PeerAddr};
pub use step_up::{RequireVerified, Requirement, StepUp};
pub use swap_checks::{SimSwapFailure, REASON_CHECK_FAILED};
pub use table::{MountedRoute, Route};

use std::sync::Arc;

use bytes::Bytes;
use http::header::ALLOW;
use http::{HeaderValue, Request};
use http_body::Body;

use crate::error::{BoxError, FlowError, RequestError};
use crate::session::SessionManager;

/// The engine: the Glide client, the flows, verified sessions, cookies and policy.
///
/// Cheap to clone; build one per app with [`GlideAuth::builder`] and hand it to the adapter
/// (`GlideLayer::new(auth)` for axum, `GlideMiddleware::new(auth)` for actix-web).
#[derive(Clone)]
pub struct GlideAuth {
    inner: Arc<config::Engine>,
}

impl std::fmt::Debug for GlideAuth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GlideAuth")
            .field("routes", &self.inner.routes)
            .field("secure_cookies", &self.inner.issuer.cookie.secure)
            .finish_non_exhaustive()
    }
}

impl GlideAuth {
    /// Starts configuring an engine around a Glide API client.
    pub fn builder(glide: crate::api::Glide) -> GlideAuthBuilder {
        GlideAuthBuilder::new(glide)
    }

    /// Which of our routes `path` is, if any. Cheap; call it on every request.
    pub fn match_route(&self, path: &str) -> Option<Route> {
        self.inner.table.find(path).map(|m| m.route)
    }

    /// Every route this engine serves, with its method and path: what the adapters mount.
    pub fn route_table(&self) -> &[MountedRoute] {
        self.inner.table.routes()
    }

    /// The largest request body our routes accept.
    pub fn body_limit(&self) -> usize {
        self.inner.body_limit
    }

    /// Answers a request to one of our routes: reads its body with [`read_body`] (bounded in
    /// size and time), then [`handle`](Self::handle)s it.
    pub async fn serve<B>(&self, route: Route, request: Request<B>) -> EndpointResponse
    where
        B: Body,
        B::Error: Into<BoxError>,
    {
        let (parts, body) = request.into_parts();
        match read_body(&parts.headers, body, self.inner.body_limit).await {
            Ok(body) => self.handle(route, Request::from_parts(parts, body)).await,
            Err(refused) => refused,
        }
    }

    /// Answers a request to one of our routes whose body was already read. A method other than
    /// the route's gets 405 with `Allow`. Put a [`PeerAddr`] into the request's extensions so
    /// that rate limits know the client.
    pub async fn handle(&self, route: Route, request: Request<Bytes>) -> EndpointResponse {
        let engine = &self.inner;
        let Some(mounted) = engine.table.get(route) else {
            return io::error_response(&FlowError::NotFound.into());
        };
        if let Some(preflight) = engine
            .cors
            .preflight(request.method(), request.headers(), mounted)
        {
            return preflight;
        }
        if request.method() != mounted.method {
            let mut refused = io::error_response(&RequestError::MethodNotAllowed.into());
            if let Ok(allow) = HeaderValue::from_str(mounted.method.as_str()) {
                refused.headers_mut().insert(ALLOW, allow);
            }
            return refused;
        }
        let request = io::Incoming::new(request);
        let mut response = self.route(route, &request).await;
        engine.cors.decorate(&request.headers, &mut response);
        response
    }

    /// Runs `route` for a request whose method was checked.
    ///
    /// Each route's future is boxed: the request's future is then the size of the route it
    /// runs, not of the largest one — what a waiting desktop `process` call holds, it holds for
    /// every waiting browser.
    async fn route(&self, route: Route, request: &io::Incoming) -> EndpointResponse {
        let engine = &self.inner;
        let result = match route {
            Route::Prepare => Box::pin(engine.magical.prepare(request)).await,
            Route::ReportInvocation => Box::pin(engine.magical.report_invocation(request)).await,
            Route::Process => Box::pin(engine.magical.process(request)).await,
            Route::Complete => Box::pin(engine.magical.complete(request)).await,
            Route::Status => Box::pin(engine.magical.status(request)).await,
            Route::Logout => Box::pin(engine.sessions.logout(request)).await,
            Route::Sessions => Box::pin(engine.sessions.list(request)).await,
            Route::SessionsRevoke => Box::pin(engine.sessions.revoke(request)).await,
            Route::SessionsRevokeOthers => Box::pin(engine.sessions.revoke_others(request)).await,
            Route::SessionsRevokeAll => Box::pin(engine.sessions.revoke_all(request)).await,
            Route::GlideJs => Ok(engine.assets.glide_js()),
            Route::CompletionPage => Ok(engine.assets.completion_page()),
            Route::MagicAuthStart => Box::pin(engine.codes.start(request)).await,
            Route::MagicAuthVerify => Box::pin(engine.codes.verify(request)).await,
            Route::MagicAuthStartServerAuth => {
                Box::pin(engine.codes.start_server_auth(request)).await
            }
            Route::MagicAuthCheckServerAuth => {
                Box::pin(engine.codes.check_server_auth(request)).await
            }
            Route::VerificationStart | Route::Verification | Route::VerificationAdvance => {
                match &engine.chain {
                    Some(chain) if route == Route::VerificationStart => {
                        Box::pin(chain.start(request)).await
                    }
                    Some(chain) if route == Route::Verification => {
                        Box::pin(chain.state(request)).await
                    }
                    Some(chain) => Box::pin(chain.advance(request, &engine.codes)).await,
                    None => Err(FlowError::NotFound.into()),
                }
            }
            Route::OpenApi => match &engine.openapi {
                Some(document) => Ok(io::json_bytes(document.clone())),
                None => Err(FlowError::NotFound.into()),
            },
            Route::NumberVerifyStart | Route::NumberVerifyCallback => match &engine.number_verify {
                Some(nv) if route == Route::NumberVerifyStart => Box::pin(nv.start(request)).await,
                Some(nv) => Box::pin(nv.callback(request)).await,
                None => Err(FlowError::NotFound.into()),
            },
        };
        result.unwrap_or_else(|error| io::error_response(&error))
    }

    /// A per-request context for the extractor, from the request's `Cookie` header values (raw
    /// bytes, so both `http` versions can pass theirs); see [`RequestContext`].
    pub fn request_context<'a>(
        &self,
        cookie_headers: impl IntoIterator<Item = &'a [u8]>,
    ) -> RequestContext {
        let name = self.inner.issuer.cookie.name.as_ref();
        let id = cookie_headers
            .into_iter()
            .filter_map(|value| std::str::from_utf8(value).ok())
            .find_map(|header| cookie_value(header, name));
        RequestContext::new(self.clone(), id)
    }

    /// The same-origin check of the layer's own state-changing routes, for an app's route
    /// behind a guard (`RequireVerifiedLayer`, `RequireVerifiedWrap`): a request with an unsafe
    /// method (anything but `GET`, `HEAD`, `OPTIONS`, `TRACE`) whose `Origin` is not the app's
    /// (its scheme, host and port, or an allowed origin), is `null`, or that the browser marks
    /// `Sec-Fetch-Site: cross-site` / `same-site`, is refused with 403 `ORIGIN_NOT_ALLOWED`.
    /// Requests with neither header (non-browser clients) pass.
    pub fn check_origin(
        &self,
        method: &http::Method,
        uri: &http::Uri,
        headers: &http::HeaderMap,
    ) -> Result<(), Rejection> {
        if method.is_safe() {
            return Ok(());
        }
        let authority = uri
            .authority()
            .map(http::uri::Authority::as_str)
            .or_else(|| {
                headers
                    .get(http::header::HOST)
                    .and_then(|h| h.to_str().ok())
            });
        self.inner
            .sessions
            .door
            .check_origin(headers, authority, uri.scheme_str())
            .map_err(|_| Rejection::OriginNotAllowed)
    }

    /// The name of the verified-session cookie (`__Host-glide_session`, or `glide_session` with
    /// insecure development cookies).
    pub fn session_cookie_name(&self) -> &str {
        &self.inner.issuer.cookie.name
    }

    /// The verified-session manager, for logout-everywhere and custom flows.
    pub fn sessions(&self) -> &SessionManager {
        &self.inner.issuer.sessions
    }

    /// The Glide API client.
    pub fn glide(&self) -> &crate::api::Glide {
        &self.inner.glide
    }

    /// The engine's clock's now.
    pub(crate) fn now(&self) -> time::OffsetDateTime {
        self.inner.magical.clock.now()
    }

    /// The route paths in use.
    pub fn routes(&self) -> &RoutePaths {
        &self.inner.routes
    }
}

/// The value of cookie `name` in one `Cookie` header, without allocating (the hot path of every
/// request the extractor serves).
fn cookie_value<'a>(header: &'a str, name: &str) -> Option<&'a str> {
    header.split(';').find_map(|pair| {
        let (n, v) = pair.split_once('=')?;
        (n.trim() == name).then(|| v.trim().trim_matches('"'))
    })
}

#[cfg(test)]
mod tests {
    use super::cookie_value;

    #[test]
    fn finds_the_session_cookie_without_a_jar() {
        let header = "a=1; __Host-glide_session=abc ;b=\"2\"; __Host-glide_session=late";
        assert_eq!(cookie_value(header, "__Host-glide_session"), Some("abc"));
        assert_eq!(cookie_value(header, "b"), Some("2"));
        assert_eq!(cookie_value(header, "glide_session"), None);
        assert_eq!(cookie_value("junk; x", "x"), None);
    }
}
