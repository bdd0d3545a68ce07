//! `identity_providers` and `identity_provider_domains`: a tenant's identity providers, their
//! client credentials (the secret encrypted) and the verified domains each one serves.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use uuid::Uuid;

use crate::{
    db::{
        InTenant, TenantTx,
        schema::{identity_provider_domains, identity_providers, tenant_domains},
    },
    error::AppResult,
};

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = identity_providers, check_for_backend(diesel::pg::Pg))]
pub struct IdentityProviderRow {
    pub tenant_id: Uuid,
    pub id: Uuid,
    pub kind: String,
    pub name: String,
    pub issuer: String,
    pub client_id: String,
    pub client_secret_ciphertext: Vec<u8>,
    pub client_secret_hint: Option<String>,
    pub scopes: String,
    pub email_claim: String,
    pub groups_claim: Option<String>,
    pub group_roles: serde_json::Value,
    pub jit_provisioning: bool,
    pub default_role_id: Option<Uuid>,
    pub enforce_sso: bool,
    pub break_glass_user_id: Option<Uuid>,
    pub metadata: serde_json::Value,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl IdentityProviderRow {
    pub async fn insert(
        conn: &mut TenantTx,
        row: &IdentityProviderRow,
    ) -> AppResult<IdentityProviderRow> {
        Ok(diesel::insert_into(identity_providers::table)
            .values(row)
            .returning(IdentityProviderRow::as_returning())
            .get_result(conn)
            .await?)
    }

    pub async fn all(conn: &mut impl InTenant) -> AppResult<Vec<IdentityProviderRow>> {
        Ok(identity_providers::table
            .order(identity_providers::name)
            .select(IdentityProviderRow::as_select())
            .load(conn)
            .await?)
    }

    pub async fn find(
        conn: &mut impl InTenant,
        id: Uuid,
    ) -> AppResult<Option<IdentityProviderRow>> {
        Ok(identity_providers::table
            .filter(identity_providers::id.eq(id))
            .select(IdentityProviderRow::as_select())
            .first(conn)
            .await
            .optional()?)
    }

    pub async fn find_by_name(
        conn: &mut impl InTenant,
        name: &str,
    ) -> AppResult<Option<IdentityProviderRow>> {
        Ok(identity_providers::table
            .filter(identity_providers::name.eq(name))
            .select(IdentityProviderRow::as_select())
            .first(conn)
            .await
            .optional()?)
    }

    pub async fn delete(conn: &mut TenantTx, id: Uuid) -> AppResult<bool> {
        Ok(
            diesel::delete(identity_providers::table.filter(identity_providers::id.eq(id)))
                .execute(conn)
                .await?
                > 0,
        )
    }

    /// Binds the domains to the provider.
    pub async fn bind_domains(
        conn: &mut TenantTx,
        provider_id: Uuid,
        domain_ids: &[Uuid],
    ) -> AppResult<()> {
        let tenant_id = conn.tenant_id();
        let rows: Vec<_> = domain_ids
            .iter()
            .map(|d| {
                (
                    identity_provider_domains::tenant_id.eq(tenant_id),
                    identity_provider_domains::domain_id.eq(*d),
                    identity_provider_domains::provider_id.eq(provider_id),
                )
            })
            .collect();
        diesel::insert_into(identity_provider_domains::table)
            .values(rows)
            .execute(conn)
            .await?;
        Ok(())
    }

    /// The domain ids already served by some provider, among `domain_ids`.
    pub async fn bound_among(conn: &mut TenantTx, domain_ids: &[Uuid]) -> AppResult<Vec<Uuid>> {
        Ok(identity_provider_domains::table
            .filter(identity_provider_domains::domain_id.eq_any(domain_ids))
            .select(identity_provider_domains::domain_id)
            .load(conn)
            .await?)
    }

    /// The provider serving `domain` when it is a verified domain of the tenant.
    pub async fn serving(
        conn: &mut impl InTenant,
        domain: &str,
    ) -> AppResult<Option<IdentityProviderRow>> {
        Ok(identity_providers::table
            .inner_join(
                identity_provider_domains::table.on(identity_provider_domains::tenant_id
                    .eq(identity_providers::tenant_id)
                    .and(identity_provider_domains::provider_id.eq(identity_providers::id))),
            )
            .inner_join(
                tenant_domains::table.on(tenant_domains::tenant_id
                    .eq(identity_provider_domains::tenant_id)
                    .and(tenant_domains::id.eq(identity_provider_domains::domain_id))),
            )
            .filter(tenant_domains::domain.eq(domain))
            .filter(tenant_domains::state.eq("verified"))
            .select(IdentityProviderRow::as_select())
            .first(conn)
            .await
            .optional()?)
    }

    /// The domain names a provider serves.
    pub async fn domains_of(conn: &mut impl InTenant, provider_id: Uuid) -> AppResult<Vec<String>> {
        Ok(identity_provider_domains::table
            .inner_join(
                tenant_domains::table.on(tenant_domains::tenant_id
                    .eq(identity_provider_domains::tenant_id)
                    .and(tenant_domains::id.eq(identity_provider_domains::domain_id))),
            )
            .filter(identity_provider_domains::provider_id.eq(provider_id))
            .order(tenant_domains::domain)
            .select(tenant_domains::domain)
            .load(conn)
            .await?)
    }
}
