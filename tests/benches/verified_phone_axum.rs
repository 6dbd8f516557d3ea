//! Per-request cost of a protected route on axum, in process (`tower::ServiceExt::oneshot`, no
//! sockets): a bare handler, `GlideLayer` + `VerifiedPhone` with a valid session (memory store;
//! Redis store with `RedisEvents`, as several instances run), and tower-sessions reading one
//! value, with its `MemoryStore` and with its maintained Redis store
//! (`tower-sessions-redis-store`, fred).
//!
//! Every variant answers the same small JSON (`{"phone_number":"+15555550100"}`) to the same
//! request shape (a `GET /me` with one session cookie).
//!
//! `cargo bench -p glide-tests --bench verified_phone_axum`

use std::sync::Arc;

use axum::body::Body;
use axum::http::{header, Request, StatusCode};
use axum::routing::get;
use axum::{Json, Router};
use criterion::{criterion_group, criterion_main, Criterion};
use glide_axum::{GlideLayer, VerifiedPhone};
use glide_core::endpoint::GlideAuth;
use glide_core::events::FlowEvents;
use glide_core::store::Store;
use glide_tests::redis_server::RedisServer;
use serde::Serialize;
use tower::ServiceExt;

mod common;

/// The body every variant answers.
#[derive(Serialize)]
struct Me {
    phone_number: String,
}

async fn bare() -> Json<Me> {
    Json(Me {
        phone_number: common::PHONE.to_owned(),
    })
}

async fn glide_me(phone: VerifiedPhone) -> Json<Me> {
    Json(Me {
        phone_number: phone.phone_number.as_str().to_owned(),
    })
}

async fn layer_only() -> Json<Me> {
    bare().await
}

async fn sessions_me(session: tower_sessions::Session) -> Result<Json<Me>, StatusCode> {
    let phone = session
        .get::<String>("phone_number")
        .await
        .map_err(|_| StatusCode::INTERNAL_SERVER_ERROR)?
        .ok_or(StatusCode::UNAUTHORIZED)?;
    Ok(Json(Me {
        phone_number: phone,
    }))
}

async fn sessions_login(session: tower_sessions::Session) -> StatusCode {
    match session.insert("phone_number", common::PHONE).await {
        Ok(()) => StatusCode::NO_CONTENT,
        Err(_) => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

fn get_me(cookie: &str) -> Request<Body> {
    Request::get("/me")
        .header(header::HOST, "app.test")
        .header(header::COOKIE, cookie)
        .body(Body::empty())
        .expect("a request")
}

/// One request through `app`; panics unless it answers 200 (checked once before timing).
async fn one(app: &Router, cookie: &str) -> StatusCode {
    let response = app
        .clone()
        .oneshot(get_me(cookie))
        .await
        .expect("infallible");
    response.status()
}

/// The glide app with a verified session made by one real TS43 flow; returns the app and the
/// `Cookie` header.
async fn glide_app(
    sandbox: &glide_sandbox::Sandbox,
    backend: Option<(Arc<dyn Store>, Arc<dyn FlowEvents>)>,
) -> (Router, String, GlideAuth) {
    let (store, events) = backend.unzip();
    let auth: GlideAuth = common::engine_with_events(&sandbox.base_url(), store, events);
    let cookie = common::engine_flow(
        &auth,
        &sandbox.control(),
        common::PHONE,
        [127, 0, 0, 1].into(),
    )
    .await;
    let app = Router::new()
        .route("/me", get(glide_me))
        .layer(GlideLayer::new(auth.clone()));
    (app, cookie, auth)
}

/// The tower-sessions app on `store` with a session holding `phone_number`; returns the app and
/// the `Cookie` header.
async fn tower_sessions_app(store: impl tower_sessions::SessionStore + Clone) -> (Router, String) {
    let layer = tower_sessions::SessionManagerLayer::new(store).with_secure(false);
    let app = Router::new()
        .route("/me", get(sessions_me))
        .route("/login", get(sessions_login))
        .layer(layer);
    let login = app
        .clone()
        .oneshot(
            Request::get("/login")
                .body(Body::empty())
                .expect("a request"),
        )
        .await
        .expect("infallible");
    assert_eq!(login.status(), StatusCode::NO_CONTENT);
    let cookie = login
        .headers()
        .get(header::SET_COOKIE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .expect("a session cookie")
        .to_owned();
    (app, cookie)
}

/// The session id in the glide memory variant's cookie.
fn glide_cookie_value(variants: &[(&str, Router, String)]) -> String {
    variants
        .iter()
        .find(|(name, _, _)| *name == "glide_verified_phone_memory")
        .and_then(|(_, _, cookie)| cookie.split_once('='))
        .map(|(_, id)| id.to_owned())
        .expect("the memory variant's cookie")
}

fn bench(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime");
    let sandbox = rt.block_on(common::sandbox());

    let mut variants: Vec<(&str, Router, String)> = Vec::new();
    let bare_app = Router::new().route("/me", get(bare));
    variants.push(("bare_handler", bare_app, "glide_session=unused".to_owned()));

    let (glide_memory, glide_cookie, glide_auth) = rt.block_on(glide_app(&sandbox, None));
    let layer_only_app = Router::new()
        .route("/me", get(layer_only))
        .layer(GlideLayer::new(common::engine(&sandbox.base_url(), None)));
    variants.push((
        "glide_layer_no_extractor",
        layer_only_app,
        glide_cookie.clone(),
    ));
    variants.push(("glide_verified_phone_memory", glide_memory, glide_cookie));

    // Kept alive until the end of the function: the Redis variant needs it.
    let redis = RedisServer::start();
    match &redis {
        Some(server) => {
            let backend = rt.block_on(common::redis_backend(&server.url()));
            let (app, cookie, _) = rt.block_on(glide_app(&sandbox, Some(backend)));
            variants.push(("glide_verified_phone_redis", app, cookie));
        }
        None => eprintln!("note: redis-server not found; glide_verified_phone_redis skipped"),
    }

    let (sessions, sessions_cookie) =
        rt.block_on(tower_sessions_app(tower_sessions::MemoryStore::default()));
    variants.push(("tower_sessions_memory", sessions, sessions_cookie));
    if let Some(server) = &redis {
        let (sessions, cookie) = rt.block_on(async {
            use tower_sessions_redis_store::fred::prelude::{ClientLike, Config, Pool};
            let config = Config::from_url(&server.url()).expect("a Redis URL");
            let pool = Pool::new(config, None, None, None, 1).expect("a fred pool");
            let _connection = pool.connect();
            pool.wait_for_connect().await.expect("fred connects");
            tower_sessions_app(tower_sessions_redis_store::RedisStore::new(pool)).await
        });
        variants.push(("tower_sessions_redis", sessions, cookie));
    }

    let mut group = c.benchmark_group("axum_protected_route");
    for (name, app, cookie) in &variants {
        assert_eq!(rt.block_on(one(app, cookie)), StatusCode::OK, "{name}");
        group.bench_function(*name, |b| {
            b.to_async(&rt).iter(|| one(app, cookie));
        });
    }
    group.finish();

    // Where the memory-store figure goes: the engine's lookup without any HTTP.
    let mut group = c.benchmark_group("engine_session_lookup_memory");
    let id = glide_cookie_value(&variants);
    let cookie_header = format!("{}={id}", glide_auth.session_cookie_name());
    group.bench_function("auth_verified_phone", |b| {
        b.to_async(&rt).iter(|| async {
            glide_auth
                .request_context([cookie_header.as_bytes()])
                .verified_phone()
                .await
        });
    });
    group.bench_function("sessions_load", |b| {
        b.to_async(&rt).iter(|| glide_auth.sessions().load(&id));
    });
    // The JSON decoding part of it: the session's `VerifiedPhone` from its JSON form.
    let phone = rt
        .block_on(glide_auth.sessions().load(&id))
        .expect("the store answers")
        .expect("the session is live");
    let json = serde_json::to_vec(&phone).expect("VerifiedPhone serialises");
    group.bench_function("decode_verified_phone_json", |b| {
        b.iter(|| serde_json::from_slice::<glide_core::VerifiedPhone>(&json));
    });
    group.finish();
    drop(redis);
}

criterion_group! {
    name = benches;
    config = common::criterion();
    targets = bench
}
criterion_main!(benches);
