//! tenant-hub: the GraphQL gateway and tenant hub in front of a family of SaaS products.
//!
//! The request flow and the isolation invariants are described in `DESIGN.md` (shared with the
//! product teams); this crate follows them module by module:
//! [`http`] (routes and the Principal extractor) → [`graphql`] (schema, guards, loaders) →
//! [`db`] (`tenant_tx` / `system_tx`, the only ways to reach tenant tables).

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
pub mod graphql;
pub mod http;
pub mod invalidation;
pub mod metrics;
pub mod ops;
pub mod outbound;
pub mod ratelimit;
pub mod secrets;
pub mod seed;
pub mod telemetry;
pub mod usage;

pub use app::Application;
pub use config::Settings;
pub use error::{AppError, ErrorCode};
