//! The routes of the public listener, and of the metrics listener ([`configure_metrics`]).
//! `/graphql` authenticates the caller (Principal), then hands the parsed request
//! to async-graphql with the Principal and request metadata in its context.

use std::path::PathBuf;

use actix_web::{HttpRequest, HttpResponse, web};

use crate::db::SystemReason;
use crate::domain::Action;
use crate::{
    auth::{
        Principal, TokenIssuer,
        principal::{Authenticator, authenticate},
    },
    config::Settings,
    db::{
        Db, ScopedFutureExt,
        audit::{self, Actor},
        models::{PlatformAdminRow, RoleRow},
    },
    domain::Permission,
    error::AppError,
    export,
    export_slots::ExportSlots,
    http::{error_response::HttpError, graphql_http},
    metrics::Metrics,
    ratelimit::RateLimits,
    request::RequestMeta,
};

/// `graphiql`: None turns the playground off; Some(assets folder) serves it.
pub fn configure(cfg: &mut web::ServiceConfig, graphiql: Option<Option<PathBuf>>) {
    if let Some(assets) = graphiql {
        crate::http::graphiql::configure(cfg, assets, "/graphql");
    }
    cfg.service(
        web::resource("/graphql")
            .route(web::post().to(graphql_http::post))
            .route(web::get().to(graphql_http::get)),
    )
    .service(
        web::resource("/tenant-context").route(web::get().to(crate::http::tenant_context::get)),
    )
    .service(web::resource("/.well-known/jwks.json").route(web::get().to(jwks)))
    .service(web::resource("/export/tenant.ndjson").route(web::get().to(export_tenant)))
    .service(web::resource("/export/audit.ndjson").route(web::get().to(export_audit)))
    .service(web::resource("/healthz").route(web::get().to(healthz)))
    .service(web::resource("/readyz").route(web::get().to(readyz)))
    .configure(crate::web::configure)
    .configure(crate::oauth::configure);
}

/// The routes of the metrics listener (`HUB_METRICS_BIND`): `/metrics` only.
pub fn configure_metrics(cfg: &mut web::ServiceConfig) {
    cfg.service(web::resource("/metrics").route(web::get().to(metrics)));
}

#[derive(serde::Deserialize)]
struct ExportQuery {
    /// Platform admins name the tenant (its UUID or global id).
    tenant: Option<String>,
}

async fn export_tenant(
    req: HttpRequest,
    query: web::Query<ExportQuery>,
    exporter: Exporter,
) -> Result<HttpResponse, HttpError> {
    stream_export(
        req,
        query.into_inner(),
        &exporter,
        Permission::TenantDelete,
        export::Stream::Tenant,
        Action::TenantExported,
    )
    .await
}

async fn export_audit(
    req: HttpRequest,
    query: web::Query<ExportQuery>,
    exporter: Exporter,
) -> Result<HttpResponse, HttpError> {
    stream_export(
        req,
        query.into_inner(),
        &exporter,
        Permission::AuditRead,
        export::Stream::AuditLog,
        Action::AuditExported,
    )
    .await
}

/// What the export routes take.
type Exporter = (
    web::Data<Db>,
    web::Data<Settings>,
    web::Data<Authenticator>,
    web::Data<ExportSlots>,
);

/// The NDJSON exports: the same authorisation as the GraphQL export (a member holding
/// `permission`, in any tenant status; or a platform admin naming the tenant), audited, then
/// streamed through a bounded channel so memory stays flat.
async fn stream_export(
    req: HttpRequest,
    query: ExportQuery,
    (db, settings, authenticator, exports): &Exporter,
    permission: Permission,
    what: export::Stream,
    action: Action,
) -> Result<HttpResponse, HttpError> {
    let meta = RequestMeta::from_request(&req, &settings.trusted_proxies);
    let authorization = req
        .headers()
        .get("authorization")
        .and_then(|v| v.to_str().ok());
    let principal = authenticate(authenticator, authorization, &meta.ip).await?;
    let (tenant_id, actor) = match (&principal, query.tenant.as_deref()) {
        (Principal::Member(m), None) => {
            let user = m.user_id;
            let perms = db
                .tenant_tx(m.tenant_id, |conn| {
                    RoleRow::tenant_permissions_of(conn, user).scope_boxed()
                })
                .await?;
            if !perms.iter().any(|x| x == permission.as_str()) {
                return Err(AppError::forbidden(format!(
                    "this needs the permission {}",
                    permission.as_str()
                ))
                .into());
            }
            (m.tenant_id, Actor::User(user))
        }
        (Principal::PlatformAdmin { admin_id, .. }, Some(t)) => {
            let id =
                crate::graphql::ids::decode("Tenant", "tenant", &async_graphql::ID(t.to_owned()))?;
            let admin_id = *admin_id;
            let admin = db
                .system_tx(SystemReason::PlatformAdmin, |conn| {
                    PlatformAdminRow::find(conn, admin_id).scope_boxed()
                })
                .await?;
            if admin.is_none_or(|a| a.disabled_at.is_some()) {
                return Err(
                    AppError::unauthenticated("this platform admin account is disabled").into(),
                );
            }
            (id, Actor::PlatformAdmin(admin_id))
        }
        (Principal::Anonymous, _) => {
            return Err(AppError::unauthenticated("log in first").into());
        }
        _ => return Err(AppError::forbidden("not allowed to export this tenant").into()),
    };
    // A slot first: a refused export is neither audited nor started.
    let slot = exports.acquire(tenant_id)?;
    let audit_ctx = meta.audit(actor);
    db.tenant_tx(tenant_id, |conn| {
        audit::record(
            conn,
            tenant_id,
            &audit_ctx,
            audit::AuditEvent::new(action).target("tenant", tenant_id),
        )
        .scope_boxed()
    })
    .await?;
    let (tx, rx) = tokio::sync::mpsc::channel(4);
    let db = Db::clone(db);
    let max = std::time::Duration::from_secs(settings.export_max_secs.max(1));
    tokio::spawn(async move {
        let _slot = slot;
        let failed = tx.clone();
        let outcome = tokio::time::timeout(max, export::stream(db, tenant_id, what, tx)).await;
        let why = match outcome {
            Ok(Ok(())) => return,
            Ok(Err(e)) => {
                e.log_cause();
                "export failed"
            }
            Err(_) => {
                tracing::warn!(%tenant_id, secs = max.as_secs(), "export cut off: too slow");
                "export took too long"
            }
        };
        // Never wait on a reader that stopped reading: the body just ends.
        let _ = failed.try_send(Err(std::io::Error::other(why)));
    });
    Ok(HttpResponse::Ok()
        .content_type("application/x-ndjson")
        .insert_header(("Cache-Control", "no-store"))
        .streaming(tokio_stream_from(rx)))
}

/// A stream over a channel's receiver.
fn tokio_stream_from(
    mut rx: tokio::sync::mpsc::Receiver<Result<bytes::Bytes, std::io::Error>>,
) -> impl futures_util::Stream<Item = Result<bytes::Bytes, std::io::Error>> {
    futures_util::stream::poll_fn(move |cx| rx.poll_recv(cx))
}

async fn metrics(
    metrics: web::Data<Metrics>,
    rate_limits: web::Data<RateLimits>,
    db: web::Data<Db>,
) -> HttpResponse {
    metrics.limiters.set(rate_limits.tenants_tracked() as i64);
    metrics.statements.set(db.statements_executed() as i64);
    metrics
        .password_verifications
        .set(crate::auth::password::verifications() as i64);
    let pool = db.pool_status();
    for (name, value) in [
        ("size", pool.size),
        ("available", pool.available),
        ("waiting", pool.waiting),
        ("max", pool.max_size),
    ] {
        metrics.pool.with_label_values(&[name]).set(value as i64);
    }
    HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4")
        .body(metrics.render())
}

async fn jwks(tokens: web::Data<TokenIssuer>) -> HttpResponse {
    let doc = tokens.keys().keys().jwks(crate::auth::keys::now_unix());
    HttpResponse::Ok()
        .insert_header(("Cache-Control", "public, max-age=60"))
        .json(doc)
}

async fn healthz() -> HttpResponse {
    HttpResponse::Ok().json(serde_json::json!({ "status": "ok" }))
}

async fn readyz(db: web::Data<Db>) -> HttpResponse {
    match db.ping().await {
        Ok(()) => HttpResponse::Ok().json(serde_json::json!({ "status": "ready" })),
        Err(e) => {
            e.log_cause();
            HttpResponse::ServiceUnavailable()
                .json(serde_json::json!({ "status": "unavailable", "database": "unreachable" }))
        }
    }
}
