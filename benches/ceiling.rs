//! The stack ceiling: a bare async-graphql + actix-web server answering `{ __typename }`, with
//! the hub's crate versions (one Cargo.lock), its allocator (mimalloc), its runtime (a tokio
//! multi-threaded main with actix-web's default worker count, one per core, or `HUB_WORKERS`)
//! and nothing else: no authentication, limits, usage, metrics or logging. The load bench
//! (`benches/load.rs`) starts it next to the hub and reports the hub's figures as ratios to it.
//!
//! Standalone (to profile it): `cargo bench --bench ceiling` serves on `CEILING_BIND`
//! (default 127.0.0.1:8099) until killed.

use actix_web::{App, HttpServer, web};
use async_graphql::{EmptyMutation, EmptySubscription, Object, Schema};
use async_graphql_actix_web::{GraphQLRequest, GraphQLResponse};

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// The query root: one field, so the schema is valid; `{ __typename }` resolves no field.
pub struct Query;

#[Object]
impl Query {
    async fn ping(&self) -> bool {
        true
    }
}

pub type CeilingSchema = Schema<Query, EmptyMutation, EmptySubscription>;

async fn graphql(schema: web::Data<CeilingSchema>, req: GraphQLRequest) -> GraphQLResponse {
    schema.execute(req.into_inner()).await.into()
}

/// Serves `POST /graphql` on `bind` until the process ends; `workers` 0 is actix-web's default.
pub async fn serve(bind: &str, workers: usize) -> std::io::Result<()> {
    let schema = web::Data::new(Schema::new(Query, EmptyMutation, EmptySubscription));
    let mut server = HttpServer::new(move || {
        App::new()
            .app_data(schema.clone())
            .service(web::resource("/graphql").route(web::post().to(graphql)))
    })
    .bind(bind)?;
    if workers > 0 {
        server = server.workers(workers);
    }
    server.run().await
}

/// The hub's worker setting (`HUB_WORKERS`, 0 or unset: one per core).
pub fn workers_from_env() -> usize {
    std::env::var("HUB_WORKERS")
        .ok()
        .and_then(|w| w.parse().ok())
        .unwrap_or(0)
}

#[tokio::main]
pub async fn main() -> std::io::Result<()> {
    let bind = std::env::var("CEILING_BIND").unwrap_or_else(|_| "127.0.0.1:8099".into());
    eprintln!("ceiling server on {bind}");
    serve(&bind, workers_from_env()).await
}
