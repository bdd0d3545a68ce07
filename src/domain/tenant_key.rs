//! How a login (or an operator on the command line) names a tenant: by its id (a UUID in any
//! spelling, or its GraphQL global id), its domain or its slug.

use uuid::Uuid;

/// A tenant key as typed, read both ways: as an id where it is one, and as a domain or slug.
/// Several tenants may match one key (tenant A's slug may be tenant B's domain); they are
/// ranked id, then domain, then slug (see [`TenantKey::rank`]), never by table order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TenantKey {
    /// The id the key spells, if it spells one.
    pub id: Option<Uuid>,
    /// The key trimmed and lower-cased, compared with domains and slugs.
    pub name: String,
}

impl TenantKey {
    pub fn parse(raw: &str) -> TenantKey {
        let raw = raw.trim();
        let id = Uuid::try_parse(raw).ok().or_else(|| {
            super::global_id::decode(raw)
                .filter(|(kind, _)| kind == "Tenant")
                .map(|(_, id)| id)
        });
        TenantKey {
            id,
            name: raw.to_lowercase(),
        }
    }

    /// How well a tenant with this id, domain and slug matches the key: 0 by id, 1 by domain,
    /// 2 by slug; `None` when it does not match.
    pub fn rank(&self, id: Uuid, domain: Option<&str>, slug: &str) -> Option<u8> {
        if self.id == Some(id) {
            Some(0)
        } else if domain == Some(self.name.as_str()) {
            Some(1)
        } else if slug == self.name {
            Some(2)
        } else {
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_spelling_an_id_matches_by_id_before_domain_and_slug() {
        let id = Uuid::new_v4();
        let key = TenantKey::parse(&format!(" {} ", id.simple()));
        assert_eq!(key.id, Some(id));
        assert_eq!(key.rank(id, Some("a.example.com"), "a"), Some(0));
        let other = Uuid::new_v4();
        assert_eq!(key.rank(other, None, &id.simple().to_string()), Some(2));

        let global = crate::domain::global_id::encode("Tenant", id);
        assert_eq!(TenantKey::parse(global.as_str()).id, Some(id));
        let user = crate::domain::global_id::encode("User", id);
        assert_eq!(TenantKey::parse(user.as_str()).id, None);
    }

    #[test]
    fn a_domain_outranks_a_slug() {
        let key = TenantKey::parse("Acme.Example.com");
        assert_eq!(key.id, None);
        let (a, b) = (Uuid::new_v4(), Uuid::new_v4());
        assert_eq!(key.rank(a, Some("acme.example.com"), "acme"), Some(1));
        assert_eq!(
            key.rank(b, Some("b.example.com"), "acme.example.com"),
            Some(2)
        );
        assert_eq!(key.rank(b, Some("b.example.com"), "b"), None);
    }
}
