//! Recovery codes: ten single-use codes a user keeps for when the authenticator is lost. Each
//! has 50 random bits (ten base32 characters, shown as `xxxxx-xxxxx`); only a SHA-256 bound to
//! the user is stored, so a leaked table gives neither the codes nor a way to try one user's
//! codes against another.

use sha2::{Digest, Sha256};
use uuid::Uuid;

/// Codes in a set.
pub const CODES_PER_SET: usize = 10;
const ALPHABET: &[u8] = b"abcdefghijklmnopqrstuvwxyz234567";

/// A new set of codes, as shown to the user.
pub fn generate() -> Vec<String> {
    (0..CODES_PER_SET)
        .map(|_| {
            let chars: String = (0..10)
                .map(|_| ALPHABET[usize::from(rand::random::<u8>() & 31)] as char)
                .collect();
            format!("{}-{}", &chars[..5], &chars[5..])
        })
        .collect()
}

/// What is stored for `code` of `user_id`: the hash of its normalised form (lower case, no
/// spaces or dashes), so `ABCDE FGHIJ` finds `abcde-fghij`.
pub fn hash(user_id: Uuid, code: &str) -> Vec<u8> {
    let normal: String = code
        .chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .map(|c| c.to_ascii_lowercase())
        .collect();
    let mut h = Sha256::new();
    h.update(user_id.as_bytes());
    h.update(normal.as_bytes());
    h.finalize().to_vec()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_set_has_ten_distinct_codes_that_hash_per_user_and_ignore_spelling() {
        let codes = generate();
        assert_eq!(codes.len(), 10);
        let distinct: std::collections::HashSet<_> = codes.iter().collect();
        assert_eq!(distinct.len(), 10);
        let (a, b) = (Uuid::new_v4(), Uuid::new_v4());
        let code = &codes[0];
        assert_eq!(code.len(), 11);
        assert_eq!(
            hash(a, code),
            hash(a, &code.to_uppercase().replace('-', " "))
        );
        assert_ne!(hash(a, code), hash(b, code));
    }
}
