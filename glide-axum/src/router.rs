//! [`glide_router`]: the engine's routes as an axum [`Router`], for `.merge()`.

use axum::body::Body;
use axum::response::Response;
use axum::routing::any;
use axum::Router;
use glide_core::endpoint::{GlideAuth, Route};
use http::Request;

use crate::convert;

/// The engine's routes as a [`Router`], for apps that prefer `.merge()` to a layer.
///
/// The routes are the same as [`GlideLayer`](crate::GlideLayer)'s (`{base}/prepare`,
/// `{base}/report-invocation`, `{base}/process`, `{base}/complete`, `{base}/status/{key}`,
/// `{base}/logout`, `{base}/glide.js` and the completion page), every method routed to the
/// engine so that a wrong one gets the engine's 405.
///
/// The [`VerifiedPhone`](crate::VerifiedPhone) extractor still needs the layer, which puts the
/// per-request context in place: add [`GlideLayer`](crate::GlideLayer) too (its routes then
/// answer first, and the merged ones are a fallback), or the extractor answers 500. Merge it at
/// the root: under [`Router::nest`] the engine would not see the paths it expects.
///
/// # Panics
///
/// If a configured path is one axum's router refuses (a segment starting with `:` or holding
/// `{`/`}`); the layer has no such limit.
///
/// ```
/// # fn demo(auth: glide_core::endpoint::GlideAuth) {
/// use axum::{routing::get, Router};
/// use glide_axum::glide_router;
///
/// let app: Router = Router::new()
///     .route("/", get(|| async { "home" }))
///     .merge(glide_router(auth));
/// # }
/// ```
pub fn glide_router<S>(auth: GlideAuth) -> Router<S>
where
    S: Clone + Send + Sync + 'static,
{
    let routes = auth.routes().clone();
    let mounted = [
        (routes.route("prepare"), Route::Prepare),
        (routes.route("report-invocation"), Route::ReportInvocation),
        (routes.route("process"), Route::Process),
        (routes.route("complete"), Route::Complete),
        (routes.route("status/{*session_key}"), Route::Status),
        (routes.route("logout"), Route::Logout),
        (routes.route("glide.js"), Route::GlideJs),
        (routes.completion_path.clone(), Route::CompletionPage),
    ];
    mounted
        .into_iter()
        .fold(Router::new(), |router, (path, route)| {
            let auth = auth.clone();
            router.route(
                &path,
                any(move |request: Request<Body>| answer(auth, route, request)),
            )
        })
}

async fn answer(auth: GlideAuth, route: Route, request: Request<Body>) -> Response {
    convert::answer(auth, route, request).await
}
