//! The routes. `/graphql` authenticates the caller (Principal), then hands the parsed request
//! to async-graphql with the Principal and request metadata in its context.

use std::sync::Arc;

use actix_web::{HttpRequest, HttpResponse, http::StatusCode, web};
use async_graphql::http::GraphiQLSource;

use crate::{
    app::AppState,
    auth::principal::authenticate,
    error::AppError,
    graphql::{HubSchema, context::RequestCtx},
    http::meta::RequestMeta,
};

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::resource("/graphql")
            .route(web::post().to(graphql_post))
            .route(web::get().to(graphql_get)),
    )
    .service(web::resource("/graphiql").route(web::get().to(graphiql)))
    .service(web::resource("/.well-known/jwks.json").route(web::get().to(jwks)))
    .service(web::resource("/healthz").route(web::get().to(healthz)))
    .service(web::resource("/readyz").route(web::get().to(readyz)));
}

/// A whole-request error in the GraphQL response shape, with the code's HTTP status.
pub fn error_response(err: AppError) -> HttpResponse {
    err.log_cause();
    let status =
        StatusCode::from_u16(err.code.http_status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let gql = err.to_graphql();
    let mut builder = HttpResponse::build(status);
    if let Some(retry) = err.retry_after_secs {
        builder.insert_header(("Retry-After", retry.to_string()));
    }
    builder.json(serde_json::json!({ "errors": [gql.into_server_error(Default::default())] }))
}

async fn graphql_post(
    req: HttpRequest,
    body: web::Bytes,
    state: web::Data<Arc<AppState>>,
    schema: web::Data<HubSchema>,
) -> HttpResponse {
    let request: async_graphql::Request = match serde_json::from_slice(&body) {
        Ok(r) => r,
        Err(e) => {
            return error_response(AppError::bad_input(
                "body",
                format!("the body is not a GraphQL request: {e}"),
            ));
        }
    };
    execute(req, request, &state, &schema).await
}

async fn graphql_get(
    req: HttpRequest,
    state: web::Data<Arc<AppState>>,
    schema: web::Data<HubSchema>,
) -> HttpResponse {
    let request = match async_graphql::http::parse_query_string(req.query_string()) {
        Ok(r) => r,
        Err(e) => {
            return error_response(AppError::bad_input(
                "query",
                format!("malformed query string: {e}"),
            ));
        }
    };
    if is_mutation(&request) {
        return HttpResponse::MethodNotAllowed()
            .insert_header(("Allow", "POST"))
            .json(serde_json::json!({ "errors": [{ "message": "mutations must be sent with POST", "extensions": { "code": "BAD_USER_INPUT" } }] }));
    }
    execute(req, request, &state, &schema).await
}

/// Whether the operation the request would run is a mutation (or subscription).
fn is_mutation(request: &async_graphql::Request) -> bool {
    use async_graphql::parser::types::OperationType;
    let Ok(doc) = async_graphql::parser::parse_query(&request.query) else {
        return false;
    };
    doc.operations.iter().any(|(name, op)| {
        let selected = match (&request.operation_name, name) {
            (Some(wanted), Some(name)) => wanted == name.as_str(),
            (None, _) => true,
            (Some(_), None) => false,
        };
        selected && op.node.ty != OperationType::Query
    })
}

async fn execute(
    req: HttpRequest,
    request: async_graphql::Request,
    state: &Arc<AppState>,
    schema: &HubSchema,
) -> HttpResponse {
    let meta = RequestMeta::from_request(&req, &state.settings.trusted_proxies);
    let authorization = req
        .headers()
        .get("authorization")
        .and_then(|v| v.to_str().ok());
    let principal = match authenticate(state, authorization).await {
        Ok(p) => p,
        Err(e) => return error_response(e),
    };
    let request = request.data(RequestCtx::new(principal, meta));
    let response = schema.execute(request).await;
    let mut builder = HttpResponse::Ok();
    builder.insert_header(("Cache-Control", "no-store"));
    builder.json(response)
}

async fn graphiql() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/html; charset=utf-8")
        .body(GraphiQLSource::build().endpoint("/graphql").finish())
}

async fn jwks(state: web::Data<Arc<AppState>>) -> HttpResponse {
    let doc = state
        .tokens
        .keys()
        .keys()
        .jwks(crate::auth::keys::now_unix());
    HttpResponse::Ok()
        .insert_header(("Cache-Control", "public, max-age=60"))
        .json(doc)
}

async fn healthz() -> HttpResponse {
    HttpResponse::Ok().json(serde_json::json!({ "status": "ok" }))
}

async fn readyz(state: web::Data<Arc<AppState>>) -> HttpResponse {
    match state.db.ping().await {
        Ok(()) => HttpResponse::Ok().json(serde_json::json!({ "status": "ready" })),
        Err(e) => {
            e.log_cause();
            HttpResponse::ServiceUnavailable()
                .json(serde_json::json!({ "status": "unavailable", "database": "unreachable" }))
        }
    }
}
