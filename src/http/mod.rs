//! HTTP: the routes (/graphql, /graphiql, /tenant-context, /.well-known/jwks.json, /healthz,
//! /readyz, and /metrics on its own listener), request
//! metadata (request id, client IP) and the response helpers for whole-request errors.

pub mod error_response;
pub mod graphiql;
pub mod graphql_http;
pub mod meta;
pub mod null_propagation;
pub mod routes;
pub mod tenant_context;

pub use error_response::HttpError;
pub use routes::configure;
