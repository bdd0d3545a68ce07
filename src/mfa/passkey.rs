//! Passkeys (WebAuthn, with webauthn-rs), the parts without I/O: the relying party from the
//! settings, and the options sent to the browser. A passkey is user-verified (webauthn-rs
//! requires UV), so one counts as two factors (`hwk`, see [`super::claims::acr_of`]).
//!
//! The ceremonies and credentials are stored by `ops::passkeys`.

use url::Url;
use webauthn_rs::{Webauthn, WebauthnBuilder};

use crate::error::{AppError, AppResult, Reason};

/// How long a registration or sign-in ceremony can be finished.
pub const CEREMONY_TTL_SECS: i64 = 300;

/// The longest label a passkey may have.
pub const MAX_LABEL_CHARS: usize = 64;

fn unavailable(why: &str) -> AppError {
    AppError::conflict(format!("passkeys are not available on this hub: {why}"))
        .with_reason(Reason::PasskeysUnavailable)
}

/// The relying-party id and origin: the settings, else the public URL's host and origin.
pub fn rp_id_and_origin(
    public_url: &str,
    rp_id: Option<&str>,
    origin: Option<&str>,
) -> AppResult<(String, Url)> {
    let origin = Url::parse(origin.unwrap_or(public_url))
        .map_err(|_| unavailable("the WebAuthn origin is not a URL"))?;
    let rp_id = match rp_id {
        Some(id) => id.to_owned(),
        None => match origin.host() {
            Some(url::Host::Domain(d)) => d.to_owned(),
            _ => {
                return Err(unavailable(
                    "the relying-party id must be a domain, not an IP",
                ));
            }
        },
    };
    Ok((rp_id, origin))
}

/// The relying party of this hub, `rp_name` shown by the browser.
pub fn relying_party(
    public_url: &str,
    rp_id: Option<&str>,
    origin: Option<&str>,
    rp_name: &str,
) -> AppResult<Webauthn> {
    let (rp_id, origin) = rp_id_and_origin(public_url, rp_id, origin)?;
    WebauthnBuilder::new(&rp_id, &origin)
        .map_err(|_| unavailable("the relying-party id does not match the origin"))?
        .rp_name(rp_name)
        .build()
        .map_err(|_| unavailable("the relying party could not be built"))
}

/// The registration options as the browser gets them: a discoverable credential is asked
/// for (`residentKey: required`), so the passkey also signs in without a password.
pub fn creation_options(ccr: &impl serde::Serialize) -> AppResult<serde_json::Value> {
    let mut v = serde_json::to_value(ccr).map_err(AppError::internal)?;
    if let Some(sel) = v
        .get_mut("publicKey")
        .and_then(|p| p.get_mut("authenticatorSelection"))
        .and_then(|s| s.as_object_mut())
    {
        sel.insert("residentKey".into(), "required".into());
        sel.insert("requireResidentKey".into(), true.into());
    }
    Ok(v)
}

/// A label from the user's input: trimmed, at most [`MAX_LABEL_CHARS`], "Passkey" if empty.
pub fn label(raw: Option<&str>) -> AppResult<String> {
    let l = raw.map(str::trim).unwrap_or_default();
    if l.chars().count() > MAX_LABEL_CHARS {
        return Err(AppError::bad_input(
            "label",
            format!("a passkey's name has at most {MAX_LABEL_CHARS} characters"),
        ));
    }
    if l.chars().any(char::is_control) {
        return Err(AppError::bad_input(
            "label",
            "a passkey's name is one line of text",
        ));
    }
    Ok(if l.is_empty() {
        "Passkey".to_owned()
    } else {
        l.to_owned()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_relying_party_comes_from_the_public_url_unless_configured() {
        let (id, origin) = rp_id_and_origin("https://id.example.com", None, None).unwrap();
        assert_eq!(id, "id.example.com");
        assert_eq!(origin.as_str(), "https://id.example.com/");
        let (id, _) =
            rp_id_and_origin("https://id.example.com", Some("example.com"), None).unwrap();
        assert_eq!(id, "example.com");
        assert!(relying_party("https://id.example.com", Some("example.com"), None, "x").is_ok());
        assert!(relying_party("https://id.example.com", Some("other.com"), None, "x").is_err());
        let e = rp_id_and_origin("http://127.0.0.1:8080", None, None).unwrap_err();
        assert_eq!(e.reason, Some(Reason::PasskeysUnavailable));
    }

    #[test]
    fn labels_are_one_short_line() {
        assert_eq!(label(None).unwrap(), "Passkey");
        assert_eq!(label(Some("  Laptop ")).unwrap(), "Laptop");
        assert!(label(Some("a\nb")).is_err());
        assert!(label(Some(&"x".repeat(65))).is_err());
    }
}
