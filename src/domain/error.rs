//! The domain's own error: a value broke one of the domain's rules, or a stored value is not
//! one the domain knows. It names the input field and, where a caller may act on it, the rule
//! ([`Rule`]); it knows nothing of GraphQL, HTTP or the database. `error.rs` turns it into an
//! `AppError` at the edge (BAD_USER_INPUT with `extensions.field` and `extensions.reason`, or an
//! internal error for a stored value).

use std::fmt;

/// Which rule refused a value, where a caller may act on it (sent as `extensions.reason`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rule {
    PasswordCommon,
    PasswordContainsAccountWord,
    PasswordContainsEmail,
    PasswordRepeated,
    PasswordTooLong,
    PasswordTooShort,
}

/// What kind of fault.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fault {
    /// An input value breaks a rule: the caller's to fix.
    Invalid,
    /// A value read from storage is not one the domain knows: the code and the data disagree.
    UnknownStored,
}

/// A refused value: the field it came in (or the stored column), a message for the caller, and
/// the rule when there is one to name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DomainError {
    pub fault: Fault,
    pub field: String,
    pub message: String,
    pub rule: Option<Rule>,
}

pub type DomainResult<T> = Result<T, DomainError>;

impl DomainError {
    /// `field`'s value breaks a rule; `message` says which, for the caller.
    pub fn invalid(field: &str, message: impl Into<String>) -> DomainError {
        DomainError {
            fault: Fault::Invalid,
            field: field.to_owned(),
            message: message.into(),
            rule: None,
        }
    }

    /// A stored value of `column` that the domain does not know.
    pub fn unknown_stored(column: &str, value: &str) -> DomainError {
        DomainError {
            fault: Fault::UnknownStored,
            field: column.to_owned(),
            message: format!("unknown {column} {value:?} in the database"),
            rule: None,
        }
    }

    pub fn because(mut self, rule: Rule) -> DomainError {
        self.rule = Some(rule);
        self
    }
}

impl fmt::Display for DomainError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for DomainError {}
