//! A tenant's configuration: branding, feature flags and resource limits, as stored in the
//! tenants row (jsonb) and shown in `tenantConfig` in the shape product teams know:
//! `{tenant_id, name, domain, branding{logo, colors}, features{sso, api_access, custom_domain},
//! limits{users, storage_gb, api_calls_per_minute}}`.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::error::AppError;

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
    pub fn validate(&self) -> Result<(), AppError> {
        if let Some(logo) = &self.logo {
            let url = url::Url::parse(logo).map_err(|_| {
                AppError::bad_input("branding.logo", "branding.logo must be an absolute URL")
            })?;
            let local = matches!(url.host_str(), Some("localhost" | "127.0.0.1"));
            if !(url.scheme() == "https" || (url.scheme() == "http" && local)) || logo.len() > 2048
            {
                return Err(AppError::bad_input(
                    "branding.logo",
                    "branding.logo must be an https URL",
                ));
            }
        }
        if self.colors.len() > 32 {
            return Err(AppError::bad_input("branding.colors", "at most 32 colors"));
        }
        for (name, value) in &self.colors {
            let name_ok = (1..=32).contains(&name.len())
                && name
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
            let hex = value.strip_prefix('#').unwrap_or("");
            let value_ok = matches!(hex.len(), 3 | 6) && hex.bytes().all(|b| b.is_ascii_hexdigit());
            if !name_ok || !value_ok {
                return Err(AppError::bad_input(
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
    pub fn validate(&self) -> Result<(), AppError> {
        if self.users < 1 {
            return Err(AppError::bad_input(
                "limits.users",
                "limits.users must be at least 1",
            ));
        }
        if self.storage_gb < 0 {
            return Err(AppError::bad_input(
                "limits.storageGb",
                "limits.storageGb must not be negative",
            ));
        }
        if self.api_calls_per_minute < 1 {
            return Err(AppError::bad_input(
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
        assert_eq!(
            b.validate().unwrap_err().field.as_deref(),
            Some("branding.colors")
        );
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
