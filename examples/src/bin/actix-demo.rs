//! `cargo run --bin actix-demo`: the glide-rs demo on actix-web.
//!
//! Opens on `http://127.0.0.1:3000` (`PORT`). Without `GLIDE_CLIENT_ID`/`GLIDE_CLIENT_SECRET` an
//! embedded Glide sandbox stands in for Glide (`GLIDE_SANDBOX_PORT`, default 8910), on its own
//! runtime thread; `GLIDE_REDIS_URL` keeps flows and sessions in Redis. Same page, routes and
//! behaviour as `axum-demo`.

use actix_web::{web, App, HttpResponse, HttpServer};
use glide_actix::{GlideMiddleware, RequireVerifiedWrap, VerifiedPhone};
use glide_examples::{build_auth_on, DemoConfig, SandboxRuntime};

/// What the page handler needs.
struct Page {
    html: String,
    headers: Vec<(&'static str, String)>,
}

async fn index(page: web::Data<Page>) -> HttpResponse {
    let mut response = HttpResponse::Ok();
    for (name, value) in &page.headers {
        response.insert_header((*name, value.as_str()));
    }
    response.body(page.html.clone())
}

/// The verified phone as JSON; 401 `NOT_VERIFIED` without a verified session.
async fn me(phone: VerifiedPhone) -> HttpResponse {
    // A verified number is personal: never cached, by the browser or anything between.
    HttpResponse::Ok()
        .insert_header(("cache-control", "no-store"))
        .json(&phone)
}

/// A protected action behind a step-up guard (the resource's `RequireVerifiedWrap`: a fresh
/// carrier verification, and the same-origin check of a state-changing request): 200
/// `{ok:true}`; the guard answers 401 `STEP_UP_REQUIRED` / `NOT_VERIFIED` or 403
/// `ORIGIN_NOT_ALLOWED` before this runs.
async fn transfer(_phone: VerifiedPhone) -> HttpResponse {
    HttpResponse::Ok()
        .insert_header(("cache-control", "no-store"))
        .json(serde_json::json!({ "ok": true }))
}

/// `GET /metrics`: Prometheus text.
async fn metrics_text(
    handle: web::Data<metrics_exporter_prometheus::PrometheusHandle>,
) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4; charset=utf-8")
        .body(handle.render())
}

async fn healthz() -> &'static str {
    "ok"
}

#[actix_web::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    glide_examples::init_tracing();
    let mut config = DemoConfig::from_env()?;
    let listener = std::net::TcpListener::bind(("127.0.0.1", config.port))
        .map_err(|e| format!("cannot listen on 127.0.0.1:{}: {e}", config.port))?;
    config.port = listener.local_addr()?.port();

    // actix-web runs its own single-threaded runtimes: the sandbox gets a thread of its own.
    let (auth, sandbox) = build_auth_on(&config, SandboxRuntime::OwnThread).await?;
    let sandbox_base = sandbox.as_ref().map(|s| s.base_url());
    let page = web::Data::new(Page {
        html: glide_examples::index_html(sandbox_base.as_deref()),
        headers: glide_examples::index_headers(sandbox_base.as_deref()),
    });

    let guard = glide_examples::transfer_guard(&config);
    let metrics = web::Data::new(glide_examples::install_metrics()?);
    let server = HttpServer::new(move || {
        App::new()
            .app_data(page.clone())
            .app_data(metrics.clone())
            .route("/metrics", web::get().to(metrics_text))
            .service(
                web::resource("/transfer")
                    .wrap(RequireVerifiedWrap::new(guard.clone()))
                    .route(web::post().to(transfer)),
            )
            .wrap(GlideMiddleware::new(auth.clone()))
            .route("/", web::get().to(index))
            .route("/me", web::get().to(me))
            .route("/healthz", web::get().to(healthz))
    })
    // Deadlines on slow clients: headers within 10 s, idle keep-alive 30 s (bodies are bounded
    // in time by the middleware's own reader).
    .client_request_timeout(std::time::Duration::from_secs(10))
    .keep_alive(std::time::Duration::from_secs(30))
    .listen(listener)?
    .run();

    println!("{}", glide_examples::banner(config.port, sandbox.as_ref()));
    server.await?;
    drop(sandbox);
    Ok(())
}
