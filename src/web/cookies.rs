//! The hosted pages' cookies, built in one place: every one is host-only (`__Host-` names, no
//! Domain), `Path=/`, `Secure` and `HttpOnly`; each differs only in its SameSite and lifetime.
//! A removal is the same cookie, empty, with `Max-Age=0` (a browser drops a cookie only when
//! the attributes that identify it match).

use actix_web::cookie::{Cookie, SameSite, time::Duration};

/// How long a cookie lives in the browser.
#[derive(Debug, Clone, Copy)]
pub enum Lifetime {
    /// Until the browser session ends (the server ends what it names on its own terms).
    BrowserSession,
    /// `Max-Age`, in seconds.
    Seconds(i64),
}

/// A cookie of the hosted pages.
pub fn cookie(
    name: &'static str,
    value: String,
    same_site: SameSite,
    lifetime: Lifetime,
) -> Cookie<'static> {
    let mut built = Cookie::build(name, value)
        .path("/")
        .secure(true)
        .http_only(true)
        .same_site(same_site);
    if let Lifetime::Seconds(secs) = lifetime {
        built = built.max_age(Duration::seconds(secs));
    }
    built.finish()
}

/// The cookie that removes cookie `name` (set with `same_site`).
pub fn removal(name: &'static str, same_site: SameSite) -> Cookie<'static> {
    cookie(name, String::new(), same_site, Lifetime::Seconds(0))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cookies_are_host_only_secure_and_http_only_and_removals_match_them() {
        let set = cookie(
            "__Host-x",
            "v".into(),
            SameSite::Strict,
            Lifetime::Seconds(60),
        )
        .to_string();
        for attribute in [
            "Path=/",
            "Secure",
            "HttpOnly",
            "SameSite=Strict",
            "Max-Age=60",
        ] {
            assert!(set.contains(attribute), "{set}");
        }
        assert!(!set.contains("Domain"), "{set}");
        let session = cookie(
            "__Host-x",
            "v".into(),
            SameSite::Lax,
            Lifetime::BrowserSession,
        )
        .to_string();
        assert!(!session.contains("Max-Age"), "{session}");
        let gone = removal("__Host-x", SameSite::Strict).to_string();
        assert!(gone.starts_with("__Host-x=;"), "{gone}");
        assert!(
            gone.contains("Max-Age=0") && gone.contains("SameSite=Strict"),
            "{gone}"
        );
    }
}
