//! The [`VerifiedPhone`] extractor and its rejection.

use std::marker::PhantomData;
use std::ops::Deref;
use std::sync::Arc;

use axum::extract::{FromRequestParts, OptionalFromRequestParts};
use axum::response::{IntoResponse, Response};
use glide_core::endpoint::{Rejection, RequestContext, Requirement};
use http::request::Parts;
use serde::{Deserialize, Serialize};

/// The verified phone number of the request's session, with its anti-fraud signals.
///
/// A handler that takes `VerifiedPhone` runs only for a browser with a verified session;
/// otherwise the request is rejected with 401 `{"code":"NOT_VERIFIED",…}`. Take
/// `Option<VerifiedPhone>` to get `None` instead. Both need [`GlideLayer`](crate::GlideLayer)
/// on the router; without it the rejection is a 500 naming the layer (never a panic).
///
/// This is a newtype around an `Arc` of [`glide_core::VerifiedPhone`] (the extractor traits are
/// axum's and the type is glide-core's, so the adapter wraps it; the `Arc` is the session cache's
/// own value, handed out without a copy): it derefs to it, serialises exactly like it, and
/// [`into_inner`](Self::into_inner) hands it over (a copy only when it is still shared).
///
/// ```
/// use axum::Json;
/// use glide_axum::VerifiedPhone;
///
/// async fn me(phone: VerifiedPhone) -> Json<VerifiedPhone> {
///     // phone.phone_number, phone.strategy, phone.sim_swap, … through Deref
///     Json(phone)
/// }
///
/// async fn home(phone: Option<VerifiedPhone>) -> String {
///     match phone {
///         Some(phone) => format!("welcome back, {}", phone.phone_number.as_str()),
///         None => "please verify your number".to_owned(),
///     }
/// }
/// ```
///
/// The session is loaded from the store at most once per request, however many extractors ask.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct VerifiedPhone(pub Arc<glide_core::VerifiedPhone>);

impl VerifiedPhone {
    /// The glide-core value.
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

impl From<glide_core::VerifiedPhone> for VerifiedPhone {
    fn from(phone: glide_core::VerifiedPhone) -> Self {
        Self(Arc::new(phone))
    }
}

impl From<VerifiedPhone> for glide_core::VerifiedPhone {
    fn from(phone: VerifiedPhone) -> Self {
        phone.into_inner()
    }
}

/// Why [`VerifiedPhone`] could not be extracted: glide-core's [`Rejection`] (the same one the
/// actix-web adapter wraps, so both answer the same bytes), as an axum response.
#[derive(Debug, Clone, thiserror::Error)]
#[error(transparent)]
pub struct VerifiedPhoneRejection(pub Rejection);

impl VerifiedPhoneRejection {
    /// The HTTP status of the rejection.
    pub fn status(&self) -> http::StatusCode {
        self.0.status()
    }
}

impl IntoResponse for VerifiedPhoneRejection {
    fn into_response(self) -> Response {
        self.0
            .to_response()
            .map(axum::body::Body::from)
            .into_response()
    }
}

fn context(parts: &Parts) -> Result<&RequestContext, VerifiedPhoneRejection> {
    parts
        .extensions
        .get::<RequestContext>()
        .ok_or_else(|| VerifiedPhoneRejection(Rejection::missing_middleware("GlideLayer")))
}

impl<S: Send + Sync> FromRequestParts<S> for VerifiedPhone {
    type Rejection = VerifiedPhoneRejection;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        context(parts)?
            .require()
            .await
            .map(VerifiedPhone)
            .map_err(VerifiedPhoneRejection)
    }
}

/// `Option<VerifiedPhone>`: `None` without a verified session. A missing layer or a failing
/// store still reject: neither is "not verified".
impl<S: Send + Sync> OptionalFromRequestParts<S> for VerifiedPhone {
    type Rejection = VerifiedPhoneRejection;

    async fn from_request_parts(
        parts: &mut Parts,
        _state: &S,
    ) -> Result<Option<Self>, Self::Rejection> {
        context(parts)?
            .verified_phone()
            .await
            .map(|phone| phone.map(VerifiedPhone))
            .map_err(|e| VerifiedPhoneRejection(Rejection::Lookup(e)))
    }
}

/// A [`VerifiedPhone`] whose verification meets the requirement `R` (recent enough, by a
/// trusted strategy): the extractor form of [`RequireVerifiedLayer`](crate::RequireVerifiedLayer),
/// with the same answers — 401 `NOT_VERIFIED` without a session, 401 `STEP_UP_REQUIRED` (with
/// `max_age_seconds` / `strategies`) when it falls short, 500 naming
/// [`GlideLayer`](crate::GlideLayer) when the layer is missing.
///
/// ```no_run
/// use std::time::Duration;
/// use glide_axum::VerifiedWith;
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

impl<S: Send + Sync, R: Requirement> FromRequestParts<S> for VerifiedWith<R> {
    type Rejection = VerifiedPhoneRejection;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let context = context(parts)?;
        context
            .auth()
            .check_origin(&parts.method, &parts.uri, &parts.headers)
            .map_err(VerifiedPhoneRejection)?;
        context
            .require_with(&R::requirement())
            .await
            .map(|phone| Self {
                phone,
                requirement: PhantomData,
            })
            .map_err(VerifiedPhoneRejection)
    }
}
