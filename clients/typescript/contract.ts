/** Internal type. DO NOT USE DIRECTLY. */
type Exact<T extends { [key: string]: unknown }> = { [K in keyof T]: T[K] };
/** Internal type. DO NOT USE DIRECTLY. */
export type Incremental<T> = T | { [P in keyof T]?: P extends ' $fragmentName' | '__typename' ? T[P] : never };
export type AddWorkspaceMemberInput = {
  /** The member's role in this workspace. */
  roleId?: string | number | null | undefined;
  userId: string | number;
  workspaceId: string | number;
};

export type AdminSetTenantLimitsInput = {
  features?: TenantFeaturesInput | null | undefined;
  limits?: TenantLimitsInput | null | undefined;
  tenantId: string | number;
};

export type AssignRoleInput = {
  roleId: string | number;
  userId: string | number;
  /** Absent: the role applies tenant-wide. */
  workspaceId?: string | number | null | undefined;
};

export type BrandingInput = {
  /** Named hex colors: {"primary": "#1a2b3c"}. */
  colors?: unknown;
  /** An https URL; null removes the logo, absent keeps it. */
  logo?: string | null | undefined;
};

export type CreateRoleInput = {
  description?: string | null | undefined;
  name: string;
  /** Catalog strings such as "users:read". */
  permissions: Array<string>;
};

export type CreateTenantInput = {
  /** The tenant's DNS name, e.g. acme.example.com; unique. */
  domain: string;
  name: string;
  ownerEmail: string;
  ownerName?: string | null | undefined;
  ownerPassword: string;
  /** free (default), pro or enterprise; only platform admins may choose another than free. */
  plan?: string | null | undefined;
  /** Derived from the name when absent; unique. */
  slug?: string | null | undefined;
};

export type CreateUserInput = {
  displayName?: string | null | undefined;
  email: string;
  /** Without one the user cannot log in until a password reset or an invitation. */
  password?: string | null | undefined;
  /** Tenant-wide roles; default: the member role. */
  roleIds?: Array<string | number> | null | undefined;
};

export type CreateWorkspaceInput = {
  name: string;
  /** Derived from the name when absent. */
  slug?: string | null | undefined;
};

export type DeactivateTenantInput = {
  reason?: string | null | undefined;
  /** Platform admins only; members act on their own tenant. */
  tenantId?: string | number | null | undefined;
};

export type IntegrationInput = {
  /** Lower-case name, e.g. `slack`. */
  name: string;
  /** Removes the integration. */
  remove?: boolean;
  /** Stored encrypted; absent keeps the current secret. */
  secret?: string | null | undefined;
  /** Non-secret settings (a JSON object). */
  settings?: unknown;
};

export type LoginInput = {
  email: string;
  password: string;
  /** The tenant's domain, slug or id. */
  tenant: string;
};

export type ProductAccess =
  | 'FULL'
  | 'LIMITED'
  | 'NONE';

export type SetProductAccessInput = {
  access: ProductAccess;
  productId: string | number;
  /** Absent: the tenant-wide access; present: an override for this user. */
  userId?: string | number | null | undefined;
};

export type TenantFeaturesInput = {
  apiAccess?: boolean | null | undefined;
  /** Named custom flags to set. */
  custom?: unknown;
  customDomain?: boolean | null | undefined;
  sso?: boolean | null | undefined;
};

export type TenantLimitsInput = {
  apiCallsPerMinute?: number | null | undefined;
  storageGb?: number | null | undefined;
  users?: number | null | undefined;
};

/**
 * Where a tenant is in its lifecycle: active, suspended (by the platform), deactivated (the
 * grace period before the purge) or purged.
 */
export type TenantStatus =
  | 'ACTIVE'
  | 'DEACTIVATED'
  | 'PURGED'
  | 'SUSPENDED';

export type UpdateTenantSettingsInput = {
  branding?: BrandingInput | null | undefined;
  /** Set by the platform (the plan): FORBIDDEN here. */
  features?: TenantFeaturesInput | null | undefined;
  integrations?: Array<IntegrationInput> | null | undefined;
  /** Set by the platform (the plan): FORBIDDEN here. */
  limits?: TenantLimitsInput | null | undefined;
  name?: string | null | undefined;
  /** Sign-in needs a verified email (users get a verification mail); null keeps it. */
  requireVerifiedEmail?: boolean | null | undefined;
  /**
   * Days the data is kept after a deactivation, within the platform's bounds; null keeps
   * the current setting.
   */
  retentionDays?: number | null | undefined;
};

export type UserStatus =
  | 'ACTIVE'
  | 'DEACTIVATED'
  | 'INVITED';

export type CreateTenantMutationVariables = Exact<{
  input: CreateTenantInput;
}>;


export type CreateTenantMutation = { createTenant: { tenant: { id: string, name: string, slug: string, domain: string | null, status: TenantStatus }, owner: { id: string, email: string }, defaultWorkspace: { id: string, name: string, slug: string, isDefault: boolean } } };

export type LoginMutationVariables = Exact<{
  input: LoginInput;
}>;


export type LoginMutation = { login: { accessToken: string | null, refreshToken: string | null, tokenType: string | null, expiresIn: number | null, user: { id: string, email: string } | null, tenant: { id: string, domain: string | null } | null } };

export type RefreshSessionMutationVariables = Exact<{
  refreshToken: string;
}>;


export type RefreshSessionMutation = { refreshSession: { accessToken: string, refreshToken: string, expiresIn: number } };

export type LogoutMutationVariables = Exact<{ [key: string]: never; }>;


export type LogoutMutation = { logout: boolean };

export type AdminLoginMutationVariables = Exact<{
  email: string;
  password: string;
}>;


export type AdminLoginMutation = { adminLogin: { accessToken: string, expiresIn: number } };

export type TenantContextQueryVariables = Exact<{
  productId?: string | number | null | undefined;
}>;


export type TenantContextQuery = { tenantContext: { tenantId: string, userId: string, permissions: Array<string>, products: Array<{ productId: string, access: ProductAccess }> } };

export type MeQueryVariables = Exact<{ [key: string]: never; }>;


export type MeQuery = { me: { id: string, email: string, displayName: string | null, tenant: { id: string, name: string, domain: string | null, status: TenantStatus }, roles: Array<{ id: string, name: string, permissions: Array<string> }> } };

export type TenantQueryVariables = Exact<{ [key: string]: never; }>;


export type TenantQuery = { tenant: { id: string, name: string, slug: string, domain: string | null, status: TenantStatus, createdAt: string, branding: { logo: string | null, colors: unknown }, features: { sso: boolean, apiAccess: boolean, customDomain: boolean }, limits: { users: number, storageGb: number, apiCallsPerMinute: number } } };

export type TenantConfigQueryVariables = Exact<{ [key: string]: never; }>;


export type TenantConfigQuery = { tenantConfig: unknown };

export type UpdateTenantSettingsMutationVariables = Exact<{
  input: UpdateTenantSettingsInput;
}>;


export type UpdateTenantSettingsMutation = { updateTenantSettings: { tenant: { id: string, name: string, branding: { logo: string | null, colors: unknown } } } };

export type CreateUserMutationVariables = Exact<{
  input: CreateUserInput;
}>;


export type CreateUserMutation = { createUser: { user: { id: string, email: string, displayName: string | null, status: UserStatus } } };

export type UsersQueryVariables = Exact<{
  first?: number | null | undefined;
  after?: string | null | undefined;
}>;


export type UsersQuery = { users: { totalCount: number, pageInfo: { hasNextPage: boolean, endCursor: string | null }, edges: Array<{ cursor: string, node: { id: string, email: string, status: UserStatus, roles: Array<{ name: string }> } }> } };

export type UserQueryVariables = Exact<{
  id: string | number;
}>;


export type UserQuery = { user: { id: string, email: string, displayName: string | null, status: UserStatus } };

export type CreateRoleMutationVariables = Exact<{
  input: CreateRoleInput;
}>;


export type CreateRoleMutation = { createRole: { role: { id: string, name: string, permissions: Array<string> } } };

export type AssignRoleMutationVariables = Exact<{
  input: AssignRoleInput;
}>;


export type AssignRoleMutation = { assignRole: { user: { id: string, roles: Array<{ id: string, name: string }> } } };

export type CreateWorkspaceMutationVariables = Exact<{
  input: CreateWorkspaceInput;
}>;


export type CreateWorkspaceMutation = { createWorkspace: { workspace: { id: string, name: string, slug: string, isDefault: boolean } } };

export type WorkspacesQueryVariables = Exact<{
  first?: number | null | undefined;
  after?: string | null | undefined;
}>;


export type WorkspacesQuery = { workspaces: { totalCount: number, pageInfo: { hasNextPage: boolean, endCursor: string | null }, edges: Array<{ node: { id: string, name: string, slug: string, isDefault: boolean, members: { totalCount: number, edges: Array<{ node: { user: { id: string, email: string }, role: { name: string } | null } }> } } }> } };

export type WorkspaceQueryVariables = Exact<{
  id: string | number;
}>;


export type WorkspaceQuery = { workspace: { id: string, name: string, slug: string, isDefault: boolean } };

export type AddWorkspaceMemberMutationVariables = Exact<{
  input: AddWorkspaceMemberInput;
}>;


export type AddWorkspaceMemberMutation = { addWorkspaceMember: { workspace: { id: string } } };

export type ProductsQueryVariables = Exact<{ [key: string]: never; }>;


export type ProductsQuery = { products: Array<{ id: string, name: string }> };

export type SetProductAccessMutationVariables = Exact<{
  input: SetProductAccessInput;
}>;


export type SetProductAccessMutation = { setProductAccess: { productId: string, access: ProductAccess } };

export type DeactivateTenantMutationVariables = Exact<{
  input: DeactivateTenantInput;
}>;


export type DeactivateTenantMutation = { deactivateTenant: { tenant: { id: string, status: TenantStatus, deactivatedAt: string | null, purgeAfter: string | null } } };

export type ExportTenantDataQueryVariables = Exact<{ [key: string]: never; }>;


export type ExportTenantDataQuery = { exportTenantData: unknown };

export type AuditLogQueryVariables = Exact<{
  first?: number | null | undefined;
  after?: string | null | undefined;
}>;


export type AuditLogQuery = { auditLog: { pageInfo: { hasNextPage: boolean, endCursor: string | null }, edges: Array<{ node: { id: string, action: string, actorId: string | null, targetType: string | null, targetId: string | null, ip: string | null, at: string } }> } };

export type UsageQueryVariables = Exact<{ [key: string]: never; }>;


export type UsageQuery = { usage: Array<{ metric: string, used: number, limit: number | null, periodStart: string }> };

export type AdminTenantsQueryVariables = Exact<{
  first?: number | null | undefined;
  after?: string | null | undefined;
  status?: TenantStatus | null | undefined;
}>;


export type AdminTenantsQuery = { adminTenants: { totalCount: number, edges: Array<{ node: { id: string, name: string, domain: string | null, status: TenantStatus } }> } };

export type AdminSetTenantLimitsMutationVariables = Exact<{
  input: AdminSetTenantLimitsInput;
}>;


export type AdminSetTenantLimitsMutation = { adminSetTenantLimits: { tenant: { id: string, limits: { users: number, storageGb: number, apiCallsPerMinute: number }, features: { sso: boolean, apiAccess: boolean, customDomain: boolean } } } };
