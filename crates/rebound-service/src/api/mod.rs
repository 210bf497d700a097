//! The JSON API under `/api/v1/` (issue 16, docs/api.md): reads of what
//! `rebound health`, `status`, `plan`, `breakers`, … report, and the
//! mutations the original service offered over HTTP (run a scraper, run a
//! workflow, run a scheduling pass) plus the operator's resets.
//!
//! Every route is registered through utoipa-axum's `routes!`, which takes
//! the handler's `#[utoipa::path]` with it: a route cannot exist without
//! its entry in the OpenAPI 3.1 document served at `/api/v1/openapi.json`.
//!
//! Around the routes, outermost first:
//! - [`finish`]: turns every error answer that is not yet a problem
//!   document (axum's own 404, 405, 413, rejections) into one (RFC 9457,
//!   `application/problem+json`), and masks the config's secrets in every
//!   body, so no response can carry one;
//! - [`guard`]: the bearer token (`[server] token`), compared in constant
//!   time. Mutations always need it (403 when none is configured, saying how
//!   to set one); reads need it only on a `listen` beyond loopback without
//!   `public_read`;
//! - a body limit of [`BODY_LIMIT`].

pub(crate) mod mutations;
pub(crate) mod reads;
pub mod reports;
pub mod types;

use crate::http::Web;
use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{DefaultBodyLimit, FromRequest, FromRequestParts, Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get};
use serde::de::DeserializeOwned;
use sha2::{Digest, Sha256};
use std::sync::Arc;
use subtle::ConstantTimeEq;
use types::Problem;
use utoipa::OpenApi;
use utoipa::openapi::path::Operation;
use utoipa::openapi::{RefOr, Response as DocResponse};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

/// Request bodies are small JSON objects; anything larger is refused
/// (413) before it is read.
pub const BODY_LIMIT: usize = 64 * 1024;

/// Bodies of answers are buffered to mask secrets; none is near this.
const RESPONSE_LIMIT: usize = 256 * 1024 * 1024;

const PROBLEM_JSON: &str = "application/problem+json";

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Rebound API",
        description = "The JSON API of `rebound serve`: what is broken and since when, the history of runs and calls, the schedule's decisions, and the mutations that run work now. Every error is an RFC 9457 problem document. See docs/api.md.",
        license(name = "See the repository")
    ),
    components(schemas(Problem)),
    modifiers(&BearerScheme),
    tags(
        (name = "reports", description = "What is broken, fresh, locked out or alerting"),
        (name = "history", description = "Runs, calls and decisions"),
        (name = "mutations", description = "Work started now (bearer token required)")
    )
)]
struct ApiDoc;

/// Declares the bearer scheme the mutations (and, off loopback, the reads)
/// require.
struct BearerScheme;

impl utoipa::Modify for BearerScheme {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
    }
}

/// The API's routes, with the state they need for the guard.
pub(crate) fn router(web: Arc<Web>) -> Router<Arc<Web>> {
    let (routes, mut doc) = OpenApiRouter::with_openapi(ApiDoc::openapi())
        .routes(routes!(reads::health))
        .routes(routes!(reads::freshness))
        .routes(routes!(reads::sources))
        .routes(routes!(reads::lockouts))
        .routes(routes!(reads::alerts))
        .routes(routes!(reads::runs))
        .routes(routes!(reads::run))
        .routes(routes!(reads::calls))
        .routes(routes!(reads::decisions))
        .routes(routes!(reads::plan))
        .routes(routes!(mutations::scrape))
        .routes(routes!(mutations::run_workflow))
        .routes(routes!(mutations::evaluate))
        .routes(routes!(mutations::reset_breaker))
        .routes(routes!(mutations::reset_lockouts))
        .split_for_parts();
    document_problems(&mut doc);
    let doc: Arc<str> = doc
        .to_pretty_json()
        .unwrap_or_else(|error| format!("{{\"error\": \"{error}\"}}"))
        .into();
    routes
        .route(
            "/api/v1/openapi.json",
            // Refuses a query parameter, as every endpoint does (it was
            // ignored here: `openapi.json?x=1` answered 200).
            get(move |_: NoQuery| {
                let doc = doc.clone();
                async move {
                    (
                        [(header::CONTENT_TYPE, "application/json")],
                        doc.to_string(),
                    )
                }
            }),
        )
        .route("/api/v1", any(no_such_endpoint))
        .route("/api/v1/", any(no_such_endpoint))
        .route("/api/v1/{*rest}", any(no_such_endpoint))
        .layer(DefaultBodyLimit::max(BODY_LIMIT))
        .layer(middleware::from_fn_with_state(web.clone(), guard))
        .layer(middleware::from_fn_with_state(web, finish))
}

/// Adds to every operation the problem answers any request may get (bad
/// input, authentication, unknown names, body limits, store failures), so
/// each handler documents only its success.
fn document_problems(doc: &mut utoipa::openapi::OpenApi) {
    use utoipa::openapi::{ContentBuilder, Ref, ResponseBuilder};
    let problem = |text: &str| -> RefOr<DocResponse> {
        RefOr::T(
            ResponseBuilder::new()
                .description(text)
                .content(
                    PROBLEM_JSON,
                    ContentBuilder::new()
                        .schema(Some(Ref::from_schema_name("Problem")))
                        .build(),
                )
                .build(),
        )
    };
    let add = |op: &mut Operation, mutation: bool| {
        let mut statuses = vec![
            (
                "400",
                "Bad input: the detail names the parameter and what is expected",
            ),
            ("401", "A bearer token is needed and was missing or wrong"),
            (
                "403",
                "No token is configured for what needs one (the detail says how to set it)",
            ),
            (
                "404",
                "No such run, scraper, workflow or source (the detail lists those that exist)",
            ),
            ("500", "The history store failed"),
        ];
        if mutation {
            statuses.push(("413", "The request body is larger than 64 KB"));
            statuses.push(("415", "The request body is not application/json"));
            statuses.push((
                "409",
                "This process serves --role web: it runs and schedules nothing",
            ));
        }
        for (status, text) in statuses {
            op.responses
                .responses
                .entry(status.to_string())
                .or_insert_with(|| problem(text));
        }
        if mutation {
            let requirement =
                utoipa::openapi::security::SecurityRequirement::new("bearer", Vec::<String>::new());
            op.security.get_or_insert_with(Vec::new).push(requirement);
        }
    };
    for item in doc.paths.paths.values_mut() {
        if let Some(op) = item.get.as_mut() {
            add(op, false);
        }
        if let Some(op) = item.post.as_mut() {
            add(op, true);
        }
    }
}

impl Problem {
    /// A problem document. The detail often quotes what the request sent
    /// (a name, a parameter's value), so its control and bidirectional
    /// characters are written as escapes (`\u{202e}`), as in the CLI's
    /// messages: a U+202E in a scraper's name turned the rest of the
    /// detail around wherever it was shown, and JSON leaves it as it is.
    pub fn new(status: StatusCode, detail: impl Into<String>) -> Problem {
        Problem {
            kind: "about:blank".to_string(),
            title: status.canonical_reason().unwrap_or("Error").to_string(),
            status: status.as_u16(),
            detail: rebound_domain::message::escape_controls(&detail.into(), false),
        }
    }

    pub fn bad_request(detail: impl Into<String>) -> Problem {
        Problem::new(StatusCode::BAD_REQUEST, detail)
    }

    pub fn not_found(detail: impl Into<String>) -> Problem {
        Problem::new(StatusCode::NOT_FOUND, detail)
    }

    /// A failure of the store or another part of the service: the detail
    /// says what was being done (secrets are masked on the way out).
    pub fn internal(what: &str, error: impl std::fmt::Display) -> Problem {
        tracing::error!(%error, "API: {what} failed.");
        Problem::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("{what} failed: {error}"),
        )
    }
}

impl IntoResponse for Problem {
    fn into_response(self) -> Response {
        let status = StatusCode::from_u16(self.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let body = serde_json::to_vec(&self).unwrap_or_default();
        (
            status,
            [(header::CONTENT_TYPE, HeaderValue::from_static(PROBLEM_JSON))],
            body,
        )
            .into_response()
    }
}

/// `/api/v1/…` that is not an endpoint.
async fn no_such_endpoint(method: Method, uri: axum::http::Uri) -> Problem {
    Problem::not_found(format!(
        "no endpoint {method} {}; the endpoints are listed in /api/v1/openapi.json",
        uri.path()
    ))
}

/// The bearer token check; see the module docs.
pub(crate) async fn guard(State(web): State<Arc<Web>>, request: Request, next: Next) -> Response {
    let server = &web.engine.plan().server;
    let read = matches!(*request.method(), Method::GET | Method::HEAD);
    if read && !server.reads_need_token() {
        return next.run(request).await;
    }
    let Some(token) = &server.token else {
        let detail = if read {
            "reads need the bearer token when [server] listen is reachable from other machines, and no token is configured: set [server] token = \"${REBOUND_API_TOKEN}\" in the config and export REBOUND_API_TOKEN, or set [server] public_read = true"
        } else {
            "mutations are disabled because no token is configured: set [server] token = \"${REBOUND_API_TOKEN}\" in the config, export REBOUND_API_TOKEN (at least 16 characters) and restart rebound serve; then send Authorization: Bearer <token>"
        };
        return Problem::new(StatusCode::FORBIDDEN, detail).into_response();
    };
    match bearer(request.headers()) {
        Some(given) if same_token(given, token.expose()) => next.run(request).await,
        given => {
            let (challenge, detail) = match given {
                None => (
                    "Bearer realm=\"rebound\"",
                    "this request needs Authorization: Bearer <token> ([server] token of the config)",
                ),
                Some(_) => (
                    "Bearer realm=\"rebound\", error=\"invalid_token\"",
                    "the bearer token is not the one configured in [server] token",
                ),
            };
            let mut response = Problem::new(StatusCode::UNAUTHORIZED, detail).into_response();
            response.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static(challenge),
            );
            response
        }
    }
}

/// The token of `Authorization: Bearer <token>`, if the header is one.
fn bearer(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| token.trim())
        .filter(|t| !t.is_empty())
}

/// Compares digests in constant time: equal-length inputs, so neither the
/// content nor the length of the configured token shows in the timing.
fn same_token(given: &str, configured: &str) -> bool {
    let given = Sha256::digest(given.as_bytes());
    let configured = Sha256::digest(configured.as_bytes());
    given.as_slice().ct_eq(configured.as_slice()).into()
}

/// Every answer leaves through here: errors become problem documents, and
/// the config's secrets are masked in every body.
async fn finish(State(web): State<Arc<Web>>, request: Request, next: Next) -> Response {
    let method = request.method().clone();
    let path = request.uri().path().to_string();
    let response = next.run(request).await;
    let (mut parts, body) = response.into_parts();
    let Ok(bytes) = axum::body::to_bytes(body, RESPONSE_LIMIT).await else {
        return Problem::internal("writing the answer", "the body could not be read")
            .into_response();
    };
    let is_problem = parts
        .headers
        .get(header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(PROBLEM_JSON.as_bytes()));
    let status = parts.status;
    let bytes = if (status.is_client_error() || status.is_server_error()) && !is_problem {
        let text = String::from_utf8_lossy(&bytes).trim().to_string();
        let detail = match status {
            // axum adds the Allow header after this layer has run.
            StatusCode::METHOD_NOT_ALLOWED => format!(
                "{path} does not answer {method}; the Allow header lists the methods it does, /api/v1/openapi.json every endpoint"
            ),
            StatusCode::NOT_FOUND if text.is_empty() => format!(
                "no endpoint {method} {path}; the endpoints are listed in /api/v1/openapi.json"
            ),
            StatusCode::PAYLOAD_TOO_LARGE => {
                format!("the request body is larger than {} KB", BODY_LIMIT / 1024)
            }
            _ if text.is_empty() => status.canonical_reason().unwrap_or("error").to_string(),
            _ => text,
        };
        parts
            .headers
            .insert(header::CONTENT_TYPE, HeaderValue::from_static(PROBLEM_JSON));
        Bytes::from(serde_json::to_vec(&Problem::new(status, detail)).unwrap_or_default())
    } else {
        bytes
    };
    let redactor = &web.engine.plan().redactor;
    let bytes = if redactor.finds_secret_in(&bytes) {
        Bytes::from(redactor.redact_bytes(&bytes).into_owned())
    } else {
        bytes
    };
    parts.headers.remove(header::CONTENT_LENGTH);
    Response::from_parts(parts, Body::from(bytes))
}

/// The `charset` parameter of a `Content-Type` when it names anything but
/// UTF-8.
fn non_utf8_charset(content_type: &str) -> Option<String> {
    content_type.split(';').skip(1).find_map(|parameter| {
        let (name, value) = parameter.split_once('=')?;
        if !name.trim().eq_ignore_ascii_case("charset") {
            return None;
        }
        let value = value.trim().trim_matches('"');
        let utf8 = value.eq_ignore_ascii_case("utf-8") || value.eq_ignore_ascii_case("utf8");
        (!utf8).then(|| value.to_string())
    })
}

/// The request's body, whole, within the body limit and the body
/// deadline ([`crate::http::Patience`]), refused as a problem document.
async fn read_body<S: Send + Sync>(request: Request, state: &S) -> Result<Bytes, Problem> {
    // An announced length past the limit is refused before waiting for
    // the body: a client announcing 100 KB and sending less held the
    // request open unanswered.
    let announced = request
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok());
    if announced.is_some_and(|n| n > BODY_LIMIT as u64) {
        return Err(Problem::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!("the request body is larger than {} KB", BODY_LIMIT / 1024),
        ));
    }
    // The whole body within one deadline ([`crate::http::Patience`]),
    // however steadily its bytes come.
    let patience = request
        .extensions()
        .get::<crate::http::Patience>()
        .copied()
        .unwrap_or_default();
    let read = tokio::time::timeout(patience.body, Bytes::from_request(request, state));
    let Ok(read) = read.await else {
        return Err(Problem::new(
            StatusCode::REQUEST_TIMEOUT,
            format!(
                "the request body did not arrive whole within {} s",
                patience.body.as_secs_f64()
            ),
        ));
    };
    let bytes = read.map_err(|rejection| match rejection.status() {
        StatusCode::PAYLOAD_TOO_LARGE => Problem::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!("the request body is larger than {} KB", BODY_LIMIT / 1024),
        ),
        // hyper's words ("Failed to buffer the request body: error reading
        // a body from connection") say nothing of the request's fault.
        StatusCode::BAD_REQUEST => Problem::bad_request(
            "request body: could not be read whole: the connection broke off, or its chunked encoding is malformed",
        ),
        status => Problem::new(status, format!("request body: {}", rejection.body_text())),
    })?;
    Ok(bytes)
}

/// A JSON request body, refused as a problem document naming what is
/// wrong (and where) instead of axum's plain-text rejection. An empty body
/// is `T::default()`: every request body of this API is optional or has
/// required fields serde reports by name.
pub(crate) struct JsonBody<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned + Default> FromRequest<S> for JsonBody<T> {
    type Rejection = Problem;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        let content_type = request
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok());
        let json = content_type.map(|v| {
            let essence = v.split(';').next().unwrap_or("").trim();
            essence.eq_ignore_ascii_case("application/json")
        });
        // JSON is UTF-8 (RFC 8259); a body said to be in another charset
        // would be read wrongly, so it is refused rather than guessed at.
        if let Some(charset) = content_type.and_then(non_utf8_charset) {
            return Err(Problem::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                format!(
                    "request body: JSON is UTF-8; charset={} is not accepted",
                    rebound_domain::message::escape_controls(&charset, false)
                ),
            ));
        }
        let bytes = read_body(request, state).await?;
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return Ok(JsonBody(T::default()));
        }
        if json == Some(false) {
            return Err(Problem::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "request body: expected Content-Type: application/json",
            ));
        }
        // JSON can carry a NUL only as `\u0000`; no name or value here may
        // hold one, and PostgreSQL refuses it in text (a 500 before).
        if bytes.windows(6).any(|w| w == b"\\u0000") {
            return Err(Problem::bad_request(
                "request body: holds a NUL character (\\u0000), which no name or value can contain",
            ));
        }
        // serde reads an array as a struct by position (`["daily",
        // "2026-12-07"]` was a scrape request, no field named or checked);
        // every body of this API is an object.
        if bytes.iter().find(|b| !b.is_ascii_whitespace()) != Some(&b'{') {
            return Err(Problem::bad_request(
                "request body: expected a JSON object ({\"name\": value, ...})",
            ));
        }
        serde_json::from_slice(&bytes)
            .map(JsonBody)
            .map_err(|e| Problem::bad_request(format!("request body: {e}")))
    }
}

/// The body of a mutation that takes none (`POST /api/v1/evaluate`, a
/// breaker's reset): nothing, or an empty JSON object, which many clients
/// send by default. Anything else is a 400 naming its first field, as a
/// body's unknown field is elsewhere: it was read by no one, so `{"source":
/// "other"}` sent to `/breakers/up/reset` closed `up`'s breaker.
pub(crate) struct NoBody;

impl<S: Send + Sync> FromRequest<S> for NoBody {
    type Rejection = Problem;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        let bytes = read_body(request, state).await?;
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return Ok(NoBody);
        }
        match serde_json::from_slice::<serde_json::Map<String, serde_json::Value>>(&bytes) {
            Ok(fields) => match fields.keys().next() {
                None => Ok(NoBody),
                Some(name) => Err(Problem::bad_request(format!(
                    "request body: unknown field `{name}`, this endpoint takes no request body"
                ))),
            },
            Err(_) => Err(Problem::bad_request(
                "request body: this endpoint takes no request body; send none",
            )),
        }
    }
}

/// A 400 for the first query parameter that is not UTF-8 once decoded.
/// Such bytes were read as U+FFFD, so `?workflow=%C3%28` filtered on
/// "\u{fffd}(" and answered an empty page, as if nothing had run, where a
/// path segment like it is refused.
fn refuse_non_utf8_query(uri: &axum::http::Uri) -> Result<(), Problem> {
    let Some(piece) = uri.query().and_then(|q| {
        q.split('&').find(|p| {
            percent_encoding::percent_decode_str(p)
                .decode_utf8()
                .is_err()
        })
    }) else {
        return Ok(());
    };
    Err(Problem::bad_request(format!(
        "query string: \"{piece}\" is not UTF-8 text once its %XX escapes are decoded"
    )))
}

/// The query string, refused as a problem document naming the parameter.
pub(crate) struct QueryParams<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequestParts<S> for QueryParams<T> {
    type Rejection = Problem;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        refuse_non_utf8_query(&parts.uri)?;
        axum::extract::Query::<T>::try_from_uri(&parts.uri)
            .map(|q| QueryParams(q.0))
            .map_err(|rejection| {
                let text = rejection.body_text();
                let text = text
                    .strip_prefix("Failed to deserialize query string: ")
                    .unwrap_or(&text);
                Problem::bad_request(format!("query string: {text}"))
            })
    }
}

/// The query string of an endpoint that takes no parameters: empty, or a
/// 400 naming the first parameter, as an endpoint with parameters refuses
/// one it does not know (it was ignored: `/freshness?x=1` answered 200
/// while `/runs?x=1` was a 400).
pub(crate) struct NoQuery;

impl<S: Send + Sync> FromRequestParts<S> for NoQuery {
    type Rejection = Problem;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        refuse_non_utf8_query(&parts.uri)?;
        let pairs = axum::extract::Query::<Vec<(String, String)>>::try_from_uri(&parts.uri)
            .map(|q| q.0)
            .unwrap_or_default();
        match pairs.first() {
            None => Ok(NoQuery),
            Some((name, _)) => Err(Problem::bad_request(format!(
                "query string: unknown field `{name}`, this endpoint takes no query parameters"
            ))),
        }
    }
}

/// A path segment (a name or an id), refused as a problem document.
pub(crate) struct PathParam(pub String);

impl<S: Send + Sync> FromRequestParts<S> for PathParam {
    type Rejection = Problem;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        axum::extract::Path::<String>::from_request_parts(parts, state)
            .await
            .map(|p| PathParam(p.0))
            .map_err(|rejection| Problem::bad_request(format!("path: {}", rejection.body_text())))
    }
}

/// The house style for a name the config does not define: 404 naming
/// those it does.
pub(crate) fn unknown<'a>(
    kind: &str,
    name: &str,
    known: impl Iterator<Item = &'a String>,
) -> Problem {
    let known: Vec<&str> = known.map(String::as_str).collect();
    Problem::not_found(format!(
        "unknown {kind} \"{name}\"; the config defines: {}",
        if known.is_empty() {
            "(none)".to_string()
        } else {
            known.join(", ")
        }
    ))
}
