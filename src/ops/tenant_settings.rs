//! A tenant admin's changes to the tenant's own settings (updateTenantSettings): the name, the
//! branding, the integrations (their secrets sealed with the secrets key), the retention after
//! a deactivation and whether sign-in needs a verified email. Features and limits belong to the
//! plan and the platform ([`crate::ops::plans`]), not here.

use chrono::Utc;
use serde_json::json;
use std::collections::BTreeMap;

use crate::{
    db::{
        TenantTx,
        audit::AuditEvent,
        models::{IntegrationRow, TenantRow},
    },
    domain::{Action, DisplayName, IntegrationChange},
    error::{AppError, AppResult},
    ops::Done,
    secrets::{self, SecretBox},
};

/// What changes to the logo: kept, removed or replaced.
#[derive(Debug, Clone, Default)]
pub enum LogoChange {
    #[default]
    Keep,
    Remove,
    Set(String),
}

/// A branding change: the logo, and the colors (all of them replaced) when given.
#[derive(Debug, Clone, Default)]
pub struct BrandingChange {
    pub logo: LogoChange,
    pub colors: Option<BTreeMap<String, String>>,
}

/// The settings to change; what is absent stays as it is.
#[derive(Debug, Clone, Default)]
pub struct SettingsChange {
    pub name: Option<DisplayName>,
    pub branding: Option<BrandingChange>,
    pub integrations: Vec<IntegrationChange>,
    pub retention_days: Option<i32>,
    pub require_verified_email: Option<bool>,
}

/// The bounds a change is checked against before its transaction.
pub struct SettingsBounds {
    /// The retention the platform allows (HUB_RETENTION_MIN_DAYS..=HUB_RETENTION_MAX_DAYS).
    pub retention_days: std::ops::RangeInclusive<i32>,
    /// Whether webhook URLs may point at private addresses (HUB_WEBHOOK_ALLOW_PRIVATE).
    pub webhook_allow_private: bool,
}

/// The checks that need no transaction: the retention bounds and each integration's settings
/// (a webhook URL is resolved and its addresses checked, which must not hold a connection).
pub async fn check(change: &SettingsChange, bounds: &SettingsBounds) -> AppResult<()> {
    if let Some(days) = change.retention_days
        && !bounds.retention_days.contains(&days)
    {
        return Err(AppError::bad_input(
            "retentionDays",
            format!(
                "retentionDays must be between {} and {}",
                bounds.retention_days.start(),
                bounds.retention_days.end()
            ),
        ));
    }
    for change in &change.integrations {
        if let IntegrationChange::Set { name, settings, .. } = change {
            crate::alerts::validate_integration(name, Some(settings), bounds.webhook_allow_private)
                .await?;
        }
    }
    Ok(())
}

/// Applies `change` to the tenant of `tx` (after [`check`]); the audit event lists what
/// changed, never a secret.
pub async fn update(
    tx: &mut TenantTx,
    secrets_key: &SecretBox,
    change: SettingsChange,
) -> AppResult<Done<TenantRow>> {
    let tenant_id = tx.tenant_id();
    let current = TenantRow::current(tx, tenant_id).await?;
    let mut branding = current.branding();
    let mut changed = serde_json::Map::new();
    if let Some(b) = change.branding {
        match b.logo {
            LogoChange::Set(url) => branding.logo = Some(url),
            LogoChange::Remove => branding.logo = None,
            LogoChange::Keep => {}
        }
        if let Some(colors) = b.colors {
            branding.colors = colors;
        }
        branding.validate()?;
        changed.insert(
            "branding".into(),
            serde_json::to_value(&branding).unwrap_or_default(),
        );
    }
    if let Some(n) = &change.name {
        changed.insert("name".into(), json!(n.as_str()));
    }
    if let Some(days) = change.retention_days {
        TenantRow::set_retention(tx, tenant_id, Some(days)).await?;
        changed.insert("retention_days".into(), json!(days));
    }
    if let Some(required) = change.require_verified_email {
        crate::db::models::mail::set_requires_verified_email(tx, tenant_id, required).await?;
        changed.insert("require_verified_email".into(), json!(required));
    }
    let name = change
        .name
        .as_ref()
        .map_or(current.name.as_str(), DisplayName::as_str);
    let tenant = TenantRow::update_settings(tx, tenant_id, name, &branding).await?;
    let mut touched = Vec::new();
    for integration in change.integrations {
        match integration {
            IntegrationChange::Remove { name } => {
                IntegrationRow::remove(tx, &name).await?;
                touched.push(json!({ "name": name, "removed": true }));
            }
            IntegrationChange::Set {
                name,
                settings,
                secret,
            } => {
                let sealed = match &secret {
                    Some(secret) => Some(secrets_key.seal(tenant_id, &name, secret)?),
                    None => None,
                };
                let row = IntegrationRow {
                    tenant_id,
                    name: name.clone(),
                    settings,
                    secret_hint: secret.as_deref().and_then(secrets::hint_of),
                    secret_ciphertext: sealed,
                    updated_at: Utc::now(),
                };
                crate::alerts::ensure_webhook_secret(tx, &name, secret.is_some()).await?;
                IntegrationRow::upsert(tx, &row, secret.is_none()).await?;
                // Never the secret itself.
                touched.push(json!({ "name": name, "secret_changed": secret.is_some() }));
            }
        }
    }
    if !touched.is_empty() {
        changed.insert("integrations".into(), json!(touched));
    }
    Ok(Done::audited(
        tenant,
        AuditEvent::new(Action::TenantSettingsUpdated)
            .target("tenant", tenant_id)
            .details(changed.into()),
    ))
}
