//! Exporting everything a tenant owns. The tables are found in pg_catalog (every table with a
//! `tenant_id`), so a new table is exported without editing this file; columns holding secrets
//! or their hashes are removed, and tables that hold nothing but such hashes are skipped.
//! Runs inside the tenant's transaction, so RLS limits it to that tenant.
//!
//! Two shapes: one JSON document (`exportTenantData`), and NDJSON streamed in chunks through a
//! server-side cursor (`GET /export/tenant.ndjson`), whose memory stays flat for large tenants.

use diesel::{
    QueryableByName,
    sql_types::{Jsonb, Text},
};
use diesel_async::{RunQueryDsl, SimpleAsyncConnection};
use serde_json::{Value, json};
use tokio::sync::mpsc;
use uuid::Uuid;

use crate::{
    db::{Db, Reader, ScopedFutureExt, TenantTx, models::TenantRow},
    error::{AppError, AppResult},
};

/// Bumped when the document's shape changes.
pub const FORMAT_VERSION: i32 = 1;

/// Columns never exported, by the end of their name: secrets' hashes (`password_hash`,
/// `token_hash`, `browser_token_hash`, …) and encrypted secrets (`secret_ciphertext`, …). A
/// pattern rather than a list, so a table added later cannot leak a secret column by default.
const SECRET_COLUMN_PATTERN: &str = "(^|_)(hash|ciphertext|secret)$";
/// Tables that hold only secrets' hashes.
const SKIPPED_TABLES: &[&str] = &["refresh_tokens", "user_tokens"];
/// Rows per FETCH of the NDJSON stream.
const CHUNK: i64 = 500;

#[derive(QueryableByName)]
struct TableName {
    #[diesel(sql_type = Text)]
    name: String,
}

#[derive(QueryableByName)]
struct JsonRow {
    #[diesel(sql_type = Jsonb)]
    row: Value,
}

/// The tenant tables to export, in name order.
pub async fn tables(conn: &mut impl Reader) -> AppResult<Vec<String>> {
    let rows: Vec<TableName> = diesel::sql_query(
        "SELECT c.relname::text AS name FROM pg_class c
         JOIN pg_namespace n ON n.oid = c.relnamespace AND n.nspname = 'public'
         JOIN pg_attribute a ON a.attrelid = c.oid AND a.attname = 'tenant_id' AND NOT a.attisdropped
         WHERE c.relkind IN ('r', 'p') ORDER BY 1",
    )
    .load(conn)
    .await?;
    Ok(rows
        .into_iter()
        .map(|r| r.name)
        .filter(|n| !SKIPPED_TABLES.contains(&n.as_str()))
        .collect())
}

fn select_sql(table: &str) -> String {
    // Table names come from pg_catalog, quoted all the same.
    format!(
        "SELECT (SELECT COALESCE(jsonb_object_agg(c.key, c.value), '{{}}'::jsonb) \
         FROM jsonb_each(to_jsonb(t)) c WHERE c.key !~ '{SECRET_COLUMN_PATTERN}') AS row \
         FROM \"{}\" t",
        table.replace('"', "\"\"")
    )
}

fn header(tenant: &TenantRow) -> Value {
    json!({
        "format_version": FORMAT_VERSION,
        "exported_at": chrono::Utc::now(),
        "tenant": {
            "id": tenant.id, "name": tenant.name, "slug": tenant.slug, "domain": tenant.domain,
            "status": tenant.status, "plan": tenant.plan, "branding": tenant.branding,
            "features": tenant.features, "limits": tenant.limits, "created_at": tenant.created_at,
            "deactivated_at": tenant.deactivated_at, "purge_after": tenant.purge_after,
        },
    })
}

/// The whole export as one document: `{format_version, exported_at, tenant, tables: {...}}`.
pub async fn document(conn: &mut TenantTx, tenant_id: Uuid) -> AppResult<Value> {
    let tenant = TenantRow::current(conn, tenant_id).await?;
    let mut doc = header(&tenant);
    let mut tables = serde_json::Map::new();
    for table in self::tables(conn).await? {
        let rows: Vec<JsonRow> = diesel::sql_query(select_sql(&table)).load(conn).await?;
        tables.insert(
            table,
            Value::Array(rows.into_iter().map(|r| r.row).collect()),
        );
    }
    doc["tables"] = Value::Object(tables);
    Ok(doc)
}

/// What an NDJSON stream holds: a header line, then the rows of each labelled query.
pub enum Stream {
    /// Everything the tenant owns.
    Tenant,
    /// The tenant's audit log, oldest first.
    AuditLog,
}

/// Streams NDJSON lines into `tx`: a header line, then `{"table", "row"}` lines, fetched
/// `CHUNK` rows at a time through a cursor. Stops early when the receiver hangs up.
pub async fn stream(
    db: Db,
    tenant_id: Uuid,
    what: Stream,
    tx: mpsc::Sender<Result<bytes::Bytes, std::io::Error>>,
) -> AppResult<()> {
    db.tenant_tx(tenant_id, |conn| {
        async move {
            let tenant = TenantRow::current(conn, tenant_id).await?;
            let mut line = serde_json::to_vec(&header(&tenant)).map_err(anyhow::Error::from)?;
            line.push(b'\n');
            if tx.send(Ok(line.into())).await.is_err() {
                return Ok(());
            }
            let queries: Vec<(String, String)> = match what {
                Stream::Tenant => self::tables(conn)
                    .await?
                    .into_iter()
                    .map(|t| (select_sql(&t), t))
                    .collect(),
                Stream::AuditLog => vec![(
                    "SELECT to_jsonb(a) AS row FROM audit_log a ORDER BY at, id".to_owned(),
                    "audit_log".to_owned(),
                )],
            };
            for (sql, table) in queries {
                conn.batch_execute(&format!("DECLARE export_rows NO SCROLL CURSOR FOR {sql}"))
                    .await?;
                loop {
                    let rows: Vec<JsonRow> =
                        diesel::sql_query(format!("FETCH {CHUNK} FROM export_rows"))
                            .load(conn)
                            .await?;
                    if rows.is_empty() {
                        break;
                    }
                    let mut chunk = Vec::new();
                    for r in rows {
                        serde_json::to_writer(&mut chunk, &json!({ "table": table, "row": r.row }))
                            .map_err(anyhow::Error::from)?;
                        chunk.push(b'\n');
                    }
                    if tx.send(Ok(chunk.into())).await.is_err() {
                        return Err(AppError::internal(anyhow::anyhow!(
                            "export client went away"
                        )));
                    }
                }
                conn.batch_execute("CLOSE export_rows").await?;
            }
            Ok(())
        }
        .scope_boxed()
    })
    .await
}
