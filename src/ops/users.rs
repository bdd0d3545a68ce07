//! Users of a tenant: creating (active or invited, with tenant-wide roles, within the seat
//! quota), changing, deactivating, reactivating and deleting them, and their email addresses'
//! verification. Who may manage whom is `rules::ensure_can_manage`: nobody manages a user
//! holding permissions they lack. The mails these cause (invitation, verification, the notice
//! of a changed email) are written to the outbox in the same transaction.

use serde_json::json;
use uuid::Uuid;

use crate::{
    db::{
        TenantTx,
        audit::{Actor, AuditEvent},
        models::{RoleRow, SessionRow, UserRoleRow, UserRow, UserTokenRow, user::NewUser},
    },
    domain::{Action, Email, SystemRole},
    error::{AppError, AppResult},
    mail::{self, MailData, MailKind, Outgoing, notices},
    ops::{
        Acting, Done, Effect,
        invitations::{self, Invited, Purpose},
        rules,
    },
};

/// A user to create or invite.
pub struct NewMember {
    pub email: Email,
    pub display_name: Option<String>,
    /// Set for a created user (may log in at once), absent for an invited one or a user who
    /// waits for a password reset.
    pub password_hash: Option<String>,
    /// Tenant-wide roles; `None`: the member role.
    pub role_ids: Option<Vec<Uuid>>,
}

/// Creates an active user with its roles; a verification mail goes to its address.
pub async fn create(
    tx: &mut TenantTx,
    acting: Acting<'_>,
    new: NewMember,
) -> AppResult<Done<UserRow>> {
    let done = insert_member(tx, &acting, &new, "active", Action::UserCreated).await?;
    send_email_verification(tx, &done.value).await?;
    Ok(done)
}

/// Writes a verification mail for the user's current address (link
/// `<public_url>/verify-email?token=…`); a new one replaces the user's earlier links.
pub async fn send_email_verification(tx: &mut TenantTx, user: &UserRow) -> AppResult<()> {
    let token = invitations::issue(tx, user.id, Purpose::EmailVerification, None).await?;
    mail::enqueue(
        tx,
        Outgoing {
            kind: MailKind::EmailVerification,
            user_id: Some(user.id),
            recipient: user.email.clone(),
            data: MailData {
                name: user.display_name.clone(),
                expires_at: Some(token.expires_at),
                ..MailData::default()
            },
            link_token: Some(token.token),
        },
    )
    .await?;
    Ok(())
}

/// Uses up a verification token: the user's current email is verified. The token was issued
/// for the address the user had then; a later change replaced it (one unused token per
/// purpose), so a token never verifies another address.
pub async fn verify_email(tx: &mut TenantTx, token_hash: &[u8]) -> AppResult<Done<UserRow>> {
    let used = UserTokenRow::consume(tx, token_hash, Purpose::EmailVerification.as_str())
        .await?
        .ok_or_else(|| AppError::unauthenticated("invalid or expired verification link"))?;
    let user = UserRow::set_email_verified(tx, used.user_id, Some(chrono::Utc::now())).await?;
    let event = AuditEvent::new(Action::UserEmailVerified)
        .target("user", user.id)
        .by(Actor::User(user.id))
        .details(json!({ "email": user.email }));
    Ok(Done::audited(user, event))
}

/// The old address reports an email change it did not make ("this was not me" in the
/// notice): every session of the account ends, and the report is in the audit log for the
/// tenant's admins. The address is not changed back: an admin decides.
pub async fn report_email_change(tx: &mut TenantTx, token_hash: &[u8]) -> AppResult<Done<()>> {
    let used = UserTokenRow::consume(tx, token_hash, Purpose::EmailChangeReport.as_str())
        .await?
        .ok_or_else(|| AppError::unauthenticated("invalid or expired link"))?;
    let user = UserRow::get(tx, used.user_id).await?;
    let revoked = SessionRow::revoke_all_of_user(tx, user.id, "email_change_reported").await?;
    let event = AuditEvent::new(Action::UserEmailChangeReported)
        .target("user", user.id)
        .by(Actor::User(user.id))
        .details(json!({ "email": user.email, "sessions_revoked": revoked.len() }));
    Ok(Done::audited((), event).and_sessions_revoked(revoked))
}

/// Creates an invited user and its invitation token, in one transaction.
pub async fn invite(
    tx: &mut TenantTx,
    acting: Acting<'_>,
    new: NewMember,
) -> AppResult<Done<Invited>> {
    let done = insert_member(tx, &acting, &new, "invited", Action::UserInvited).await?;
    let by = match acting.actor {
        Actor::User(id) => Some(id),
        _ => None,
    };
    let token = invitations::issue(tx, done.value.id, invitations::Purpose::Invitation, by).await?;
    let inviter = invitations::inviter_name(tx, acting.actor).await?;
    invitations::mail_invitation(tx, &done.value, &token, inviter).await?;
    Ok(Done {
        value: Invited {
            user: done.value,
            token,
        },
        events: done.events,
        effects: done.effects,
    })
}

/// Role ids of an input, checked to exist in the tenant; default the member role.
async fn resolve_roles(tx: &mut TenantTx, role_ids: &Option<Vec<Uuid>>) -> AppResult<Vec<RoleRow>> {
    match role_ids {
        Some(ids) => {
            let rows = RoleRow::load_many(tx, ids).await?;
            if rows.len() != ids.iter().collect::<std::collections::HashSet<_>>().len() {
                return Err(AppError::not_found("role"));
            }
            Ok(rows)
        }
        None => Ok(RoleRow::find_by_name(tx, SystemRole::Member.name())
            .await?
            .into_iter()
            .collect()),
    }
}

/// Creates a user (active or invited) with its tenant-wide roles, checking the seat quota and
/// that the actor may grant those roles.
async fn insert_member(
    tx: &mut TenantTx,
    acting: &Acting<'_>,
    new: &NewMember,
    status: &str,
    action: Action,
) -> AppResult<Done<UserRow>> {
    let tenant_id = tx.tenant_id();
    let tenant = rules::ensure_seat_available(tx, tenant_id).await?;
    let roles = resolve_roles(tx, &new.role_ids).await?;
    let granted: Vec<String> = roles.iter().flat_map(|r| r.permission_strings()).collect();
    rules::ensure_can_grant(acting.actor, acting.permissions, &granted)?;
    let user = UserRow::insert(
        tx,
        NewUser {
            tenant_id,
            id: Uuid::now_v7(),
            email: new.email.as_str(),
            display_name: new.display_name.as_deref(),
            password_hash: new.password_hash.as_deref(),
            status,
        },
    )
    .await?;
    for role in &roles {
        UserRoleRow::assign(tx, tenant_id, user.id, role.id, None).await?;
    }
    let alerts = rules::seat_alerts(tx, &tenant).await?;
    let event = AuditEvent::new(action)
        .target("user", user.id)
        .details(json!({
            "email": user.email, "status": user.status,
            "roles": roles.iter().map(|r| r.name.clone()).collect::<Vec<_>>(),
        }));
    Ok(Done::audited(user, event).and_effect(Effect::Alerts(alerts)))
}

/// A change of a user's email and/or display name (`Some(None)` clears the name).
pub struct UserChange {
    pub email: Option<Email>,
    pub display_name: Option<Option<String>>,
}

pub async fn update(
    tx: &mut TenantTx,
    acting: Acting<'_>,
    id: Uuid,
    change: UserChange,
) -> AppResult<Done<UserRow>> {
    let mut user = UserRow::get(tx, id).await?;
    rules::ensure_can_manage(tx, acting.actor, acting.permissions, id).await?;
    let mut changed = serde_json::Map::new();
    if let Some(email) = &change.email
        && !email.as_str().eq_ignore_ascii_case(&user.email)
    {
        let old_email = user.email.clone();
        UserRow::set_email(tx, id, email.as_str()).await?;
        user = UserRow::set_email_verified(tx, id, None).await?;
        changed.insert("email".into(), json!(email.as_str()));
        // The new address proves itself; the old one hears of the change and may report it.
        send_email_verification(tx, &user).await?;
        let report = invitations::issue_for(
            tx,
            id,
            Purpose::EmailChangeReport,
            None,
            chrono::Duration::days(invitations::REPORT_LINK_TTL_DAYS),
        )
        .await?;
        notices::email_changed(tx, &user, &old_email, report.token).await?;
    } else if let Some(email) = &change.email {
        user = UserRow::set_email(tx, id, email.as_str()).await?;
        changed.insert("email".into(), json!(email.as_str()));
    }
    if let Some(name) = &change.display_name {
        user = UserRow::set_display_name(tx, id, name.as_deref()).await?;
        changed.insert("display_name".into(), json!(name));
    }
    let event = AuditEvent::new(Action::UserUpdated)
        .target("user", id)
        .details(changed.into());
    Ok(Done::audited(user, event))
}

/// Deactivates a user and revokes all their sessions at once.
pub async fn deactivate(
    tx: &mut TenantTx,
    acting: Acting<'_>,
    id: Uuid,
) -> AppResult<Done<UserRow>> {
    UserRow::get(tx, id).await?;
    rules::ensure_can_manage(tx, acting.actor, acting.permissions, id).await?;
    rules::ensure_other_owner_remains(tx, id).await?;
    let user = UserRow::set_status(tx, id, "deactivated").await?;
    let revoked = SessionRow::revoke_all_of_user(tx, id, "user_deactivated").await?;
    let event = AuditEvent::new(Action::UserDeactivated)
        .target("user", id)
        .details(json!({ "sessions_revoked": revoked.len() }));
    Ok(Done::audited(user, event).and_sessions_revoked(revoked))
}

/// Makes a deactivated user active again (a seat is needed); an active one stays as it is.
pub async fn reactivate(
    tx: &mut TenantTx,
    acting: Acting<'_>,
    id: Uuid,
) -> AppResult<Done<UserRow>> {
    let tenant_id = tx.tenant_id();
    let user = UserRow::get(tx, id).await?;
    rules::ensure_can_manage(tx, acting.actor, acting.permissions, id).await?;
    if user.status != "deactivated" {
        return Ok(Done::unaudited(user));
    }
    let tenant = rules::ensure_seat_available(tx, tenant_id).await?;
    let user = UserRow::set_status(tx, id, "active").await?;
    let alerts = rules::seat_alerts(tx, &tenant).await?;
    Ok(Done::audited(
        user,
        AuditEvent::new(Action::UserReactivated).target("user", id),
    )
    .and_effect(Effect::Alerts(alerts)))
}

/// Deletes a user for good, with their sessions, roles and memberships.
pub async fn delete(tx: &mut TenantTx, acting: Acting<'_>, id: Uuid) -> AppResult<Done<()>> {
    let user = UserRow::get(tx, id).await?;
    rules::ensure_can_manage(tx, acting.actor, acting.permissions, id).await?;
    rules::ensure_other_owner_remains(tx, id).await?;
    let revoked = SessionRow::revoke_all_of_user(tx, id, "user_deleted").await?;
    UserRow::delete(tx, id).await?;
    let event = AuditEvent::new(Action::UserDeleted)
        .target("user", id)
        .details(json!({ "email": user.email }));
    Ok(Done::audited((), event).and_sessions_revoked(revoked))
}
