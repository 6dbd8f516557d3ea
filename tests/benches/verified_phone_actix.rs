//! Per-request cost of a protected route on actix-web, in process (`test::init_service` +
//! `call_service`, no sockets): a bare handler, `GlideMiddleware` + `VerifiedPhone` with a valid
//! session (memory store; Redis store with `RedisEvents`, as several instances run), and
//! actix-session reading one value, with its `CookieSessionStore`, its `RedisSessionStore`
//! (feature `redis-session`) and a minimal in-memory `SessionStore` (the same lookup as ours).
//!
//! Every variant answers the same small JSON (`{"phone_number":"+15555550100"}`) to the same
//! request shape (a `GET /me` with one session cookie).
//!
//! `cargo bench -p glide-tests --bench verified_phone_actix`

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::Instant;

use actix_session::storage::{
    CookieSessionStore, LoadError, SaveError, SessionKey, SessionStore, UpdateError,
};
use actix_session::{Session, SessionMiddleware};
use actix_web::body::MessageBody;
use actix_web::cookie::Key;
use actix_web::dev::{Service, ServiceResponse};
use actix_web::http::StatusCode;
use actix_web::rt::SystemRunner;
use actix_web::{test, web, App, HttpResponse};
use criterion::measurement::WallTime;
use criterion::{criterion_group, criterion_main, BenchmarkGroup, Criterion};
use glide_actix::{GlideMiddleware, VerifiedPhone};
use glide_core::endpoint::GlideAuth;
use glide_core::events::FlowEvents;
use glide_core::store::Store;
use glide_tests::redis_server::RedisServer;
use serde::Serialize;

mod common;

/// The body every variant answers.
#[derive(Serialize)]
struct Me {
    phone_number: String,
}

async fn bare() -> web::Json<Me> {
    web::Json(Me {
        phone_number: common::PHONE.to_owned(),
    })
}

async fn glide_me(phone: VerifiedPhone) -> web::Json<Me> {
    web::Json(Me {
        phone_number: phone.phone_number.as_str().to_owned(),
    })
}

async fn session_me(session: Session) -> HttpResponse {
    match session.get::<String>("phone_number") {
        Ok(Some(phone)) => HttpResponse::Ok().json(Me {
            phone_number: phone,
        }),
        Ok(None) => HttpResponse::Unauthorized().finish(),
        Err(_) => HttpResponse::InternalServerError().finish(),
    }
}

async fn session_login(session: Session) -> HttpResponse {
    match session.insert("phone_number", common::PHONE) {
        Ok(()) => HttpResponse::NoContent().finish(),
        Err(_) => HttpResponse::InternalServerError().finish(),
    }
}

/// The smallest honest server-side `SessionStore`: states in a map behind a lock, like
/// `glide_core::store::MemoryStore` and `tower_sessions::MemoryStore` (no expiry sweep).
#[derive(Clone, Default)]
struct MemorySessionStore {
    states: Arc<RwLock<HashMap<String, HashMap<String, String>>>>,
    next: Arc<AtomicU64>,
}

impl MemorySessionStore {
    fn put(&self, key: String, state: HashMap<String, String>) {
        self.states
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .insert(key, state);
    }
}

impl SessionStore for MemorySessionStore {
    async fn load(
        &self,
        session_key: &SessionKey,
    ) -> Result<Option<HashMap<String, String>>, LoadError> {
        Ok(self
            .states
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(session_key.as_ref())
            .cloned())
    }

    async fn save(
        &self,
        session_state: HashMap<String, String>,
        _ttl: &actix_web::cookie::time::Duration,
    ) -> Result<SessionKey, SaveError> {
        let key = format!("{:064x}", self.next.fetch_add(1, Ordering::Relaxed));
        self.put(key.clone(), session_state);
        SessionKey::try_from(key).map_err(|e| SaveError::Other(anyhow::anyhow!(e)))
    }

    async fn update(
        &self,
        session_key: SessionKey,
        session_state: HashMap<String, String>,
        _ttl: &actix_web::cookie::time::Duration,
    ) -> Result<SessionKey, UpdateError> {
        self.put(session_key.as_ref().to_owned(), session_state);
        Ok(session_key)
    }

    async fn update_ttl(
        &self,
        _session_key: &SessionKey,
        _ttl: &actix_web::cookie::time::Duration,
    ) -> Result<(), anyhow::Error> {
        Ok(())
    }

    async fn delete(&self, session_key: &SessionKey) -> Result<(), anyhow::Error> {
        self.states
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .remove(session_key.as_ref());
        Ok(())
    }
}

fn get_me(cookie: &str) -> actix_http::Request {
    test::TestRequest::get()
        .uri("/me")
        .insert_header(("host", "app.test"))
        .insert_header(("cookie", cookie))
        .to_request()
}

/// Times `iters` sequential requests through `app` inside the actix system.
fn bench_app<S, B>(
    group: &mut BenchmarkGroup<'_, WallTime>,
    system: &SystemRunner,
    name: &str,
    app: &S,
    cookie: &str,
) where
    S: Service<actix_http::Request, Response = ServiceResponse<B>, Error = actix_web::Error>,
    B: MessageBody,
{
    let status = system.block_on(async { test::call_service(app, get_me(cookie)).await.status() });
    assert_eq!(status, StatusCode::OK, "{name}");
    group.bench_function(name, |b| {
        b.iter_custom(|iters| {
            system.block_on(async {
                let start = Instant::now();
                for _ in 0..iters {
                    let response = test::call_service(app, get_me(cookie)).await;
                    std::hint::black_box(response);
                }
                start.elapsed()
            })
        });
    });
}

/// The `Cookie` header that logging in through `app`'s `/login` sets.
async fn login<S, B>(app: &S) -> String
where
    S: Service<actix_http::Request, Response = ServiceResponse<B>, Error = actix_web::Error>,
{
    let response =
        test::call_service(app, test::TestRequest::get().uri("/login").to_request()).await;
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    let cookie = response
        .response()
        .cookies()
        .next()
        .expect("a session cookie");
    format!("{}={}", cookie.name(), cookie.value())
}

/// An engine on `sandbox` (and `store`) with one verified session made by a real TS43 flow.
async fn glide_engine(
    sandbox: &glide_sandbox::Sandbox,
    backend: Option<(Arc<dyn Store>, Arc<dyn FlowEvents>)>,
) -> (GlideAuth, String) {
    let (store, events) = backend.unzip();
    let auth = common::engine_with_events(&sandbox.base_url(), store, events);
    let cookie = common::engine_flow(
        &auth,
        &sandbox.control(),
        common::PHONE,
        [127, 0, 0, 1].into(),
    )
    .await;
    (auth, cookie)
}

fn bench(c: &mut Criterion) {
    let system = actix_web::rt::System::new();
    let sandbox = glide_sandbox::Sandbox::start_on_thread(
        glide_sandbox::SandboxConfig::default()
            .with_port(0)
            .with_completion_redirect_url(format!("{}/glide-complete", common::ORIGIN)),
    )
    .expect("the sandbox starts");
    let mut group = c.benchmark_group("actix_protected_route");

    let app = system.block_on(test::init_service(
        App::new().route("/me", web::get().to(bare)),
    ));
    bench_app(
        &mut group,
        &system,
        "bare_handler",
        &app,
        "glide_session=unused",
    );

    let (auth, cookie) = system.block_on(glide_engine(&sandbox, None));
    let app = system.block_on(test::init_service(
        App::new()
            .wrap(GlideMiddleware::new(auth.clone()))
            .route("/me", web::get().to(bare)),
    ));
    bench_app(
        &mut group,
        &system,
        "glide_middleware_no_extractor",
        &app,
        &cookie,
    );
    let app = system.block_on(test::init_service(
        App::new()
            .wrap(GlideMiddleware::new(auth))
            .route("/me", web::get().to(glide_me)),
    ));
    bench_app(
        &mut group,
        &system,
        "glide_verified_phone_memory",
        &app,
        &cookie,
    );

    // Kept alive until the actix-session Redis row too.
    let redis = RedisServer::start();
    match &redis {
        Some(redis) => {
            let (auth, cookie) = system.block_on(async {
                let backend = common::redis_backend(&redis.url()).await;
                glide_engine(&sandbox, Some(backend)).await
            });
            let app = system.block_on(test::init_service(
                App::new()
                    .wrap(GlideMiddleware::new(auth))
                    .route("/me", web::get().to(glide_me)),
            ));
            bench_app(
                &mut group,
                &system,
                "glide_verified_phone_redis",
                &app,
                &cookie,
            );
        }
        None => eprintln!("note: redis-server not found; glide_verified_phone_redis skipped"),
    }

    let key = Key::from(&[7u8; 64]);
    let app = system.block_on(test::init_service(
        App::new()
            .wrap(
                SessionMiddleware::builder(CookieSessionStore::default(), key.clone())
                    .cookie_secure(false)
                    .build(),
            )
            .route("/me", web::get().to(session_me))
            .route("/login", web::get().to(session_login)),
    ));
    let cookie = system.block_on(login(&app));
    bench_app(
        &mut group,
        &system,
        "actix_session_cookie_store",
        &app,
        &cookie,
    );

    if let Some(redis) = &redis {
        let store = system
            .block_on(actix_session::storage::RedisSessionStore::new(redis.url()))
            .expect("RedisSessionStore connects");
        let app = system.block_on(test::init_service(
            App::new()
                .wrap(
                    SessionMiddleware::builder(store, key.clone())
                        .cookie_secure(false)
                        .build(),
                )
                .route("/me", web::get().to(session_me))
                .route("/login", web::get().to(session_login)),
        ));
        let cookie = system.block_on(login(&app));
        bench_app(&mut group, &system, "actix_session_redis", &app, &cookie);
    }

    let app = system.block_on(test::init_service(
        App::new()
            .wrap(
                SessionMiddleware::builder(MemorySessionStore::default(), key)
                    .cookie_secure(false)
                    .build(),
            )
            .route("/me", web::get().to(session_me))
            .route("/login", web::get().to(session_login)),
    ));
    let cookie = system.block_on(login(&app));
    bench_app(
        &mut group,
        &system,
        "actix_session_memory_store",
        &app,
        &cookie,
    );

    group.finish();
    drop(redis);
    sandbox.shutdown();
}

criterion_group! {
    name = benches;
    config = common::criterion();
    targets = bench
}
criterion_main!(benches);
