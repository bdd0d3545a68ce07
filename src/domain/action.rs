//! The actions of the audit logs: one variant per kind of event, stored as a stable dotted
//! string (`user.created`). Never rename a string: audit rows written under it stay in the
//! database and clients filter on it.

/// What an audit event records.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Action {
    AuditExported,
    ApiKeyCreated,
    ApiKeyRevoked,
    AuthLogin,
    AuthLoginFailed,
    AuthLogout,
    AuthRefreshTokenReused,
    AuthSessionRefreshed,
    BillingPlanChanged,
    PlatformAdminCreated,
    PlatformAdminLogin,
    PlatformAdminLogout,
    PlatformAdminLoginFailed,
    PlatformAdminPasswordSet,
    PlatformAuditRead,
    PlatformProductCreated,
    PlatformProductUpdated,
    PlatformReportRead,
    PlatformTenantCreated,
    PlatformTenantLimitsSet,
    PlatformTenantPurged,
    PlatformTenantRead,
    PlatformTenantsListed,
    PlatformUsageFlushed,
    ProductAccessSet,
    ProductAccessOverrideCleared,
    RoleAssigned,
    RoleCreated,
    RoleDeleted,
    RoleUnassigned,
    RoleUpdated,
    TenantCreated,
    TenantDeactivated,
    TenantExported,
    TenantReactivated,
    TenantResumed,
    TenantSettingsUpdated,
    TenantSuspended,
    UsageAlert,
    UsageReported,
    UserCreated,
    UserDeactivated,
    UserDeleted,
    UserInvitationAccepted,
    UserInvited,
    UserPasswordChanged,
    UserPasswordReset,
    UserPasswordResetIssued,
    UserReactivated,
    UserUpdated,
    WorkspaceArchived,
    WorkspaceCreated,
    WorkspaceMemberAdded,
    WorkspaceMemberRemoved,
    WorkspaceUpdated,
    TenantDomainAdded,
    TenantDomainVerified,
    TenantDomainVerificationFailed,
    TenantDomainRemoved,
    SsoProviderAdded,
    SsoProviderUpdated,
    SsoProviderRemoved,
}

impl Action {
    /// Every action, for listings and tests.
    pub const ALL: &'static [Action] = &[
        Action::AuditExported,
        Action::ApiKeyCreated,
        Action::ApiKeyRevoked,
        Action::AuthLogin,
        Action::AuthLoginFailed,
        Action::AuthLogout,
        Action::AuthRefreshTokenReused,
        Action::AuthSessionRefreshed,
        Action::BillingPlanChanged,
        Action::PlatformAdminCreated,
        Action::PlatformAdminLogin,
        Action::PlatformAdminLogout,
        Action::PlatformAdminLoginFailed,
        Action::PlatformAdminPasswordSet,
        Action::PlatformAuditRead,
        Action::PlatformProductCreated,
        Action::PlatformProductUpdated,
        Action::PlatformReportRead,
        Action::PlatformTenantCreated,
        Action::PlatformTenantLimitsSet,
        Action::PlatformTenantPurged,
        Action::PlatformTenantRead,
        Action::PlatformTenantsListed,
        Action::PlatformUsageFlushed,
        Action::ProductAccessSet,
        Action::ProductAccessOverrideCleared,
        Action::RoleAssigned,
        Action::RoleCreated,
        Action::RoleDeleted,
        Action::RoleUnassigned,
        Action::RoleUpdated,
        Action::TenantCreated,
        Action::TenantDeactivated,
        Action::TenantExported,
        Action::TenantReactivated,
        Action::TenantResumed,
        Action::TenantSettingsUpdated,
        Action::TenantSuspended,
        Action::UsageAlert,
        Action::UsageReported,
        Action::UserCreated,
        Action::UserDeactivated,
        Action::UserDeleted,
        Action::UserInvitationAccepted,
        Action::UserInvited,
        Action::UserPasswordChanged,
        Action::UserPasswordReset,
        Action::UserPasswordResetIssued,
        Action::UserReactivated,
        Action::UserUpdated,
        Action::WorkspaceArchived,
        Action::WorkspaceCreated,
        Action::WorkspaceMemberAdded,
        Action::WorkspaceMemberRemoved,
        Action::WorkspaceUpdated,
        Action::TenantDomainAdded,
        Action::TenantDomainVerified,
        Action::TenantDomainVerificationFailed,
        Action::TenantDomainRemoved,
        Action::SsoProviderAdded,
        Action::SsoProviderUpdated,
        Action::SsoProviderRemoved,
    ];

    /// The string stored in `audit_log.action` / `platform_audit_log.action`.
    pub fn as_str(self) -> &'static str {
        match self {
            Action::AuditExported => "audit.exported",
            Action::ApiKeyCreated => "api_key.created",
            Action::ApiKeyRevoked => "api_key.revoked",
            Action::AuthLogin => "auth.login",
            Action::AuthLoginFailed => "auth.login_failed",
            Action::AuthLogout => "auth.logout",
            Action::AuthRefreshTokenReused => "auth.refresh_token_reused",
            Action::AuthSessionRefreshed => "auth.session_refreshed",
            Action::BillingPlanChanged => "billing.plan_changed",
            Action::PlatformAdminCreated => "platform.admin_created",
            Action::PlatformAdminLogin => "platform.admin_login",
            Action::PlatformAdminLogout => "platform.admin_logout",
            Action::PlatformAdminLoginFailed => "platform.admin_login_failed",
            Action::PlatformAdminPasswordSet => "platform.admin_password_set",
            Action::PlatformAuditRead => "platform.audit_read",
            Action::PlatformProductCreated => "platform.product_created",
            Action::PlatformProductUpdated => "platform.product_updated",
            Action::PlatformReportRead => "platform.report_read",
            Action::PlatformTenantCreated => "platform.tenant_created",
            Action::PlatformTenantLimitsSet => "platform.tenant_limits_set",
            Action::PlatformTenantPurged => "platform.tenant_purged",
            Action::PlatformTenantRead => "platform.tenant_read",
            Action::PlatformTenantsListed => "platform.tenants_listed",
            Action::PlatformUsageFlushed => "platform.usage_flushed",
            Action::ProductAccessSet => "product.access_set",
            Action::ProductAccessOverrideCleared => "product.access_override_cleared",
            Action::RoleAssigned => "role.assigned",
            Action::RoleCreated => "role.created",
            Action::RoleDeleted => "role.deleted",
            Action::RoleUnassigned => "role.unassigned",
            Action::RoleUpdated => "role.updated",
            Action::TenantCreated => "tenant.created",
            Action::TenantDeactivated => "tenant.deactivated",
            Action::TenantExported => "tenant.exported",
            Action::TenantReactivated => "tenant.reactivated",
            Action::TenantResumed => "tenant.resumed",
            Action::TenantSettingsUpdated => "tenant.settings_updated",
            Action::TenantSuspended => "tenant.suspended",
            Action::UsageAlert => "usage.alert",
            Action::UsageReported => "usage.reported",
            Action::UserCreated => "user.created",
            Action::UserDeactivated => "user.deactivated",
            Action::UserDeleted => "user.deleted",
            Action::UserInvitationAccepted => "user.invitation_accepted",
            Action::UserInvited => "user.invited",
            Action::UserPasswordChanged => "user.password_changed",
            Action::UserPasswordReset => "user.password_reset",
            Action::UserPasswordResetIssued => "user.password_reset_issued",
            Action::UserReactivated => "user.reactivated",
            Action::UserUpdated => "user.updated",
            Action::WorkspaceArchived => "workspace.archived",
            Action::WorkspaceCreated => "workspace.created",
            Action::WorkspaceMemberAdded => "workspace.member_added",
            Action::WorkspaceMemberRemoved => "workspace.member_removed",
            Action::WorkspaceUpdated => "workspace.updated",
            Action::TenantDomainAdded => "tenant.domain_added",
            Action::TenantDomainVerified => "tenant.domain_verified",
            Action::TenantDomainVerificationFailed => "tenant.domain_verification_failed",
            Action::TenantDomainRemoved => "tenant.domain_removed",
            Action::SsoProviderAdded => "sso.provider_added",
            Action::SsoProviderUpdated => "sso.provider_updated",
            Action::SsoProviderRemoved => "sso.provider_removed",
        }
    }

    /// The action stored as `s`, if it is one of ours.
    pub fn parse(s: &str) -> Option<Action> {
        Action::ALL.iter().copied().find(|a| a.as_str() == s)
    }
}

impl std::fmt::Display for Action {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_action_string_is_distinct_dotted_and_parses_back() {
        let mut seen = std::collections::HashSet::new();
        for a in Action::ALL {
            assert!(seen.insert(a.as_str()), "{} twice", a.as_str());
            assert!(a.as_str().contains('.'), "{}", a.as_str());
            assert_eq!(Action::parse(a.as_str()), Some(*a));
        }
    }
}
