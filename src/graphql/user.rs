//! Users: the `User` object, the `users`/`user` queries, and user management (create, invite,
//! update, deactivate, delete, passwords).

use async_graphql::{Context, Enum, ID, InputObject, Object, SimpleObject};
use chrono::{DateTime, Duration, Utc};
use serde_json::json;
use uuid::Uuid;

use std::sync::Arc;

use crate::{
    app::AppState,
    auth::{opaque, password},
    db::{
        ScopedFutureExt,
        audit::{self, AuditEvent},
        models::{RoleRow, SessionRow, UserRoleRow, UserRow, UserTokenRow, user::NewUser},
    },
    domain::{Email, NewPassword, Permission, SystemRole},
    error::{AppError, AppResult},
    graphql::{
        connection::{self, Page},
        context::{self, TenantScope},
        ids,
        loaders::{self, RolesOfUser, TenantKey},
        role::Role,
        rules,
        tenant::Tenant,
    },
};

/// How long an invitation or a password-reset token stays valid.
pub const USER_TOKEN_TTL_HOURS: i64 = 72;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Enum)]
pub enum UserStatus {
    Active,
    Invited,
    Deactivated,
}

/// A member of a tenant: its row, and its roles when the query that found it read them too
/// (the `users` list and `me` do, in their own transaction).
pub struct User {
    pub row: UserRow,
    roles: Option<Vec<RoleRow>>,
}

impl From<UserRow> for User {
    fn from(row: UserRow) -> Self {
        User { row, roles: None }
    }
}

impl User {
    /// A user whose roles (sorted by name) were read with it.
    pub fn with_roles(row: UserRow, roles: Vec<RoleRow>) -> Self {
        User {
            row,
            roles: Some(roles),
        }
    }
}

/// A member of a tenant.
#[Object]
impl User {
    pub async fn id(&self) -> ID {
        ids::encode("User", self.row.id)
    }

    /// The raw UUID, as in the `sub` claim of access tokens.
    async fn uuid(&self) -> String {
        self.row.id.to_string()
    }

    async fn email(&self) -> &str {
        &self.row.email
    }

    async fn display_name(&self) -> Option<&str> {
        self.row.display_name.as_deref()
    }

    async fn status(&self) -> UserStatus {
        match self.row.status.as_str() {
            "active" => UserStatus::Active,
            "invited" => UserStatus::Invited,
            _ => UserStatus::Deactivated,
        }
    }

    async fn created_at(&self) -> DateTime<Utc> {
        self.row.created_at
    }

    async fn tenant(&self, ctx: &Context<'_>) -> Result<Tenant, AppError> {
        let loaders = context::loaders(ctx, self.row.tenant_id)?;
        let row = loaders
            .load_one(TenantKey(self.row.tenant_id))
            .await
            .map_err(AppError::from)?;
        row.map(Tenant).ok_or_else(|| AppError::not_found("tenant"))
    }

    /// The roles the user holds, tenant-wide or in any workspace (batched across users).
    async fn roles(&self, ctx: &Context<'_>) -> Result<Vec<Role>, AppError> {
        if let Some(roles) = &self.roles {
            return Ok(roles.iter().cloned().map(Role).collect());
        }
        let loaders = context::loaders(ctx, self.row.tenant_id)?;
        let rows = loaders
            .load_one(RolesOfUser(self.row.id))
            .await
            .map_err(AppError::from)?;
        Ok(rows.unwrap_or_default().into_iter().map(Role).collect())
    }
}

#[derive(InputObject)]
pub struct CreateUserInput {
    pub email: String,
    /// Without one the user cannot log in until a password reset or an invitation.
    pub password: Option<String>,
    pub display_name: Option<String>,
    /// Tenant-wide roles; default: the member role.
    pub role_ids: Option<Vec<ID>>,
}

#[derive(InputObject)]
pub struct InviteUserInput {
    pub email: String,
    pub display_name: Option<String>,
    /// Tenant-wide roles; default: the member role.
    pub role_ids: Option<Vec<ID>>,
}

#[derive(InputObject)]
pub struct UpdateUserInput {
    pub id: ID,
    pub email: Option<String>,
    pub display_name: Option<String>,
}

#[derive(SimpleObject)]
pub struct UserPayload {
    pub user: User,
}

#[derive(SimpleObject)]
pub struct InviteUserPayload {
    pub user: User,
    /// Shown once: hand it to the invitee, who calls acceptInvitation with it.
    pub invitation_token: String,
    pub expires_at: DateTime<Utc>,
}

#[derive(SimpleObject)]
pub struct PasswordResetPayload {
    /// Shown once: the user calls resetPassword with it.
    pub reset_token: String,
    pub expires_at: DateTime<Utc>,
}

#[derive(SimpleObject)]
pub struct DeleteUserPayload {
    pub deleted_user_id: ID,
}

#[derive(Default)]
pub struct UserQuery;

#[Object]
impl UserQuery {
    /// The tenant's users, oldest first.
    async fn users(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
    ) -> Result<Page<User>, AppError> {
        let page = connection::page_request(first, after.as_deref())?;
        let scope = context::require(ctx, Permission::UsersRead).await?;
        let with_roles = ctx
            .look_ahead()
            .field("edges")
            .field("node")
            .field("roles")
            .exists();
        let with_total = connection::wants_total(ctx);
        // The page, and when selected its count and its users' roles: one transaction, the
        // three reads pipelined (sent together, one wait).
        let (rows, total, held) = scope
            .tx(|conn| {
                async move {
                    let (mut a, mut b, mut c) = (&*conn, &*conn, &*conn);
                    futures_util::try_join!(
                        UserRow::page(&mut a, page),
                        async {
                            match with_total {
                                true => UserRow::count(&mut b).await,
                                false => Ok(0),
                            }
                        },
                        async {
                            match with_roles {
                                true => UserRoleRow::roles_of_page(&mut c, page).await,
                                false => Ok(Vec::new()),
                            }
                        },
                    )
                }
                .scope_boxed()
            })
            .await?;
        let mut roles = with_roles.then(|| {
            let ids: Vec<Uuid> = rows.iter().map(|r| r.id).collect();
            loaders::roles_by_user(&ids, held)
        });
        if ctx
            .look_ahead()
            .field("edges")
            .field("node")
            .field("tenant")
            .exists()
        {
            let row = context::tenant_row(ctx, &scope).await?;
            context::loaders(ctx, scope.tenant_id())?
                .feed_one(TenantKey(scope.tenant_id()), (*row).clone())
                .await;
        }
        Ok(connection::build(
            rows,
            page,
            total,
            |r| (r.created_at, r.id),
            |row| match roles.as_mut() {
                Some(roles) => {
                    let of_user = roles.remove(&RolesOfUser(row.id)).unwrap_or_default();
                    User::with_roles(row, of_user)
                }
                None => User::from(row),
            },
        ))
    }

    async fn user(&self, ctx: &Context<'_>, id: ID) -> Result<User, AppError> {
        let scope = context::require(ctx, Permission::UsersRead).await?;
        let id = ids::decode("User", "id", &id)?;
        Ok(User::from(
            scope
                .tx(|conn| UserRow::get(conn, id).scope_boxed())
                .await?,
        ))
    }
}

/// Role ids of an input, checked to exist in the tenant; default the member role.
async fn resolve_roles(
    conn: &mut crate::db::Conn,
    role_ids: &Option<Vec<Uuid>>,
) -> AppResult<Vec<RoleRow>> {
    match role_ids {
        Some(ids) => {
            let rows = RoleRow::load_many(conn, ids).await?;
            if rows.len() != ids.iter().collect::<std::collections::HashSet<_>>().len() {
                return Err(AppError::not_found("role"));
            }
            Ok(rows)
        }
        None => Ok(RoleRow::find_by_name(conn, SystemRole::Member.name())
            .await?
            .into_iter()
            .collect()),
    }
}

fn decode_role_ids(ids: Option<Vec<ID>>) -> AppResult<Option<Vec<Uuid>>> {
    ids.map(|list| {
        list.iter()
            .map(|id| ids::decode("Role", "roleIds", id))
            .collect()
    })
    .transpose()
}

fn clean_display_name(name: Option<String>) -> AppResult<Option<String>> {
    let name = name.map(|n| n.trim().to_owned()).filter(|n| !n.is_empty());
    if name.as_ref().is_some_and(|n| n.chars().count() > 200) {
        return Err(AppError::bad_input(
            "displayName",
            "displayName must have at most 200 characters",
        ));
    }
    Ok(name)
}

/// A user about to be created or invited.
struct NewMember<'a> {
    email: &'a Email,
    display_name: Option<&'a str>,
    password_hash: Option<&'a str>,
    /// `active` or `invited`.
    status: &'a str,
    role_ids: &'a Option<Vec<Uuid>>,
    /// The audit action: `user.created` or `user.invited`.
    action: &'static str,
}

/// Creates a user (active or invited) with its tenant-wide roles, checking the seat quota and
/// that the actor may grant those roles.
async fn insert_user_with_roles(
    state: &Arc<AppState>,
    scope: &TenantScope<'_>,
    actor_permissions: &[String],
    new: NewMember<'_>,
) -> AppResult<UserRow> {
    let tenant_id = scope.tenant_id();
    let audit_ctx = scope.audit();
    let actor = scope.actor();
    let (user, alerts) = scope
        .tx(|conn| {
            async move {
                let tenant = rules::ensure_seat_available(conn, tenant_id).await?;
                let roles = resolve_roles(conn, new.role_ids).await?;
                let granted: Vec<String> =
                    roles.iter().flat_map(|r| r.permission_strings()).collect();
                rules::ensure_can_grant(actor, actor_permissions, &granted)?;
                let user = UserRow::insert(
                    conn,
                    NewUser {
                        tenant_id,
                        id: Uuid::now_v7(),
                        email: new.email.as_str(),
                        display_name: new.display_name,
                        password_hash: new.password_hash,
                        status: new.status,
                    },
                )
                .await?;
                for role in &roles {
                    UserRoleRow::assign(conn, tenant_id, user.id, role.id, None).await?;
                }
                audit::record(
                    conn,
                    tenant_id,
                    &audit_ctx,
                    AuditEvent::new(new.action)
                        .target("user", user.id)
                        .details(json!({
                            "email": user.email, "status": user.status,
                            "roles": roles.iter().map(|r| r.name.clone()).collect::<Vec<_>>(),
                        })),
                )
                .await?;
                let alerts = rules::seat_alerts(conn, &tenant).await?;
                Ok((user, alerts))
            }
            .scope_boxed()
        })
        .await?;
    crate::alerts::deliver_later(state.clone(), alerts);
    Ok(user)
}

/// Issues a one-time token of `purpose` for a user, in the caller's transaction.
async fn issue_user_token(
    conn: &mut crate::db::Conn,
    tenant_id: Uuid,
    user_id: Uuid,
    purpose: &str,
    created_by: Option<Uuid>,
) -> AppResult<(String, DateTime<Utc>)> {
    let (token, hash) = opaque::generate(tenant_id);
    let now = Utc::now();
    let expires_at = now + Duration::hours(USER_TOKEN_TTL_HOURS);
    UserTokenRow::insert(
        conn,
        &UserTokenRow {
            tenant_id,
            token_hash: hash,
            user_id,
            purpose: purpose.to_owned(),
            created_by,
            created_at: now,
            expires_at,
            used_at: None,
        },
    )
    .await?;
    Ok((token, expires_at))
}

#[derive(Default)]
pub struct UserMutation;

#[Object]
impl UserMutation {
    /// Past the tenant's user limit: QUOTA_EXCEEDED, and no user is created.
    async fn create_user(
        &self,
        ctx: &Context<'_>,
        input: CreateUserInput,
    ) -> Result<UserPayload, AppError> {
        let email = Email::parse("email", &input.email)?;
        let display_name = clean_display_name(input.display_name)?;
        let role_ids = decode_role_ids(input.role_ids)?;
        let password = input
            .password
            .map(|p| NewPassword::parse("password", &p, Some(email.as_str())))
            .transpose()?;
        let scope = context::require(ctx, Permission::UsersWrite).await?;
        let perms = context::permissions_of_actor(ctx).await?;
        let hash = match &password {
            Some(p) => Some(password::hash(p).await?),
            None => None,
        };
        let user = insert_user_with_roles(
            context::state(ctx)?,
            &scope,
            &perms,
            NewMember {
                email: &email,
                display_name: display_name.as_deref(),
                password_hash: hash.as_deref(),
                status: "active",
                role_ids: &role_ids,
                action: "user.created",
            },
        )
        .await?;
        Ok(UserPayload {
            user: User::from(user),
        })
    }

    /// Creates an invited user and a one-time invitation token (valid 72 hours).
    async fn invite_user(
        &self,
        ctx: &Context<'_>,
        input: InviteUserInput,
    ) -> Result<InviteUserPayload, AppError> {
        let email = Email::parse("email", &input.email)?;
        let display_name = clean_display_name(input.display_name)?;
        let role_ids = decode_role_ids(input.role_ids)?;
        let scope = context::require(ctx, Permission::UsersWrite).await?;
        let perms = context::permissions_of_actor(ctx).await?;
        let user = insert_user_with_roles(
            context::state(ctx)?,
            &scope,
            &perms,
            NewMember {
                email: &email,
                display_name: display_name.as_deref(),
                password_hash: None,
                status: "invited",
                role_ids: &role_ids,
                action: "user.invited",
            },
        )
        .await?;
        let (tenant_id, user_id, by) = (scope.tenant_id(), user.id, scope.user_id());
        let (token, expires_at) = scope
            .tx(|conn| issue_user_token(conn, tenant_id, user_id, "invitation", by).scope_boxed())
            .await?;
        Ok(InviteUserPayload {
            user: User::from(user),
            invitation_token: token,
            expires_at,
        })
    }

    /// The invitee sets a password; the user becomes active. Anonymous: the token is the proof.
    async fn accept_invitation(
        &self,
        ctx: &Context<'_>,
        token: String,
        password: String,
        display_name: Option<String>,
    ) -> Result<UserPayload, AppError> {
        let state = context::state(ctx)?;
        let meta = &context::request(ctx)?.meta;
        let invalid = || AppError::unauthenticated("invalid or expired invitation");
        let tenant_id = opaque::tenant_of(&token).ok_or_else(invalid)?;
        let display_name = clean_display_name(display_name)?;
        let hash = opaque::hash(&token);
        // Checked before hashing the password, so a bad token costs nothing.
        let pending = state
            .db
            .tenant_tx(tenant_id, |conn| {
                async move {
                    use crate::db::schema::user_tokens;
                    use diesel::prelude::*;
                    use diesel_async::RunQueryDsl;
                    Ok(user_tokens::table
                        .filter(user_tokens::token_hash.eq(&hash))
                        .filter(user_tokens::used_at.is_null())
                        .filter(user_tokens::expires_at.gt(diesel::dsl::now))
                        .select(user_tokens::user_id)
                        .first::<Uuid>(conn)
                        .await
                        .optional()?)
                }
                .scope_boxed()
            })
            .await?
            .ok_or_else(invalid)?;
        let email = state
            .db
            .tenant_tx(tenant_id, |conn| UserRow::get(conn, pending).scope_boxed())
            .await?
            .email;
        let password = NewPassword::parse("password", &password, Some(&email))?;
        let password_hash = password::hash(&password).await?;
        let ctx_audit = meta.audit(crate::db::audit::Actor::User(pending));
        let hash = opaque::hash(&token);
        let user = state
            .db
            .tenant_tx(tenant_id, |conn| {
                async move {
                    let used = UserTokenRow::consume(conn, &hash, "invitation")
                        .await?
                        .ok_or_else(invalid)?;
                    let tenant = rules::lock_tenant(conn, tenant_id).await?;
                    let user = UserRow::get(conn, used.user_id).await?;
                    if user.status != "invited" {
                        return Err(invalid());
                    }
                    // Invited users hold a seat already; a limit lowered since is still enforced.
                    use crate::db::schema::users;
                    use diesel::prelude::*;
                    use diesel_async::RunQueryDsl;
                    let active: i64 = users::table
                        .filter(users::status.eq("active"))
                        .count()
                        .get_result(conn)
                        .await?;
                    if active >= tenant.limits().users as i64 {
                        return Err(
                            AppError::quota_exceeded("the tenant's user limit is reached")
                                .with_reason(crate::error::Reason::Users),
                        );
                    }
                    UserRow::set_password(conn, user.id, &password_hash).await?;
                    if let Some(name) = display_name.as_deref() {
                        UserRow::set_display_name(conn, user.id, Some(name)).await?;
                    }
                    let user = UserRow::set_status(conn, user.id, "active").await?;
                    audit::record(
                        conn,
                        tenant_id,
                        &ctx_audit,
                        AuditEvent::new("user.invitation_accepted").target("user", user.id),
                    )
                    .await?;
                    Ok(user)
                }
                .scope_boxed()
            })
            .await?;
        Ok(UserPayload {
            user: User::from(user),
        })
    }

    /// Changes a user's email or display name. Users may change their own display name
    /// without users:write.
    async fn update_user(
        &self,
        ctx: &Context<'_>,
        input: UpdateUserInput,
    ) -> Result<UserPayload, AppError> {
        let id = ids::decode("User", "id", &input.id)?;
        let email = input
            .email
            .as_deref()
            .map(|e| Email::parse("email", e))
            .transpose()?;
        let display_name = input
            .display_name
            .map(|n| clean_display_name(Some(n)))
            .transpose()?;
        let own_name_only = email.is_none() && context::member(ctx)?.user_id() == Some(id);
        let scope = if own_name_only {
            context::member(ctx)?
        } else {
            context::require(ctx, Permission::UsersWrite).await?
        };
        let perms = context::permissions_of_actor(ctx).await?;
        let (tenant_id, audit_ctx, actor) = (scope.tenant_id(), scope.audit(), scope.actor());
        let user = scope
            .tx(|conn| {
                async move {
                    let mut user = UserRow::get(conn, id).await?;
                    rules::ensure_can_manage(conn, actor, &perms, id).await?;
                    let mut changed = serde_json::Map::new();
                    if let Some(email) = &email {
                        user = UserRow::set_email(conn, id, email.as_str()).await?;
                        changed.insert("email".into(), json!(email.as_str()));
                    }
                    if let Some(name) = &display_name {
                        user = UserRow::set_display_name(conn, id, name.as_deref()).await?;
                        changed.insert("display_name".into(), json!(name));
                    }
                    audit::record(
                        conn,
                        tenant_id,
                        &audit_ctx,
                        AuditEvent::new("user.updated")
                            .target("user", id)
                            .details(changed.into()),
                    )
                    .await?;
                    Ok(user)
                }
                .scope_boxed()
            })
            .await?;
        Ok(UserPayload {
            user: User::from(user),
        })
    }

    /// Deactivates a user and revokes all their sessions at once.
    async fn deactivate_user(&self, ctx: &Context<'_>, id: ID) -> Result<UserPayload, AppError> {
        let scope = context::require(ctx, Permission::UsersWrite).await?;
        let id = ids::decode("User", "id", &id)?;
        let perms = context::permissions_of_actor(ctx).await?;
        let (tenant_id, audit_ctx, actor) = (scope.tenant_id(), scope.audit(), scope.actor());
        let (user, revoked) = scope
            .tx(|conn| {
                async move {
                    UserRow::get(conn, id).await?;
                    rules::ensure_can_manage(conn, actor, &perms, id).await?;
                    rules::ensure_other_owner_remains(conn, id).await?;
                    let user = UserRow::set_status(conn, id, "deactivated").await?;
                    let revoked =
                        SessionRow::revoke_all_of_user(conn, id, "user_deactivated").await?;
                    audit::record(
                        conn,
                        tenant_id,
                        &audit_ctx,
                        AuditEvent::new("user.deactivated")
                            .target("user", id)
                            .details(json!({ "sessions_revoked": revoked.len() })),
                    )
                    .await?;
                    Ok((user, revoked))
                }
                .scope_boxed()
            })
            .await?;
        for session in revoked {
            crate::invalidation::announce(
                scope.state,
                crate::invalidation::Invalidation::Session { id: session },
            )
            .await;
        }
        Ok(UserPayload {
            user: User::from(user),
        })
    }

    /// Makes a deactivated user active again (a seat is needed).
    async fn reactivate_user(&self, ctx: &Context<'_>, id: ID) -> Result<UserPayload, AppError> {
        let scope = context::require(ctx, Permission::UsersWrite).await?;
        let id = ids::decode("User", "id", &id)?;
        let perms = context::permissions_of_actor(ctx).await?;
        let (tenant_id, audit_ctx, actor) = (scope.tenant_id(), scope.audit(), scope.actor());
        let (user, alerts) = scope
            .tx(|conn| {
                async move {
                    let user = UserRow::get(conn, id).await?;
                    rules::ensure_can_manage(conn, actor, &perms, id).await?;
                    if user.status != "deactivated" {
                        return Ok((user, Vec::new()));
                    }
                    let tenant = rules::ensure_seat_available(conn, tenant_id).await?;
                    let user = UserRow::set_status(conn, id, "active").await?;
                    let alerts = rules::seat_alerts(conn, &tenant).await?;
                    audit::record(
                        conn,
                        tenant_id,
                        &audit_ctx,
                        AuditEvent::new("user.reactivated").target("user", id),
                    )
                    .await?;
                    Ok((user, alerts))
                }
                .scope_boxed()
            })
            .await?;
        crate::alerts::deliver_later(context::state(ctx)?.clone(), alerts);
        Ok(UserPayload {
            user: User::from(user),
        })
    }

    /// Deletes a user for good, with their sessions, roles and memberships.
    async fn delete_user(&self, ctx: &Context<'_>, id: ID) -> Result<DeleteUserPayload, AppError> {
        let scope = context::require(ctx, Permission::UsersWrite).await?;
        let uuid = ids::decode("User", "id", &id)?;
        let perms = context::permissions_of_actor(ctx).await?;
        let (tenant_id, audit_ctx, actor) = (scope.tenant_id(), scope.audit(), scope.actor());
        let revoked = scope
            .tx(|conn| {
                async move {
                    let user = UserRow::get(conn, uuid).await?;
                    rules::ensure_can_manage(conn, actor, &perms, uuid).await?;
                    rules::ensure_other_owner_remains(conn, uuid).await?;
                    let revoked =
                        SessionRow::revoke_all_of_user(conn, uuid, "user_deleted").await?;
                    UserRow::delete(conn, uuid).await?;
                    audit::record(
                        conn,
                        tenant_id,
                        &audit_ctx,
                        AuditEvent::new("user.deleted")
                            .target("user", uuid)
                            .details(json!({ "email": user.email })),
                    )
                    .await?;
                    Ok(revoked)
                }
                .scope_boxed()
            })
            .await?;
        for session in revoked {
            crate::invalidation::announce(
                scope.state,
                crate::invalidation::Invalidation::Session { id: session },
            )
            .await;
        }
        Ok(DeleteUserPayload {
            deleted_user_id: ids::encode("User", uuid),
        })
    }

    /// The caller changes their own password; their other sessions are revoked.
    async fn change_password(
        &self,
        ctx: &Context<'_>,
        current_password: String,
        new_password: String,
    ) -> Result<bool, AppError> {
        let scope = context::member(ctx)?;
        let (tenant_id, user_id, audit_ctx) = (
            scope.tenant_id(),
            scope.user_id().unwrap_or_default(),
            scope.audit(),
        );
        let user = scope
            .tx(|conn| UserRow::get(conn, user_id).scope_boxed())
            .await?;
        if !password::verify(&current_password, user.password_hash.as_deref()).await? {
            return Err(AppError::unauthenticated("the current password is wrong"));
        }
        let new = NewPassword::parse("newPassword", &new_password, Some(&user.email))?;
        let hash = password::hash(&new).await?;
        let session_id = match &context::request(ctx)?.principal {
            crate::auth::Principal::Member(m) => m.session_id,
            _ => Uuid::nil(),
        };
        let revoked = scope
            .tx(|conn| {
                async move {
                    UserRow::set_password(conn, user_id, &hash).await?;
                    let mut revoked =
                        SessionRow::revoke_all_of_user(conn, user_id, "password_changed").await?;
                    // The session that made the change stays.
                    use crate::db::schema::sessions;
                    use diesel::prelude::*;
                    use diesel_async::RunQueryDsl;
                    diesel::update(sessions::table.filter(sessions::id.eq(session_id)))
                        .set((
                            sessions::revoked_at.eq(None::<DateTime<Utc>>),
                            sessions::revoked_reason.eq(None::<String>),
                        ))
                        .execute(conn)
                        .await?;
                    revoked.retain(|s| *s != session_id);
                    audit::record(
                        conn,
                        tenant_id,
                        &audit_ctx,
                        AuditEvent::new("user.password_changed").target("user", user_id),
                    )
                    .await?;
                    Ok(revoked)
                }
                .scope_boxed()
            })
            .await?;
        for session in revoked {
            crate::invalidation::announce(
                scope.state,
                crate::invalidation::Invalidation::Session { id: session },
            )
            .await;
        }
        Ok(true)
    }

    /// An admin starts a password reset for a user: a one-time token (valid 72 hours) that the
    /// user redeems with resetPassword.
    async fn reset_user_password(
        &self,
        ctx: &Context<'_>,
        id: ID,
    ) -> Result<PasswordResetPayload, AppError> {
        let scope = context::require(ctx, Permission::UsersWrite).await?;
        let uuid = ids::decode("User", "id", &id)?;
        let perms = context::permissions_of_actor(ctx).await?;
        let (tenant_id, audit_ctx, by, actor) = (
            scope.tenant_id(),
            scope.audit(),
            scope.user_id(),
            scope.actor(),
        );
        let (token, expires_at) = scope
            .tx(|conn| {
                async move {
                    UserRow::get(conn, uuid).await?;
                    rules::ensure_can_manage(conn, actor, &perms, uuid).await?;
                    let issued =
                        issue_user_token(conn, tenant_id, uuid, "password_reset", by).await?;
                    audit::record(
                        conn,
                        tenant_id,
                        &audit_ctx,
                        AuditEvent::new("user.password_reset_issued").target("user", uuid),
                    )
                    .await?;
                    Ok(issued)
                }
                .scope_boxed()
            })
            .await?;
        Ok(PasswordResetPayload {
            reset_token: token,
            expires_at,
        })
    }

    /// Sets a new password with a reset token; every session of the user is revoked.
    async fn reset_password(
        &self,
        ctx: &Context<'_>,
        token: String,
        new_password: String,
    ) -> Result<bool, AppError> {
        let state = context::state(ctx)?;
        let meta = &context::request(ctx)?.meta;
        let invalid = || AppError::unauthenticated("invalid or expired reset token");
        let tenant_id = opaque::tenant_of(&token).ok_or_else(invalid)?;
        let new = NewPassword::parse("newPassword", &new_password, None)?;
        let hash = password::hash(&new).await?;
        let token_hash = opaque::hash(&token);
        let revoked = state
            .db
            .tenant_tx(tenant_id, |conn| {
                async move {
                    let used = UserTokenRow::consume(conn, &token_hash, "password_reset")
                        .await?
                        .ok_or_else(invalid)?;
                    UserRow::set_password(conn, used.user_id, &hash).await?;
                    let revoked =
                        SessionRow::revoke_all_of_user(conn, used.user_id, "password_reset")
                            .await?;
                    audit::record(
                        conn,
                        tenant_id,
                        &meta.audit(crate::db::audit::Actor::User(used.user_id)),
                        AuditEvent::new("user.password_reset").target("user", used.user_id),
                    )
                    .await?;
                    Ok(revoked)
                }
                .scope_boxed()
            })
            .await?;
        for session in revoked {
            crate::invalidation::announce(
                state,
                crate::invalidation::Invalidation::Session { id: session },
            )
            .await;
        }
        Ok(true)
    }
}
