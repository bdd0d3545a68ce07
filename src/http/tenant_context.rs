//! `GET /tenant-context` (`Authorization: Bearer <access token>`, optional `?product=<id>`):
//! the caller's TenantContext for product apps that want it with one plain HTTP call, exactly
//! `{tenantId, userId, permissions, products: [{productId, access}], amr, acr}` with access
//! `full`, `limited` or `none` and the sign-in's `amr` and `acr` (as in the access token);
//! with an `ETag` (a `304` for a matching `If-None-Match`) and `Cache-Control: private,
//! max-age` of the hub's own context cache (`HUB_CONTEXT_CACHE_MS`).
//!
//! It runs the GraphQL field `tenantContext` itself, through the schema with the request's
//! principal, after the same authentication and rate limit as `/graphql`: one code path for
//! the guard, the cache and the answer.

use actix_web::{HttpRequest, HttpResponse, http::StatusCode, web};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::{
    auth::{Principal, principal::authenticate},
    error::{AppError, ErrorCode},
    graphql::{HubSchema, context::RequestCtx},
    http::{error_response::HttpError, graphql_http},
    request::RequestMeta,
};

const QUERY: &str = "query TenantContext($product: ID) { tenantContext(productId: $product) {
    tenantId userId permissions products { productId access } amr acr } }";

#[derive(serde::Deserialize)]
pub struct TenantContextQuery {
    product: Option<String>,
}

pub async fn get(
    req: HttpRequest,
    query: web::Query<TenantContextQuery>,
    state: web::Data<graphql_http::Endpoint>,
    schema: web::Data<HubSchema>,
) -> Result<HttpResponse, HttpError> {
    let meta = RequestMeta::from_request(&req, &state.settings.trusted_proxies);
    let authorization = req
        .headers()
        .get("authorization")
        .and_then(|v| v.to_str().ok());
    let principal = authenticate(&state.authenticator, authorization, &meta.ip).await?;
    if matches!(principal, Principal::Anonymous) {
        return Err(
            AppError::unauthenticated("send `Authorization: Bearer <access token>`").into(),
        );
    }
    graphql_http::admit(&state, &principal, &meta)
        .map_err(|d| AppError::rate_limited(d.reset_secs))?;
    let mut request = async_graphql::Request::new(QUERY);
    if let Some(doc) = graphql_http::parse_cached(QUERY) {
        request.set_parsed_query(doc);
    }
    let request = request
        .variables(async_graphql::Variables::from_json(
            json!({ "product": query.product }),
        ))
        .data(RequestCtx::new(principal, meta));
    let response = schema.execute(request).await;
    if let Some(error) = response.errors.first() {
        let code = error
            .extensions
            .as_ref()
            .and_then(|e| e.get("code"))
            .and_then(|c| match c {
                async_graphql::Value::String(s) => ErrorCode::parse(s),
                _ => None,
            })
            .unwrap_or(ErrorCode::Internal);
        let status =
            StatusCode::from_u16(code.http_status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        return Ok(HttpResponse::build(status)
            .content_type("application/json")
            .insert_header(("Cache-Control", "no-store"))
            .json(json!({ "errors": [error] })));
    }
    let data = response.data.into_json().map_err(AppError::internal)?;
    let body = contract_shape(&data["tenantContext"]);
    let bytes = serde_json::to_vec(&body).map_err(AppError::internal)?;
    let etag = format!("\"{}\"", hex::encode(&Sha256::digest(&bytes)[..16]));
    let cache_control = format!(
        "private, max-age={}",
        state.settings.tokens.context_cache_ms / 1000
    );
    let matches = req
        .headers()
        .get("if-none-match")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|t| t.trim() == etag || t.trim() == "*"));
    let mut builder = if matches {
        HttpResponse::NotModified()
    } else {
        HttpResponse::Ok()
    };
    builder
        .insert_header(("ETag", etag))
        .insert_header(("Cache-Control", cache_control))
        .insert_header(("Vary", "Authorization"));
    Ok(if matches {
        builder.finish()
    } else {
        builder.content_type("application/json").body(bytes)
    })
}

/// The field's answer in the contract's shape: the same keys, access in lower case.
fn contract_shape(context: &Value) -> Value {
    let products: Vec<Value> = context["products"]
        .as_array()
        .map(|ps| {
            ps.iter()
                .map(|p| {
                    json!({
                        "productId": p["productId"],
                        "access": p["access"].as_str().unwrap_or("NONE").to_ascii_lowercase(),
                    })
                })
                .collect()
        })
        .unwrap_or_default();
    json!({
        "tenantId": context["tenantId"],
        "userId": context["userId"],
        "permissions": context["permissions"],
        "products": products,
        "amr": context["amr"],
        "acr": context["acr"],
    })
}
