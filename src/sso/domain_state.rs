//! The verification state of a tenant's email domain.

use crate::error::AppError;

/// Where a domain stands: added and waiting for its DNS record, verified by it, or failed
/// (the record was not found at the last check, a re-verification included).
#[derive(Debug, Clone, Copy, PartialEq, Eq, async_graphql::Enum)]
pub enum DomainState {
    Pending,
    Verified,
    Failed,
}

impl DomainState {
    /// The database spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            DomainState::Pending => "pending",
            DomainState::Verified => "verified",
            DomainState::Failed => "failed",
        }
    }

    pub fn from_db(raw: &str) -> Result<DomainState, AppError> {
        match raw {
            "pending" => Ok(DomainState::Pending),
            "verified" => Ok(DomainState::Verified),
            "failed" => Ok(DomainState::Failed),
            other => Err(AppError::internal(anyhow::anyhow!(
                "unknown domain state {other:?} in the database"
            ))),
        }
    }
}
