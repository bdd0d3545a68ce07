//! Multi-factor authentication, the parts without I/O: TOTP codes (RFC 6238), recovery codes,
//! and how a sign-in's methods become the `amr` and `acr` claims. The operations that store
//! factors and complete sign-ins are in `ops::mfa`.

pub mod claims;
pub mod passkey;
pub mod recovery;
pub mod totp;

/// How long a sign-in waits for its second factor.
pub const CHALLENGE_TTL_SECS: i64 = 300;
/// Wrong second factors a challenge takes before it is spent.
pub const CHALLENGE_MAX_FAILURES: i32 = 5;
