//! The request context and the guards. A resolver never sees the pool: it asks a guard for a
//! scope, and the guard checks the Principal (and the permission) first.
//!
//! * [`member`] / [`require`]: a tenant member (of an active tenant), optionally holding a
//!   permission; the [`TenantScope`] runs transactions in the member's tenant only, the tenant
//!   id coming from the verified token, never from an argument.
//! * [`platform_admin`]: a platform admin; [`PlatformScope`] names tenants explicitly and
//!   audits every access in that tenant's log.
//! * [`reader_for`]: the scope nested fields of an object use, for the tenant the object came
//!   from, allowed only to that tenant's members and to platform admins.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
};

use async_graphql::{Context, parser::types::OperationType};
use tokio::sync::OnceCell;
use uuid::Uuid;

use crate::{
    auth::{MemberPrincipal, Principal},
    context_cache::{Access, ContextCache, Ticket},
    db::{
        ScopedBoxFuture, ScopedFutureExt, SystemReason, SystemTx, TenantTx,
        audit::{Actor, AuditContext},
        models::{PlatformAdminRow, RoleRow, TenantRow, product},
    },
    domain::Permission,
    error::{AppError, AppResult},
    graphql::{
        admin_reads::AdminReads,
        loaders::{self, Loaders},
        writes::WriteMark,
    },
    ops::sign_in::SignIn,
    request::RequestMeta,
    sso::dns::DnsChecker,
    usage::UsageMeter,
};

/// Per-request data: who is calling and from where.
pub struct RequestCtx {
    pub principal: Principal,
    pub meta: RequestMeta,
    access: OnceCell<Arc<Access>>,
    admin_checked: OnceCell<()>,
    loaders: Mutex<HashMap<Uuid, Arc<Loaders>>>,
    /// Marked when a mutation passes a guard (see `writes`).
    writes: WriteMark,
    /// Tenants a platform admin read through nested fields (see `admin_reads`).
    admin_reads: AdminReads,
}

impl RequestCtx {
    pub fn new(principal: Principal, meta: RequestMeta) -> RequestCtx {
        RequestCtx {
            principal,
            meta,
            access: OnceCell::new(),
            admin_checked: OnceCell::new(),
            loaders: Mutex::new(HashMap::new()),
            writes: WriteMark::default(),
            admin_reads: AdminReads::default(),
        }
    }

    /// The tenants read by a platform admin, for the HTTP handler to audit.
    pub fn admin_reads(&self) -> AdminReads {
        self.admin_reads.clone()
    }

    /// The mark the HTTP handler reads after the request ran.
    pub fn write_mark(&self) -> WriteMark {
        self.writes.clone()
    }
}

/// Whether the running operation is a mutation: its authorisation reads fresh rows.
fn is_mutation(ctx: &Context<'_>) -> bool {
    ctx.query_env.operation.node.ty == OperationType::Mutation
}

/// What the resolvers use: the schema's data, built once by the wiring. Resolvers reach it
/// through the scopes the guards hand out, or [`sign_in`] for the sign-in mutations.
pub struct Services {
    /// The database, keys, limiters and effects shared with the hosted pages and the OAuth
    /// endpoints (`ops::sign_in`).
    pub sign_in: SignIn,
    /// Tenant rows and members' permissions, cached per replica (`context_cache`).
    pub contexts: Arc<ContextCache>,
    /// API calls and storage counted per tenant (`usage`).
    pub usage: Arc<UsageMeter>,
    /// The DNS lookups of tenants' domain challenges (`sso::dns`).
    pub dns: Arc<DnsChecker>,
}

pub fn services<'a>(ctx: &Context<'a>) -> AppResult<&'a Services> {
    ctx.data::<Services>().map_err(|_| {
        AppError::internal(anyhow::anyhow!(
            "the services are missing from the schema data"
        ))
    })
}

/// The sign-in services, for the mutations that sign in, out or up.
pub fn sign_in<'a>(ctx: &Context<'a>) -> AppResult<&'a SignIn> {
    services(ctx).map(|s| &s.sign_in)
}

/// This request's context. Every guard passes here, so this is where a mutation's request is
/// marked as one (`writes`).
pub fn request<'a>(ctx: &Context<'a>) -> AppResult<&'a RequestCtx> {
    let req = ctx.data::<RequestCtx>().map_err(|_| {
        AppError::internal(anyhow::anyhow!("RequestCtx missing from the request data"))
    })?;
    if is_mutation(ctx) {
        req.writes.mark();
    }
    Ok(req)
}

/// Counts an anonymous call that is about to hash a password against its client network's
/// hashing allowance (`HUB_ANONYMOUS_HASHES_PER_MINUTE`): call it after the cheap checks, right
/// before hashing. Authenticated callers pay through their tenant's rate limit instead.
pub fn anonymous_hashing(ctx: &Context<'_>) -> AppResult<()> {
    let sign_in = sign_in(ctx)?;
    let req = request(ctx)?;
    sign_in.rate_limits.check_anonymous_hashing(&req.meta.ip)
}

/// Runs what a committed operation left to do (cache invalidation, platform audit records)
/// and hands back its value. A failed effect is logged, not returned: the change itself has
/// committed.
pub async fn after_commit<T>(
    ctx: &Context<'_>,
    audit_ctx: &AuditContext,
    done: crate::ops::Committed<T>,
) -> T {
    match sign_in(ctx) {
        Ok(sign_in) => sign_in.effects.run(audit_ctx, done.effects).await,
        Err(e) => e.log_cause(),
    }
    done.value
}

/// Database access limited to one tenant.
pub struct TenantScope<'a> {
    pub services: &'a Services,
    pub meta: &'a RequestMeta,
    tenant_id: Uuid,
    actor: Actor,
}

impl TenantScope<'_> {
    pub fn tenant_id(&self) -> Uuid {
        self.tenant_id
    }

    /// The acting user; `None` for a platform admin.
    pub fn user_id(&self) -> Option<Uuid> {
        match self.actor {
            Actor::User(id) => Some(id),
            _ => None,
        }
    }

    pub fn actor(&self) -> Actor {
        self.actor
    }

    pub fn audit(&self) -> AuditContext {
        self.meta.audit(self.actor)
    }

    /// Runs an operation in one transaction in this tenant, its audit events written in it
    /// under this scope's actor, and its effects after the commit.
    pub async fn run<'f, T, F>(&self, op: F) -> AppResult<T>
    where
        T: Send + 'f,
        F: for<'r> FnOnce(
                &'r mut TenantTx,
            ) -> ScopedBoxFuture<'f, 'r, AppResult<crate::ops::Done<T>>>
            + Send
            + 'f,
    {
        let audit = self.audit();
        let done =
            crate::ops::in_tenant(&self.services.sign_in.db, self.tenant_id, audit.clone(), op)
                .await?;
        self.services
            .sign_in
            .effects
            .run(&audit, done.effects)
            .await;
        Ok(done.value)
    }

    /// One READ ONLY transaction in this tenant (the resolvers' read path): PostgreSQL refuses
    /// a write made through it. Writes go through [`TenantScope::run`].
    pub async fn tx<'f, T, F>(&self, f: F) -> AppResult<T>
    where
        T: Send + 'f,
        F: for<'r> FnOnce(&'r mut TenantTx) -> ScopedBoxFuture<'f, 'r, AppResult<T>> + Send + 'f,
    {
        self.services
            .sign_in
            .db
            .tenant_read_tx(self.tenant_id, f)
            .await
    }
}

fn member_principal<'a>(ctx: &Context<'a>) -> AppResult<&'a MemberPrincipal> {
    match &request(ctx)?.principal {
        Principal::Member(m) => Ok(m),
        Principal::Anonymous => Err(AppError::unauthenticated(
            "log in first: this needs an access token",
        )),
        Principal::PlatformAdmin { .. } => Err(AppError::forbidden(
            "platform admins are not tenant members; use the admin operations",
        )),
        Principal::ApiKey(_) => Err(AppError::forbidden(
            "an API key can report usage only; this needs a user's access token",
        )),
    }
}

/// A product app's API key, for a tenant whose `apiAccess` feature is on.
pub async fn api_key<'a>(ctx: &Context<'a>) -> AppResult<TenantScope<'a>> {
    let req = request(ctx)?;
    let Principal::ApiKey(key) = &req.principal else {
        return Err(AppError::unauthenticated(
            "this needs a product API key (Authorization: ApiKey <key>)",
        ));
    };
    if key.tenant_status != "active" {
        return Err(AppError::tenant_inactive());
    }
    Ok(TenantScope {
        services: services(ctx)?,
        meta: &req.meta,
        tenant_id: key.tenant_id,
        actor: Actor::ApiKey(key.key_id),
    })
}

/// A product app's API key holding `wanted` (chosen when the key was created): FORBIDDEN
/// without it.
pub async fn api_key_with<'a>(
    ctx: &Context<'a>,
    wanted: crate::domain::ApiKeyScope,
) -> AppResult<TenantScope<'a>> {
    let scope = api_key(ctx).await?;
    match &request(ctx)?.principal {
        Principal::ApiKey(key) if key.may(wanted) => Ok(scope),
        _ => Err(AppError::forbidden(format!(
            "this API key was not created with the scope {}",
            wanted.as_str()
        ))),
    }
}

/// Whether the caller is a product app's API key.
pub fn is_api_key(ctx: &Context<'_>) -> AppResult<bool> {
    Ok(matches!(request(ctx)?.principal, Principal::ApiKey(_)))
}

fn scope_of<'a>(ctx: &Context<'a>, m: &MemberPrincipal) -> AppResult<TenantScope<'a>> {
    Ok(TenantScope {
        services: services(ctx)?,
        meta: &request(ctx)?.meta,
        tenant_id: m.tenant_id,
        actor: Actor::User(m.user_id),
    })
}

/// An anonymous caller holding a one-time token (an invitation, a password reset): the token
/// names its tenant, and the scope acts there as anonymous until the operation knows the user.
/// A token that names no tenant is UNAUTHENTICATED with `invalid`.
pub fn by_token<'a>(ctx: &Context<'a>, token: &str, invalid: &str) -> AppResult<TenantScope<'a>> {
    let tenant_id = crate::auth::opaque::tenant_of(token)
        .ok_or_else(|| AppError::unauthenticated(invalid.to_owned()))?;
    Ok(TenantScope {
        services: services(ctx)?,
        meta: &request(ctx)?.meta,
        tenant_id,
        actor: Actor::Anonymous,
    })
}

/// A member of an active tenant.
pub fn member<'a>(ctx: &Context<'a>) -> AppResult<TenantScope<'a>> {
    let m = member_principal(ctx)?;
    if !m.tenant_active() {
        return Err(AppError::tenant_inactive());
    }
    scope_of(ctx, m)
}

/// A member, whatever the tenant's status (logout, the owner's export while deactivated).
pub fn member_any_status<'a>(ctx: &Context<'a>) -> AppResult<TenantScope<'a>> {
    let m = member_principal(ctx)?;
    scope_of(ctx, m)
}

/// The member's tenant-wide permissions and product access (their TenantContext), once per
/// request: from this replica's cache (`context_cache`, invalidated on every change), else
/// read in one transaction and cached. A mutation always reads fresh rows: no write is
/// authorised on a cached answer.
pub async fn access(ctx: &Context<'_>) -> AppResult<Arc<Access>> {
    let req = request(ctx)?;
    let m = member_principal(ctx)?;
    let scope = scope_of(ctx, m)?;
    let (tenant_id, user_id) = (m.tenant_id, m.user_id);
    let mutation = is_mutation(ctx);
    req.access
        .get_or_try_init(|| async move {
            let cache = &scope.services.contexts;
            if !mutation && let Some(cached) = cache.get(tenant_id, user_id) {
                return Ok(cached);
            }
            let ticket = cache.ticket(tenant_id);
            let access = scope
                .tx(move |conn| {
                    async move {
                        Ok(Access {
                            permissions: Arc::new(
                                RoleRow::tenant_permissions_of(conn, user_id).await?,
                            ),
                            products: product::effective_access(conn, user_id, None).await?,
                        })
                    }
                    .scope_boxed()
                })
                .await?;
            let access = Arc::new(access);
            cache.put(tenant_id, user_id, ticket, access.clone());
            Ok::<_, AppError>(access)
        })
        .await
        .cloned()
}

/// The row of the scope's tenant (name, branding, features, limits): from this replica's cache
/// (`context_cache`, invalidated by every change to the row), else read and cached. A mutation
/// reads it fresh.
pub async fn tenant_row(ctx: &Context<'_>, scope: &TenantScope<'_>) -> AppResult<Arc<TenantRow>> {
    let ticket = match cached_tenant_row(ctx, scope) {
        Ok(row) => return Ok(row),
        Err(ticket) => ticket,
    };
    let tenant_id = scope.tenant_id();
    let row = scope
        .tx(move |conn| TenantRow::current(conn, tenant_id).scope_boxed())
        .await?;
    Ok(remember_tenant_row(scope, ticket, row))
}

/// The scope's tenant row from this replica's cache, when it is current and the request is not
/// a mutation; else the ticket under which a fresh read is to be remembered
/// ([`remember_tenant_row`]). For resolvers that read the row in a transaction of their own
/// with other rows; others call [`tenant_row`].
pub fn cached_tenant_row(
    ctx: &Context<'_>,
    scope: &TenantScope<'_>,
) -> Result<Arc<TenantRow>, Ticket> {
    let cache = &scope.services.contexts;
    // The ticket before the read: a change committed meanwhile makes the read unstorable.
    let ticket = cache.ticket(scope.tenant_id());
    match is_mutation(ctx) {
        false => cache.tenant(scope.tenant_id()).ok_or(ticket),
        true => Err(ticket),
    }
}

/// Caches a tenant row read under `ticket` (see [`cached_tenant_row`]).
pub fn remember_tenant_row(
    scope: &TenantScope<'_>,
    ticket: Ticket,
    row: TenantRow,
) -> Arc<TenantRow> {
    let row = Arc::new(row);
    scope.services.contexts.put_tenant(ticket, row.clone());
    row
}

/// The member's tenant-wide permissions (see [`access`]).
pub async fn permissions(ctx: &Context<'_>) -> AppResult<Arc<Vec<String>>> {
    Ok(access(ctx).await?.permissions.clone())
}

/// What the caller may grant: a member's own permissions, or every permission for a
/// platform admin.
pub async fn permissions_of_actor(ctx: &Context<'_>) -> AppResult<Arc<Vec<String>>> {
    match request(ctx)?.principal {
        Principal::PlatformAdmin { .. } => Ok(Arc::new(
            Permission::ALL
                .iter()
                .map(|p| p.as_str().to_owned())
                .collect(),
        )),
        _ => permissions(ctx).await,
    }
}

/// A member of an active tenant holding `permission`.
pub async fn require<'a>(ctx: &Context<'a>, permission: Permission) -> AppResult<TenantScope<'a>> {
    let scope = member(ctx)?;
    if !permissions(ctx)
        .await?
        .iter()
        .any(|p| p == permission.as_str())
    {
        return Err(AppError::forbidden(format!(
            "this needs the permission {}",
            permission.as_str()
        )));
    }
    Ok(scope)
}

/// Like [`require`], for the few operations allowed while the tenant is deactivated.
pub async fn require_any_status<'a>(
    ctx: &Context<'a>,
    permission: Permission,
) -> AppResult<TenantScope<'a>> {
    let scope = member_any_status(ctx)?;
    if !permissions(ctx)
        .await?
        .iter()
        .any(|p| p == permission.as_str())
    {
        return Err(AppError::forbidden(format!(
            "this needs the permission {}",
            permission.as_str()
        )));
    }
    Ok(scope)
}

/// A platform admin's access: across tenants, every tenant access audited.
pub struct PlatformScope<'a> {
    pub services: &'a Services,
    pub meta: &'a RequestMeta,
    pub admin_id: Uuid,
    reads: &'a AdminReads,
}

impl<'a> PlatformScope<'a> {
    pub fn audit(&self) -> AuditContext {
        self.meta.audit(Actor::PlatformAdmin(self.admin_id))
    }

    /// Runs an operation in one system-scope transaction, its audit events written to the
    /// platform log in it, and its effects after the commit.
    pub async fn run_system<'f, T, F>(&self, op: F) -> AppResult<T>
    where
        T: Send + 'f,
        F: for<'r> FnOnce(
                &'r mut SystemTx,
            ) -> ScopedBoxFuture<'f, 'r, AppResult<crate::ops::Done<T>>>
            + Send
            + 'f,
    {
        let audit = self.audit();
        let done = crate::ops::in_system(
            &self.services.sign_in.db,
            SystemReason::PlatformAdmin,
            audit.clone(),
            op,
        )
        .await?;
        self.services
            .sign_in
            .effects
            .run(&audit, done.effects)
            .await;
        Ok(done.value)
    }

    /// One transaction in system scope (across tenants).
    pub async fn system_tx<'f, T, F>(&self, f: F) -> AppResult<T>
    where
        T: Send + 'f,
        F: for<'r> FnOnce(&'r mut SystemTx) -> ScopedBoxFuture<'f, 'r, AppResult<T>> + Send + 'f,
    {
        self.services
            .sign_in
            .db
            .system_tx(SystemReason::PlatformAdmin, f)
            .await
    }

    /// Runs an operation in one transaction of `tenant_id`, as that tenant sees it, acting as
    /// this admin: its audit events go to the tenant's log in it (an operation reading a
    /// tenant's data records the read), and the tenant counts as recorded for `admin_reads`.
    pub async fn run_in_tenant<'f, T, F>(&self, tenant_id: Uuid, op: F) -> AppResult<T>
    where
        T: Send + 'f,
        F: for<'r> FnOnce(
                &'r mut TenantTx,
            ) -> ScopedBoxFuture<'f, 'r, AppResult<crate::ops::Done<T>>>
            + Send
            + 'f,
    {
        let value = self.tenant(tenant_id).run(op).await?;
        self.reads.recorded(tenant_id);
        Ok(value)
    }

    /// A [`TenantScope`] for one tenant, acting as this admin.
    pub fn tenant(&self, tenant_id: Uuid) -> TenantScope<'a> {
        TenantScope {
            services: self.services,
            meta: self.meta,
            tenant_id,
            actor: Actor::PlatformAdmin(self.admin_id),
        }
    }
}

/// A platform admin whose account is still enabled.
pub async fn platform_admin<'a>(ctx: &Context<'a>) -> AppResult<PlatformScope<'a>> {
    let req = request(ctx)?;
    let Principal::PlatformAdmin { admin_id, .. } = req.principal else {
        return Err(match req.principal {
            Principal::Anonymous => {
                AppError::unauthenticated("log in first: this needs a platform admin token")
            }
            _ => AppError::forbidden("this needs a platform admin"),
        });
    };
    let services = services(ctx)?;
    req.admin_checked
        .get_or_try_init(|| async {
            let admin = services
                .sign_in
                .db
                .system_tx(SystemReason::PlatformAdmin, move |conn| {
                    PlatformAdminRow::find(conn, admin_id).scope_boxed()
                })
                .await?;
            match admin {
                Some(a) if a.disabled_at.is_none() => Ok(()),
                _ => Err(AppError::unauthenticated(
                    "this platform admin account is disabled",
                )),
            }
        })
        .await?;
    Ok(PlatformScope {
        services,
        meta: &req.meta,
        admin_id,
        reads: &req.admin_reads,
    })
}

/// The scope in which nested fields of an object of `tenant_id` load their relations: the
/// caller's own tenant, or any tenant for a platform admin. Anything else is FORBIDDEN, so an
/// object can never pull in another tenant's rows.
pub fn reader_for<'a>(ctx: &Context<'a>, tenant_id: Uuid) -> AppResult<TenantScope<'a>> {
    let req = request(ctx)?;
    match &req.principal {
        Principal::Member(m) if m.tenant_id == tenant_id => scope_of(ctx, m),
        Principal::PlatformAdmin { admin_id, .. } => {
            req.admin_reads.note(tenant_id);
            Ok(TenantScope {
                services: services(ctx)?,
                meta: &req.meta,
                tenant_id,
                actor: Actor::PlatformAdmin(*admin_id),
            })
        }
        _ => Err(AppError::forbidden("not your tenant")),
    }
}

/// This request's loaders for `tenant_id`, created on first use; the same access rule as
/// [`reader_for`] applies.
pub fn loaders(ctx: &Context<'_>, tenant_id: Uuid) -> AppResult<Arc<Loaders>> {
    let scope = reader_for(ctx, tenant_id)?;
    let req = request(ctx)?;
    let mut map = req
        .loaders
        .lock()
        .map_err(|_| AppError::internal(anyhow::anyhow!("loaders lock poisoned")))?;
    Ok(map
        .entry(tenant_id)
        .or_insert_with(|| {
            Arc::new(loaders::for_tenant(
                scope.services.sign_in.db.clone(),
                tenant_id,
            ))
        })
        .clone())
}
