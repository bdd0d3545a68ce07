//! Tenants: sign-up (a new tenant with its roles, default workspace and owner, in one
//! transaction of the new tenant's own scope).

use serde_json::json;
use uuid::Uuid;

use crate::{
    auth::password,
    db::{
        Db, Reader, ScopedFutureExt, SystemReason, SystemTx, TenantTx,
        audit::{Actor, AuditEvent},
        models::{
            PlanRow, RoleRow, SubscriptionRow, TenantProductRow, TenantRow, UserRoleRow, UserRow,
            WorkspaceRow, tenant::NewTenant, user::NewUser, workspace::NewWorkspace,
        },
    },
    domain::{Action, DisplayName, Email, Hostname, NewPassword, ProductAccess, Slug},
    error::{AppError, AppResult},
    ops::{Done, Effect},
};

/// The default workspace every tenant starts with.
pub const DEFAULT_WORKSPACE_NAME: &str = "General";
pub const DEFAULT_WORKSPACE_SLUG: &str = "general";
/// The product every new tenant may use from the start.
pub const DEFAULT_PRODUCT: &str = "workspaces";

/// A sign-up as typed: checked by [`validate`].
pub struct TenantSignup {
    pub name: String,
    pub domain: String,
    pub owner_email: String,
    pub owner_password: String,
    pub slug: Option<String>,
    pub owner_name: Option<String>,
    pub plan: Option<String>,
}

/// A validated sign-up. The password is hashed only once [`precheck`] has passed (argon2 is the
/// expensive part of a sign-up; a taken domain must not cost one).
pub struct NewTenantSpec {
    pub name: String,
    pub slug: Slug,
    pub domain: Hostname,
    pub plan: String,
    pub owner_email: Email,
    pub owner_name: Option<String>,
    pub owner_password: NewPassword,
}

pub struct CreatedTenant {
    pub tenant: TenantRow,
    pub owner: UserRow,
    pub workspace: WorkspaceRow,
}

/// Checks every field of the input; the first fault is a BAD_USER_INPUT naming its field.
/// Nothing is hashed here.
pub fn validate(input: TenantSignup) -> AppResult<NewTenantSpec> {
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
    Ok(NewTenantSpec {
        name,
        slug,
        domain,
        plan,
        owner_email,
        owner_name,
        owner_password: password,
    })
}

/// The cheap checks of a sign-up, before its password is hashed: the plan exists and `actor`
/// may choose it, the domain and slug are free (a read across tenants, so system scope; the
/// unique indexes stay the arbiter of a race, in [`create`]).
///
/// The one place [`SystemReason::SignUp`] is minted.
pub async fn precheck(db: &Db, spec: &NewTenantSpec, actor: Actor) -> AppResult<()> {
    db.system_tx(SystemReason::SignUp, |sys| {
        precheck_in(sys, spec, actor).scope_boxed()
    })
    .await
}

async fn precheck_in(conn: &mut SystemTx, spec: &NewTenantSpec, actor: Actor) -> AppResult<()> {
    check_plan(conn, &spec.plan, actor).await?;
    if let Some(field) =
        TenantRow::key_taken(conn, spec.domain.as_str(), spec.slug.as_str()).await?
    {
        return Err(TenantRow::taken(field));
    }
    Ok(())
}

async fn check_plan(conn: &mut impl Reader, plan: &str, actor: Actor) -> AppResult<PlanRow> {
    let plan = PlanRow::get(conn, plan, "plan").await?;
    if plan.id != "free" && !matches!(actor, Actor::PlatformAdmin(_)) {
        return Err(AppError::forbidden(
            "only platform admins can create a tenant on a paid plan",
        ));
    }
    Ok(plan)
}

/// Hashes the owner's password of a sign-up that passed [`precheck`].
pub async fn hash_owner_password(spec: &NewTenantSpec) -> AppResult<String> {
    password::hash(&spec.owner_password).await
}

/// Creates the tenant of `tx` (a fresh id: sign-up runs in the new tenant's own scope) with
/// everything it starts with: its subscription, system roles, default workspace, owner and
/// product access. A domain or slug taken by another tenant is a CONFLICT from the unique
/// indexes (no look across tenants first). `actor` is who asked: anyone (self-service, then
/// the owner is recorded as actor) or a platform admin, who also gets a platform audit record.
pub async fn create(
    conn: &mut TenantTx,
    spec: &NewTenantSpec,
    owner_password_hash: &str,
    actor: Actor,
) -> AppResult<Done<CreatedTenant>> {
    let plan = check_plan(conn, &spec.plan, actor).await?;
    let (features, limits) = (plan.features(), plan.limits());
    let tenant = TenantRow::insert(
        conn,
        NewTenant {
            id: conn.tenant_id(),
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
            password_hash: Some(owner_password_hash),
            status: "active",
        },
    )
    .await?;
    let owner_role = roles
        .first()
        .ok_or_else(|| AppError::internal(anyhow::anyhow!("no owner role")))?;
    UserRoleRow::assign(conn, tenant_id, owner.id, owner_role.id, None).await?;
    crate::ops::users::send_email_verification(conn, &owner).await?;
    TenantProductRow::set(conn, tenant_id, DEFAULT_PRODUCT, ProductAccess::Full).await?;
    let event = AuditEvent::new(Action::TenantCreated)
        .target("tenant", tenant_id)
        .details(json!({
            "name": tenant.name, "domain": tenant.domain, "slug": tenant.slug, "plan": tenant.plan,
            "owner_id": owner.id, "default_workspace_id": workspace.id,
        }));
    // A self-service sign-up is the owner's own act.
    let event = match actor {
        Actor::Anonymous => event.by(Actor::User(owner.id)),
        _ => event,
    };
    let mut done = Done::audited(
        CreatedTenant {
            tenant,
            owner,
            workspace,
        },
        event,
    );
    if let Actor::PlatformAdmin(_) = actor {
        // The platform log cannot be written in a tenant's transaction; the tenant's own log,
        // above, records the admin atomically with the creation.
        done = done.and_effect(Effect::PlatformAudit(
            AuditEvent::new(Action::PlatformTenantCreated).target("tenant", tenant_id),
        ));
    }
    Ok(done)
}
