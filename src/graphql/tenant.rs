//! The `Tenant` object with its configuration (branding, features, limits), and the member's
//! `tenant` and `tenantConfig` queries.

use async_graphql::{Context, Enum, ID, InputObject, Json, MaybeUndefined, Object, SimpleObject};
use chrono::{DateTime, Utc};
use serde_json::json;
use std::collections::BTreeMap;

use crate::{
    db::{
        ScopedFutureExt,
        models::{IntegrationRow, TenantRow},
    },
    domain::{self, Permission},
    error::AppError,
    graphql::{context, ids, loaders::IntegrationsOf},
    ops::tenant_settings,
    secrets,
};

/// Where a tenant is in its lifecycle: active, suspended (by the platform), deactivated (the
/// grace period before the purge) or purged.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Enum)]
#[graphql(remote = "crate::domain::TenantStatus")]
pub enum TenantStatus {
    Active,
    Suspended,
    Deactivated,
    Purged,
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
    pub async fn id(&self) -> ID {
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
        domain::TenantStatus::parse(&self.0.status).into()
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

    /// Days the data is kept after a deactivation (null: the platform default).
    async fn retention_days(&self) -> Option<i32> {
        self.0.retention_days
    }

    /// When a deactivated tenant's data is deleted for good.
    async fn purge_after(&self) -> Option<DateTime<Utc>> {
        self.0.purge_after
    }

    /// Sign-in needs a verified email (`User.emailVerified`).
    async fn require_verified_email(&self) -> bool {
        self.0.require_verified_email
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

    /// The tenant's email domains and their verification (needs tenant:manage).
    async fn domains(
        &self,
        ctx: &Context<'_>,
    ) -> Result<Vec<crate::graphql::sso::TenantDomain>, AppError> {
        crate::graphql::sso::tenant_domains(ctx, self.0.id).await
    }

    /// The tenant's identity providers (needs tenant:manage).
    async fn identity_providers(
        &self,
        ctx: &Context<'_>,
    ) -> Result<Vec<crate::graphql::sso::IdentityProvider>, AppError> {
        crate::graphql::sso::tenant_identity_providers(ctx, self.0.id).await
    }

    /// Integration settings (needs tenant:manage).
    async fn integrations(&self, ctx: &Context<'_>) -> Result<Vec<Integration>, AppError> {
        let scope = context::reader_for(ctx, self.0.id)?;
        if scope.user_id().is_some() {
            context::require(ctx, Permission::TenantManage).await?;
        }
        let loaders = context::loaders(ctx, self.0.id)?;
        Ok(loaders
            .load_one(IntegrationsOf(self.0.id))
            .await
            .map_err(AppError::from)?
            .unwrap_or_default()
            .into_iter()
            .map(Integration)
            .collect())
    }
}

/// A named integration; the secret is only ever shown masked.
pub struct Integration(pub IntegrationRow);

#[Object]
impl Integration {
    async fn name(&self) -> &str {
        &self.0.name
    }

    async fn settings(&self) -> Json<serde_json::Value> {
        Json(self.0.settings.clone())
    }

    /// `••••abcd` when a secret is set (its last four characters, for secrets of 12 or more).
    async fn secret(&self) -> Option<String> {
        self.0
            .secret_ciphertext
            .as_ref()
            .map(|_| secrets::mask(self.0.secret_hint.as_deref()))
    }

    async fn updated_at(&self) -> DateTime<Utc> {
        self.0.updated_at
    }
}

#[derive(InputObject)]
pub struct BrandingInput {
    /// An https URL; null removes the logo, absent keeps it.
    pub logo: MaybeUndefined<String>,
    /// Named hex colors: {"primary": "#1a2b3c"}.
    pub colors: Option<Json<BTreeMap<String, String>>>,
}

#[derive(InputObject)]
pub struct IntegrationInput {
    /// Lower-case name, e.g. `slack`.
    pub name: String,
    /// Non-secret settings (a JSON object).
    pub settings: Option<Json<serde_json::Value>>,
    /// Stored encrypted; absent keeps the current secret.
    pub secret: Option<String>,
    /// Removes the integration.
    #[graphql(default = false)]
    pub remove: bool,
}

#[derive(InputObject)]
pub struct TenantFeaturesInput {
    pub sso: Option<bool>,
    pub api_access: Option<bool>,
    pub custom_domain: Option<bool>,
    /// Named custom flags to set.
    pub custom: Option<Json<BTreeMap<String, bool>>>,
}

#[derive(InputObject)]
pub struct TenantLimitsInput {
    pub users: Option<i32>,
    pub storage_gb: Option<i32>,
    pub api_calls_per_minute: Option<i32>,
}

#[derive(InputObject)]
pub struct UpdateTenantSettingsInput {
    pub name: Option<String>,
    pub branding: Option<BrandingInput>,
    pub integrations: Option<Vec<IntegrationInput>>,
    /// Days the data is kept after a deactivation, within the platform's bounds; null keeps
    /// the current setting.
    pub retention_days: Option<i32>,
    /// Sign-in needs a verified email (users get a verification mail); null keeps it.
    pub require_verified_email: Option<bool>,
    /// Set by the platform (the plan): FORBIDDEN here.
    pub features: Option<TenantFeaturesInput>,
    /// Set by the platform (the plan): FORBIDDEN here.
    pub limits: Option<TenantLimitsInput>,
}

#[derive(SimpleObject)]
pub struct TenantPayload {
    pub tenant: Tenant,
}

#[derive(Default)]
pub struct TenantQuery;

#[Object]
impl TenantQuery {
    /// The caller's tenant.
    async fn tenant(&self, ctx: &Context<'_>) -> Result<Tenant, AppError> {
        let scope = context::require(ctx, Permission::TenantRead).await?;
        Ok(Tenant((*context::tenant_row(ctx, &scope).await?).clone()))
    }

    /// The caller's tenant's metadata as one JSON document:
    /// {tenant_id, name, domain, branding{logo, colors}, features{sso, api_access, custom_domain},
    /// limits{users, storage_gb, api_calls_per_minute}}.
    async fn tenant_config(&self, ctx: &Context<'_>) -> Result<Json<serde_json::Value>, AppError> {
        let scope = if context::is_api_key(ctx)? {
            context::api_key_with(ctx, crate::domain::ApiKeyScope::TenantConfigRead).await?
        } else {
            context::member(ctx)?
        };
        let row = context::tenant_row(ctx, &scope).await?;
        Ok(Json(config_document(&row)))
    }
}

#[derive(Default)]
pub struct TenantMutation;

#[Object]
impl TenantMutation {
    /// Tenant admins change the name, branding and integration settings. Features and limits
    /// belong to the plan: FORBIDDEN here.
    async fn update_tenant_settings(
        &self,
        ctx: &Context<'_>,
        input: UpdateTenantSettingsInput,
    ) -> Result<TenantPayload, AppError> {
        if input.features.is_some() || input.limits.is_some() {
            return Err(AppError::forbidden(
                "features and limits come with the plan; a platform admin or a plan change sets them",
            ));
        }
        let mut integrations = Vec::new();
        for i in input.integrations.unwrap_or_default() {
            integrations.push(domain::IntegrationChange::parse(
                &i.name,
                i.settings.map(|s| s.0),
                i.secret,
                i.remove,
            )?);
        }
        let change = tenant_settings::SettingsChange {
            name: input
                .name
                .map(|n| domain::DisplayName::parse("name", &n))
                .transpose()?,
            branding: input.branding.map(|b| tenant_settings::BrandingChange {
                logo: match b.logo {
                    MaybeUndefined::Value(url) => tenant_settings::LogoChange::Set(url),
                    MaybeUndefined::Null => tenant_settings::LogoChange::Remove,
                    MaybeUndefined::Undefined => tenant_settings::LogoChange::Keep,
                },
                colors: b.colors.map(|c| c.0),
            }),
            integrations,
            retention_days: input.retention_days,
            require_verified_email: input.require_verified_email,
        };
        let scope = context::require(ctx, Permission::TenantManage).await?;
        let state = &scope.services.sign_in;
        tenant_settings::check(
            &change,
            &tenant_settings::SettingsBounds {
                retention_days: state.settings.retention_min_days
                    ..=state.settings.retention_max_days,
                webhook_allow_private: state.settings.webhook_allow_private,
            },
        )
        .await?;
        let tenant = scope
            .run(|tx| tenant_settings::update(tx, &state.secrets, change).scope_boxed())
            .await?;
        Ok(TenantPayload {
            tenant: Tenant(tenant),
        })
    }
}
