//! Slugs: short lower-case names for URLs (`acme-corp`), given or derived from a name.

use crate::error::AppError;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Slug(String);

impl Slug {
    /// 2–63 characters of a–z, 0–9 and inner single hyphens.
    pub fn parse(field: &str, raw: &str) -> Result<Slug, AppError> {
        let s = raw.trim();
        let ok = (2..=63).contains(&s.len())
            && !s.starts_with('-')
            && !s.ends_with('-')
            && !s.contains("--")
            && s.bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
        if ok {
            Ok(Slug(s.to_owned()))
        } else {
            Err(AppError::bad_input(
                field,
                format!("{field} must be 2-63 characters of a-z, 0-9 and single inner hyphens"),
            ))
        }
    }

    /// Derives a slug from a display name: ASCII letters and digits kept, lower-cased, every
    /// other run of characters becomes one hyphen.
    pub fn derive(field: &str, name: &str) -> Result<Slug, AppError> {
        let mut out = String::new();
        for c in name.chars() {
            if c.is_ascii_alphanumeric() {
                out.push(c.to_ascii_lowercase());
            } else if !out.is_empty() && !out.ends_with('-') {
                out.push('-');
            }
        }
        let trimmed: String = out.trim_end_matches('-').chars().take(63).collect();
        Slug::parse(field, trimmed.trim_end_matches('-'))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn derives_slugs_from_names() {
        assert_eq!(
            Slug::derive("slug", "Acme Corp, Inc.").unwrap().as_str(),
            "acme-corp-inc"
        );
        assert_eq!(
            Slug::derive("slug", "  Déjà vu 2 ").unwrap().as_str(),
            "d-j-vu-2"
        );
    }

    #[test]
    fn refuses_bad_slugs() {
        for bad in ["a", "Acme", "-acme", "acme-", "ac--me", "ac_me"] {
            assert!(Slug::parse("slug", bad).is_err(), "{bad}");
        }
        assert!(Slug::derive("name", "!!!").is_err());
    }
}
