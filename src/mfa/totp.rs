//! TOTP authenticators (RFC 6238 with the parameters every authenticator app supports:
//! HMAC-SHA1, 6 digits, 30-second steps) through totp-rs: a new secret, its `otpauth://` URI
//! and QR code (SVG), and the check of a code within one step either side that never accepts
//! the same step twice.

use totp_rs::{Algorithm, Builder, Secret, Totp};

use crate::error::{AppError, AppResult};

/// Digits of a code.
pub const DIGITS: u8 = 6;
/// Seconds a code is current.
pub const STEP_SECS: u64 = 30;
/// Steps accepted either side of the current one (clock drift, a code typed as it changed).
pub const SKEW_STEPS: u16 = 1;

/// A new random secret: 160 bits, as RFC 4226 recommends for HMAC-SHA1.
pub fn new_secret() -> Vec<u8> {
    let bytes: [u8; 20] = rand::random();
    bytes.to_vec()
}

/// The base32 spelling of a secret, for typing it into an app by hand.
pub fn secret_base32(secret: &[u8]) -> String {
    Secret::from(secret).to_base32()
}

fn authenticator(secret: &[u8], issuer: &str, account: &str) -> AppResult<Totp> {
    // `:` separates issuer and account in the URI label: neither may contain one.
    let clean = |s: &str| s.replace(':', " ").trim().to_owned();
    Builder::new()
        .with_algorithm(Algorithm::SHA1)
        .with_digits(DIGITS)
        .with_step_duration(STEP_SECS)
        .with_skew(SKEW_STEPS)
        .with_secret(secret.to_vec())
        .with_issuer(Some(clean(issuer)))
        .with_account_name(clean(account))
        .build()
        .map_err(|e| AppError::internal(anyhow::anyhow!("totp: {e}")))
}

/// The `otpauth://totp/...` URI an authenticator app reads.
pub fn otpauth_uri(secret: &[u8], issuer: &str, account: &str) -> AppResult<String> {
    authenticator(secret, issuer, account)?
        .to_url()
        .map_err(|e| AppError::internal(anyhow::anyhow!("totp uri: {e}")))
}

/// The URI as a QR code, an SVG document.
pub fn qr_svg(uri: &str) -> AppResult<String> {
    let code = qrcode::QrCode::with_error_correction_level(uri.as_bytes(), qrcode::EcLevel::M)
        .map_err(|e| AppError::internal(anyhow::anyhow!("qr code: {e}")))?;
    Ok(code
        .render::<qrcode::render::svg::Color<'_>>()
        .min_dimensions(200, 200)
        .quiet_zone(true)
        .build())
}

/// The code for `unix_time`, with `digits` digits (6 for our authenticators; RFC 6238's test
/// vectors have 8).
pub fn code_at(secret: &[u8], digits: u8, unix_time: u64) -> String {
    Builder::new()
        .with_algorithm(Algorithm::SHA1)
        .with_digits(digits)
        .with_step_duration(STEP_SECS)
        .with_secret(secret.to_vec())
        .build_noncompliant()
        .generate(unix_time)
        .to_string()
}

/// The time step a code is valid for at `unix_time` (within [`SKEW_STEPS`]), if it is later
/// than `last_used_step`: a code, once accepted, is refused ever after, and so is every code of
/// an earlier step. Spaces and dashes in the code are ignored.
pub fn accept(
    secret: &[u8],
    code: &str,
    unix_time: u64,
    last_used_step: Option<u64>,
) -> Option<u64> {
    let code: String = code
        .chars()
        .filter(|c| !c.is_whitespace() && *c != '-')
        .collect();
    if code.len() != usize::from(DIGITS) || !code.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let now = unix_time / STEP_SECS;
    let skew = u64::from(SKEW_STEPS);
    (now.saturating_sub(skew)..=now + skew)
        .filter(|step| last_used_step.is_none_or(|last| *step > last))
        .find(|step| constant_time_eq(&code_at(secret, DIGITS, step * STEP_SECS), &code))
}

fn constant_time_eq(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 6238 appendix B, the SHA1 column (secret "12345678901234567890", 8 digits).
    #[test]
    fn codes_match_the_rfc_6238_test_vectors() {
        let secret = b"12345678901234567890";
        for (time, code) in [
            (59, "94287082"),
            (1_111_111_109, "07081804"),
            (1_111_111_111, "14050471"),
            (1_234_567_890, "89005924"),
            (2_000_000_000, "69279037"),
            (20_000_000_000, "65353130"),
        ] {
            assert_eq!(code_at(secret, 8, time), code, "T = {time}");
        }
    }

    #[test]
    fn a_code_is_accepted_one_step_either_side_and_never_twice() {
        let secret = new_secret();
        let t = 1_700_000_010; // inside step 56_666_667
        let step = t / STEP_SECS;
        let code = code_at(&secret, DIGITS, t);
        assert_eq!(accept(&secret, &code, t, None), Some(step));
        assert_eq!(accept(&secret, &code, t + STEP_SECS, None), Some(step));
        assert_eq!(accept(&secret, &code, t - STEP_SECS, None), Some(step));
        assert_eq!(accept(&secret, &code, t + 2 * STEP_SECS, None), None);
        assert_eq!(accept(&secret, &code, t - 2 * STEP_SECS, None), None);
        assert_eq!(accept(&secret, &code, t, Some(step)), None, "replayed");
        let previous = code_at(&secret, DIGITS, t - STEP_SECS);
        assert_eq!(
            accept(&secret, &previous, t, Some(step)),
            None,
            "an earlier step after a later one"
        );
        let next = code_at(&secret, DIGITS, t + STEP_SECS);
        assert_eq!(accept(&secret, &next, t, Some(step)), Some(step + 1));
        let spaced = format!("{} {}", &code[..3], &code[3..]);
        assert_eq!(accept(&secret, &spaced, t, None), Some(step));
        assert_eq!(accept(&secret, "12345", t, None), None);
        assert_eq!(accept(&secret, "abcdef", t, None), None);
    }

    #[test]
    fn the_uri_and_qr_code_carry_the_secret_and_names() {
        let secret = new_secret();
        let uri = otpauth_uri(&secret, "Acme: Inc", "ada@acme.example").unwrap();
        assert!(uri.starts_with("otpauth://totp/"), "{uri}");
        assert!(
            uri.contains(&format!("secret={}", secret_base32(&secret))),
            "{uri}"
        );
        assert!(uri.contains("issuer=Acme"), "{uri}");
        let svg = qr_svg(&uri).unwrap();
        assert!(svg.contains("<svg"), "{svg}");
    }
}
