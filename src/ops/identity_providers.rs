//! A tenant's identity providers (OpenID Connect today, `kind` leaves room for SAML): added
//! after discovery (done by the caller, outside the transaction), bound to verified domains of
//! the tenant, removed. Needs the tenant's `sso` feature. The client secret is sealed with the
//! secrets key, bound to the tenant and the provider, and only shown masked.

use std::collections::BTreeMap;

use chrono::Utc;
use serde_json::json;
use uuid::Uuid;

use crate::{
    db::{
        Db, ScopedFutureExt, TenantTx,
        audit::AuditEvent,
        models::{
            FederatedSessions, IdentityProviderRow, RoleRow, SessionRow, TenantDomainRow,
            TenantRow, UserRow,
        },
    },
    domain::Action,
    error::{AppError, AppResult, Reason},
    ops::{
        Done,
        rules::{Feature, ensure_feature},
    },
    secrets::{self, SecretBox},
    sso::domain_state::DomainState,
};

/// Providers one tenant may register.
pub const MAX_PROVIDERS: usize = 20;

/// A provider to register, validated, with its discovered metadata.
pub struct NewProvider {
    pub name: String,
    pub issuer: String,
    pub client_id: String,
    pub client_secret: String,
    pub scopes: Vec<String>,
    pub email_claim: String,
    pub groups_claim: Option<String>,
    pub group_roles: BTreeMap<String, Uuid>,
    pub domain_ids: Vec<Uuid>,
    pub jit_provisioning: bool,
    pub default_role_id: Option<Uuid>,
    pub enforce_sso: bool,
    pub break_glass_user_id: Option<Uuid>,
    pub metadata: serde_json::Value,
}

/// The associated data of a provider's sealed client secret.
pub fn secret_name(provider_id: Uuid) -> String {
    format!("identity_provider:{provider_id}")
}

/// Registers a provider serving `domain_ids` (each a verified domain of the tenant that no other
/// provider serves yet).
pub async fn add(
    tx: &mut TenantTx,
    secrets_box: &SecretBox,
    new: NewProvider,
) -> AppResult<Done<IdentityProviderRow>> {
    let tenant_id = tx.tenant_id();
    let tenant = TenantRow::current(tx, tenant_id).await?;
    ensure_feature(&tenant, Feature::Sso)?;
    let existing = IdentityProviderRow::all(tx).await?;
    if existing.len() >= MAX_PROVIDERS {
        return Err(AppError::bad_input(
            "name",
            format!("a tenant registers {MAX_PROVIDERS} identity providers at most"),
        ));
    }
    if existing.iter().any(|p| p.name == new.name) {
        return Err(AppError::conflict(format!(
            "an identity provider is already called {:?}",
            new.name
        )));
    }
    if new.domain_ids.is_empty() {
        return Err(AppError::bad_input(
            "domainIds",
            "a provider serves at least one verified domain",
        ));
    }
    for id in &new.domain_ids {
        let domain = TenantDomainRow::find(tx, *id)
            .await?
            .ok_or_else(|| AppError::not_found("domain"))?;
        if DomainState::from_db(&domain.state)? != DomainState::Verified {
            return Err(AppError::bad_input(
                "domainIds",
                format!("{} is not verified: verify it first", domain.domain),
            )
            .with_reason(Reason::DomainNotVerified));
        }
    }
    if !IdentityProviderRow::bound_among(tx, &new.domain_ids)
        .await?
        .is_empty()
    {
        return Err(AppError::conflict(
            "a domain is already served by another identity provider",
        ));
    }
    for role in new.default_role_id.iter().chain(new.group_roles.values()) {
        if RoleRow::find(tx, *role).await?.is_none() {
            return Err(AppError::not_found("role"));
        }
    }
    if new.jit_provisioning && new.default_role_id.is_none() && new.group_roles.is_empty() {
        return Err(AppError::bad_input(
            "defaultRoleId",
            "just-in-time provisioning needs a default role or a group mapping",
        ));
    }
    if let Some(user) = new.break_glass_user_id {
        UserRow::get(tx, user).await?;
        if !RoleRow::active_owners(tx).await?.contains(&user) {
            return Err(AppError::bad_input(
                "breakGlassUserId",
                "the break-glass account must be an active owner",
            ));
        }
    } else if new.enforce_sso {
        return Err(AppError::bad_input(
            "breakGlassUserId",
            "enforcing SSO needs a break-glass owner, who can still sign in with a password",
        ));
    }
    let id = Uuid::now_v7();
    let sealed = secrets_box
        .seal(tenant_id, &secret_name(id), &new.client_secret)
        .map_err(AppError::internal)?;
    let now = Utc::now();
    let row = IdentityProviderRow::insert(
        tx,
        &IdentityProviderRow {
            tenant_id,
            id,
            kind: "oidc".to_owned(),
            name: new.name,
            issuer: new.issuer,
            client_id: new.client_id,
            client_secret_ciphertext: sealed,
            client_secret_hint: secrets::hint_of(&new.client_secret),
            scopes: new.scopes.join(" "),
            email_claim: new.email_claim,
            groups_claim: new.groups_claim,
            group_roles: json!(new.group_roles),
            jit_provisioning: new.jit_provisioning,
            default_role_id: new.default_role_id,
            enforce_sso: new.enforce_sso,
            break_glass_user_id: new.break_glass_user_id,
            metadata: new.metadata,
            created_at: now,
            updated_at: now,
        },
    )
    .await?;
    IdentityProviderRow::bind_domains(tx, id, &new.domain_ids).await?;
    let domains = IdentityProviderRow::domains_of(tx, id).await?;
    let event = AuditEvent::new(Action::SsoProviderAdded)
        .target("identity_provider", id)
        .details(json!({
            "name": row.name,
            "kind": row.kind,
            "issuer": row.issuer,
            "client_id": row.client_id,
            "domains": domains,
            "jit_provisioning": row.jit_provisioning,
            "enforce_sso": row.enforce_sso,
        }));
    Ok(Done::audited(row, event))
}

/// Refuses a password sign-in of `user` when the provider serving the domain of their email
/// enforces SSO, unless the user is that provider's break-glass owner (FORBIDDEN, reason
/// `sso_required`). Called by `ops::sessions::authenticate_password` once the password is right.
pub async fn ensure_password_sign_in(db: &Db, tenant_id: Uuid, user: &UserRow) -> AppResult<()> {
    db.tenant_tx(tenant_id, |tx| ensure_not_sso_only(tx, user).scope_boxed())
        .await
}

/// [`ensure_password_sign_in`] within the sign-in's own transaction (passwordless passkeys).
pub async fn ensure_not_sso_only(tx: &mut TenantTx, user: &UserRow) -> AppResult<()> {
    let Some((_, domain)) = user.email.rsplit_once('@') else {
        return Ok(());
    };
    let domain = domain.to_lowercase();
    match IdentityProviderRow::serving(tx, &domain).await? {
        Some(p) if p.enforce_sso && p.break_glass_user_id != Some(user.id) => {
            Err(AppError::forbidden(format!(
                "{domain} signs in through {}: use single sign-on, not a password",
                p.name
            ))
            .with_reason(Reason::SsoRequired))
        }
        _ => Ok(()),
    }
}

/// Removes a provider: its domains are no longer routed to it, the identities linked through
/// it are forgotten, and the sessions signed in through it end (their refresh tokens stop
/// working, their access tokens are refused from now on).
pub async fn remove(tx: &mut TenantTx, id: Uuid) -> AppResult<Done<IdentityProviderRow>> {
    let row = IdentityProviderRow::find(tx, id)
        .await?
        .ok_or_else(|| AppError::not_found("identity provider"))?;
    let sessions = FederatedSessions::open_of(tx, id).await?;
    for session in &sessions {
        SessionRow::revoke(tx, *session, "identity_provider_removed").await?;
    }
    IdentityProviderRow::delete(tx, id).await?;
    let event = AuditEvent::new(Action::SsoProviderRemoved)
        .target("identity_provider", id)
        .details(
            json!({ "name": row.name, "issuer": row.issuer, "sessions_ended": sessions.len() }),
        );
    Ok(Done::audited(row, event).and_sessions_revoked(sessions))
}
