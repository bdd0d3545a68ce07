//! Automatic persisted queries (Apollo's protocol): a client sends the SHA-256 of a query
//! instead of its text; a miss answers `PersistedQueryNotFound`, and the client resends the
//! text with its hash, which registers it (in a bounded LRU, per replica).
//!
//! Resolved in the HTTP layer before execution, not as an async-graphql extension (an
//! extension is called for every field of every response), and to the query's text, so the
//! request limits check a persisted query like any other.

use std::{num::NonZeroUsize, sync::Mutex};

use sha2::{Digest, Sha256};

use crate::error::{AppError, AppResult};

pub struct AutoPersisted {
    queries: Mutex<lru::LruCache<String, String>>,
}

impl AutoPersisted {
    pub fn new(capacity: usize) -> AutoPersisted {
        AutoPersisted {
            queries: Mutex::new(lru::LruCache::new(
                NonZeroUsize::new(capacity.max(1)).unwrap_or(NonZeroUsize::MIN),
            )),
        }
    }

    /// Fills in the query of a request that names one by hash, or registers the text it
    /// sends with its hash. Requests without the extension pass unchanged.
    pub fn resolve(&self, request: &mut async_graphql::Request) -> AppResult<()> {
        let Some(extension) = request.extensions.remove("persistedQuery") else {
            return Ok(());
        };
        let invalid = || AppError::bad_input("extensions", "invalid persistedQuery extension");
        let extension = serde_json::to_value(extension).map_err(|_| invalid())?;
        if extension.get("version").and_then(|v| v.as_i64()) != Some(1) {
            return Err(AppError::bad_input(
                "extensions",
                "only version 1 of the persistedQuery extension is supported",
            ));
        }
        let hash = extension
            .get("sha256Hash")
            .and_then(|h| h.as_str())
            .ok_or_else(invalid)?
            .to_ascii_lowercase();
        let mut queries = self
            .queries
            .lock()
            .map_err(|_| AppError::internal(anyhow::anyhow!("persisted queries lock poisoned")))?;
        if request.query.is_empty() {
            match queries.get(&hash) {
                Some(text) => request.query = text.clone(),
                None => {
                    // The message Apollo clients look for.
                    return Err(AppError::bad_input("extensions", "PersistedQueryNotFound")
                        .with_reason(crate::error::Reason::PersistedQueryNotFound));
                }
            }
        } else {
            let actual = format!("{:x}", Sha256::digest(request.query.as_bytes()));
            if actual != hash {
                return Err(AppError::bad_input(
                    "extensions",
                    "the persistedQuery hash does not match the query",
                ));
            }
            queries.put(hash, request.query.clone());
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(query: &str, hash: &str) -> async_graphql::Request {
        let mut r = async_graphql::Request::new(query);
        r.extensions.insert(
            "persistedQuery".into(),
            async_graphql::Value::from_json(
                serde_json::json!({ "version": 1, "sha256Hash": hash }),
            )
            .unwrap(),
        );
        r
    }

    #[test]
    fn a_query_runs_by_hash_once_registered_and_a_wrong_hash_is_refused() {
        let apq = AutoPersisted::new(2);
        let text = "{ __typename }";
        let hash = format!("{:x}", Sha256::digest(text.as_bytes()));
        let miss = apq.resolve(&mut request("", &hash)).unwrap_err();
        assert_eq!(miss.message, "PersistedQueryNotFound");
        assert!(apq.resolve(&mut request(text, "00")).is_err());
        apq.resolve(&mut request(text, &hash)).unwrap();
        let mut hit = request("", &hash);
        apq.resolve(&mut hit).unwrap();
        assert_eq!(hit.query, text);
        let mut plain = async_graphql::Request::new(text);
        apq.resolve(&mut plain).unwrap();
        assert_eq!(plain.query, text);
    }
}
