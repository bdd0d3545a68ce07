//! Authentication: passwords, signing keys and JWKS, access tokens, refresh sessions and the
//! Principal of a request. The sign-in operations that tie them together are in
//! `ops::sessions`.

pub mod admin_sessions;
pub mod jwt;
pub mod keys;
pub mod login_limiter;
pub mod opaque;
pub mod password;
pub mod principal;
pub mod session_cache;

pub use jwt::{AccessClaims, TokenIssuer};
pub use keys::KeyStore;
pub use principal::{ApiKeyPrincipal, MemberPrincipal, Principal};
