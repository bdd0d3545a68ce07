//! Display names of tenants and workspaces: any printable text in any script, bounded in
//! length. The slug, not the name, carries the URL-safe rules (see [`crate::domain::Slug`]).

use crate::domain::DomainError;

/// The most characters a name may have (Unicode scalar values, after trimming).
pub const MAX_NAME_CHARS: usize = 200;

/// A trimmed name of 1 to [`MAX_NAME_CHARS`] characters without control characters (NUL,
/// newlines, escapes) or bidirectional overrides (which make a name display as another).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DisplayName(String);

impl DisplayName {
    pub fn parse(field: &str, raw: &str) -> Result<DisplayName, DomainError> {
        let name = raw.trim();
        let chars = name.chars().count();
        if chars == 0 || chars > MAX_NAME_CHARS {
            return Err(DomainError::invalid(
                field,
                format!("{field} must have 1 to {MAX_NAME_CHARS} characters"),
            ));
        }
        if name.chars().any(|c| c.is_control() || is_bidi_control(c)) {
            return Err(DomainError::invalid(
                field,
                format!("{field} must not contain control characters"),
            ));
        }
        Ok(DisplayName(name.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn into_inner(self) -> String {
        self.0
    }
}

/// Unicode's explicit directional embeddings, overrides and isolates (U+202A–U+202E,
/// U+2066–U+2069): invisible, and able to reorder what a reader sees.
fn is_bidi_control(c: char) -> bool {
    matches!(c, '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn any_printable_name_of_any_script_is_accepted() {
        for ok in [
            "X",
            "株式会社テスト",
            "🚀🚀",
            "Müller & Söhne GmbH",
            "ООО «Ромашка»",
        ] {
            assert_eq!(DisplayName::parse("name", ok).unwrap().as_str(), ok);
        }
        assert_eq!(
            DisplayName::parse("name", "  Acme  ").unwrap().as_str(),
            "Acme"
        );
    }

    #[test]
    fn empty_long_and_control_characters_are_refused() {
        let long = "a".repeat(MAX_NAME_CHARS + 1);
        for bad in [
            "",
            "   ",
            long.as_str(),
            "a\0b",
            "a\nb",
            "a\u{1b}[31m",
            "abc\u{202E}fed",
        ] {
            let err = DisplayName::parse("name", bad).unwrap_err();
            assert_eq!(err.field, "name", "{bad:?}");
        }
        assert!(DisplayName::parse("name", &"é".repeat(MAX_NAME_CHARS)).is_ok());
    }
}
