//! What a session's sign-in methods say in tokens: `amr` (RFC 8176 values, in the order they
//! were proven) and `acr`, the assurance: [`ACR_MFA`] when two factors (or a passkey, which is
//! possession and user verification in one) were proven, else [`ACR_SINGLE`]. A product that
//! wants a second factor for a sensitive action checks `acr` (or `amr`) and, when it is short,
//! sends the user to sign in again.

/// One factor: a password, or the tenant's identity provider.
pub const ACR_SINGLE: &str = "urn:tenant-hub:acr:1fa";
/// Two factors.
pub const ACR_MFA: &str = "urn:tenant-hub:acr:2fa";

/// The `amr` values of a session's space-separated `amr` column.
pub fn amr_list(amr: &str) -> Vec<String> {
    amr.split_whitespace().map(str::to_owned).collect()
}

/// The `acr` of these methods.
pub fn acr_of(amr: &[String]) -> &'static str {
    let has = |v: &str| amr.iter().any(|a| a == v);
    let knowledge = has("pwd");
    let possession = has("otp") || has("hwk") || has("swk");
    if (knowledge && possession) || has("hwk") || has("mfa") {
        ACR_MFA
    } else {
        ACR_SINGLE
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn two_factors_or_a_passkey_make_mfa() {
        assert_eq!(acr_of(&amr_list("pwd")), ACR_SINGLE);
        assert_eq!(acr_of(&amr_list("fed")), ACR_SINGLE);
        assert_eq!(acr_of(&amr_list("pwd otp")), ACR_MFA);
        assert_eq!(acr_of(&amr_list("hwk")), ACR_MFA);
        assert_eq!(acr_of(&amr_list("otp")), ACR_SINGLE);
    }
}
