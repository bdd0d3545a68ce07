//! The two transaction scopes as types, so that the compiler keeps them apart.
//!
//! * [`TenantTx`]: a transaction with `app.tenant_id` set; RLS shows and accepts that tenant's
//!   rows only. Model functions written for one tenant's rows take `&mut TenantTx` (writes) or
//!   `&mut impl InTenant` (reads that can also be pipelined, see [`TenantTx::read`]); the rare
//!   write made from both scopes takes `&mut impl AnyTx`.
//! * [`SystemTx`]: a transaction in system scope, across tenants, minted only for a
//!   [`SystemReason`]. Model functions that must cross tenants take `&mut SystemTx`.
//!
//! A function that counts "the tenant's users" through RLS therefore cannot be called in a
//! system transaction, where it would silently count every tenant's. Functions on global
//! catalogs (products, plans) take any connection (`&mut impl Reader`).
//!
//! Both types dereference to the connection, so diesel queries run on them as on a connection
//! (diesel-async implements its connection traits for every `DerefMut` to a connection).

use std::ops::{Deref, DerefMut};

use diesel_async::pooled_connection::deadpool::Object;
use uuid::Uuid;

use crate::db::{Conn, Reader};

/// A transaction scoped to one tenant (`app.tenant_id` set for its duration).
pub struct TenantTx {
    conn: Object<Conn>,
    tenant_id: Uuid,
}

impl TenantTx {
    pub(super) fn new(conn: Object<Conn>, tenant_id: Uuid) -> TenantTx {
        TenantTx { conn, tenant_id }
    }

    /// The tenant this transaction sees.
    pub fn tenant_id(&self) -> Uuid {
        self.tenant_id
    }

    /// A reader of this transaction for *pipelining* independent reads: futures polled
    /// together (`try_join!`) each on their own reader send their statements at once and then
    /// read the answers, one wait for all (diesel-async's `&AsyncPgConnection` documents this).
    pub fn read(&self) -> TenantRead<'_> {
        TenantRead {
            conn: &self.conn,
            tenant_id: self.tenant_id,
        }
    }
}

impl Deref for TenantTx {
    type Target = Conn;
    fn deref(&self) -> &Conn {
        &self.conn
    }
}

impl DerefMut for TenantTx {
    fn deref_mut(&mut self) -> &mut Conn {
        &mut self.conn
    }
}

/// A pipelining reader of a [`TenantTx`] (see [`TenantTx::read`]).
pub struct TenantRead<'a> {
    conn: &'a Conn,
    tenant_id: Uuid,
}

impl<'a> Deref for TenantRead<'a> {
    type Target = &'a Conn;
    fn deref(&self) -> &&'a Conn {
        &self.conn
    }
}

impl DerefMut for TenantRead<'_> {
    fn deref_mut(&mut self) -> &mut Self::Target {
        &mut self.conn
    }
}

/// What tenant-scoped reads run on: the transaction itself or one of its pipelining readers
/// (a marker: only these two implement it).
pub trait InTenant: Reader {
    /// The tenant the transaction sees. RLS already keeps every statement to it; a page
    /// query also names it (`tenant_id = …`) so the planner, which cannot see that RLS's
    /// bounds are one value, walks the `(tenant_id, created_at, id)` index in order and stops
    /// after the page instead of sorting all of the tenant's rows.
    fn tenant_id(&self) -> Uuid;
}

impl InTenant for TenantTx {
    fn tenant_id(&self) -> Uuid {
        self.tenant_id
    }
}

impl InTenant for TenantRead<'_> {
    fn tenant_id(&self) -> Uuid {
        self.tenant_id
    }
}

/// Either transaction, for the few writes that both scopes make on purpose (a tenant's status:
/// its own lifecycle transitions, and a forced purge in system scope).
pub trait AnyTx: Reader {}

impl AnyTx for TenantTx {}

impl AnyTx for SystemTx {}

/// Why a transaction must cross tenants. Each reason is minted in one module, named here, so
/// the system-scope sites can be read off this list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SystemReason {
    /// A platform admin's request, after the admin guard (`graphql::context::platform_admin`
    /// and the HTTP guard in `http::guard`).
    PlatformAdmin,
    /// Login's and token refresh's lookups before a tenant is known: the tenant by domain,
    /// slug or id, a session by id, an API key by its hash, an admin by email (`ops::sessions`,
    /// `auth::principal`).
    Authentication,
    /// Sign-up's check that the domain and slug are free, before the owner's password is
    /// hashed (`ops::tenants::precheck`); the unique indexes stay the arbiter.
    SignUp,
    /// The housekeeping loop: usage flushes, billing periods and outbox deliveries, purges of
    /// tenants past their grace period, the sweep of expired sign-in state (`app`, `billing`,
    /// `usage`, `ops::expired`).
    Housekeeping,
    /// An operator's command on the command line (`cli`).
    Operator,
}

impl SystemReason {
    /// The reason as a stable string (for logs).
    pub fn as_str(self) -> &'static str {
        match self {
            SystemReason::PlatformAdmin => "platform_admin",
            SystemReason::Authentication => "authentication",
            SystemReason::SignUp => "sign_up",
            SystemReason::Housekeeping => "housekeeping",
            SystemReason::Operator => "operator",
        }
    }
}

/// A transaction in system scope (`app.scope = 'system'`), across tenants; only
/// `Db::system_tx`, which takes a [`SystemReason`], opens one.
pub struct SystemTx {
    conn: Object<Conn>,
}

impl SystemTx {
    pub(super) fn new(conn: Object<Conn>) -> SystemTx {
        SystemTx { conn }
    }
}

impl Deref for SystemTx {
    type Target = Conn;
    fn deref(&self) -> &Conn {
        &self.conn
    }
}

impl DerefMut for SystemTx {
    fn deref_mut(&mut self) -> &mut Conn {
        &mut self.conn
    }
}
