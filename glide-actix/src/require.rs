//! [`RequireVerifiedWrap`]: a resource or scope that needs a verification meeting a
//! requirement — recent enough, by a trusted strategy — before its handler runs.

use std::future::{ready, Ready};
use std::rc::Rc;

use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{forward_ready, Service, ServiceRequest, ServiceResponse, Transform};
use futures_util::future::LocalBoxFuture;
use glide_core::endpoint::{Rejection, RequireVerified};

use crate::convert;
use crate::GlideRequestExt as _;

/// Puts a [`RequireVerified`] in front of a resource or scope (`.wrap(…)`): without a verified
/// session 401 `NOT_VERIFIED`; with one too old or too weak 401 `STEP_UP_REQUIRED` (with
/// `max_age_seconds` / `strategies`); otherwise the handler runs. Needs
/// [`GlideMiddleware`](crate::GlideMiddleware) (or a `GlideAuth` `app_data`); a 500 naming it
/// otherwise, never a panic.
///
/// ```no_run
/// use std::time::Duration;
/// use actix_web::{web, App, HttpResponse};
/// use glide_actix::RequireVerifiedWrap;
/// use glide_actix::core::{endpoint::RequireVerified, Strategy};
///
/// let payouts = RequireVerified::new()
///     .max_age(Duration::from_secs(300))
///     .strategies([Strategy::Ts43, Strategy::Link, Strategy::Desktop]);
/// let app = App::new().service(
///     web::resource("/transfer")
///         .wrap(RequireVerifiedWrap::new(payouts))
///         .route(web::post().to(|| async { HttpResponse::Ok().body("sent") })),
/// );
/// ```
#[derive(Debug, Clone)]
pub struct RequireVerifiedWrap {
    requirement: Rc<RequireVerified>,
}

impl RequireVerifiedWrap {
    /// The wrapper for `requirement`.
    pub fn new(requirement: RequireVerified) -> Self {
        Self {
            requirement: Rc::new(requirement),
        }
    }
}

impl<S, B> Transform<S, ServiceRequest> for RequireVerifiedWrap
where
    S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = actix_web::Error> + 'static,
    B: MessageBody + 'static,
{
    type Response = ServiceResponse<EitherBody<B>>;
    type Error = actix_web::Error;
    type Transform = RequireVerifiedWrapService<S>;
    type InitError = ();
    type Future = Ready<Result<Self::Transform, Self::InitError>>;

    fn new_transform(&self, service: S) -> Self::Future {
        ready(Ok(RequireVerifiedWrapService {
            service: Rc::new(service),
            requirement: Rc::clone(&self.requirement),
        }))
    }
}

/// The service [`RequireVerifiedWrap`] wraps around a resource; built by actix-web.
#[derive(Debug)]
pub struct RequireVerifiedWrapService<S> {
    service: Rc<S>,
    requirement: Rc<RequireVerified>,
}

impl<S, B> Service<ServiceRequest> for RequireVerifiedWrapService<S>
where
    S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = actix_web::Error> + 'static,
    B: MessageBody + 'static,
{
    type Response = ServiceResponse<EitherBody<B>>;
    type Error = actix_web::Error;
    type Future = LocalBoxFuture<'static, Result<Self::Response, Self::Error>>;

    forward_ready!(service);

    fn call(&self, request: ServiceRequest) -> Self::Future {
        let context = request.glide_context();
        let service = Rc::clone(&self.service);
        let requirement = Rc::clone(&self.requirement);
        Box::pin(async move {
            let refused = match context {
                None => Rejection::missing_middleware("GlideMiddleware"),
                Some(context) => match async {
                    convert::check_origin(context.auth(), request.request())?;
                    context.require_with(&requirement).await
                }
                .await
                {
                    Ok(_) => {
                        return service
                            .call(request)
                            .await
                            .map(ServiceResponse::map_into_left_body)
                    }
                    Err(refused) => refused,
                },
            };
            let (request, _) = request.into_parts();
            let response = convert::into_response(refused.to_response());
            Ok(ServiceResponse::new(request, response).map_into_right_body())
        })
    }
}
