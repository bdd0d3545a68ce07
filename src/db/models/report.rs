//! The platform report's figures across tenants: a few aggregate statements, never a loop
//! over tenants (system scope).

use chrono::NaiveDate;
use diesel::{
    QueryableByName,
    sql_types::{BigInt, Date, Text},
};
use diesel_async::RunQueryDsl;
use uuid::Uuid;

use crate::{db::SystemTx, error::AppResult};

/// Tenants by status and plan, active users, API calls in a range of days and the ten tenants
/// with the most calls.
pub struct PlatformTotals {
    pub tenants_by_status: Vec<(String, i64)>,
    pub tenants_by_plan: Vec<(String, i64)>,
    pub users: i64,
    pub api_calls: i64,
    /// (tenant id, name, API calls), most calls first.
    pub top_tenants: Vec<(Uuid, String, i64)>,
}

#[derive(QueryableByName)]
struct KeyCount {
    #[diesel(sql_type = Text)]
    key: String,
    #[diesel(sql_type = BigInt)]
    count: i64,
}

#[derive(QueryableByName)]
struct Top {
    #[diesel(sql_type = diesel::sql_types::Uuid)]
    tenant_id: Uuid,
    #[diesel(sql_type = Text)]
    name: String,
    #[diesel(sql_type = BigInt)]
    calls: i64,
}

#[derive(QueryableByName)]
struct Total {
    #[diesel(sql_type = BigInt)]
    n: i64,
}

impl PlatformTotals {
    /// The figures, API calls counted for the whole days `from_day..=to_day`.
    pub async fn read(
        conn: &mut SystemTx,
        from_day: NaiveDate,
        to_day: NaiveDate,
    ) -> AppResult<PlatformTotals> {
        let pairs = |rows: Vec<KeyCount>| rows.into_iter().map(|r| (r.key, r.count)).collect();
        let by_status: Vec<KeyCount> = diesel::sql_query(
            "SELECT status AS key, count(*) AS count FROM tenants GROUP BY status ORDER BY status",
        )
        .load(conn)
        .await?;
        let by_plan: Vec<KeyCount> = diesel::sql_query(
            "SELECT plan AS key, count(*) AS count FROM tenants WHERE status <> 'purged' GROUP BY plan ORDER BY plan",
        )
        .load(conn)
        .await?;
        let users: Total =
            diesel::sql_query("SELECT count(*) AS n FROM users WHERE status <> 'deactivated'")
                .get_result(conn)
                .await?;
        let top: Vec<Top> = diesel::sql_query(
            "WITH calls AS (SELECT tenant_id, sum(value)::bigint AS calls FROM usage_counters
                            WHERE metric = 'api_calls' AND day >= $1 AND day <= $2 GROUP BY tenant_id)
             SELECT c.tenant_id, t.name, c.calls FROM calls c JOIN tenants t ON t.id = c.tenant_id
             ORDER BY c.calls DESC, t.id LIMIT 10",
        )
        .bind::<Date, _>(from_day)
        .bind::<Date, _>(to_day)
        .load(conn)
        .await?;
        let calls: Total = diesel::sql_query(
            "SELECT coalesce(sum(value), 0)::bigint AS n FROM usage_counters
             WHERE metric = 'api_calls' AND day >= $1 AND day <= $2",
        )
        .bind::<Date, _>(from_day)
        .bind::<Date, _>(to_day)
        .get_result(conn)
        .await?;
        Ok(PlatformTotals {
            tenants_by_status: pairs(by_status),
            tenants_by_plan: pairs(by_plan),
            users: users.n,
            api_calls: calls.n,
            top_tenants: top
                .into_iter()
                .map(|t| (t.tenant_id, t.name, t.calls))
                .collect(),
        })
    }
}
