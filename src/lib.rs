//! tenant-hub: the GraphQL gateway and tenant hub in front of a family of SaaS products.
//!
//! The request flow and the isolation invariants are described in `DESIGN.md` (shared with the
//! product teams). Which room a line of code belongs in:
//!
//! | layer | modules | holds | may use |
//! |---|---|---|---|
//! | domain | [`domain`] | validated types and rules with no I/O: emails, slugs, passwords, permissions, a tenant's status and who may change it, the audit [`domain::Action`]s | nothing of the hub |
//! | database | [`db`] | the pools, the typed scopes [`db::TenantTx`] / [`db::SystemTx`] (the only ways to reach tenant tables), row structs and their queries (`db::models`, one file per table), the audit-log writer | domain |
//! | services | [`auth`], [`context_cache`], [`ratelimit`], [`secrets`], [`usage`], [`metrics`], [`outbound`] | keys and tokens, password hashing, caches, limiters, the outgoing HTTP client | domain, db |
//! | operations | [`ops`] | what the hub does, one file per area: validated input and a typed transaction in, a value with its audit events and after-commit effects out ([`ops::Done`]) | domain, db, services |
//! | API | [`graphql`], [`http`] | thin resolvers and routes: guard → operation → GraphQL object or HTTP answer | everything below |
//! | wiring | [`app`], [`cli`], `main.rs` | building the services, the HTTP server, background loops, the command line | everything |
//!
//! Rules: tenant-scoped SQL takes a `TenantTx` (the tenant comes from the verified principal,
//! never from an argument); a `SystemTx` is minted only for a [`db::SystemReason`]; no diesel
//! query is built outside `db/` and `ops/`; operations know nothing of GraphQL or HTTP; an audited
//! change returns its audit event from the operation, and `ops::in_tenant` / `ops::in_system`
//! write it inside the same transaction.
//!
//! Resolvers read through `TenantScope::tx`, a READ ONLY transaction (PostgreSQL refuses a
//! write there); every write goes through an operation.
//!
//! Services reach the code that uses them as small types built once by the wiring; only
//! [`app`] names `app::AppState`, the wiring's own record of everything it built:
//! * [`ops::sign_in::SignIn`]: what the sign-in operations (sessions, second factors, passkeys,
//!   OAuth tokens, federated sign-ins, password resets) use, and with them the hosted pages
//!   and the OAuth endpoints (`web::Data<SignIn>`);
//! * [`graphql::context::Services`]: the schema's data, which the resolvers reach through the
//!   guards' scopes;
//! * [`http::graphql_http::Endpoint`]: what `/graphql` and `GET /tenant-context` use around
//!   the schema (authentication, admission, persisted queries, after-execution);
//! * [`alerts::Alerts`] (which owns its own state), [`invalidation::Invalidator`] (this
//!   replica's caches and how the replicas tell each other), [`ops::effects::Effects`] (what
//!   an operation leaves for after its commit), [`auth::principal::Authenticator`] (a request's
//!   Principal); the housekeeping jobs take the database, HTTP client and settings they use,
//!   and a route that needs one service takes it as `web::Data<…>` (`Db`, `Settings`,
//!   `TokenIssuer`, `SessionCache`, `Metrics`, …).
//!
//! `layer_rules` builds the file-level import graph and fails on an import cycle or an
//! `AppState` outside the wiring. The one cycle it allows is the GraphQL type graph (`User`,
//! `RoleAssignment`, `Role`: a user names its roles, a role its users), which object types in
//! separate files cannot avoid.

pub mod alerts;
pub mod app;
pub mod auth;
pub mod billing;
pub mod cli;
pub mod config;
pub mod context_cache;
pub mod db;
pub mod domain;
pub mod error;
pub mod export;
pub mod export_slots;
pub mod graphql;
pub mod http;
pub mod invalidation;
#[cfg(test)]
mod layer_rules;
pub mod mail;
pub mod metrics;
pub mod mfa;
pub mod oauth;
pub mod ops;
pub mod outbound;
pub mod ratelimit;
pub mod request;
pub mod secrets;
pub mod seed;
pub mod sso;
pub mod telemetry;
pub mod usage;
pub mod web;

pub use app::Application;
pub use config::Settings;
pub use error::{AppError, ErrorCode};
