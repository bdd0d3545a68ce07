//! The database: the pool and the only two ways code reaches tenant tables.
//!
//! * [`Db::tenant_tx`] runs a closure in one transaction with `app.tenant_id` set
//!   transaction-locally; RLS then shows and accepts that tenant's rows only. The closure gets a
//!   [`TenantTx`].
//! * [`Db::system_tx`] sets `app.scope = 'system'` instead, for the few paths that must cross
//!   tenants, each with its [`SystemReason`]; the closure gets a [`SystemTx`]. The two types
//!   keep tenant-relative and cross-tenant model functions apart at compile time (`tx`).
//!   The system scope runs on its own small pool logged in as the system role: RLS honours it
//!   for that role only (migration 2026-12-01-000002), so the tenant role's credentials gain
//!   nothing by setting `app.scope` themselves.
//!
//! Both settings end with the transaction (`set_config(..., true)`), so a pooled connection never
//! carries a tenant into the next checkout, also behind PgBouncer in transaction mode. For the
//! same reason the statement and idle-in-transaction timeouts are set again in every
//! transaction: behind PgBouncer a session setting stays on whichever server connection the
//! setup happened to reach, not with the client.

pub mod audit;
pub mod bootstrap;
pub mod models;
pub mod schema;
pub mod tx;

use std::{
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
    time::Duration,
};

use diesel::connection::{Instrumentation, InstrumentationEvent};
use diesel_async::{
    AsyncConnection, AsyncPgConnection, SimpleAsyncConnection, TransactionManager,
    pooled_connection::{
        AsyncDieselConnectionManager, ManagerConfig, RecyclingMethod,
        deadpool::{Object, Pool},
    },
};
use futures_util::FutureExt;
pub use scoped_futures::{ScopedBoxFuture, ScopedFutureExt};
use uuid::Uuid;

pub use tx::{AnyTx, InTenant, SystemReason, SystemTx, TenantRead, TenantTx};

use crate::{
    config::DatabaseSettings,
    error::{AppError, AppResult},
};

/// The connection type every query runs on.
pub type Conn = AsyncPgConnection;

/// What a read can be sent on: `&mut Conn`, or `&mut &Conn` to *pipeline* independent reads
/// of one transaction: futures polled together (`try_join!`) send their statements at once and
/// then read the answers, one wait for all instead of one each (diesel-async's
/// `AsyncPgConnection` documents this). Reads that serve pipelined callers take this.
pub trait Reader: diesel_async::AsyncConnectionCore<Backend = diesel::pg::Pg> {}

impl<C: diesel_async::AsyncConnectionCore<Backend = diesel::pg::Pg>> Reader for C {}

/// The `application_name` of the hub's pooled connections (visible in pg_stat_activity).
pub const APPLICATION_NAME: &str = "tenant-hub";

/// The pools of connections: the main one logged in as the application (tenant) role, and the
/// system scope's small one logged in as the system role.
#[derive(Clone)]
pub struct Db {
    pool: Pool<AsyncPgConnection>,
    system_pool: Pool<AsyncPgConnection>,
    statements: Arc<AtomicU64>,
    /// `, set_config('statement_timeout', …, true), …`: appended to every transaction's
    /// `BEGIN` batch (see the module's first lines).
    local_timeouts: Arc<str>,
}

/// Counts the statements every pooled connection sends (for /metrics, the N+1 tests and the
/// benchmark's statements-per-request figures).
struct StatementCounter(Arc<AtomicU64>);

impl Instrumentation for StatementCounter {
    fn on_connection_event(&mut self, event: InstrumentationEvent<'_>) {
        if let InstrumentationEvent::StartQuery { .. } = event {
            self.0.fetch_add(1, Ordering::Relaxed);
        }
    }
}

impl Db {
    /// Builds the pools; connections are opened lazily. Each new connection gets the
    /// statement_timeout and application_name.
    pub fn connect(settings: &DatabaseSettings) -> anyhow::Result<Db> {
        let statements = Arc::new(AtomicU64::new(0));
        let pool = build_pool(
            settings,
            &settings.app_url()?,
            settings.pool_size,
            &statements,
        )?;
        let system_pool = build_pool(
            settings,
            &settings.system_url()?,
            settings.system_pool_size,
            &statements,
        )?;
        let timeout_ms = settings.statement_timeout_ms;
        let local_timeouts = format!(
            ", set_config('statement_timeout', '{timeout_ms}', true), \
             set_config('idle_in_transaction_session_timeout', '{}', true)",
            timeout_ms.saturating_mul(2)
        );
        Ok(Db {
            pool,
            system_pool,
            statements,
            local_timeouts: local_timeouts.into(),
        })
    }

    /// A connection outside any transaction. Not for tenant data (RLS would show nothing):
    /// health checks and the like.
    pub async fn connection(&self) -> AppResult<Object<AsyncPgConnection>> {
        Ok(self.pool.get().await?)
    }

    /// Runs `f` in one transaction scoped to `tenant`: every statement sees and writes that
    /// tenant's rows only. An error from `f` rolls everything back.
    pub async fn tenant_tx<'a, T, F>(&self, tenant: Uuid, f: F) -> AppResult<T>
    where
        T: Send + 'a,
        F: for<'r> FnOnce(&'r mut TenantTx) -> ScopedBoxFuture<'a, 'r, AppResult<T>> + Send + 'a,
    {
        let conn = self.pool.get().await?;
        let mut tx = TenantTx::new(conn, tenant);
        let begin = format!(
            "BEGIN; SELECT set_config('app.tenant_id', '{tenant}', true){}",
            self.local_timeouts
        );
        run_in_transaction(&mut tx, &begin, f).await
    }

    /// Like [`Db::tenant_tx`], in a READ ONLY transaction: PostgreSQL refuses any write (and
    /// `SELECT … FOR UPDATE`) in it. `READ ONLY` goes in the same `BEGIN` batch as the
    /// tenant's setting, so it costs no extra round trip. The read path of resolvers
    /// (`TenantScope::tx`).
    pub async fn tenant_read_tx<'a, T, F>(&self, tenant: Uuid, f: F) -> AppResult<T>
    where
        T: Send + 'a,
        F: for<'r> FnOnce(&'r mut TenantTx) -> ScopedBoxFuture<'a, 'r, AppResult<T>> + Send + 'a,
    {
        let conn = self.pool.get().await?;
        let mut tx = TenantTx::new(conn, tenant);
        let begin = format!(
            "BEGIN READ ONLY; SELECT set_config('app.tenant_id', '{tenant}', true){}",
            self.local_timeouts
        );
        run_in_transaction(&mut tx, &begin, f).await
    }

    /// Runs `f` in one transaction in system scope, across tenants, for `reason` (each reason
    /// is minted in one module: see [`SystemReason`]), on the system role's pool.
    pub async fn system_tx<'a, T, F>(&self, reason: SystemReason, f: F) -> AppResult<T>
    where
        T: Send + 'a,
        F: for<'r> FnOnce(&'r mut SystemTx) -> ScopedBoxFuture<'a, 'r, AppResult<T>> + Send + 'a,
    {
        let conn = self.system_pool.get().await?;
        tracing::debug!(reason = reason.as_str(), "system-scope transaction");
        let mut tx = SystemTx::new(conn);
        let begin = format!(
            "BEGIN; SELECT set_config('app.scope', 'system', true){}",
            self.local_timeouts
        );
        run_in_transaction(&mut tx, &begin, f).await
    }

    /// `SELECT 1` through the pool: is the database reachable right now? A pooled connection
    /// that died with the database fails once and is discarded; the second try gets a new one.
    pub async fn ping(&self) -> AppResult<()> {
        let mut last = None;
        for _ in 0..2 {
            let attempt = async {
                let mut conn = self.pool.get().await?;
                conn.batch_execute("SELECT 1").await?;
                Ok::<_, AppError>(())
            };
            match attempt.await {
                Ok(()) => return Ok(()),
                Err(e) => last = Some(e),
            }
        }
        Err(last.unwrap_or_else(|| AppError::internal(anyhow::anyhow!("ping failed"))))
    }

    /// Statements sent so far by all connections of this pool.
    pub fn statements_executed(&self) -> u64 {
        AtomicU64::load(&self.statements, Ordering::Relaxed)
    }

    /// Pool figures for /metrics and /readyz.
    pub fn pool_status(&self) -> deadpool::managed::Status {
        self.pool.status()
    }
}

/// One pool of `size` connections logging in with `url`.
fn build_pool(
    settings: &DatabaseSettings,
    url: &str,
    size: usize,
    statements: &Arc<AtomicU64>,
) -> anyhow::Result<Pool<AsyncPgConnection>> {
    let timeout_ms = settings.statement_timeout_ms;
    let counter = statements.clone();
    let statement_cache = settings.statement_cache;
    let mut config = ManagerConfig::<AsyncPgConnection>::default();
    config.custom_setup = Box::new(move |url| {
        let counter = counter.clone();
        async move {
            let mut conn = establish_in_transaction(url).await?;
            conn.set_instrumentation(StatementCounter(counter));
            if !statement_cache {
                conn.set_prepared_statement_cache_size(diesel::connection::CacheSize::Disabled);
            }
            conn.batch_execute(&format!(
                "SET statement_timeout = {timeout_ms}; \
                 SET idle_in_transaction_session_timeout = {}; \
                 SET application_name = '{APPLICATION_NAME}'; \
                 COMMIT",
                timeout_ms.saturating_mul(2)
            ))
            .await
            .map_err(diesel::ConnectionError::CouldntSetupConfiguration)?;
            Ok(conn)
        }
        .boxed()
    });
    // A broken or closed connection is still detected on recycling (is_broken); Fast saves
    // a round trip per checkout.
    config.recycling_method = RecyclingMethod::Fast;
    let manager = AsyncDieselConnectionManager::new_with_config(url, config);
    Ok(Pool::builder(manager)
        .max_size(size.max(1))
        .runtime(deadpool::Runtime::Tokio1)
        .wait_timeout(Some(settings.acquire_timeout()))
        .create_timeout(Some(settings.acquire_timeout()))
        .recycle_timeout(Some(Duration::from_secs(1)))
        .build()?)
}

/// Opens a connection with a transaction begun, in which diesel-async's own setup then runs;
/// the caller ends it with its session settings (`…; COMMIT`). diesel-async sends its setup
/// (`SET TIME ZONE`, `SET CLIENT_ENCODING`) as prepared statements, a Parse and then a Bind in
/// a later exchange: outside a transaction, a transaction-pooling PgBouncer may hand those two
/// exchanges to different server connections ("prepared statement \"s12\" does not exist"),
/// inside one it cannot.
async fn establish_in_transaction(url: &str) -> diesel::ConnectionResult<AsyncPgConnection> {
    let refused = |e: tokio_postgres::Error| diesel::ConnectionError::BadConnection(e.to_string());
    let (client, connection) = tokio_postgres::connect(url, tokio_postgres::NoTls)
        .await
        .map_err(refused)?;
    // Ends when the connection closes or the client (inside the pooled connection) is dropped;
    // a lost connection then fails the pooled connection's next statement, and the pool
    // discards it (`is_broken`).
    tokio::spawn(async move {
        if let Err(e) = connection.await {
            tracing::debug!(error = %e, "database connection ended");
        }
    });
    client.batch_execute("BEGIN").await.map_err(refused)?;
    AsyncPgConnection::try_from(client).await
}

/// Sends `begin` (BEGIN and the scope's setting, in one round trip: one simple-protocol
/// batch), runs `f`, then commits, or rolls back when `f` failed.
async fn run_in_transaction<'a, X, T, F>(tx: &mut X, begin: &str, f: F) -> AppResult<T>
where
    X: std::ops::DerefMut<Target = Conn> + Send,
    T: Send + 'a,
    F: for<'r> FnOnce(&'r mut X) -> ScopedBoxFuture<'a, 'r, AppResult<T>> + Send + 'a,
{
    type Tm = <Conn as AsyncConnection>::TransactionManager;
    Tm::begin_transaction_sql(&mut **tx, begin).await?;
    let outcome = f(tx).await;
    match outcome {
        Ok(value) => {
            Tm::commit_transaction(&mut **tx).await?;
            Ok(value)
        }
        Err(err) => {
            // A failed rollback leaves the connection broken; the pool then discards it.
            if let Err(rollback) = Tm::rollback_transaction(&mut **tx).await {
                tracing::warn!(error = %rollback, "rollback failed");
            }
            Err(err)
        }
    }
}
