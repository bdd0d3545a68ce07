//! The password policy for new passwords (hashing lives in `auth::password`).

use crate::error::AppError;

/// Fewer characters than this is refused.
pub const MIN_LENGTH: usize = 10;
/// More than this is refused (argon2 would happily hash megabytes: a cheap denial of service).
pub const MAX_LENGTH: usize = 256;

/// A password that satisfies the policy. Its Debug output never shows it.
pub struct NewPassword(String);

impl NewPassword {
    /// Checks length, that it is not one repeated character, and that it is not the email.
    pub fn parse(field: &str, raw: &str, email: Option<&str>) -> Result<NewPassword, AppError> {
        let chars = raw.chars().count();
        if chars < MIN_LENGTH {
            return Err(AppError::bad_input(
                field,
                format!("{field} must have at least {MIN_LENGTH} characters"),
            ));
        }
        if chars > MAX_LENGTH {
            return Err(AppError::bad_input(
                field,
                format!("{field} must have at most {MAX_LENGTH} characters"),
            ));
        }
        let first = raw.chars().next();
        if raw.chars().all(|c| Some(c) == first) {
            return Err(AppError::bad_input(field, format!("{field} is too weak")));
        }
        if email.is_some_and(|e| {
            e.eq_ignore_ascii_case(raw) || raw.to_lowercase().contains(&e.to_lowercase())
        }) {
            return Err(AppError::bad_input(
                field,
                format!("{field} must not contain the email address"),
            ));
        }
        Ok(NewPassword(raw.to_owned()))
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for NewPassword {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("NewPassword(*****)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn enforces_the_policy() {
        assert!(NewPassword::parse("password", "short", None).is_err());
        assert!(NewPassword::parse("password", "aaaaaaaaaaaa", None).is_err());
        assert!(
            NewPassword::parse("password", "xada@example.comx", Some("ada@example.com")).is_err()
        );
        assert!(
            NewPassword::parse("password", "correct horse battery", Some("ada@example.com"))
                .is_ok()
        );
        assert_eq!(
            format!(
                "{:?}",
                NewPassword::parse("p", "correct horse", None).unwrap()
            ),
            "NewPassword(*****)"
        );
    }
}
