//! Slugs: short lower-case names for URLs (`acme-corp`), given or derived from a name.
//!
//! A slug is also one of the keys a login may name its tenant by (with the domain and the id),
//! so a slug never looks like a UUID: a tenant could otherwise take another tenant's id as its
//! slug.

use crate::domain::DomainError;

/// The most characters of a slug.
pub const MAX_SLUG_LEN: usize = 63;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Slug(String);

impl Slug {
    /// 2–63 characters of a–z, 0–9 and inner single hyphens, and not UUID-shaped.
    pub fn parse(field: &str, raw: &str) -> Result<Slug, DomainError> {
        let s = raw.trim();
        if !well_formed(s) {
            return Err(DomainError::invalid(
                field,
                format!(
                    "{field} must be 2-{MAX_SLUG_LEN} characters of a-z, 0-9 and single inner hyphens"
                ),
            ));
        }
        if looks_like_uuid(s) {
            return Err(DomainError::invalid(
                field,
                format!("{field} must not look like an id (a UUID)"),
            ));
        }
        Ok(Slug(s.to_owned()))
    }

    /// Derives a slug from a display name of any script: transliterated to ASCII
    /// (`Müller & Söhne` → `muller-sohne`, `株式会社` → `zhu-shi-hui-she`), lower-cased, every
    /// other run of characters one hyphen. When too little remains (`X`) or the result looks
    /// like a UUID, the slug is `<prefix>-` and 8 random characters (`tenant-k3x9q2mz`); the
    /// name itself is never refused for its slug.
    pub fn derive(prefix: &str, name: &str) -> Slug {
        let ascii = deunicode::deunicode_with_tofu(name, "-");
        let mut out = String::new();
        for c in ascii.chars() {
            if c.is_ascii_alphanumeric() {
                out.push(c.to_ascii_lowercase());
            } else if !out.is_empty() && !out.ends_with('-') {
                out.push('-');
            }
        }
        let cut: String = out.chars().take(MAX_SLUG_LEN).collect();
        let candidate = cut.trim_end_matches('-');
        match Slug::parse("slug", candidate) {
            Ok(slug) => slug,
            Err(_) => Slug::fallback(prefix),
        }
    }

    /// `<prefix>-` and 8 random characters of a–z and 0–9.
    pub fn fallback(prefix: &str) -> Slug {
        use rand::Rng;
        const ALPHABET: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789";
        let mut rng = rand::rng();
        let suffix: String = (0..8)
            .map(|_| ALPHABET[rng.random_range(0..ALPHABET.len())] as char)
            .collect();
        Slug(format!("{prefix}-{suffix}"))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

fn well_formed(s: &str) -> bool {
    (2..=MAX_SLUG_LEN).contains(&s.len())
        && !s.starts_with('-')
        && !s.ends_with('-')
        && !s.contains("--")
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
}

/// Whatever `Uuid::parse_str` would read as a UUID (hyphenated or 32 bare hex digits): the
/// login lookup reads such a key as an id.
fn looks_like_uuid(s: &str) -> bool {
    uuid::Uuid::try_parse(s).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn derives_slugs_from_names_in_any_script() {
        for (name, slug) in [
            ("Acme Corp, Inc.", "acme-corp-inc"),
            ("  Déjà vu 2 ", "deja-vu-2"),
            ("Müller & Söhne GmbH", "muller-sohne-gmbh"),
            ("ООО «Ромашка»", "ooo-romashka"),
        ] {
            assert_eq!(Slug::derive("tenant", name).as_str(), slug, "{name}");
        }
        assert_eq!(
            Slug::derive("tenant", "株式会社テスト").as_str(),
            "zhu-shi-hui-she-tesuto"
        );
        assert_eq!(Slug::derive("tenant", "🚀🚀").as_str(), "rocket-rocket");
        let long = Slug::derive("tenant", &"Ab ".repeat(100));
        assert!(long.as_str().len() <= MAX_SLUG_LEN && !long.as_str().ends_with('-'));
    }

    #[test]
    fn names_that_leave_no_usable_slug_get_a_random_one_with_the_prefix() {
        for name in [
            "X",
            "!!!",
            "\u{3000}",
            "123e4567-e89b-12d3-a456-426614174000",
        ] {
            let slug = Slug::derive("workspace", name);
            let (prefix, rest) = slug.as_str().split_once('-').unwrap();
            assert_eq!(prefix, "workspace", "{name}");
            assert_eq!(rest.len(), 8);
            assert!(Slug::parse("slug", slug.as_str()).is_ok());
        }
        assert_ne!(Slug::derive("tenant", "X"), Slug::derive("tenant", "X"));
    }

    #[test]
    fn refuses_bad_slugs() {
        for bad in ["a", "Acme", "-acme", "acme-", "ac--me", "ac_me", "über"] {
            assert!(Slug::parse("slug", bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn refuses_slugs_that_look_like_uuids() {
        for uuid_like in [
            "123e4567-e89b-12d3-a456-426614174000",
            "123e4567e89b12d3a456426614174000",
        ] {
            let err = Slug::parse("slug", uuid_like).unwrap_err();
            assert!(err.message.contains("UUID"), "{}", err.message);
        }
        assert!(Slug::parse("slug", "123e4567-e89b-12d3-a456-42661417400").is_ok());
    }
}
