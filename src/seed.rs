//! `tenant-hub dev seed`: fills a database with tenants, users and workspaces for benchmarks and
//! local development, in set-based SQL (seconds for a million rows). Every seeded user has the
//! password [`SEED_PASSWORD`]; tenant `i` has the domain `seed-<i>.example.com`, its users
//! `user<j>@seed-<i>.example.com`, the first of them the owner. It runs beside other tenants
//! and can be run again (see [`run`]).

use std::time::Instant;

use anyhow::Context;
use diesel::QueryableByName;
use diesel_async::{RunQueryDsl, SimpleAsyncConnection};

use crate::{
    auth::password,
    config::DatabaseSettings,
    db::bootstrap,
    domain::{NewPassword, SystemRole},
};

pub const SEED_PASSWORD: &str = "seed-password-1234";

pub struct SeedPlan {
    pub tenants: u32,
    pub users_per_tenant: u32,
    pub workspaces_per_tenant: u32,
}

/// What a seed run did.
#[derive(Debug, Clone, Copy)]
pub struct SeedSummary {
    /// Tenants made by this run.
    pub created: u64,
    /// Tenants of the plan whose domain was already there (an earlier run): left as they were.
    pub existing: u64,
    pub secs: f64,
}

/// Seeds in batches of 100 tenants, printing progress. Tenants `1..=plan.tenants` that an
/// earlier run made are kept, so running it again is harmless and a larger `--tenants` adds
/// the missing ones; other tenants in the database are never read or changed.
pub async fn run(db: &DatabaseSettings, plan: &SeedPlan) -> anyhow::Result<SeedSummary> {
    let started = Instant::now();
    bootstrap::prepare(db).await?;
    let hash = password::hash(&NewPassword::parse("password", SEED_PASSWORD, None)?)
        .await
        .map_err(crate::error::AppError::into_anyhow)?;
    let mut conn = bootstrap::connect(&db.database_url).await?;
    let (users, workspaces) = (
        plan.users_per_tenant.max(1),
        plan.workspaces_per_tenant.max(1),
    );
    // The system roles, from the one catalog in the code.
    let roles = SystemRole::ALL
        .iter()
        .map(|r| {
            let perms: Vec<String> = r
                .permissions()
                .iter()
                .map(|p| format!("'{}'", p.as_str()))
                .collect();
            format!("('{}', ARRAY[{}]::text[])", r.name(), perms.join(","))
        })
        .collect::<Vec<_>>()
        .join(", ");
    let (mut done, mut created) = (0, 0u64);
    while done < plan.tenants {
        let batch = (plan.tenants - done).min(100);
        let (from, to) = (done + 1, done + batch);
        // Seeded rows are numbered in temporary tables (tenant n, user u, workspace w) rather
        // than by parsing emails or slugs back: the database may hold other tenants, whose
        // emails and slugs follow no pattern. A tenant whose domain is already there (an
        // earlier run) is left alone, so the seed can be run again to add tenants; a slug taken
        // by some other tenant gets a random suffix.
        let sql = format!(
            "BEGIN;
             CREATE TEMP TABLE seed_t ON COMMIT DROP AS
               SELECT gen_random_uuid() AS id, g AS n FROM generate_series({from}, {to}) g
               WHERE NOT EXISTS (SELECT 1 FROM tenants WHERE domain = 'seed-' || g || '.example.com');
             INSERT INTO tenants (id, name, slug, domain, plan, features, limits)
               SELECT t.id, 'Seed ' || t.n,
                      CASE WHEN EXISTS (SELECT 1 FROM tenants x WHERE x.slug = 'seed-' || t.n)
                           THEN 'seed-' || t.n || '-' || substr(md5(t.id::text), 1, 8)
                           ELSE 'seed-' || t.n END,
                      'seed-' || t.n || '.example.com', 'enterprise', p.features,
                      jsonb_set(p.limits, '{{api_calls_per_minute}}', '10000000')
               FROM seed_t t, plans p WHERE p.id = 'enterprise';
             INSERT INTO subscriptions (tenant_id, plan_id, current_period_start, current_period_end)
               SELECT id, 'enterprise', date_trunc('month', now())::date, (date_trunc('month', now()) + interval '1 month')::date FROM seed_t;
             INSERT INTO roles (tenant_id, name, permissions, is_system)
               SELECT t.id, r.name, r.perms, true FROM seed_t t, (VALUES {roles}) AS r(name, perms);
             CREATE TEMP TABLE seed_u ON COMMIT DROP AS
               SELECT t.id AS tenant_id, t.n, gen_random_uuid() AS id, u FROM seed_t t, generate_series(1, {users}) u;
             INSERT INTO users (tenant_id, id, email, password_hash, created_at)
               SELECT tenant_id, id, 'user' || u || '@seed-' || n || '.example.com', '{hash}', now() + u * interval '1 ms'
               FROM seed_u;
             INSERT INTO user_roles (tenant_id, user_id, role_id)
               SELECT s.tenant_id, s.id, r.id FROM seed_u s
               JOIN roles r ON r.tenant_id = s.tenant_id AND r.name = CASE WHEN s.u = 1 THEN 'owner' ELSE 'member' END;
             CREATE TEMP TABLE seed_w ON COMMIT DROP AS
               SELECT t.id AS tenant_id, gen_random_uuid() AS id, w FROM seed_t t, generate_series(1, {workspaces}) w;
             INSERT INTO workspaces (tenant_id, id, name, slug, is_default)
               SELECT tenant_id, id, 'Workspace ' || w, 'workspace-' || w, w = 1 FROM seed_w;
             INSERT INTO workspace_members (tenant_id, workspace_id, user_id, role_id)
               SELECT w.tenant_id, w.id, s.id, r.id
               FROM seed_w w JOIN seed_u s ON s.tenant_id = w.tenant_id AND s.u % {workspaces} = w.w % {workspaces}
               JOIN roles r ON r.tenant_id = w.tenant_id AND r.name = 'member';
             INSERT INTO tenant_products (tenant_id, product_id, access)
               SELECT t.id, p.id, 'full' FROM seed_t t, products p;"
        );
        conn.batch_execute(&sql)
            .await
            .with_context(|| format!("seeding tenants {from}..{to}"))?;
        // How many the batch made, read before COMMIT drops the temporary table.
        let new: Count = diesel::sql_query("SELECT count(*) AS n FROM seed_t")
            .get_result(&mut conn)
            .await
            .context("counting the seeded tenants")?;
        conn.batch_execute("COMMIT").await?;
        let new = new.n as u64;
        created += new;
        done += batch;
        println!("  seeded {done}/{} tenants ({new} new)", plan.tenants);
    }
    // VACUUM as well as ANALYZE: the database as autovacuum leaves it in steady state, with
    // the visibility map set, so index-only scans (a list's count) read no heap pages.
    conn.batch_execute("VACUUM (ANALYZE)").await?;
    Ok(SeedSummary {
        created,
        existing: u64::from(plan.tenants) - created,
        secs: started.elapsed().as_secs_f64(),
    })
}

#[derive(QueryableByName)]
struct Count {
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    n: i64,
}
