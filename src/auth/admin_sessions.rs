//! Platform admins' sessions: `adminLogin` opens one (its id is the token's `sid`), `logout`
//! revokes it, and every request of a platform admin checks that its session is live and its
//! admin not disabled. System scope only (the table is a platform table).

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use uuid::Uuid;

use crate::{
    db::{
        SystemTx,
        schema::{platform_admin_sessions, platform_admins},
    },
    error::AppResult,
};

/// Opens a session of `admin_id` that ends at `expires_at`; returns its id.
pub async fn open(
    conn: &mut SystemTx,
    admin_id: Uuid,
    expires_at: DateTime<Utc>,
) -> AppResult<Uuid> {
    let id = Uuid::new_v4();
    diesel::insert_into(platform_admin_sessions::table)
        .values((
            platform_admin_sessions::id.eq(id),
            platform_admin_sessions::admin_id.eq(admin_id),
            platform_admin_sessions::expires_at.eq(expires_at),
        ))
        .execute(conn)
        .await?;
    Ok(id)
}

/// Whether the session `id` of `admin_id` is live: not revoked, not expired, and its admin
/// not disabled.
pub async fn is_live(conn: &mut SystemTx, id: Uuid, admin_id: Uuid) -> AppResult<bool> {
    let found: i64 = platform_admin_sessions::table
        .inner_join(platform_admins::table)
        .filter(platform_admin_sessions::id.eq(id))
        .filter(platform_admin_sessions::admin_id.eq(admin_id))
        .filter(platform_admin_sessions::revoked_at.is_null())
        .filter(platform_admin_sessions::expires_at.gt(Utc::now()))
        .filter(platform_admins::disabled_at.is_null())
        .count()
        .get_result(conn)
        .await?;
    Ok(found > 0)
}

/// Revokes the session `id` of `admin_id`; returns whether it was live.
pub async fn revoke(conn: &mut SystemTx, id: Uuid, admin_id: Uuid) -> AppResult<bool> {
    let n = diesel::update(
        platform_admin_sessions::table
            .filter(platform_admin_sessions::id.eq(id))
            .filter(platform_admin_sessions::admin_id.eq(admin_id))
            .filter(platform_admin_sessions::revoked_at.is_null()),
    )
    .set(platform_admin_sessions::revoked_at.eq(Utc::now()))
    .execute(conn)
    .await?;
    Ok(n > 0)
}
