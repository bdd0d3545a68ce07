//! Tenant domains: lower-case DNS names such as `acme.example.com`.

use crate::domain::DomainError;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hostname(String);

impl Hostname {
    /// Lower-cases and checks RFC 1123 label rules: at least two labels, each 1–63 characters of
    /// letters, digits and inner hyphens; 253 characters at most; a top-level label not numeric.
    pub fn parse(field: &str, raw: &str) -> Result<Hostname, DomainError> {
        let s = raw.trim().trim_end_matches('.').to_ascii_lowercase();
        let bad = || {
            DomainError::invalid(
                field,
                format!("{field} must be a domain name such as acme.example.com"),
            )
        };
        if s.is_empty() || s.len() > 253 {
            return Err(bad());
        }
        let labels: Vec<&str> = s.split('.').collect();
        if labels.len() < 2 {
            return Err(bad());
        }
        for label in &labels {
            let ok = !label.is_empty()
                && label.len() <= 63
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
            if !ok {
                return Err(bad());
            }
        }
        if labels
            .last()
            .is_some_and(|tld| tld.bytes().all(|b| b.is_ascii_digit()))
        {
            return Err(bad());
        }
        Ok(Hostname(s))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lowercases_valid_domains() {
        assert_eq!(
            Hostname::parse("domain", "Acme.Example.COM.")
                .unwrap()
                .as_str(),
            "acme.example.com"
        );
    }

    #[test]
    fn refuses_malformed_domains() {
        for bad in [
            "",
            "acme",
            "-acme.com",
            "acme-.com",
            "ac me.com",
            "acme..com",
            "127.0.0.1",
            "acme.com/x",
            "ä.com",
        ] {
            assert!(Hostname::parse("domain", bad).is_err(), "{bad}");
        }
    }
}
