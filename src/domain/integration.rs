//! A tenant's integration settings as a tenant admin changes them (updateTenantSettings): a
//! lower-case name, non-secret settings as a JSON object, and an optional secret (stored
//! sealed), or the integration's removal.

use crate::domain::DomainError;

/// The most bytes of an integration's secret.
pub const MAX_SECRET_BYTES: usize = 4096;

/// One integration to set or remove, validated.
#[derive(Debug, Clone, PartialEq)]
pub enum IntegrationChange {
    /// Removes the integration `name`.
    Remove { name: String },
    /// Creates or replaces `name`'s settings; `secret` absent keeps the stored secret.
    Set {
        name: String,
        settings: serde_json::Value,
        secret: Option<String>,
    },
}

impl IntegrationChange {
    /// Validates one integration of the input: its name (lower-case letters, digits, `_` and
    /// `-`, starting with a letter, at most 63), settings that are a JSON object, and a secret
    /// of 1 to [`MAX_SECRET_BYTES`].
    pub fn parse(
        name: &str,
        settings: Option<serde_json::Value>,
        secret: Option<String>,
        remove: bool,
    ) -> Result<IntegrationChange, DomainError> {
        let valid = !name.is_empty()
            && name.len() <= 63
            && name.starts_with(|c: char| c.is_ascii_lowercase())
            && name
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-');
        if !valid {
            return Err(DomainError::invalid(
                "integrations.name",
                "integration names are lower-case letters, digits, _ and -",
            ));
        }
        if remove {
            return Ok(IntegrationChange::Remove {
                name: name.to_owned(),
            });
        }
        if settings.as_ref().is_some_and(|s| !s.is_object()) {
            return Err(DomainError::invalid(
                "integrations.settings",
                "settings must be a JSON object",
            ));
        }
        if secret
            .as_ref()
            .is_some_and(|s| s.is_empty() || s.len() > MAX_SECRET_BYTES)
        {
            return Err(DomainError::invalid(
                "integrations.secret",
                format!("a secret must have 1 to {MAX_SECRET_BYTES} characters"),
            ));
        }
        Ok(IntegrationChange::Set {
            name: name.to_owned(),
            settings: settings.unwrap_or_else(|| serde_json::json!({})),
            secret,
        })
    }

    pub fn name(&self) -> &str {
        match self {
            IntegrationChange::Remove { name } | IntegrationChange::Set { name, .. } => name,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn integration_changes_are_validated_field_by_field() {
        let field = |r: Result<IntegrationChange, DomainError>| r.unwrap_err().field;
        assert_eq!(
            field(IntegrationChange::parse("Slack", None, None, false)),
            "integrations.name"
        );
        assert_eq!(
            field(IntegrationChange::parse("", None, None, true)),
            "integrations.name"
        );
        assert_eq!(
            field(IntegrationChange::parse(
                "slack",
                Some(json!([1])),
                None,
                false
            )),
            "integrations.settings"
        );
        assert_eq!(
            field(IntegrationChange::parse(
                "slack",
                None,
                Some(String::new()),
                false
            )),
            "integrations.secret"
        );
        assert_eq!(
            IntegrationChange::parse("slack", Some(json!([1])), None, true).unwrap(),
            IntegrationChange::Remove {
                name: "slack".into()
            },
            "a removal ignores the settings"
        );
        assert_eq!(
            IntegrationChange::parse("web-hook_2", None, Some("s".into()), false).unwrap(),
            IntegrationChange::Set {
                name: "web-hook_2".into(),
                settings: json!({}),
                secret: Some("s".into())
            }
        );
    }
}
