//! The platform report and `adminTenants` at 10,000 tenants and 1,000,000 users, executed
//! through the hub's GraphQL schema against PostgreSQL as the application role (no HTTP).
//! `cargo bench --bench platform` (needs PostgreSQL on 127.0.0.1:5432, or HUB_BENCH_PG) prints
//! a Markdown table, recorded in BENCHMARKS.md. Seeding takes a minute the first time; the
//! seeded database `tenant_hub_bench_platform` is kept for later runs.

use std::{sync::Arc, time::Instant};

use clap::Parser;
use tenant_hub::{
    app::AppState,
    auth::Principal,
    db::bootstrap,
    graphql::{build_schema, context::RequestCtx},
    request::RequestMeta,
};

#[derive(Parser)]
struct Wrapper {
    #[command(flatten)]
    settings: tenant_hub::Settings,
}

const TENANTS: i64 = 10_000;
const USERS_PER_TENANT: i64 = 100;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let base = std::env::var("HUB_BENCH_PG")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432".into());
    let url = format!("{base}/tenant_hub_bench_platform");
    let mut settings = Wrapper::parse_from(["bench"]).settings;
    settings.db.database_url = url.clone();
    settings.tokens.keys_dir = std::env::temp_dir().join("tenant-hub-bench-keys");
    bootstrap::prepare(&settings.db).await?;

    let (client, conn) = tokio_postgres::connect(&url, tokio_postgres::NoTls).await?;
    tokio::spawn(conn);
    let have: i64 = client
        .query_one("SELECT count(*) FROM tenants", &[])
        .await?
        .get(0);
    if have < TENANTS {
        eprintln!(
            "seeding {TENANTS} tenants and {} users …",
            TENANTS * USERS_PER_TENANT
        );
        let started = Instant::now();
        client
            .batch_execute(&format!(
                "INSERT INTO tenants (id, name, slug, domain, status, plan, limits)
                 SELECT gen_random_uuid(), 'Tenant ' || g, 'tenant-' || g, 'tenant-' || g || '.example.com',
                        (ARRAY['active','active','active','suspended','deactivated'])[1 + g % 5],
                        (ARRAY['free','pro','enterprise'])[1 + g % 3], '{{\"users\": 1000}}'
                 FROM generate_series(1, {TENANTS}) g;
                 INSERT INTO users (tenant_id, email)
                 SELECT t.id, 'user' || u || '@' || t.domain FROM tenants t, generate_series(1, {USERS_PER_TENANT}) u;
                 INSERT INTO usage_counters (tenant_id, metric, day, value)
                 SELECT t.id, 'api_calls', current_date - d, (random() * 10000)::bigint
                 FROM tenants t, generate_series(0, 29) d;
                 ANALYZE;"
            ))
            .await?;
        eprintln!("seeded in {:.1} s", started.elapsed().as_secs_f64());
    }
    let admin: uuid::Uuid = client
        .query_one(
            "INSERT INTO platform_admins (email, password_hash) VALUES ('bench@hub.example.com', 'x')
             ON CONFLICT (lower(email)) DO UPDATE SET email = excluded.email RETURNING id",
            &[],
        )
        .await?
        .get(0);

    let state = Arc::new(AppState::new(settings)?);
    let schema = build_schema(&state.settings, state.graphql_services());
    let run = |query: &'static str| {
        let schema = schema.clone();
        async move {
            let meta = RequestMeta {
                ip: "127.0.0.1".into(),
                request_id: "bench".into(),
                user_agent: None,
            };
            let request = async_graphql::Request::new(query).data(RequestCtx::new(
                // Built directly, past authenticate(): no admin session to check.
                Principal::PlatformAdmin {
                    admin_id: admin,
                    session_id: Default::default(),
                },
                meta,
            ));
            let started = Instant::now();
            let response = schema.execute(request).await;
            assert!(response.errors.is_empty(), "{:?}", response.errors);
            started.elapsed().as_secs_f64() * 1000.0
        }
    };
    println!(
        "| operation ({TENANTS} tenants, {} users) | mean | p50 | p99 |",
        TENANTS * USERS_PER_TENANT
    );
    println!("|---|---|---|---|");
    for (name, query) in [
        (
            "platformReport (current month)",
            "{ platformReport { tenantsByStatus { key count } tenantsByPlan { key count } users apiCalls topTenants { name apiCalls } } }",
        ),
        (
            "adminTenants(first: 50)",
            "{ adminTenants(first: 50) { totalCount edges { node { id name domain status } } } }",
        ),
        (
            "adminTenants(status: SUSPENDED, first: 50)",
            "{ adminTenants(first: 50, status: SUSPENDED) { totalCount edges { node { id name } } } }",
        ),
        (
            "adminTenants(search: \"tenant-99\", first: 50)",
            "{ adminTenants(first: 50, search: \"tenant-99\") { totalCount edges { node { id name } } } }",
        ),
    ] {
        run(query).await;
        let mut times: Vec<f64> = Vec::new();
        for _ in 0..30 {
            times.push(run(query).await);
        }
        times.sort_by(|a, b| a.total_cmp(b));
        let mean = times.iter().sum::<f64>() / times.len() as f64;
        println!(
            "| {name} | {mean:.1} ms | {:.1} ms | {:.1} ms |",
            times[times.len() / 2],
            times[times.len() * 99 / 100]
        );
    }
    Ok(())
}
