//! [`GlideLayer`] and its service: answer our routes, give every other request its context.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use axum::body::Body;
use bytes::Bytes;
use glide_core::endpoint::GlideAuth;
use glide_core::error::BoxError;
use http::header::COOKIE;
use http::{Request, Response};
use http_body::Body as HttpBody;
use pin_project_lite::pin_project;
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
/// The layer works with any request body (not only axum's) and answers the engine's routes
/// itself; every other request reaches the inner service without boxing.
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

pin_project! {
    /// The future of [`GlideService`]: the inner service's future, unboxed, for every request
    /// that is not one of the engine's routes; a boxed engine answer for those that are.
    #[project = ResponseFutureProj]
    pub struct ResponseFuture<F> {
        #[pin]
        kind: Kind<F>,
    }
}

pin_project! {
    #[project = KindProj]
    enum Kind<F> {
        Engine { answer: Pin<Box<dyn Future<Output = Response<Bytes>> + Send>> },
        Inner { #[pin] future: F },
    }
}

impl<F> std::fmt::Debug for ResponseFuture<F> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ResponseFuture").finish_non_exhaustive()
    }
}

impl<F, B, E> Future for ResponseFuture<F>
where
    F: Future<Output = Result<Response<B>, E>>,
    B: HttpBody<Data = Bytes> + Send + 'static,
    B::Error: Into<BoxError>,
{
    type Output = Result<Response<Body>, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match self.project().kind.project() {
            KindProj::Engine { answer } => answer
                .as_mut()
                .poll(cx)
                .map(|response| Ok(response.map(Body::from))),
            KindProj::Inner { future } => future
                .poll(cx)
                // `Body::new` does not box an axum `Body` again.
                .map(|result| result.map(|response| response.map(Body::new))),
        }
    }
}

impl<S, ReqBody, ResBody> Service<Request<ReqBody>> for GlideService<S>
where
    S: Service<Request<ReqBody>, Response = Response<ResBody>> + Clone,
    ReqBody: HttpBody<Data = Bytes> + Send + 'static,
    ReqBody::Error: Into<BoxError>,
    ResBody: HttpBody<Data = Bytes> + Send + 'static,
    ResBody::Error: Into<BoxError>,
{
    type Response = Response<Body>;
    type Error = S::Error;
    type Future = ResponseFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut request: Request<ReqBody>) -> Self::Future {
        if let Some(route) = self.auth.match_route(request.uri().path()) {
            let auth = self.auth.clone();
            return ResponseFuture {
                kind: Kind::Engine {
                    answer: Box::pin(convert::answer(auth, route, request)),
                },
            };
        }
        let context = self.auth.request_context(
            request
                .headers()
                .get_all(COOKIE)
                .iter()
                .map(|v| v.as_bytes()),
        );
        request.extensions_mut().insert(context);
        // The clone may not be ready; call the instance poll_ready was called on.
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        ResponseFuture {
            kind: Kind::Inner {
                future: inner.call(request),
            },
        }
    }
}
