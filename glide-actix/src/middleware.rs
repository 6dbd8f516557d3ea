//! [`GlideMiddleware`]: answers the engine's routes and hands every other request a
//! [`RequestContext`] for the [`VerifiedPhone`](crate::VerifiedPhone) extractor.

use std::future::{ready, Ready};
use std::rc::Rc;

use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{forward_ready, Service, ServiceRequest, ServiceResponse, Transform};
use actix_web::HttpMessage as _;
use futures_util::future::LocalBoxFuture;
use glide_core::endpoint::{GlideAuth, RequestContext};

use crate::convert;

/// The actix-web middleware of glide-rs.
///
/// Requests to the engine's routes (contract §2: `POST /api/magical-auth/prepare`, `…/process`,
/// `GET /glide-complete`, …) are answered here and never reach your handlers. Every other request
/// passes through with a [`RequestContext`] in its extensions, from which the
/// [`VerifiedPhone`](crate::VerifiedPhone) extractor loads the verified session (lazily: a
/// handler that does not ask costs no store lookup).
///
/// ```no_run
/// use actix_web::{web, App, HttpServer};
/// use glide_actix::{core::endpoint::GlideAuth, GlideMiddleware, VerifiedPhone};
///
/// async fn me(phone: VerifiedPhone) -> web::Json<VerifiedPhone> {
///     web::Json(phone)
/// }
///
/// #[actix_web::main]
/// async fn main() -> Result<(), Box<dyn std::error::Error>> {
///     let auth = GlideAuth::builder(glide_actix::core::api::Glide::from_env()?).build()?;
///     HttpServer::new(move || {
///         App::new()
///             .wrap(GlideMiddleware::new(auth.clone()))
///             .route("/me", web::get().to(me))
///     })
///     .bind(("127.0.0.1", 3000))?
///     .run()
///     .await?;
///     Ok(())
/// }
/// ```
#[derive(Debug, Clone)]
pub struct GlideMiddleware {
    auth: GlideAuth,
}

impl GlideMiddleware {
    /// The middleware around an engine (cheap to clone: build the engine once, outside
    /// `HttpServer::new`, and clone it into each worker's `App`).
    pub fn new(auth: GlideAuth) -> Self {
        Self { auth }
    }

    /// The engine.
    pub fn auth(&self) -> &GlideAuth {
        &self.auth
    }
}

impl<S, B> Transform<S, ServiceRequest> for GlideMiddleware
where
    S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = actix_web::Error> + 'static,
    B: MessageBody + 'static,
{
    type Response = ServiceResponse<EitherBody<B>>;
    type Error = actix_web::Error;
    type Transform = GlideMiddlewareService<S>;
    type InitError = ();
    type Future = Ready<Result<Self::Transform, Self::InitError>>;

    fn new_transform(&self, service: S) -> Self::Future {
        ready(Ok(GlideMiddlewareService {
            service: Rc::new(service),
            auth: self.auth.clone(),
        }))
    }
}

/// The service [`GlideMiddleware`] wraps around your app; built by actix-web, not by you.
pub struct GlideMiddlewareService<S> {
    service: Rc<S>,
    auth: GlideAuth,
}

impl<S> std::fmt::Debug for GlideMiddlewareService<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GlideMiddlewareService")
            .field("auth", &self.auth)
            .finish_non_exhaustive()
    }
}

impl<S, B> Service<ServiceRequest> for GlideMiddlewareService<S>
where
    S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = actix_web::Error> + 'static,
    B: MessageBody + 'static,
{
    type Response = ServiceResponse<EitherBody<B>>;
    type Error = actix_web::Error;
    type Future = LocalBoxFuture<'static, Result<Self::Response, Self::Error>>;

    forward_ready!(service);

    fn call(&self, request: ServiceRequest) -> Self::Future {
        if let Some(route) = self.auth.match_route(request.path()) {
            let auth = self.auth.clone();
            return Box::pin(async move {
                let (request, payload) = request.into_parts();
                let response = convert::answer(&auth, route, &request, payload).await;
                Ok(ServiceResponse::new(request, response).map_into_right_body())
            });
        }
        let context: RequestContext = self.auth.request_context(
            request
                .headers()
                .get_all(actix_web::http::header::COOKIE)
                .map(|v| v.as_bytes()),
        );
        request.extensions_mut().insert(context);
        let service = Rc::clone(&self.service);
        Box::pin(async move {
            service
                .call(request)
                .await
                .map(ServiceResponse::map_into_left_body)
        })
    }
}
