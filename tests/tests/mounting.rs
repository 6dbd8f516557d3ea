//! Every line of the engine's route table answers through every mounting style of both adapters
//! — axum's `GlideLayer` and `glide_router`, actix-web's `GlideMiddleware` and `GlideRoutes` —
//! with the engine's own answers; and a body over the limit gets the same 413, received by the
//! client, on both adapters, whether its length is declared or it streams past the limit.

use std::time::Duration;

use glide_core::endpoint::{ChainStep, GlideAuth, VerificationChain};
use glide_sandbox::{Sandbox, SandboxConfig};
use glide_tests::harness::{sandbox_client, serve_axum, RunningApp};
use serde_json::Value;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

/// How an app mounts the engine.
#[derive(Debug, Clone, Copy)]
enum Mounting {
    AxumLayer,
    AxumRouter,
    ActixMiddleware,
    ActixRoutes,
}

const ALL: [Mounting; 4] = [
    Mounting::AxumLayer,
    Mounting::AxumRouter,
    Mounting::ActixMiddleware,
    Mounting::ActixRoutes,
];

async fn engine(sandbox: &Sandbox) -> GlideAuth {
    GlideAuth::builder(sandbox_client(sandbox))
        .insecure_dev_cookies(true)
        .number_verify_callback_url("http://127.0.0.1:9/api/magical-auth/number-verify/callback")
        .verification_chain(
            VerificationChain::new().step(ChainStep::MagicalAuth, Duration::from_secs(60)),
        )
        .openapi(true)
        .build()
        .expect("engine")
}

/// Serves an actix-web app factory on its own thread and `System`.
macro_rules! actix_serve {
    ($listener:expr, $addr:expr, $factory:expr) => {{
        let (listener, addr, factory) = ($listener, $addr, $factory);
        let (handle_tx, handle_rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let system = actix_web::rt::System::new();
            let _ = system.block_on(async move {
                let server = actix_web::HttpServer::new(factory)
                    .workers(1)
                    .disable_signals()
                    .shutdown_timeout(1)
                    .listen(listener)?
                    .run();
                let _ = handle_tx.send(server.handle());
                server.await
            });
        });
        let handle = tokio::task::spawn_blocking(move || handle_rx.recv())
            .await
            .expect("join")
            .expect("the actix server started");
        RunningApp::new(format!("http://{addr}"), move || {
            drop(handle.stop(false));
        })
    }};
}

async fn serve(mounting: Mounting, auth: GlideAuth) -> RunningApp {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().expect("addr");
    match mounting {
        Mounting::AxumLayer | Mounting::AxumRouter => {
            use axum::routing::get;
            let app = axum::Router::new().route("/public", get(|| async { "public" }));
            let app = match mounting {
                Mounting::AxumLayer => app.layer(glide_axum::GlideLayer::new(auth)),
                _ => app.merge(glide_axum::glide_router(auth)),
            };
            serve_axum(app, listener)
        }
        Mounting::ActixMiddleware => actix_serve!(listener, addr, move || {
            actix_web::App::new()
                .wrap(glide_actix::GlideMiddleware::new(auth.clone()))
                .route("/public", public())
                .default_service(actix_web::web::to(actix_web::HttpResponse::NotFound))
        }),
        Mounting::ActixRoutes => actix_serve!(listener, addr, move || {
            actix_web::App::new()
                .app_data(auth.clone())
                .service(glide_actix::GlideRoutes::new(auth.clone()))
                .route("/public", public())
                .default_service(actix_web::web::to(actix_web::HttpResponse::NotFound))
        }),
    }
}

fn public() -> actix_web::Route {
    actix_web::web::get().to(|| async { actix_web::HttpResponse::Ok().body("public") })
}

fn wrong_method(method: &http::Method) -> reqwest::Method {
    if method == http::Method::GET {
        reqwest::Method::PUT
    } else {
        reqwest::Method::GET
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_route_of_the_table_answers_through_every_mounting() {
    let sandbox = Sandbox::start(SandboxConfig::default().with_port(0))
        .await
        .expect("sandbox");
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client");
    for mounting in ALL {
        let auth = engine(&sandbox).await;
        let table = auth.route_table().to_vec();
        assert!(
            table.len() >= 21,
            "{mounting:?}: the whole table is mounted"
        );
        let app = serve(mounting, auth).await;
        for route in &table {
            let path = if route.takes_key {
                format!("{}somekey", route.path)
            } else {
                route.path.clone()
            };
            let url = format!("{}{path}", app.base_url);
            // A wrong method gets the engine's 405, naming the one it takes: the engine, not
            // the framework's router, answered.
            let reply = http
                .request(wrong_method(&route.method), &url)
                .send()
                .await
                .expect("an answer");
            assert_eq!(reply.status(), 405, "{mounting:?} {:?} {path}", route.route);
            assert_eq!(
                reply.headers()["allow"].to_str().expect("ascii"),
                route.method.as_str(),
                "{mounting:?} {path}"
            );
            let body: Value = reply.json().await.expect("the engine's error body");
            assert_eq!(body["code"], "METHOD_NOT_ALLOWED", "{mounting:?} {path}");
            // The right method reaches the route itself, never the app's fallback.
            let reply = http
                .request(
                    reqwest::Method::from_bytes(route.method.as_str().as_bytes()).expect("method"),
                    &url,
                )
                .header("content-type", "application/json")
                .body("{}")
                .send()
                .await
                .expect("an answer");
            let status = reply.status().as_u16();
            let text = reply.text().await.unwrap_or_default();
            // (An engine 404 is an error body naming the flow; the app's 404 has none.)
            assert!(
                matches!(status, 200 | 204 | 302) || text.contains("\"code\""),
                "{mounting:?} {path}: {status} {text}"
            );
        }
        // No CORS is configured: a preflight from a foreign origin is never granted (no
        // `Access-Control-Allow-Origin`, reflected or wildcard), on any route.
        for route in &table {
            let reply = http
                .request(
                    reqwest::Method::OPTIONS,
                    format!("{}{}", app.base_url, route.path),
                )
                .header("origin", "https://evil.example")
                .header("access-control-request-method", "POST")
                .header("access-control-request-headers", "content-type")
                .send()
                .await
                .expect("an answer");
            assert!(
                reply.headers().get("access-control-allow-origin").is_none()
                    && reply
                        .headers()
                        .get("access-control-allow-credentials")
                        .is_none(),
                "{mounting:?} {}: {:?}",
                route.path,
                reply.headers()
            );
        }
        // The OpenAPI document is served through this mounting, and names exactly its table.
        let reply = http
            .get(format!("{}/api/magical-auth/openapi.json", app.base_url))
            .send()
            .await
            .expect("the document");
        assert_eq!(reply.status(), 200, "{mounting:?}");
        assert_eq!(
            reply.headers()["content-type"].to_str().expect("ascii"),
            "application/json",
            "{mounting:?}"
        );
        let doc: Value = reply.json().await.expect("JSON");
        assert_eq!(doc["openapi"], "3.1.0", "{mounting:?}");
        let documented: std::collections::BTreeSet<(String, String)> = doc["paths"]
            .as_object()
            .expect("paths")
            .iter()
            .flat_map(|(path, item)| {
                item.as_object()
                    .expect("path item")
                    .keys()
                    .map(move |method| (method.to_uppercase(), path.clone()))
            })
            .collect();
        let mounted: std::collections::BTreeSet<(String, String)> = table
            .iter()
            .map(|m| (m.method.as_str().to_owned(), m.template()))
            .collect();
        assert_eq!(documented, mounted, "{mounting:?}");
        // The app's own routes still answer beside the engine's.
        let reply = http
            .get(format!("{}/public", app.base_url))
            .send()
            .await
            .expect("public");
        assert_eq!(reply.status(), 200, "{mounting:?}");
        // The optional routes are mounted only when configured: without a verification chain
        // (nor a Number Verify callback), their paths are the app's.
        let bare = GlideAuth::builder(sandbox_client(&sandbox))
            .insecure_dev_cookies(true)
            .build()
            .expect("engine");
        for path in [
            "/api/magical-auth/verification",
            "/api/magical-auth/verification/start",
            "/api/magical-auth/verification/advance",
            "/api/magical-auth/number-verify/start",
            "/api/magical-auth/openapi.json",
        ] {
            assert!(bare.match_route(path).is_none(), "{path}");
            assert!(auth_has(&table, path), "{path} is in the configured table");
        }
        // A path under the base path that is not in the table is not the engine's.
        let reply = http
            .get(format!("{}/api/magical-auth/not-a-route", app.base_url))
            .send()
            .await
            .expect("answer");
        assert_eq!(reply.status(), 404, "{mounting:?}");
    }
}

/// Sends a raw request and reads the whole answer (the server closes after a refusal).
async fn raw_exchange(base_url: &str, head: &str, body: impl Iterator<Item = Vec<u8>>) -> String {
    let addr = base_url.trim_start_matches("http://");
    let mut stream = tokio::net::TcpStream::connect(addr).await.expect("connect");
    stream.write_all(head.as_bytes()).await.expect("head");
    for chunk in body {
        if stream.write_all(&chunk).await.is_err() {
            break;
        }
    }
    // Read until the whole answer is in (its Content-Length), the server closes, or 10 s pass.
    let mut answer = Vec::new();
    let read = async {
        let mut buf = [0u8; 4096];
        loop {
            match stream.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => answer.extend_from_slice(&buf[..n]),
            }
            if is_complete(&answer) {
                break;
            }
        }
    };
    let _ = tokio::time::timeout(std::time::Duration::from_secs(10), read).await;
    String::from_utf8_lossy(&answer).into_owned()
}

/// Whether `answer` holds a whole response: its head and `Content-Length` bytes of body.
fn is_complete(answer: &[u8]) -> bool {
    let text = String::from_utf8_lossy(answer);
    let Some((head, body)) = text.split_once("\r\n\r\n") else {
        return false;
    };
    head.lines()
        .find_map(|l| {
            let (name, value) = l.split_once(':')?;
            name.eq_ignore_ascii_case("content-length")
                .then(|| value.trim().parse::<usize>().ok())?
        })
        .is_some_and(|len| body.len() >= len)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_oversized_body_gets_the_same_413_on_both_adapters() {
    let sandbox = Sandbox::start(SandboxConfig::default().with_port(0))
        .await
        .expect("sandbox");
    let mut bodies = Vec::new();
    for mounting in [Mounting::AxumLayer, Mounting::ActixMiddleware] {
        let app = serve(mounting, engine(&sandbox).await).await;
        let host = app.base_url.trim_start_matches("http://").to_owned();
        // Declared too large: refused before the body is read, and the answer still arrives.
        let declared = raw_exchange(
            &app.base_url,
            &format!(
                "POST /api/magical-auth/prepare HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n",
                200 * 1024
            ),
            (0..25).map(|_| vec![b'a'; 8 * 1024]),
        )
        .await;
        // Streamed past the limit without a declared length.
        let chunk = format!("{:x}\r\n{}\r\n", 8 * 1024, "a".repeat(8 * 1024)).into_bytes();
        let streamed = raw_exchange(
            &app.base_url,
            &format!(
                "POST /api/magical-auth/prepare HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
            ),
            (0..25).map(|_| chunk.clone()).chain([b"0\r\n\r\n".to_vec()]),
        )
        .await;
        for (what, answer) in [("declared", &declared), ("streamed", &streamed)] {
            assert!(
                answer.starts_with("HTTP/1.1 413"),
                "{mounting:?} {what}: {answer}"
            );
            let body = answer.split("\r\n\r\n").nth(1).unwrap_or_default();
            let json: Value = serde_json::from_str(body.trim())
                .unwrap_or_else(|e| panic!("{mounting:?} {what}: {e}: {body:?}"));
            assert_eq!(json["code"], "PAYLOAD_TOO_LARGE");
            assert_eq!(json["status"], 413);
            bodies.push(json);
        }
    }
    assert!(
        bodies.windows(2).all(|w| w[0] == w[1]),
        "the same body everywhere: {bodies:?}"
    );
}

/// Whether `table` mounts a route at exactly `path`.
fn auth_has(table: &[glide_core::endpoint::MountedRoute], path: &str) -> bool {
    table.iter().any(|r| r.path == path)
}
