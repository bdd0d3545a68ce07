//! HTTP: the routes (/graphql, /graphiql, /.well-known/jwks.json, /healthz, /readyz), request
//! metadata (request id, client IP) and the response helpers for whole-request errors.

pub mod graphiql;
pub mod graphql_http;
pub mod meta;
pub mod null_propagation;
pub mod routes;

pub use routes::configure;
