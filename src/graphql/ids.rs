//! Opaque global ids (Relay): `base64url("Kind:uuid")`. Inputs also accept a bare UUID where
//! the argument says which kind it is, so that the `sub` and `tid` of a token can be used.

use async_graphql::ID;
use uuid::Uuid;

use crate::{
    domain::global_id,
    error::{AppError, AppResult},
};

pub fn encode(kind: &str, id: Uuid) -> ID {
    ID(global_id::encode(kind, id))
}

/// The kind and UUID of an opaque id, if it is one.
pub fn decode_any(id: &str) -> Option<(String, Uuid)> {
    global_id::decode(id)
}

/// The UUID of an id of the `kind` the argument `field` expects. A malformed id is
/// BAD_USER_INPUT; an id of another kind is NOT_FOUND (there is no such `kind`).
pub fn decode(kind: &str, field: &str, id: &ID) -> AppResult<Uuid> {
    if let Ok(uuid) = Uuid::try_parse(id.as_str()) {
        return Ok(uuid);
    }
    match decode_any(id.as_str()) {
        Some((k, uuid)) if k == kind => Ok(uuid),
        Some(_) => Err(AppError::not_found(&kind.to_lowercase())),
        None => Err(AppError::bad_input(
            field,
            format!("{field} is not a valid id"),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_round_trip_and_keep_their_kind() {
        let uuid = Uuid::new_v4();
        let id = encode("User", uuid);
        assert_eq!(decode("User", "id", &id).unwrap(), uuid);
        assert_eq!(
            decode("Workspace", "id", &id).unwrap_err().code,
            crate::ErrorCode::NotFound
        );
        assert_eq!(
            decode("User", "id", &ID("garbage!".into()))
                .unwrap_err()
                .code,
            crate::ErrorCode::BadUserInput
        );
        assert_eq!(decode("User", "id", &ID(uuid.to_string())).unwrap(), uuid);
    }
}
