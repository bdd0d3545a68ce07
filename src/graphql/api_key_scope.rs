//! The GraphQL face of `domain::ApiKeyScope`: the reads an API key may make besides reporting
//! usage, chosen in `createApiKey`.

use async_graphql::Enum;

/// A read an API key may make (`Authorization: ApiKey <key>`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Enum)]
#[graphql(remote = "crate::domain::ApiKeyScope")]
pub enum ApiKeyScope {
    /// `tenantConfig`: the tenant's branding, features and limits.
    TenantConfigRead,
    /// `tenantContext(userId:)`: the TenantContext of a named user of the tenant.
    TenantContextRead,
}
