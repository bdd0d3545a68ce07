//! `mail_outbox` and `mail_attempts`: the mails waiting for (or past) delivery, and each
//! delivery attempt. Rows are inserted in the tenant transaction of the change that causes the
//! mail; the housekeeping loop claims and records them in short system transactions.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use uuid::Uuid;

use crate::{
    db::{
        InTenant, SystemTx, TenantTx,
        schema::{mail_attempts, mail_outbox, tenants},
    },
    error::AppResult,
};

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = mail_outbox, check_for_backend(diesel::pg::Pg))]
pub struct MailRow {
    pub tenant_id: Uuid,
    pub id: Uuid,
    pub kind: String,
    pub user_id: Option<Uuid>,
    pub recipient: String,
    pub locale: String,
    pub data: serde_json::Value,
    pub link_secret: Option<String>,
    pub created_at: DateTime<Utc>,
    pub next_attempt_at: DateTime<Utc>,
    pub attempts: i32,
    pub sent_at: Option<DateTime<Utc>>,
    pub failed_at: Option<DateTime<Utc>>,
    pub last_error: Option<String>,
}

/// Where a mail stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum MailStatus {
    /// Not sent yet: waiting for its first attempt, for a retry, or for SMTP to be configured.
    Pending,
    /// Accepted by the SMTP server (or written to the log in development).
    Sent,
    /// Given up after the last attempt.
    Failed,
}

impl MailStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            MailStatus::Pending => "pending",
            MailStatus::Sent => "sent",
            MailStatus::Failed => "failed",
        }
    }
}

/// A claimed mail with what its rendering needs of its tenant.
#[derive(Debug, Clone)]
pub struct ClaimedMail {
    pub mail: MailRow,
    pub tenant_name: String,
    pub branding: serde_json::Value,
}

impl MailRow {
    pub fn status(&self) -> MailStatus {
        if self.sent_at.is_some() {
            MailStatus::Sent
        } else if self.failed_at.is_some() {
            MailStatus::Failed
        } else {
            MailStatus::Pending
        }
    }

    /// Adds a mail to the outbox of the tenant of `conn`, in the caller's transaction.
    pub async fn insert(conn: &mut TenantTx, row: &MailRow) -> AppResult<()> {
        diesel::insert_into(mail_outbox::table)
            .values(row)
            .execute(conn)
            .await?;
        Ok(())
    }

    /// The latest mail of `kind` of each of `user_ids` (one statement, however many users: the
    /// `User.invitationMail` loader).
    pub async fn latest_of_users(
        conn: &mut impl InTenant,
        user_ids: &[Uuid],
        kind: &str,
    ) -> AppResult<Vec<MailRow>> {
        Ok(mail_outbox::table
            .filter(mail_outbox::user_id.eq_any(user_ids))
            .filter(mail_outbox::kind.eq(kind))
            .distinct_on(mail_outbox::user_id)
            .order((
                mail_outbox::user_id,
                mail_outbox::created_at.desc(),
                mail_outbox::id.desc(),
            ))
            .select(MailRow::as_select())
            .load(conn)
            .await?)
    }

    /// Mails of the tenant of `conn`, newest first (tests, the admin's view).
    pub async fn recent(conn: &mut impl InTenant, limit: i64) -> AppResult<Vec<MailRow>> {
        Ok(mail_outbox::table
            .order((mail_outbox::created_at.desc(), mail_outbox::id.desc()))
            .limit(limit)
            .select(MailRow::as_select())
            .load(conn)
            .await?)
    }

    /// System scope: mails of every tenant (or one), by status, newest first (the CLI).
    pub async fn list(
        conn: &mut SystemTx,
        tenant: Option<Uuid>,
        status: Option<MailStatus>,
        limit: i64,
    ) -> AppResult<Vec<MailRow>> {
        let mut query = mail_outbox::table
            .select(MailRow::as_select())
            .order((mail_outbox::created_at.desc(), mail_outbox::id.desc()))
            .limit(limit)
            .into_boxed();
        if let Some(t) = tenant {
            query = query.filter(mail_outbox::tenant_id.eq(t));
        }
        query = match status {
            None => query,
            Some(MailStatus::Sent) => query.filter(mail_outbox::sent_at.is_not_null()),
            Some(MailStatus::Failed) => query.filter(mail_outbox::failed_at.is_not_null()),
            Some(MailStatus::Pending) => query
                .filter(mail_outbox::sent_at.is_null())
                .filter(mail_outbox::failed_at.is_null()),
        };
        Ok(query.load(conn).await?)
    }

    /// System scope: claims up to `limit` pending mails that are due, oldest first, for
    /// `lease` (their next_attempt_at moves past it, so no other replica sends them meanwhile),
    /// with their tenant's name and branding. Run in its own short transaction; the sends
    /// happen after it committed.
    pub async fn claim_due(
        conn: &mut SystemTx,
        limit: i64,
        lease: std::time::Duration,
    ) -> AppResult<Vec<ClaimedMail>> {
        let mails = MailRow::claim_due_rows(conn, limit, lease).await?;
        let tenant_ids: Vec<Uuid> = mails.iter().map(|m| m.tenant_id).collect();
        let names: std::collections::HashMap<Uuid, (String, serde_json::Value)> = tenants::table
            .filter(tenants::id.eq_any(&tenant_ids))
            .select((tenants::id, tenants::name, tenants::branding))
            .load::<(Uuid, String, serde_json::Value)>(conn)
            .await?
            .into_iter()
            .map(|(id, name, branding)| (id, (name, branding)))
            .collect();
        Ok(mails
            .into_iter()
            .map(|mail| {
                let (tenant_name, branding) = names
                    .get(&mail.tenant_id)
                    .cloned()
                    .unwrap_or_else(|| (String::new(), serde_json::Value::Null));
                ClaimedMail {
                    mail,
                    tenant_name,
                    branding,
                }
            })
            .collect())
    }
}

// A sent or finally failed mail drops its link's token: the outbox keeps no usable link.
crate::outbox_delivery! {
    row: MailRow,
    outbox: mail_outbox,
    delivered: sent_at as "sent",
    attempts: mail_attempts (mail_id),
    spent: (mail_outbox::link_secret.eq(None::<String>)),
}

/// The tenant's flag: sign-in needs a verified email.
pub async fn requires_verified_email(conn: &mut impl InTenant, tenant_id: Uuid) -> AppResult<bool> {
    Ok(tenants::table
        .find(tenant_id)
        .select(tenants::require_verified_email)
        .first(conn)
        .await
        .optional()?
        .unwrap_or(false))
}

/// Sets the tenant's flag.
pub async fn set_requires_verified_email(
    conn: &mut TenantTx,
    tenant_id: Uuid,
    required: bool,
) -> AppResult<()> {
    diesel::update(tenants::table.find(tenant_id))
        .set(tenants::require_verified_email.eq(required))
        .execute(conn)
        .await?;
    Ok(())
}
