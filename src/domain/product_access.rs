//! A user's access to a product app: full, limited or none.

use crate::error::AppError;

#[derive(Debug, Clone, Copy, PartialEq, Eq, async_graphql::Enum, serde::Serialize)]
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

    pub fn from_db(raw: &str) -> Result<ProductAccess, AppError> {
        match raw {
            "full" => Ok(ProductAccess::Full),
            "limited" => Ok(ProductAccess::Limited),
            "none" => Ok(ProductAccess::None),
            other => Err(AppError::internal(anyhow::anyhow!(
                "unknown product access {other:?} in the database"
            ))),
        }
    }
}
