//! `users`: the members of a tenant.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use uuid::Uuid;

use crate::{
    after_key,
    db::{
        InTenant, TenantTx,
        models::page::{Keyset, PageRequest},
        schema::users,
    },
    error::{AppError, AppResult},
};

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = users, check_for_backend(diesel::pg::Pg))]
pub struct UserRow {
    pub tenant_id: Uuid,
    pub id: Uuid,
    pub email: String,
    pub display_name: Option<String>,
    pub password_hash: Option<String>,
    pub status: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub email_verified_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Insertable)]
#[diesel(table_name = users)]
pub struct NewUser<'a> {
    pub tenant_id: Uuid,
    pub id: Uuid,
    pub email: &'a str,
    pub display_name: Option<&'a str>,
    pub password_hash: Option<&'a str>,
    pub status: &'a str,
}

diesel::define_sql_function!(fn lower(x: diesel::sql_types::Text) -> diesel::sql_types::Text);

impl Keyset for UserRow {
    fn keyset(&self) -> (DateTime<Utc>, Uuid) {
        (self.created_at, self.id)
    }
}

impl UserRow {
    pub fn is_active(&self) -> bool {
        self.status == "active"
    }

    /// Inserts a user; an email taken in this tenant (in any case) is a CONFLICT.
    pub async fn insert(conn: &mut TenantTx, new: NewUser<'_>) -> AppResult<UserRow> {
        if UserRow::find_by_email(conn, new.email).await?.is_some() {
            let mut e = AppError::conflict("a user with this email exists already");
            e.field = Some("email".into());
            return Err(e);
        }
        Ok(diesel::insert_into(users::table)
            .values(&new)
            .returning(UserRow::as_returning())
            .get_result(conn)
            .await?)
    }

    pub async fn find(conn: &mut impl InTenant, id: Uuid) -> AppResult<Option<UserRow>> {
        Ok(users::table
            .filter(users::id.eq(id))
            .select(UserRow::as_select())
            .first(conn)
            .await
            .optional()?)
    }

    pub async fn get(conn: &mut impl InTenant, id: Uuid) -> AppResult<UserRow> {
        UserRow::find(conn, id)
            .await?
            .ok_or_else(|| AppError::not_found("user"))
    }

    pub async fn find_by_email(conn: &mut TenantTx, email: &str) -> AppResult<Option<UserRow>> {
        Ok(users::table
            .filter(lower(users::email).eq(email.to_lowercase()))
            .select(UserRow::as_select())
            .first(conn)
            .await
            .optional()?)
    }

    /// These users. The tenant is named for the planner (see `InTenant::tenant_id`): it then
    /// reads the tenant's index entries once instead of descending `users_pkey` under RLS's
    /// range for each id (107 buffers instead of 304 for 100 ids, BENCHMARKS.md).
    pub async fn load_many(conn: &mut impl InTenant, ids: &[Uuid]) -> AppResult<Vec<UserRow>> {
        let tenant = conn.tenant_id();
        Ok(users::table
            .filter(users::tenant_id.eq(tenant))
            .filter(users::id.eq_any(ids))
            .select(UserRow::as_select())
            .load(conn)
            .await?)
    }

    /// One page in creation order, `limit + 1` rows at most: the tenant named, an ordered
    /// walk of `users_tenant_created_idx` that stops after the page (see `InTenant::tenant_id`).
    pub async fn page(conn: &mut impl InTenant, page: PageRequest) -> AppResult<Vec<UserRow>> {
        let query = users::table
            .filter(users::tenant_id.eq(conn.tenant_id()))
            .select(UserRow::as_select())
            .into_boxed();
        let query = after_key!(query, users::created_at, users::id, page.after);
        Ok(query
            .order((users::created_at, users::id))
            .limit(page.fetch())
            .load(conn)
            .await?)
    }

    pub async fn count(conn: &mut impl InTenant) -> AppResult<i64> {
        Ok(users::table.count().get_result(conn).await?)
    }

    /// Users that take a seat against the user limit: active and invited ones.
    pub async fn count_seats(conn: &mut TenantTx) -> AppResult<i64> {
        Ok(users::table
            .filter(users::status.ne("deactivated"))
            .count()
            .get_result(conn)
            .await?)
    }

    pub async fn set_display_name(
        conn: &mut TenantTx,
        id: Uuid,
        name: Option<&str>,
    ) -> AppResult<UserRow> {
        Ok(diesel::update(users::table.filter(users::id.eq(id)))
            .set((
                users::display_name.eq(name),
                users::updated_at.eq(diesel::dsl::now),
            ))
            .returning(UserRow::as_returning())
            .get_result(conn)
            .await?)
    }

    pub async fn set_email(conn: &mut TenantTx, id: Uuid, email: &str) -> AppResult<UserRow> {
        if let Some(other) = UserRow::find_by_email(conn, email).await?
            && other.id != id
        {
            let mut e = AppError::conflict("a user with this email exists already");
            e.field = Some("email".into());
            return Err(e);
        }
        Ok(diesel::update(users::table.filter(users::id.eq(id)))
            .set((
                users::email.eq(email),
                users::updated_at.eq(diesel::dsl::now),
            ))
            .returning(UserRow::as_returning())
            .get_result(conn)
            .await?)
    }

    /// Marks the current email as verified (`Some(now)`) or not (`None`, after a change).
    pub async fn set_email_verified(
        conn: &mut TenantTx,
        id: Uuid,
        at: Option<DateTime<Utc>>,
    ) -> AppResult<UserRow> {
        Ok(diesel::update(users::table.filter(users::id.eq(id)))
            .set(users::email_verified_at.eq(at))
            .returning(UserRow::as_returning())
            .get_result(conn)
            .await?)
    }

    pub async fn set_status(conn: &mut TenantTx, id: Uuid, status: &str) -> AppResult<UserRow> {
        Ok(diesel::update(users::table.filter(users::id.eq(id)))
            .set((
                users::status.eq(status),
                users::updated_at.eq(diesel::dsl::now),
            ))
            .returning(UserRow::as_returning())
            .get_result(conn)
            .await?)
    }

    pub async fn set_password(conn: &mut TenantTx, id: Uuid, hash: &str) -> AppResult<()> {
        diesel::update(users::table.filter(users::id.eq(id)))
            .set((
                users::password_hash.eq(hash),
                users::updated_at.eq(diesel::dsl::now),
            ))
            .execute(conn)
            .await?;
        Ok(())
    }

    pub async fn delete(conn: &mut TenantTx, id: Uuid) -> AppResult<()> {
        diesel::delete(users::table.filter(users::id.eq(id)))
            .execute(conn)
            .await?;
        Ok(())
    }
}
