//! [`GlideRoutes`]: the engine's routes as ordinary actix-web resources, for apps that prefer to
//! mount them explicitly.

use actix_web::dev::{AppService, HttpServiceFactory};
use actix_web::{web, HttpRequest};
use glide_core::endpoint::GlideAuth;

use crate::convert;

/// The routes of contract §2 (Magical Auth, legacy Magic Auth, Number Verify) as an actix-web
/// resource: `.service(GlideRoutes::new(auth))`.
///
/// Exactly the routes [`GlideMiddleware`](crate::GlideMiddleware) serves, read from the engine's
/// route table, with the same answers from the same engine code, for apps that want every route
/// visible in the `App`. Mount it at the root of the app
/// (not inside a `web::scope`): the paths come from the engine's
/// [`RoutePaths`](glide_core::endpoint::RoutePaths). Every method reaches the engine, so a wrong
/// one gets the same 405 error body as through the middleware.
///
/// Without the middleware, register the engine as `app_data` too, so that the
/// [`VerifiedPhone`](crate::VerifiedPhone) extractor finds it:
///
/// ```
/// use actix_web::{web, App};
/// use glide_actix::{core::endpoint::GlideAuth, GlideRoutes, VerifiedPhone};
///
/// fn app(auth: GlideAuth) -> App<
///     impl actix_web::dev::ServiceFactory<
///         actix_web::dev::ServiceRequest,
///         Config = (),
///         Response = actix_web::dev::ServiceResponse,
///         Error = actix_web::Error,
///         InitError = (),
///     >,
/// > {
///     App::new()
///         .app_data(auth.clone())
///         .service(GlideRoutes::new(auth))
///         .route("/me", web::get().to(|phone: VerifiedPhone| async move { web::Json(phone) }))
/// }
/// ```
#[derive(Debug, Clone)]
pub struct GlideRoutes {
    auth: GlideAuth,
}

impl GlideRoutes {
    /// The routes of an engine.
    pub fn new(auth: GlideAuth) -> Self {
        Self { auth }
    }
}

impl HttpServiceFactory for GlideRoutes {
    fn register(self, config: &mut AppService) {
        // One resource per line of the engine's route table, every method routed to the engine
        // (so a wrong one gets the engine's 405): exactly the routes the middleware serves.
        for mounted in self.auth.route_table() {
            let (auth, route) = (self.auth.clone(), mounted.route);
            let handler = move |request: HttpRequest, payload: web::Payload| {
                let auth = auth.clone();
                async move { convert::answer(&auth, route, &request, payload.into_inner()).await }
            };
            web::resource(mounted.template())
                .to(handler)
                .register(config);
        }
    }
}
