//! The per-request context through which extractors reach the verified session, and the one
//! rejection both adapters' extractors wrap.

use std::sync::Arc;

use bytes::Bytes;
use http::{Response, StatusCode};
use serde::Serialize;
use tokio::sync::OnceCell;

use super::io;
use super::GlideAuth;
use crate::error::{Error, RequestError};
use crate::session::{SessionId, VerifiedPhone};

/// Why the verified session could not be looked up (the store failed). Cheap to clone.
pub type LookupError = Arc<Error>;

/// Put into each request's extensions by the adapter's middleware. The first extractor that asks
/// loads the verified session from the store; later ones in the same request reuse the answer.
#[derive(Debug, Clone)]
pub struct RequestContext {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    auth: GlideAuth,
    /// The session cookie's value, when it has the shape of a session id (anything else is no
    /// session, without a lookup).
    session_id: Option<SessionId>,
    cell: OnceCell<Result<Option<Arc<VerifiedPhone>>, LookupError>>,
}

impl RequestContext {
    pub(super) fn new(auth: GlideAuth, session_id: Option<&str>) -> Self {
        Self {
            inner: Arc::new(Inner {
                auth,
                session_id: session_id.and_then(SessionId::parse),
                cell: OnceCell::new(),
            }),
        }
    }

    /// The verified phone of this request's session, loaded at most once per request; shared,
    /// not copied (the session cache's own value).
    pub async fn verified_phone(&self) -> Result<Option<Arc<VerifiedPhone>>, LookupError> {
        let inner = &*self.inner;
        let loaded = inner
            .cell
            .get_or_init(|| async {
                match &inner.session_id {
                    Some(id) => inner
                        .auth
                        .sessions()
                        .load_shared(id)
                        .await
                        .map_err(Arc::new),
                    None => Ok(None),
                }
            })
            .await;
        loaded.clone()
    }

    /// The verified phone, or the rejection an extractor answers with.
    pub async fn require(&self) -> Result<Arc<VerifiedPhone>, Rejection> {
        self.verified_phone()
            .await
            .map_err(Rejection::Lookup)?
            .ok_or(Rejection::NotVerified)
    }

    /// The verified phone, when it meets `requirement` (else `NotVerified`, or
    /// `StepUpRequired` saying what a fresh verification must do).
    pub async fn require_with(
        &self,
        requirement: &super::RequireVerified,
    ) -> Result<Arc<VerifiedPhone>, Rejection> {
        let phone = self.require().await?;
        requirement
            .check(&phone, self.inner.auth.now())
            .map_err(Rejection::StepUpRequired)?;
        Ok(phone)
    }

    /// The engine this request runs under.
    pub fn auth(&self) -> &GlideAuth {
        &self.inner.auth
    }
}

/// Why a `VerifiedPhone` extractor refused a request. Both adapters wrap this one type, so
/// their answers are the same bytes.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum Rejection {
    /// The adapter's middleware is not installed on this route: 500
    /// `{"code":"MISSING_MIDDLEWARE",…}` naming it.
    #[error("VerifiedPhone was extracted but {0} is not installed on this route")]
    MissingMiddleware(&'static str),
    /// The browser has no verified session: 401 `{"code":"NOT_VERIFIED",…}`.
    #[error("phone number not verified")]
    NotVerified,
    /// The session store failed: the error's own status (503 or 500) with an opaque body.
    #[error("the verified session could not be loaded")]
    Lookup(#[source] LookupError),
    /// The verification is too old or too weak for this route: 401 `STEP_UP_REQUIRED`.
    #[error(transparent)]
    StepUpRequired(super::StepUp),
    /// A state-changing request to a guarded route came from another origin: 403
    /// `ORIGIN_NOT_ALLOWED` (see [`GlideAuth::check_origin`]).
    #[error("request origin not allowed")]
    OriginNotAllowed,
}

#[derive(Serialize)]
struct MissingMiddlewareBody {
    code: &'static str,
    message: String,
    status: u16,
}

impl Rejection {
    /// The rejection for an extractor used without its middleware; logs the misconfiguration.
    pub fn missing_middleware(middleware: &'static str) -> Self {
        tracing::error!(
            target: "glide::rejection",
            "VerifiedPhone needs {middleware}: add it to the app"
        );
        Self::MissingMiddleware(middleware)
    }

    /// The HTTP status.
    pub fn status(&self) -> StatusCode {
        match self {
            Self::MissingMiddleware(_) => StatusCode::INTERNAL_SERVER_ERROR,
            Self::NotVerified | Self::StepUpRequired(_) => StatusCode::UNAUTHORIZED,
            Self::OriginNotAllowed => StatusCode::FORBIDDEN,
            Self::Lookup(error) => StatusCode::from_u16(error.http_status())
                .unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
        }
    }

    /// The answer: the error body of every route.
    pub fn to_response(&self) -> Response<Bytes> {
        match self {
            Self::MissingMiddleware(middleware) => io::json(
                StatusCode::INTERNAL_SERVER_ERROR,
                &MissingMiddlewareBody {
                    code: "MISSING_MIDDLEWARE",
                    message: format!("VerifiedPhone requires {middleware}; add it to the app."),
                    status: 500,
                },
            ),
            Self::NotVerified => io::error_response(&Error::Request(RequestError::NotVerified)),
            Self::Lookup(error) => io::error_response(error),
            Self::StepUpRequired(step_up) => step_up.to_response(),
            Self::OriginNotAllowed => {
                io::error_response(&Error::Request(RequestError::OriginNotAllowed))
            }
        }
    }
}
