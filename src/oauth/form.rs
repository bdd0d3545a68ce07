//! Form bodies of the OAuth endpoints (`application/x-www-form-urlencoded`): a parameter sent
//! twice is refused (RFC 6749 §3.1, §3.2), an empty one counts as absent.

use std::collections::HashMap;

use crate::oauth::error::OAuthError;

pub struct Params(HashMap<String, String>);

impl Params {
    pub fn parse(body: &[u8]) -> Result<Params, OAuthError> {
        let mut map = HashMap::new();
        for (k, v) in url::form_urlencoded::parse(body) {
            if map.insert(k.to_string(), v.to_string()).is_some() {
                return Err(OAuthError::invalid_request(format!(
                    "the parameter {k} is repeated"
                )));
            }
        }
        Ok(Params(map))
    }

    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .get(name)
            .map(String::as_str)
            .filter(|v| !v.is_empty())
    }

    pub fn require(&self, name: &str) -> Result<&str, OAuthError> {
        self.get(name)
            .ok_or_else(|| OAuthError::invalid_request(format!("{name} is missing")))
    }
}
