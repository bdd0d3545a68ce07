//! `createTenant`: self-service sign-up (when enabled) or a platform admin creating a tenant.
//! The tenant, its system roles, its default workspace, its owner and the audit records are
//! written in one transaction: a failure leaves nothing behind.

use crate::db::ScopedFutureExt;
use async_graphql::{Context, InputObject, Object, SimpleObject};
use serde_json::json;
use uuid::Uuid;

use crate::{
    auth::{Principal, password},
    db::{
        Conn,
        audit::{self, Actor, AuditContext, AuditEvent},
        models::{
            PlanRow, RoleRow, SubscriptionRow, TenantProductRow, TenantRow, UserRoleRow, UserRow,
            WorkspaceRow, tenant::NewTenant, user::NewUser, workspace::NewWorkspace,
        },
    },
    domain::{DisplayName, Email, Hostname, NewPassword, ProductAccess, Slug},
    error::{AppError, AppResult},
    graphql::{context, tenant::Tenant, user::User, workspace::Workspace},
};

/// The default workspace every tenant starts with.
pub const DEFAULT_WORKSPACE_NAME: &str = "General";
pub const DEFAULT_WORKSPACE_SLUG: &str = "general";
/// The product every new tenant may use from the start.
pub const DEFAULT_PRODUCT: &str = "workspaces";

#[derive(InputObject)]
pub struct CreateTenantInput {
    pub name: String,
    /// The tenant's DNS name, e.g. acme.example.com; unique.
    pub domain: String,
    pub owner_email: String,
    pub owner_password: String,
    /// Derived from the name when absent; unique.
    pub slug: Option<String>,
    pub owner_name: Option<String>,
    /// free (default), pro or enterprise; only platform admins may choose another than free.
    pub plan: Option<String>,
}

#[derive(SimpleObject)]
pub struct CreateTenantPayload {
    pub tenant: Tenant,
    pub owner: User,
    pub default_workspace: Workspace,
}

/// A validated sign-up.
pub struct NewTenantSpec {
    pub name: String,
    pub slug: Slug,
    pub domain: Hostname,
    pub plan: String,
    pub owner_email: Email,
    pub owner_name: Option<String>,
    pub owner_password_hash: String,
}

pub struct CreatedTenant {
    pub tenant: TenantRow,
    pub owner: UserRow,
    pub workspace: WorkspaceRow,
}

/// Checks every field of the input; the first fault is a BAD_USER_INPUT naming its field.
pub async fn validate(input: CreateTenantInput) -> AppResult<NewTenantSpec> {
    let name = DisplayName::parse("name", &input.name)?.into_inner();
    let domain = Hostname::parse("domain", &input.domain)?;
    let slug = match input.slug.as_deref() {
        Some(s) => Slug::parse("slug", s)?,
        None => Slug::derive("tenant", &name),
    };
    let owner_email = Email::parse("ownerEmail", &input.owner_email)?;
    let password = NewPassword::parse(
        "ownerPassword",
        &input.owner_password,
        Some(owner_email.as_str()),
    )?
    .not_containing(
        "ownerPassword",
        &[
            &name,
            slug.as_str(),
            domain.as_str().split('.').next().unwrap_or_default(),
        ],
    )?;
    // Checked against the plans table in create_tenant.
    let plan = input.plan.unwrap_or_else(|| "free".to_owned());
    let owner_name = input
        .owner_name
        .map(|n| n.trim().to_owned())
        .filter(|n| !n.is_empty());
    if owner_name.as_ref().is_some_and(|n| n.chars().count() > 200) {
        return Err(AppError::bad_input(
            "ownerName",
            "ownerName must have at most 200 characters",
        ));
    }
    let owner_password_hash = password::hash(&password).await?;
    Ok(NewTenantSpec {
        name,
        slug,
        domain,
        plan,
        owner_email,
        owner_name,
        owner_password_hash,
    })
}

/// Writes a new tenant with everything it starts with. Runs in system scope (the tenant does
/// not exist yet, so no tenant scope can admit it).
pub async fn create_tenant(
    conn: &mut Conn,
    spec: &NewTenantSpec,
    ctx: &AuditContext,
) -> AppResult<CreatedTenant> {
    let plan = PlanRow::get(conn, &spec.plan, "plan").await?;
    if plan.id != "free" && !matches!(ctx.actor, Actor::PlatformAdmin(_)) {
        return Err(AppError::forbidden(
            "only platform admins can create a tenant on a paid plan",
        ));
    }
    let (features, limits) = (plan.features(), plan.limits());
    let tenant = TenantRow::insert(
        conn,
        NewTenant {
            id: Uuid::now_v7(),
            name: &spec.name,
            slug: spec.slug.as_str(),
            domain: spec.domain.as_str(),
            plan: &spec.plan,
            features: serde_json::to_value(features).map_err(anyhow::Error::from)?,
            limits: serde_json::to_value(limits).map_err(anyhow::Error::from)?,
        },
    )
    .await?;
    let tenant_id = tenant.id;
    let period_start = crate::alerts::month_start();
    SubscriptionRow::insert(
        conn,
        &SubscriptionRow {
            tenant_id,
            plan_id: plan.id.clone(),
            status: "active".into(),
            seats: 1,
            current_period_start: period_start,
            current_period_end: period_start + chrono::Months::new(1),
            updated_at: chrono::Utc::now(),
        },
    )
    .await?;
    let roles = RoleRow::insert_system_roles(conn, tenant_id).await?;
    let workspace = WorkspaceRow::insert(
        conn,
        NewWorkspace {
            tenant_id,
            id: Uuid::now_v7(),
            name: DEFAULT_WORKSPACE_NAME,
            slug: DEFAULT_WORKSPACE_SLUG,
            is_default: true,
        },
    )
    .await?;
    let owner = UserRow::insert(
        conn,
        NewUser {
            tenant_id,
            id: Uuid::now_v7(),
            email: spec.owner_email.as_str(),
            display_name: spec.owner_name.as_deref(),
            password_hash: Some(&spec.owner_password_hash),
            status: "active",
        },
    )
    .await?;
    let owner_role = roles
        .first()
        .ok_or_else(|| AppError::internal(anyhow::anyhow!("no owner role")))?;
    UserRoleRow::assign(conn, tenant_id, owner.id, owner_role.id, None).await?;
    TenantProductRow::set(conn, tenant_id, DEFAULT_PRODUCT, ProductAccess::Full).await?;
    let actor_ctx = match ctx.actor {
        Actor::Anonymous => ctx.with_actor(Actor::User(owner.id)),
        _ => ctx.clone(),
    };
    audit::record(
        conn,
        tenant_id,
        &actor_ctx,
        AuditEvent::new("tenant.created").target("tenant", tenant_id).details(json!({
            "name": tenant.name, "domain": tenant.domain, "slug": tenant.slug, "plan": tenant.plan,
            "owner_id": owner.id, "default_workspace_id": workspace.id,
        })),
    )
    .await?;
    if let Actor::PlatformAdmin(_) = ctx.actor {
        audit::record_platform(
            conn,
            ctx,
            AuditEvent::new("platform.tenant_created").target("tenant", tenant_id),
        )
        .await?;
    }
    Ok(CreatedTenant {
        tenant,
        owner,
        workspace,
    })
}

#[derive(Default)]
pub struct SignupMutation;

#[Object]
impl SignupMutation {
    /// Creates a tenant with its system roles, default workspace and owner, in one transaction.
    /// Taken domain or slug: CONFLICT. Malformed input or a weak password: BAD_USER_INPUT.
    async fn create_tenant(
        &self,
        ctx: &Context<'_>,
        input: CreateTenantInput,
    ) -> Result<CreateTenantPayload, AppError> {
        let state = context::state(ctx)?;
        let req = context::request(ctx)?;
        let actor = match req.principal {
            Principal::PlatformAdmin { .. } => {
                let admin = context::platform_admin(ctx).await?;
                Actor::PlatformAdmin(admin.admin_id)
            }
            _ if state.settings.signup_enabled => Actor::Anonymous,
            _ => {
                return Err(AppError::forbidden(
                    "self-service sign-up is switched off; ask a platform admin",
                ));
            }
        };
        let spec = validate(input).await?;
        let audit_ctx = req.meta.audit(actor);
        let created = state
            .db
            .system_tx(move |conn| {
                async move { create_tenant(conn, &spec, &audit_ctx).await }.scope_boxed()
            })
            .await?;
        Ok(CreateTenantPayload {
            tenant: Tenant(created.tenant),
            owner: User::from(created.owner),
            default_workspace: Workspace(created.workspace),
        })
    }
}
