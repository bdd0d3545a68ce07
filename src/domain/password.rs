//! The password policy for new passwords (hashing lives in `auth::password`), after NIST
//! SP 800-63B §5.1.1.2: a length range, no composition rules, and a refusal of passwords that
//! are common, leaked or guessable from the account: the ~100,000 most common passwords of
//! public breach corpora (the list the `passwords` crate ships, embedded at build time), the
//! email address and its local part, and other words of the account such as the tenant's name.
//!
//! Each refusal is BAD_USER_INPUT naming the field, with `extensions.reason` saying which rule
//! (`password_too_short`, `password_too_long`, `password_repeated`, `password_common`,
//! `password_contains_email`, `password_contains_account_word`).

use crate::domain::{DomainError, Rule};

/// Fewer characters than this is refused.
pub const MIN_LENGTH: usize = 10;
/// More than this is refused (argon2 would happily hash megabytes: a cheap denial of service).
pub const MAX_LENGTH: usize = 256;
/// Words of the account shorter than this are not looked for inside a password (`bo@x.io`
/// must not refuse every password containing "bo").
const MIN_ACCOUNT_WORD: usize = 4;

/// A password that satisfies the policy. Its Debug output never shows it.
pub struct NewPassword(String);

impl NewPassword {
    /// Checks length, that it is not one repeated character, that it is not a common password
    /// (compared case-insensitively), and that it neither is nor contains the email address or
    /// its local part.
    pub fn parse(field: &str, raw: &str, email: Option<&str>) -> Result<NewPassword, DomainError> {
        let refuse =
            |rule: Rule, message: String| DomainError::invalid(field, message).because(rule);
        let chars = raw.chars().count();
        if chars < MIN_LENGTH {
            return Err(refuse(
                Rule::PasswordTooShort,
                format!("{field} must have at least {MIN_LENGTH} characters"),
            ));
        }
        if chars > MAX_LENGTH {
            return Err(refuse(
                Rule::PasswordTooLong,
                format!("{field} must have at most {MAX_LENGTH} characters"),
            ));
        }
        let first = raw.chars().next();
        if raw.chars().all(|c| Some(c) == first) {
            return Err(refuse(
                Rule::PasswordRepeated,
                format!("{field} is one character repeated; choose another"),
            ));
        }
        if is_common(raw) {
            return Err(refuse(
                Rule::PasswordCommon,
                format!(
                    "{field} is one of the most common passwords, which attackers try first; choose another"
                ),
            ));
        }
        let lower = raw.to_lowercase();
        if let Some(email) = email.map(str::to_lowercase) {
            let local = email.split('@').next().unwrap_or_default();
            if lower.contains(&email)
                || (local.chars().count() >= MIN_ACCOUNT_WORD && lower.contains(local))
            {
                return Err(refuse(
                    Rule::PasswordContainsEmail,
                    format!("{field} must not contain the email address or its name part"),
                ));
            }
        }
        Ok(NewPassword(raw.to_owned()))
    }

    /// Refuses the password when it contains one of the account's `words` (case-insensitively;
    /// words shorter than 4 characters are ignored): the tenant's name, for instance.
    pub fn not_containing(self, field: &str, words: &[&str]) -> Result<NewPassword, DomainError> {
        let lower = self.0.to_lowercase();
        let found = words
            .iter()
            .map(|w| w.trim().to_lowercase())
            .any(|w| w.chars().count() >= MIN_ACCOUNT_WORD && lower.contains(&w));
        if found {
            return Err(DomainError::invalid(
                field,
                format!("{field} must not contain the name of the account or its tenant"),
            )
            .because(Rule::PasswordContainsAccountWord));
        }
        Ok(self)
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

/// Whether the password is on the common-password list, whatever its case: the list holds
/// mostly lower-case entries (`password12`), some as typed (`Password12`).
pub fn is_common(raw: &str) -> bool {
    passwords::analyzer::is_common_password(raw)
        || passwords::analyzer::is_common_password(raw.to_lowercase())
}

impl std::fmt::Debug for NewPassword {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("NewPassword(*****)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reason(field: &str, raw: &str, email: Option<&str>) -> Option<Rule> {
        NewPassword::parse(field, raw, email).err().map(|e| {
            assert_eq!(e.field, field);
            e.rule.expect("every refusal says why")
        })
    }

    #[test]
    fn enforces_the_policy() {
        assert_eq!(
            reason("password", "short", None),
            Some(Rule::PasswordTooShort)
        );
        assert_eq!(
            reason("password", &"ab".repeat(200), None),
            Some(Rule::PasswordTooLong)
        );
        assert_eq!(
            reason("password", "aaaaaaaaaaaa", None),
            Some(Rule::PasswordRepeated)
        );
        assert_eq!(
            reason("password", "xada@example.comx", Some("ada@example.com")),
            Some(Rule::PasswordContainsEmail)
        );
        assert_eq!(
            reason("password", "correct horse battery", Some("ada@example.com")),
            None
        );
        assert_eq!(
            format!(
                "{:?}",
                NewPassword::parse("p", "correct horse", None).unwrap()
            ),
            "NewPassword(*****)"
        );
    }

    #[test]
    fn common_passwords_are_refused_whatever_their_case() {
        for common in [
            "password12",
            "Password12",
            "PASSWORD12",
            "qwertyuiop",
            "1234567890",
        ] {
            assert_eq!(
                reason("newPassword", common, None),
                Some(Rule::PasswordCommon),
                "{common}"
            );
        }
        assert!(!is_common("correct horse battery staple"));
        assert!(!is_common("seed-password-1234"));
    }

    #[test]
    fn the_email_local_part_and_account_words_are_refused_inside_a_password() {
        assert_eq!(
            reason("password", "Margaret-2026!", Some("margaret@example.com")),
            Some(Rule::PasswordContainsEmail)
        );
        // Too short a local part to look for.
        assert_eq!(
            reason("password", "bob is my uncle", Some("bo@example.com")),
            None
        );
        let p = NewPassword::parse("ownerPassword", "Initech rules 99", None).unwrap();
        let err = p.not_containing("ownerPassword", &["Initech"]).unwrap_err();
        assert_eq!(err.rule, Some(Rule::PasswordContainsAccountWord));
        let p = NewPassword::parse("ownerPassword", "Initech rules 99", None).unwrap();
        assert!(p.not_containing("ownerPassword", &["Acme", "X"]).is_ok());
    }
}
