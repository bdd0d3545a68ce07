//! `tenant-hub dev seed`: fills a database with tenants, users and workspaces for benchmarks and
//! local development, in set-based SQL (seconds for a million rows). Every seeded user has the
//! password [`SEED_PASSWORD`]; tenant `i` has the domain `seed-<i>.example.com`, its users
//! `user<j>@seed-<i>.example.com`, the first of them the owner.

use std::time::Instant;

use anyhow::Context;
use diesel_async::SimpleAsyncConnection;

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

/// Seeds in batches of 100 tenants, printing progress; returns the seconds it took.
pub async fn run(db: &DatabaseSettings, plan: &SeedPlan) -> anyhow::Result<f64> {
    let started = Instant::now();
    bootstrap::prepare(db).await?;
    let hash = password::hash(
        &NewPassword::parse("password", SEED_PASSWORD, None)
            .map_err(|e| anyhow::anyhow!(e.message))?,
    )
    .await
    .map_err(|e| anyhow::anyhow!(e.message))?;
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
    let mut done = 0;
    while done < plan.tenants {
        let batch = (plan.tenants - done).min(100);
        let (from, to) = (done + 1, done + batch);
        let sql = format!(
            "BEGIN;
             CREATE TEMP TABLE seed_t ON COMMIT DROP AS
               SELECT gen_random_uuid() AS id, g AS n FROM generate_series({from}, {to}) g
               WHERE NOT EXISTS (SELECT 1 FROM tenants WHERE domain = 'seed-' || g || '.example.com');
             INSERT INTO tenants (id, name, slug, domain, plan, features, limits)
               SELECT t.id, 'Seed ' || t.n, 'seed-' || t.n, 'seed-' || t.n || '.example.com', 'enterprise', p.features,
                      jsonb_set(p.limits, '{{api_calls_per_minute}}', '10000000')
               FROM seed_t t, plans p WHERE p.id = 'enterprise';
             INSERT INTO subscriptions (tenant_id, plan_id, current_period_start, current_period_end)
               SELECT id, 'enterprise', date_trunc('month', now())::date, (date_trunc('month', now()) + interval '1 month')::date FROM seed_t;
             INSERT INTO roles (tenant_id, name, permissions, is_system)
               SELECT t.id, r.name, r.perms, true FROM seed_t t, (VALUES {roles}) AS r(name, perms);
             INSERT INTO users (tenant_id, email, password_hash, created_at)
               SELECT t.id, 'user' || u || '@seed-' || t.n || '.example.com', '{hash}', now() + u * interval '1 ms'
               FROM seed_t t, generate_series(1, {users}) u;
             INSERT INTO user_roles (tenant_id, user_id, role_id)
               SELECT u.tenant_id, u.id, r.id FROM users u JOIN seed_t t ON t.id = u.tenant_id
               JOIN roles r ON r.tenant_id = u.tenant_id
               AND r.name = CASE WHEN u.email LIKE 'user1@%' THEN 'owner' ELSE 'member' END;
             INSERT INTO workspaces (tenant_id, name, slug, is_default)
               SELECT t.id, 'Workspace ' || w, 'workspace-' || w, w = 1 FROM seed_t t, generate_series(1, {workspaces}) w;
             INSERT INTO workspace_members (tenant_id, workspace_id, user_id, role_id)
               SELECT w.tenant_id, w.id, u.id, (SELECT id FROM roles r WHERE r.tenant_id = w.tenant_id AND r.name = 'member')
               FROM workspaces w JOIN seed_t t ON t.id = w.tenant_id
               JOIN users u ON u.tenant_id = w.tenant_id
               WHERE split_part(split_part(u.email, '@', 1), 'user', 2)::int % {workspaces} = split_part(w.slug, '-', 2)::int % {workspaces};
             INSERT INTO tenant_products (tenant_id, product_id, access)
               SELECT t.id, p.id, 'full' FROM seed_t t, products p;
             COMMIT;"
        );
        conn.batch_execute(&sql)
            .await
            .with_context(|| format!("seeding tenants {from}..{to}"))?;
        done += batch;
        println!("  seeded {done}/{} tenants", plan.tenants);
    }
    conn.batch_execute("ANALYZE").await?;
    Ok(started.elapsed().as_secs_f64())
}
