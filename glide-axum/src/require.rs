//! [`RequireVerifiedLayer`]: a route (or router) that needs a verification meeting a
//! requirement — recent enough, by a trusted strategy — before its handler runs.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use axum::body::Body;
use axum::response::Response;
use glide_core::endpoint::{Rejection, RequestContext, RequireVerified};
use http::Request;
use tower::{Layer, Service};

/// Puts a [`RequireVerified`] in front of a route: without a verified session 401
/// `NOT_VERIFIED`; with one too old or too weak 401 `STEP_UP_REQUIRED` (with
/// `max_age_seconds` / `strategies`); otherwise the handler runs. Needs
/// [`GlideLayer`](crate::GlideLayer) on the app (a 500 naming it otherwise, never a panic).
///
/// ```no_run
/// # fn demo(auth: glide_core::endpoint::GlideAuth) {
/// use std::time::Duration;
/// use axum::{routing::post, Router};
/// use glide_axum::{GlideLayer, RequireVerifiedLayer};
/// use glide_core::{endpoint::RequireVerified, Strategy};
///
/// let payouts = RequireVerified::new()
///     .max_age(Duration::from_secs(300))
///     .strategies([Strategy::Ts43, Strategy::Link, Strategy::Desktop]);
/// let app: Router = Router::new()
///     .route("/transfer", post(|| async { "sent" }))
///     .route_layer(RequireVerifiedLayer::new(payouts))
///     .layer(GlideLayer::new(auth));
/// # }
/// ```
#[derive(Debug, Clone)]
pub struct RequireVerifiedLayer {
    requirement: RequireVerified,
}

impl RequireVerifiedLayer {
    /// The layer for `requirement`.
    pub fn new(requirement: RequireVerified) -> Self {
        Self { requirement }
    }
}

impl<S> Layer<S> for RequireVerifiedLayer {
    type Service = RequireVerifiedService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        RequireVerifiedService {
            requirement: self.requirement.clone(),
            inner,
        }
    }
}

/// The [`Service`] built by [`RequireVerifiedLayer`].
#[derive(Debug, Clone)]
pub struct RequireVerifiedService<S> {
    requirement: RequireVerified,
    inner: S,
}

impl<S> Service<Request<Body>> for RequireVerifiedService<S>
where
    S: Service<Request<Body>, Response = Response> + Clone + Send + 'static,
    S::Future: Send + 'static,
{
    type Response = Response;
    type Error = S::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Response, S::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request<Body>) -> Self::Future {
        let context = request.extensions().get::<RequestContext>().cloned();
        let requirement = self.requirement.clone();
        // Read before the future: the request (its body) is not `Sync`.
        let origin = context.as_ref().map_or(Ok(()), |context| {
            context
                .auth()
                .check_origin(request.method(), request.uri(), request.headers())
        });
        // The clone may not be ready; call the instance poll_ready was called on.
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        Box::pin(async move {
            let refused = match context {
                None => Rejection::missing_middleware("GlideLayer"),
                Some(context) => match async {
                    origin?;
                    context.require_with(&requirement).await
                }
                .await
                {
                    Ok(_) => return inner.call(request).await,
                    Err(refused) => refused,
                },
            };
            Ok(refused.to_response().map(Body::from))
        })
    }
}
