//! Signing keys: PEM files in `HUB_KEYS_DIR`, named `<kid>.pem`, where the kid is
//! `<activation unix time>-<alg>-<random>`. The newest key whose activation time has passed
//! signs; a key that is not active yet is already published (so every replica and product app
//! knows it before the first token signed with it); a retired key keeps verifying, and stays in
//! the JWKS, until the last token it signed has expired, after which `keys rotate` deletes it.

use std::{
    path::{Path, PathBuf},
    sync::{Arc, RwLock},
    time::Duration,
};

use anyhow::{Context, anyhow, bail};
use aws_lc_rs::encoding::AsDer;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, jwk::Jwk};
use serde_json::json;

use crate::config::SigningAlg;

/// One key pair.
pub struct SigningKey {
    pub kid: String,
    pub alg: Algorithm,
    pub activates_at: i64,
    pub encoding: EncodingKey,
    pub decoding: DecodingKey,
    pub jwk: Jwk,
}

/// The keys read from the folder, oldest first.
pub struct KeySet {
    keys: Vec<Arc<SigningKey>>,
    /// How long a retired key keeps verifying: the access token lifetime plus leeway.
    retention_secs: i64,
}

impl KeySet {
    /// The key that signs now: the newest one already active.
    pub fn signer(&self, now: i64) -> Option<Arc<SigningKey>> {
        self.keys
            .iter()
            .rev()
            .find(|k| k.activates_at <= now)
            .cloned()
    }

    /// Keys that may have signed a still-valid token, or will sign soon.
    pub fn verifiers(&self, now: i64) -> impl Iterator<Item = &Arc<SigningKey>> {
        let retention = self.retention_secs;
        let keys = &self.keys;
        keys.iter()
            .enumerate()
            .filter(move |(i, _)| {
                // Retired when the next key became active.
                match keys.get(i + 1) {
                    Some(next) if next.activates_at <= now => now < next.activates_at + retention,
                    _ => true,
                }
            })
            .map(|(_, k)| k)
    }

    pub fn find(&self, kid: &str, now: i64) -> Option<Arc<SigningKey>> {
        self.verifiers(now).find(|k| k.kid == kid).cloned()
    }

    /// The JWKS document.
    pub fn jwks(&self, now: i64) -> serde_json::Value {
        let keys: Vec<serde_json::Value> = self
            .verifiers(now)
            .map(|k| {
                let mut v = serde_json::to_value(&k.jwk).unwrap_or_default();
                if let Some(obj) = v.as_object_mut() {
                    obj.insert("kid".into(), json!(k.kid));
                    obj.insert("use".into(), json!("sig"));
                    obj.insert("alg".into(), json!(alg_name(k.alg)));
                }
                v
            })
            .collect();
        json!({ "keys": keys })
    }

    /// Kids of keys past their retention, whose files may be deleted.
    fn expired(&self, now: i64) -> Vec<String> {
        let live: Vec<&str> = self.verifiers(now).map(|k| k.kid.as_str()).collect();
        self.keys
            .iter()
            .filter(|k| !live.contains(&k.kid.as_str()))
            .map(|k| k.kid.clone())
            .collect()
    }
}

/// The hub's keys, re-read from the folder from time to time so that a rotation reaches
/// running replicas.
pub struct KeyStore {
    dir: PathBuf,
    retention_secs: i64,
    current: RwLock<Arc<KeySet>>,
}

fn alg_name(alg: Algorithm) -> &'static str {
    match alg {
        Algorithm::EdDSA => "EdDSA",
        Algorithm::RS256 => "RS256",
        _ => "unsupported",
    }
}

fn alg_tag(alg: SigningAlg) -> &'static str {
    match alg {
        SigningAlg::EdDsa => "ed25519",
        SigningAlg::Rs256 => "rs256",
    }
}

pub fn now_unix() -> i64 {
    chrono::Utc::now().timestamp()
}

impl KeyStore {
    /// Loads the folder; when it holds no key, generates one (with a warning).
    pub fn open(dir: &Path, alg: SigningAlg, retention: Duration) -> anyhow::Result<KeyStore> {
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
        let retention_secs = retention.as_secs() as i64;
        let mut set = read_dir(dir, retention_secs)?;
        if set.keys.is_empty() {
            let kid = generate_key(dir, alg, now_unix())?;
            tracing::warn!(kid, dir = %dir.display(), "no signing key found: generated one; back this folder up and share it between replicas");
            set = read_dir(dir, retention_secs)?;
        }
        Ok(KeyStore {
            dir: dir.to_owned(),
            retention_secs,
            current: RwLock::new(Arc::new(set)),
        })
    }

    pub fn keys(&self) -> Arc<KeySet> {
        self.current.read().expect("key set lock").clone()
    }

    /// Re-reads the folder; keeps the old set when the folder cannot be read.
    pub fn reload(&self) -> anyhow::Result<()> {
        let set = read_dir(&self.dir, self.retention_secs)?;
        if set.keys.is_empty() {
            bail!("{} holds no key any more", self.dir.display());
        }
        *self.current.write().expect("key set lock") = Arc::new(set);
        Ok(())
    }
}

/// What `tenant-hub keys rotate` did.
pub struct RotateSummary {
    pub new_kid: String,
    pub activates_at: i64,
    pub removed: Vec<String>,
    pub kept: usize,
    /// Every key left in the folder, oldest first, with why it is kept.
    pub kept_keys: Vec<KeptKey>,
}

/// A key left in the folder by a rotation.
pub struct KeptKey {
    pub kid: String,
    /// Unix time from which it signs (or signed).
    pub activates_at: i64,
    pub state: KeptState,
}

/// Why a key is kept.
pub enum KeptState {
    /// It signs new tokens now.
    Signing,
    /// It is published and will sign from `activates_at`.
    Pending,
    /// A newer key took over signing at `retired_at`; it still verifies the tokens it signed
    /// until `verifies_until` (retirement plus the token lifetime and leeway).
    Retired {
        retired_at: i64,
        verifies_until: i64,
    },
}

/// Adds a key that becomes the signer `activate_in` from now, and deletes keys whose retention
/// has passed.
pub fn rotate(
    dir: &Path,
    alg: SigningAlg,
    activate_in: Duration,
    retention: Duration,
) -> anyhow::Result<RotateSummary> {
    std::fs::create_dir_all(dir)?;
    let now = now_unix();
    // Strictly after every existing key, so "newest active" is never a tie.
    let newest = read_dir(dir, retention.as_secs() as i64)?
        .keys
        .last()
        .map(|k| k.activates_at);
    let activates_at = (now + activate_in.as_secs() as i64).max(newest.map_or(i64::MIN, |n| n + 1));
    let new_kid = generate_key(dir, alg, activates_at)?;
    let set = read_dir(dir, retention.as_secs() as i64)?;
    let removed = set.expired(now);
    for kid in &removed {
        std::fs::remove_file(dir.join(format!("{kid}.pem")))?;
    }
    let signer = set.signer(now).map(|k| k.kid.clone());
    let retention_secs = retention.as_secs() as i64;
    let kept_keys = set
        .keys
        .iter()
        .enumerate()
        .filter(|(_, k)| !removed.contains(&k.kid))
        .map(|(i, k)| {
            let state = if signer.as_deref() == Some(k.kid.as_str()) {
                KeptState::Signing
            } else if k.activates_at > now {
                KeptState::Pending
            } else {
                // Neither signing nor pending: a later key is active, so one exists.
                let retired_at = set.keys.get(i + 1).map_or(now, |next| next.activates_at);
                KeptState::Retired {
                    retired_at,
                    verifies_until: retired_at + retention_secs,
                }
            };
            KeptKey {
                kid: k.kid.clone(),
                activates_at: k.activates_at,
                state,
            }
        })
        .collect();
    Ok(RotateSummary {
        new_kid,
        activates_at,
        kept: set.keys.len() - removed.len(),
        removed,
        kept_keys,
    })
}

/// Writes a new private key; returns its kid.
pub fn generate_key(dir: &Path, alg: SigningAlg, activates_at: i64) -> anyhow::Result<String> {
    let der: Vec<u8> = match alg {
        SigningAlg::EdDsa => {
            let rng = aws_lc_rs::rand::SystemRandom::new();
            aws_lc_rs::signature::Ed25519KeyPair::generate_pkcs8v1(&rng)
                .map_err(|_| anyhow!("cannot generate an Ed25519 key"))?
                .as_ref()
                .to_vec()
        }
        SigningAlg::Rs256 => {
            let pair = aws_lc_rs::rsa::KeyPair::generate(aws_lc_rs::rsa::KeySize::Rsa2048)
                .map_err(|_| anyhow!("cannot generate an RSA key"))?;
            let der: aws_lc_rs::encoding::Pkcs8V1Der = pair
                .as_der()
                .map_err(|_| anyhow!("cannot encode the RSA key"))?;
            der.as_ref().to_vec()
        }
    };
    let suffix: u32 = rand::random();
    let kid = format!("{activates_at}-{}-{suffix:08x}", alg_tag(alg));
    let pem = pem::encode(&pem::Pem::new("PRIVATE KEY", der));
    let path = dir.join(format!("{kid}.pem"));
    write_private(&path, pem.as_bytes())?;
    Ok(kid)
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
    let mut file = options
        .open(path)
        .with_context(|| format!("cannot write {}", path.display()))?;
    file.write_all(bytes)?;
    Ok(())
}

fn read_dir(dir: &Path, retention_secs: i64) -> anyhow::Result<KeySet> {
    let mut keys = Vec::new();
    for entry in std::fs::read_dir(dir).with_context(|| format!("cannot read {}", dir.display()))? {
        let path = entry?.path();
        if path.extension().and_then(|e| e.to_str()) != Some("pem") {
            continue;
        }
        let kid = path
            .file_stem()
            .and_then(|s| s.to_str())
            .unwrap_or_default()
            .to_owned();
        let key =
            load_key(&path, &kid).with_context(|| format!("signing key {}", path.display()))?;
        keys.push(Arc::new(key));
    }
    keys.sort_by(|a, b| (a.activates_at, &a.kid).cmp(&(b.activates_at, &b.kid)));
    Ok(KeySet {
        keys,
        retention_secs,
    })
}

fn load_key(path: &Path, kid: &str) -> anyhow::Result<SigningKey> {
    let mut parts = kid.splitn(3, '-');
    let activates_at: i64 = parts
        .next()
        .and_then(|p| p.parse().ok())
        .ok_or_else(|| anyhow!("the file name must be <activation unix time>-<alg>-<id>.pem"))?;
    let pem = std::fs::read(path)?;
    let (alg, encoding) = match parts.next() {
        Some("ed25519") => (Algorithm::EdDSA, EncodingKey::from_ed_pem(&pem)?),
        Some("rs256") => (Algorithm::RS256, EncodingKey::from_rsa_pem(&pem)?),
        other => bail!("unknown key algorithm {other:?}"),
    };
    let mut jwk = Jwk::from_encoding_key(&encoding, alg)?;
    jwk.common.key_id = Some(kid.to_owned());
    let decoding = DecodingKey::from_jwk(&jwk)?;
    Ok(SigningKey {
        kid: kid.to_owned(),
        alg,
        activates_at,
        encoding,
        decoding,
        jwk,
    })
}
