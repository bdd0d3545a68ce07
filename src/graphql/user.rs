//! Users: the `User` object, the `users`/`user` queries, and the user-management mutations
//! (the operations are `ops::users`, `ops::invitations` and `ops::passwords`), with the
//! self-service ones their mails link to (forgotten password, email verification).

use async_graphql::{Context, Enum, ID, InputObject, Object, SimpleObject};
use chrono::{DateTime, Utc};
use uuid::Uuid;

use crate::{
    auth::{Principal, opaque, password},
    db::{
        ScopedFutureExt,
        models::{
            Listed, RoleRow, UserRoleRow, UserRow,
            mail::{MailRow, MailStatus},
        },
    },
    domain::{Email, NewPassword, Permission},
    error::{AppError, AppResult},
    graphql::{
        connection::{self, Page},
        context, ids,
        loaders::{
            self, AssignmentsOfUser, InvitationMailOf, PrimedUsers, RolesOfUser, TenantKey,
            UsersWanted,
        },
        role::Role,
        role_assignment::RoleAssignment,
        tenant::Tenant,
    },
    ops::{
        invitations::{self, Purpose},
        passwords, users,
    },
};

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

    /// Whether the user proved the current email (a verification link, or the invitation or
    /// reset link that reached it). A changed email is unverified until its link is followed.
    async fn email_verified(&self) -> bool {
        self.row.email_verified_at.is_some()
    }

    async fn email_verified_at(&self) -> Option<DateTime<Utc>> {
        self.row.email_verified_at
    }

    /// The latest invitation mail of this user and whether it was delivered (users:read);
    /// null when none was sent.
    async fn invitation_mail(&self, ctx: &Context<'_>) -> Result<Option<MailDelivery>, AppError> {
        context::require(ctx, Permission::UsersRead).await?;
        let row = context::loaders(ctx, self.row.tenant_id)?
            .load_one(InvitationMailOf(self.row.id))
            .await
            .map_err(AppError::from)?
            .flatten();
        Ok(row.map(MailDelivery::from))
    }

    async fn tenant(&self, ctx: &Context<'_>) -> Result<Tenant, AppError> {
        let loaders = context::loaders(ctx, self.row.tenant_id)?;
        let row = loaders
            .load_one(TenantKey(self.row.tenant_id))
            .await
            .map_err(AppError::from)?;
        row.map(Tenant).ok_or_else(|| AppError::not_found("tenant"))
    }

    /// Each role the user holds with its scope: tenant-wide (these make the user's
    /// permissions) or in one workspace; in assignment order (batched across users).
    async fn role_assignments(&self, ctx: &Context<'_>) -> Result<Vec<RoleAssignment>, AppError> {
        let loaders = context::loaders(ctx, self.row.tenant_id)?;
        let rows = loaders
            .load_one(AssignmentsOfUser(self.row.id))
            .await
            .map_err(AppError::from)?;
        Ok(rows
            .unwrap_or_default()
            .into_iter()
            .map(|(workspace_id, role)| RoleAssignment { role, workspace_id })
            .collect())
    }

    /// The roles the user holds, tenant-wide or in any workspace, each once (batched across
    /// users); `roleAssignments` tells which scope each applies in.
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

    /// Whether the user has a confirmed second factor: for the user and for admins
    /// (users:write), FORBIDDEN for others.
    async fn mfa_enrolled(&self, ctx: &Context<'_>) -> Result<bool, AppError> {
        crate::graphql::mfa_factor::enrolled(ctx, self.row.id).await
    }

    /// The user's second factors: for the user and for admins (users:write).
    async fn mfa_factors(
        &self,
        ctx: &Context<'_>,
    ) -> Result<Vec<crate::graphql::mfa_factor::MfaFactor>, AppError> {
        crate::graphql::mfa_factor::factors_of(ctx, self.row.id).await
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Enum)]
pub enum MailDeliveryStatus {
    /// Waiting: for its first attempt, a retry, or for the hub's SMTP settings.
    Pending,
    /// Accepted by the mail server.
    Sent,
    /// Given up after the last attempt.
    Failed,
}

/// Where a mail to a user stands.
#[derive(SimpleObject)]
pub struct MailDelivery {
    pub status: MailDeliveryStatus,
    /// Delivery attempts so far.
    pub attempts: i32,
    pub created_at: DateTime<Utc>,
    pub sent_at: Option<DateTime<Utc>>,
}

impl From<MailRow> for MailDelivery {
    fn from(row: MailRow) -> Self {
        MailDelivery {
            status: match row.status() {
                MailStatus::Pending => MailDeliveryStatus::Pending,
                MailStatus::Sent => MailDeliveryStatus::Sent,
                MailStatus::Failed => MailDeliveryStatus::Failed,
            },
            attempts: row.attempts,
            created_at: row.created_at,
            sent_at: row.sent_at,
        }
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
    /// Shown once. The invitee also gets it by mail, as the link
    /// `<public_url>/invitation?token=…`; acceptInvitation takes it.
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
    #[graphql(complexity = "crate::graphql::connection::complexity(first, child_complexity)")]
    async fn users(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
    ) -> Result<Page<User>, AppError> {
        let page = connection::list_request(ctx, first, after.as_deref())?;
        let scope = context::require(ctx, Permission::UsersRead).await?;
        let with_roles = ctx
            .look_ahead()
            .field("edges")
            .field("node")
            .field("roles")
            .exists();
        let node = ctx.look_ahead().field("edges").field("node");
        let wanted = UsersWanted {
            invitations: node.field("invitationMail").exists(),
            factors: node.field("mfaEnrolled").exists() || node.field("mfaFactors").exists(),
        };
        // The page, and when selected its count and its users' roles: one transaction, the
        // three reads pipelined (sent together, one wait); then, when selected, the users'
        // invitation mails and factors (one more wait).
        let (listed, held, primed) = scope
            .tx(|conn| {
                async move {
                    let (listed, held) = {
                        let (mut a, mut b, mut c) = (conn.read(), conn.read(), conn.read());
                        futures_util::try_join!(
                            Listed::read(page, UserRow::page(&mut a, page), UserRow::count(&mut b)),
                            async {
                                match with_roles {
                                    true => UserRoleRow::roles_of_page(&mut c, page).await,
                                    false => Ok(Vec::new()),
                                }
                            },
                        )?
                    };
                    let ids: Vec<Uuid> = listed.rows.iter().map(|r| r.id).collect();
                    let primed = PrimedUsers::read(conn, &ids, wanted).await?;
                    Ok((listed, held, primed))
                }
                .scope_boxed()
            })
            .await?;
        if wanted.any() {
            let loaders = context::loaders(ctx, scope.tenant_id())?;
            primed.feed(&loaders).await;
        }
        let mut roles = with_roles.then(|| {
            let ids: Vec<Uuid> = listed.rows.iter().map(|r| r.id).collect();
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
        Ok(connection::connection(listed, page, |row| {
            match roles.as_mut() {
                Some(roles) => {
                    let of_user = roles.remove(&RolesOfUser(row.id)).unwrap_or_default();
                    User::with_roles(row, of_user)
                }
                None => User::from(row),
            }
        }))
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

/// The session of the calling member (for changes that keep it open).
fn own_session(ctx: &Context<'_>) -> AppResult<Uuid> {
    match &context::request(ctx)?.principal {
        Principal::Member(m) => Ok(m.session_id),
        _ => Err(AppError::unauthenticated("log in first")),
    }
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
        let password_hash = match &password {
            Some(p) => Some(password::hash(p).await?),
            None => None,
        };
        let new = users::NewMember {
            email,
            display_name,
            password_hash,
            role_ids,
        };
        let acting = crate::ops::Acting {
            actor: scope.actor(),
            permissions: &perms,
        };
        let user = scope
            .run(|tx| users::create(tx, acting, new).scope_boxed())
            .await?;
        Ok(UserPayload {
            user: User::from(user),
        })
    }

    /// Creates an invited user and a one-time invitation token (valid 72 hours), and mails
    /// the invitation link to the user, in one transaction.
    async fn invite_user(
        &self,
        ctx: &Context<'_>,
        input: InviteUserInput,
    ) -> Result<InviteUserPayload, AppError> {
        let new = users::NewMember {
            email: Email::parse("email", &input.email)?,
            display_name: clean_display_name(input.display_name)?,
            password_hash: None,
            role_ids: decode_role_ids(input.role_ids)?,
        };
        let scope = context::require(ctx, Permission::UsersWrite).await?;
        let perms = context::permissions_of_actor(ctx).await?;
        let acting = crate::ops::Acting {
            actor: scope.actor(),
            permissions: &perms,
        };
        let invited = scope
            .run(|tx| users::invite(tx, acting, new).scope_boxed())
            .await?;
        Ok(InviteUserPayload {
            user: User::from(invited.user),
            invitation_token: invited.token.token,
            expires_at: invited.token.expires_at,
        })
    }

    /// Sends an invited user a new invitation mail with a new link; the old link stops
    /// working. CONFLICT (`not_invited`) for a user who is not invited.
    async fn resend_invitation(
        &self,
        ctx: &Context<'_>,
        id: ID,
    ) -> Result<InviteUserPayload, AppError> {
        let scope = context::require(ctx, Permission::UsersWrite).await?;
        let uuid = ids::decode("User", "id", &id)?;
        let perms = context::permissions_of_actor(ctx).await?;
        let acting = crate::ops::Acting {
            actor: scope.actor(),
            permissions: &perms,
        };
        let invited = scope
            .run(|tx| invitations::resend(tx, acting, uuid).scope_boxed())
            .await?;
        Ok(InviteUserPayload {
            user: User::from(invited.user),
            invitation_token: invited.token.token,
            expires_at: invited.token.expires_at,
        })
    }

    /// Forgot password: mails a reset link (valid 60 minutes) to the account `email` of the
    /// tenant (domain, slug or id), if there is such an active user. Anonymous; always
    /// answers true, whether the account exists or not. RATE_LIMITED past the per-IP limit;
    /// past the per-account limit it answers the same and sends nothing.
    async fn request_password_reset(
        &self,
        ctx: &Context<'_>,
        tenant: String,
        email: String,
    ) -> Result<bool, AppError> {
        let state = context::sign_in(ctx)?;
        let meta = &context::request(ctx)?.meta;
        let tenant_key = match ids::decode_any(&tenant) {
            Some((kind, id)) if kind == "Tenant" => id.to_string(),
            _ => tenant,
        };
        passwords::forgot(
            &state.db,
            &state.reset_limits,
            &state.effects,
            meta,
            &tenant_key,
            &email,
        )
        .await?;
        Ok(true)
    }

    /// Confirms the user's email with the token of a verification mail. Anonymous: the token
    /// is the proof.
    async fn verify_email(
        &self,
        ctx: &Context<'_>,
        token: String,
    ) -> Result<UserPayload, AppError> {
        let scope = context::by_token(ctx, &token, "invalid or expired verification link")?;
        let token_hash = opaque::hash(&token);
        let user = scope
            .run(|tx| users::verify_email(tx, &token_hash).scope_boxed())
            .await?;
        Ok(UserPayload {
            user: User::from(user),
        })
    }

    /// "This was not me", from the notice of an email change sent to the old address: every
    /// session of the account ends, and the report is in the tenant's audit log. Anonymous:
    /// the token is the proof.
    async fn report_email_change(
        &self,
        ctx: &Context<'_>,
        token: String,
    ) -> Result<bool, AppError> {
        let scope = context::by_token(ctx, &token, "invalid or expired link")?;
        let token_hash = opaque::hash(&token);
        scope
            .run(|tx| users::report_email_change(tx, &token_hash).scope_boxed())
            .await?;
        Ok(true)
    }

    /// The invitee sets a password; the user becomes active. Anonymous: the token is the proof.
    async fn accept_invitation(
        &self,
        ctx: &Context<'_>,
        token: String,
        password: String,
        display_name: Option<String>,
    ) -> Result<UserPayload, AppError> {
        let scope = context::by_token(ctx, &token, "invalid or expired invitation")?;
        let display_name = clean_display_name(display_name)?;
        let token_hash = opaque::hash(&token);
        // Checked before hashing the password, so a bad token costs nothing.
        let pending = scope
            .tx(|tx| invitations::pending_user(tx, &token_hash, Purpose::Invitation).scope_boxed())
            .await?
            .ok_or_else(|| AppError::unauthenticated("invalid or expired invitation"))?;
        let password = NewPassword::parse("password", &password, Some(&pending.email))?;
        context::anonymous_hashing(ctx)?;
        let password_hash = password::hash(&password).await?;
        let user = scope
            .run(|tx| {
                invitations::accept(tx, &token_hash, &password_hash, display_name.as_deref())
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
        let change = users::UserChange {
            email: input
                .email
                .as_deref()
                .map(|e| Email::parse("email", e))
                .transpose()?,
            display_name: input
                .display_name
                .map(|n| clean_display_name(Some(n)))
                .transpose()?,
        };
        let own_name_only = change.email.is_none() && context::member(ctx)?.user_id() == Some(id);
        let scope = if own_name_only {
            context::member(ctx)?
        } else {
            context::require(ctx, Permission::UsersWrite).await?
        };
        let perms = context::permissions_of_actor(ctx).await?;
        let acting = crate::ops::Acting {
            actor: scope.actor(),
            permissions: &perms,
        };
        let user = scope
            .run(|tx| users::update(tx, acting, id, change).scope_boxed())
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
        let acting = crate::ops::Acting {
            actor: scope.actor(),
            permissions: &perms,
        };
        let user = scope
            .run(|tx| users::deactivate(tx, acting, id).scope_boxed())
            .await?;
        Ok(UserPayload {
            user: User::from(user),
        })
    }

    /// Makes a deactivated user active again (a seat is needed).
    async fn reactivate_user(&self, ctx: &Context<'_>, id: ID) -> Result<UserPayload, AppError> {
        let scope = context::require(ctx, Permission::UsersWrite).await?;
        let id = ids::decode("User", "id", &id)?;
        let perms = context::permissions_of_actor(ctx).await?;
        let acting = crate::ops::Acting {
            actor: scope.actor(),
            permissions: &perms,
        };
        let user = scope
            .run(|tx| users::reactivate(tx, acting, id).scope_boxed())
            .await?;
        Ok(UserPayload {
            user: User::from(user),
        })
    }

    /// Deletes a user for good, with their sessions, roles and memberships.
    async fn delete_user(&self, ctx: &Context<'_>, id: ID) -> Result<DeleteUserPayload, AppError> {
        let scope = context::require(ctx, Permission::UsersWrite).await?;
        let uuid = ids::decode("User", "id", &id)?;
        let perms = context::permissions_of_actor(ctx).await?;
        let acting = crate::ops::Acting {
            actor: scope.actor(),
            permissions: &perms,
        };
        scope
            .run(|tx| users::delete(tx, acting, uuid).scope_boxed())
            .await?;
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
        let session_id = own_session(ctx)?;
        let user_id = scope.user_id().unwrap_or_default();
        let user = scope
            .tx(|tx| UserRow::get(tx, user_id).scope_boxed())
            .await?;
        let (state, req) = (context::sign_in(ctx)?, context::request(ctx)?);
        passwords::verify_current(&state.login_limiter, &req.meta, &user, &current_password)
            .await?;
        let new = NewPassword::parse("newPassword", &new_password, Some(&user.email))?;
        let hash = password::hash(&new).await?;
        scope
            .run(|tx| passwords::change(tx, user_id, session_id, &hash).scope_boxed())
            .await?;
        Ok(true)
    }

    /// An admin starts a password reset for another user: a one-time token (valid 72 hours)
    /// that the user redeems with resetPassword; the user gets it by mail too, as the link
    /// `<public_url>/password-reset?token=…`. For oneself: changePassword.
    async fn reset_user_password(
        &self,
        ctx: &Context<'_>,
        id: ID,
    ) -> Result<PasswordResetPayload, AppError> {
        let scope = context::require(ctx, Permission::UsersWrite).await?;
        let uuid = ids::decode("User", "id", &id)?;
        let perms = context::permissions_of_actor(ctx).await?;
        let acting = crate::ops::Acting {
            actor: scope.actor(),
            permissions: &perms,
        };
        let issued = scope
            .run(|tx| passwords::issue_reset(tx, acting, uuid).scope_boxed())
            .await?;
        Ok(PasswordResetPayload {
            reset_token: issued.token,
            expires_at: issued.expires_at,
        })
    }

    /// Sets a new password with a reset token; every session of the user is revoked.
    async fn reset_password(
        &self,
        ctx: &Context<'_>,
        token: String,
        new_password: String,
    ) -> Result<bool, AppError> {
        let scope = context::by_token(ctx, &token, "invalid or expired reset token")?;
        let new = NewPassword::parse("newPassword", &new_password, None)?;
        let token_hash = opaque::hash(&token);
        // The token is checked before the password is hashed: a bad one costs no hashing.
        scope
            .tx(|tx| {
                invitations::pending_user(tx, &token_hash, Purpose::PasswordReset).scope_boxed()
            })
            .await?
            .ok_or_else(|| AppError::unauthenticated("invalid or expired reset token"))?;
        context::anonymous_hashing(ctx)?;
        let hash = password::hash(&new).await?;
        scope
            .run(|tx| passwords::reset(tx, &token_hash, &hash).scope_boxed())
            .await?;
        Ok(true)
    }
}
