//! Password hashing with argon2id (the crate's defaults: 19 MiB, 2 passes, 1 lane, as OWASP
//! recommends). Hashing is CPU-heavy, so it runs on the blocking pool, never on a worker.

use argon2::{Argon2, PasswordHasher, PasswordVerifier, password_hash::phc::PasswordHash};
use std::sync::{
    LazyLock,
    atomic::{AtomicU64, Ordering},
};

use crate::{domain::NewPassword, error::AppResult};

/// A valid hash of a random password: verifying against it costs what a real check costs, so an
/// unknown user or tenant cannot be told from a wrong password by timing.
static DUMMY_HASH: LazyLock<String> = LazyLock::new(|| {
    let random: [u8; 32] = rand::random();
    Argon2::default()
        .hash_password(&random)
        .expect("argon2 hashes a fixed-size input")
        .to_string()
});

/// At most one hash per core at a time: each argon2 run takes 19 MiB and a core, so unbounded
/// concurrency (a burst of logins) only grows memory and queues on the blocking pool.
static HASHING: LazyLock<tokio::sync::Semaphore> = LazyLock::new(|| {
    tokio::sync::Semaphore::new(
        std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(2),
    )
});

async fn hashing_permit() -> AppResult<tokio::sync::SemaphorePermit<'static>> {
    HASHING
        .acquire()
        .await
        .map_err(|e| crate::error::AppError::internal(anyhow::Error::new(e)))
}

/// Hashes a new password (PHC string).
pub async fn hash(password: &NewPassword) -> AppResult<String> {
    let _permit = hashing_permit().await?;
    let password = password.expose().to_owned();
    let hashed = tokio::task::spawn_blocking(move || {
        Argon2::default()
            .hash_password(password.as_bytes())
            .map(|h| h.to_string())
            .map_err(|e| anyhow::anyhow!("argon2: {e}"))
    })
    .await??;
    Ok(hashed)
}

/// Password verifications run by this process, real and dummy alike (`/metrics`).
static VERIFICATIONS: AtomicU64 = AtomicU64::new(0);

/// Password verifications run so far: one per login attempt that reached the hash, whatever
/// made it fail.
pub fn verifications() -> u64 {
    VERIFICATIONS.load(Ordering::Relaxed)
}

/// Checks a password against a stored hash; `None` checks against a dummy and fails, taking
/// the same time.
pub async fn verify(password: &str, stored: Option<&str>) -> AppResult<bool> {
    let _permit = hashing_permit().await?;
    let password = password.to_owned();
    let (stored, real) = match stored {
        Some(s) => (s.to_owned(), true),
        None => (DUMMY_HASH.clone(), false),
    };
    let ok = tokio::task::spawn_blocking(move || {
        let Ok(parsed) = PasswordHash::new(&stored) else {
            return false;
        };
        VERIFICATIONS.fetch_add(1, Ordering::Relaxed);
        Argon2::default()
            .verify_password(password.as_bytes(), &parsed)
            .is_ok()
    })
    .await?;
    Ok(ok && real)
}

/// Builds the dummy hash now rather than on the first failed login.
pub fn warm_up() {
    LazyLock::force(&DUMMY_HASH);
}
