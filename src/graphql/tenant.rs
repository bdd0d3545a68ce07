//! The `Tenant` object with its configuration (branding, features, limits), and the member's
//! `tenant` and `tenantConfig` queries.

use crate::db::ScopedFutureExt;
use async_graphql::{Context, Enum, ID, Json, Object, SimpleObject};
use chrono::{DateTime, Utc};
use serde_json::json;
use std::collections::BTreeMap;

use crate::{
    db::models::TenantRow,
    domain::{self, Permission},
    error::AppError,
    graphql::{context, ids},
};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Enum)]
pub enum TenantStatus {
    Active,
    Suspended,
    Deactivated,
    Purged,
}

impl TenantStatus {
    pub fn from_db(raw: &str) -> TenantStatus {
        match raw {
            "active" => TenantStatus::Active,
            "suspended" => TenantStatus::Suspended,
            "deactivated" => TenantStatus::Deactivated,
            _ => TenantStatus::Purged,
        }
    }

    pub fn as_db(self) -> &'static str {
        match self {
            TenantStatus::Active => "active",
            TenantStatus::Suspended => "suspended",
            TenantStatus::Deactivated => "deactivated",
            TenantStatus::Purged => "purged",
        }
    }
}

pub struct Tenant(pub TenantRow);

#[derive(SimpleObject)]
pub struct Branding {
    /// An https URL of the logo.
    pub logo: Option<String>,
    /// Named colors: {"primary": "#1a2b3c"}.
    pub colors: Json<BTreeMap<String, String>>,
}

#[derive(SimpleObject)]
pub struct Features {
    pub sso: bool,
    pub api_access: bool,
    pub custom_domain: bool,
    /// Further named flags.
    pub custom: Json<BTreeMap<String, bool>>,
}

#[derive(SimpleObject)]
pub struct Limits {
    pub users: i32,
    pub storage_gb: i32,
    pub api_calls_per_minute: i32,
}

impl From<domain::Branding> for Branding {
    fn from(b: domain::Branding) -> Self {
        Branding {
            logo: b.logo,
            colors: Json(b.colors),
        }
    }
}

impl From<domain::Features> for Features {
    fn from(f: domain::Features) -> Self {
        Features {
            sso: f.sso,
            api_access: f.api_access,
            custom_domain: f.custom_domain,
            custom: Json(f.custom),
        }
    }
}

impl From<domain::Limits> for Limits {
    fn from(l: domain::Limits) -> Self {
        Limits {
            users: l.users,
            storage_gb: l.storage_gb,
            api_calls_per_minute: l.api_calls_per_minute,
        }
    }
}

/// The metadata document of `tenantConfig`, in the shape product teams know.
pub fn config_document(t: &TenantRow) -> serde_json::Value {
    let (b, f, l) = (t.branding(), t.features(), t.limits());
    json!({
        "tenant_id": t.id,
        "name": t.name,
        "domain": t.domain,
        "branding": { "logo": b.logo, "colors": b.colors },
        "features": { "sso": f.sso, "api_access": f.api_access, "custom_domain": f.custom_domain, "custom": f.custom },
        "limits": { "users": l.users, "storage_gb": l.storage_gb, "api_calls_per_minute": l.api_calls_per_minute },
    })
}

/// A customer organisation.
#[Object]
impl Tenant {
    async fn id(&self) -> ID {
        ids::encode("Tenant", self.0.id)
    }

    /// The raw UUID, as in the `tid` claim of access tokens.
    async fn uuid(&self) -> String {
        self.0.id.to_string()
    }

    async fn name(&self) -> &str {
        &self.0.name
    }

    async fn slug(&self) -> &str {
        &self.0.slug
    }

    /// Null once the tenant is purged.
    async fn domain(&self) -> Option<&str> {
        self.0.domain.as_deref()
    }

    async fn status(&self) -> TenantStatus {
        TenantStatus::from_db(&self.0.status)
    }

    async fn plan(&self) -> &str {
        &self.0.plan
    }

    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }

    async fn deactivated_at(&self) -> Option<DateTime<Utc>> {
        self.0.deactivated_at
    }

    /// When a deactivated tenant's data is deleted for good.
    async fn purge_after(&self) -> Option<DateTime<Utc>> {
        self.0.purge_after
    }

    async fn branding(&self) -> Branding {
        self.0.branding().into()
    }

    async fn features(&self) -> Features {
        self.0.features().into()
    }

    async fn limits(&self) -> Limits {
        self.0.limits().into()
    }
}

#[derive(Default)]
pub struct TenantQuery;

#[Object]
impl TenantQuery {
    /// The caller's tenant.
    async fn tenant(&self, ctx: &Context<'_>) -> Result<Tenant, AppError> {
        let scope = context::require(ctx, Permission::TenantRead).await?;
        let id = scope.tenant_id();
        Ok(Tenant(
            scope
                .tx(move |conn| TenantRow::current(conn, id).scope_boxed())
                .await?,
        ))
    }

    /// The caller's tenant's metadata as one JSON document:
    /// {tenant_id, name, domain, branding{logo, colors}, features{sso, api_access, custom_domain},
    /// limits{users, storage_gb, api_calls_per_minute}}.
    async fn tenant_config(&self, ctx: &Context<'_>) -> Result<Json<serde_json::Value>, AppError> {
        let scope = context::member(ctx)?;
        let id = scope.tenant_id();
        let row = scope
            .tx(move |conn| TenantRow::current(conn, id).scope_boxed())
            .await?;
        Ok(Json(config_document(&row)))
    }
}
