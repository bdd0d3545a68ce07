//! Enterprise SSO in GraphQL: the tenant's verified email domains (added, verified through a
//! DNS TXT record, removed) and its identity providers (registered after OpenID discovery,
//! removed). Resolvers map input and output; the rules are in `ops::domains` and
//! `ops::identity_providers`.

use std::collections::BTreeMap;

use async_graphql::{Context, Enum, ID, InputObject, Object, SimpleObject};
use chrono::{DateTime, Utc};

use crate::{
    db::{
        ScopedFutureExt,
        models::{IdentityProviderRow, TenantDomainRow},
    },
    domain::{Permission, hostname::Hostname},
    error::AppError,
    graphql::{context, ids},
    ops::{
        domains,
        identity_providers::{self, NewProvider},
        rules::{Feature, ensure_feature},
    },
    secrets,
    sso::{dns::challenge_name, domain_state::DomainState, oidc},
};

/// An email domain of the tenant. Verified by publishing `challenge` as a TXT record of
/// `challengeName`, then calling `verifyTenantDomain`; re-verified periodically.
pub struct TenantDomain(pub TenantDomainRow);

#[Object]
impl TenantDomain {
    async fn id(&self) -> ID {
        ids::encode("TenantDomain", self.0.id)
    }

    /// The domain, lower-case, e.g. `acme.com`.
    async fn domain(&self) -> &str {
        &self.0.domain
    }

    async fn state(&self) -> Result<DomainState, AppError> {
        DomainState::from_db(&self.0.state)
    }

    /// The name whose TXT record must carry the challenge: `_tenant-hub-challenge.<domain>`.
    async fn challenge_name(&self) -> String {
        challenge_name(&self.0.domain)
            .trim_end_matches('.')
            .to_owned()
    }

    /// The exact value of the TXT record to publish.
    async fn challenge(&self) -> &str {
        &self.0.challenge
    }

    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }

    /// When the record was first found (null unless verified).
    async fn verified_at(&self) -> Option<DateTime<Utc>> {
        self.0.verified_at
    }

    /// The last DNS check.
    async fn checked_at(&self) -> Option<DateTime<Utc>> {
        self.0.checked_at
    }

    /// What the last check found wrong, for the admin.
    async fn last_error(&self) -> Option<&str> {
        self.0.last_error.as_deref()
    }
}

#[derive(SimpleObject)]
pub struct TenantDomainPayload {
    pub domain: TenantDomain,
}

/// `Tenant.domains`: the tenant's email domains (needs tenant:manage), for `graphql::tenant`.
pub async fn tenant_domains(
    ctx: &Context<'_>,
    tenant_id: uuid::Uuid,
) -> Result<Vec<TenantDomain>, AppError> {
    let scope = context::reader_for(ctx, tenant_id)?;
    if scope.user_id().is_some() {
        context::require(ctx, Permission::TenantManage).await?;
    }
    Ok(scope
        .tx(|conn| TenantDomainRow::all(conn).scope_boxed())
        .await?
        .into_iter()
        .map(TenantDomain)
        .collect())
}

#[derive(Default)]
pub struct SsoMutation;

#[Object]
impl SsoMutation {
    /// Adds an email domain of the tenant, pending until its DNS challenge is verified. Public
    /// email domains (gmail.com, …) are refused (`reason: domain_public`).
    async fn add_tenant_domain(
        &self,
        ctx: &Context<'_>,
        domain: String,
    ) -> Result<TenantDomainPayload, AppError> {
        let domain = Hostname::parse("domain", &domain)?;
        let scope = context::require(ctx, Permission::TenantManage).await?;
        let row = scope
            .run(|tx| domains::add(tx, domain).scope_boxed())
            .await?;
        Ok(TenantDomainPayload {
            domain: TenantDomain(row),
        })
    }

    /// Looks the domain's challenge up in DNS now: VERIFIED when a TXT record of
    /// `_tenant-hub-challenge.<domain>` carries it, else FAILED (with `lastError`). A domain
    /// verified by another tenant is refused (`reason: domain_verified_elsewhere`).
    async fn verify_tenant_domain(
        &self,
        ctx: &Context<'_>,
        id: ID,
    ) -> Result<TenantDomainPayload, AppError> {
        let id = ids::decode("TenantDomain", "id", &id)?;
        let scope = context::require(ctx, Permission::TenantManage).await?;
        let current = scope
            .tx(|conn| TenantDomainRow::find(conn, id).scope_boxed())
            .await?
            .ok_or_else(|| AppError::not_found("domain"))?;
        let outcome = scope
            .services
            .dns
            .check(&current.domain, &current.challenge)
            .await;
        let challenge = current.challenge;
        let row = scope
            .run(|tx| domains::record_check(tx, id, &challenge, outcome, false).scope_boxed())
            .await?;
        Ok(TenantDomainPayload {
            domain: TenantDomain(row),
        })
    }

    /// Removes an email domain; identity providers bound to it no longer serve it.
    async fn remove_tenant_domain(
        &self,
        ctx: &Context<'_>,
        id: ID,
    ) -> Result<TenantDomainPayload, AppError> {
        let id = ids::decode("TenantDomain", "id", &id)?;
        let scope = context::require(ctx, Permission::TenantManage).await?;
        let row = scope
            .run(|tx| domains::remove(tx, id).scope_boxed())
            .await?;
        Ok(TenantDomainPayload {
            domain: TenantDomain(row),
        })
    }
}

/// The protocol of an identity provider (SAML may come beside OpenID Connect).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Enum)]
pub enum IdentityProviderKind {
    Oidc,
}

/// A group of the provider's groups claim and the tenant role its members get.
#[derive(SimpleObject, InputObject)]
#[graphql(input_name = "GroupRoleInput")]
pub struct GroupRole {
    pub group: String,
    pub role_id: ID,
}

/// A tenant's identity provider: its users of the bound domains sign in there.
pub struct IdentityProvider {
    row: IdentityProviderRow,
    domains: Vec<String>,
    redirect_uri: String,
}

#[Object]
impl IdentityProvider {
    async fn id(&self) -> ID {
        ids::encode("IdentityProvider", self.row.id)
    }

    async fn kind(&self) -> IdentityProviderKind {
        IdentityProviderKind::Oidc
    }

    async fn name(&self) -> &str {
        &self.row.name
    }

    /// The OpenID issuer, as discovered.
    async fn issuer(&self) -> &str {
        &self.row.issuer
    }

    async fn client_id(&self) -> &str {
        &self.row.client_id
    }

    /// `••••abcd`: the secret is never shown.
    async fn client_secret(&self) -> String {
        secrets::mask(self.row.client_secret_hint.as_deref())
    }

    async fn scopes(&self) -> Vec<String> {
        self.row.scopes.split(' ').map(str::to_owned).collect()
    }

    /// The ID-token claim that carries the email (default `email`).
    async fn email_claim(&self) -> &str {
        &self.row.email_claim
    }

    async fn groups_claim(&self) -> Option<&str> {
        self.row.groups_claim.as_deref()
    }

    async fn group_roles(&self) -> Vec<GroupRole> {
        serde_json::from_value::<BTreeMap<String, uuid::Uuid>>(self.row.group_roles.clone())
            .unwrap_or_default()
            .into_iter()
            .map(|(group, role)| GroupRole {
                group,
                role_id: ids::encode("Role", role),
            })
            .collect()
    }

    /// The verified domains whose users this provider signs in.
    async fn domains(&self) -> &[String] {
        &self.domains
    }

    /// Whether unknown users of the domains are created at their first sign-in.
    async fn jit_provisioning(&self) -> bool {
        self.row.jit_provisioning
    }

    async fn default_role_id(&self) -> Option<ID> {
        self.row.default_role_id.map(|r| ids::encode("Role", r))
    }

    /// Whether password login is refused for the domains' users (but the break-glass owner).
    async fn enforce_sso(&self) -> bool {
        self.row.enforce_sso
    }

    async fn break_glass_user_id(&self) -> Option<ID> {
        self.row.break_glass_user_id.map(|u| ids::encode("User", u))
    }

    /// The redirect URI to register at the provider for this client.
    async fn redirect_uri(&self) -> &str {
        &self.redirect_uri
    }

    async fn created_at(&self) -> DateTime<Utc> {
        self.row.created_at
    }
}

/// The redirect URI of the hub's federated logins.
pub fn redirect_uri(public_url: &str) -> String {
    format!("{public_url}/sso/callback")
}

#[derive(InputObject)]
pub struct AddIdentityProviderInput {
    /// A name unique in the tenant, shown to admins.
    pub name: String,
    /// The OpenID issuer URL; its discovery document is read now.
    pub issuer: String,
    pub client_id: String,
    pub client_secret: String,
    /// Default `openid email profile`; `openid` is always requested.
    pub scopes: Option<Vec<String>>,
    /// Default `email`.
    pub email_claim: Option<String>,
    pub groups_claim: Option<String>,
    pub group_roles: Option<Vec<GroupRole>>,
    /// Verified domains of the tenant that this provider serves.
    pub domain_ids: Vec<ID>,
    pub jit_provisioning: Option<bool>,
    pub default_role_id: Option<ID>,
    pub enforce_sso: Option<bool>,
    /// An owner who may still sign in with a password when SSO is enforced.
    pub break_glass_user_id: Option<ID>,
}

#[derive(SimpleObject)]
pub struct IdentityProviderPayload {
    pub identity_provider: IdentityProvider,
}

fn text(field: &str, raw: &str, max: usize) -> Result<String, AppError> {
    let t = raw.trim();
    if t.is_empty() || t.chars().count() > max || t.chars().any(char::is_control) {
        return Err(AppError::bad_input(
            field,
            format!("{field} must have 1 to {max} printable characters"),
        ));
    }
    Ok(t.to_owned())
}

fn claim_name(field: &str, raw: &str) -> Result<String, AppError> {
    let t = text(field, raw, 100)?;
    if t.contains(char::is_whitespace) {
        return Err(AppError::bad_input(
            field,
            format!("{field} must be a claim name"),
        ));
    }
    Ok(t)
}

async fn provider_objects(
    ctx: &Context<'_>,
    scope: &context::TenantScope<'_>,
    rows: Vec<IdentityProviderRow>,
) -> Result<Vec<IdentityProvider>, AppError> {
    let state = context::sign_in(ctx)?;
    let mut out = Vec::with_capacity(rows.len());
    for row in rows {
        let id = row.id;
        let domains = scope
            .tx(|conn| IdentityProviderRow::domains_of(conn, id).scope_boxed())
            .await?;
        out.push(IdentityProvider {
            row,
            domains,
            redirect_uri: redirect_uri(state.public_url()),
        });
    }
    Ok(out)
}

/// `Tenant.identityProviders` (needs tenant:manage), for `graphql::tenant`.
pub async fn tenant_identity_providers(
    ctx: &Context<'_>,
    tenant_id: uuid::Uuid,
) -> Result<Vec<IdentityProvider>, AppError> {
    let scope = context::reader_for(ctx, tenant_id)?;
    if scope.user_id().is_some() {
        context::require(ctx, Permission::TenantManage).await?;
    }
    let rows = scope
        .tx(|conn| IdentityProviderRow::all(conn).scope_boxed())
        .await?;
    provider_objects(ctx, &scope, rows).await
}

#[derive(Default)]
pub struct IdentityProviderMutation;

#[Object]
impl IdentityProviderMutation {
    /// Registers an OpenID Connect provider for verified domains of the tenant (needs the
    /// `sso` feature). The issuer's discovery document is read now; configure the provider
    /// with the answer's `redirectUri`.
    async fn add_identity_provider(
        &self,
        ctx: &Context<'_>,
        input: AddIdentityProviderInput,
    ) -> Result<IdentityProviderPayload, AppError> {
        let name = text("name", &input.name, 100)?;
        let client_id = text("clientId", &input.client_id, 255)?;
        if input.client_secret.is_empty() || input.client_secret.len() > 4096 {
            return Err(AppError::bad_input(
                "clientSecret",
                "clientSecret must have 1 to 4096 characters",
            ));
        }
        let mut scopes = vec!["openid".to_owned()];
        for s in input
            .scopes
            .unwrap_or_else(|| vec!["email".into(), "profile".into()])
        {
            let s = claim_name("scopes", &s)?;
            if !scopes.contains(&s) {
                scopes.push(s);
            }
        }
        let email_claim = claim_name(
            "emailClaim",
            input.email_claim.as_deref().unwrap_or("email"),
        )?;
        let groups_claim = input
            .groups_claim
            .as_deref()
            .map(|g| claim_name("groupsClaim", g))
            .transpose()?;
        let mut group_roles = BTreeMap::new();
        for g in input.group_roles.unwrap_or_default() {
            group_roles.insert(
                text("groupRoles.group", &g.group, 255)?,
                ids::decode("Role", "groupRoles.roleId", &g.role_id)?,
            );
        }
        if !group_roles.is_empty() && groups_claim.is_none() {
            return Err(AppError::bad_input(
                "groupsClaim",
                "a group mapping needs the groups claim",
            ));
        }
        let domain_ids = input
            .domain_ids
            .iter()
            .map(|d| ids::decode("TenantDomain", "domainIds", d))
            .collect::<Result<Vec<_>, _>>()?;
        let default_role_id = input
            .default_role_id
            .as_ref()
            .map(|r| ids::decode("Role", "defaultRoleId", r))
            .transpose()?;
        let break_glass_user_id = input
            .break_glass_user_id
            .as_ref()
            .map(|u| ids::decode("User", "breakGlassUserId", u))
            .transpose()?;
        let scope = context::require(ctx, Permission::TenantManage).await?;
        // Before any request to the provider: the plan must include SSO.
        ensure_feature(&*context::tenant_row(ctx, &scope).await?, Feature::Sso)?;
        let state = &scope.services.sign_in;
        let allow_private = oidc::allow_private(&state.settings);
        let issuer = oidc::issuer_url(&input.issuer, allow_private).await?;
        let metadata = oidc::discover(&state.sso_http, issuer).await?;
        let new = NewProvider {
            name,
            issuer: metadata.issuer().as_str().to_owned(),
            client_id,
            client_secret: input.client_secret,
            scopes,
            email_claim,
            groups_claim,
            group_roles,
            domain_ids,
            jit_provisioning: input.jit_provisioning.unwrap_or(false),
            default_role_id,
            enforce_sso: input.enforce_sso.unwrap_or(false),
            break_glass_user_id,
            metadata: serde_json::to_value(&metadata).map_err(AppError::internal)?,
        };
        let row = scope
            .run(|tx| identity_providers::add(tx, &state.secrets, new).scope_boxed())
            .await?;
        let mut objects = provider_objects(ctx, &scope, vec![row]).await?;
        Ok(IdentityProviderPayload {
            identity_provider: objects.remove(0),
        })
    }

    /// Removes an identity provider: its domains' users sign in with a password again.
    async fn remove_identity_provider(
        &self,
        ctx: &Context<'_>,
        id: ID,
    ) -> Result<IdentityProviderPayload, AppError> {
        let id = ids::decode("IdentityProvider", "id", &id)?;
        let scope = context::require(ctx, Permission::TenantManage).await?;
        let state = context::sign_in(ctx)?;
        let domains = scope
            .tx(|conn| IdentityProviderRow::domains_of(conn, id).scope_boxed())
            .await?;
        let row = scope
            .run(|tx| identity_providers::remove(tx, id).scope_boxed())
            .await?;
        Ok(IdentityProviderPayload {
            identity_provider: IdentityProvider {
                row,
                domains,
                redirect_uri: redirect_uri(state.public_url()),
            },
        })
    }
}
