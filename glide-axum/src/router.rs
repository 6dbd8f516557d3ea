//! [`glide_router`]: the engine's routes as an axum [`Router`], for `.merge()`.

use axum::body::Body;
use axum::response::{IntoResponse, Response};
use axum::routing::any;
use axum::Router;
use glide_core::endpoint::GlideAuth;
use http::Request;

use crate::convert;

/// The engine's routes as a [`Router`], for apps that prefer `.merge()` to a layer.
///
/// Exactly the routes [`GlideLayer`](crate::GlideLayer) serves, read from the engine's route
/// table ([`GlideAuth::route_table`]), every method routed to the engine so that a wrong one
/// gets the engine's 405.
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
    auth.route_table()
        .iter()
        .fold(Router::new(), |router, mounted| {
            let (auth, route) = (auth.clone(), mounted.route);
            router.route(
                &mounted.template(),
                any(move |request: Request<Body>| answer(auth, route, request)),
            )
        })
}

async fn answer(
    auth: GlideAuth,
    route: glide_core::endpoint::Route,
    request: Request<Body>,
) -> Response {
    convert::answer(auth, route, request)
        .await
        .map(Body::from)
        .into_response()
}
