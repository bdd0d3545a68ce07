//! The checks of an authorization request (`/oauth/authorize`, RFC 6749 §4.1.1, OpenID Connect
//! Core §3.1.2.1, RFC 9700), without I/O. First the client and its redirect URI: when either is
//! wrong nothing is sent to the URI (the hub shows its own error page: no open redirect). Then
//! the rest, whose errors go back to the (now trusted) redirect URI with `state` and `iss`:
//! `response_type=code` only, PKCE `S256` required, scopes the client is allowed (`openid`
//! among them), `prompt` (`none`, `login`, `select_account`), `max_age`.

use uuid::Uuid;

use crate::{db::models::OAuthClientRow, oauth::pkce};

/// What the request says, as received (query string or form).
pub type RawParams = std::collections::HashMap<String, String>;

/// A refusal shown on the hub's error page: the client or redirect URI cannot be trusted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PageRefusal(pub String);

/// A refusal sent to the client's redirect URI.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RedirectRefusal {
    pub error: &'static str,
    pub description: String,
}

/// `prompt` values (OpenID Connect Core §3.1.2.1).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Prompt {
    pub none: bool,
    pub login: bool,
    pub select_account: bool,
}

/// A checked authorization request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthorizeRequest {
    pub client_id: Uuid,
    pub redirect_uri: String,
    pub state: Option<String>,
    pub nonce: Option<String>,
    pub scope: String,
    pub code_challenge: String,
    pub prompt: Prompt,
    pub max_age: Option<i64>,
    pub login_hint: Option<String>,
    pub ui_locales: Option<String>,
    /// The tenant, by domain, slug or id.
    pub tenant: Option<String>,
    /// Requested `acr` values, space-separated (`urn:tenant-hub:acr:2fa` asks for a fresh
    /// second factor).
    pub acr_values: Option<String>,
}

fn get<'a>(params: &'a RawParams, name: &str) -> Option<&'a str> {
    params
        .get(name)
        .map(String::as_str)
        .filter(|v| !v.is_empty())
}

/// The client id and redirect URI, before the client is looked up.
pub fn client_and_redirect(params: &RawParams) -> Result<(Uuid, String), PageRefusal> {
    let client_id = get(params, "client_id")
        .ok_or_else(|| PageRefusal("The request names no client (client_id).".into()))?;
    let client_id = Uuid::try_parse(client_id)
        .map_err(|_| PageRefusal("The application that sent you here is not registered.".into()))?;
    let redirect_uri = get(params, "redirect_uri")
        .ok_or_else(|| PageRefusal("The request names no redirect URI (redirect_uri).".into()))?;
    Ok((client_id, redirect_uri.to_owned()))
}

/// Checks the redirect URI against the client's registration (exact match).
pub fn trusted_redirect(client: &OAuthClientRow, redirect_uri: &str) -> Result<(), PageRefusal> {
    if client.has_redirect_uri(redirect_uri) {
        Ok(())
    } else {
        Err(PageRefusal(
            "The address this application asked to return to is not registered for it.".into(),
        ))
    }
}

fn refuse(error: &'static str, description: impl Into<String>) -> RedirectRefusal {
    RedirectRefusal {
        error,
        description: description.into(),
    }
}

/// The rest of the request, once the client and redirect URI are trusted.
pub fn validate(
    params: &RawParams,
    client: &OAuthClientRow,
    redirect_uri: String,
) -> Result<AuthorizeRequest, RedirectRefusal> {
    if get(params, "request").is_some() || get(params, "request_uri").is_some() {
        return Err(refuse(
            "request_not_supported",
            "request objects are not supported",
        ));
    }
    match get(params, "response_type") {
        Some("code") => {}
        None => return Err(refuse("invalid_request", "response_type is missing")),
        Some(_) => {
            return Err(refuse(
                "unsupported_response_type",
                "only response_type=code is supported",
            ));
        }
    }
    if let Some(mode) = get(params, "response_mode")
        && mode != "query"
    {
        return Err(refuse(
            "invalid_request",
            "only response_mode=query is supported",
        ));
    }
    let code_challenge = get(params, "code_challenge").ok_or_else(|| {
        refuse(
            "invalid_request",
            "PKCE is required: code_challenge is missing",
        )
    })?;
    if get(params, "code_challenge_method") != Some("S256") {
        return Err(refuse(
            "invalid_request",
            "PKCE with code_challenge_method=S256 is required",
        ));
    }
    if !pkce::valid_challenge(code_challenge) {
        return Err(refuse(
            "invalid_request",
            "code_challenge must be the base64url SHA-256 of the verifier (43 characters)",
        ));
    }
    let scope = get(params, "scope").unwrap_or("openid");
    let mut scopes: Vec<&str> = Vec::new();
    for s in scope.split_whitespace() {
        if !client.allowed_scopes().any(|a| a == s) {
            return Err(refuse(
                "invalid_scope",
                format!("the scope {s} is not allowed for this client"),
            ));
        }
        if !scopes.contains(&s) {
            scopes.push(s);
        }
    }
    if !scopes.contains(&"openid") {
        return Err(refuse("invalid_scope", "the scope must include openid"));
    }
    let mut prompt = Prompt::default();
    for p in get(params, "prompt").unwrap_or("").split_whitespace() {
        match p {
            "none" => prompt.none = true,
            "login" => prompt.login = true,
            "select_account" => prompt.select_account = true,
            "consent" => {}
            other => {
                return Err(refuse(
                    "invalid_request",
                    format!("unknown prompt value {other}"),
                ));
            }
        }
    }
    if prompt.none && (prompt.login || prompt.select_account) {
        return Err(refuse(
            "invalid_request",
            "prompt=none cannot be combined with other values",
        ));
    }
    let max_age = match get(params, "max_age") {
        None => None,
        Some(m) => Some(
            m.parse::<i64>()
                .ok()
                .filter(|m| *m >= 0)
                .ok_or_else(|| refuse("invalid_request", "max_age must be a number of seconds"))?,
        ),
    };
    let bounded = |name: &str| -> Result<Option<String>, RedirectRefusal> {
        match get(params, name) {
            Some(v) if v.len() > 512 => Err(refuse(
                "invalid_request",
                format!("{name} is too long (512 characters at most)"),
            )),
            v => Ok(v.map(str::to_owned)),
        }
    };
    Ok(AuthorizeRequest {
        client_id: client.id,
        redirect_uri,
        state: bounded("state")?,
        nonce: bounded("nonce")?,
        scope: scopes.join(" "),
        code_challenge: code_challenge.to_owned(),
        prompt,
        max_age,
        login_hint: bounded("login_hint")?,
        ui_locales: bounded("ui_locales")?,
        tenant: bounded("tenant")?,
        acr_values: bounded("acr_values")?,
    })
}

/// The redirect URI with the response parameters (`code` or `error`, `state`, `iss`) added to
/// its query (RFC 6749 §4.1.2, RFC 9207).
pub fn redirect_with(redirect_uri: &str, pairs: &[(&str, &str)]) -> String {
    let mut url = url::Url::parse(redirect_uri).expect("registered redirect URIs are URLs");
    {
        let mut q = url.query_pairs_mut();
        for (k, v) in pairs {
            q.append_pair(k, v);
        }
    }
    url.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn client() -> OAuthClientRow {
        OAuthClientRow {
            id: Uuid::new_v4(),
            product_id: "crm".into(),
            public: true,
            secret_hash: None,
            redirect_uris: vec![Some("https://crm.example.com/cb".into())],
            post_logout_redirect_uris: vec![],
            backchannel_logout_uri: None,
            allowed_scopes: vec![Some("openid".into()), Some("email".into())],
            token_endpoint_auth_method: "none".into(),
            created_at: chrono::Utc::now(),
            updated_at: chrono::Utc::now(),
        }
    }

    fn params(client: &OAuthClientRow, extra: &[(&str, &str)]) -> RawParams {
        let mut p: RawParams = [
            ("client_id", client.id.to_string()),
            ("redirect_uri", "https://crm.example.com/cb".to_owned()),
            ("response_type", "code".to_owned()),
            ("scope", "openid email".to_owned()),
            (
                "code_challenge",
                "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM".to_owned(),
            ),
            ("code_challenge_method", "S256".to_owned()),
            ("state", "xyz".to_owned()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v))
        .collect();
        for (k, v) in extra {
            p.insert((*k).to_owned(), (*v).to_owned());
        }
        p
    }

    fn check(
        c: &OAuthClientRow,
        extra: &[(&str, &str)],
    ) -> Result<AuthorizeRequest, RedirectRefusal> {
        let p = params(c, extra);
        let (_, uri) = client_and_redirect(&p).unwrap();
        validate(&p, c, uri)
    }

    #[test]
    fn a_complete_request_is_accepted() {
        let c = client();
        let r = check(&c, &[("prompt", "login"), ("max_age", "300")]).unwrap();
        assert_eq!(r.scope, "openid email");
        assert!(r.prompt.login && !r.prompt.none);
        assert_eq!(r.max_age, Some(300));
        assert_eq!(r.state.as_deref(), Some("xyz"));
    }

    #[test]
    fn an_unregistered_redirect_uri_or_unknown_client_is_shown_not_redirected() {
        let c = client();
        assert!(trusted_redirect(&c, "https://crm.example.com/cb").is_ok());
        assert!(trusted_redirect(&c, "https://crm.example.com/cb/").is_err());
        assert!(trusted_redirect(&c, "https://evil.example.com/cb").is_err());
        let mut p = params(&c, &[]);
        p.insert("client_id".into(), "not-a-uuid".into());
        assert!(client_and_redirect(&p).is_err());
        p.remove("client_id");
        assert!(client_and_redirect(&p).is_err());
    }

    #[test]
    fn pkce_s256_response_type_code_and_allowed_scopes_are_required() {
        let c = client();
        let err = |extra: &[(&str, &str)]| check(&c, extra).unwrap_err().error;
        assert_eq!(
            err(&[("response_type", "token")]),
            "unsupported_response_type"
        );
        assert_eq!(
            err(&[("code_challenge_method", "plain")]),
            "invalid_request"
        );
        assert_eq!(err(&[("code_challenge", "short")]), "invalid_request");
        assert_eq!(err(&[("scope", "openid profile")]), "invalid_scope");
        assert_eq!(err(&[("scope", "email")]), "invalid_scope");
        assert_eq!(err(&[("prompt", "none login")]), "invalid_request");
        assert_eq!(err(&[("max_age", "-1")]), "invalid_request");
        assert_eq!(err(&[("request", "eyJ")]), "request_not_supported");
        let mut p = params(&c, &[]);
        p.remove("code_challenge");
        assert_eq!(
            validate(&p, &c, "https://crm.example.com/cb".into())
                .unwrap_err()
                .error,
            "invalid_request"
        );
    }

    #[test]
    fn errors_go_to_the_redirect_uri_with_state_and_iss() {
        let to = redirect_with(
            "https://crm.example.com/cb?x=1",
            &[
                ("error", "login_required"),
                ("state", "a b&c"),
                ("iss", "https://hub"),
            ],
        );
        assert_eq!(
            to,
            "https://crm.example.com/cb?x=1&error=login_required&state=a+b%26c&iss=https%3A%2F%2Fhub"
        );
    }
}
