//! Secrets at rest (integration credentials): AES-256-GCM under the key from
//! `HUB_SECRETS_KEY` (32 bytes, base64) or, when unset, a key file generated on first start.
//! The additional data binds each ciphertext to its tenant and integration, so a ciphertext
//! copied to another row does not decrypt. Secrets are only ever shown masked.

use std::path::Path;

use anyhow::{Context, anyhow, bail};
use aws_lc_rs::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use base64::{Engine, engine::general_purpose::STANDARD};
use uuid::Uuid;

pub struct SecretBox {
    key: LessSafeKey,
}

impl SecretBox {
    /// From a base64 key, or from `file` (created with a new random key when missing).
    pub fn load(base64_key: Option<&str>, file: &Path) -> anyhow::Result<SecretBox> {
        let encoded = match base64_key {
            Some(k) => k.trim().to_owned(),
            None if file.exists() => std::fs::read_to_string(file)
                .with_context(|| format!("cannot read {}", file.display()))?
                .trim()
                .to_owned(),
            None => {
                let key: [u8; 32] = rand::random();
                let encoded = STANDARD.encode(key);
                if let Some(dir) = file.parent() {
                    std::fs::create_dir_all(dir)?;
                }
                write_private(file, encoded.as_bytes())?;
                tracing::warn!(file = %file.display(), "no HUB_SECRETS_KEY: generated a secrets key file; back it up, secrets cannot be read without it");
                encoded
            }
        };
        let bytes = STANDARD
            .decode(encoded)
            .map_err(|_| anyhow!("the secrets key is not base64"))?;
        if bytes.len() != 32 {
            bail!("the secrets key must be 32 bytes (base64 of 32 random bytes)");
        }
        let key = UnboundKey::new(&AES_256_GCM, &bytes).map_err(|_| anyhow!("bad secrets key"))?;
        Ok(SecretBox {
            key: LessSafeKey::new(key),
        })
    }

    /// nonce || ciphertext || tag.
    pub fn seal(&self, tenant_id: Uuid, name: &str, plaintext: &str) -> anyhow::Result<Vec<u8>> {
        let nonce_bytes: [u8; NONCE_LEN] = rand::random();
        let mut data = plaintext.as_bytes().to_vec();
        self.key
            .seal_in_place_append_tag(
                Nonce::assume_unique_for_key(nonce_bytes),
                aad(tenant_id, name),
                &mut data,
            )
            .map_err(|_| anyhow!("encryption failed"))?;
        let mut out = nonce_bytes.to_vec();
        out.extend_from_slice(&data);
        Ok(out)
    }

    pub fn open(&self, tenant_id: Uuid, name: &str, sealed: &[u8]) -> anyhow::Result<String> {
        if sealed.len() < NONCE_LEN {
            bail!("sealed secret too short");
        }
        let (nonce, rest) = sealed.split_at(NONCE_LEN);
        let nonce = Nonce::try_assume_unique_for_key(nonce).map_err(|_| anyhow!("bad nonce"))?;
        let mut data = rest.to_vec();
        let plain = self
            .key
            .open_in_place(nonce, aad(tenant_id, name), &mut data)
            .map_err(|_| anyhow!("the secret does not decrypt under this key"))?;
        Ok(String::from_utf8(plain.to_vec())?)
    }
}

fn aad(tenant_id: Uuid, name: &str) -> Aad<Vec<u8>> {
    let mut bytes = tenant_id.as_bytes().to_vec();
    bytes.extend_from_slice(name.as_bytes());
    Aad::from(bytes)
}

/// `••••abcd`: the last four characters of a secret of at least 12, else only dots.
pub fn mask(hint: Option<&str>) -> String {
    match hint {
        Some(h) if !h.is_empty() => format!("••••{h}"),
        _ => "••••".to_owned(),
    }
}

/// What is kept in clear to show a masked secret.
pub fn hint_of(secret: &str) -> Option<String> {
    let chars: Vec<char> = secret.chars().collect();
    (chars.len() >= 12).then(|| chars[chars.len() - 4..].iter().collect())
}

fn write_private(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    use std::io::Write;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    options.open(path)?.write_all(bytes)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_round_trip_and_are_bound_to_their_row() {
        let dir = std::env::temp_dir().join(format!("hub-secrets-{}", Uuid::new_v4()));
        let file = dir.join("secrets.key");
        let b = SecretBox::load(None, &file).unwrap();
        let t = Uuid::new_v4();
        let sealed = b.seal(t, "slack", "xoxb-123456789").unwrap();
        assert!(!String::from_utf8_lossy(&sealed).contains("xoxb"));
        assert_eq!(b.open(t, "slack", &sealed).unwrap(), "xoxb-123456789");
        assert!(
            b.open(Uuid::new_v4(), "slack", &sealed).is_err(),
            "another tenant's row"
        );
        assert!(b.open(t, "github", &sealed).is_err(), "another integration");
        // The same file gives the same key.
        let again = SecretBox::load(None, &file).unwrap();
        assert_eq!(again.open(t, "slack", &sealed).unwrap(), "xoxb-123456789");
        assert_eq!(mask(hint_of("xoxb-123456789").as_deref()), "••••6789");
        assert_eq!(mask(hint_of("short").as_deref()), "••••");
        std::fs::remove_dir_all(dir).unwrap();
    }
}
