//! `RoleAssignment`: one role a user holds, with its scope (tenant-wide or one workspace), so
//! `User.roles` (every role, whatever its scope) can be told apart (`User.roleAssignments`).

use async_graphql::{Enum, ID, Object};
use uuid::Uuid;

use crate::{
    db::models::RoleRow,
    graphql::{ids, role::Role},
};

/// Where a held role applies.
#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq)]
pub enum RoleScope {
    /// Everywhere in the tenant: these roles make the user's permissions.
    Tenant,
    /// In one workspace only (`workspaceId`).
    Workspace,
}

/// One role a user holds, and where.
pub struct RoleAssignment {
    pub role: RoleRow,
    pub workspace_id: Option<Uuid>,
}

#[Object]
impl RoleAssignment {
    async fn role(&self) -> Role {
        Role(self.role.clone())
    }

    async fn scope(&self) -> RoleScope {
        match self.workspace_id {
            Some(_) => RoleScope::Workspace,
            None => RoleScope::Tenant,
        }
    }

    /// The workspace of a workspace role; null for a tenant-wide one.
    async fn workspace_id(&self) -> Option<ID> {
        self.workspace_id.map(|w| ids::encode("Workspace", w))
    }
}
