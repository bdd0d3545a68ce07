//! What a mutation request does besides its resolvers: it is marked as one as soon as its
//! document is parsed (its permission checks then read fresh rows, see `context::access`), and
//! once it has run, this replica's cached TenantContexts it may have made stale are dropped at
//! once — its own client reads its writes. The other replicas hear of the change from the
//! database triggers (`invalidation`).

use std::sync::Arc;

use async_graphql::{
    Response, ServerResult, Variables,
    extensions::{Extension, ExtensionContext, ExtensionFactory, NextExecute, NextParseQuery},
    parser::types::{ExecutableDocument, OperationType},
};

use crate::{app::AppState, auth::Principal, graphql::context::RequestCtx};

pub struct MutationEffects;

impl ExtensionFactory for MutationEffects {
    fn create(&self) -> Arc<dyn Extension> {
        Arc::new(MutationEffectsExtension)
    }
}

struct MutationEffectsExtension;

#[async_trait::async_trait]
impl Extension for MutationEffectsExtension {
    async fn parse_query(
        &self,
        ctx: &ExtensionContext<'_>,
        query: &str,
        variables: &Variables,
        next: NextParseQuery<'_>,
    ) -> ServerResult<ExecutableDocument> {
        let document = next.run(ctx, query, variables).await?;
        // Any mutation in the document counts, whichever operation is selected: erring on the
        // side of fresh reads.
        if document
            .operations
            .iter()
            .any(|(_, op)| op.node.ty == OperationType::Mutation)
            && let Some(req) = ctx.data_opt::<RequestCtx>()
        {
            req.mark_mutation();
        }
        Ok(document)
    }

    async fn execute(
        &self,
        ctx: &ExtensionContext<'_>,
        operation_name: Option<&str>,
        next: NextExecute<'_>,
    ) -> Response {
        let response = next.run(ctx, operation_name).await;
        if let (Some(req), Some(state)) = (
            ctx.data_opt::<RequestCtx>(),
            ctx.data_opt::<Arc<AppState>>(),
        ) && req.is_mutation()
        {
            match &req.principal {
                Principal::Member(m) => state.contexts.invalidate_tenant(m.tenant_id),
                Principal::ApiKey(k) => state.contexts.invalidate_tenant(k.tenant_id),
                // A platform admin may have changed any tenant.
                Principal::PlatformAdmin { .. } => state.contexts.clear(),
                // Signup, invitations, password resets: nothing of theirs is cached yet.
                Principal::Anonymous => {}
            }
        }
        response
    }
}
