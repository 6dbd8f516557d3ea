//! The routes of a verified session: `logout`.

use http::StatusCode;
use std::sync::Arc;

use super::door::Door;
use super::hook::{RevokeCause, VerificationEvent};
use super::io::{self, EndpointResponse, Incoming, ResponseExt as _};
use super::issue::SessionIssuer;
use crate::error::Error;

/// The session routes and exactly what they need.
#[derive(Debug)]
pub(crate) struct SessionRoutes {
    pub(crate) issuer: Arc<SessionIssuer>,
    pub(crate) door: Arc<Door>,
}

impl SessionRoutes {
    /// `POST {base}/logout`: ends the verified session server-side and removes its cookie.
    pub(crate) async fn logout(&self, request: &Incoming) -> Result<EndpointResponse, Error> {
        self.door.same_origin(request)?;
        if let Some(id) = self.issuer.current_id(request) {
            let ended = self.issuer.sessions.load(id).await?;
            self.issuer.sessions.destroy(id).await?;
            if let Some(phone) = ended {
                self.issuer
                    .hook
                    .emit(VerificationEvent::revoked(
                        &phone.phone_number,
                        1,
                        RevokeCause::Logout,
                    ))
                    .await;
            }
        }
        Ok(io::empty(StatusCode::NO_CONTENT).with_cookie(self.issuer.removal()))
    }
}
