//! The operations: what the hub does, whoever asks. GraphQL resolvers, the HTTP routes (hosted
//! pages, OAuth endpoints, exports) and the command line call the same functions here, so a
//! rule holds whichever door a request came through.
//!
//! The shape of an operation:
//!
//! ```text
//! pub async fn op(tx: &mut TenantTx, input: ValidatedInput) -> AppResult<Done<T>>
//! ```
//!
//! * It takes the typed transaction it is written for ([`TenantTx`], or a `SystemTx` for the
//!   few operations that cross tenants) and input that is already validated (domain types).
//! * It returns [`Done`]: its value, the audit events it caused and the effects to run once
//!   the transaction has committed. [`in_tenant`] and [`in_system`] open the transaction,
//!   write the audit events *inside* it (so an audited change cannot commit unrecorded, and a
//!   rolled-back one leaves no record) and hand the effects back to the caller, which runs them
//!   after the commit.
//! * It knows nothing of GraphQL or HTTP: statuses and other values it needs are domain types,
//!   converted to GraphQL enums and objects in `graphql/`.

pub mod admin_sessions;
pub mod api_keys;
pub mod catalog;
pub mod domains;
pub mod effects;
pub mod expired;
pub mod identity_providers;
pub mod invitations;
pub mod lifecycle;
pub mod login;
pub mod logout;
pub mod mfa;
pub mod oauth_clients;
pub mod oauth_tokens;
pub mod passkeys;
pub mod passwords;
pub mod plans;
pub mod platform;
pub mod products;
pub mod roles;
pub mod rules;
pub mod sessions;
pub mod sign_in;
pub mod sso_sign_in;
pub mod tenant_settings;
pub mod tenants;
pub mod usage;
pub mod users;
pub mod workspaces;

use uuid::Uuid;

use crate::{
    db::{
        Db, ScopedBoxFuture, SystemReason, SystemTx, TenantTx,
        audit::{self, AuditContext, AuditEvent},
        models::AlertRow,
    },
    error::AppResult,
    invalidation::Invalidation,
};

/// Who acts, and what they may grant: a member's own permissions (all for a platform admin).
pub struct Acting<'a> {
    pub actor: audit::Actor,
    pub permissions: &'a [String],
}

/// What an operation did: its value, the audit events to write in its transaction, and the
/// effects to run after the commit.
#[must_use = "an operation's audit events and effects are written by in_tenant/in_system"]
pub struct Done<T> {
    pub value: T,
    pub events: Vec<AuditEvent>,
    pub effects: Vec<Effect>,
}

impl<T> Done<T> {
    /// A change recorded by one audit event.
    pub fn audited(value: T, event: AuditEvent) -> Done<T> {
        Done {
            value,
            events: vec![event],
            effects: Vec::new(),
        }
    }

    /// A read, or a change audited elsewhere (the caller says why).
    pub fn unaudited(value: T) -> Done<T> {
        Done {
            value,
            events: Vec::new(),
            effects: Vec::new(),
        }
    }

    pub fn and_effect(mut self, effect: Effect) -> Done<T> {
        self.effects.push(effect);
        self
    }

    /// Drops the cached states of these sessions (revoked by the operation), here and on
    /// the other replicas.
    pub fn and_sessions_revoked(mut self, sessions: impl IntoIterator<Item = Uuid>) -> Done<T> {
        self.effects.extend(
            sessions
                .into_iter()
                .map(|id| Effect::Invalidate(Invalidation::Session { id })),
        );
        self
    }
}

/// Work for after the commit: it must not run for a change that was rolled back.
#[derive(Debug, Clone)]
pub enum Effect {
    /// Drop what this replica caches and tell the other replicas (`invalidation`).
    Invalidate(Invalidation),
    /// A record for the platform audit log, which a tenant's transaction cannot write; the
    /// tenant's own log holds the change atomically.
    PlatformAudit(AuditEvent),
    /// Usage alerts the change raised (stored with it), delivered to the tenant's webhook.
    Alerts(Vec<AlertRow>),
}

/// A committed operation: its value and the effects the caller runs now.
pub struct Committed<T> {
    pub value: T,
    pub effects: Vec<Effect>,
}

/// Runs `op` in one transaction of `tenant_id`; its audit events go to that tenant's log
/// inside the same transaction, under `audit` (who, from where).
pub async fn in_tenant<'a, T, F>(
    db: &Db,
    tenant_id: Uuid,
    audit: AuditContext,
    op: F,
) -> AppResult<Committed<T>>
where
    T: Send + 'a,
    F: for<'r> FnOnce(&'r mut TenantTx) -> ScopedBoxFuture<'a, 'r, AppResult<Done<T>>> + Send + 'a,
{
    db.tenant_tx(tenant_id, move |tx| {
        Box::pin(async move {
            let done = op(tx).await?;
            for event in done.events {
                audit::record(tx, tenant_id, &audit, event).await?;
            }
            Ok(Committed {
                value: done.value,
                effects: done.effects,
            })
        })
    })
    .await
}

/// Runs `op` in one system-scope transaction for `reason`; its audit events go to the
/// platform audit log inside the same transaction (or to the log of the tenant an event
/// names with `AuditEvent::in_log_of`).
pub async fn in_system<'a, T, F>(
    db: &Db,
    reason: SystemReason,
    audit: AuditContext,
    op: F,
) -> AppResult<Committed<T>>
where
    T: Send + 'a,
    F: for<'r> FnOnce(&'r mut SystemTx) -> ScopedBoxFuture<'a, 'r, AppResult<Done<T>>> + Send + 'a,
{
    db.system_tx(reason, move |tx| {
        Box::pin(async move {
            let done = op(tx).await?;
            for event in done.events {
                match event.tenant_log {
                    Some(tenant_id) => audit::record(tx, tenant_id, &audit, event).await?,
                    None => audit::record_platform(tx, &audit, event).await?,
                }
            }
            Ok(Committed {
                value: done.value,
                effects: done.effects,
            })
        })
    })
    .await
}
