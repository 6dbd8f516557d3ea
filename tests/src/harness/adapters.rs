//! Serving an app under test: the [`Adapter`] trait, its axum and actix-web implementations, and
//! the [`RunningApp`] handle that shuts the server down when dropped.

use std::net::SocketAddr;
use std::sync::Mutex;

use async_trait::async_trait;
use glide_core::endpoint::GlideAuth;
use serde_json::{json, Value};

/// A running app under test; dropping it shuts the server down.
pub struct RunningApp {
    /// `http://127.0.0.1:PORT`, no trailing slash.
    pub base_url: String,
    stop: Mutex<Option<Box<dyn FnOnce() + Send>>>,
}

impl RunningApp {
    /// An app at `base_url` that `stop` shuts down.
    pub fn new(base_url: String, stop: impl FnOnce() + Send + 'static) -> Self {
        Self {
            base_url,
            stop: Mutex::new(Some(Box::new(stop))),
        }
    }
}

impl std::fmt::Debug for RunningApp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RunningApp")
            .field("base_url", &self.base_url)
            .finish_non_exhaustive()
    }
}

impl Drop for RunningApp {
    fn drop(&mut self) {
        let stop = self
            .stop
            .get_mut()
            .unwrap_or_else(|e| e.into_inner())
            .take();
        if let Some(stop) = stop {
            stop();
        }
    }
}

/// One web framework adapter under test.
#[async_trait]
pub trait Adapter: Send + Sync {
    /// A short name for messages (`axum`, `actix`).
    fn name(&self) -> &'static str;

    /// Serves the app under test (the middleware around `auth` plus `/me`, `/me/optional` and
    /// `/public`) on `listener`, already bound to 127.0.0.1 (bound before the engine is built,
    /// so that the sandbox's completion redirect can point at the app).
    async fn serve(&self, auth: GlideAuth, listener: std::net::TcpListener) -> RunningApp;
}

/// axum with `glide_axum::GlideLayer`.
#[derive(Debug, Clone, Copy, Default)]
pub struct AxumAdapter;

#[async_trait]
impl Adapter for AxumAdapter {
    fn name(&self) -> &'static str {
        "axum"
    }

    async fn serve(&self, auth: GlideAuth, listener: std::net::TcpListener) -> RunningApp {
        use axum::routing::get;
        use axum::Json;
        use glide_axum::{GlideLayer, VerifiedPhone};

        async fn me(phone: VerifiedPhone) -> Json<VerifiedPhone> {
            Json(phone)
        }
        async fn optional(phone: Option<VerifiedPhone>) -> Json<Value> {
            Json(json!({ "verified": phone.is_some() }))
        }
        async fn public() -> &'static str {
            "public"
        }
        async fn guarded_extractor(phone: glide_axum::VerifiedWith<GuardedRoute>) -> String {
            phone.phone_number.as_str().to_owned()
        }

        let app = axum::Router::new()
            .route("/me", get(me))
            .route("/me/optional", get(optional))
            .route("/public", get(public))
            // The requirement of `/guarded` as an extractor: the handler says what it needs.
            .route(
                "/guarded-extractor",
                get(guarded_extractor).post(guarded_extractor),
            )
            .merge(
                axum::Router::new()
                    .route(
                        "/guarded",
                        get(|| async { "guarded" }).post(|| async { "guarded" }),
                    )
                    .route_layer(glide_axum::RequireVerifiedLayer::new(guarded_route())),
            )
            .layer(GlideLayer::new(auth));
        serve_axum(app, listener)
    }
}

/// Serves an axum app on `listener` (with `ConnectInfo`) until the returned app is dropped.
pub fn serve_axum(app: axum::Router, listener: std::net::TcpListener) -> RunningApp {
    let addr = listener.local_addr().expect("listener address");
    listener
        .set_nonblocking(true)
        .expect("non-blocking listener");
    let listener = tokio::net::TcpListener::from_std(listener).expect("tokio listener");
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(async move {
        let served = axum::serve(
            listener,
            app.into_make_service_with_connect_info::<SocketAddr>(),
        )
        .with_graceful_shutdown(async move {
            let _ = stop_rx.await;
        })
        .await;
        if let Err(e) = served {
            eprintln!("axum app stopped with an error: {e}");
        }
    });
    RunningApp::new(format!("http://{addr}"), move || {
        let _ = stop_tx.send(());
    })
}

/// actix-web with `glide_actix::GlideMiddleware`, on its own thread and actix `System`.
#[derive(Debug, Clone, Copy, Default)]
pub struct ActixAdapter;

#[async_trait]
impl Adapter for ActixAdapter {
    fn name(&self) -> &'static str {
        "actix"
    }

    async fn serve(&self, auth: GlideAuth, listener: std::net::TcpListener) -> RunningApp {
        use actix_web::{web, App, HttpResponse, HttpServer};
        use glide_actix::{GlideMiddleware, VerifiedPhone};

        async fn me(phone: VerifiedPhone) -> HttpResponse {
            HttpResponse::Ok().json(&phone.0)
        }
        async fn optional(phone: Option<VerifiedPhone>) -> HttpResponse {
            HttpResponse::Ok().json(json!({ "verified": phone.is_some() }))
        }
        async fn public() -> HttpResponse {
            HttpResponse::Ok().content_type("text/plain").body("public")
        }
        async fn guarded_extractor(phone: glide_actix::VerifiedWith<GuardedRoute>) -> String {
            phone.phone_number.as_str().to_owned()
        }

        let addr = listener.local_addr().expect("listener address");
        let (handle_tx, handle_rx) = std::sync::mpsc::channel();
        std::thread::Builder::new()
            .name("actix-app".into())
            .spawn(move || {
                let system = actix_web::rt::System::new();
                let served = system.block_on(async move {
                    let server = HttpServer::new(move || {
                        App::new()
                            .wrap(GlideMiddleware::new(auth.clone()))
                            .route("/me", web::get().to(me))
                            .route("/me/optional", web::get().to(optional))
                            .route("/public", web::get().to(public))
                            .route("/guarded-extractor", web::get().to(guarded_extractor))
                            .route("/guarded-extractor", web::post().to(guarded_extractor))
                            .service(
                                web::resource("/guarded")
                                    .wrap(glide_actix::RequireVerifiedWrap::new(guarded_route()))
                                    .route(
                                        web::get()
                                            .to(|| async { HttpResponse::Ok().body("guarded") }),
                                    )
                                    .route(
                                        web::post()
                                            .to(|| async { HttpResponse::Ok().body("guarded") }),
                                    ),
                            )
                    })
                    .workers(1)
                    .disable_signals()
                    .shutdown_timeout(1)
                    .listen(listener)?
                    .run();
                    let _ = handle_tx.send(server.handle());
                    server.await
                });
                if let Err(e) = served {
                    eprintln!("actix app stopped with an error: {e}");
                }
            })
            .expect("spawn the actix thread");
        let handle = tokio::task::spawn_blocking(move || handle_rx.recv())
            .await
            .expect("join")
            .expect("the actix server did not start");
        RunningApp::new(format!("http://{addr}"), move || {
            // Sends the stop command at once; the returned future only reports completion.
            drop(handle.stop(false));
        })
    }
}

/// [`guarded_route`] as a type, for the extractor form (`/guarded-extractor`).
pub struct GuardedRoute;

impl glide_core::endpoint::Requirement for GuardedRoute {
    fn requirement() -> glide_core::endpoint::RequireVerified {
        guarded_route()
    }
}

/// What both adapters' `/guarded` route asks: a TS43 verification at most 5 minutes old.
pub fn guarded_route() -> glide_core::endpoint::RequireVerified {
    glide_core::endpoint::RequireVerified::new()
        .max_age(std::time::Duration::from_secs(300))
        .strategies([glide_core::Strategy::Ts43])
}
