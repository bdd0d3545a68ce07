//! Keeping the replicas' caches honest: a change that affects what a replica caches (a revoked
//! session, a tenant's status, limits or plan) is applied to this replica's cache at once and
//! announced to the others with PostgreSQL NOTIFY on [`CHANNEL`]. Changes to what a
//! TenantContext is made of (roles, assignments, product access, user status, products) and
//! to the tenant's own row are announced by triggers in the database itself (migrations 0006
//! and 0009), on commit, whoever wrote them. Each replica LISTENs on a dedicated connection; when that connection is lost it drops
//! its whole cache (it may have missed messages) and reconnects.
//!
//! The channel carries one request that is not an invalidation: [`Invalidation::FlushUsage`]
//! asks every replica to write its API-call counts now (`adminFlushUsage`, `tenant-hub
//! maintenance flush-usage`).

use std::{sync::Arc, time::Duration};

use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use futures_util::StreamExt;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::{
    app::AppState,
    db::{
        ScopedFutureExt, SystemReason,
        audit::{self, AuditContext},
    },
    error::AppResult,
    ops::Effect,
};

pub const CHANNEL: &str = "tenant_hub_invalidate";
/// The listener connection's application_name (visible in pg_stat_activity).
pub const LISTENER_NAME: &str = "tenant-hub-listener";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Invalidation {
    /// One session's cached state.
    Session { id: Uuid },
    /// The cached TenantContexts of one tenant's members and the tenant's row (sent by the
    /// database triggers).
    Tenant { id: Uuid },
    /// One registered OAuth client (changed, its secret rotated, or deleted).
    OAuthClient { id: Uuid },
    /// Everything (a tenant's status, limits or plan changed).
    All,
    /// Write the API-call counts held in memory now.
    FlushUsage,
}

/// Applies what another replica (or this one) announced.
fn received(state: &Arc<AppState>, what: Invalidation) {
    match what {
        Invalidation::FlushUsage => {
            let state = state.clone();
            tokio::spawn(async move {
                match state.usage.flush(&state.db).await {
                    Ok(n) => tracing::info!(calls = n, "usage flushed on request"),
                    Err(e) => e.log_cause(),
                }
            });
        }
        other => apply(state, other),
    }
}

/// Applies an invalidation to this replica's caches (the sender flushes its usage itself).
fn apply(state: &AppState, what: Invalidation) {
    match what {
        Invalidation::Session { id } => state.sessions.invalidate(id),
        Invalidation::Tenant { id } => state.contexts.invalidate_tenant(id),
        Invalidation::OAuthClient { id } => state.oauth_clients.forget(id),
        Invalidation::All => forget_everything(state),
        Invalidation::FlushUsage => {}
    }
}

fn forget_everything(state: &AppState) {
    state.sessions.clear();
    state.contexts.clear();
    state.oauth_clients.clear();
}

/// Applies `what` here and tells the other replicas. A failed NOTIFY is logged: the others
/// then catch up within HUB_SESSION_CACHE_MS.
pub async fn announce(state: &AppState, what: Invalidation) {
    apply(state, what);
    let sent = async {
        let mut conn = state.db.connection().await?;
        notify(&mut conn, &what).await
    };
    if let Err(e) = sent.await {
        tracing::warn!(
            code = e.code.as_str(),
            "cannot announce a cache invalidation"
        );
        e.log_cause();
    }
}

/// Runs the effects of a committed operation (`ops::Effect`): invalidations are announced,
/// platform audit records written in their own system transaction (a failure is logged).
pub async fn run_effects(state: &Arc<AppState>, audit_ctx: &AuditContext, effects: Vec<Effect>) {
    for effect in effects {
        match effect {
            Effect::Invalidate(what) => announce(state, what).await,
            Effect::Alerts(alerts) => crate::alerts::deliver_later(&state.alerts, alerts),
            Effect::PlatformAudit(event) => {
                let written = state
                    .db
                    .system_tx(SystemReason::PlatformAdmin, |tx| {
                        audit::record_platform(tx, audit_ctx, event).scope_boxed()
                    })
                    .await;
                if let Err(e) = written {
                    tracing::warn!(
                        code = e.code.as_str(),
                        "cannot write a platform audit record"
                    );
                    e.log_cause();
                }
            }
        }
    }
}

/// Listens for the other replicas' invalidations until the application is dropped.
pub fn spawn_listener(state: Arc<AppState>) {
    let weak = Arc::downgrade(&state);
    let url = state
        .settings
        .db
        .listen_database_url
        .clone()
        .or_else(|| state.settings.db.app_url().ok());
    drop(state);
    let Some(url) = url else { return };
    let url = if url.contains('?') {
        format!("{url}&application_name={LISTENER_NAME}")
    } else {
        format!("{url}?application_name={LISTENER_NAME}")
    };
    tokio::spawn(async move {
        loop {
            if weak.upgrade().is_none() {
                break;
            }
            match AsyncPgConnection::establish(&url).await {
                Ok(mut conn) => {
                    if diesel::sql_query(format!("LISTEN {CHANNEL}"))
                        .execute(&mut conn)
                        .await
                        .is_ok()
                    {
                        let mut stream = std::pin::pin!(conn.notifications_stream());
                        while let Some(Ok(n)) = stream.next().await {
                            let Some(state) = weak.upgrade() else { return };
                            match serde_json::from_str::<Invalidation>(&n.payload) {
                                Ok(what) => received(&state, what),
                                Err(_) => forget_everything(&state),
                            }
                        }
                    }
                }
                Err(e) => tracing::debug!(error = %e, "invalidation listener cannot connect"),
            }
            // Lost (or never had) the connection: whatever was missed, forget it all.
            if let Some(state) = weak.upgrade() {
                forget_everything(&state);
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
    });
}

/// Sends `what` on the channel (delivered when the surrounding transaction, if any, commits).
pub async fn notify(conn: &mut AsyncPgConnection, what: &Invalidation) -> AppResult<()> {
    let payload = serde_json::to_string(what).unwrap_or_default();
    diesel::sql_query("SELECT pg_notify($1, $2)")
        .bind::<diesel::sql_types::Text, _>(CHANNEL)
        .bind::<diesel::sql_types::Text, _>(&payload)
        .execute(conn)
        .await?;
    Ok(())
}

/// How many replicas are listening on this database right now.
pub async fn listening_replicas(conn: &mut AsyncPgConnection) -> AppResult<i64> {
    #[derive(diesel::QueryableByName)]
    struct Count {
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        n: i64,
    }
    let c: Count = diesel::sql_query(
        "SELECT count(*) AS n FROM pg_stat_activity
         WHERE datname = current_database() AND application_name = $1",
    )
    .bind::<diesel::sql_types::Text, _>(LISTENER_NAME)
    .get_result(conn)
    .await?;
    Ok(c.n)
}
