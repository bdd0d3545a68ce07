//! A tracing span per resolver at debug level (`RUST_LOG=tenant_hub=debug`). async-graphql's
//! own `Tracing` extension opens its spans at info level, which would cost every request a span
//! per field in production; this extension is only installed when debug is on at start.

use std::sync::Arc;

use async_graphql::{
    ServerResult, Value,
    extensions::{Extension, ExtensionContext, ExtensionFactory, NextResolve, ResolveInfo},
};
use tracing::Instrument;

pub struct ResolverSpans;

/// Whether resolver spans would be recorded (checked once, when the schema is built).
pub fn enabled() -> bool {
    tracing::enabled!(target: "tenant_hub::resolver", tracing::Level::DEBUG)
}

impl ExtensionFactory for ResolverSpans {
    fn create(&self) -> Arc<dyn Extension> {
        Arc::new(ResolverSpansExtension)
    }
}

struct ResolverSpansExtension;

#[async_trait::async_trait]
impl Extension for ResolverSpansExtension {
    async fn resolve(
        &self,
        ctx: &ExtensionContext<'_>,
        info: ResolveInfo<'_>,
        next: NextResolve<'_>,
    ) -> ServerResult<Option<Value>> {
        if info.is_for_introspection
            || !tracing::enabled!(target: "tenant_hub::resolver", tracing::Level::DEBUG)
        {
            return next.run(ctx, info).await;
        }
        let span = tracing::debug_span!(
            target: "tenant_hub::resolver",
            "resolve",
            path = %info.path_node,
            parent_type = info.parent_type,
            return_type = info.return_type,
        );
        next.run(ctx, info).instrument(span).await
    }
}
