//! Opaque tenant-scoped tokens (refresh tokens, invitations, password resets):
//! `<tenant id as 32 hex digits>.<256 random bits, base64url>`. The tenant id lets the lookup run
//! in that tenant's scope; the random part is the secret. Only the SHA-256 of the whole token is
//! stored.

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use sha2::{Digest, Sha256};
use uuid::Uuid;

/// A new refresh token for `tenant_id`, and its hash for storage.
pub fn generate(tenant_id: Uuid) -> (String, Vec<u8>) {
    let secret: [u8; 32] = rand::random();
    let token = format!("{}.{}", tenant_id.simple(), URL_SAFE_NO_PAD.encode(secret));
    let hash = hash(&token);
    (token, hash)
}

pub fn hash(token: &str) -> Vec<u8> {
    Sha256::digest(token.as_bytes()).to_vec()
}

/// The tenant a refresh token belongs to, if it has the right shape.
pub fn tenant_of(token: &str) -> Option<Uuid> {
    let (tenant, secret) = token.split_once('.')?;
    if tenant.len() != 32 || secret.len() != 43 {
        return None;
    }
    Uuid::try_parse(tenant).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_carry_their_tenant_and_differ_every_time() {
        let tenant = Uuid::new_v4();
        let (a, ha) = generate(tenant);
        let (b, _) = generate(tenant);
        assert_ne!(a, b);
        assert_eq!(tenant_of(&a), Some(tenant));
        assert_eq!(hash(&a), ha);
        assert_eq!(tenant_of("not-a-token"), None);
        assert_eq!(tenant_of(&format!("{}.short", tenant.simple())), None);
    }
}
