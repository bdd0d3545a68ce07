//! The GraphQL schema: one `Query` and one `Mutation`, each merged from the areas below, with
//! the execution limits. Resolvers reach the database only through the scopes that the guards
//! in [`context`] hand out.

pub mod admin;
pub mod admin_reads;
pub mod api_key_scope;
pub mod apq;
pub mod audit;
pub mod auth;
pub mod billing;
pub mod connection;
pub mod context;
pub mod ids;
pub mod lifecycle;
pub mod limits;
pub mod loaders;
pub mod me;
pub mod mfa;
pub mod mfa_factor;
pub mod node;
pub mod oauth_client;
pub mod platform_audit;
pub mod product;
pub mod registry;
pub mod role;
pub mod role_assignment;
pub mod signup;
pub mod spans;
pub mod sso;
pub mod tenant;
pub mod usage;
pub mod user;
pub mod workspace;
pub mod writes;

use async_graphql::{EmptySubscription, MergedObject, Schema, SchemaBuilder};

use crate::config::Settings;

#[derive(MergedObject, Default)]
pub struct Query(
    me::MeQuery,
    tenant::TenantQuery,
    user::UserQuery,
    role::RoleQuery,
    workspace::WorkspaceQuery,
    product::ProductQuery,
    node::NodeQuery,
    usage::UsageQuery,
    lifecycle::LifecycleQuery,
    admin::AdminQuery,
    audit::AuditQuery,
    platform_audit::PlatformAuditQuery,
    billing::BillingQuery,
    oauth_client::OAuthClientQuery,
    mfa::MfaQuery,
);

#[derive(MergedObject, Default)]
pub struct Mutation(
    signup::SignupMutation,
    auth::AuthMutation,
    tenant::TenantMutation,
    user::UserMutation,
    role::RoleMutation,
    workspace::WorkspaceMutation,
    product::ProductMutation,
    usage::UsageMutation,
    lifecycle::LifecycleMutation,
    admin::AdminMutation,
    billing::BillingMutation,
    oauth_client::OAuthClientMutation,
    mfa::MfaMutation,
    sso::SsoMutation,
    sso::IdentityProviderMutation,
);

pub type HubSchema = Schema<Query, Mutation, EmptySubscription>;

/// The schema without runtime data: enough for the SDL.
pub fn schema_builder() -> SchemaBuilder<Query, Mutation, EmptySubscription> {
    Schema::build(Query::default(), Mutation::default(), EmptySubscription)
        // GraphiQL's own introspection query is 13 levels deep.
        .limit_depth(15)
        .limit_complexity(2_000)
}

/// The served schema: the configured limits, introspection and field suggestions off unless
/// enabled, and a tracing span per resolver when debug logging is on. (Persisted queries are
/// resolved before execution, in the HTTP layer: `apq`, `registry`.)
pub fn build_schema(settings: &Settings, services: context::Services) -> HubSchema {
    let s = settings;
    let mut builder = Schema::build(Query::default(), Mutation::default(), EmptySubscription)
        .limit_depth(s.gql_max_depth)
        .limit_complexity(s.gql_max_complexity)
        .limit_directives(s.gql_max_directives);
    // Resolver spans only when debug logging is on at start: any extension is called for
    // every field of every response.
    if spans::enabled() {
        builder = builder.extension(spans::ResolverSpans);
    }
    if !s.introspection_enabled() {
        builder = builder.disable_introspection().disable_suggestions();
    }
    builder.data(services).finish()
}

/// The SDL as committed in `schema.graphql`.
pub fn sdl() -> String {
    schema_builder().finish().sdl()
}
