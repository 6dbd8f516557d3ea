//! The only job of this module: the axum side of the seam. Requests to the engine's routes go to
//! [`GlideAuth::serve`] (which reads the body with glide-core's one bounded reader) with the
//! client's address; the engine's `http::Response<Bytes>` is already an axum response.

use std::net::SocketAddr;

use axum::extract::ConnectInfo;
use bytes::Bytes;
use glide_core::endpoint::{EndpointResponse, GlideAuth, PeerAddr, Route};
use glide_core::error::BoxError;
use http::Request;
use http_body::Body;

/// Answers a request to one of the engine's routes.
pub(crate) async fn answer<B>(
    auth: GlideAuth,
    route: Route,
    mut request: Request<B>,
) -> EndpointResponse
where
    B: Body<Data = Bytes>,
    B::Error: Into<BoxError>,
{
    if let Some(ConnectInfo(addr)) = request.extensions().get::<ConnectInfo<SocketAddr>>() {
        let peer = PeerAddr(addr.ip());
        request.extensions_mut().insert(peer);
    }
    auth.serve(route, request).await
}
