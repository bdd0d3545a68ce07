//! GraphQL over HTTP, as its specification describes it: POST with `application/json` bodies
//! (anything else: 415) and GET for queries only (a mutation: 405); the answer's media type
//! negotiated from `Accept` (`application/graphql-response+json`, or `application/json` when
//! the client asks for it, for `*/*` or for nothing; otherwise 406); request errors (parse,
//! validation, limits) without a `data` key, and with status 400 under
//! `application/graphql-response+json`. Batching is not supported.
//!
//! Before anything is parsed: the Principal is authenticated and the rate limit applied.

use std::{
    sync::Arc,
    time::{Duration, Instant},
};

use actix_web::{HttpRequest, HttpResponse, HttpResponseBuilder, http::StatusCode, web};
use serde_json::json;
use tracing::Instrument;

use crate::{
    alerts::{self, Alerts},
    auth::{
        Principal,
        principal::{Authenticator, authenticate},
    },
    config::{PersistedQueries, Settings},
    context_cache::ContextCache,
    db::Db,
    error::AppError,
    graphql::{
        HubSchema, admin_reads, apq::AutoPersisted, context::RequestCtx, limits, registry::Registry,
    },
    http::{error_response::error_response_as, null_propagation},
    metrics::Metrics,
    ratelimit::{Decision, RateLimits},
    request::RequestMeta,
    usage::UsageMeter,
};

/// What `/graphql` (and `GET /tenant-context`, which runs the same way) uses around the
/// schema: authentication, admission (rate limits, their alerts, the counters), persisted
/// queries, and what runs after execution (the context cache's invalidation after writes, the
/// audit of a platform admin's reads). Built once by the wiring.
pub struct Endpoint {
    pub settings: Arc<Settings>,
    pub db: Db,
    pub authenticator: Authenticator,
    pub rate_limits: Arc<RateLimits>,
    /// Raising an alert when a tenant runs into its rate limit (`alerts`).
    pub alerts: Alerts,
    pub metrics: Arc<Metrics>,
    pub usage: Arc<UsageMeter>,
    pub contexts: Arc<ContextCache>,
    /// The operations allowed in `registered` persisted-query mode.
    pub registry: Option<Registry>,
    /// Automatic persisted queries (HUB_PERSISTED_QUERIES=auto).
    pub apq: Option<AutoPersisted>,
}

pub const GRAPHQL_RESPONSE_JSON: &str = "application/graphql-response+json";
pub const JSON: &str = "application/json";

/// The media type of the answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MediaType {
    Json,
    GraphqlResponseJson,
}

impl MediaType {
    fn as_str(self) -> &'static str {
        match self {
            MediaType::Json => JSON,
            MediaType::GraphqlResponseJson => GRAPHQL_RESPONSE_JSON,
        }
    }
}

/// Picks the answer's media type from `Accept` (by q-value; the specification's type wins a
/// tie). None: nothing acceptable.
pub fn negotiate(accept: Option<&str>) -> Option<MediaType> {
    let Some(accept) = accept.filter(|a| !a.trim().is_empty()) else {
        return Some(MediaType::Json);
    };
    let mut best: Option<(f32, MediaType)> = None;
    for range in accept.split(',') {
        let mut parts = range.split(';');
        let media = parts.next().unwrap_or("").trim().to_ascii_lowercase();
        let q = parts
            .filter_map(|p| p.trim().strip_prefix("q="))
            .find_map(|q| q.parse::<f32>().ok())
            .unwrap_or(1.0);
        let candidate = match media.as_str() {
            GRAPHQL_RESPONSE_JSON => MediaType::GraphqlResponseJson,
            JSON | "application/*" | "*/*" => MediaType::Json,
            _ => continue,
        };
        if q <= 0.0 {
            continue;
        }
        let better = match best {
            None => true,
            Some((bq, bm)) => {
                q > bq
                    || (q == bq
                        && candidate == MediaType::GraphqlResponseJson
                        && bm == MediaType::Json)
            }
        };
        if better {
            best = Some((q, candidate));
        }
    }
    best.map(|(_, m)| m)
}

/// Where the request is: a POST body (parsed only after the rate limiter) or a query string.
enum Source {
    Body(web::Bytes),
    Query,
}

pub async fn post(
    req: HttpRequest,
    body: Result<web::Bytes, actix_web::Error>,
    state: web::Data<Endpoint>,
    schema: web::Data<HubSchema>,
) -> HttpResponse {
    let body = match body {
        Ok(body) => body,
        Err(e) => return body_error(&e, state.settings.max_body_bytes),
    };
    let content_type = req
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let media = content_type
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    if media != JSON {
        return plain_error(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "POST bodies must be application/json",
        );
    }
    execute(req, Source::Body(body), &state, &schema).await
}

pub async fn get(
    req: HttpRequest,
    state: web::Data<Endpoint>,
    schema: web::Data<HubSchema>,
) -> HttpResponse {
    execute(req, Source::Query, &state, &schema).await
}

/// A body that could not be read, as JSON with a code: 413 when it is over the limit.
fn body_error(e: &actix_web::Error, max_body_bytes: usize) -> HttpResponse {
    use actix_web::error::PayloadError;
    match e.as_error::<PayloadError>() {
        Some(PayloadError::Overflow) => {
            let mut response = error_response_as(
                &AppError::bad_input(
                    "body",
                    format!("the body is larger than {max_body_bytes} bytes"),
                )
                .with_reason(crate::error::Reason::BodyTooLarge),
                JSON,
            );
            *response.status_mut() = StatusCode::PAYLOAD_TOO_LARGE;
            response
        }
        _ => plain_error(StatusCode::BAD_REQUEST, "the body could not be read"),
    }
}

fn plain_error(status: StatusCode, message: &str) -> HttpResponse {
    HttpResponse::build(status).json(
        json!({ "errors": [{ "message": message, "extensions": { "code": "BAD_USER_INPUT" } }] }),
    )
}

/// A whole-request error in the negotiated media type.
fn error_response_as_media(media: MediaType, e: AppError) -> HttpResponse {
    error_response_as(&e, media.as_str())
}

fn rate_headers(builder: &mut HttpResponseBuilder, d: &Decision) {
    builder.insert_header(("RateLimit-Limit", d.limit.to_string()));
    builder.insert_header(("RateLimit-Remaining", d.remaining.to_string()));
    builder.insert_header(("RateLimit-Reset", d.reset_secs.to_string()));
}

/// Applies the rate limit of an authenticated caller (its tenant's quota, or its IP's when
/// anonymous) and counts the call; `Err` is the refusing decision (counted in /metrics).
pub fn admit(
    state: &Endpoint,
    principal: &Principal,
    meta: &RequestMeta,
) -> Result<Option<Decision>, Decision> {
    let tenant = principal.rate_limited_tenant();
    let decision = match (principal, tenant) {
        (_, Some((tenant_id, per_minute))) => {
            let d = state.rate_limits.check_tenant(tenant_id, per_minute);
            alerts::api_rate(&state.alerts, tenant_id, per_minute, &d);
            Some(d)
        }
        (Principal::Anonymous, None) => Some(state.rate_limits.check_anonymous(&meta.ip)),
        _ => None,
    };
    if let Some(d) = decision.filter(|d| !d.allowed) {
        state.metrics.rate_limited(if tenant.is_some() {
            "tenant"
        } else {
            "anonymous"
        });
        return Err(d);
    }
    if let Some((tenant_id, _)) = tenant {
        state.usage.record_call(tenant_id);
    }
    Ok(decision)
}

/// Authenticates, applies the rate limit (before any parsing), counts the call, checks the
/// document's limits, runs it (bounded in time), and shapes the answer.
async fn execute(
    req: HttpRequest,
    source: Source,
    state: &Endpoint,
    schema: &HubSchema,
) -> HttpResponse {
    let started = Instant::now();
    let accept = req.headers().get("accept").and_then(|v| v.to_str().ok());
    let Some(media) = negotiate(accept) else {
        return plain_error(
            StatusCode::NOT_ACCEPTABLE,
            "acceptable media types: application/graphql-response+json, application/json",
        );
    };
    let meta = RequestMeta::from_request(&req, &state.settings.trusted_proxies);
    let authorization = req
        .headers()
        .get("authorization")
        .and_then(|v| v.to_str().ok());
    let principal = match authenticate(&state.authenticator, authorization, &meta.ip).await {
        Ok(p) => p,
        Err(e) => return error_response_as(&e, media.as_str()),
    };
    let decision = match admit(state, &principal, &meta) {
        Ok(d) => d,
        Err(d) => {
            let err = AppError::rate_limited(d.reset_secs);
            let mut builder = HttpResponse::TooManyRequests();
            rate_headers(&mut builder, &d);
            builder.insert_header(("Retry-After", d.reset_secs.to_string()));
            return builder.json(json!({ "errors": [err.to_server_error()] }));
        }
    };

    let over_get = matches!(source, Source::Query);
    let mut request = match source {
        Source::Body(body) => {
            if body.first() == Some(&b'[') {
                return error_response_as_media(
                    media,
                    AppError::bad_input("body", "batched requests are not supported"),
                );
            }
            match serde_json::from_slice::<async_graphql::Request>(&body) {
                Ok(r) => r,
                Err(e) => {
                    return error_response_as_media(
                        media,
                        AppError::bad_input(
                            "body",
                            format!("the body is not a GraphQL request: {e}"),
                        ),
                    );
                }
            }
        }
        Source::Query => match async_graphql::http::parse_query_string(req.query_string()) {
            Ok(r) => r,
            Err(e) => {
                return error_response_as_media(
                    media,
                    AppError::bad_input("query", format!("malformed query string: {e}")),
                );
            }
        },
    };
    if state.settings.persisted_queries == PersistedQueries::Registered {
        let hash = request
            .extensions
            .get("persistedQuery")
            .and_then(|p| serde_json::to_value(p).ok())
            .and_then(|p| {
                p.get("sha256Hash")
                    .and_then(|h| h.as_str())
                    .map(str::to_owned)
            });
        match state
            .registry
            .as_ref()
            .and_then(|r| r.resolve(hash.as_deref(), &request.query))
        {
            Some(text) => {
                request.query = text.to_owned();
                request.extensions.remove("persistedQuery");
            }
            None => {
                return error_response_as_media(
                    media,
                    AppError::forbidden("only registered operations run on this hub")
                        .with_reason(crate::error::Reason::UnregisteredOperation),
                );
            }
        }
    }
    if let Some(apq) = &state.apq
        && let Err(e) = apq.resolve(&mut request)
    {
        return shape(media, request_error(e), &decision);
    }
    if request.query.trim().is_empty() {
        return error_response_as_media(
            media,
            AppError::bad_input("query", "the request has no query"),
        );
    }
    // Counted on the text the request resolved to (a persisted query's too), before parsing.
    if let Err(e) = limits::check_tokens(&request.query, state.settings.gql_max_tokens) {
        // Refused like an oversized body, whatever the media type: nothing was parsed.
        let mut response = shape(media, request_error(e), &decision);
        *response.status_mut() = StatusCode::BAD_REQUEST;
        return response;
    }
    // Parsed once here; async-graphql executes the same document. A syntax error is left for
    // async-graphql to report.
    let mut operation = "anonymous".to_owned();
    if let Some(doc) = parse_cached(&request.query) {
        let named = request.operation_name.as_deref();
        // After persisted queries are resolved: a hash can name a mutation too.
        if over_get && limits::is_mutation(&doc, named) {
            let e = AppError::bad_input("query", "mutations must be sent with POST")
                .with_reason(crate::error::Reason::MutationOverGet);
            let mut response = error_response_as_media(media, e);
            *response.status_mut() = StatusCode::METHOD_NOT_ALLOWED;
            response.headers_mut().insert(
                actix_web::http::header::ALLOW,
                actix_web::http::header::HeaderValue::from_static("POST"),
            );
            return response;
        }
        let document_limits = limits::DocumentLimits {
            max_aliases: state.settings.gql_max_aliases,
            max_page_size: state.settings.gql_max_page_size,
        };
        if let Err(e) = limits::check_document(&doc, &request, document_limits)
            .and_then(|()| limits::check_text_inputs(&doc, &request))
        {
            return shape(media, request_error(e), &decision);
        }
        operation = limits::operation_name(&doc, named);
        request.set_parsed_query(doc);
    }

    let tenant_id = principal.tenant_id();
    let request_ctx = RequestCtx::new(principal.clone(), meta.clone());
    let writes = request_ctx.write_mark();
    let admin_reads = request_ctx.admin_reads();
    let request = request.data(request_ctx);
    let timeout = Duration::from_millis(state.settings.gql_timeout_ms);
    // Whatever the resolvers log (an internal error's cause) carries the request id.
    let span = tracing::info_span!("request", request_id = %meta.request_id);
    // Kept for null propagation, which needs the document only when a field failed.
    let (query, named) = (request.query.clone(), request.operation_name.clone());
    let execution = schema.execute(request).instrument(span);
    let mut answer = match tokio::time::timeout(timeout, execution).await {
        Ok(mut r) => {
            let types = null_propagation::FieldTypes::of_hub();
            null_propagation::propagate(types, &query, named.as_deref(), &mut r);
            types.explain_coercion_errors(&mut r);
            Answer::from(r)
        }
        Err(_) => {
            let mut e = AppError::new(
                crate::ErrorCode::Internal,
                "the request took too long and was cancelled",
            );
            e.reason = Some(crate::error::Reason::Timeout);
            // The request was valid and its execution was cut short: `data: null`, not a
            // request error (those are the client's fault).
            Answer::new(
                async_graphql::Response::from_errors(vec![e.to_server_error()]),
                false,
            )
        }
    };
    crate::graphql::writes::after_execution(&state.contexts, &principal, &writes);
    if let Err(e) =
        admin_reads::record(&state.db, &principal, &meta, &operation, &admin_reads).await
    {
        // An admin's read that could not be recorded is not answered.
        answer = Answer::new(
            async_graphql::Response::from_errors(vec![e.to_server_error()]),
            false,
        );
    }
    state.metrics.observe_request(
        &operation,
        answer.outcome(),
        started.elapsed(),
        &answer.codes,
    );
    tracing::info!(
        request_id = %meta.request_id,
        tenant_id = %OrEmpty(tenant_id),
        operation,
        outcome = answer.outcome(),
        errors = ?answer.codes,
        ms = started.elapsed().as_millis() as u64,
        "graphql request"
    );
    shape(media, answer, &decision)
}

/// Documents parsed so far, by their text: a client sends the same few operations over and
/// over, and async-graphql's parser costs more than a copy of its result. Bounded: when full,
/// it is emptied (the texts come from clients). Texts that do not parse are not kept.
const MAX_PARSED_DOCUMENTS: usize = 512;
/// Texts longer than this are parsed each time (and not kept).
const MAX_PARSED_DOCUMENT_LEN: usize = 16 * 1024;

/// The document of `query`, from the cache of parsed documents or parsed (None: a syntax
/// error, which async-graphql reports when it parses the text itself).
pub fn parse_cached(query: &str) -> Option<async_graphql::parser::types::ExecutableDocument> {
    static PARSED: std::sync::OnceLock<
        dashmap::DashMap<Box<str>, async_graphql::parser::types::ExecutableDocument>,
    > = std::sync::OnceLock::new();
    let parsed = PARSED.get_or_init(dashmap::DashMap::new);
    if let Some(doc) = parsed.get(query) {
        return Some(doc.clone());
    }
    let doc = async_graphql::parser::parse_query(query).ok()?;
    if query.len() <= MAX_PARSED_DOCUMENT_LEN {
        if parsed.len() >= MAX_PARSED_DOCUMENTS {
            parsed.clear();
        }
        parsed.insert(query.into(), doc.clone());
    }
    Some(doc)
}

/// A log field's value written in place (no String per request): the value, or nothing.
struct OrEmpty<T>(Option<T>);

impl<T: std::fmt::Display> std::fmt::Display for OrEmpty<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.0 {
            Some(v) => v.fmt(f),
            None => Ok(()),
        }
    }
}

/// A response body with what the status and metrics need.
struct Answer {
    body: Vec<u8>,
    request_error: bool,
    codes: Vec<String>,
}

impl Answer {
    fn outcome(&self) -> &'static str {
        match (self.request_error, self.codes.is_empty()) {
            (true, _) => "rejected",
            (false, true) => "ok",
            (false, false) => "error",
        }
    }
}

fn request_error(e: AppError) -> Answer {
    Answer::from(async_graphql::Response::from_errors(vec![
        e.to_server_error(),
    ]))
}

impl From<async_graphql::Response> for Answer {
    /// A request error when nothing ran: no data, and errors without a path only.
    fn from(response: async_graphql::Response) -> Answer {
        let request_error = response.data == async_graphql::Value::Null
            && !response.errors.is_empty()
            && response.errors.iter().all(|e| e.path.is_empty());
        Answer::new(response, request_error)
    }
}

impl Answer {
    /// Gives every error a code (async-graphql's own parse, validation and limit errors have
    /// none: they are BAD_USER_INPUT) and drops `data` from request errors. The response is
    /// serialised once, straight to bytes (no intermediate JSON tree on the hot path).
    fn new(mut response: async_graphql::Response, request_error: bool) -> Answer {
        let mut codes = Vec::with_capacity(response.errors.len());
        for error in &mut response.errors {
            let ext = error.extensions.get_or_insert_with(Default::default);
            if ext.get("code").is_none() {
                ext.set("code", "BAD_USER_INPUT");
                // async-graphql's "Invalid value for argument "input.branding.colors", …":
                // the argument's path is the field at fault.
                if let Some(path) = error
                    .message
                    .strip_prefix("Invalid value for argument \"")
                    .and_then(|rest| rest.split('"').next())
                {
                    ext.set("field", path.to_owned());
                }
            }
            if let Some(async_graphql::Value::String(code)) = ext.get("code") {
                codes.push(code.clone());
            }
        }
        // Extensions of the response (e.g. tracing) are not part of the contract.
        response.extensions.clear();
        let body = if request_error {
            // A request error has no `data` member at all (GraphQL over HTTP).
            let mut value = serde_json::to_value(&response).unwrap_or_else(|_| json!({}));
            if let Some(obj) = value.as_object_mut() {
                obj.remove("data");
            }
            serde_json::to_vec(&value)
        } else {
            serde_json::to_vec(&response)
        }
        .unwrap_or_else(|_| b"{}".to_vec());
        Answer {
            body,
            request_error,
            codes,
        }
    }
}

fn shape(media: MediaType, answer: Answer, decision: &Option<Decision>) -> HttpResponse {
    let status = if answer.request_error && media == MediaType::GraphqlResponseJson {
        StatusCode::BAD_REQUEST
    } else {
        StatusCode::OK
    };
    let mut builder = HttpResponse::build(status);
    builder.content_type(media.as_str());
    builder.insert_header(("Cache-Control", "no-store"));
    if let Some(d) = decision {
        rate_headers(&mut builder, d);
    }
    builder.body(answer.body)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parsed_documents_are_the_parsers_and_syntax_errors_are_not_kept() {
        let text = "query CacheProbe($n: Int) { users(first: $n) { totalCount } }";
        let fresh = async_graphql::parser::parse_query(text).unwrap();
        let first = parse_cached(text).expect("parses");
        let again = parse_cached(text).expect("from the cache");
        // Same operations, selections and positions as the parser's own result.
        assert_eq!(format!("{fresh:?}"), format!("{first:?}"));
        assert_eq!(format!("{fresh:?}"), format!("{again:?}"));
        assert!(parse_cached("query { users(").is_none());
        assert!(parse_cached("query { users(").is_none(), "still an error");
    }

    #[test]
    fn accept_headers_choose_the_media_type() {
        assert_eq!(negotiate(None), Some(MediaType::Json));
        assert_eq!(negotiate(Some("*/*")), Some(MediaType::Json));
        assert_eq!(negotiate(Some("application/json")), Some(MediaType::Json));
        assert_eq!(
            negotiate(Some("application/graphql-response+json")),
            Some(MediaType::GraphqlResponseJson)
        );
        assert_eq!(
            negotiate(Some(
                "application/graphql-response+json, application/json;q=0.9"
            )),
            Some(MediaType::GraphqlResponseJson)
        );
        assert_eq!(
            negotiate(Some(
                "application/graphql-response+json;q=0.5, application/json"
            )),
            Some(MediaType::Json)
        );
        assert_eq!(negotiate(Some("text/html")), None);
    }
}
