//! API key read scopes: what a product backend may read with its key besides reporting usage,
//! chosen when the key is created (stored as their strings in `api_keys.scopes`).

/// A read an API key may make.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ApiKeyScope {
    /// `tenantConfig`: the tenant's branding, features and limits.
    TenantConfigRead,
    /// `tenantContext(userId:)`: the TenantContext of a named user of the tenant.
    TenantContextRead,
}

impl ApiKeyScope {
    pub const ALL: [ApiKeyScope; 2] = [
        ApiKeyScope::TenantConfigRead,
        ApiKeyScope::TenantContextRead,
    ];

    /// The stored string (the database checks it is one of these).
    pub fn as_str(self) -> &'static str {
        match self {
            ApiKeyScope::TenantConfigRead => "tenant_config:read",
            ApiKeyScope::TenantContextRead => "tenant_context:read",
        }
    }

    pub fn parse(s: &str) -> Option<ApiKeyScope> {
        ApiKeyScope::ALL.into_iter().find(|x| x.as_str() == s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_scope_parses_back_from_its_string() {
        for s in ApiKeyScope::ALL {
            assert_eq!(ApiKeyScope::parse(s.as_str()), Some(s));
        }
        assert_eq!(ApiKeyScope::parse("users:write"), None);
    }
}
