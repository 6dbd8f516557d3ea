//! The engine handle [`GlideAuth`] and the functions behind every route the middleware mounts.
//!
//! Adapters only translate HTTP: they ask [`GlideAuth::match_route`] whether a request is ours,
//! read the body up to [`GlideAuth::body_limit`], call [`GlideAuth::handle`] and write the
//! [`EndpointResponse`] back. Every other request gets a [`RequestContext`] from which the
//! `VerifiedPhone` extractor loads the verified session, lazily.

mod assets;
mod config;
mod context;
mod guard;
mod http;
mod issue;
mod legacy;
mod magical;

pub use config::{GlideAuthBuilder, RoutePaths};
pub use context::{LookupError, RequestContext};
pub use http::{EndpointRequest, EndpointResponse};

use std::sync::Arc;

use crate::error::{Error, RequestError};
use crate::session::VerifiedPhone;

/// A route of ours, as recognised by [`GlideAuth::match_route`] (by path; the method is checked
/// when handling, so that a wrong method gets a 405 rather than falling through to the app).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Route {
    /// `POST {base}/prepare`
    Prepare,
    /// `POST {base}/report-invocation`
    ReportInvocation,
    /// `POST {base}/process`
    Process,
    /// `POST {base}/complete`
    Complete,
    /// `GET {base}/status/{session_key}`
    Status,
    /// `POST {base}/logout`
    Logout,
    /// `GET {base}/glide.js`
    GlideJs,
    /// `GET {completion_path}` (default `/glide-complete`)
    CompletionPage,
    /// `POST {base}/magic-auth/start`
    MagicAuthStart,
    /// `POST {base}/magic-auth/verify`
    MagicAuthVerify,
    /// `POST {base}/magic-auth/start-server-auth`
    MagicAuthStartServerAuth,
    /// `GET {base}/magic-auth/check-server-auth?session_id=`
    MagicAuthCheckServerAuth,
    /// `GET {base}/number-verify/start?phone_number=`
    NumberVerifyStart,
    /// `GET {base}/number-verify/callback?code=&state=`
    NumberVerifyCallback,
}

/// The engine: the Glide client, the flow store, verified sessions, cookies and policy.
///
/// Cheap to clone; build one per app with [`GlideAuth::builder`] and hand it to the adapter
/// (`GlideLayer::new(auth)` for axum, `GlideMiddleware::new(auth)` for actix-web).
#[derive(Clone)]
pub struct GlideAuth {
    inner: Arc<config::Inner>,
}

impl std::fmt::Debug for GlideAuth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GlideAuth")
            .field("routes", &self.inner.routes)
            .field("secure_cookies", &self.inner.session_cookie.secure)
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
        let routes = &self.inner.routes;
        if path == routes.completion_path {
            return Some(Route::CompletionPage);
        }
        let rest = path.strip_prefix(routes.base_path.as_str())?;
        let rest = rest.strip_prefix('/')?;
        Some(match rest {
            "prepare" => Route::Prepare,
            "report-invocation" => Route::ReportInvocation,
            "process" => Route::Process,
            "complete" => Route::Complete,
            "logout" => Route::Logout,
            "glide.js" => Route::GlideJs,
            "magic-auth/start" => Route::MagicAuthStart,
            "magic-auth/verify" => Route::MagicAuthVerify,
            "magic-auth/start-server-auth" => Route::MagicAuthStartServerAuth,
            "magic-auth/check-server-auth" => Route::MagicAuthCheckServerAuth,
            "number-verify/start" => Route::NumberVerifyStart,
            "number-verify/callback" => Route::NumberVerifyCallback,
            other if other.starts_with("status/") => Route::Status,
            _ => return None,
        })
    }

    /// The largest request body our routes accept; adapters stop reading beyond it and answer
    /// with [`GlideAuth::payload_too_large`].
    pub fn body_limit(&self) -> usize {
        self.inner.body_limit
    }

    /// The 413 answer for a body over [`GlideAuth::body_limit`].
    pub fn payload_too_large(&self) -> EndpointResponse {
        EndpointResponse::error(&Error::Request(RequestError::PayloadTooLarge))
            .with_header("connection", "close")
    }

    /// Answers a request to one of our routes.
    pub async fn handle(&self, route: Route, request: EndpointRequest) -> EndpointResponse {
        let result = match route {
            Route::Prepare => self.prepare(&request).await,
            Route::ReportInvocation => self.report_invocation(&request).await,
            Route::Process => self.process(&request).await,
            Route::Complete => self.complete(&request).await,
            Route::Status => self.status(&request).await,
            Route::Logout => self.logout(&request).await,
            Route::GlideJs => self.glide_js(&request),
            Route::CompletionPage => self.completion_page(&request),
            Route::MagicAuthStart => self.legacy_start(&request).await,
            Route::MagicAuthVerify => self.legacy_verify(&request).await,
            Route::MagicAuthStartServerAuth => self.legacy_start_server_auth(&request).await,
            Route::MagicAuthCheckServerAuth => self.legacy_check_server_auth(&request).await,
            Route::NumberVerifyStart => self.number_verify_start(&request).await,
            Route::NumberVerifyCallback => self.number_verify_callback(&request).await,
        };
        result.unwrap_or_else(EndpointResponse::from)
    }

    /// The verified phone of the session whose cookie is in `cookie_header`, if any.
    pub async fn verified_phone(
        &self,
        cookie_header: Option<&str>,
    ) -> Result<Option<VerifiedPhone>, Error> {
        let Some(id) = cookie_header
            .and_then(|h| crate::cookie::find_cookie(h, &self.inner.session_cookie.name))
        else {
            return Ok(None);
        };
        self.inner.sessions.load(id).await
    }

    /// A per-request context for the extractor; see [`RequestContext`].
    pub fn request_context(&self, cookie_header: Option<String>) -> RequestContext {
        RequestContext::new(self.clone(), cookie_header)
    }

    /// The name of the verified-session cookie (`__Host-glide_session`, or `glide_session` with
    /// insecure development cookies).
    pub fn session_cookie_name(&self) -> &str {
        &self.inner.session_cookie.name
    }

    /// The verified-session manager, for logout-everywhere and custom flows.
    pub fn sessions(&self) -> &crate::session::SessionManager {
        &self.inner.sessions
    }

    /// The Glide API client.
    pub fn glide(&self) -> &crate::api::Glide {
        &self.inner.glide
    }

    /// The route paths in use.
    pub fn routes(&self) -> &RoutePaths {
        &self.inner.routes
    }
}
