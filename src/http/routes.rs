//! The routes. `/graphql` authenticates the caller (Principal), then hands the parsed request
//! to async-graphql with the Principal and request metadata in its context.

use std::{path::PathBuf, sync::Arc};

use actix_web::{HttpRequest, HttpResponse, http::StatusCode, web};

use crate::{
    alerts,
    app::AppState,
    auth::{Principal, principal::authenticate},
    db::{
        ScopedFutureExt,
        audit::{self, Actor},
        models::{PlatformAdminRow, RoleRow},
    },
    domain::Permission,
    error::AppError,
    export,
    graphql::{HubSchema, context::RequestCtx},
    http::meta::RequestMeta,
    ratelimit::Decision,
};

pub fn configure(cfg: &mut web::ServiceConfig, graphiql_assets_dir: Option<PathBuf>) {
    crate::http::graphiql::configure(cfg, graphiql_assets_dir, "/graphql");
    cfg.service(
        web::resource("/graphql")
            .route(web::post().to(graphql_post))
            .route(web::get().to(graphql_get)),
    )
    .service(web::resource("/.well-known/jwks.json").route(web::get().to(jwks)))
    .service(web::resource("/metrics").route(web::get().to(metrics)))
    .service(web::resource("/export/tenant.ndjson").route(web::get().to(export_tenant)))
    .service(web::resource("/export/audit.ndjson").route(web::get().to(export_audit)))
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

/// Where the GraphQL request is: a POST body (parsed only after the rate limiter) or a GET
/// query string.
enum Source {
    Body(web::Bytes),
    Query,
}

async fn graphql_post(
    req: HttpRequest,
    body: web::Bytes,
    state: web::Data<Arc<AppState>>,
    schema: web::Data<HubSchema>,
) -> HttpResponse {
    execute(req, Source::Body(body), &state, &schema).await
}

async fn graphql_get(
    req: HttpRequest,
    state: web::Data<Arc<AppState>>,
    schema: web::Data<HubSchema>,
) -> HttpResponse {
    execute(req, Source::Query, &state, &schema).await
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

fn rate_headers(builder: &mut actix_web::HttpResponseBuilder, d: &Decision) {
    builder.insert_header(("RateLimit-Limit", d.limit.to_string()));
    builder.insert_header(("RateLimit-Remaining", d.remaining.to_string()));
    builder.insert_header(("RateLimit-Reset", d.reset_secs.to_string()));
}

/// Authenticates, applies the rate limit (before any parsing), counts the call, then runs the
/// GraphQL request.
async fn execute(
    req: HttpRequest,
    source: Source,
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
    let tenant = principal.rate_limited_tenant();
    let decision = match (&principal, tenant) {
        (_, Some((tenant_id, per_minute))) => {
            let d = state.rate_limits.check_tenant(tenant_id, per_minute);
            alerts::api_rate(state, tenant_id, &d);
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
        let err = AppError::rate_limited(d.reset_secs);
        let mut builder = HttpResponse::TooManyRequests();
        rate_headers(&mut builder, &d);
        builder.insert_header(("Retry-After", d.reset_secs.to_string()));
        return builder.json(serde_json::json!({ "errors": [err.to_graphql().into_server_error(Default::default())] }));
    }
    if let Some((tenant_id, _)) = tenant {
        state.usage.record_call(tenant_id);
    }

    let request = match source {
        Source::Body(body) => match serde_json::from_slice::<async_graphql::Request>(&body) {
            Ok(r) => r,
            Err(e) => {
                return error_response(AppError::bad_input(
                    "body",
                    format!("the body is not a GraphQL request: {e}"),
                ));
            }
        },
        Source::Query => match async_graphql::http::parse_query_string(req.query_string()) {
            Ok(r) if is_mutation(&r) => {
                return HttpResponse::MethodNotAllowed()
                    .insert_header(("Allow", "POST"))
                    .json(serde_json::json!({ "errors": [{ "message": "mutations must be sent with POST", "extensions": { "code": "BAD_USER_INPUT" } }] }));
            }
            Ok(r) => r,
            Err(e) => {
                return error_response(AppError::bad_input(
                    "query",
                    format!("malformed query string: {e}"),
                ));
            }
        },
    };
    let request = request.data(RequestCtx::new(principal, meta));
    let response = schema.execute(request).await;
    let mut builder = HttpResponse::Ok();
    builder.insert_header(("Cache-Control", "no-store"));
    if let Some(d) = &decision {
        rate_headers(&mut builder, d);
    }
    builder.json(response)
}

#[derive(serde::Deserialize)]
struct ExportQuery {
    /// Platform admins name the tenant (its UUID or global id).
    tenant: Option<String>,
}

async fn export_tenant(
    req: HttpRequest,
    query: web::Query<ExportQuery>,
    state: web::Data<Arc<AppState>>,
) -> HttpResponse {
    stream_export(
        req,
        query.into_inner(),
        &state,
        Permission::TenantDelete,
        export::Stream::Tenant,
        "tenant.exported",
    )
    .await
}

async fn export_audit(
    req: HttpRequest,
    query: web::Query<ExportQuery>,
    state: web::Data<Arc<AppState>>,
) -> HttpResponse {
    stream_export(
        req,
        query.into_inner(),
        &state,
        Permission::AuditRead,
        export::Stream::AuditLog,
        "audit.exported",
    )
    .await
}

/// The NDJSON exports: the same authorisation as the GraphQL export (a member holding
/// `permission`, in any tenant status; or a platform admin naming the tenant), audited, then
/// streamed through a bounded channel so memory stays flat.
async fn stream_export(
    req: HttpRequest,
    query: ExportQuery,
    state: &Arc<AppState>,
    permission: Permission,
    what: export::Stream,
    action: &'static str,
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
    let (tenant_id, actor) = match (&principal, query.tenant.as_deref()) {
        (Principal::Member(m), None) => {
            let user = m.user_id;
            let perms = state
                .db
                .tenant_tx(m.tenant_id, |conn| {
                    RoleRow::tenant_permissions_of(conn, user).scope_boxed()
                })
                .await;
            match perms {
                Ok(p) if p.iter().any(|x| x == permission.as_str()) => {
                    (m.tenant_id, Actor::User(user))
                }
                Ok(_) => {
                    return error_response(AppError::forbidden(format!(
                        "this needs the permission {}",
                        permission.as_str()
                    )));
                }
                Err(e) => return error_response(e),
            }
        }
        (Principal::PlatformAdmin { admin_id }, Some(t)) => {
            let id = match crate::graphql::ids::decode(
                "Tenant",
                "tenant",
                &async_graphql::ID(t.to_owned()),
            ) {
                Ok(id) => id,
                Err(e) => return error_response(e),
            };
            let admin_id = *admin_id;
            let enabled = state
                .db
                .system_tx(|conn| PlatformAdminRow::find(conn, admin_id).scope_boxed())
                .await;
            match enabled {
                Ok(Some(a)) if a.disabled_at.is_none() => (id, Actor::PlatformAdmin(admin_id)),
                Ok(_) => {
                    return error_response(AppError::unauthenticated(
                        "this platform admin account is disabled",
                    ));
                }
                Err(e) => return error_response(e),
            }
        }
        (Principal::Anonymous, _) => {
            return error_response(AppError::unauthenticated("log in first"));
        }
        _ => return error_response(AppError::forbidden("not allowed to export this tenant")),
    };
    let audit_ctx = meta.audit(actor);
    let recorded = state
        .db
        .tenant_tx(tenant_id, |conn| {
            audit::record(
                conn,
                tenant_id,
                &audit_ctx,
                audit::AuditEvent::new(action).target("tenant", tenant_id),
            )
            .scope_boxed()
        })
        .await;
    if let Err(e) = recorded {
        return error_response(e);
    }
    let (tx, rx) = tokio::sync::mpsc::channel(4);
    let db = state.db.clone();
    tokio::spawn(async move {
        let failed = tx.clone();
        if let Err(e) = export::stream(db, tenant_id, what, tx).await {
            e.log_cause();
            let _ = failed
                .send(Err(std::io::Error::other("export failed")))
                .await;
        }
    });
    HttpResponse::Ok()
        .content_type("application/x-ndjson")
        .insert_header(("Cache-Control", "no-store"))
        .streaming(tokio_stream_from(rx))
}

/// A stream over a channel's receiver.
fn tokio_stream_from(
    mut rx: tokio::sync::mpsc::Receiver<Result<bytes::Bytes, std::io::Error>>,
) -> impl futures_util::Stream<Item = Result<bytes::Bytes, std::io::Error>> {
    futures_util::stream::poll_fn(move |cx| rx.poll_recv(cx))
}

async fn metrics(state: web::Data<Arc<AppState>>) -> HttpResponse {
    state
        .metrics
        .limiters
        .set(state.rate_limits.tenants_tracked() as i64);
    HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4")
        .body(state.metrics.render())
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
