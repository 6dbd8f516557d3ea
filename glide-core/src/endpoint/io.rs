//! The typed seam between glide-core and an adapter: an `http::Request` in (its body read by
//! [`read_body`], the one bounded reader both adapters use), an `http::Response` out, and the
//! per-request view ([`Incoming`]) every route reads: headers, the cookie jar parsed once, the
//! query, the body and the client's address.

use std::net::IpAddr;
use std::time::Duration;

use bytes::Buf as _;
use bytes::Bytes;
use http::header::{
    HeaderName, HeaderValue, CACHE_CONTROL, CONNECTION, CONTENT_LENGTH, CONTENT_TYPE, RETRY_AFTER,
    SET_COOKIE, X_CONTENT_TYPE_OPTIONS,
};
use http::{HeaderMap, Request, Response, StatusCode};
use http_body::Body;
use http_body_util::BodyExt;
use serde::Serialize;

use crate::cookie::Jar;
use crate::error::{BoxError, Error, RequestError};

/// The address of the TCP peer, put into the request's extensions by the adapter (glide-core
/// cannot see the connection). Rate limits key on it (or on `X-Forwarded-For` from a trusted
/// proxy).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PeerAddr(pub IpAddr);

/// What a route answers with: a status, headers (`Set-Cookie` may repeat) and a body.
pub type EndpointResponse = Response<Bytes>;

/// How long [`read_body`] waits for a whole body (a client sending one byte a second is cut
/// off), and at most how long and how much it drains of a refused body.
const BODY_DEADLINE: Duration = Duration::from_secs(10);
const DRAIN_DEADLINE: Duration = Duration::from_secs(2);
const DRAIN_CAP: usize = 4 * 1024 * 1024;

/// Reads a request body of at most `limit` bytes within a deadline.
///
/// The one policy for both adapters: a declared `Content-Length` over the limit, or a body that
/// streams past it, is answered with 413 `PAYLOAD_TOO_LARGE` and `Connection: close` after what
/// is left of the body has been drained (bounded in size and time), so that the client, still
/// sending, receives the answer; a body that does not arrive within 10 s gets 408
/// `REQUEST_TIMEOUT`; a broken body gets 400.
pub async fn read_body<B>(
    headers: &HeaderMap,
    body: B,
    limit: usize,
) -> Result<Bytes, Response<Bytes>>
where
    B: Body,
    B::Error: Into<BoxError>,
{
    let declared = headers
        .get(CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok());
    if declared.is_some_and(|len| len > limit as u64) {
        drain(body).await;
        return Err(too_large());
    }
    let mut body = std::pin::pin!(body);
    let read = async {
        let mut out = bytes::BytesMut::new();
        while let Some(frame) = body.as_mut().frame().await {
            let frame = frame.map_err(|e| Read::Broken(e.into()))?;
            if let Ok(mut data) = frame.into_data() {
                if out.len() + data.remaining() > limit {
                    return Err(Read::TooLarge);
                }
                while data.has_remaining() {
                    let chunk = data.chunk();
                    let n = chunk.len();
                    out.extend_from_slice(chunk);
                    data.advance(n);
                }
            }
        }
        Ok(out.freeze())
    };
    let outcome = tokio::time::timeout(BODY_DEADLINE, read).await;
    match outcome {
        Ok(Ok(body)) => Ok(body),
        Ok(Err(Read::TooLarge)) => {
            drain_pinned(body.as_mut()).await;
            Err(too_large())
        }
        Ok(Err(Read::Broken(error))) => {
            tracing::debug!(target: "glide::endpoint", %error, "could not read the request body");
            Err(error_response(&Error::Request(
                RequestError::MalformedBody("the request body could not be read".into()),
            )))
        }
        Err(_) => Err(with_close(error_response(&Error::Request(
            RequestError::BodyTimeout,
        )))),
    }
}

/// Why a body could not be read.
enum Read {
    TooLarge,
    Broken(BoxError),
}

fn too_large() -> Response<Bytes> {
    with_close(error_response(&Error::Request(
        RequestError::PayloadTooLarge,
    )))
}

fn with_close(mut response: Response<Bytes>) -> Response<Bytes> {
    response
        .headers_mut()
        .insert(CONNECTION, HeaderValue::from_static("close"));
    response
}

/// Reads and discards what is left of a refused body (bounded), so that the server does not
/// close the connection under a client still sending, which would lose the 413.
async fn drain<B: Body>(body: B) {
    let mut body = std::pin::pin!(body);
    drain_pinned(body.as_mut()).await;
}

async fn drain_pinned<B: Body>(mut body: std::pin::Pin<&mut B>) {
    let discard = async {
        let mut seen = 0usize;
        while let Some(Ok(frame)) = body.as_mut().frame().await {
            if let Ok(data) = frame.into_data() {
                seen += data.remaining();
                if seen > DRAIN_CAP {
                    break;
                }
            }
        }
    };
    let _ = tokio::time::timeout(DRAIN_DEADLINE, discard).await;
}

/// One request to a route, as every route reads it: parsed once.
#[derive(Debug)]
pub(crate) struct Incoming {
    pub(crate) path: String,
    query: Option<String>,
    /// The authority the request was sent to: the URI's (HTTP/2 `:authority`, absolute-form
    /// HTTP/1) or else the `Host` header.
    pub(crate) authority: Option<String>,
    /// The scheme the request names itself (HTTP/2 `:scheme`, absolute-form HTTP/1); `None`
    /// for HTTP/1 origin-form, where the engine's configured scheme stands.
    pub(crate) scheme: Option<String>,
    pub(crate) headers: HeaderMap,
    pub(crate) cookies: Jar,
    pub(crate) body: Bytes,
    pub(crate) peer: Option<IpAddr>,
}

impl Incoming {
    /// The view of a request whose body was read by [`read_body`].
    pub(crate) fn new(request: Request<Bytes>) -> Self {
        let (parts, body) = request.into_parts();
        Self {
            cookies: Jar::from_headers(&parts.headers),
            authority: parts
                .uri
                .authority()
                .map(|a| a.as_str().to_owned())
                .or_else(|| {
                    parts
                        .headers
                        .get(http::header::HOST)
                        .and_then(|h| h.to_str().ok())
                        .map(str::to_owned)
                }),
            scheme: parts.uri.scheme_str().map(str::to_ascii_lowercase),
            path: parts.uri.path().to_owned(),
            query: parts.uri.query().map(str::to_owned),
            peer: parts.extensions.get::<PeerAddr>().map(|p| p.0),
            headers: parts.headers,
            body,
        }
    }

    /// The first value of header `name`, when it is text.
    pub(crate) fn header(&self, name: impl http::header::AsHeaderName) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// Whether header `name` is present at all (text or not).
    pub(crate) fn has_header(&self, name: impl http::header::AsHeaderName) -> bool {
        self.headers.contains_key(name)
    }

    /// The value of query parameter `name`, percent-decoded.
    pub(crate) fn query_param(&self, name: &str) -> Option<String> {
        let query = self.query.as_deref()?;
        url::form_urlencoded::parse(query.as_bytes())
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.into_owned())
    }
}

/// A response with a status and no body (`Cache-Control: no-store`).
pub(crate) fn empty(status: StatusCode) -> Response<Bytes> {
    let mut response = Response::new(Bytes::new());
    *response.status_mut() = status;
    response
        .headers_mut()
        .insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

/// A JSON response (`Cache-Control: no-store`, `nosniff`).
pub(crate) fn json<T: Serialize + ?Sized>(status: StatusCode, value: &T) -> Response<Bytes> {
    let body = match serde_json::to_vec(value) {
        Ok(body) => body,
        Err(error) => {
            tracing::error!(target: "glide::endpoint", %error, "could not encode an answer");
            return error_response(&Error::Internal("answer encoding failed".into()));
        }
    };
    let mut response = Response::new(Bytes::from(body));
    *response.status_mut() = status;
    let headers = response.headers_mut();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    response
}

/// A 200 response of JSON already encoded (`Cache-Control: no-store`, `nosniff`).
pub(crate) fn json_bytes(body: Bytes) -> Response<Bytes> {
    let mut response = Response::new(body);
    let headers = response.headers_mut();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    response
}

/// The error body of every route: `code` (`UPPER_SNAKE`, Glide's code where Glide has one),
/// `message` (opaque for 5xx) and `status`; a wrong code adds `attempts_left`; a risk-policy
/// denial (403 `RISK_POLICY_DENIED`) adds the signals of the refused verification
/// (`phone_number`, `verified`, `sim_swap`, `device_swap`).
///
/// The signals are written out field by field (rather than a flattened `DeniedSignals`) so that
/// the OpenAPI schema states each as an optional property.
#[derive(Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub(crate) struct ErrorBody<'a> {
    code: &'a str,
    message: String,
    status: u16,
    #[serde(skip_serializing_if = "Option::is_none")]
    attempts_left: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    phone_number: Option<&'a crate::PhoneNumber>,
    #[serde(skip_serializing_if = "Option::is_none")]
    verified: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    sim_swap: Option<&'a crate::SwapInfo>,
    #[serde(skip_serializing_if = "Option::is_none")]
    device_swap: Option<&'a crate::SwapInfo>,
}

/// The one function that renders every error: `{"code", "message", "status"}` (plus what the
/// error carries for the browser: `attempts_left`, the signals of a risk denial), with
/// `Retry-After` when the error has one. 5xx messages are opaque; the error goes to `tracing`.
pub fn error_response(error: &Error) -> Response<Bytes> {
    let status = error.http_status();
    if status >= 500 {
        tracing::error!(target: "glide::endpoint", error = %crate::error::LogError(error), "request failed");
    } else {
        tracing::debug!(target: "glide::endpoint", error = %crate::error::LogError(error), "request refused");
    }
    let (attempts_left, signals) = match error {
        Error::Request(RequestError::InvalidCode { attempts_left }) => (Some(*attempts_left), None),
        Error::Request(RequestError::RiskPolicyDenied(denial)) => (None, denial.signals.as_deref()),
        _ => (None, None),
    };
    let body = ErrorBody {
        code: error.code(),
        message: error.public_message(),
        status,
        attempts_left,
        phone_number: signals.map(|s| &s.phone_number),
        verified: signals.and_then(|s| s.verified),
        sim_swap: signals.and_then(|s| s.sim_swap.as_ref()),
        device_swap: signals.and_then(|s| s.device_swap.as_ref()),
    };
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let mut response = json(status, &body);
    if let Some(retry_after) = error.retry_after() {
        let secs = retry_after.as_secs() + u64::from(retry_after.subsec_nanos() > 0);
        response
            .headers_mut()
            .insert(RETRY_AFTER, HeaderValue::from(secs.max(1)));
    }
    response
}

/// Adds headers and cookies to a response.
pub(crate) trait ResponseExt: Sized {
    /// Adds a `Set-Cookie`.
    fn with_cookie(self, cookie: cookie::Cookie<'_>) -> Self;
    /// Sets a header (a value that cannot be a header is dropped and logged).
    fn with_header(self, name: HeaderName, value: &str) -> Self;
}

impl ResponseExt for Response<Bytes> {
    fn with_cookie(mut self, cookie: cookie::Cookie<'_>) -> Self {
        match HeaderValue::try_from(cookie.to_string()) {
            Ok(value) => {
                self.headers_mut().append(SET_COOKIE, value);
            }
            Err(_) => {
                tracing::error!(target: "glide::endpoint", "a Set-Cookie value was not a header value")
            }
        }
        self
    }

    fn with_header(mut self, name: HeaderName, value: &str) -> Self {
        match HeaderValue::from_str(value) {
            Ok(value) => {
                self.headers_mut().insert(name, value);
            }
            Err(_) => {
                tracing::error!(target: "glide::endpoint", header = %name, "an invalid header value was dropped")
            }
        }
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http_body_util::Full;

    fn headers(len: Option<usize>) -> HeaderMap {
        let mut h = HeaderMap::new();
        if let Some(len) = len {
            h.insert(CONTENT_LENGTH, HeaderValue::from(len));
        }
        h
    }

    #[tokio::test]
    async fn bodies_over_the_limit_get_a_413_that_closes() {
        let body = Full::new(Bytes::from(vec![b'a'; 20]));
        let refused = read_body(&headers(Some(20)), body, 10).await.unwrap_err();
        assert_eq!(refused.status(), StatusCode::PAYLOAD_TOO_LARGE);
        assert_eq!(refused.headers()[CONNECTION], "close");
        let v: serde_json::Value = serde_json::from_slice(refused.body()).unwrap();
        assert_eq!(v["code"], "PAYLOAD_TOO_LARGE");
        assert_eq!(v["status"], 413);
        // No Content-Length: cut off while streaming.
        let body = Full::new(Bytes::from(vec![b'a'; 20]));
        let refused = read_body(&headers(None), body, 10).await.unwrap_err();
        assert_eq!(refused.status(), StatusCode::PAYLOAD_TOO_LARGE);
        let body = Full::new(Bytes::from_static(b"0123456789"));
        assert_eq!(
            &read_body(&headers(Some(10)), body, 10).await.unwrap()[..],
            b"0123456789"
        );
        let body = Full::new(Bytes::from_static(b"01234"));
        assert_eq!(
            &read_body(&headers(Some(5)), body, 10).await.unwrap()[..],
            b"01234",
            "a declared length under the limit"
        );
    }

    /// A body of `chunks` chunks of `size` bytes that counts how many were read from it.
    fn counted(
        chunks: usize,
        size: usize,
    ) -> (
        impl Body<Data = Bytes, Error = std::convert::Infallible>,
        std::sync::Arc<std::sync::atomic::AtomicUsize>,
    ) {
        let read = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let seen = std::sync::Arc::clone(&read);
        let stream = futures_util::stream::iter((0..chunks).map(move |_| {
            seen.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            Ok(http_body::Frame::data(Bytes::from(vec![b'a'; size])))
        }));
        (http_body_util::StreamBody::new(stream), read)
    }

    #[tokio::test]
    async fn a_refused_body_is_drained_up_to_four_mebibytes() {
        use std::sync::atomic::Ordering::SeqCst;
        const MIB: usize = 1024 * 1024;
        // Refused on its declared length: what the client sends is read and dropped, so that
        // it receives the 413 instead of a reset.
        let (body, read) = counted(3, 1024);
        assert!(read_body(&headers(Some(3 * 1024)), body, 10).await.is_err());
        assert_eq!(read.load(SeqCst), 3, "drained whole");
        // Refused while streaming: the rest is drained too.
        let (body, read) = counted(5, 1024);
        assert!(read_body(&headers(None), body, 10).await.is_err());
        assert_eq!(read.load(SeqCst), 5, "drained whole");
        // Draining stops once more than 4 MiB went by: the fifth mebibyte is the last read.
        let (body, read) = counted(8, MIB);
        assert!(read_body(&headers(Some(8 * MIB)), body, 10).await.is_err());
        assert_eq!(read.load(SeqCst), 5, "drain cap");
    }

    #[test]
    fn errors_render_with_their_extras() {
        let r = error_response(&Error::Request(RequestError::InvalidCode {
            attempts_left: 3,
        }));
        assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
        let v: serde_json::Value = serde_json::from_slice(r.body()).unwrap();
        assert_eq!(v["code"], "INVALID_CODE");
        assert_eq!(v["attempts_left"], 3);
        let r = error_response(&Error::RateLimited {
            retry_after: Duration::from_millis(1500),
        });
        assert_eq!(r.headers()[RETRY_AFTER], "2");
        let r = error_response(&Error::Internal("db at 10.0.0.3".into()));
        assert!(!String::from_utf8_lossy(r.body()).contains("10.0.0.3"));
    }
}
