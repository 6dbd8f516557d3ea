//! The OpenAPI 3.1 document of an engine's mounted routes (feature `openapi`).
//!
//! Built once, when the engine is built, from the engine's own route table (so a route left out
//! of the table is left out of the document, and the document names the paths the engine really
//! serves) and from the `utoipa` schemas derived on the very types the routes read and write.
//! What each route takes and answers is stated in [`operation`], an exhaustive `match` over
//! [`Route`]: a new route does not compile until it is documented.

use std::collections::BTreeMap;

use utoipa::openapi::header::HeaderBuilder;
use utoipa::openapi::path::{
    HttpMethod, OperationBuilder, ParameterBuilder, ParameterIn, PathItem,
};
use utoipa::openapi::request_body::RequestBodyBuilder;
use utoipa::openapi::schema::{ObjectBuilder, Type};
use utoipa::openapi::{
    ComponentsBuilder, Content, InfoBuilder, OpenApiBuilder, PathsBuilder, Ref, RefOr, Required,
    ResponseBuilder, Schema,
};
use utoipa::{PartialSchema, ToSchema};

use super::table::{MountedRoute, Route};
use crate::api::{PhoneResult, StatusResponse};

/// The names and attributes of the cookies the document describes.
pub(crate) struct CookieNames<'a> {
    /// The verified-session cookie.
    pub(crate) session: &'a str,
    /// Whether cookie names carry the `__Host-` prefix (secure mode).
    pub(crate) secure: bool,
}

impl CookieNames<'_> {
    fn host(&self, name: &str) -> String {
        if self.secure {
            format!("__Host-{name}")
        } else {
            name.to_owned()
        }
    }
}

/// The schemas the document refers to, by name.
#[derive(Default)]
struct Schemas(BTreeMap<String, RefOr<Schema>>);

impl Schemas {
    /// Registers `T` and every schema it refers to; a reference to it.
    fn of<T: ToSchema>(&mut self) -> RefOr<Schema> {
        let name = T::name().into_owned();
        let mut deps = Vec::new();
        T::schemas(&mut deps);
        self.0.extend(deps);
        self.0.insert(name.clone(), T::schema());
        RefOr::Ref(Ref::from_schema_name(name))
    }
}

/// One answer of a route (a few dozen, built once: their sizes do not matter).
#[allow(clippy::large_enum_variant)]
enum Body {
    /// No body.
    Empty,
    /// A JSON body of this schema.
    Json(RefOr<Schema>),
    /// A body of another media type (HTML, JavaScript).
    Text(&'static str),
}

/// What one route takes and answers.
struct Operation {
    summary: &'static str,
    request: Option<RefOr<Schema>>,
    /// `(name, where, required, description)`.
    params: Vec<(String, ParameterIn, bool, String)>,
    /// `(status, description, body, cookies it may set)`.
    answers: Vec<(u16, &'static str, Body, Option<String>)>,
    /// Error statuses (all with the error body) beyond the common ones.
    errors: &'static [u16],
}

/// Error statuses any JSON route may answer: bad input, cross-origin refusal, slow or oversized
/// body, rate limit, internal error, Glide unreachable or answering badly. (A method other than
/// the documented one gets 405 with `Allow` and the error body, which OpenAPI cannot attach to
/// an operation: the document's description says so.)
const COMMON_ERRORS: &[u16] = &[400, 403, 408, 413, 429, 500, 502, 503];

fn string() -> RefOr<Schema> {
    ObjectBuilder::new().schema_type(Type::String).into()
}

/// What `route` takes and answers.
fn operation(route: Route, s: &mut Schemas, c: &CookieNames<'_>) -> Operation {
    use ParameterIn::{Cookie, Path, Query};
    let session = c.session.to_owned();
    let binding = format!("{}{{session_key}}", c.host("_glide_bind_"));
    let legacy = c.host("glide_legacy");
    let chain = c.host("glide_chain");
    let nv_state = c.host("glide_nv_state");
    let session_param = |what: &str| {
        (
            session.clone(),
            Cookie,
            false,
            format!("The verified-session cookie{what}."),
        )
    };
    let binding_note = format!(
        "The binding cookie of the flow, `{binding}` (HttpOnly, SameSite=Lax, Path=/, Max-Age 300), set by prepare; required."
    );
    let empty = |summary, request, answers, errors| Operation {
        summary,
        request,
        params: Vec::new(),
        answers,
        errors,
    };
    match route {
        Route::Prepare => Operation {
            summary: "Starts a Magical Auth flow (TS43, Link or Desktop, as Glide chooses).",
            request: Some(s.of::<super::magical::PrepareBody>()),
            params: Vec::new(),
            answers: vec![(
                200,
                "Glide's prepare answer, without any `fe_code`.",
                Body::Json(s.of::<super::magical::PrepareAnswer<'static>>()),
                Some(format!("The flow's binding cookie `{binding}` (HttpOnly, SameSite=Lax, Path=/, Max-Age 300); removals of stale ones.")),
            )],
            errors: &[404, 422],
        },
        Route::ReportInvocation => empty(
            "Tells Glide the browser invoked the flow; never fails the page because Glide failed.",
            Some(s.of::<super::magical::InvocationBody>()),
            vec![(
                200,
                "Always `{\"success\": true}`.",
                Body::Json(s.of::<super::magical::InvocationAnswer>()),
                None,
            )],
            &[],
        ),
        Route::Process => Operation {
            summary: "Hands Glide the credential (or waits for the phone) and issues the verified session.",
            request: Some(s.of::<super::magical::ProcessBody>()),
            params: vec![(binding.clone(), Cookie, true, binding_note.clone())],
            answers: vec![
                (
                    200,
                    "The verified number and its signals.",
                    Body::Json(s.of::<PhoneResult>()),
                    Some(format!("The verified-session cookie `{session}` (HttpOnly, SameSite=Lax) when the risk policy allows; the binding cookie's removal.")),
                ),
                (
                    202,
                    "Desktop: the phone has not finished within the server-side wait; call again.",
                    Body::Json(s.of::<super::magical::WaitingAnswer<'static>>()),
                    None,
                ),
            ],
            errors: &[401, 404, 409, 410, 422],
        },
        Route::Complete => Operation {
            summary: "The Link completion page hands over Glide's `agg_code`.",
            request: Some(s.of::<super::magical::CompleteBody>()),
            params: vec![(binding.clone(), Cookie, true, binding_note.clone())],
            answers: vec![(204, "Completed.", Body::Empty, None)],
            errors: &[401, 404, 409, 410, 422],
        },
        Route::Status => Operation {
            summary: "Glide's status of a flow, only to the browser that prepared it.",
            request: None,
            params: vec![
                ("key".to_owned(), Path, true, "The flow's session key.".to_owned()),
                (binding.clone(), Cookie, true, binding_note),
            ],
            answers: vec![
                (200, "`pending`, `scanned`, `pending_completion` or `completed`.", Body::Json(s.of::<StatusResponse>()), None),
                (410, "The flow expired.", Body::Json(s.of::<StatusResponse>()), None),
                (422, "The flow failed or was denied (`status: \"failed\"`).", Body::Json(s.of::<StatusResponse>()), None),
            ],
            errors: &[404],
        },
        Route::Logout => Operation {
            summary: "Ends the verified session server-side and removes its cookie.",
            request: None,
            params: vec![session_param(" (optional)")],
            answers: vec![(204, "Logged out.", Body::Empty, Some(format!("The removal of `{session}`.")))],
            errors: &[],
        },
        Route::Sessions => Operation {
            summary: "The live sessions of the verified number (`ip` masked, no session ids).",
            request: None,
            params: vec![session_param("; without one, 401 `NOT_VERIFIED`")],
            answers: vec![(200, "The sessions, oldest first.", Body::Json(s.of::<super::sessions::SessionList>()), None)],
            errors: &[401],
        },
        Route::SessionsRevoke => Operation {
            summary: "Ends one session of the verified number.",
            request: Some(s.of::<super::sessions::RevokeBody>()),
            params: vec![session_param("; without one, 401 `NOT_VERIFIED`")],
            answers: vec![(204, "Revoked.", Body::Empty, Some(format!("The removal of `{session}` when it was the caller's own.")))],
            errors: &[401, 404],
        },
        Route::SessionsRevokeOthers => Operation {
            summary: "Ends every other session of the verified number.",
            request: None,
            params: vec![session_param("; without one, 401 `NOT_VERIFIED`")],
            answers: vec![(204, "Revoked.", Body::Empty, None)],
            errors: &[401],
        },
        Route::SessionsRevokeAll => Operation {
            summary: "Ends every session of the verified number, this one too.",
            request: None,
            params: vec![session_param("; without one, 401 `NOT_VERIFIED`")],
            answers: vec![(204, "Revoked.", Body::Empty, Some(format!("The removal of `{session}`.")))],
            errors: &[401],
        },
        Route::GlideJs => empty(
            "The browser helper (prepare → invoke → process for all three strategies).",
            None,
            vec![(200, "The script.", Body::Text("application/javascript"), None)],
            &[],
        ),
        Route::CompletionPage => empty(
            "The Link completion page: reads `#agg_code=…&session_key=…` and posts to `complete`.",
            None,
            vec![(200, "The page (CSP, `Cache-Control: no-store`, `X-Frame-Options: DENY`).", Body::Text("text/html"), None)],
            &[],
        ),
        Route::MagicAuthStart => empty(
            "Legacy Magic Auth: starts a carrier check, or sends an SMS / e-mail code.",
            Some(s.of::<super::codes::StartBody>()),
            vec![(
                200,
                "The channel Glide chose (`MAGIC` with its `auth_url`, `SMS`, `EMAIL`).",
                Body::Json(s.of::<super::codes::StartAnswer<'static>>()),
                Some(format!("`{legacy}`: the pending verification (HttpOnly, SameSite=Lax, Max-Age 600).")),
            )],
            &[404, 422],
        ),
        Route::MagicAuthVerify => Operation {
            summary: "Legacy Magic Auth: checks the code or carrier token; issues the verified session.",
            request: Some(s.of::<super::codes::VerifyBody>()),
            params: vec![(legacy.clone(), Cookie, true, "The pending verification, set by start.".to_owned())],
            answers: vec![(
                200,
                "Verified.",
                Body::Json(s.of::<super::codes::VerifiedAnswer<'static>>()),
                Some(format!("`{session}` (the verified session) and the removal of `{legacy}`.")),
            )],
            errors: &[401, 404, 409, 410, 422],
        },
        Route::MagicAuthStartServerAuth => empty(
            "Legacy server-side auth: starts it; the device opens `auth_url`.",
            Some(s.of::<super::codes::StartBody>()),
            vec![(
                200,
                "The server-side auth started.",
                Body::Json(s.of::<super::codes::ServerStartAnswer<'static>>()),
                Some(format!("`{legacy}`: the pending verification.")),
            )],
            &[404, 422],
        ),
        Route::MagicAuthCheckServerAuth => Operation {
            summary: "Legacy server-side auth: where it stands; issues the verified session once completed.",
            request: None,
            params: vec![
                ("session_id".to_owned(), Query, true, "The id start-server-auth answered.".to_owned()),
                (legacy.clone(), Cookie, true, "The pending verification, set by start-server-auth.".to_owned()),
            ],
            answers: vec![(
                200,
                "`PENDING` or `COMPLETED` with `verified`.",
                Body::Json(s.of::<super::codes::ServerStatusAnswer>()),
                Some(format!("When completed: `{session}` and the removal of `{legacy}`.")),
            )],
            errors: &[401, 404, 409, 410, 422],
        },
        Route::NumberVerifyStart => empty(
            "Number Verify: redirects to the operator's authorization URL.",
            None,
            vec![(302, "To the operator (`Location`), with a `state` bound to this browser.", Body::Empty, Some(format!("`{nv_state}` (HttpOnly, Max-Age 300).")))],
            &[404, 422],
        )
        .with_params(vec![("phone_number".to_owned(), Query, false, "The number to verify (E.164).".to_owned())]),
        Route::NumberVerifyCallback => Operation {
            summary: "Number Verify: the operator's callback; verifies and redirects to the return path.",
            request: None,
            params: vec![
                ("code".to_owned(), Query, false, "The operator's authorization code.".to_owned()),
                ("state".to_owned(), Query, false, "The state start sent.".to_owned()),
                (nv_state.clone(), Cookie, false, "The state cookie set by start.".to_owned()),
            ],
            answers: vec![(
                302,
                "To the configured return path (`verification=failed` on failure).",
                Body::Empty,
                Some(format!("`{session}` on success; the removal of `{nv_state}`.")),
            )],
            errors: &[],
        },
        Route::VerificationStart => empty(
            "Starts a verification chain for this browser.",
            Some(s.of::<super::chain::StartBody>()),
            vec![(200, "The chain's state.", Body::Json(s.of::<super::chain::StateAnswer<'static>>()), Some(format!("`{chain}`: the chain of this browser.")))],
            &[404, 410],
        ),
        Route::Verification => Operation {
            summary: "The state of this browser's verification chain.",
            request: None,
            params: vec![(chain.clone(), Cookie, true, "The chain of this browser.".to_owned())],
            answers: vec![(200, "The chain's state.", Body::Json(s.of::<super::chain::StateAnswer<'static>>()), None)],
            errors: &[404, 410],
        },
        Route::VerificationAdvance => Operation {
            summary: "Advances this browser's verification chain with an event.",
            request: Some(s.of::<super::chain::Event>()),
            params: vec![(chain.clone(), Cookie, true, "The chain of this browser.".to_owned())],
            answers: vec![(
                200,
                "The chain's state.",
                Body::Json(s.of::<super::chain::StateAnswer<'static>>()),
                Some(format!("`{session}` once the chain verified the number.")),
            )],
            errors: &[401, 404, 409, 410, 422],
        },
        Route::OpenApi => empty(
            "This document.",
            None,
            vec![(200, "The OpenAPI 3.1 document of the mounted routes.", Body::Json(ObjectBuilder::new().schema_type(Type::Object).into()), None)],
            &[],
        ),
    }
}

impl Operation {
    fn with_params(mut self, params: Vec<(String, ParameterIn, bool, String)>) -> Self {
        self.params.extend(params);
        self
    }

    /// Whether the route answers JSON (and so may answer every common error).
    fn is_api(&self) -> bool {
        !self
            .answers
            .iter()
            .any(|(_, _, body, _)| matches!(body, Body::Text(_)))
    }
}

/// The document of the routes in `table`, as JSON.
pub(crate) fn document(
    table: &[MountedRoute],
    cookies: &CookieNames<'_>,
) -> serde_json::Result<String> {
    let mut schemas = Schemas::default();
    let error = schemas.of::<super::io::ErrorBody<'static>>();
    let mut paths = PathsBuilder::new();
    for mounted in table {
        let op = operation(mounted.route, &mut schemas, cookies);
        let mut builder = OperationBuilder::new()
            .operation_id(Some(format!("{:?}", mounted.route)))
            .summary(Some(op.summary));
        for (name, place, required, description) in &op.params {
            builder = builder.parameter(
                ParameterBuilder::new()
                    .name(name)
                    .parameter_in(place.clone())
                    .required(if *required {
                        Required::True
                    } else {
                        Required::False
                    })
                    .description(Some(description))
                    .schema(Some(string())),
            );
        }
        if let Some(request) = &op.request {
            builder = builder.request_body(Some(
                RequestBodyBuilder::new()
                    .content("application/json", Content::new(Some(request.clone())))
                    .required(Some(Required::True))
                    .build(),
            ));
        }
        for (status, description, body, set_cookie) in &op.answers {
            let mut response = ResponseBuilder::new().description(*description);
            match body {
                Body::Empty => {}
                Body::Json(schema) => {
                    response =
                        response.content("application/json", Content::new(Some(schema.clone())));
                }
                Body::Text(media) => {
                    response = response.content(*media, Content::new(Some(string())));
                }
            }
            if let Some(cookie) = set_cookie {
                response = response.header(
                    "Set-Cookie",
                    HeaderBuilder::new()
                        .schema(string())
                        .description(Some(cookie))
                        .build(),
                );
            }
            builder = builder.response(status.to_string(), response.build());
        }
        let common: &[u16] = if op.is_api() { COMMON_ERRORS } else { &[] };
        let mut errors: Vec<u16> = common.iter().chain(op.errors).copied().collect();
        errors.sort_unstable();
        errors.dedup();
        for status in errors {
            builder = builder.response(
                status.to_string(),
                ResponseBuilder::new()
                    .description("The error body: `{code, message, status}`.")
                    .content("application/json", Content::new(Some(error.clone())))
                    .build(),
            );
        }
        let method = if mounted.method == http::Method::POST {
            HttpMethod::Post
        } else {
            HttpMethod::Get
        };
        paths = paths.path(mounted.template(), PathItem::new(method, builder));
    }
    let components = ComponentsBuilder::new()
        .schemas_from_iter(schemas.0)
        .build();
    OpenApiBuilder::new()
        .info(
            InfoBuilder::new()
                .title("glide-rs")
                .version(env!("CARGO_PKG_VERSION"))
                .description(Some(
                    "The routes the glide-rs middleware mounts for phone verification with Glide's Magical Auth. Every error answers `{\"code\": \"UPPER_SNAKE\", \"message\", \"status\"}` (schema `ErrorBody`); a method other than a path's documented one gets 405 with `Allow` and that body.",
                ))
                .build(),
        )
        .paths(paths.build())
        .components(Some(components))
        .build()
        .to_json()
}

/// `PhoneNumber` is a string in E.164.
impl PartialSchema for crate::PhoneNumber {
    fn schema() -> RefOr<Schema> {
        ObjectBuilder::new()
            .schema_type(Type::String)
            .pattern(Some(r"^\+[1-9][0-9]{1,14}$"))
            .description(Some("A phone number in E.164 (`+15555550100`)."))
            .into()
    }
}

impl ToSchema for crate::PhoneNumber {}

/// `SessionStatus` is its wire name; names this version does not know pass through.
impl PartialSchema for crate::api::SessionStatus {
    fn schema() -> RefOr<Schema> {
        ObjectBuilder::new()
            .schema_type(Type::String)
            .description(Some(
                "`pending`, `scanned`, `pending_completion`, `completed`, `failed` or `expired` (others pass through).",
            ))
            .into()
    }
}

impl ToSchema for crate::api::SessionStatus {}
