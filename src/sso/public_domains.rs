//! The email domains anyone can get an address at (gmail.com, outlook.com, …): no tenant may
//! claim one, or its users' logins would be routed to that tenant. The list is shipped with the
//! hub in `public_email_domains.txt`.

use std::{collections::HashSet, sync::LazyLock};

static LIST: LazyLock<HashSet<&'static str>> = LazyLock::new(|| {
    include_str!("public_email_domains.txt")
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .collect()
});

/// Whether `domain` (lower-case) is a public email domain or a subdomain of one.
pub fn is_public(domain: &str) -> bool {
    let mut rest = domain;
    loop {
        if LIST.contains(rest) {
            return true;
        }
        match rest.split_once('.') {
            Some((_, parent)) if parent.contains('.') => rest = parent,
            _ => return false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn public_domains_and_their_subdomains_are_recognised() {
        assert!(is_public("gmail.com"));
        assert!(is_public("outlook.com"));
        assert!(is_public("mail.yahoo.com"));
        assert!(!is_public("acme.com"));
        assert!(!is_public("gmail.com.acme.com"));
        assert!(!is_public("com"));
    }
}
