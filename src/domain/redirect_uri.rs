//! Redirect URIs of OAuth clients (RFC 9700 §2.1, §4.1.3): compared exactly, so they are
//! registered exactly. `https`, or `http` on a loopback address only (`127.0.0.1`, `[::1]`,
//! `localhost`: native apps and development); no fragment, no userinfo, no wildcard. The same
//! rules apply to post-logout redirect URIs and back-channel logout URIs.

use crate::domain::error::DomainError;

/// A registered redirect URI, kept exactly as registered (the comparison at `/oauth/authorize`
/// is a string equality).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RedirectUri(String);

impl RedirectUri {
    /// Checks `raw` for the `field` it came in (the error names it).
    pub fn parse(field: &str, raw: &str) -> Result<RedirectUri, DomainError> {
        let bad = |why: &str| DomainError::invalid(field, format!("{field}: {why}"));
        let raw = raw.trim();
        if raw.is_empty() || raw.len() > 2000 {
            return Err(bad("must be an absolute URL of at most 2000 characters"));
        }
        if raw.contains('*') {
            return Err(bad("wildcards are not allowed; register each URI exactly"));
        }
        if raw.contains('#') {
            return Err(bad("a fragment (#...) is not allowed"));
        }
        let url = url::Url::parse(raw).map_err(|_| bad("must be an absolute URL"))?;
        if !url.username().is_empty() || url.password().is_some() {
            return Err(bad("a user name or password in the URL is not allowed"));
        }
        let host = url.host().ok_or_else(|| bad("must name a host"))?;
        match url.scheme() {
            "https" => {}
            "http" if is_loopback(&host) => {}
            "http" => {
                return Err(bad(
                    "must use https (http only on 127.0.0.1, [::1] or localhost)",
                ));
            }
            _ => return Err(bad("must use https")),
        }
        Ok(RedirectUri(raw.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn into_string(self) -> String {
        self.0
    }
}

fn is_loopback(host: &url::Host<&str>) -> bool {
    match host {
        url::Host::Domain(d) => d.eq_ignore_ascii_case("localhost"),
        url::Host::Ipv4(ip) => ip.is_loopback(),
        url::Host::Ipv6(ip) => ip.is_loopback(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn https_and_loopback_http_are_accepted_exactly() {
        for ok in [
            "https://crm.example.com/callback",
            "https://crm.example.com:8443/cb?x=1",
            "http://127.0.0.1:8080/callback",
            "http://localhost/cb",
            "http://[::1]:9000/cb",
        ] {
            assert_eq!(RedirectUri::parse("redirectUri", ok).unwrap().as_str(), ok);
        }
    }

    #[test]
    fn plain_http_fragments_wildcards_and_userinfo_are_refused() {
        for bad in [
            "http://crm.example.com/callback",
            "https://crm.example.com/cb#frag",
            "https://*.example.com/cb",
            "https://crm.example.com/*",
            "https://user:pw@crm.example.com/cb",
            "https://user@crm.example.com/cb",
            "javascript:alert(1)",
            "/relative/path",
            "ftp://crm.example.com/cb",
            "",
            "crm.example.com/cb",
        ] {
            let e = RedirectUri::parse("redirectUri", bad).unwrap_err();
            assert_eq!(e.field, "redirectUri", "{bad}");
        }
    }
}
