//! `cargo run --bin axum-demo`: the glide-rs demo on axum.
//!
//! Opens on `http://127.0.0.1:3000` (`PORT`). Without `GLIDE_CLIENT_ID`/`GLIDE_CLIENT_SECRET` an
//! embedded Glide sandbox stands in for Glide (`GLIDE_SANDBOX_PORT`, default 8910);
//! `GLIDE_REDIS_URL` keeps flows and sessions in Redis.

use std::sync::Arc;

use axum::extract::State;
use axum::http::{HeaderName, HeaderValue};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use glide_axum::{GlideLayer, RequireVerifiedLayer, VerifiedPhone};
use glide_examples::{build_auth, DemoConfig};

/// What the page handler needs.
struct Page {
    html: String,
    headers: Vec<(&'static str, String)>,
}

async fn index(State(page): State<Arc<Page>>) -> Response {
    let mut response = page.html.clone().into_response();
    for (name, value) in &page.headers {
        if let Ok(value) = HeaderValue::from_str(value) {
            response
                .headers_mut()
                .insert(HeaderName::from_static(name), value);
        }
    }
    response
}

/// The verified phone as JSON; 401 `NOT_VERIFIED` without a verified session.
async fn me(phone: VerifiedPhone) -> impl IntoResponse {
    // A verified number is personal: never cached, by the browser or anything between.
    (
        [(axum::http::header::CACHE_CONTROL, "no-store")],
        Json(phone),
    )
}

/// A protected action behind a step-up guard (the route's `RequireVerifiedLayer`: a fresh
/// carrier verification, and the same-origin check of a state-changing request): 200
/// `{ok:true}`; the guard answers 401 `STEP_UP_REQUIRED` / `NOT_VERIFIED` or 403
/// `ORIGIN_NOT_ALLOWED` before this runs.
async fn transfer(_phone: VerifiedPhone) -> Response {
    (
        [(axum::http::header::CACHE_CONTROL, "no-store")],
        Json(serde_json::json!({ "ok": true })),
    )
        .into_response()
}

async fn healthz() -> &'static str {
    "ok"
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    glide_examples::init_tracing();
    let mut config = DemoConfig::from_env()?;
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", config.port))
        .await
        .map_err(|e| format!("cannot listen on 127.0.0.1:{}: {e}", config.port))?;
    config.port = listener.local_addr()?.port();

    let (auth, sandbox) = build_auth(&config).await?;
    let sandbox_base = sandbox.as_ref().map(|s| s.base_url());
    let page = Arc::new(Page {
        html: glide_examples::index_html(sandbox_base.as_deref()),
        headers: glide_examples::index_headers(sandbox_base.as_deref()),
    });

    let guard = glide_examples::transfer_guard(&config);
    let metrics = glide_examples::install_metrics()?;
    let app = Router::new()
        .route("/", get(index))
        .route("/me", get(me))
        .route(
            "/metrics",
            get(move || {
                let text = metrics.render();
                async move {
                    (
                        [(
                            axum::http::header::CONTENT_TYPE,
                            "text/plain; version=0.0.4; charset=utf-8",
                        )],
                        text,
                    )
                }
            }),
        )
        .route(
            "/transfer",
            axum::routing::post(transfer).route_layer(RequireVerifiedLayer::new(guard)),
        )
        .route("/healthz", get(healthz))
        .with_state(page)
        .layer(GlideLayer::new(auth));

    println!("{}", glide_examples::banner(config.port, sandbox.as_ref()));
    glide_examples::serve::serve_with_deadlines(listener, app, async {
        let _ = tokio::signal::ctrl_c().await;
    })
    .await?;
    drop(sandbox);
    Ok(())
}
