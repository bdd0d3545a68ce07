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
    auth::session_cache::SessionCache, config::Settings, context_cache::ContextCache, db::Db,
    error::AppResult, oauth::client_cache::ClientCache, usage::UsageMeter,
};

/// What this module keeps honest: this replica's caches, the database the replicas tell each
/// other through, and the usage meter a flush request empties. Built once by the wiring,
/// shared by everything that announces a change.
pub struct Invalidator {
    pub db: Db,
    pub sessions: Arc<SessionCache>,
    pub contexts: Arc<ContextCache>,
    pub oauth_clients: Arc<ClientCache>,
    pub usage: Arc<UsageMeter>,
}

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
fn received(inv: &Arc<Invalidator>, what: Invalidation) {
    match what {
        Invalidation::FlushUsage => {
            let inv = inv.clone();
            tokio::spawn(async move {
                match inv.usage.flush(&inv.db).await {
                    Ok(n) => tracing::info!(calls = n, "usage flushed on request"),
                    Err(e) => e.log_cause(),
                }
            });
        }
        other => apply(inv, other),
    }
}

/// Applies an invalidation to this replica's caches (the sender flushes its usage itself).
fn apply(inv: &Invalidator, what: Invalidation) {
    match what {
        Invalidation::Session { id } => inv.sessions.invalidate(id),
        Invalidation::Tenant { id } => inv.contexts.invalidate_tenant(id),
        Invalidation::OAuthClient { id } => inv.oauth_clients.forget(id),
        Invalidation::All => forget_everything(inv),
        Invalidation::FlushUsage => {}
    }
}

fn forget_everything(inv: &Invalidator) {
    inv.sessions.clear();
    inv.contexts.clear();
    inv.oauth_clients.clear();
}

/// Applies `what` here and tells the other replicas. A failed NOTIFY is logged: the others
/// then catch up within HUB_SESSION_CACHE_MS.
pub async fn announce(inv: &Invalidator, what: Invalidation) {
    apply(inv, what);
    let sent = async {
        let mut pooled = inv.db.connection().await?;
        let conn: &mut AsyncPgConnection = &mut pooled;
        // In a transaction: behind a transaction-pooling PgBouncer, a prepared statement's
        // Parse and Bind reach one server connection only inside one (see
        // db::establish_in_transaction).
        conn.transaction(async |conn| notify(conn, &what).await)
            .await
    };
    if let Err(e) = sent.await {
        tracing::warn!(
            code = e.code.as_str(),
            "cannot announce a cache invalidation"
        );
        e.log_cause();
    }
}

/// Listens for the other replicas' invalidations until the application is dropped.
pub fn spawn_listener(inv: &Arc<Invalidator>, settings: &Settings) {
    let weak = Arc::downgrade(inv);
    let url = settings
        .db
        .listen_database_url
        .clone()
        .or_else(|| settings.db.app_url().ok());
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
                            let Some(inv) = weak.upgrade() else { return };
                            match serde_json::from_str::<Invalidation>(&n.payload) {
                                Ok(what) => received(&inv, what),
                                Err(_) => forget_everything(&inv),
                            }
                        }
                    }
                }
                Err(e) => tracing::debug!(error = %e, "invalidation listener cannot connect"),
            }
            // Lost (or never had) the connection: whatever was missed, forget it all.
            if let Some(inv) = weak.upgrade() {
                forget_everything(&inv);
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
