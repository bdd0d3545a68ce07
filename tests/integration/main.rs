//! The integration tests, in one binary (one link instead of one per file): each module is an
//! area of the hub, run against real PostgreSQL and the real HTTP server (see [`common`]).

mod account_takeover;
mod audit_coverage;
mod auth;
mod batching;
mod cli;
mod common;
mod contract;
mod cross_tenant;
mod documents;
mod fault_tolerance;
mod graphiql_browser;
mod http_compliance;
mod lifecycle;
mod login_work;
mod management;
mod pgbouncer;
mod platform;
mod process;
mod product_app_example;
mod quotas;
mod replicas;
mod rls_isolation;
mod role_permissions;
mod schema_invariants;
mod schema_sdl;
mod server;
mod sso_domains;
mod sso_idp;
mod sso_providers;
mod tenant_context;
