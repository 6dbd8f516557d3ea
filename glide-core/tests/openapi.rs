//! The OpenAPI document (feature `openapi`): it names exactly the mounted routes, and every
//! answer of every route, driven against the real sandbox, has a documented status and a body
//! that validates against the documented schema.

#[path = "endpoint_support/mod.rs"]
mod endpoint_support;

use std::collections::BTreeSet;
use std::time::Duration;

use endpoint_support::engine::{call, cookies, post, ANDROID, ORIGIN};
use endpoint_support::{EndpointRequest, EndpointResponse};
use glide_core::api::Glide;
use glide_core::endpoint::{GlideAuth, GlideAuthBuilder, RoutePaths};
use glide_sandbox::{Sandbox, SandboxConfig};
use serde_json::{json, Value};

const IPHONE: &str = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 Version/17.5 Mobile/15E148 Safari/604.1";
const DESKTOP: &str =
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 Chrome/126.0 Safari/537.36";

/// Every optional route on: Number Verify, the chain (with e-mail on file), the document.
fn everything(builder: GlideAuthBuilder) -> GlideAuthBuilder {
    builder
        .openapi(true)
        .number_verify_callback_url(format!("{ORIGIN}/api/magical-auth/number-verify/callback"))
        .email_on_file(|phone: &glide_core::PhoneNumber| {
            glide_core::legacy::Email::parse(&format!(
                "user-{}@example.com",
                phone.as_str().trim_start_matches('+')
            ))
            .ok()
        })
        .verification_chain(glide_core::endpoint::VerificationChain::default())
}

async fn engine(
    configure: impl FnOnce(GlideAuthBuilder) -> GlideAuthBuilder,
) -> (Sandbox, GlideAuth) {
    let sandbox = Sandbox::start(
        SandboxConfig::default()
            .with_port(0)
            .with_desktop_wait(Duration::from_millis(300))
            .with_completion_redirect_url(format!("{ORIGIN}/glide-complete")),
    )
    .await
    .expect("sandbox starts");
    let glide = Glide::builder("sandbox-client", "sandbox-secret")
        .base_url(sandbox.base_url().as_str())
        .build()
        .expect("client builds");
    let auth = configure(GlideAuth::builder(glide).insecure_dev_cookies(true))
        .build()
        .expect("engine builds");
    (sandbox, auth)
}

fn get(path: &str, query: Option<&str>, cookies: &str) -> EndpointRequest {
    let mut headers = vec![("host".to_owned(), "app.test".to_owned())];
    if !cookies.is_empty() {
        headers.push(("cookie".to_owned(), cookies.to_owned()));
    }
    EndpointRequest {
        method: "GET".into(),
        path: path.into(),
        query: query.map(str::to_owned),
        headers,
        peer_addr: Some([127, 0, 0, 1].into()),
        ..Default::default()
    }
}

async fn document(auth: &GlideAuth, base: &str) -> Value {
    let (status, doc, response) = call(auth, get(&format!("{base}/openapi.json"), None, "")).await;
    assert_eq!(status, 200);
    assert_eq!(response.header("content-type"), Some("application/json"));
    doc
}

/// `(METHOD, path)` of every operation in the document.
fn operations(doc: &Value) -> BTreeSet<(String, String)> {
    let mut out = BTreeSet::new();
    for (path, item) in doc["paths"].as_object().expect("paths") {
        for method in item.as_object().expect("path item").keys() {
            out.insert((method.to_uppercase(), path.clone()));
        }
    }
    out
}

fn table(auth: &GlideAuth) -> BTreeSet<(String, String)> {
    auth.route_table()
        .iter()
        .map(|m| (m.method.as_str().to_owned(), m.template()))
        .collect()
}

/// Every `$ref` in `value`.
fn refs(value: &Value, out: &mut Vec<String>) {
    match value {
        Value::Object(map) => {
            if let Some(Value::String(r)) = map.get("$ref") {
                out.push(r.clone());
            }
            map.values().for_each(|v| refs(v, out));
        }
        Value::Array(items) => items.iter().for_each(|v| refs(v, out)),
        _ => {}
    }
}

#[tokio::test]
async fn the_document_names_exactly_the_mounted_routes() {
    // Everything mounted.
    let (_sandbox, auth) = engine(everything).await;
    let doc = document(&auth, "/api/magical-auth").await;
    assert_eq!(doc["openapi"], "3.1.0");
    assert_eq!(operations(&doc), table(&auth));
    assert_eq!(
        table(&auth).len(),
        22,
        "every route of the table is mounted here"
    );
    let mut all = Vec::new();
    refs(&doc, &mut all);
    assert!(!all.is_empty());
    for r in all {
        let name = r
            .strip_prefix("#/components/schemas/")
            .expect("a schema reference");
        assert!(
            doc["components"]["schemas"][name].is_object(),
            "{r} resolves"
        );
    }
    // Closed sets of values are enums, so that a generated client gets a union, not a string.
    let schemas = &doc["components"]["schemas"];
    assert_eq!(
        schemas["ChainPosition"]["enum"],
        json!([
            "magical_auth",
            "magic",
            "sms",
            "email",
            "verified",
            "failed"
        ]),
        "the chain's `step`"
    );
    assert_eq!(
        schemas["ChainState"]["properties"]["step"]["$ref"],
        "#/components/schemas/ChainPosition"
    );
    assert_eq!(schemas["WaitingStatus"]["enum"], json!(["waiting"]));
    assert_eq!(
        schemas["WaitingAnswer"]["properties"]["status"]["$ref"],
        "#/components/schemas/WaitingStatus",
        "the desktop 202's `status`"
    );
    // Every operation documents at least one success and, for JSON routes, the error body.
    for (path, item) in doc["paths"].as_object().expect("paths") {
        for op in item.as_object().expect("item").values() {
            let responses = op["responses"].as_object().expect("responses");
            assert!(
                responses.keys().any(|s| s.starts_with('2') || s == "302"),
                "{path}"
            );
        }
    }

    // The optional routes left out; other paths.
    let (_sandbox, auth) = engine(|b| {
        b.openapi(true).routes({
            let mut paths = RoutePaths::default();
            paths.base_path = "/auth".into();
            paths.completion_path = "/done".into();
            paths
        })
    })
    .await;
    let doc = document(&auth, "/auth").await;
    assert_eq!(operations(&doc), table(&auth));
    assert!(!doc["paths"]
        .as_object()
        .expect("paths")
        .contains_key("/auth/verification"));
    assert!(doc["paths"]["/done"]["get"].is_object());
    assert!(doc["paths"]["/auth/status/{key}"]["get"].is_object());

    // Off by default: not mounted, not in the table.
    let (_sandbox, auth) = engine(|b| b).await;
    assert!(auth.match_route("/api/magical-auth/openapi.json").is_none());
    assert!(!table(&auth)
        .iter()
        .any(|(_, p)| p.ends_with("openapi.json")));
}

/// A small JSON Schema check (the subset the document uses): `$ref`, `type` (with `null`),
/// `properties` (no undocumented property unless `additionalProperties`), `required`, `enum`,
/// `items`, `oneOf` / `anyOf` / `allOf`, `pattern` left out.
fn validate(doc: &Value, schema: &Value, value: &Value, at: &str) -> Result<(), String> {
    if let Some(r) = schema.get("$ref").and_then(Value::as_str) {
        let name = r.trim_start_matches("#/components/schemas/");
        return validate(doc, &doc["components"]["schemas"][name], value, at);
    }
    if let Some(all) = schema.get("allOf").and_then(Value::as_array) {
        // allOf of objects: the union of their properties (how flattening is written).
        let mut merged = serde_json::Map::new();
        let mut required = Vec::new();
        for part in all {
            let part = resolve(doc, part);
            if let Some(props) = part.get("properties").and_then(Value::as_object) {
                merged.extend(props.clone());
            }
            if let Some(req) = part.get("required").and_then(Value::as_array) {
                required.extend(req.clone());
            }
        }
        let combined = json!({"type": "object", "properties": merged, "required": required});
        return validate(doc, &combined, value, at);
    }
    for key in ["oneOf", "anyOf"] {
        if let Some(options) = schema.get(key).and_then(Value::as_array) {
            let fits = options
                .iter()
                .filter(|o| validate(doc, o, value, at).is_ok())
                .count();
            let ok = if key == "oneOf" { fits == 1 } else { fits >= 1 };
            return if ok {
                Ok(())
            } else {
                Err(format!("{at}: {value} fits {fits} of the {key} options"))
            };
        }
    }
    if let Some(ty) = schema.get("type") {
        let types: Vec<&str> = match ty {
            Value::String(t) => vec![t.as_str()],
            Value::Array(ts) => ts.iter().filter_map(Value::as_str).collect(),
            _ => vec![],
        };
        let fits = types.iter().any(|t| match *t {
            "null" => value.is_null(),
            "string" => value.is_string(),
            "boolean" => value.is_boolean(),
            "integer" => value.is_i64() || value.is_u64(),
            "number" => value.is_number(),
            "array" => value.is_array(),
            "object" => value.is_object(),
            _ => false,
        });
        if !fits {
            return Err(format!("{at}: {value} is not of type {ty}"));
        }
    }
    if let Some(options) = schema.get("enum").and_then(Value::as_array) {
        if !options.contains(value) {
            return Err(format!("{at}: {value} is not one of {options:?}"));
        }
    }
    if let (Some(items), Some(values)) = (schema.get("items"), value.as_array()) {
        for (i, v) in values.iter().enumerate() {
            validate(doc, items, v, &format!("{at}[{i}]"))?;
        }
    }
    if let Some(object) = value.as_object() {
        let props = schema.get("properties").and_then(Value::as_object);
        for name in schema
            .get("required")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let name = name.as_str().unwrap_or_default();
            if !object.contains_key(name) {
                return Err(format!("{at}: required `{name}` missing in {value}"));
            }
        }
        if let Some(props) = props {
            let open = schema
                .get("additionalProperties")
                .is_some_and(|a| a != &Value::Bool(false));
            for (name, v) in object {
                match props.get(name) {
                    Some(p) => validate(doc, p, v, &format!("{at}.{name}"))?,
                    None if open => {}
                    None => return Err(format!("{at}: `{name}` is not documented ({value})")),
                }
            }
        }
    }
    Ok(())
}

fn resolve<'a>(doc: &'a Value, schema: &'a Value) -> &'a Value {
    match schema.get("$ref").and_then(Value::as_str) {
        Some(r) => &doc["components"]["schemas"][r.trim_start_matches("#/components/schemas/")],
        None => schema,
    }
}

/// What the document says of one answer; panics when the status is not documented or the body
/// does not fit.
struct Checker {
    doc: Value,
    seen: BTreeSet<(String, String, u16)>,
}

impl Checker {
    fn check(&mut self, request_method: &str, template: &str, response: &EndpointResponse) {
        let method = request_method.to_lowercase();
        let op = &self.doc["paths"][template][method.as_str()];
        if !op.is_object() {
            // Another method: 405 with `Allow` naming the documented one, and the error body.
            assert_eq!(response.status, 405, "{request_method} {template}");
            let allow = response.header("allow").expect("Allow").to_lowercase();
            assert!(self.doc["paths"][template][allow.as_str()].is_object());
            let body: Value = serde_json::from_slice(&response.body).expect("JSON body");
            let error = json!({"$ref": "#/components/schemas/ErrorBody"});
            validate(&self.doc, &error, &body, "$").expect("the error body");
            return;
        }
        assert!(op.is_object(), "{request_method} {template} is documented");
        let status = response.status.to_string();
        let documented = &op["responses"][status.as_str()];
        assert!(
            documented.is_object(),
            "{request_method} {template}: status {status} is not documented ({})",
            String::from_utf8_lossy(&response.body)
        );
        match documented["content"].as_object() {
            None => assert!(
                response.body.is_empty(),
                "{template} {status}: no body documented"
            ),
            Some(content) => {
                let media = response
                    .header("content-type")
                    .unwrap_or_default()
                    .split(';')
                    .next()
                    .unwrap_or_default()
                    .to_owned();
                let entry = content
                    .get(&media)
                    .unwrap_or_else(|| panic!("{template} {status}: {media} is not documented"));
                if media == "application/json" {
                    let body: Value = serde_json::from_slice(&response.body).expect("JSON body");
                    if let Err(e) = validate(&self.doc, &entry["schema"], &body, "$") {
                        panic!("{request_method} {template} {status}: {e}");
                    }
                }
            }
        }
        self.seen.insert((
            request_method.to_owned(),
            template.to_owned(),
            response.status,
        ));
    }
}

/// Sends `request`, checks its answer against the document: status, JSON body, response.
async fn drive(
    auth: &GlideAuth,
    checker: &mut Checker,
    request: EndpointRequest,
) -> (u16, Value, EndpointResponse) {
    let method = request.method.clone();
    let route = auth.match_route(&request.path).expect("one of our routes");
    let template = auth
        .route_table()
        .iter()
        .find(|m| m.route == route)
        .map(|m| m.template())
        .expect("mounted");
    let (status, body, response) = call(auth, request).await;
    checker.check(&method, &template, &response);
    (status, body, response)
}

fn join(a: &str, b: &str) -> String {
    [a, b]
        .iter()
        .filter(|c| !c.is_empty())
        .copied()
        .collect::<Vec<_>>()
        .join("; ")
}

async fn otp(sandbox: &Sandbox, phone: &str) -> String {
    let answer: Value = reqwest::Client::new()
        .post(format!(
            "{}/sandbox/legacy/otp",
            sandbox.base_url().as_str().trim_end_matches('/')
        ))
        .header("content-type", "application/json")
        .body(json!({ "phone_number": phone }).to_string())
        .send()
        .await
        .expect("sandbox answers")
        .text()
        .await
        .map(|text| serde_json::from_str(&text).expect("JSON"))
        .expect("a body");
    answer["code"].as_str().expect("code").to_owned()
}

#[tokio::test]
async fn every_route_answers_as_documented() {
    let (sandbox, auth) = engine(everything).await;
    let base = "/api/magical-auth";
    let doc = document(&auth, base).await;
    let mut c = Checker {
        doc,
        seen: BTreeSet::new(),
    };
    let api = |name: &str| format!("{base}/{name}");

    // Assets and the document itself; a wrong method.
    drive(&auth, &mut c, get(&api("openapi.json"), None, "")).await;
    drive(&auth, &mut c, get(&api("glide.js"), None, "")).await;
    drive(&auth, &mut c, get("/glide-complete", None, "")).await;
    let mut wrong = get(&api("prepare"), None, "");
    wrong.method = "PUT".into();
    assert_eq!(drive(&auth, &mut c, wrong).await.0, 405);

    // TS43 end to end.
    let prepare = json!({"use_case": "VerifyPhoneNumber", "phone_number": "+15555550100", "client_info": {"user_agent": ANDROID}});
    let (status, prepared, response) =
        drive(&auth, &mut c, post(&api("prepare"), prepare, "")).await;
    assert_eq!(status, 200);
    let key = prepared["session"]["session_key"]
        .as_str()
        .expect("key")
        .to_owned();
    let binding = cookies(&response);
    let (status, _, _) = drive(
        &auth,
        &mut c,
        post(&api("report-invocation"), json!({"session_id": key}), ""),
    )
    .await;
    assert_eq!(status, 200);
    let (status, _, _) = drive(
        &auth,
        &mut c,
        get(&api(&format!("status/{key}")), None, &binding),
    )
    .await;
    assert_eq!(status, 200);
    let credential = sandbox
        .control()
        .ts43_credential(&key, ORIGIN, None)
        .expect("credential");
    let process = json!({"session": {"session_key": key}, "credential": credential, "use_case": "VerifyPhoneNumber"});
    let (status, body, response) =
        drive(&auth, &mut c, post(&api("process"), process, &binding)).await;
    assert_eq!(status, 200, "{body}");
    let session = cookies(&response);
    assert!(!session.is_empty());

    // Refusals: bad body, not eligible, unknown flow, no binding cookie, risk denial.
    assert_eq!(
        drive(
            &auth,
            &mut c,
            post(&api("prepare"), json!({"use_case": 3}), "")
        )
        .await
        .0,
        400
    );
    let not_eligible = json!({"use_case": "VerifyPhoneNumber", "phone_number": "+15555550106", "client_info": {"user_agent": ANDROID}});
    assert_eq!(
        drive(&auth, &mut c, post(&api("prepare"), not_eligible, ""))
            .await
            .0,
        422
    );
    assert_eq!(
        drive(&auth, &mut c, get(&api("status/nope"), None, ""))
            .await
            .0,
        404
    );
    let process = json!({"session": {"session_key": key}, "credential": "x", "use_case": "VerifyPhoneNumber"});
    let (status, _, _) = drive(&auth, &mut c, post(&api("process"), process, "")).await;
    assert!(status >= 400);
    let risky = json!({"use_case": "VerifyPhoneNumber", "phone_number": "+15555550101", "client_info": {"user_agent": ANDROID}});
    let (_, prepared, response) = drive(&auth, &mut c, post(&api("prepare"), risky, "")).await;
    let risky_key = prepared["session"]["session_key"]
        .as_str()
        .expect("key")
        .to_owned();
    let credential = sandbox
        .control()
        .ts43_credential(&risky_key, ORIGIN, None)
        .expect("credential");
    let process = json!({"session": {"session_key": risky_key}, "credential": credential, "use_case": "VerifyPhoneNumber"});
    let (status, body, _) = drive(
        &auth,
        &mut c,
        post(&api("process"), process, &cookies(&response)),
    )
    .await;
    assert_eq!(status, 403, "{body}");

    // Desktop: the phone has not finished within the wait (202).
    let desktop = json!({"use_case": "VerifyPhoneNumber", "phone_number": "+15555550100", "client_info": {"user_agent": DESKTOP}});
    let (_, prepared, response) = drive(&auth, &mut c, post(&api("prepare"), desktop, "")).await;
    let desk_key = prepared["session"]["session_key"]
        .as_str()
        .expect("key")
        .to_owned();
    let process = json!({"session": {"session_key": desk_key}, "credential": desk_key, "use_case": "VerifyPhoneNumber"});
    let (status, body, _) = drive(
        &auth,
        &mut c,
        post(&api("process"), process, &cookies(&response)),
    )
    .await;
    assert_eq!(status, 202, "{body}");

    // Link: complete without and with the binding cookie.
    let link = json!({"use_case": "VerifyPhoneNumber", "phone_number": "+15555550100", "client_info": {"user_agent": IPHONE}});
    let (_, prepared, response) = drive(&auth, &mut c, post(&api("prepare"), link, "")).await;
    let link_key = prepared["session"]["session_key"]
        .as_str()
        .expect("key")
        .to_owned();
    let redirect = sandbox.control().link_approve(&link_key).expect("approve");
    let agg_code = redirect
        .split(['#', '&'])
        .find_map(|p| p.strip_prefix("agg_code="))
        .expect("agg_code")
        .to_owned();
    let complete = json!({"agg_code": agg_code, "session_key": link_key, "user_agent": IPHONE});
    assert_eq!(
        drive(&auth, &mut c, post(&api("complete"), complete.clone(), ""))
            .await
            .0,
        403
    );
    assert_eq!(
        drive(
            &auth,
            &mut c,
            post(&api("complete"), complete, &cookies(&response))
        )
        .await
        .0,
        204
    );

    // Sessions of the verified number.
    assert_eq!(
        drive(&auth, &mut c, get(&api("sessions"), None, ""))
            .await
            .0,
        401
    );
    let (status, list, _) = drive(&auth, &mut c, get(&api("sessions"), None, &session)).await;
    assert_eq!(status, 200, "{list}");
    assert_eq!(
        drive(
            &auth,
            &mut c,
            post(&api("sessions/revoke"), json!({"handle": "nope"}), &session)
        )
        .await
        .0,
        404
    );
    assert_eq!(
        drive(
            &auth,
            &mut c,
            post(&api("sessions/revoke-others"), json!({}), &session)
        )
        .await
        .0,
        204
    );
    assert_eq!(
        drive(
            &auth,
            &mut c,
            post(&api("sessions/revoke-all"), json!({}), &session)
        )
        .await
        .0,
        204
    );
    assert_eq!(
        drive(&auth, &mut c, post(&api("logout"), json!({}), ""))
            .await
            .0,
        204
    );

    // Legacy Magic Auth: a code by SMS, a wrong one, the right one; server-side auth.
    let start = json!({"phone_number": "+15555550106", "fallback_channel": "SMS"});
    let (status, body, response) =
        drive(&auth, &mut c, post(&api("magic-auth/start"), start, "")).await;
    assert_eq!(status, 200, "{body}");
    let pending = cookies(&response);
    let (status, body, _) = drive(
        &auth,
        &mut c,
        post(
            &api("magic-auth/verify"),
            json!({"code": "000000"}),
            &pending,
        ),
    )
    .await;
    assert!(status >= 400, "{body}");
    let code = otp(&sandbox, "+15555550106").await;
    let (status, body, _) = drive(
        &auth,
        &mut c,
        post(&api("magic-auth/verify"), json!({"code": code}), &pending),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let (status, body, _) = drive(
        &auth,
        &mut c,
        post(
            &api("magic-auth/start"),
            json!({"phone_number": "+15555550100"}),
            "",
        ),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let (status, body, response) = drive(
        &auth,
        &mut c,
        post(
            &api("magic-auth/start-server-auth"),
            json!({"phone_number": "+15555550100"}),
            "",
        ),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let id = body["session_id"].as_str().expect("session_id").to_owned();
    let query = format!("session_id={id}");
    let (status, body, _) = drive(
        &auth,
        &mut c,
        get(
            &api("magic-auth/check-server-auth"),
            Some(&query),
            &cookies(&response),
        ),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        drive(
            &auth,
            &mut c,
            get(
                &api("magic-auth/check-server-auth"),
                Some("session_id=x"),
                ""
            )
        )
        .await
        .0 / 100,
        4
    );

    // Number Verify: the redirects.
    let (status, body, response) = drive(
        &auth,
        &mut c,
        get(
            &api("number-verify/start"),
            Some("phone_number=%2B15555550100"),
            "",
        ),
    )
    .await;
    assert_eq!(status, 302, "{body}");
    let location = url::Url::parse(response.header("location").expect("Location")).expect("URL");
    let state = location
        .query_pairs()
        .find(|(k, _)| k == "state")
        .map(|(_, v)| v.into_owned())
        .expect("state");
    let (status, _, _) = drive(
        &auth,
        &mut c,
        get(&api("number-verify/callback"), Some("code=x&state=y"), ""),
    )
    .await;
    assert_eq!(status, 403, "no state cookie");
    let query = format!("code=wrong&state={state}");
    let (status, _, _) = drive(
        &auth,
        &mut c,
        get(
            &api("number-verify/callback"),
            Some(&query),
            &cookies(&response),
        ),
    )
    .await;
    assert_eq!(status, 302, "a failure goes back to the return path");

    // The verification chain.
    let (status, body, response) = drive(
        &auth,
        &mut c,
        post(
            &api("verification/start"),
            json!({"phone_number": "+15555550106", "client_info": {"user_agent": ANDROID}}),
            "",
        ),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let chain = cookies(&response);
    assert_eq!(
        drive(&auth, &mut c, get(&api("verification"), None, &chain))
            .await
            .0,
        200
    );
    assert_eq!(
        drive(&auth, &mut c, get(&api("verification"), None, ""))
            .await
            .0
            / 100,
        4
    );
    let failed = json!({"event": "step_failed", "step": "magical_auth", "reason": "not_eligible"});
    // Before the server saw Magical Auth end: refused.
    let (status, body, _) = drive(
        &auth,
        &mut c,
        post(&api("verification/advance"), failed.clone(), &chain),
    )
    .await;
    assert_eq!(status, 409, "{body}");
    // This browser's prepare for the chain's number, which Glide refuses as not eligible.
    let (status, body, _) = drive(
        &auth,
        &mut c,
        post(
            &api("prepare"),
            json!({"use_case": "VerifyPhoneNumber", "phone_number": "+15555550106", "client_info": {"user_agent": ANDROID}}),
            &chain,
        ),
    )
    .await;
    assert_eq!(status, 422, "{body}");
    let (status, body, _) = drive(
        &auth,
        &mut c,
        post(&api("verification/advance"), failed, &chain),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let (status, body, _) = drive(
        &auth,
        &mut c,
        post(
            &api("verification/advance"),
            json!({"event": "send", "step": body["step"]}),
            &chain,
        ),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        drive(
            &auth,
            &mut c,
            post(
                &api("verification/advance"),
                json!({"event": "nope"}),
                &join(&chain, "")
            )
        )
        .await
        .0,
        400
    );

    // Every mounted route was driven.
    let driven: BTreeSet<(String, String)> = c
        .seen
        .iter()
        .map(|(m, p, _)| (m.clone(), p.clone()))
        .collect();
    for route in table(&auth) {
        assert!(driven.contains(&route), "{route:?} was not driven");
    }
}

#[test]
fn the_schema_check_refuses_what_does_not_fit() {
    let doc = json!({"components": {"schemas": {"E": {
        "type": "object",
        "properties": {"code": {"type": "string"}, "n": {"type": ["integer", "null"]}},
        "required": ["code"]
    }}}});
    let e = json!({"$ref": "#/components/schemas/E"});
    assert!(validate(&doc, &e, &json!({"code": "X", "n": 1}), "$").is_ok());
    assert!(validate(&doc, &e, &json!({"code": "X", "n": null}), "$").is_ok());
    assert!(
        validate(&doc, &e, &json!({"n": 1}), "$").is_err(),
        "required"
    );
    assert!(
        validate(&doc, &e, &json!({"code": 1}), "$").is_err(),
        "type"
    );
    assert!(
        validate(&doc, &e, &json!({"code": "X", "extra": 1}), "$").is_err(),
        "undocumented"
    );
    let one = json!({"oneOf": [{"type": "null"}, e]});
    assert!(validate(&doc, &one, &Value::Null, "$").is_ok());
    assert!(validate(&doc, &one, &json!("x"), "$").is_err());
}
