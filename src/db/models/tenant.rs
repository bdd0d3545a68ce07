//! `tenants`: one row per customer organisation.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use uuid::Uuid;

use crate::{
    db::{
        AnyTx, InTenant, SystemTx, TenantTx,
        models::page::{Keyset, Listed, PageRequest},
        schema::tenants,
    },
    domain::{Branding, Features, Limits, PlanOverrides, StatusChanger, TenantStatus},
    error::{AppError, AppResult},
};

#[derive(Debug, Clone, Queryable, Selectable, Identifiable)]
#[diesel(table_name = tenants, check_for_backend(diesel::pg::Pg))]
pub struct TenantRow {
    pub id: Uuid,
    pub name: String,
    pub slug: String,
    pub domain: Option<String>,
    pub status: String,
    pub plan: String,
    pub branding: serde_json::Value,
    pub features: serde_json::Value,
    pub limits: serde_json::Value,
    pub deactivated_at: Option<DateTime<Utc>>,
    pub purge_after: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub retention_days: Option<i32>,
    pub deactivation_reason: Option<String>,
    pub status_changed_by: Option<String>,
    pub plan_overrides: serde_json::Value,
    /// Sign-in needs a verified email (`users.email_verified_at`).
    pub require_verified_email: bool,
}

/// Which tenants a platform admin lists: by status, plan, and a text found in the name, slug or
/// domain.
#[derive(Debug, Clone, Default)]
pub struct TenantFilter {
    pub status: Option<&'static str>,
    pub plan: Option<String>,
    pub search: Option<String>,
}

/// A new status for a tenant, with who set it.
pub struct StatusChange<'a> {
    pub status: TenantStatus,
    pub by: StatusChanger,
    pub deactivated_at: Option<DateTime<Utc>>,
    pub purge_after: Option<DateTime<Utc>>,
    pub reason: Option<&'a str>,
}

#[derive(Debug, Insertable)]
#[diesel(table_name = tenants)]
pub struct NewTenant<'a> {
    pub id: Uuid,
    pub name: &'a str,
    pub slug: &'a str,
    pub domain: &'a str,
    pub plan: &'a str,
    pub features: serde_json::Value,
    pub limits: serde_json::Value,
}

impl Keyset for TenantRow {
    fn keyset(&self) -> (DateTime<Utc>, Uuid) {
        (self.created_at, self.id)
    }
}

impl TenantRow {
    pub fn branding(&self) -> Branding {
        serde_json::from_value(self.branding.clone()).unwrap_or_default()
    }

    pub fn features(&self) -> Features {
        serde_json::from_value(self.features.clone()).unwrap_or_default()
    }

    pub fn limits(&self) -> Limits {
        serde_json::from_value(self.limits.clone()).unwrap_or_default()
    }

    pub fn is_active(&self) -> bool {
        self.status == "active"
    }

    /// The tenant in scope (RLS shows only that one).
    pub async fn current(conn: &mut impl InTenant, id: Uuid) -> AppResult<TenantRow> {
        tenants::table
            .find(id)
            .select(TenantRow::as_select())
            .first(conn)
            .await
            .optional()?
            .ok_or_else(|| AppError::not_found("tenant"))
    }

    /// System scope: the tenant a login names, by id, domain or slug. A key may match up to
    /// three tenants (one by each); the best-ranked one wins (id, then domain, then slug), so
    /// a slug or domain can never divert a login that names another tenant's id.
    pub async fn find_by_key(
        conn: &mut SystemTx,
        key: &crate::domain::TenantKey,
    ) -> AppResult<Option<TenantRow>> {
        let mut query = tenants::table
            .select(TenantRow::as_select())
            .filter(
                tenants::domain
                    .eq(&key.name)
                    .or(tenants::slug.eq(&key.name)),
            )
            .into_boxed();
        if let Some(id) = key.id {
            query = query.or_filter(tenants::id.eq(id));
        }
        let rows: Vec<TenantRow> = query
            .filter(tenants::status.ne("purged"))
            .load(conn)
            .await?;
        Ok(rows
            .into_iter()
            .filter_map(|t| Some((key.rank(t.id, t.domain.as_deref(), &t.slug)?, t)))
            .min_by_key(|(rank, _)| *rank)
            .map(|(_, t)| t))
    }

    /// Inserts the tenant of this transaction (sign-up runs in the new tenant's own scope).
    /// A domain or slug taken by another tenant, invisible here, is a CONFLICT on that field:
    /// the unique indexes see every row, whatever RLS shows.
    pub async fn insert(conn: &mut TenantTx, new: NewTenant<'_>) -> AppResult<TenantRow> {
        use diesel::result::{DatabaseErrorKind, Error};
        let inserted = diesel::insert_into(tenants::table)
            .values(&new)
            .returning(TenantRow::as_returning())
            .get_result(conn)
            .await;
        match inserted {
            Ok(row) => Ok(row),
            Err(Error::DatabaseError(DatabaseErrorKind::UniqueViolation, info)) => {
                let field = match info.constraint_name() {
                    Some("tenants_domain_key") => "domain",
                    Some("tenants_slug_key") => "slug",
                    _ => "id",
                };
                Err(TenantRow::taken(field))
            }
            Err(e) => Err(e.into()),
        }
    }

    /// The CONFLICT of a sign-up whose `field` (domain or slug) another tenant holds.
    pub fn taken(field: &str) -> AppError {
        let mut e = AppError::conflict(format!("a tenant with this {field} exists already"));
        e.field = Some(field.into());
        e
    }

    /// System scope: which of `domain` and `slug` another tenant holds already (the domain is
    /// reported first, as the unique indexes do), in any status: the indexes cover every row.
    pub async fn key_taken(
        conn: &mut SystemTx,
        domain: &str,
        slug: &str,
    ) -> AppResult<Option<&'static str>> {
        let rows: Vec<(Option<String>, String)> = tenants::table
            .select((tenants::domain, tenants::slug))
            .filter(tenants::domain.eq(domain).or(tenants::slug.eq(slug)))
            .load(conn)
            .await?;
        Ok(if rows.iter().any(|(d, _)| d.as_deref() == Some(domain)) {
            Some("domain")
        } else if rows.iter().any(|(_, s)| s == slug) {
            Some("slug")
        } else {
            None
        })
    }
}

impl TenantRow {
    /// Sets the name and branding of the tenant in scope.
    pub async fn update_settings(
        conn: &mut TenantTx,
        id: Uuid,
        name: &str,
        branding: &Branding,
    ) -> AppResult<TenantRow> {
        Ok(diesel::update(tenants::table.find(id))
            .set((
                tenants::name.eq(name),
                tenants::branding.eq(serde_json::to_value(branding).map_err(anyhow::Error::from)?),
                tenants::updated_at.eq(diesel::dsl::now),
            ))
            .returning(TenantRow::as_returning())
            .get_result(conn)
            .await?)
    }

    /// Sets the plan, the platform's overrides and the effective features and limits (the
    /// plan's values with the overrides laid over them, computed by the caller).
    pub async fn set_plan_values(
        conn: &mut TenantTx,
        id: Uuid,
        values: PlanValues<'_>,
    ) -> AppResult<TenantRow> {
        let json = |v: serde_json::Result<serde_json::Value>| v.map_err(anyhow::Error::from);
        Ok(diesel::update(tenants::table.find(id))
            .set((
                tenants::plan.eq(values.plan),
                tenants::plan_overrides.eq(json(serde_json::to_value(values.overrides))?),
                tenants::features.eq(json(serde_json::to_value(values.features))?),
                tenants::limits.eq(json(serde_json::to_value(values.limits))?),
                tenants::updated_at.eq(diesel::dsl::now),
            ))
            .returning(TenantRow::as_returning())
            .get_result(conn)
            .await?)
    }

    /// The platform's overrides of the plan's values.
    pub fn overrides(&self) -> PlanOverrides {
        serde_json::from_value(self.plan_overrides.clone()).unwrap_or_default()
    }
}

/// A tenant's plan with the platform's overrides and the effective values.
pub struct PlanValues<'a> {
    pub plan: &'a str,
    pub overrides: &'a PlanOverrides,
    pub features: &'a Features,
    pub limits: &'a Limits,
}

impl TenantRow {
    /// Moves the tenant to a new status, recording who did and the deactivation fields.
    pub async fn set_status(
        conn: &mut impl AnyTx,
        id: Uuid,
        change: StatusChange<'_>,
    ) -> AppResult<TenantRow> {
        Ok(diesel::update(tenants::table.find(id))
            .set((
                tenants::status.eq(change.status.as_str()),
                tenants::status_changed_by.eq(change.by.as_str()),
                tenants::deactivated_at.eq(change.deactivated_at),
                tenants::purge_after.eq(change.purge_after),
                tenants::deactivation_reason.eq(change.reason),
                tenants::updated_at.eq(diesel::dsl::now),
            ))
            .returning(TenantRow::as_returning())
            .get_result(conn)
            .await?)
    }

    pub async fn set_retention(conn: &mut TenantTx, id: Uuid, days: Option<i32>) -> AppResult<()> {
        diesel::update(tenants::table.find(id))
            .set(tenants::retention_days.eq(days))
            .execute(conn)
            .await?;
        Ok(())
    }

    /// System scope: one page of all tenants (oldest first) matching `filter`, with the
    /// filtered count when asked, for platform admins.
    pub async fn admin_page(
        conn: &mut SystemTx,
        filter: &TenantFilter,
        page: PageRequest,
    ) -> AppResult<Listed<TenantRow>> {
        let filtered = || {
            let mut q = tenants::table.into_boxed();
            if let Some(s) = filter.status {
                q = q.filter(tenants::status.eq(s));
            }
            if let Some(p) = &filter.plan {
                q = q.filter(tenants::plan.eq(p.clone()));
            }
            if let Some(text) = &filter.search {
                // The text is matched literally: LIKE's wildcards and escape are escaped.
                let pattern = format!(
                    "%{}%",
                    text.replace('\\', "\\\\")
                        .replace('%', "\\%")
                        .replace('_', "\\_")
                );
                q = q.filter(
                    tenants::name
                        .ilike(pattern.clone())
                        .or(tenants::slug.ilike(pattern.clone()))
                        .or(tenants::domain.ilike(pattern)),
                );
            }
            q
        };
        let total = match page.count {
            true => Some(filtered().count().get_result(conn).await?),
            false => None,
        };
        let q = filtered().select(TenantRow::as_select());
        let q = crate::after_key!(q, tenants::created_at, tenants::id, page.after);
        let rows = q
            .order((tenants::created_at, tenants::id))
            .limit(page.fetch())
            .load(conn)
            .await?;
        Ok(Listed { rows, total })
    }

    /// System scope: deactivated tenants whose grace period has passed.
    pub async fn due_for_purge(
        conn: &mut SystemTx,
        now: DateTime<Utc>,
    ) -> AppResult<Vec<TenantRow>> {
        Ok(tenants::table
            .filter(tenants::status.eq("deactivated"))
            .filter(tenants::purge_after.le(now))
            .select(TenantRow::as_select())
            .load(conn)
            .await?)
    }

    /// System scope: any tenant by id.
    pub async fn find_any(conn: &mut SystemTx, id: Uuid) -> AppResult<TenantRow> {
        tenants::table
            .find(id)
            .select(TenantRow::as_select())
            .first(conn)
            .await
            .optional()?
            .ok_or_else(|| AppError::not_found("tenant"))
    }

    /// Deletes every row of a deactivated tenant and leaves a tombstone (see
    /// `hub_purge_tenant` in the migrations); returns the number of rows deleted.
    pub async fn purge(conn: &mut SystemTx, id: Uuid) -> AppResult<i64> {
        #[derive(diesel::QueryableByName)]
        struct Deleted {
            #[diesel(sql_type = diesel::sql_types::BigInt)]
            n: i64,
        }
        let d: Deleted = diesel::sql_query("SELECT hub_purge_tenant($1) AS n")
            .bind::<diesel::sql_types::Uuid, _>(id)
            .get_result(conn)
            .await?;
        Ok(d.n)
    }
}
