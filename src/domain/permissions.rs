//! The permission catalog and the system roles every tenant is created with.
//!
//! Permissions are plain strings everywhere they leave the hub (TenantContext, roles); this enum
//! is the one list of them. Adding a permission here adds it to the `permissions` query.

use crate::domain::DomainError;

macro_rules! permissions {
    ($($variant:ident => $name:literal, $description:literal;)*) => {
        /// One entry of the permission catalog.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum Permission { $($variant),* }

        impl Permission {
            /// Every permission, in catalog order.
            pub const ALL: &'static [Permission] = &[$(Permission::$variant),*];

            /// The string clients see, e.g. `users:read`.
            pub fn as_str(self) -> &'static str {
                match self { $(Permission::$variant => $name),* }
            }

            pub fn description(self) -> &'static str {
                match self { $(Permission::$variant => $description),* }
            }
        }
    };
}

permissions! {
    TenantRead => "tenant:read", "See the tenant's settings, features and limits";
    TenantManage => "tenant:manage", "Change the tenant's name, branding and integrations";
    TenantDelete => "tenant:delete", "Deactivate the tenant and export all its data";
    UsersRead => "users:read", "See users";
    UsersWrite => "users:write", "Create, invite, change and deactivate users";
    RolesManage => "roles:manage", "Create roles and assign them";
    WorkspacesRead => "workspaces:read", "See workspaces and their members";
    WorkspacesWrite => "workspaces:write", "Create and change workspaces and their members";
    ProductsManage => "products:manage", "Grant access to products";
    BillingManage => "billing:manage", "Change the plan and see billing";
    AuditRead => "audit:read", "Read the audit log";
    ApiKeysManage => "apikeys:manage", "Create and revoke product API keys";
}

impl Permission {
    pub fn parse(field: &str, raw: &str) -> Result<Permission, DomainError> {
        Permission::ALL
            .iter()
            .copied()
            .find(|p| p.as_str() == raw)
            .ok_or_else(|| DomainError::invalid(field, format!("unknown permission {raw:?}")))
    }
}

/// The roles created with every tenant. They cannot be changed or deleted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SystemRole {
    Owner,
    Admin,
    Member,
    Viewer,
    Billing,
}

impl SystemRole {
    pub const ALL: [SystemRole; 5] = [
        SystemRole::Owner,
        SystemRole::Admin,
        SystemRole::Member,
        SystemRole::Viewer,
        SystemRole::Billing,
    ];

    pub fn name(self) -> &'static str {
        match self {
            SystemRole::Owner => "owner",
            SystemRole::Admin => "admin",
            SystemRole::Member => "member",
            SystemRole::Viewer => "viewer",
            SystemRole::Billing => "billing",
        }
    }

    pub fn description(self) -> &'static str {
        match self {
            SystemRole::Owner => "Everything, including deactivating the tenant",
            SystemRole::Admin => "Manages users, roles, workspaces, products and settings",
            SystemRole::Member => "Works in workspaces",
            SystemRole::Viewer => "Reads, changes nothing",
            SystemRole::Billing => "Manages the plan and billing",
        }
    }

    pub fn permissions(self) -> Vec<Permission> {
        use Permission::*;
        match self {
            SystemRole::Owner => Permission::ALL.to_vec(),
            SystemRole::Admin => vec![
                TenantRead,
                TenantManage,
                UsersRead,
                UsersWrite,
                RolesManage,
                WorkspacesRead,
                WorkspacesWrite,
                ProductsManage,
                AuditRead,
                ApiKeysManage,
            ],
            SystemRole::Member => vec![TenantRead, UsersRead, WorkspacesRead, WorkspacesWrite],
            SystemRole::Viewer => vec![TenantRead, UsersRead, WorkspacesRead],
            SystemRole::Billing => vec![TenantRead, BillingManage],
        }
    }

    pub fn from_name(name: &str) -> Option<SystemRole> {
        SystemRole::ALL.into_iter().find(|r| r.name() == name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn catalog_strings_are_unique_and_parse_back() {
        let mut seen = std::collections::HashSet::new();
        for p in Permission::ALL {
            assert!(seen.insert(p.as_str()));
            assert_eq!(Permission::parse("p", p.as_str()).unwrap(), *p);
        }
        assert!(Permission::parse("p", "users:fly").is_err());
    }

    #[test]
    fn only_the_owner_may_delete_the_tenant() {
        for role in SystemRole::ALL {
            assert_eq!(
                role.permissions().contains(&Permission::TenantDelete),
                role == SystemRole::Owner
            );
        }
    }
}
