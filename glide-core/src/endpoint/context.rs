//! The per-request context through which extractors reach the verified session.

use std::sync::Arc;
use tokio::sync::OnceCell;

use super::{EndpointResponse, GlideAuth};
use crate::error::{Error, RequestError};
use crate::session::VerifiedPhone;

/// Why the verified session could not be looked up (the store failed). Cheap to clone.
pub type LookupError = Arc<Error>;

/// Put into each request's extensions by the adapter's middleware. The first extractor that asks
/// loads the verified session from the store; later ones in the same request reuse the answer.
#[derive(Debug, Clone)]
pub struct RequestContext {
    auth: GlideAuth,
    cookie_header: Option<String>,
    cell: Arc<OnceCell<Result<Option<VerifiedPhone>, LookupError>>>,
}

impl RequestContext {
    pub(super) fn new(auth: GlideAuth, cookie_header: Option<String>) -> Self {
        Self {
            auth,
            cookie_header,
            cell: Arc::new(OnceCell::new()),
        }
    }

    /// The verified phone of this request's session, loaded at most once per request.
    pub async fn verified_phone(&self) -> Result<Option<VerifiedPhone>, LookupError> {
        self.cell
            .get_or_init(|| async {
                self.auth
                    .verified_phone(self.cookie_header.as_deref())
                    .await
                    .map_err(Arc::new)
            })
            .await
            .clone()
    }

    /// The engine this request runs under.
    pub fn auth(&self) -> &GlideAuth {
        &self.auth
    }

    /// The 401 `NOT_VERIFIED` answer of an extractor without a verified session.
    pub fn not_verified() -> EndpointResponse {
        EndpointResponse::error(&Error::Request(RequestError::NotVerified))
    }

    /// The 500 answer of an extractor used without its middleware, naming the middleware.
    /// Adapters log the misconfiguration where they detect it (once per request).
    pub fn missing_middleware(middleware: &str) -> EndpointResponse {
        EndpointResponse::json(
            500,
            &serde_json::json!({
                "code": "MISSING_MIDDLEWARE",
                "message": format!("VerifiedPhone requires {middleware}; add it to the app."),
                "status": 500,
            }),
        )
    }
}
