//! Issuing a verified session: the steps every successful flow (Magical Auth, fallback codes,
//! Number Verify) shares.

use super::{EndpointRequest, GlideAuth};
use crate::session::SessionId;
use crate::{PhoneNumber, Strategy};

impl GlideAuth {
    /// The verified-session id carried by this request's cookie, if any.
    pub(super) fn session_id_of(&self, request: &EndpointRequest) -> Option<String> {
        let header = request.cookie_header()?;
        crate::cookie::find_cookie(&header, &self.inner.session_cookie.name).map(str::to_owned)
    }

    /// After a fresh session was stored: ends the one this browser held before (a new id on every
    /// verification; the old id dies server side), logs the verification with the number masked,
    /// and returns the `Set-Cookie` that hands the new id to the browser.
    pub(super) async fn hand_over_session(
        &self,
        request: &EndpointRequest,
        id: &SessionId,
        phone: &PhoneNumber,
        strategy: Strategy,
    ) -> String {
        let inner = &self.inner;
        if let Some(old) = self.session_id_of(request) {
            if old != id.as_str() {
                if let Err(e) = inner.sessions.destroy(&old).await {
                    tracing::warn!(error = %e, "could not end the previous session");
                }
            }
        }
        tracing::info!(
            target: "glide::verification",
            phone = %phone.masked(),
            strategy = %strategy,
            "phone number verified"
        );
        inner.session_cookie.set_header(id.as_str())
    }
}
