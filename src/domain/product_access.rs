//! A user's access to a product app: full, limited or none.

use crate::domain::DomainError;

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ProductAccess {
    Full,
    Limited,
    None,
}

impl ProductAccess {
    /// The database spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            ProductAccess::Full => "full",
            ProductAccess::Limited => "limited",
            ProductAccess::None => "none",
        }
    }

    pub fn from_db(raw: &str) -> Result<ProductAccess, DomainError> {
        match raw {
            "full" => Ok(ProductAccess::Full),
            "limited" => Ok(ProductAccess::Limited),
            "none" => Ok(ProductAccess::None),
            other => Err(DomainError::unknown_stored("product access", other)),
        }
    }
}
