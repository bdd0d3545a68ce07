//! `integrations`: a tenant's named integration settings; the secret is stored encrypted.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use uuid::Uuid;

use crate::{
    db::{TenantTx, schema::integrations},
    error::AppResult,
};

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = integrations, check_for_backend(diesel::pg::Pg))]
pub struct IntegrationRow {
    pub tenant_id: Uuid,
    pub name: String,
    pub settings: serde_json::Value,
    pub secret_ciphertext: Option<Vec<u8>>,
    pub secret_hint: Option<String>,
    pub updated_at: DateTime<Utc>,
}

impl IntegrationRow {
    pub async fn all(conn: &mut TenantTx) -> AppResult<Vec<IntegrationRow>> {
        Ok(integrations::table
            .order(integrations::name)
            .select(IntegrationRow::as_select())
            .load(conn)
            .await?)
    }

    pub async fn upsert(
        conn: &mut TenantTx,
        row: &IntegrationRow,
        keep_secret: bool,
    ) -> AppResult<()> {
        let query = diesel::insert_into(integrations::table)
            .values(row)
            .on_conflict((integrations::tenant_id, integrations::name))
            .do_update();
        if keep_secret {
            query
                .set((
                    integrations::settings.eq(&row.settings),
                    integrations::updated_at.eq(row.updated_at),
                ))
                .execute(conn)
                .await?;
        } else {
            query
                .set((
                    integrations::settings.eq(&row.settings),
                    integrations::secret_ciphertext.eq(&row.secret_ciphertext),
                    integrations::secret_hint.eq(&row.secret_hint),
                    integrations::updated_at.eq(row.updated_at),
                ))
                .execute(conn)
                .await?;
        }
        Ok(())
    }

    pub async fn remove(conn: &mut TenantTx, name: &str) -> AppResult<bool> {
        Ok(
            diesel::delete(integrations::table.filter(integrations::name.eq(name)))
                .execute(conn)
                .await?
                > 0,
        )
    }
}
