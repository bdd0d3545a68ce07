//! DataLoaders: every relation is loaded in batches, one statement per batch, whatever the
//! number of parent objects. They are created per request and per tenant (see
//! `context::loaders`), so one request's tenant never shares a batch with another's.

use std::{collections::HashMap, sync::Arc};

use async_graphql::dataloader::{DataLoader, HashMapCache, Loader};
use uuid::Uuid;

use crate::db::models::WebhookDeliveryRow;

use crate::{
    db::{
        Db, ScopedFutureExt,
        models::{
            PageRequest, RoleRow, TenantRow, UserRoleRow, UserRow, WorkspaceMemberRow,
            workspace::MemberPageRow,
        },
    },
    error::AppError,
};

/// A user by id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct UserKey(pub Uuid);
/// A role by id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct RoleKey(pub Uuid);
/// The roles a user holds (any scope).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct RolesOfUser(pub Uuid);
/// One page of a workspace's members.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct MembersKey {
    pub workspace_id: Uuid,
    pub page: PageRequest,
}

/// The tenant of the loader (the request's tenant).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct TenantKey(pub Uuid);

/// The webhook delivery attempts of an alert.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct DeliveriesOfAlert(pub Uuid);

/// A page of members and the workspace's member count.
#[derive(Debug, Clone, Default)]
pub struct MembersPage {
    pub rows: Vec<MemberPageRow>,
    pub total: i64,
}

/// The loaders of one tenant within one request.
pub struct TenantLoader {
    db: Db,
    tenant_id: Uuid,
}

/// With a per-request cache: list resolvers prime it with one `load_many` for the whole page
/// (see `prime`), so the batching does not depend on how fast the fields are polled.
pub type Loaders = DataLoader<TenantLoader, HashMapCache>;

pub fn for_tenant(db: Db, tenant_id: Uuid) -> Loaders {
    DataLoader::with_cache(
        TenantLoader { db, tenant_id },
        tokio::spawn,
        HashMapCache::default(),
    )
}

type Shared = Arc<AppError>;

impl Loader<UserKey> for TenantLoader {
    type Value = UserRow;
    type Error = Shared;

    async fn load(&self, keys: &[UserKey]) -> Result<HashMap<UserKey, UserRow>, Shared> {
        let ids: Vec<Uuid> = keys.iter().map(|k| k.0).collect();
        let rows = self
            .db
            .tenant_tx(self.tenant_id, |conn| {
                UserRow::load_many(conn, &ids).scope_boxed()
            })
            .await
            .map_err(Arc::new)?;
        Ok(rows.into_iter().map(|r| (UserKey(r.id), r)).collect())
    }
}

impl Loader<RoleKey> for TenantLoader {
    type Value = RoleRow;
    type Error = Shared;

    async fn load(&self, keys: &[RoleKey]) -> Result<HashMap<RoleKey, RoleRow>, Shared> {
        let ids: Vec<Uuid> = keys.iter().map(|k| k.0).collect();
        let rows = self
            .db
            .tenant_tx(self.tenant_id, |conn| {
                RoleRow::load_many(conn, &ids).scope_boxed()
            })
            .await
            .map_err(Arc::new)?;
        Ok(rows.into_iter().map(|r| (RoleKey(r.id), r)).collect())
    }
}

impl Loader<RolesOfUser> for TenantLoader {
    type Value = Vec<RoleRow>;
    type Error = Shared;

    /// Two statements: the assignments, then the roles by id (reading `roles` once rather
    /// than joining it per assignment row).
    async fn load(
        &self,
        keys: &[RolesOfUser],
    ) -> Result<HashMap<RolesOfUser, Vec<RoleRow>>, Shared> {
        let user_ids: Vec<Uuid> = keys.iter().map(|k| k.0).collect();
        let (pairs, roles) = self
            .db
            .tenant_tx(self.tenant_id, |conn| {
                async move {
                    let pairs = UserRoleRow::of_users(conn, &user_ids).await?;
                    let mut role_ids: Vec<Uuid> = pairs.iter().map(|(_, r)| *r).collect();
                    role_ids.sort();
                    role_ids.dedup();
                    let roles = RoleRow::load_many(conn, &role_ids).await?;
                    Ok((pairs, roles))
                }
                .scope_boxed()
            })
            .await
            .map_err(Arc::new)?;
        let by_id: HashMap<Uuid, RoleRow> = roles.into_iter().map(|r| (r.id, r)).collect();
        let mut out: HashMap<RolesOfUser, Vec<RoleRow>> =
            keys.iter().map(|k| (*k, Vec::new())).collect();
        for (user, role) in pairs {
            if let (Some(list), Some(row)) = (out.get_mut(&RolesOfUser(user)), by_id.get(&role))
                && !list.iter().any(|r| r.id == row.id)
            {
                list.push(row.clone());
            }
        }
        for list in out.values_mut() {
            list.sort_by(|a, b| a.name.cmp(&b.name));
        }
        Ok(out)
    }
}

impl Loader<MembersKey> for TenantLoader {
    type Value = MembersPage;
    type Error = Shared;

    /// One statement per distinct page request (normally one for the whole list).
    async fn load(&self, keys: &[MembersKey]) -> Result<HashMap<MembersKey, MembersPage>, Shared> {
        let mut by_page: HashMap<PageRequest, Vec<Uuid>> = HashMap::new();
        for k in keys {
            by_page.entry(k.page).or_default().push(k.workspace_id);
        }
        let mut out: HashMap<MembersKey, MembersPage> = HashMap::new();
        for (page, workspace_ids) in by_page {
            let rows = self
                .db
                .tenant_tx(self.tenant_id, |conn| {
                    WorkspaceMemberRow::pages(conn, &workspace_ids, page).scope_boxed()
                })
                .await
                .map_err(Arc::new)?;
            for id in &workspace_ids {
                out.insert(
                    MembersKey {
                        workspace_id: *id,
                        page,
                    },
                    MembersPage::default(),
                );
            }
            for row in rows {
                let entry = out
                    .entry(MembersKey {
                        workspace_id: row.workspace_id,
                        page,
                    })
                    .or_default();
                entry.total = row.total;
                entry.rows.push(row);
            }
        }
        Ok(out)
    }
}

impl Loader<DeliveriesOfAlert> for TenantLoader {
    type Value = Vec<WebhookDeliveryRow>;
    type Error = Shared;

    async fn load(
        &self,
        keys: &[DeliveriesOfAlert],
    ) -> Result<HashMap<DeliveriesOfAlert, Vec<WebhookDeliveryRow>>, Shared> {
        let ids: Vec<Uuid> = keys.iter().map(|k| k.0).collect();
        let rows = self
            .db
            .tenant_tx(self.tenant_id, |conn| {
                WebhookDeliveryRow::of_alerts(conn, &ids).scope_boxed()
            })
            .await
            .map_err(Arc::new)?;
        let mut out: HashMap<DeliveriesOfAlert, Vec<WebhookDeliveryRow>> =
            keys.iter().map(|k| (*k, Vec::new())).collect();
        for row in rows {
            out.entry(DeliveriesOfAlert(row.alert_id))
                .or_default()
                .push(row);
        }
        Ok(out)
    }
}

impl Loader<TenantKey> for TenantLoader {
    type Value = TenantRow;
    type Error = Shared;

    /// RLS shows the loader's own tenant only: any other key finds nothing.
    async fn load(&self, keys: &[TenantKey]) -> Result<HashMap<TenantKey, TenantRow>, Shared> {
        if !keys.iter().any(|k| k.0 == self.tenant_id) {
            return Ok(HashMap::new());
        }
        let id = self.tenant_id;
        let row = self
            .db
            .tenant_tx(id, |conn| TenantRow::current(conn, id).scope_boxed())
            .await
            .map_err(Arc::new)?;
        Ok(HashMap::from([(TenantKey(id), row)]))
    }
}
