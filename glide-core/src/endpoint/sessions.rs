//! The routes of a verified session: `logout`, and the sessions of the verified number — list
//! them, revoke one, all others, or all. A browser acts only on the sessions of the number its
//! own session verified; sessions are named by opaque handles, never by their ids.

use http::StatusCode;
use serde::{Deserialize, Serialize};
use std::sync::Arc;

use super::door::Door;
use super::hook::{RevokeCause, VerificationEvent};
use super::io::{self, EndpointResponse, Incoming, ResponseExt as _};
use super::issue::SessionIssuer;
use crate::error::{Error, FlowError, RequestError};
use crate::session::{SessionId, SessionInfo};
use crate::PhoneNumber;

/// The session routes and exactly what they need.
#[derive(Debug)]
pub(crate) struct SessionRoutes {
    pub(crate) issuer: Arc<SessionIssuer>,
    pub(crate) door: Arc<Door>,
}

/// `POST {base}/sessions/revoke`'s body.
#[derive(Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub(crate) struct RevokeBody {
    handle: String,
}

/// `GET {base}/sessions`'s answer.
#[derive(Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub(crate) struct SessionList {
    sessions: Vec<SessionInfo>,
}

impl SessionRoutes {
    /// `POST {base}/logout`: ends the verified session server-side and removes its cookie.
    pub(crate) async fn logout(&self, request: &Incoming) -> Result<EndpointResponse, Error> {
        self.door.bodiless(request)?;
        if let Some(id) = self.issuer.current_id(request) {
            if let Some(phone) = self.issuer.sessions.destroy(id).await? {
                self.issuer
                    .hook
                    .emit(VerificationEvent::revoked(&phone, 1, RevokeCause::Logout))
                    .await;
            }
        }
        Ok(io::empty(StatusCode::NO_CONTENT).with_cookie(self.issuer.removal()))
    }

    /// `GET {base}/sessions`: the live sessions of the caller's number, oldest first, the
    /// caller's own marked `current`.
    pub(crate) async fn list(&self, request: &Incoming) -> Result<EndpointResponse, Error> {
        let (id, number) = self.caller(request).await?;
        let sessions = self.issuer.sessions.list(&number, Some(id)).await?;
        Ok(io::json(StatusCode::OK, &SessionList { sessions }))
    }

    /// `POST {base}/sessions/revoke` `{handle}`: ends one session of the caller's number; 404
    /// `SESSION_NOT_FOUND` for any handle that is not one (another number's, forged, ended),
    /// by the same path. Revoking its own session also removes the caller's cookie.
    pub(crate) async fn revoke(&self, request: &Incoming) -> Result<EndpointResponse, Error> {
        let body: RevokeBody = self.door.json(request)?;
        let (id, number) = self.caller(request).await?;
        if !self.issuer.sessions.revoke(&number, &body.handle).await? {
            return Err(FlowError::NotFound.into());
        }
        let own = SessionId::parse(id).is_some_and(|id| id.handle() == body.handle);
        let response = io::empty(StatusCode::NO_CONTENT);
        Ok(if own {
            response.with_cookie(self.issuer.removal())
        } else {
            response
        })
    }

    /// `POST {base}/sessions/revoke-others`: ends every session of the caller's number but the
    /// caller's.
    pub(crate) async fn revoke_others(
        &self,
        request: &Incoming,
    ) -> Result<EndpointResponse, Error> {
        self.door.bodiless(request)?;
        let (id, number) = self.caller(request).await?;
        self.issuer.sessions.revoke_others(&number, id).await?;
        Ok(io::empty(StatusCode::NO_CONTENT))
    }

    /// `POST {base}/sessions/revoke-all`: ends every session of the caller's number, the
    /// caller's too, and removes its cookie.
    pub(crate) async fn revoke_all(&self, request: &Incoming) -> Result<EndpointResponse, Error> {
        self.door.bodiless(request)?;
        let (_, number) = self.caller(request).await?;
        self.issuer.sessions.revoke_all(&number).await?;
        Ok(io::empty(StatusCode::NO_CONTENT).with_cookie(self.issuer.removal()))
    }

    /// The caller's live session id and its verified number; 401 `NOT_VERIFIED` without one.
    async fn caller<'a>(&self, request: &'a Incoming) -> Result<(&'a str, PhoneNumber), Error> {
        let id = self
            .issuer
            .current_id(request)
            .ok_or(RequestError::NotVerified)?;
        let phone = self
            .issuer
            .sessions
            .load(id)
            .await?
            .ok_or(RequestError::NotVerified)?;
        Ok((id, phone.phone_number))
    }
}
