//! DataLoaders: every relation is loaded in batches, one statement per batch, whatever the
//! number of parent objects. They are created per request and per tenant (see
//! `context::loaders`), so one request's tenant never shares a batch with another's.

use std::{collections::HashMap, sync::Arc};

use async_graphql::dataloader::{DataLoader, HashMapCache, Loader};
use uuid::Uuid;

use crate::db::models::{IntegrationRow, WebhookDeliveryRow, mail::MailRow};
use crate::mail::MailKind;

use crate::{
    db::{
        Db, ScopedFutureExt, TenantTx,
        models::{
            Keyset, Listed, PageRequest, RoleRow, TenantRow, UserRoleRow, UserRow,
            WorkspaceMemberRow, workspace::MemberPageRow,
        },
    },
    error::{AppError, AppResult},
};

/// The second factors of a user.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct FactorsOf(pub Uuid);

/// The latest invitation mail of a user.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct InvitationMailOf(pub Uuid);

/// A user by id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct UserKey(pub Uuid);
/// A role by id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct RoleKey(pub Uuid);
/// The roles a user holds (any scope).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct RolesOfUser(pub Uuid);
/// The role assignments of a user, each with its scope (tenant-wide or a workspace).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct AssignmentsOfUser(pub Uuid);
/// One page of a workspace's members.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct MembersKey {
    pub workspace_id: Uuid,
    pub page: PageRequest,
}

/// The tenant of the loader (the request's tenant).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct TenantKey(pub Uuid);

/// A tenant's integrations (every `Tenant.integrations` of a request: one statement).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct IntegrationsOf(pub Uuid);

/// The webhook delivery attempts of an alert.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct DeliveriesOfAlert(pub Uuid);

/// A page of members and the workspace's member count.
#[derive(Debug, Clone, Default)]
pub struct MembersPage {
    pub rows: Vec<Member>,
    pub total: i64,
}

impl MembersPage {
    /// The page as a [`Listed`] one (its count comes with it, from the same statement).
    pub fn listed(self) -> Listed<Member> {
        Listed {
            rows: self.rows,
            total: Some(self.total),
        }
    }
}

/// A member of a page, with its user and role when the list read them with the page (see
/// `PrimedMembers`): the nested fields then need no loader lookup.
#[derive(Debug, Clone)]
pub struct Member {
    pub row: MemberPageRow,
    pub user: Option<Arc<UserRow>>,
    pub role: Option<Arc<RoleRow>>,
}

impl Keyset for Member {
    fn keyset(&self) -> (chrono::DateTime<chrono::Utc>, Uuid) {
        (self.row.created_at, self.row.user_id)
    }
}

/// The loaders of one tenant within one request.
pub struct TenantLoader {
    db: Db,
    tenant_id: Uuid,
}

/// With a per-request cache. List resolvers read a page's nested rows in the page's own
/// transaction: the rows a nested object needs go with it (a member's user and role, a user's
/// roles), the rest is fed in here (member pages, the tenant), so nested fields find them and
/// the batching does not depend on how fast the fields are polled. Objects found otherwise
/// (by id, through a mutation's payload) load through these loaders in batches.
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

    async fn load(
        &self,
        keys: &[RolesOfUser],
    ) -> Result<HashMap<RolesOfUser, Vec<RoleRow>>, Shared> {
        let keys = keys.to_vec();
        self.db
            .tenant_tx(self.tenant_id, |conn| {
                read_roles_of_users(conn, keys).scope_boxed()
            })
            .await
            .map_err(Arc::new)
    }
}

impl Loader<AssignmentsOfUser> for TenantLoader {
    type Value = Vec<(Option<Uuid>, RoleRow)>;
    type Error = Shared;

    /// One statement for every user of the batch.
    async fn load(
        &self,
        keys: &[AssignmentsOfUser],
    ) -> Result<HashMap<AssignmentsOfUser, Self::Value>, Shared> {
        let user_ids: Vec<Uuid> = keys.iter().map(|k| k.0).collect();
        let held = self
            .db
            .tenant_tx(self.tenant_id, |conn| {
                async move { UserRoleRow::assignments_of_users(conn, &user_ids).await }
                    .scope_boxed()
            })
            .await
            .map_err(Arc::new)?;
        let mut out: HashMap<AssignmentsOfUser, Self::Value> =
            keys.iter().map(|k| (*k, Vec::new())).collect();
        for (user, workspace, role) in held {
            if let Some(list) = out.get_mut(&AssignmentsOfUser(user)) {
                list.push((workspace, role));
            }
        }
        Ok(out)
    }
}

/// The roles of each user of `keys`, sorted by name, in the caller's transaction (list
/// resolvers read them with their page). One statement: the assignments joined to their roles.
pub async fn read_roles_of_users(
    conn: &mut TenantTx,
    keys: Vec<RolesOfUser>,
) -> AppResult<HashMap<RolesOfUser, Vec<RoleRow>>> {
    let user_ids: Vec<Uuid> = keys.iter().map(|k| k.0).collect();
    let held = UserRoleRow::roles_of_users(conn, &user_ids).await?;
    Ok(roles_by_user(&user_ids, held))
}

/// (user, role) pairs grouped by user: each of `user_ids` with its roles (none included),
/// without repeats, sorted by name.
pub fn roles_by_user(
    user_ids: &[Uuid],
    held: Vec<(Uuid, RoleRow)>,
) -> HashMap<RolesOfUser, Vec<RoleRow>> {
    let mut out: HashMap<RolesOfUser, Vec<RoleRow>> = user_ids
        .iter()
        .map(|id| (RolesOfUser(*id), Vec::new()))
        .collect();
    for (user, role) in held {
        if let Some(list) = out.get_mut(&RolesOfUser(user))
            && !list.iter().any(|r| r.id == role.id)
        {
            list.push(role);
        }
    }
    for list in out.values_mut() {
        list.sort_by(|a, b| a.name.cmp(&b.name));
    }
    out
}

impl Loader<MembersKey> for TenantLoader {
    type Value = MembersPage;
    type Error = Shared;

    /// One statement per distinct page request (normally one for the whole list).
    async fn load(&self, keys: &[MembersKey]) -> Result<HashMap<MembersKey, MembersPage>, Shared> {
        let keys = keys.to_vec();
        self.db
            .tenant_tx(self.tenant_id, |conn| {
                read_member_pages(conn, keys).scope_boxed()
            })
            .await
            .map_err(Arc::new)
    }
}

/// The member pages of `keys`, in the caller's transaction: one statement per distinct page
/// request.
async fn read_member_pages(
    conn: &mut TenantTx,
    keys: Vec<MembersKey>,
) -> AppResult<HashMap<MembersKey, MembersPage>> {
    let mut by_page: HashMap<PageRequest, Vec<Uuid>> = HashMap::new();
    for k in keys {
        by_page.entry(k.page).or_default().push(k.workspace_id);
    }
    let mut out: HashMap<MembersKey, MembersPage> = HashMap::new();
    for (page, workspace_ids) in by_page {
        let rows = WorkspaceMemberRow::pages(conn, &workspace_ids, page).await?;
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
            entry.rows.push(Member {
                row,
                user: None,
                role: None,
            });
        }
    }
    Ok(out)
}

/// What a list of workspaces asks of its members: the page requests of its `members` fields,
/// and whether their users and roles are selected.
#[derive(Debug, Clone, Default)]
pub struct MembersWanted {
    pub pages: Vec<PageRequest>,
    pub users: bool,
    pub roles: bool,
}

/// The members (with their users and roles) of a page of workspaces, read in the transaction
/// that read the page, then fed to the request's loaders: each member carries its user and
/// role, and the whole list costs one transaction.
#[derive(Default)]
pub struct PrimedMembers {
    pages: HashMap<MembersKey, MembersPage>,
}

impl PrimedMembers {
    /// Three statements at most (pages, users, roles), whatever the number of workspaces.
    pub async fn read(
        conn: &mut TenantTx,
        workspace_ids: &[Uuid],
        wanted: &MembersWanted,
    ) -> AppResult<PrimedMembers> {
        if workspace_ids.is_empty() || wanted.pages.is_empty() {
            return Ok(PrimedMembers::default());
        }
        let keys = wanted
            .pages
            .iter()
            .flat_map(|page| {
                workspace_ids.iter().map(|id| MembersKey {
                    workspace_id: *id,
                    page: *page,
                })
            })
            .collect();
        let mut pages = read_member_pages(conn, keys).await?;
        let members = || pages.values().flat_map(|p| p.rows.iter());
        let distinct = |mut ids: Vec<Uuid>| {
            ids.sort();
            ids.dedup();
            ids
        };
        let user_ids = match wanted.users {
            true => distinct(members().map(|m| m.row.user_id).collect()),
            false => Vec::new(),
        };
        let role_ids = match wanted.roles {
            true => distinct(members().filter_map(|m| m.row.role_id).collect()),
            false => Vec::new(),
        };
        // The members' users and roles: two reads, pipelined (sent together, one wait).
        let (mut a, mut b) = (conn.read(), conn.read());
        let (users, roles) = futures_util::try_join!(
            async {
                match user_ids.is_empty() {
                    false => UserRow::load_many(&mut a, &user_ids).await,
                    true => Ok(Vec::new()),
                }
            },
            async {
                match role_ids.is_empty() {
                    false => RoleRow::load_many(&mut b, &role_ids).await,
                    true => Ok(Vec::new()),
                }
            },
        )?;
        let users: HashMap<Uuid, Arc<UserRow>> =
            users.into_iter().map(|u| (u.id, Arc::new(u))).collect();
        let roles: HashMap<Uuid, Arc<RoleRow>> =
            roles.into_iter().map(|r| (r.id, Arc::new(r))).collect();
        for member in pages.values_mut().flat_map(|p| p.rows.iter_mut()) {
            member.user = users.get(&member.row.user_id).cloned();
            member.role = member.row.role_id.and_then(|id| roles.get(&id).cloned());
        }
        Ok(PrimedMembers { pages })
    }

    pub async fn feed(self, loaders: &Loaders) {
        loaders.feed_many(self.pages).await;
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

impl Loader<FactorsOf> for TenantLoader {
    type Value = Vec<crate::db::models::MfaFactorRow>;
    type Error = Shared;

    async fn load(
        &self,
        keys: &[FactorsOf],
    ) -> Result<HashMap<FactorsOf, Vec<crate::db::models::MfaFactorRow>>, Shared> {
        let ids: Vec<Uuid> = keys.iter().map(|k| k.0).collect();
        let rows = self
            .db
            .tenant_tx(self.tenant_id, |conn| {
                crate::db::models::MfaFactorRow::of_users(conn, &ids).scope_boxed()
            })
            .await
            .map_err(Arc::new)?;
        Ok(PrimedUsers::factors_by_user(&ids, rows))
    }
}

/// `None`: the user was never sent one (a known answer, so a primed page asks nothing more).
impl Loader<InvitationMailOf> for TenantLoader {
    type Value = Option<MailRow>;
    type Error = Shared;

    async fn load(
        &self,
        keys: &[InvitationMailOf],
    ) -> Result<HashMap<InvitationMailOf, Option<MailRow>>, Shared> {
        let ids: Vec<Uuid> = keys.iter().map(|k| k.0).collect();
        let rows = self
            .db
            .tenant_tx(self.tenant_id, |conn| {
                MailRow::latest_of_users(conn, &ids, MailKind::Invitation.as_str()).scope_boxed()
            })
            .await
            .map_err(Arc::new)?;
        Ok(PrimedUsers::invitations_by_user(&ids, rows))
    }
}

/// What a page of users asks of each user beyond its row and roles.
#[derive(Debug, Clone, Copy, Default)]
pub struct UsersWanted {
    /// `invitationMail`.
    pub invitations: bool,
    /// `mfaEnrolled` or `mfaFactors`.
    pub factors: bool,
}

impl UsersWanted {
    pub fn any(&self) -> bool {
        self.invitations || self.factors
    }
}

/// The invitation mails and second factors of a page of users, read in the transaction that
/// read the page and fed to the request's loaders: every user of the page has its answer (an
/// empty one too), so the nested fields find them whatever the order and speed in which they
/// are polled, and the page costs the same statements for 5 users or 50.
#[derive(Default)]
pub struct PrimedUsers {
    invitations: HashMap<InvitationMailOf, Option<MailRow>>,
    factors: HashMap<FactorsOf, Vec<crate::db::models::MfaFactorRow>>,
}

impl PrimedUsers {
    /// Two statements at most, pipelined (sent together, one wait).
    pub async fn read(
        conn: &mut TenantTx,
        user_ids: &[Uuid],
        wanted: UsersWanted,
    ) -> AppResult<PrimedUsers> {
        if user_ids.is_empty() || !wanted.any() {
            return Ok(PrimedUsers::default());
        }
        let (mut a, mut b) = (conn.read(), conn.read());
        let (mails, factors) = futures_util::try_join!(
            async {
                match wanted.invitations {
                    true => {
                        MailRow::latest_of_users(&mut a, user_ids, MailKind::Invitation.as_str())
                            .await
                    }
                    false => Ok(Vec::new()),
                }
            },
            async {
                match wanted.factors {
                    true => crate::db::models::MfaFactorRow::of_users(&mut b, user_ids).await,
                    false => Ok(Vec::new()),
                }
            },
        )?;
        let invitations = match wanted.invitations {
            true => Self::invitations_by_user(user_ids, mails),
            false => HashMap::new(),
        };
        let factors = match wanted.factors {
            true => Self::factors_by_user(user_ids, factors),
            false => HashMap::new(),
        };
        Ok(PrimedUsers {
            invitations,
            factors,
        })
    }

    pub async fn feed(self, loaders: &Loaders) {
        loaders.feed_many(self.invitations).await;
        loaders.feed_many(self.factors).await;
    }

    /// Every one of `user_ids`, with its latest invitation mail among `rows` or none.
    fn invitations_by_user(
        user_ids: &[Uuid],
        rows: Vec<MailRow>,
    ) -> HashMap<InvitationMailOf, Option<MailRow>> {
        let mut out: HashMap<_, _> = user_ids
            .iter()
            .map(|id| (InvitationMailOf(*id), None))
            .collect();
        for row in rows {
            if let Some(user_id) = row.user_id {
                out.insert(InvitationMailOf(user_id), Some(row));
            }
        }
        out
    }

    /// Every one of `user_ids`, with its factors among `rows` (in their order) or none.
    fn factors_by_user(
        user_ids: &[Uuid],
        rows: Vec<crate::db::models::MfaFactorRow>,
    ) -> HashMap<FactorsOf, Vec<crate::db::models::MfaFactorRow>> {
        let mut out: HashMap<FactorsOf, Vec<_>> = user_ids
            .iter()
            .map(|id| (FactorsOf(*id), Vec::new()))
            .collect();
        for row in rows {
            out.entry(FactorsOf(row.user_id)).or_default().push(row);
        }
        out
    }
}

impl Loader<IntegrationsOf> for TenantLoader {
    type Value = Vec<IntegrationRow>;
    type Error = Shared;

    /// RLS shows the loader's own tenant only: any other key finds nothing. However many
    /// `Tenant` objects a query reaches (aliases, nested lists), one statement per request.
    async fn load(
        &self,
        keys: &[IntegrationsOf],
    ) -> Result<HashMap<IntegrationsOf, Vec<IntegrationRow>>, Shared> {
        if !keys.iter().any(|k| k.0 == self.tenant_id) {
            return Ok(HashMap::new());
        }
        let rows = self
            .db
            .tenant_tx(self.tenant_id, |conn| {
                IntegrationRow::all(conn).scope_boxed()
            })
            .await
            .map_err(Arc::new)?;
        Ok(HashMap::from([(IntegrationsOf(self.tenant_id), rows)]))
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
