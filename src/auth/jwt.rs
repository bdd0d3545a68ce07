//! Access tokens: JWTs signed by the current key, verified against the published ones.
//!
//! Verification pins the algorithm to the one of the key the `kid` names (so `alg: none` and an
//! HS256 token "signed" with a public key are refused), requires `typ: at+jwt`, and checks
//! exp, nbf, iss and aud with a small leeway.
//!
//! Three kinds of token, told apart by their claims and their audience: a member's (`tid`,
//! `sid`, `aud` = HUB_JWT_AUDIENCE, the products' audience; issued to an OAuth client it also
//! carries `client_id` and the user's access to the client's product), a product backend's
//! service token from the `client_credentials` grant (`scope: service`, `client_id`,
//! `product`, no `tid` nor `sid`, the products' audience; the hub's own API refuses it) and a
//! platform admin's (`scope: platform`, `sid` of its admin session, no `tid`, `aud` =
//! HUB_JWT_ADMIN_AUDIENCE). A product app checking its audience therefore refuses admin
//! tokens, and the hub refuses a token whose audience does not match its kind.
//!
//! The issuer (`iss`) is the hub's public URL (HUB_PUBLIC_URL), the OpenID issuer. Tokens with
//! one of HUB_JWT_LEGACY_ISSUERS (the former HUB_JWT_ISSUER) are still accepted during a
//! migration window; none is issued with them.
//!
//! The signature check (Ed25519: about a quarter of the hub's CPU on a warm `tenantContext`,
//! BENCHMARKS.md) is done once per token and replica: a verified token is remembered by its
//! exact text, with the key object that verified it. A later use of the same bytes skips only
//! the signature; exp and nbf are checked again, and the key must still be the very object
//! the key store holds (a reload of the keys folder, every HUB_KEYS_RELOAD_SECS, replaces the
//! objects, so a removed key stops verifying at once and anything else is re-checked within
//! that time). Refused tokens are never remembered.

use std::sync::Arc;

use dashmap::DashMap;

use jsonwebtoken::{Header, Validation, decode, decode_header, encode};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::{
    auth::keys::{KeyStore, SigningKey, now_unix},
    config::TokenSettings,
    error::{AppError, AppResult},
};

/// The `typ` header of access tokens (RFC 9068).
pub const ACCESS_TOKEN_TYP: &str = "at+jwt";
/// The `scope` claim of a platform admin's token.
pub const PLATFORM_SCOPE: &str = "platform";
/// The `scope` claim of a product backend's service token (`client_credentials`).
pub const SERVICE_SCOPE: &str = "service";

/// The claims of an access token. Small on purpose: permissions and product access are asked
/// from `tenantContext`, so they change without waiting for tokens to expire.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AccessClaims {
    pub iss: String,
    pub aud: String,
    /// The user (or platform admin) id.
    pub sub: Uuid,
    /// The tenant; absent on platform admin tokens.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tid: Option<Uuid>,
    /// The session: a member's session, or a platform admin's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sid: Option<Uuid>,
    /// `platform` on platform admin tokens, `service` on service tokens.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scope: Option<String>,
    /// The OAuth client the token was issued to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_id: Option<String>,
    /// The client's product (tokens issued to an OAuth client).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub product: Option<String>,
    /// The user's access to that product when the token was issued (`full` / `limited`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub product_access: Option<String>,
    /// How the user signed in (RFC 8176 values, e.g. `["pwd", "otp"]`); members only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub amr: Option<Vec<String>>,
    /// The assurance of that sign-in (`mfa::claims`: one factor or two); members only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub acr: Option<String>,
    pub iat: i64,
    pub nbf: i64,
    pub exp: i64,
    pub jti: Uuid,
}

/// Above this many remembered tokens the memory is cleared rather than grown (about 0.6 KB
/// each).
const MAX_VERIFIED: usize = 20_000;

/// Issues and verifies access tokens.
pub struct TokenIssuer {
    keys: Arc<KeyStore>,
    issuer: String,
    /// Issuers still accepted (HUB_JWT_LEGACY_ISSUERS), the current one first.
    accepted_issuers: Vec<String>,
    audience: String,
    admin_audience: String,
    ttl_secs: i64,
    leeway_secs: u64,
    /// Tokens whose signature was verified, by their text, with the key that verified them.
    verified: DashMap<Box<str>, (AccessClaims, Arc<SigningKey>)>,
}

/// What a token issued to an OAuth client says of it.
#[derive(Debug, Clone)]
pub struct ClientGrant {
    pub client_id: String,
    pub product: String,
    /// The user's access to the product (`full` / `limited`).
    pub access: Option<String>,
}

/// A freshly signed access token.
pub struct IssuedToken {
    pub token: String,
    pub expires_in: i64,
    pub claims: AccessClaims,
}

impl TokenIssuer {
    /// `issuer`: the hub's public URL.
    pub fn new(keys: Arc<KeyStore>, settings: &TokenSettings, issuer: &str) -> TokenIssuer {
        let mut accepted_issuers = vec![issuer.to_owned()];
        accepted_issuers.extend(
            settings
                .legacy_issuers
                .iter()
                .map(|i| i.trim().to_owned())
                .filter(|i| !i.is_empty() && i != issuer),
        );
        TokenIssuer {
            keys,
            issuer: issuer.to_owned(),
            accepted_issuers,
            audience: settings.audience.clone(),
            admin_audience: settings.admin_audience.clone(),
            ttl_secs: settings.access_token_ttl_secs as i64,
            leeway_secs: settings.leeway_secs,
            verified: DashMap::new(),
        }
    }

    pub fn keys(&self) -> &KeyStore {
        &self.keys
    }

    pub fn ttl_secs(&self) -> i64 {
        self.ttl_secs
    }

    /// The `iss` of issued tokens: the hub's public URL.
    pub fn issuer(&self) -> &str {
        &self.issuer
    }

    /// The issuers still accepted (HUB_JWT_LEGACY_ISSUERS), the current one first.
    pub fn accepted_issuers(&self) -> &[String] {
        &self.accepted_issuers
    }

    /// The products' audience (`aud` of member and service tokens).
    pub fn audience(&self) -> &str {
        &self.audience
    }

    /// Signs any claims with the current key, with the given `typ` header (ID tokens: `JWT`,
    /// logout tokens: `logout+jwt`).
    pub fn sign<C: Serialize>(&self, typ: &str, claims: &C) -> AppResult<String> {
        let key = self
            .keys
            .keys()
            .signer(now_unix())
            .ok_or_else(|| AppError::internal(anyhow::anyhow!("no active signing key")))?;
        let mut header = Header::new(key.alg);
        header.kid = Some(key.kid.clone());
        header.typ = Some(typ.to_owned());
        encode(&header, claims, &key.encoding)
            .map_err(|e| AppError::internal(anyhow::Error::new(e)))
    }

    /// A member's token issued to an OAuth client: the member's claims plus `client_id`, the
    /// user's access to the client's product, and how the session was signed in (`amr`, the
    /// session's space-separated methods, and the `acr` they make), so a product's API can
    /// demand a second factor from the access token alone.
    pub fn issue_member_for_client(
        &self,
        tenant_id: Uuid,
        user_id: Uuid,
        session_id: Uuid,
        amr: &str,
        client: &ClientGrant,
    ) -> AppResult<IssuedToken> {
        let mut claims = self.claims(
            &self.audience,
            user_id,
            Some(tenant_id),
            Some(session_id),
            None,
        );
        let amr = crate::mfa::claims::amr_list(amr);
        claims.acr = Some(crate::mfa::claims::acr_of(&amr).to_owned());
        claims.amr = Some(amr);
        claims.client_id = Some(client.client_id.clone());
        claims.product = Some(client.product.clone());
        claims.product_access = client.access.clone();
        self.sign_access(claims)
    }

    /// A product backend's service token (`client_credentials`): no user, no tenant.
    pub fn issue_service(&self, client_uuid: Uuid, product: &str) -> AppResult<IssuedToken> {
        let mut claims = self.claims(
            &self.audience,
            client_uuid,
            None,
            None,
            Some(SERVICE_SCOPE.to_owned()),
        );
        claims.client_id = Some(client_uuid.to_string());
        claims.product = Some(product.to_owned());
        self.sign_access(claims)
    }

    /// A member's token: tenant, user and session.
    pub fn issue_member(
        &self,
        tenant_id: Uuid,
        user_id: Uuid,
        session_id: Uuid,
    ) -> AppResult<IssuedToken> {
        self.issue(
            &self.audience,
            user_id,
            Some(tenant_id),
            Some(session_id),
            None,
        )
    }

    /// A member's token that says how its session was signed in: `amr` (the session's
    /// space-separated methods) and the `acr` they make.
    pub fn issue_member_with_amr(
        &self,
        tenant_id: Uuid,
        user_id: Uuid,
        session_id: Uuid,
        amr: &str,
    ) -> AppResult<IssuedToken> {
        let mut claims = self.claims(
            &self.audience,
            user_id,
            Some(tenant_id),
            Some(session_id),
            None,
        );
        let amr = crate::mfa::claims::amr_list(amr);
        claims.acr = Some(crate::mfa::claims::acr_of(&amr).to_owned());
        claims.amr = Some(amr);
        self.sign_access(claims)
    }

    /// A platform admin's token: no tenant, platform scope, its admin session, the admin
    /// audience.
    pub fn issue_platform_admin(&self, admin_id: Uuid, session_id: Uuid) -> AppResult<IssuedToken> {
        self.issue(
            &self.admin_audience,
            admin_id,
            None,
            Some(session_id),
            Some(PLATFORM_SCOPE.to_owned()),
        )
    }

    fn issue(
        &self,
        aud: &str,
        sub: Uuid,
        tid: Option<Uuid>,
        sid: Option<Uuid>,
        scope: Option<String>,
    ) -> AppResult<IssuedToken> {
        self.sign_access(self.claims(aud, sub, tid, sid, scope))
    }

    fn claims(
        &self,
        aud: &str,
        sub: Uuid,
        tid: Option<Uuid>,
        sid: Option<Uuid>,
        scope: Option<String>,
    ) -> AccessClaims {
        let now = now_unix();
        AccessClaims {
            iss: self.issuer.clone(),
            aud: aud.to_owned(),
            sub,
            tid,
            sid,
            scope,
            client_id: None,
            product: None,
            product_access: None,
            amr: None,
            acr: None,
            iat: now,
            nbf: now,
            exp: now + self.ttl_secs,
            jti: Uuid::new_v4(),
        }
    }

    fn sign_access(&self, claims: AccessClaims) -> AppResult<IssuedToken> {
        let token = self.sign(ACCESS_TOKEN_TYP, &claims)?;
        Ok(IssuedToken {
            token,
            expires_in: self.ttl_secs,
            claims,
        })
    }

    /// Verifies signature, algorithm, type and registered claims (the signature once per
    /// token, see the module's documentation). Every failure is the same UNAUTHENTICATED to
    /// the client; the reason goes to the debug log.
    pub fn verify(&self, token: &str) -> AppResult<AccessClaims> {
        let now = now_unix();
        if let Some(hit) = self.verified.get(token) {
            let (claims, key) = hit.value();
            if self.still_valid(claims, key, now) {
                return Ok(claims.clone());
            }
            drop(hit);
            self.verified.remove(token);
        }
        let (claims, key) = self.verify_signed(token)?;
        if self.verified.len() >= MAX_VERIFIED {
            self.verified.clear();
        }
        self.verified.insert(token.into(), (claims.clone(), key));
        Ok(claims)
    }

    /// What may change for a token already verified: time (exp, nbf, as jsonwebtoken checks
    /// them) and the key store.
    fn still_valid(&self, claims: &AccessClaims, key: &Arc<SigningKey>, now: i64) -> bool {
        let leeway = self.leeway_secs as i64;
        claims.exp >= now - leeway
            && claims.nbf <= now + leeway
            && self
                .keys
                .keys()
                .find(&key.kid, now)
                .is_some_and(|current| Arc::ptr_eq(&current, key))
    }

    /// The full verification, signature included.
    fn verify_signed(&self, token: &str) -> AppResult<(AccessClaims, Arc<SigningKey>)> {
        let refuse = |why: &str| {
            tracing::debug!(reason = why, "access token refused");
            AppError::unauthenticated("invalid access token; log in again")
                .with_reason(crate::error::Reason::TokenInvalid)
        };
        let header = decode_header(token).map_err(|_| refuse("malformed header"))?;
        if header.typ.as_deref() != Some(ACCESS_TOKEN_TYP) {
            return Err(refuse("wrong typ"));
        }
        let kid = header.kid.as_deref().ok_or_else(|| refuse("no kid"))?;
        let key = self
            .keys
            .keys()
            .find(kid, now_unix())
            .ok_or_else(|| refuse("unknown kid"))?;
        if header.alg != key.alg {
            return Err(refuse("algorithm does not match the key"));
        }
        let mut validation = Validation::new(key.alg);
        validation.set_issuer(&self.accepted_issuers);
        validation.set_audience(&[&self.audience, &self.admin_audience]);
        validation.validate_nbf = true;
        validation.leeway = self.leeway_secs;
        validation.set_required_spec_claims(&["exp", "nbf", "iat", "iss", "aud", "sub", "jti"]);
        let data = decode::<AccessClaims>(token, &key.decoding, &validation).map_err(|e| {
            // An expired token is refreshed; any other refusal means logging in again.
            if matches!(e.kind(), jsonwebtoken::errors::ErrorKind::ExpiredSignature) {
                return AppError::unauthenticated("the access token has expired; refresh it")
                    .with_reason(crate::error::Reason::TokenExpired);
            }
            refuse(&e.to_string())
        })?;
        let claims = data.claims;
        let platform = claims.scope.as_deref() == Some(PLATFORM_SCOPE)
            && claims.tid.is_none()
            && claims.sid.is_some()
            && claims.aud == self.admin_audience;
        let member = claims.tid.is_some()
            && claims.sid.is_some()
            && claims.scope.is_none()
            && claims.aud == self.audience;
        let service = claims.scope.as_deref() == Some(SERVICE_SCOPE)
            && claims.tid.is_none()
            && claims.sid.is_none()
            && claims.client_id.is_some()
            && claims.aud == self.audience;
        if [platform, member, service].iter().filter(|k| **k).count() != 1 {
            return Err(refuse("not a member's, service or platform admin's token"));
        }
        Ok((claims, key))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn issuer() -> (TokenIssuer, std::path::PathBuf) {
        use clap::Parser;
        #[derive(Parser)]
        struct Wrapper {
            #[command(flatten)]
            tokens: TokenSettings,
        }
        let dir = std::env::temp_dir().join(format!("hub-jwt-test-{}", Uuid::new_v4().simple()));
        let mut settings = Wrapper::parse_from(["test"]).tokens;
        settings.keys_dir = dir.clone();
        let keys = KeyStore::open(
            &dir,
            crate::config::SigningAlg::EdDsa,
            std::time::Duration::from_secs(900),
        )
        .unwrap();
        (
            TokenIssuer::new(Arc::new(keys), &settings, "https://id.example.com"),
            dir,
        )
    }

    /// Each kind of token is accepted only with its own audience: a platform-scoped token
    /// with the products' audience (or a member's with the admin audience) is refused.
    #[test]
    fn each_kind_of_token_needs_its_own_audience() {
        let (tokens, dir) = issuer();
        let (a, b, c) = (Uuid::new_v4(), Uuid::new_v4(), Uuid::new_v4());
        let member = tokens.issue_member(a, b, c).unwrap();
        assert_eq!(member.claims.aud, "tenant-hub-products");
        assert!(tokens.verify(&member.token).is_ok());
        let admin = tokens.issue_platform_admin(a, c).unwrap();
        assert_eq!(admin.claims.aud, "tenant-hub-admin");
        assert_eq!(admin.claims.sid, Some(c));
        assert!(tokens.verify(&admin.token).is_ok());
        let admin_for_products = tokens
            .issue(
                "tenant-hub-products",
                a,
                None,
                Some(c),
                Some(PLATFORM_SCOPE.into()),
            )
            .unwrap();
        assert!(tokens.verify(&admin_for_products.token).is_err());
        let admin_without_session = tokens
            .issue(
                "tenant-hub-admin",
                a,
                None,
                None,
                Some(PLATFORM_SCOPE.into()),
            )
            .unwrap();
        assert!(tokens.verify(&admin_without_session.token).is_err());
        let member_for_admin = tokens
            .issue("tenant-hub-admin", b, Some(a), Some(c), None)
            .unwrap();
        assert!(tokens.verify(&member_for_admin.token).is_err());
        let service = tokens.issue_service(a, "crm").unwrap();
        assert_eq!(service.claims.aud, "tenant-hub-products");
        assert!(tokens.verify(&service.token).unwrap().tid.is_none());
        let service_with_tenant = tokens
            .issue(
                "tenant-hub-products",
                a,
                Some(b),
                None,
                Some(SERVICE_SCOPE.into()),
            )
            .unwrap();
        assert!(tokens.verify(&service_with_tenant.token).is_err());
        let _ = std::fs::remove_dir_all(dir);
    }

    /// The public URL is the issuer; a legacy issuer is still accepted, any other refused.
    #[test]
    fn legacy_issuers_are_accepted_and_others_refused() {
        let (tokens, dir) = issuer();
        let (a, b, c) = (Uuid::new_v4(), Uuid::new_v4(), Uuid::new_v4());
        let member = tokens.issue_member(a, b, c).unwrap();
        assert_eq!(member.claims.iss, "https://id.example.com");
        let mut legacy = tokens.claims("tenant-hub-products", b, Some(a), Some(c), None);
        legacy.iss = "tenant-hub".into();
        let legacy = tokens.sign_access(legacy).unwrap();
        assert!(tokens.verify(&legacy.token).is_ok());
        let mut other = tokens.claims("tenant-hub-products", b, Some(a), Some(c), None);
        other.iss = "https://evil.example.com".into();
        let other = tokens.sign_access(other).unwrap();
        assert!(tokens.verify(&other.token).is_err());
        let _ = std::fs::remove_dir_all(dir);
    }
}
