//! [`GlideLayer`] and its service: answer our routes, give every other request its context.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use axum::body::Body;
use axum::response::Response;
use glide_core::endpoint::GlideAuth;
use http::Request;
use tower::{Layer, Service};

use crate::convert;

/// A tower [`Layer`] that mounts Glide's routes and makes the verified session available to
/// the [`VerifiedPhone`](crate::VerifiedPhone) extractor.
///
/// Requests to the engine's routes (`POST /api/magical-auth/prepare`, …, `GET /glide-complete`;
/// see [`RoutePaths`](glide_core::endpoint::RoutePaths)) are answered by the layer itself; every
/// other request goes on to the inner service with a
/// [`RequestContext`](glide_core::endpoint::RequestContext) in its extensions, from which the
/// extractor loads the session lazily (at most one store lookup per request).
///
/// ```no_run
/// # fn demo(auth: glide_core::endpoint::GlideAuth) {
/// use axum::{routing::get, Router};
/// use glide_axum::{GlideLayer, VerifiedPhone};
///
/// async fn me(phone: VerifiedPhone) -> String {
///     format!("hello {}", phone.phone_number)
/// }
///
/// let app: Router = Router::new()
///     .route("/me", get(me))
///     .layer(GlideLayer::new(auth));
/// # }
/// ```
///
/// Apply it with [`Router::layer`](axum::Router::layer) (not `route_layer`): the engine's routes
/// are not routes of your router, so the layer must see requests before routing does.
#[derive(Debug, Clone)]
pub struct GlideLayer {
    auth: GlideAuth,
}

impl GlideLayer {
    /// A layer around an engine built with
    /// [`GlideAuth::builder`](glide_core::endpoint::GlideAuth::builder).
    pub fn new(auth: GlideAuth) -> Self {
        Self { auth }
    }

    /// The engine this layer runs.
    pub fn auth(&self) -> &GlideAuth {
        &self.auth
    }
}

impl From<GlideAuth> for GlideLayer {
    fn from(auth: GlideAuth) -> Self {
        Self::new(auth)
    }
}

impl<S> Layer<S> for GlideLayer {
    type Service = GlideService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        GlideService {
            auth: self.auth.clone(),
            inner,
        }
    }
}

/// The [`Service`] built by [`GlideLayer`].
#[derive(Debug, Clone)]
pub struct GlideService<S> {
    auth: GlideAuth,
    inner: S,
}

impl<S> GlideService<S> {
    /// The engine this service runs.
    pub fn auth(&self) -> &GlideAuth {
        &self.auth
    }

    /// The wrapped service.
    pub fn get_ref(&self) -> &S {
        &self.inner
    }
}

/// The boxed future of [`GlideService`].
pub type ResponseFuture<E> = Pin<Box<dyn Future<Output = Result<Response, E>> + Send + 'static>>;

impl<S> Service<Request<Body>> for GlideService<S>
where
    S: Service<Request<Body>, Response = Response> + Clone + Send + 'static,
    S::Future: Send + 'static,
{
    type Response = Response;
    type Error = S::Error;
    type Future = ResponseFuture<S::Error>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut request: Request<Body>) -> Self::Future {
        if let Some(route) = self.auth.match_route(request.uri().path()) {
            let auth = self.auth.clone();
            return Box::pin(async move { Ok(convert::answer(auth, route, request).await) });
        }
        let context = self
            .auth
            .request_context(convert::cookie_header(request.headers()));
        request.extensions_mut().insert(context);
        // The clone may not be ready; call the instance poll_ready was called on.
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        Box::pin(inner.call(request))
    }
}
