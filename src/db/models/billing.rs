//! `plans`, `subscriptions` and `billing_events` (the outbox for the external billing system).

use chrono::{DateTime, NaiveDate, Utc};
use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use uuid::Uuid;

use crate::{
    db::{
        Reader, SystemTx, TenantTx,
        schema::{billing_events, plans, subscriptions},
    },
    domain::{Features, Limits},
    error::{AppError, AppResult},
};

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = plans, check_for_backend(diesel::pg::Pg))]
pub struct PlanRow {
    pub id: String,
    pub name: String,
    pub features: serde_json::Value,
    pub limits: serde_json::Value,
    pub price_cents_per_seat: i32,
    pub created_at: DateTime<Utc>,
}

impl PlanRow {
    pub fn features(&self) -> Features {
        serde_json::from_value(self.features.clone()).unwrap_or_default()
    }

    pub fn limits(&self) -> Limits {
        serde_json::from_value(self.limits.clone()).unwrap_or_default()
    }

    pub async fn all(conn: &mut impl Reader) -> AppResult<Vec<PlanRow>> {
        Ok(plans::table
            .order(plans::price_cents_per_seat)
            .select(PlanRow::as_select())
            .load(conn)
            .await?)
    }

    /// The plan called `id`, or BAD_USER_INPUT naming `field`.
    pub async fn get(conn: &mut impl Reader, id: &str, field: &str) -> AppResult<PlanRow> {
        plans::table
            .find(id)
            .select(PlanRow::as_select())
            .first(conn)
            .await
            .optional()?
            .ok_or_else(|| AppError::bad_input(field, format!("unknown plan {id:?}")))
    }
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = subscriptions, check_for_backend(diesel::pg::Pg))]
pub struct SubscriptionRow {
    pub tenant_id: Uuid,
    pub plan_id: String,
    pub status: String,
    pub seats: i32,
    pub current_period_start: NaiveDate,
    pub current_period_end: NaiveDate,
    pub updated_at: DateTime<Utc>,
}

impl SubscriptionRow {
    pub async fn insert(conn: &mut TenantTx, row: &SubscriptionRow) -> AppResult<()> {
        diesel::insert_into(subscriptions::table)
            .values(row)
            .execute(conn)
            .await?;
        Ok(())
    }

    pub async fn current(conn: &mut TenantTx) -> AppResult<SubscriptionRow> {
        subscriptions::table
            .select(SubscriptionRow::as_select())
            .first(conn)
            .await
            .optional()?
            .ok_or_else(|| AppError::not_found("subscription"))
    }

    pub async fn set_plan(
        conn: &mut TenantTx,
        plan: &str,
        seats: i32,
    ) -> AppResult<SubscriptionRow> {
        Ok(diesel::update(subscriptions::table)
            .set((
                subscriptions::plan_id.eq(plan),
                subscriptions::seats.eq(seats),
                subscriptions::updated_at.eq(diesel::dsl::now),
            ))
            .returning(SubscriptionRow::as_returning())
            .get_result(conn)
            .await?)
    }

    pub async fn advance_period(
        conn: &mut TenantTx,
        start: NaiveDate,
        end: NaiveDate,
        seats: i32,
    ) -> AppResult<()> {
        diesel::update(subscriptions::table)
            .set((
                subscriptions::current_period_start.eq(start),
                subscriptions::current_period_end.eq(end),
                subscriptions::seats.eq(seats),
                subscriptions::updated_at.eq(diesel::dsl::now),
            ))
            .execute(conn)
            .await?;
        Ok(())
    }

    /// System scope: tenants whose period ended on or before `today`.
    pub async fn ended(conn: &mut SystemTx, today: NaiveDate) -> AppResult<Vec<Uuid>> {
        Ok(subscriptions::table
            .filter(subscriptions::current_period_end.le(today))
            .select(subscriptions::tenant_id)
            .load(conn)
            .await?)
    }
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = billing_events, check_for_backend(diesel::pg::Pg))]
pub struct BillingEventRow {
    pub tenant_id: Uuid,
    pub id: Uuid,
    pub kind: String,
    pub payload: serde_json::Value,
    pub created_at: DateTime<Utc>,
    pub delivered_at: Option<DateTime<Utc>>,
    pub attempts: i32,
    pub last_error: Option<String>,
}

impl BillingEventRow {
    pub async fn enqueue(
        conn: &mut TenantTx,
        tenant_id: Uuid,
        kind: &str,
        payload: serde_json::Value,
    ) -> AppResult<()> {
        let row = BillingEventRow {
            tenant_id,
            id: Uuid::now_v7(),
            kind: kind.to_owned(),
            payload,
            created_at: Utc::now(),
            delivered_at: None,
            attempts: 0,
            last_error: None,
        };
        diesel::insert_into(billing_events::table)
            .values(&row)
            .execute(conn)
            .await?;
        Ok(())
    }

    /// System scope: claims up to `limit` undelivered events that are due, oldest first, for
    /// `lease` (their next_attempt_at moves past it, so no other replica sends them meanwhile).
    /// Run in its own short transaction; the sends happen after it committed.
    pub async fn claim_due(
        conn: &mut SystemTx,
        max_attempts: i32,
        limit: i64,
        lease: std::time::Duration,
    ) -> AppResult<Vec<BillingEventRow>> {
        let events: Vec<BillingEventRow> = billing_events::table
            .filter(billing_events::delivered_at.is_null())
            .filter(billing_events::attempts.lt(max_attempts))
            .filter(billing_events::next_attempt_at.le(diesel::dsl::now))
            .order(billing_events::created_at)
            .limit(limit)
            .select(BillingEventRow::as_select())
            .for_update()
            .skip_locked()
            .load(conn)
            .await?;
        let ids: Vec<Uuid> = events.iter().map(|e| e.id).collect();
        let until = Utc::now() + lease;
        diesel::update(billing_events::table.filter(billing_events::id.eq_any(&ids)))
            .set(billing_events::next_attempt_at.eq(until))
            .execute(conn)
            .await?;
        Ok(events)
    }

    /// Records one attempt: delivered, or failed with its error and the time of the next try
    /// (`retry_in`).
    pub async fn record_attempt(
        conn: &mut SystemTx,
        tenant_id: Uuid,
        id: Uuid,
        outcome: Result<(), (String, std::time::Duration)>,
    ) -> AppResult<()> {
        let target = billing_events::table
            .filter(billing_events::tenant_id.eq(tenant_id))
            .filter(billing_events::id.eq(id));
        match outcome {
            Ok(()) => {
                diesel::update(target)
                    .set((
                        billing_events::attempts.eq(billing_events::attempts + 1),
                        billing_events::delivered_at.eq(diesel::dsl::now),
                        billing_events::last_error.eq(None::<String>),
                    ))
                    .execute(conn)
                    .await?
            }
            Err((error, retry_in)) => {
                diesel::update(target)
                    .set((
                        billing_events::attempts.eq(billing_events::attempts + 1),
                        billing_events::last_error.eq(error),
                        billing_events::next_attempt_at.eq(Utc::now() + retry_in),
                    ))
                    .execute(conn)
                    .await?
            }
        };
        Ok(())
    }
}
