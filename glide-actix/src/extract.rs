//! The [`VerifiedPhone`] extractor, its error, and [`GlideRequestExt`] for guards and middleware.

use std::marker::PhantomData;
use std::ops::Deref;
use std::sync::Arc;

use actix_web::dev::{Payload, ServiceRequest};
use actix_web::http::StatusCode;
use actix_web::{web, FromRequest, HttpMessage as _, HttpRequest, HttpResponse, ResponseError};
use futures_util::future::LocalBoxFuture;
use glide_core::endpoint::{GlideAuth, Rejection, RequestContext, Requirement};
use serde::Serialize;

use crate::convert;

/// The name the missing-middleware answer gives.
const MIDDLEWARE: &str = "GlideMiddleware";

/// The verified phone number of the request's session: extract it in a handler.
///
/// Rejects with [`VerifiedPhoneError`]: 401 `NOT_VERIFIED` without a verified session, and a 500
/// naming `GlideMiddleware` when the app has neither [`GlideMiddleware`](crate::GlideMiddleware)
/// nor a [`GlideAuth`] in its `app_data` (never a panic). Take `Option<VerifiedPhone>` to get
/// `None` instead of the rejection (the missing middleware is still logged as an error), or
/// `Result<VerifiedPhone, VerifiedPhoneError>` to handle the rejection yourself.
///
/// A newtype around an `Arc` of [`glide_core::VerifiedPhone`] (Rust's orphan rule keeps that
/// type from implementing actix-web's `FromRequest` directly; the `Arc` is the session cache's
/// own value, handed out without a copy): it derefs to it, serialises exactly like it, and
/// [`into_inner`](Self::into_inner) unwraps it (a copy only when it is still shared).
///
/// ```
/// use actix_web::{web, HttpResponse};
/// use glide_actix::VerifiedPhone;
///
/// // 401 NOT_VERIFIED without a verified session
/// async fn me(phone: VerifiedPhone) -> web::Json<VerifiedPhone> {
///     web::Json(phone)
/// }
///
/// // never rejects for a missing session
/// async fn greet(phone: Option<VerifiedPhone>) -> HttpResponse {
///     match phone {
///         Some(phone) => HttpResponse::Ok().body(format!("hello {}", phone.phone_number.as_str())),
///         None => HttpResponse::Ok().body("hello stranger"),
///     }
/// }
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct VerifiedPhone(pub Arc<glide_core::VerifiedPhone>);

impl VerifiedPhone {
    /// The core value.
    pub fn into_inner(self) -> glide_core::VerifiedPhone {
        Arc::unwrap_or_clone(self.0)
    }
}

impl Deref for VerifiedPhone {
    type Target = glide_core::VerifiedPhone;

    fn deref(&self) -> &Self::Target {
        &self.0
    }
}

impl From<VerifiedPhone> for glide_core::VerifiedPhone {
    fn from(phone: VerifiedPhone) -> Self {
        phone.into_inner()
    }
}

impl From<glide_core::VerifiedPhone> for VerifiedPhone {
    fn from(phone: glide_core::VerifiedPhone) -> Self {
        Self(Arc::new(phone))
    }
}

/// Why [`VerifiedPhone`] could not be extracted: glide-core's [`Rejection`] (the same one the
/// axum adapter wraps, so both answer the same bytes), as an actix-web error.
#[derive(Debug, Clone, thiserror::Error)]
#[error(transparent)]
pub struct VerifiedPhoneError(pub Rejection);

impl ResponseError for VerifiedPhoneError {
    fn status_code(&self) -> StatusCode {
        StatusCode::from_u16(self.0.status().as_u16()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
    }

    fn error_response(&self) -> HttpResponse {
        convert::into_response(self.0.to_response())
    }
}

impl FromRequest for VerifiedPhone {
    type Error = VerifiedPhoneError;
    type Future = LocalBoxFuture<'static, Result<Self, Self::Error>>;

    fn from_request(request: &HttpRequest, _: &mut Payload) -> Self::Future {
        let lookup = verified_phone(request);
        Box::pin(async move {
            lookup
                .await?
                .ok_or(VerifiedPhoneError(Rejection::NotVerified))
        })
    }
}

/// The request's [`RequestContext`]: the middleware's, or one made from a [`GlideAuth`]
/// registered as `app_data` (plain or in `web::Data`) and kept for the rest of the request.
fn context(request: &HttpRequest) -> Option<RequestContext> {
    if let Some(context) = request.extensions().get::<RequestContext>() {
        return Some(context.clone());
    }
    let auth = request.app_data::<GlideAuth>().cloned().or_else(|| {
        request
            .app_data::<web::Data<GlideAuth>>()
            .map(|data| data.get_ref().clone())
    })?;
    let context = auth.request_context(
        request
            .headers()
            .get_all(actix_web::http::header::COOKIE)
            .map(|v| v.as_bytes()),
    );
    request.extensions_mut().insert(context.clone());
    Some(context)
}

/// Looks the verified phone up; `Ok(None)` when the request has no verified session.
fn verified_phone(
    request: &HttpRequest,
) -> LocalBoxFuture<'static, Result<Option<VerifiedPhone>, VerifiedPhoneError>> {
    let context = context(request);
    Box::pin(async move {
        let Some(context) = context else {
            // Logged here because actix-web's `Option<T>` extractor turns every error into `None`
            // without ever building its response.
            return Err(VerifiedPhoneError(Rejection::missing_middleware(
                MIDDLEWARE,
            )));
        };
        match context.verified_phone().await {
            Ok(phone) => Ok(phone.map(VerifiedPhone)),
            Err(error) => {
                // Also logged here: an `Option<VerifiedPhone>` reads `None` and builds no response.
                tracing::warn!(
                    target: "glide::rejection",
                    error = %glide_core::error::LogError(&error),
                    "the verified session could not be looked up"
                );
                Err(VerifiedPhoneError(Rejection::Lookup(error)))
            }
        }
    })
}

/// A [`VerifiedPhone`] whose verification meets the requirement `R` (recent enough, by a
/// trusted strategy): the extractor form of [`RequireVerifiedWrap`](crate::RequireVerifiedWrap),
/// with the same answers — 401 `NOT_VERIFIED` without a session, 401 `STEP_UP_REQUIRED` (with
/// `max_age_seconds` / `strategies`) when it falls short, 500 naming `GlideMiddleware` when
/// neither the middleware nor a `GlideAuth` in `app_data` is there.
///
/// ```no_run
/// use std::time::Duration;
/// use glide_actix::VerifiedWith;
/// use glide_core::endpoint::{Requirement, RequireVerified};
/// use glide_core::Strategy;
///
/// struct Payouts;
/// impl Requirement for Payouts {
///     fn requirement() -> RequireVerified {
///         RequireVerified::new()
///             .max_age(Duration::from_secs(300))
///             .strategies([Strategy::Ts43, Strategy::Link, Strategy::Desktop])
///     }
/// }
///
/// async fn transfer(phone: VerifiedWith<Payouts>) -> String {
///     format!("sent from {}", phone.phone_number.masked())
/// }
/// ```
pub struct VerifiedWith<R> {
    phone: Arc<glide_core::VerifiedPhone>,
    requirement: PhantomData<fn() -> R>,
}

impl<R> VerifiedWith<R> {
    /// The verified phone.
    pub fn into_inner(self) -> glide_core::VerifiedPhone {
        Arc::unwrap_or_clone(self.phone)
    }
}

impl<R> Deref for VerifiedWith<R> {
    type Target = glide_core::VerifiedPhone;

    fn deref(&self) -> &Self::Target {
        &self.phone
    }
}

impl<R> std::fmt::Debug for VerifiedWith<R> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("VerifiedWith").field(&self.phone).finish()
    }
}

impl<R: Requirement> FromRequest for VerifiedWith<R> {
    type Error = VerifiedPhoneError;
    type Future = LocalBoxFuture<'static, Result<Self, Self::Error>>;

    fn from_request(request: &HttpRequest, _: &mut Payload) -> Self::Future {
        let context = context(request);
        let origin = context
            .as_ref()
            .map(|context| crate::convert::check_origin(context.auth(), request));
        Box::pin(async move {
            let context = context
                .ok_or_else(|| VerifiedPhoneError(Rejection::missing_middleware(MIDDLEWARE)))?;
            origin.unwrap_or(Ok(())).map_err(VerifiedPhoneError)?;
            context
                .require_with(&R::requirement())
                .await
                .map(|phone| Self {
                    phone,
                    requirement: PhantomData,
                })
                .map_err(VerifiedPhoneError)
        })
    }
}

mod sealed {
    pub trait Sealed {}
    impl Sealed for actix_web::HttpRequest {}
    impl Sealed for actix_web::dev::ServiceRequest {}
}

/// The verified session from places where extractors do not run: guards, your own middleware
/// (placed inside `GlideMiddleware`, i.e. `.wrap()`ped before it), `HttpRequest` in a handler.
///
/// ```
/// use actix_web::HttpRequest;
/// use glide_actix::GlideRequestExt as _;
///
/// async fn handler(request: HttpRequest) -> String {
///     match request.verified_phone().await {
///         Ok(Some(phone)) => format!("verified by {:?}", phone.strategy),
///         Ok(None) => "not verified".to_owned(),
///         Err(error) => format!("cannot tell: {error}"),
///     }
/// }
/// ```
pub trait GlideRequestExt: sealed::Sealed {
    /// The request's context, when `GlideMiddleware` (or a `GlideAuth` `app_data`) is installed.
    fn glide_context(&self) -> Option<RequestContext>;

    /// The verified phone of the request's session: `Ok(None)` without one,
    /// [`Rejection::MissingMiddleware`] without the middleware, and [`Rejection::Lookup`] when
    /// the store fails. Looked up at most once per request.
    fn verified_phone(
        &self,
    ) -> LocalBoxFuture<'static, Result<Option<VerifiedPhone>, VerifiedPhoneError>>;
}

impl GlideRequestExt for HttpRequest {
    fn glide_context(&self) -> Option<RequestContext> {
        context(self)
    }

    fn verified_phone(
        &self,
    ) -> LocalBoxFuture<'static, Result<Option<VerifiedPhone>, VerifiedPhoneError>> {
        verified_phone(self)
    }
}

impl GlideRequestExt for ServiceRequest {
    fn glide_context(&self) -> Option<RequestContext> {
        context(self.request())
    }

    fn verified_phone(
        &self,
    ) -> LocalBoxFuture<'static, Result<Option<VerifiedPhone>, VerifiedPhoneError>> {
        verified_phone(self.request())
    }
}
