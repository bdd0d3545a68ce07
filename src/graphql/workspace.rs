//! Workspaces: the `Workspace` object with its members, the `workspaces`/`workspace` queries,
//! and creating, changing and archiving workspaces and their membership.

use async_graphql::{Context, ID, InputObject, Object, SimpleObject};
use chrono::{DateTime, Utc};
use uuid::Uuid;

use crate::{
    db::{ScopedFutureExt, models::WorkspaceRow},
    domain::{Permission, Slug},
    error::{AppError, AppResult},
    graphql::{
        connection::{self, Page},
        context, ids,
        loaders::{Member, MembersKey, MembersWanted, PrimedMembers, RoleKey, UserKey},
        role::Role,
        user::User,
    },
    ops::{Acting, workspaces},
};

pub struct Workspace(pub WorkspaceRow);

/// A workspace of the tenant; every tenant has one default workspace.
#[Object]
impl Workspace {
    pub async fn id(&self) -> ID {
        ids::encode("Workspace", self.0.id)
    }

    async fn name(&self) -> &str {
        &self.0.name
    }

    async fn slug(&self) -> &str {
        &self.0.slug
    }

    async fn is_default(&self) -> bool {
        self.0.is_default
    }

    async fn archived_at(&self) -> Option<DateTime<Utc>> {
        self.0.archived_at
    }

    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }

    /// The members, in the order they joined (batched across workspaces).
    #[graphql(complexity = "crate::graphql::connection::complexity(first, child_complexity)")]
    async fn members(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
    ) -> Result<Page<WorkspaceMember>, AppError> {
        let page = connection::page_request(first, after.as_deref())?;
        let loaders = context::loaders(ctx, self.0.tenant_id)?;
        let found = loaders
            .load_one(MembersKey {
                workspace_id: self.0.id,
                page,
            })
            .await
            .map_err(AppError::from)?
            .unwrap_or_default();
        let tenant_id = self.0.tenant_id;
        Ok(connection::connection(found.listed(), page, |member| {
            WorkspaceMember { tenant_id, member }
        }))
    }
}

pub struct WorkspaceMember {
    tenant_id: Uuid,
    member: Member,
}

/// A user's membership of a workspace.
#[Object]
impl WorkspaceMember {
    async fn user(&self, ctx: &Context<'_>) -> Result<User, AppError> {
        if let Some(user) = &self.member.user {
            return Ok(User::from((**user).clone()));
        }
        let loaders = context::loaders(ctx, self.tenant_id)?;
        let user = loaders
            .load_one(UserKey(self.member.row.user_id))
            .await
            .map_err(AppError::from)?;
        user.map(User::from)
            .ok_or_else(|| AppError::not_found("user"))
    }

    /// The member's role in this workspace, if one was given.
    async fn role(&self, ctx: &Context<'_>) -> Result<Option<Role>, AppError> {
        let Some(role_id) = self.member.row.role_id else {
            return Ok(None);
        };
        if let Some(role) = &self.member.role {
            return Ok(Some(Role((**role).clone())));
        }
        let loaders = context::loaders(ctx, self.tenant_id)?;
        Ok(loaders
            .load_one(RoleKey(role_id))
            .await
            .map_err(AppError::from)?
            .map(Role))
    }

    async fn joined_at(&self) -> DateTime<Utc> {
        self.member.row.created_at
    }
}

#[derive(InputObject)]
pub struct CreateWorkspaceInput {
    pub name: String,
    /// Derived from the name when absent.
    pub slug: Option<String>,
}

#[derive(InputObject)]
pub struct UpdateWorkspaceInput {
    pub id: ID,
    pub name: Option<String>,
    pub slug: Option<String>,
}

#[derive(InputObject)]
pub struct AddWorkspaceMemberInput {
    pub workspace_id: ID,
    pub user_id: ID,
    /// The member's role in this workspace.
    pub role_id: Option<ID>,
}

#[derive(InputObject)]
pub struct RemoveWorkspaceMemberInput {
    pub workspace_id: ID,
    pub user_id: ID,
}

#[derive(SimpleObject)]
pub struct WorkspacePayload {
    pub workspace: Workspace,
}

fn parse_name(raw: &str) -> AppResult<String> {
    Ok(crate::domain::DisplayName::parse("name", raw)?.into_inner())
}

/// What the query asks of the members of the listed workspaces (read from the selection
/// before the page is loaded, so that one transaction reads them all).
fn members_wanted(ctx: &Context<'_>) -> AppResult<MembersWanted> {
    use async_graphql::Value;
    let members = ctx
        .look_ahead()
        .field("edges")
        .field("node")
        .field("members");
    let mut wanted = MembersWanted::default();
    if !members.exists() {
        return Ok(wanted);
    }
    for field in members.selection_fields() {
        let mut first = None;
        let mut after = None;
        for (name, value) in field
            .arguments()
            .map_err(|e| AppError::bad_input("members", e.message))?
        {
            match (name.as_str(), value) {
                ("first", Value::Number(n)) => first = n.as_i64().map(|n| n as i32),
                ("after", Value::String(s)) => after = Some(s),
                _ => {}
            }
        }
        wanted
            .pages
            .push(connection::page_request(first, after.as_deref())?);
    }
    let node = members.field("edges").field("node");
    wanted.users = node.field("user").exists();
    wanted.roles = node.field("role").exists();
    Ok(wanted)
}

#[derive(Default)]
pub struct WorkspaceQuery;

#[Object]
impl WorkspaceQuery {
    /// The tenant's workspaces, oldest first; archived ones only with includeArchived.
    #[graphql(complexity = "crate::graphql::connection::complexity(first, child_complexity)")]
    async fn workspaces(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        #[graphql(default = false)] include_archived: bool,
    ) -> Result<Page<Workspace>, AppError> {
        let page = connection::list_request(ctx, first, after.as_deref())?;
        let scope = context::require(ctx, Permission::WorkspacesRead).await?;
        let wanted = members_wanted(ctx)?;
        let (listed, members) = scope
            .tx(|conn| {
                async move {
                    let listed = WorkspaceRow::list(conn, page, include_archived).await?;
                    let ids: Vec<Uuid> = listed.rows.iter().map(|w| w.id).collect();
                    let members = PrimedMembers::read(conn, &ids, &wanted).await?;
                    Ok((listed, members))
                }
                .scope_boxed()
            })
            .await?;
        members
            .feed(&*context::loaders(ctx, scope.tenant_id())?)
            .await;
        Ok(connection::connection(listed, page, Workspace))
    }

    async fn workspace(&self, ctx: &Context<'_>, id: ID) -> Result<Workspace, AppError> {
        let scope = context::require(ctx, Permission::WorkspacesRead).await?;
        let id = ids::decode("Workspace", "id", &id)?;
        Ok(Workspace(
            scope
                .tx(|conn| WorkspaceRow::get(conn, id).scope_boxed())
                .await?,
        ))
    }
}

#[derive(Default)]
pub struct WorkspaceMutation;

#[Object]
impl WorkspaceMutation {
    async fn create_workspace(
        &self,
        ctx: &Context<'_>,
        input: CreateWorkspaceInput,
    ) -> Result<WorkspacePayload, AppError> {
        let name = parse_name(&input.name)?;
        let slug = match input.slug.as_deref() {
            Some(s) => Slug::parse("slug", s)?,
            None => Slug::derive("workspace", &name),
        };
        let scope = context::require(ctx, Permission::WorkspacesWrite).await?;
        let workspace = scope
            .run(|tx| workspaces::create(tx, name, slug).scope_boxed())
            .await?;
        Ok(WorkspacePayload {
            workspace: Workspace(workspace),
        })
    }

    async fn update_workspace(
        &self,
        ctx: &Context<'_>,
        input: UpdateWorkspaceInput,
    ) -> Result<WorkspacePayload, AppError> {
        let id = ids::decode("Workspace", "id", &input.id)?;
        let change = workspaces::WorkspaceChange {
            name: input.name.as_deref().map(parse_name).transpose()?,
            slug: input
                .slug
                .as_deref()
                .map(|s| Slug::parse("slug", s))
                .transpose()?,
        };
        let scope = context::require(ctx, Permission::WorkspacesWrite).await?;
        let workspace = scope
            .run(|tx| workspaces::update(tx, id, change).scope_boxed())
            .await?;
        Ok(WorkspacePayload {
            workspace: Workspace(workspace),
        })
    }

    /// Archives a workspace; the default workspace cannot be archived (CONFLICT).
    async fn archive_workspace(
        &self,
        ctx: &Context<'_>,
        id: ID,
    ) -> Result<WorkspacePayload, AppError> {
        let scope = context::require(ctx, Permission::WorkspacesWrite).await?;
        let id = ids::decode("Workspace", "id", &id)?;
        let workspace = scope
            .run(|tx| workspaces::archive(tx, id).scope_boxed())
            .await?;
        Ok(WorkspacePayload {
            workspace: Workspace(workspace),
        })
    }

    /// Adds a user to a workspace (or changes their workspace role).
    async fn add_workspace_member(
        &self,
        ctx: &Context<'_>,
        input: AddWorkspaceMemberInput,
    ) -> Result<WorkspacePayload, AppError> {
        let new = workspaces::NewMember {
            workspace_id: ids::decode("Workspace", "workspaceId", &input.workspace_id)?,
            user_id: ids::decode("User", "userId", &input.user_id)?,
            role_id: input
                .role_id
                .as_ref()
                .map(|r| ids::decode("Role", "roleId", r))
                .transpose()?,
        };
        let scope = context::require(ctx, Permission::WorkspacesWrite).await?;
        let perms = context::permissions_of_actor(ctx).await?;
        let acting = Acting {
            actor: scope.actor(),
            permissions: &perms,
        };
        let workspace = scope
            .run(|tx| workspaces::add_member(tx, acting, new).scope_boxed())
            .await?;
        Ok(WorkspacePayload {
            workspace: Workspace(workspace),
        })
    }

    async fn remove_workspace_member(
        &self,
        ctx: &Context<'_>,
        input: RemoveWorkspaceMemberInput,
    ) -> Result<WorkspacePayload, AppError> {
        let workspace_id = ids::decode("Workspace", "workspaceId", &input.workspace_id)?;
        let scope = context::require(ctx, Permission::WorkspacesWrite).await?;
        let user_id = ids::decode("User", "userId", &input.user_id)?;
        let perms = context::permissions_of_actor(ctx).await?;
        let acting = Acting {
            actor: scope.actor(),
            permissions: &perms,
        };
        let workspace = scope
            .run(|tx| workspaces::remove_member(tx, acting, workspace_id, user_id).scope_boxed())
            .await?;
        Ok(WorkspacePayload {
            workspace: Workspace(workspace),
        })
    }
}
