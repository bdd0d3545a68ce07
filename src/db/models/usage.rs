//! `usage_counters`, `alerts` and `webhook_deliveries`: what tenants used, and when they crossed
//! a limit.

use chrono::{DateTime, NaiveDate, Utc};
use diesel::{prelude::*, upsert::excluded};
use diesel_async::RunQueryDsl;
use uuid::Uuid;

use crate::{
    after_key,
    db::{
        InTenant, SystemTx, TenantTx,
        models::page::{Keyset, Listed, PageRequest},
        schema::{alerts, storage_reports, usage_counters, webhook_deliveries},
    },
    error::AppResult,
};

pub const API_CALLS: &str = "api_calls";
pub const STORAGE_BYTES: &str = "storage_bytes";

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = usage_counters, check_for_backend(diesel::pg::Pg))]
pub struct UsageCounterRow {
    pub tenant_id: Uuid,
    pub metric: String,
    pub day: NaiveDate,
    pub value: i64,
    pub updated_at: DateTime<Utc>,
}

/// System scope: adds a batch of API-call counts to their tenants' counters of `day`, in one
/// statement.
pub async fn add_api_calls(
    conn: &mut SystemTx,
    day: NaiveDate,
    counts: &[(Uuid, i64)],
) -> AppResult<()> {
    if counts.is_empty() {
        return Ok(());
    }
    let rows: Vec<_> = counts
        .iter()
        .map(|(tenant, n)| {
            (
                usage_counters::tenant_id.eq(*tenant),
                usage_counters::metric.eq(API_CALLS),
                usage_counters::day.eq(day),
                usage_counters::value.eq(*n),
            )
        })
        .collect();
    diesel::insert_into(usage_counters::table)
        .values(rows)
        .on_conflict((
            usage_counters::tenant_id,
            usage_counters::metric,
            usage_counters::day,
        ))
        .do_update()
        .set((
            usage_counters::value.eq(usage_counters::value + excluded(usage_counters::value)),
            usage_counters::updated_at.eq(diesel::dsl::now),
        ))
        .execute(conn)
        .await?;
    Ok(())
}

/// Records the storage one product reported for the tenant (its last report counts) and
/// returns the tenant's storage: the sum of its products' last reports, which is also written
/// as the day's `storage_bytes` (for the usage history).
pub async fn set_storage(
    conn: &mut TenantTx,
    tenant_id: Uuid,
    product_id: &str,
    day: NaiveDate,
    bytes: i64,
) -> AppResult<i64> {
    diesel::insert_into(storage_reports::table)
        .values((
            storage_reports::tenant_id.eq(tenant_id),
            storage_reports::product_id.eq(product_id),
            storage_reports::bytes.eq(bytes),
        ))
        .on_conflict((storage_reports::tenant_id, storage_reports::product_id))
        .do_update()
        .set((
            storage_reports::bytes.eq(bytes),
            storage_reports::reported_at.eq(diesel::dsl::now),
        ))
        .execute(conn)
        .await?;
    // One row per product at most: summed here (SUM(bigint) is numeric in PostgreSQL).
    let total: i64 = storage_reports::table
        .select(storage_reports::bytes)
        .load::<i64>(conn)
        .await?
        .into_iter()
        .sum();
    diesel::insert_into(usage_counters::table)
        .values((
            usage_counters::tenant_id.eq(tenant_id),
            usage_counters::metric.eq(STORAGE_BYTES),
            usage_counters::day.eq(day),
            usage_counters::value.eq(total),
        ))
        .on_conflict((
            usage_counters::tenant_id,
            usage_counters::metric,
            usage_counters::day,
        ))
        .do_update()
        .set((
            usage_counters::value.eq(total),
            usage_counters::updated_at.eq(diesel::dsl::now),
        ))
        .execute(conn)
        .await?;
    Ok(total)
}

/// The tenant's API calls since `from` (inclusive). Summed here: SUM(bigint) is numeric in
/// PostgreSQL, and a month has at most 31 rows.
pub async fn api_calls_since(conn: &mut TenantTx, from: NaiveDate) -> AppResult<i64> {
    let values: Vec<i64> = usage_counters::table
        .filter(usage_counters::metric.eq(API_CALLS))
        .filter(usage_counters::day.ge(from))
        .select(usage_counters::value)
        .load(conn)
        .await?;
    Ok(values.into_iter().sum())
}

/// The last storage report of the tenant, in bytes.
pub async fn latest_storage(conn: &mut TenantTx) -> AppResult<Option<i64>> {
    Ok(usage_counters::table
        .filter(usage_counters::metric.eq(STORAGE_BYTES))
        .order(usage_counters::day.desc())
        .select(usage_counters::value)
        .first(conn)
        .await
        .optional()?)
}

/// Daily values of one metric since `from`, oldest first.
pub async fn history(
    conn: &mut TenantTx,
    metric: &str,
    from: NaiveDate,
) -> AppResult<Vec<(NaiveDate, i64)>> {
    Ok(usage_counters::table
        .filter(usage_counters::metric.eq(metric))
        .filter(usage_counters::day.ge(from))
        .order(usage_counters::day)
        .select((usage_counters::day, usage_counters::value))
        .load(conn)
        .await?)
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = alerts, check_for_backend(diesel::pg::Pg))]
pub struct AlertRow {
    pub tenant_id: Uuid,
    pub id: Uuid,
    pub metric: String,
    pub threshold: i32,
    pub period_start: NaiveDate,
    pub used: f64,
    pub quota: f64,
    pub created_at: DateTime<Utc>,
    pub delivered_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = webhook_deliveries, check_for_backend(diesel::pg::Pg))]
pub struct WebhookDeliveryRow {
    pub tenant_id: Uuid,
    pub id: Uuid,
    pub alert_id: Uuid,
    pub attempt: i32,
    pub status_code: Option<i32>,
    pub error: Option<String>,
    pub at: DateTime<Utc>,
}

impl Keyset for AlertRow {
    fn keyset(&self) -> (DateTime<Utc>, Uuid) {
        (self.created_at, self.id)
    }
}

impl AlertRow {
    /// Inserts the alert unless one of the same metric, threshold and period exists; returns
    /// it when it is new.
    pub async fn insert_once(conn: &mut TenantTx, row: &AlertRow) -> AppResult<Option<AlertRow>> {
        Ok(diesel::insert_into(alerts::table)
            .values(row)
            .on_conflict((
                alerts::tenant_id,
                alerts::metric,
                alerts::threshold,
                alerts::period_start,
            ))
            .do_nothing()
            .returning(AlertRow::as_returning())
            .get_result(conn)
            .await
            .optional()?)
    }

    pub async fn page(conn: &mut impl InTenant, page: PageRequest) -> AppResult<Vec<AlertRow>> {
        let query = alerts::table.select(AlertRow::as_select()).into_boxed();
        let query = after_key!(query, alerts::created_at, alerts::id, page.after);
        Ok(query
            .order((alerts::created_at, alerts::id))
            .limit(page.fetch())
            .load(conn)
            .await?)
    }

    pub async fn count(conn: &mut impl InTenant) -> AppResult<i64> {
        Ok(alerts::table.count().get_result(conn).await?)
    }

    /// One page, counted when asked (pipelined with the page).
    pub async fn list(tx: &TenantTx, page: PageRequest) -> AppResult<Listed<AlertRow>> {
        let (mut rows, mut count) = (tx.read(), tx.read());
        Listed::read(page, Self::page(&mut rows, page), Self::count(&mut count)).await
    }

    pub async fn mark_delivered(conn: &mut TenantTx, id: Uuid) -> AppResult<()> {
        diesel::update(alerts::table.filter(alerts::id.eq(id)))
            .set(alerts::delivered_at.eq(diesel::dsl::now))
            .execute(conn)
            .await?;
        Ok(())
    }
}

impl WebhookDeliveryRow {
    pub async fn record(
        conn: &mut TenantTx,
        tenant_id: Uuid,
        alert_id: Uuid,
        attempt: i32,
        status_code: Option<i32>,
        error: Option<String>,
    ) -> AppResult<()> {
        diesel::insert_into(webhook_deliveries::table)
            .values((
                webhook_deliveries::tenant_id.eq(tenant_id),
                webhook_deliveries::id.eq(Uuid::now_v7()),
                webhook_deliveries::alert_id.eq(alert_id),
                webhook_deliveries::attempt.eq(attempt),
                webhook_deliveries::status_code.eq(status_code),
                webhook_deliveries::error.eq(error),
            ))
            .execute(conn)
            .await?;
        Ok(())
    }

    pub async fn of_alerts(
        conn: &mut TenantTx,
        alert_ids: &[Uuid],
    ) -> AppResult<Vec<WebhookDeliveryRow>> {
        Ok(webhook_deliveries::table
            .filter(webhook_deliveries::alert_id.eq_any(alert_ids))
            .order((webhook_deliveries::alert_id, webhook_deliveries::attempt))
            .select(WebhookDeliveryRow::as_select())
            .load(conn)
            .await?)
    }
}
