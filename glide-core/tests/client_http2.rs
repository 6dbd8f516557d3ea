//! `Http2Client`: Glide's calls as HTTP/2 streams on shared connections, against the real
//! sandbox (h2c) and against small servers that misbehave.
#![cfg(feature = "http2")]
#![allow(clippy::unwrap_used)]

mod client_support;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use glide_core::api::{
    ClientInfo, Glide, GlideSession, Http2Client, HttpClient, PrepareRequest, ProcessOutcome,
    ProcessRequest,
};
use glide_core::{PhoneNumber, UseCase};
use glide_sandbox::{Sandbox, SandboxConfig};

const DESKTOP_UA: &str = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36";

async fn serve(app: axum::Router) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    addr
}

fn get(url: String) -> http::Request<Bytes> {
    http::Request::get(url).body(Bytes::new()).unwrap()
}

/// A desktop verification end to end: the process call waits on the sandbox's long poll as a
/// stream and comes back verified when the phone approves; the token call, the prepare and the
/// wait all went over one connection.
#[tokio::test]
async fn a_desktop_wait_is_a_stream_and_comes_back_verified() {
    let sandbox = Sandbox::start(SandboxConfig::default().with_port(0))
        .await
        .unwrap();
    let control = sandbox.control();
    let client = Http2Client::new().unwrap();
    let glide = Glide::builder("sandbox-client", "sandbox-secret")
        .base_url(sandbox.base_url())
        .http_client(client.clone())
        .build()
        .unwrap();
    let phone = PhoneNumber::parse("+15555550100").unwrap();
    let prepared = glide
        .prepare(&PrepareRequest::verify_phone_number(
            &phone,
            ClientInfo::new(DESKTOP_UA),
        ))
        .await
        .unwrap();
    let key = prepared.session_key().to_owned();
    let session =
        GlideSession::from_json(serde_json::to_value(&prepared.session).unwrap()).unwrap();
    let request = ProcessRequest::new(session, key.clone());
    let waiting = tokio::spawn({
        let glide = glide.clone();
        async move { glide.process(UseCase::VerifyPhoneNumber, &request).await }
    });
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(!waiting.is_finished(), "the call waits for the phone");
    control.desktop_approve(&key).unwrap();
    let outcome = tokio::time::timeout(Duration::from_secs(10), waiting)
        .await
        .expect("woken by the approval")
        .unwrap()
        .unwrap();
    let ProcessOutcome::Done(result) = outcome else {
        panic!("expected a result, got {outcome:?}");
    };
    assert_eq!(result.phone_number.as_str(), "+15555550100");
    assert_eq!(client.connections(), 1);
}

/// 250 calls held by a server at once are all there together on three connections (100
/// streams to a connection, none queued behind the server's stream limit), and all come back.
#[tokio::test]
async fn waiting_calls_share_connections_a_hundred_to_each() {
    let client = Http2Client::new().unwrap();
    let connections = client_support::all_held_at_once(client.clone(), 250).await;
    assert_eq!(client.connections(), 3, "100 streams to a connection");
    assert_eq!(connections, 3, "three TCP connections");
}

/// A body past the cap is refused, whether declared or streamed; a redirect is returned as it
/// is, never followed.
#[tokio::test]
async fn bodies_past_the_cap_are_refused_and_redirects_not_followed() {
    use axum::body::Body;
    use axum::response::Response;

    let app = axum::Router::new()
        .route(
            "/declared",
            axum::routing::get(|| async { vec![b'x'; 2048] }),
        )
        .route(
            "/streamed",
            axum::routing::get(|| async {
                let chunks = futures_util::stream::iter(
                    (0..4).map(|_| Ok::<_, std::io::Error>(Bytes::from(vec![b'y'; 600]))),
                );
                Response::new(Body::from_stream(chunks))
            }),
        )
        .route("/small", axum::routing::get(|| async { "ok" }))
        .route(
            "/moved",
            axum::routing::get(|| async {
                Response::builder()
                    .status(301)
                    .header("location", "/small")
                    .body(Body::empty())
                    .unwrap()
            }),
        );
    let addr = serve(app).await;
    let client = Http2Client::builder()
        .max_response_bytes(1024)
        .build()
        .unwrap();
    for path in ["declared", "streamed"] {
        let error = client
            .execute(get(format!("http://{addr}/{path}")))
            .await
            .unwrap_err();
        let too_large = error
            .downcast_ref::<glide_core::api::BodyTooLarge>()
            .unwrap_or_else(|| panic!("{path}: {error}"));
        assert_eq!((too_large.status, too_large.limit), (200, 1024), "{path}");
    }
    let small = client
        .execute(get(format!("http://{addr}/small")))
        .await
        .unwrap();
    assert_eq!(small.body().as_ref(), b"ok");
    let moved = client
        .execute(get(format!("http://{addr}/moved")))
        .await
        .unwrap();
    assert_eq!(moved.status(), 301);
    assert!(moved.body().is_empty());
}

/// A server that does not speak HTTP/2 is an error, not a hang; the next call tries again
/// (no broken connection is kept).
#[tokio::test]
async fn a_server_without_http2_is_an_error() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        loop {
            let (mut socket, _) = listener.accept().await.unwrap();
            tokio::spawn(async move {
                use tokio::io::AsyncWriteExt;
                let _ = socket
                    .write_all(b"HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\n\r\n")
                    .await;
            });
        }
    });
    let client = Http2Client::new().unwrap();
    for _ in 0..2 {
        let started = std::time::Instant::now();
        let error = client.execute(get(format!("http://{addr}/"))).await;
        assert!(error.is_err(), "an HTTP/1 answer is not HTTP/2");
        assert!(started.elapsed() < Http2Client::CONNECT_TIMEOUT + Duration::from_secs(1));
        assert_eq!(client.connections(), 0);
    }
    let https = client
        .execute(get("https://127.0.0.1:1/".to_owned()))
        .await
        .unwrap_err();
    assert!(!https.to_string().is_empty());
}

/// A TLS server for `localhost` with a fresh self-signed certificate, offering `alpn`, that
/// answers every HTTP/2 request with 200 `secure`; and the certificate, to trust it.
async fn tls_server(alpn: &[&[u8]]) -> (SocketAddr, rustls::pki_types::CertificateDer<'static>) {
    let certified = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).unwrap();
    let cert = certified.cert.der().clone();
    let key = rustls::pki_types::PrivateKeyDer::Pkcs8(certified.signing_key.serialize_der().into());
    let mut config = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_no_client_auth()
    .with_single_cert(vec![cert.clone()], key)
    .unwrap();
    config.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        loop {
            let (socket, _) = listener.accept().await.unwrap();
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                let Ok(tls) = acceptor.accept(socket).await else {
                    return;
                };
                let Ok(mut connection) = h2::server::handshake(tls).await else {
                    return;
                };
                while let Some(Ok((_request, mut respond))) = connection.accept().await {
                    let response = http::Response::builder().status(200).body(()).unwrap();
                    let mut body = respond.send_response(response, false).unwrap();
                    body.send_data(Bytes::from_static(b"secure"), true).unwrap();
                }
            });
        }
    });
    (addr, cert)
}

fn trusting(cert: rustls::pki_types::CertificateDer<'static>) -> rustls::ClientConfig {
    let mut roots = rustls::RootCertStore::empty();
    roots.add(cert).unwrap();
    rustls::ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth()
}

/// Over `https://` HTTP/2 is negotiated by ALPN with a certificate the client trusts; an
/// untrusted certificate and a server that offers only HTTP/1.1 are refused.
#[tokio::test]
async fn https_negotiates_http2_and_checks_the_certificate() {
    let (addr, cert) = tls_server(&[b"h2"]).await;
    let url = format!("https://localhost:{}/", addr.port());

    let client = Http2Client::builder()
        .tls_config(trusting(cert.clone()))
        .build()
        .unwrap();
    let response = client.execute(get(url.clone())).await.unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.version(), http::Version::HTTP_2);
    assert_eq!(response.body().as_ref(), b"secure");
    assert_eq!(client.connections(), 1);

    // The default roots do not know a self-signed certificate.
    let untrusting = Http2Client::new().unwrap();
    let error = untrusting.execute(get(url)).await.unwrap_err();
    assert!(
        error.to_string().contains("certificate"),
        "refused for its certificate: {error}"
    );
    assert_eq!(untrusting.connections(), 0);

    // A server that leaves ALPN out (answered by the client's own check), and one that
    // offers only HTTP/1.1 (which refuses the handshake itself).
    for alpn in [&[][..], &[&b"http/1.1"[..]][..]] {
        let (old, cert) = tls_server(alpn).await;
        let client = Http2Client::builder()
            .tls_config(trusting(cert))
            .build()
            .unwrap();
        let error = client
            .execute(get(format!("https://localhost:{}/", old.port())))
            .await
            .unwrap_err()
            .to_string();
        assert!(
            error.contains("does not offer HTTP/2") || error.contains("NoApplicationProtocol"),
            "{alpn:?}: {error}"
        );
        assert_eq!(client.connections(), 0);
    }
}
