//! The route table: every route the middleware serves, `(method, path, route)`, declared once.
//! Matching, the 405 `Allow` answer, both adapters' mountings and the documented route list all
//! come from [`ROUTES`].

use std::collections::HashMap;

use http::Method;

use super::config::RoutePaths;

/// A route of ours, as recognised by [`GlideAuth::match_route`](super::GlideAuth::match_route)
/// (by path; the method is checked when handling, so that a wrong method gets a 405 rather than
/// falling through to the app).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Route {
    /// `POST {base}/prepare`
    Prepare,
    /// `POST {base}/report-invocation`
    ReportInvocation,
    /// `POST {base}/process`
    Process,
    /// `POST {base}/complete`
    Complete,
    /// `GET {base}/status/{session_key}`
    Status,
    /// `POST {base}/logout`
    Logout,
    /// `GET {base}/sessions`: the live sessions of the caller's number
    Sessions,
    /// `POST {base}/sessions/revoke` `{handle}`
    SessionsRevoke,
    /// `POST {base}/sessions/revoke-others`
    SessionsRevokeOthers,
    /// `POST {base}/sessions/revoke-all`
    SessionsRevokeAll,
    /// `GET {base}/glide.js`
    GlideJs,
    /// `GET {completion_path}` (default `/glide-complete`)
    CompletionPage,
    /// `POST {base}/magic-auth/start`
    MagicAuthStart,
    /// `POST {base}/magic-auth/verify`
    MagicAuthVerify,
    /// `POST {base}/magic-auth/start-server-auth`
    MagicAuthStartServerAuth,
    /// `GET {base}/magic-auth/check-server-auth?session_id=`
    MagicAuthCheckServerAuth,
    /// `GET {base}/number-verify/start?phone_number=` (mounted when a callback URL is set)
    NumberVerifyStart,
    /// `GET {base}/number-verify/callback?code=&state=` (mounted when a callback URL is set)
    NumberVerifyCallback,
    /// `POST {base}/verification/start` (mounted when a verification chain is configured)
    VerificationStart,
    /// `GET {base}/verification` (mounted when a verification chain is configured)
    Verification,
    /// `POST {base}/verification/advance` (mounted when a verification chain is configured)
    VerificationAdvance,
    /// `GET {base}/openapi.json`: the OpenAPI document of the mounted routes (mounted when
    /// `GlideAuthBuilder::openapi` turned it on, with the `openapi` feature)
    OpenApi,
}

/// Where a route's path lives.
#[derive(Debug, Clone, Copy)]
pub(crate) enum At {
    /// `{base_path}/{name}`.
    Api(&'static str),
    /// `{base_path}/{name}/{one more segment}`.
    ApiWithKey(&'static str),
    /// The completion page's own path.
    CompletionPage,
}

/// One line of the route table.
#[derive(Debug, Clone)]
pub(crate) struct RouteDef {
    pub(crate) route: Route,
    pub(crate) method: Method,
    pub(crate) at: At,
}

const fn def(route: Route, method: Method, at: At) -> RouteDef {
    RouteDef { route, method, at }
}

/// Every route, once.
pub(crate) const ROUTES: &[RouteDef] = &[
    def(Route::Prepare, Method::POST, At::Api("prepare")),
    def(
        Route::ReportInvocation,
        Method::POST,
        At::Api("report-invocation"),
    ),
    def(Route::Process, Method::POST, At::Api("process")),
    def(Route::Complete, Method::POST, At::Api("complete")),
    def(Route::Status, Method::GET, At::ApiWithKey("status")),
    def(Route::Logout, Method::POST, At::Api("logout")),
    def(Route::Sessions, Method::GET, At::Api("sessions")),
    def(
        Route::SessionsRevoke,
        Method::POST,
        At::Api("sessions/revoke"),
    ),
    def(
        Route::SessionsRevokeOthers,
        Method::POST,
        At::Api("sessions/revoke-others"),
    ),
    def(
        Route::SessionsRevokeAll,
        Method::POST,
        At::Api("sessions/revoke-all"),
    ),
    def(Route::GlideJs, Method::GET, At::Api("glide.js")),
    def(Route::CompletionPage, Method::GET, At::CompletionPage),
    def(
        Route::MagicAuthStart,
        Method::POST,
        At::Api("magic-auth/start"),
    ),
    def(
        Route::MagicAuthVerify,
        Method::POST,
        At::Api("magic-auth/verify"),
    ),
    def(
        Route::MagicAuthStartServerAuth,
        Method::POST,
        At::Api("magic-auth/start-server-auth"),
    ),
    def(
        Route::MagicAuthCheckServerAuth,
        Method::GET,
        At::Api("magic-auth/check-server-auth"),
    ),
    def(
        Route::NumberVerifyStart,
        Method::GET,
        At::Api("number-verify/start"),
    ),
    def(
        Route::NumberVerifyCallback,
        Method::GET,
        At::Api("number-verify/callback"),
    ),
    def(
        Route::VerificationStart,
        Method::POST,
        At::Api("verification/start"),
    ),
    def(Route::Verification, Method::GET, At::Api("verification")),
    def(
        Route::VerificationAdvance,
        Method::POST,
        At::Api("verification/advance"),
    ),
    def(Route::OpenApi, Method::GET, At::Api("openapi.json")),
];

/// A route as an engine mounts it: its method and concrete path.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct MountedRoute {
    /// Which route.
    pub route: Route,
    /// The one method it answers (any other gets 405 with `Allow`).
    pub method: Method,
    /// Its path; for a route with a key (`status`), the prefix before the key, ending in `/`.
    pub path: String,
    /// Whether one more path segment (the key) follows [`path`](Self::path).
    pub takes_key: bool,
}

impl MountedRoute {
    /// The path in the `{name}` template syntax of axum and actix-web (`…/status/{key}`).
    pub fn template(&self) -> String {
        if self.takes_key {
            format!("{}{{key}}", self.path)
        } else {
            self.path.clone()
        }
    }
}

/// The table of one engine, its paths resolved.
#[derive(Debug, Clone)]
pub(crate) struct RouteTable {
    mounted: Vec<MountedRoute>,
    exact: HashMap<String, usize>,
    keyed: Vec<(String, usize)>,
}

impl RouteTable {
    /// Resolves [`ROUTES`] under `paths`, leaving out the routes `include` refuses.
    pub(crate) fn new(paths: &RoutePaths, include: impl Fn(Route) -> bool) -> Self {
        let mut table = Self {
            mounted: Vec::new(),
            exact: HashMap::new(),
            keyed: Vec::new(),
        };
        for def in ROUTES.iter().filter(|d| include(d.route)) {
            let (path, takes_key) = match def.at {
                At::Api(name) => (paths.route(name), false),
                At::ApiWithKey(name) => (format!("{}/", paths.route(name)), true),
                At::CompletionPage => (paths.completion_path.clone(), false),
            };
            let index = table.mounted.len();
            if takes_key {
                table.keyed.push((path.clone(), index));
            } else {
                table.exact.insert(path.clone(), index);
            }
            table.mounted.push(MountedRoute {
                route: def.route,
                method: def.method.clone(),
                path,
                takes_key,
            });
        }
        table
    }

    /// The route at `path`, if any. A keyed route matches exactly one non-empty segment after
    /// its prefix.
    pub(crate) fn find(&self, path: &str) -> Option<&MountedRoute> {
        if let Some(&i) = self.exact.get(path) {
            return self.mounted.get(i);
        }
        self.keyed.iter().find_map(|(prefix, i)| {
            let key = path.strip_prefix(prefix.as_str())?;
            (!key.is_empty() && !key.contains('/')).then(|| self.mounted.get(*i))?
        })
    }

    /// Every mounted route, in table order.
    pub(crate) fn routes(&self) -> &[MountedRoute] {
        &self.mounted
    }

    /// The mounted route of `route`.
    pub(crate) fn get(&self, route: Route) -> Option<&MountedRoute> {
        self.mounted.iter().find(|m| m.route == route)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_route_is_declared_once_and_found_at_its_path() {
        let table = RouteTable::new(&RoutePaths::default(), |_| true);
        assert_eq!(table.routes().len(), ROUTES.len());
        for mounted in table.routes() {
            let path = if mounted.takes_key {
                format!("{}abc", mounted.path)
            } else {
                mounted.path.clone()
            };
            assert_eq!(table.find(&path).map(|m| m.route), Some(mounted.route));
            assert_eq!(
                table
                    .routes()
                    .iter()
                    .filter(|m| m.route == mounted.route)
                    .count(),
                1
            );
        }
        assert_eq!(
            table.find("/api/magical-auth/prepare").map(|m| &m.method),
            Some(&Method::POST)
        );
        for miss in [
            "/api/magical-auth/status/",
            "/api/magical-auth/status/a/b",
            "/api/magical-auth/prepare/",
            "/api/magical-auth",
            "/api/magical-auth/other",
            "/glide-complete/x",
        ] {
            assert!(table.find(miss).is_none(), "{miss}");
        }
        let partial = RouteTable::new(&RoutePaths::default(), |r| r != Route::Process);
        assert!(partial.find("/api/magical-auth/process").is_none());
        assert_eq!(
            table.get(Route::Status).map(MountedRoute::template),
            Some("/api/magical-auth/status/{key}".to_owned())
        );
    }
}
