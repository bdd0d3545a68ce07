//! A tenant's configuration: branding, feature flags and resource limits, as stored in the
//! tenants row (jsonb) and shown in `tenantConfig` in the shape product teams know:
//! `{tenant_id, name, domain, branding{logo, colors}, features{sso, api_access, custom_domain},
//! limits{users, storage_gb, api_calls_per_minute}}`.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::domain::DomainError;

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Branding {
    /// An https URL of the logo image.
    #[serde(default)]
    pub logo: Option<String>,
    /// Named colors, e.g. {"primary": "#1a2b3c"}.
    #[serde(default)]
    pub colors: BTreeMap<String, String>,
}

impl Branding {
    /// Checks the logo URL (https, or http on localhost for development) and the colors
    /// (names of letters, digits, - and _; values #rgb or #rrggbb).
    pub fn validate(&self) -> Result<(), DomainError> {
        if let Some(logo) = &self.logo {
            let url = url::Url::parse(logo).map_err(|_| {
                DomainError::invalid("branding.logo", "branding.logo must be an absolute URL")
            })?;
            let local = matches!(url.host_str(), Some("localhost" | "127.0.0.1"));
            if !(url.scheme() == "https" || (url.scheme() == "http" && local)) || logo.len() > 2048
            {
                return Err(DomainError::invalid(
                    "branding.logo",
                    "branding.logo must be an https URL",
                ));
            }
        }
        if self.colors.len() > 32 {
            return Err(DomainError::invalid("branding.colors", "at most 32 colors"));
        }
        for (name, value) in &self.colors {
            let name_ok = (1..=32).contains(&name.len())
                && name
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
            let hex = value.strip_prefix('#').unwrap_or("");
            let value_ok = matches!(hex.len(), 3 | 6) && hex.bytes().all(|b| b.is_ascii_hexdigit());
            if !name_ok || !value_ok {
                return Err(DomainError::invalid(
                    "branding.colors",
                    format!("color {name:?} must be a hex value such as #1a2b3c"),
                ));
            }
        }
        Ok(())
    }
}

/// Feature flags; set by the platform (the plan), not by tenant admins.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Features {
    #[serde(default)]
    pub sso: bool,
    #[serde(default = "yes")]
    pub api_access: bool,
    #[serde(default)]
    pub custom_domain: bool,
    /// Further named flags.
    #[serde(default)]
    pub custom: BTreeMap<String, bool>,
}

fn yes() -> bool {
    true
}

impl Default for Features {
    fn default() -> Self {
        Features {
            sso: false,
            api_access: true,
            custom_domain: false,
            custom: BTreeMap::new(),
        }
    }
}

/// Resource limits; set by the platform (the plan).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Limits {
    pub users: i32,
    pub storage_gb: i32,
    pub api_calls_per_minute: i32,
}

impl Default for Limits {
    /// The free plan's limits.
    fn default() -> Self {
        Limits {
            users: 25,
            storage_gb: 5,
            api_calls_per_minute: 600,
        }
    }
}

impl Limits {
    pub fn validate(&self) -> Result<(), DomainError> {
        if self.users < 1 {
            return Err(DomainError::invalid(
                "limits.users",
                "limits.users must be at least 1",
            ));
        }
        if self.storage_gb < 0 {
            return Err(DomainError::invalid(
                "limits.storageGb",
                "limits.storageGb must not be negative",
            ));
        }
        if self.api_calls_per_minute < 1 {
            return Err(DomainError::invalid(
                "limits.apiCallsPerMinute",
                "limits.apiCallsPerMinute must be at least 1",
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn branding_accepts_https_logos_and_hex_colors() {
        let mut b = Branding {
            logo: Some("https://cdn.example.com/logo.png".into()),
            ..Default::default()
        };
        b.colors.insert("primary".into(), "#1a2B3c".into());
        assert!(b.validate().is_ok());
        b.colors.insert("accent".into(), "red".into());
        assert_eq!(b.validate().unwrap_err().field, "branding.colors");
        let b = Branding {
            logo: Some("javascript:alert(1)".into()),
            ..Default::default()
        };
        assert!(b.validate().is_err());
    }

    #[test]
    fn stored_json_with_missing_fields_reads_with_defaults() {
        let f: Features = serde_json::from_str("{}").unwrap();
        assert_eq!(f, Features::default());
    }
}

/// What the platform set for one tenant over its plan's values (`adminSetTenantLimits`). The
/// effective features and limits are the plan's with these laid over them, so changing the plan
/// keeps what the platform decided.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlanOverrides {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub users: Option<i32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub storage_gb: Option<i32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_calls_per_minute: Option<i32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sso: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_access: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub custom_domain: Option<bool>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub custom: BTreeMap<String, bool>,
}

impl PlanOverrides {
    /// `self` with what `patch` sets laid over it.
    pub fn merged(mut self, patch: PlanOverrides) -> PlanOverrides {
        self.users = patch.users.or(self.users);
        self.storage_gb = patch.storage_gb.or(self.storage_gb);
        self.api_calls_per_minute = patch.api_calls_per_minute.or(self.api_calls_per_minute);
        self.sso = patch.sso.or(self.sso);
        self.api_access = patch.api_access.or(self.api_access);
        self.custom_domain = patch.custom_domain.or(self.custom_domain);
        self.custom.extend(patch.custom);
        self
    }

    /// The plan's values with these overrides laid over them, the limits checked.
    pub fn apply(&self, plan: (Features, Limits)) -> Result<(Features, Limits), DomainError> {
        let (mut features, mut limits) = plan;
        limits.users = self.users.unwrap_or(limits.users);
        limits.storage_gb = self.storage_gb.unwrap_or(limits.storage_gb);
        limits.api_calls_per_minute = self
            .api_calls_per_minute
            .unwrap_or(limits.api_calls_per_minute);
        features.sso = self.sso.unwrap_or(features.sso);
        features.api_access = self.api_access.unwrap_or(features.api_access);
        features.custom_domain = self.custom_domain.unwrap_or(features.custom_domain);
        features.custom.extend(self.custom.clone());
        limits.validate()?;
        Ok((features, limits))
    }
}

#[cfg(test)]
mod overrides_tests {
    use super::*;

    #[test]
    fn overrides_win_over_any_plan_and_later_patches_win_over_earlier_ones() {
        let o = PlanOverrides {
            users: Some(500),
            ..Default::default()
        }
        .merged(PlanOverrides {
            sso: Some(true),
            ..Default::default()
        });
        let (features, limits) = o.apply((Features::default(), Limits::default())).unwrap();
        assert_eq!(
            (limits.users, limits.api_calls_per_minute, features.sso),
            (500, 600, true)
        );
        let bigger = Limits {
            users: 10_000,
            storage_gb: 2000,
            api_calls_per_minute: 20_000,
        };
        let (_, limits) = o.apply((Features::default(), bigger)).unwrap();
        assert_eq!(limits.users, 500, "the platform's value, whatever the plan");
    }
}

/// Who of a tenant must sign in with a second factor (`requireMfa` of the tenant's
/// configuration). A user who must and has none is led through enrolment at sign-in.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RequireMfa {
    /// Nobody (users may still enrol, and then always use their factor).
    #[default]
    Off,
    /// Holders of the tenant-wide owner or admin role.
    AdminsAndOwners,
    /// Every member.
    Everyone,
}

impl RequireMfa {
    /// The value stored in `mfa_policies.require_mfa`.
    pub fn as_str(self) -> &'static str {
        match self {
            RequireMfa::Off => "off",
            RequireMfa::AdminsAndOwners => "admins",
            RequireMfa::Everyone => "everyone",
        }
    }

    pub fn parse(stored: &str) -> RequireMfa {
        match stored {
            "admins" => RequireMfa::AdminsAndOwners,
            "everyone" => RequireMfa::Everyone,
            _ => RequireMfa::Off,
        }
    }

    /// Whether a user who is (`is_admin`) or is not an owner or admin must use a second factor.
    pub fn applies_to(self, is_admin: bool) -> bool {
        match self {
            RequireMfa::Off => false,
            RequireMfa::AdminsAndOwners => is_admin,
            RequireMfa::Everyone => true,
        }
    }
}
